/* Unit tests of the outbound spool directory. */
#include "outbox.h"
#include "digest.h"
#include "test-common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/test-outbox.XXXXXX";

static void
envelope_make(struct outbound_envelope *env, const char *sender)
{
	memset(env, 0, sizeof(*env));
	env->sender = strdup(sender);
	outbound_envelope_add_rcpt(env, "alice@shore.example", 0, NULL);
}

/* Number of entries (other than . and ..) in base/sub. */
static unsigned int
dir_count(const char *sub)
{
	char path[256];
	struct dirent *d;
	unsigned int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/%s", base, sub);
	if ((dir = opendir(path)) == NULL)
		return 9999;
	while ((d = readdir(dir)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* Commit one message of body; id_r gets its id. */
static int
put(struct outbox *box, const char *sender, const char *body,
    char id_r[OUTBOUND_ID_LEN + 1])
{
	struct outbound_envelope env;
	struct outbox_writer *w;
	char error[256];
	int rc = -1;

	envelope_make(&env, sender);
	w = outbox_writer_new(box, &env, 0, error, sizeof(error));
	if (w != NULL && outbox_writer_write(w, body, strlen(body)) == 0)
		rc = outbox_writer_commit(&w, id_r);
	outbox_writer_abort(&w);
	outbound_envelope_free(&env);
	return rc;
}

static void
test_open_creates(void)
{
	char error[256], path[256];
	struct outbox *box;
	struct stat st;

	test_begin("outbox: open creates the directory, tmp/ and new/, 0700");
	snprintf(path, sizeof(path), "%s/spool", base);
	box = outbox_open(path, 1, error, sizeof(error));
	test_assert(box != NULL);
	test_assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	snprintf(path, sizeof(path), "%s/spool/new", base);
	test_assert(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	outbox_close(&box);
	test_assert(box == NULL);
	/* Again, over what exists. */
	snprintf(path, sizeof(path), "%s/spool", base);
	box = outbox_open(path, 1, error, sizeof(error));
	test_assert(box != NULL);
	outbox_close(&box);
	test_assert(outbox_open("/proc/no/such", 1, error, sizeof(error)) == NULL);
	test_assert(strstr(error, "/proc/no/such") != NULL);
	test_end();
}

static void
test_open_reader_creates_nothing(void)
{
	char error[256], path[256];
	struct stat st;

	test_begin("outbox: the reader makes nothing; missing is ENOENT");
	snprintf(path, sizeof(path), "%s/reader", base);
	errno = 0;
	test_assert(outbox_open(path, 0, error, sizeof(error)) == NULL);
	test_assert(errno == ENOENT);
	test_assert(stat(path, &st) < 0 && errno == ENOENT);
	/* The directory alone: tmp/ and new/ are not made either. */
	test_assert(mkdir(path, 0700) == 0);
	errno = 0;
	test_assert(outbox_open(path, 0, error, sizeof(error)) == NULL);
	test_assert(errno == ENOENT);
	snprintf(path, sizeof(path), "%s/reader/new", base);
	test_assert(stat(path, &st) < 0);
	test_end();
}

static void
test_commit_list_digest_remove(void)
{
	char error[256], id1[OUTBOUND_ID_LEN + 1], id2[OUTBOUND_ID_LEN + 1];
	char id3[OUTBOUND_ID_LEN + 1], hex[65], want[65], buf[512];
	struct outbox_item *items;
	struct digest_ctx ctx;
	struct outbound_envelope env;
	struct outbox *box;
	size_t count;
	uint64_t size;
	ssize_t n, block;
	int fd;

	test_begin("outbox: commit, list smallest first, digest, remove");
	box = outbox_open(base, 1, error, sizeof(error));
	test_assert(box != NULL);
	test_assert(put(box, "b@ship1.example", "Subject: big\r\n\r\n"
			"a larger body than the others\r\n", id1) == 0);
	test_assert(put(box, "b@ship1.example", "Subject: s\r\n\r\nx\r\n",
			id2) == 0);
	test_assert(put(box, "b@ship1.example", "Subject: t\r\n\r\ny\r\n", id3) == 0);
	test_assert(outbound_id_valid(id1, strlen(id1)));
	test_assert(dir_count("tmp") == 0 && dir_count("new") == 3);

	/* Not an id: skipped. */
	snprintf(buf, sizeof(buf), "%s/new/README", base);
	fd = open(buf, O_WRONLY | O_CREAT, 0600);
	close(fd);

	/* id2 and id3 have the same size: the older first.  Make id3
	   older. */
	snprintf(buf, sizeof(buf), "%s/new/%s", base, id3);
	{
		struct timespec times[2] = { { 1000, 0 }, { 1000, 0 } };

		utimensat(AT_FDCWD, buf, times, 0);
	}
	test_assert(outbox_list(box, &items, &count) == 0);
	test_assert_u64(count, 3);
	if (count == 3) {
		test_assert_str(items[0].id, id3);
		test_assert_str(items[1].id, id2);
		test_assert_str(items[2].id, id1);
		test_assert(items[0].size == items[1].size);
		test_assert(items[2].size > items[1].size);
		test_assert(items[0].queued == 1000);
	}
	free(items);

	/* The file: envelope block, then the bytes as written. */
	fd = outbox_item_open(box, id2);
	test_assert(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	test_assert(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	block = outbound_envelope_parse(buf, (size_t)n, &env, error,
					sizeof(error));
	test_assert(block > 0);
	test_assert_str(env.sender, "b@ship1.example");
	test_assert_str(buf + (block > 0 ? block : 0),
			"Subject: s\r\n\r\nx\r\n");
	outbound_envelope_free(&env);

	test_assert(outbox_item_digest(box, id2, hex, &size) == 0);
	digest_init(&ctx);
	digest_update(&ctx, buf, (size_t)n);
	digest_final_hex(&ctx, want);
	test_assert_str(hex, want);
	test_assert_u64(size, (uint64_t)n);

	test_assert(outbox_item_remove(box, id2) == 0);
	test_assert(outbox_item_remove(box, id2) == 0);	/* ENOENT: done */
	test_assert(outbox_item_open(box, id2) < 0 && errno == ENOENT);
	test_assert(outbox_item_open(box, "../new/README") < 0 &&
		    errno == EINVAL);
	test_assert(outbox_item_remove(box, "README") < 0 && errno == EINVAL);
	test_assert(outbox_list(box, &items, &count) == 0);
	test_assert_u64(count, 2);
	free(items);
	test_assert(outbox_item_remove(box, id1) == 0);
	test_assert(outbox_item_remove(box, id3) == 0);
	test_assert(outbox_list(box, &items, &count) == 0 && count == 0);
	free(items);
	snprintf(buf, sizeof(buf), "%s/new/README", base);
	unlink(buf);
	outbox_close(&box);
	test_end();
}

static void
test_enospc_refused(void)
{
	struct outbound_envelope env;
	struct outbox_writer *w;
	struct outbox *box;
	char error[256];

	test_begin("outbox: less free space than min_free refuses, ENOSPC");
	box = outbox_open(base, 1, error, sizeof(error));
	envelope_make(&env, "b@ship1.example");
	errno = 0;
	error[0] = '\0';
	w = outbox_writer_new(box, &env, UINT64_MAX / 2, error, sizeof(error));
	test_assert(w == NULL && errno == ENOSPC);
	test_assert(strstr(error, "free") != NULL);
	test_assert(outbox_check_space(box, UINT64_MAX / 2, error,
				       sizeof(error)) < 0 && errno == ENOSPC);
	test_assert(outbox_check_space(box, 0, error, sizeof(error)) == 0);
	test_assert(dir_count("tmp") == 0 && dir_count("new") == 0);
	outbound_envelope_free(&env);
	outbox_close(&box);
	test_end();
}

static void
test_abort_and_bad_envelope(void)
{
	struct outbound_envelope env;
	struct outbox_writer *w;
	struct outbox *box;
	char error[256];

	test_begin("outbox: abort leaves nothing; a bad envelope is refused");
	box = outbox_open(base, 1, error, sizeof(error));
	envelope_make(&env, "b@ship1.example");
	w = outbox_writer_new(box, &env, 0, error, sizeof(error));
	test_assert(w != NULL);
	test_assert(dir_count("tmp") == 1);
	test_assert(outbox_writer_write(w, "x\r\n", 3) == 0);
	outbox_writer_abort(&w);
	test_assert(w == NULL);
	outbox_writer_abort(&w);
	test_assert(dir_count("tmp") == 0 && dir_count("new") == 0);
	outbound_envelope_free(&env);

	memset(&env, 0, sizeof(env));
	env.sender = strdup("no-recipients@ship1.example");
	test_assert(outbox_writer_new(box, &env, 0, error, sizeof(error)) ==
		    NULL && errno == EINVAL);
	test_assert(dir_count("tmp") == 0);
	outbound_envelope_free(&env);
	outbox_close(&box);
	test_end();
}

static void
test_large_message_streams(void)
{
	char error[256], id[OUTBOUND_ID_LEN + 1], hex[65], chunk[1000];
	struct outbound_envelope env;
	struct outbox_writer *w;
	struct outbox *box;
	uint64_t size;
	char *block;
	size_t len;

	test_begin("outbox: a message larger than the buffer is whole");
	box = outbox_open(base, 1, error, sizeof(error));
	envelope_make(&env, "b@ship1.example");
	block = outbound_envelope_format(&env, &len);
	w = outbox_writer_new(box, &env, 0, error, sizeof(error));
	memset(chunk, 'm', sizeof(chunk));
	for (int i = 0; i < 300; i++)
		test_assert(outbox_writer_write(w, chunk, sizeof(chunk)) == 0);
	test_assert(outbox_writer_commit(&w, id) == 0 && w == NULL);
	test_assert(outbox_item_digest(box, id, hex, &size) == 0);
	test_assert_u64(size, len + 300 * sizeof(chunk));
	test_assert(outbox_item_remove(box, id) == 0);
	free(block);
	outbound_envelope_free(&env);
	outbox_close(&box);
	test_end();
}

static void
test_clean_tmp(void)
{
	char error[256], path[256];
	struct outbox *box;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	int fd;

	test_begin("outbox: old tmp/ files of a killed writer are removed");
	box = outbox_open(base, 1, error, sizeof(error));
	snprintf(path, sizeof(path), "%s/tmp/0123456789abcdef0123456789abcdef",
		 base);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	utimensat(AT_FDCWD, path, old, 0);
	snprintf(path, sizeof(path), "%s/tmp/fedcba9876543210fedcba9876543210",
		 base);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	outbox_clean_tmp(box, 3600);
	test_assert(dir_count("tmp") == 1);
	test_assert(access(path, F_OK) == 0);
	outbox_clean_tmp(box, 0);
	test_assert(dir_count("tmp") == 0);
	outbox_close(&box);
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_open_creates,
		test_open_reader_creates_nothing,
		test_commit_list_digest_remove,
		test_enospc_refused,
		test_abort_and_bad_envelope,
		test_large_message_streams,
		test_clean_tmp,
		NULL
	};
	char cmd[128];
	int rc;

	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = test_run(tests);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
