/* Unit tests of the spool files and the delivery journal. */
#include "spool.h"
#include "test-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/shipmail-test-spool.XXXXXX";

static struct proto_msgref ref(const char *user, uint32_t uid)
{
	struct proto_msgref r;

	memset(&r, 0, sizeof(r));
	snprintf(r.user, sizeof(r.user), "%s", user);
	strcpy(r.guid, "0123456789abcdef0123456789abcdef");
	r.uidvalidity = 77;
	r.uid = uid;
	return r;
}

static struct spool *open_spool_keep(size_t keep)
{
	char error[256];
	struct spool *s = spool_open(dir, keep, error, sizeof(error));

	if (s == NULL)
		fprintf(stderr, "# %s\n", error);
	return s;
}

static struct spool *open_spool(void)
{
	return open_spool_keep(10000);
}

static size_t journal_lines(void)
{
	char path[512];
	size_t n = 0;
	FILE *f;
	int c;

	snprintf(path, sizeof(path), "%s/journal", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void test_journal_survives_reopen(void)
{
	struct proto_msgref a = ref("alice@ship1.example", 1);
	struct proto_msgref b = ref("odd user/..%*", 2);
	struct proto_msgref c = ref("carol", 3);
	struct spool *s = open_spool();

	test_begin("spool: journal states survive a reopen");
	test_assert(s != NULL);
	test_assert(spool_state(s, &a) == SPOOL_NONE);
	test_assert(spool_record(s, &a, SPOOL_DELIVERED, "ab") == 0);
	test_assert(spool_record(s, &b, SPOOL_DELIVERED, NULL) == 0);
	test_assert(spool_record(s, &a, SPOOL_ACKED, NULL) == 0);
	test_assert(spool_record(s, &c, SPOOL_FAILED, NULL) == 0);
	spool_close(&s);

	s = open_spool();
	test_assert(spool_state(s, &a) == SPOOL_ACKED);
	test_assert(spool_state(s, &b) == SPOOL_DELIVERED);
	test_assert(spool_state(s, &c) == SPOOL_FAILED);
	test_assert(spool_unacked(s, 0) != NULL &&
		    strcmp(spool_unacked(s, 0)->user, b.user) == 0);
	test_assert(spool_unacked(s, 1) == NULL);
	spool_close(&s);
	test_end();
}

static void test_torn_journal_line_ignored(void)
{
	struct proto_msgref d = ref("dave", 4);
	char path[512];
	struct spool *s;
	int fd;

	test_begin("spool: a torn last journal line is ignored");
	snprintf(path, sizeof(path), "%s/journal", dir);
	fd = open(path, O_WRONLY | O_APPEND);
	test_assert(fd >= 0);
	test_assert(write(fd, "D dave 0123456789abcdef0123456789abcdef 7",
			  41) == 41);
	close(fd);
	s = open_spool();
	test_assert(s != NULL);
	test_assert(spool_state(s, &d) == SPOOL_NONE);
	/* The next record starts a fresh line all the same. */
	test_assert(spool_record(s, &d, SPOOL_DELIVERED, NULL) == 0);
	spool_close(&s);
	s = open_spool();
	test_assert(spool_state(s, &d) == SPOOL_DELIVERED);
	spool_close(&s);
	test_end();
}

static void test_resume_and_digest(void)
{
	struct proto_msgref m = ref("alice@ship1.example", 9);
	char hex[DIGEST_HEX_LEN + 1];
	uint64_t size;
	struct spool *s = open_spool();
	int fd;

	test_begin("spool: appends resume at the offset; digest of the file");
	test_assert_u64(spool_have(s, &m), 0);
	fd = spool_append_open(s, &m, 0);
	test_assert(fd >= 0 && write(fd, "abcXXX", 6) == 6);
	close(fd);
	test_assert_u64(spool_have(s, &m), 6);
	/* A resume at 3 drops what was past it. */
	fd = spool_append_open(s, &m, 3);
	test_assert(fd >= 0 && write(fd, "", 0) == 0);
	close(fd);
	test_assert_u64(spool_have(s, &m), 3);
	test_assert(spool_digest(s, &m, hex, &size) == 0);
	test_assert_u64(size, 3);
	test_assert_str(hex, "ba7816bf8f01cfea414140de5dae2223"
			"b00361a396177a9cb410ff61f20015ad");
	spool_remove(s, &m);
	test_assert_u64(spool_have(s, &m), 0);
	spool_close(&s);
	test_end();
}

static void test_one_run_at_a_time(void)
{
	char error[256];
	struct spool *s = open_spool(), *t;

	test_begin("spool: a second open fails while the first holds it");
	test_assert(s != NULL);
	errno = 0;
	t = spool_open(dir, 10000, error, sizeof(error));
	test_assert(t == NULL);
	test_assert(errno == EWOULDBLOCK);
	test_assert(strstr(error, "in use by another shipmail-fetch") !=
		    NULL);
	{
		char pid[32];

		snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
		test_assert(strstr(error, pid) != NULL);
	}
	spool_close(&s);
	t = open_spool();
	test_assert(t != NULL);
	spool_close(&t);
	test_end();
}

static void test_compaction(void)
{
	struct proto_msgref m;
	size_t before, after, lines;
	struct spool *s = open_spool();
	uint32_t uid;

	test_begin("spool: the journal is compacted, states kept");
	/* 600 messages, three lines each, as a run writes them; the
	   last two stop short of acknowledged. */
	for (uid = 100; uid < 700; uid++) {
		m = ref("erin@ship1.example", uid);
		test_assert(spool_record(s, &m, SPOOL_DELIVERING, NULL) == 0);
		test_assert(spool_record(s, &m, SPOOL_DELIVERED, "ab") == 0);
		if (uid < 698)
			test_assert(spool_record(s, &m, SPOOL_ACKED,
						 NULL) == 0);
	}
	spool_close(&s);
	lines = journal_lines();
	test_assert(lines > 1800);

	s = open_spool();
	test_assert(spool_compaction(s, &before, &after) == 0);
	test_assert_u64(before, lines);
	test_assert(after < before);
	test_assert_u64(journal_lines(), after);
	m = ref("erin@ship1.example", 100);
	test_assert(spool_state(s, &m) == SPOOL_ACKED);
	m = ref("erin@ship1.example", 698);
	test_assert(spool_state(s, &m) == SPOOL_DELIVERED);
	m = ref("alice@ship1.example", 1);
	test_assert(spool_state(s, &m) == SPOOL_ACKED);
	m = ref("carol", 3);
	test_assert(spool_state(s, &m) == SPOOL_FAILED);
	/* Appends go on after the rewrite. */
	m = ref("erin@ship1.example", 700);
	test_assert(spool_record(s, &m, SPOOL_FAILED, NULL) == 0);
	spool_close(&s);

	/* Nothing to do the next time. */
	s = open_spool();
	test_assert(spool_compaction(s, &before, &after) == 0);
	test_assert_u64(before, after);
	test_assert(spool_state(s, &m) == SPOOL_FAILED);
	spool_close(&s);

	/* Keep 10: the oldest acknowledged go, the others all stay. */
	s = open_spool_keep(10);
	test_assert(s != NULL);
	m = ref("erin@ship1.example", 100);
	test_assert(spool_state(s, &m) == SPOOL_NONE);
	m = ref("erin@ship1.example", 688);
	test_assert(spool_state(s, &m) == SPOOL_ACKED);
	m = ref("erin@ship1.example", 687);
	test_assert(spool_state(s, &m) == SPOOL_NONE);
	m = ref("alice@ship1.example", 1);
	test_assert(spool_state(s, &m) == SPOOL_NONE);
	m = ref("erin@ship1.example", 699);
	test_assert(spool_state(s, &m) == SPOOL_DELIVERED);
	m = ref("carol", 3);
	test_assert(spool_state(s, &m) == SPOOL_FAILED);
	m = ref("odd user/..%*", 2);
	test_assert(spool_state(s, &m) == SPOOL_DELIVERED);
	test_assert(spool_unacked(s, 0) != NULL);
	spool_close(&s);
	test_end();
}

/* A message file for ref, dated secs ago. */
static void plant(struct spool *s, const struct proto_msgref *r, long secs)
{
	char path[4096];
	struct timespec times[2];
	int fd;

	spool_path(s, r, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	test_assert(fd >= 0 && write(fd, "part", 4) == 4);
	times[0].tv_sec = times[1].tv_sec = time(NULL) - secs;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	test_assert(futimens(fd, times) == 0);
	close(fd);
}

static void test_sweep(void)
{
	struct proto_msgref offered = ref("frank", 801);
	struct proto_msgref gone = ref("frank", 802);
	struct proto_msgref young = ref("frank", 803);
	struct proto_msgref held = ref("frank", 804);
	struct proto_msgref begun = ref("frank", 805);
	struct spool *s = open_spool();
	char path[4096];

	test_begin("spool: files nobody will finish are swept, others kept");
	test_assert(spool_record(s, &held, SPOOL_FAILED, NULL) == 0);
	test_assert(spool_record(s, &begun, SPOOL_DELIVERING, NULL) == 0);
	plant(s, &offered, 7200);
	plant(s, &gone, 7200);
	plant(s, &young, 60);
	plant(s, &held, 7200);
	plant(s, &begun, 7200);
	snprintf(path, sizeof(path), "%s/unrelated", dir);
	test_assert(close(open(path, O_WRONLY | O_CREAT, 0600)) == 0);

	test_assert_u64(spool_sweep(s, &offered, 1, 3600), 1);
	test_assert_u64(spool_have(s, &gone), 0);
	test_assert_u64(spool_have(s, &offered), 4);
	test_assert_u64(spool_have(s, &young), 4);
	test_assert_u64(spool_have(s, &held), 4);
	test_assert_u64(spool_have(s, &begun), 4);
	test_assert(access(path, F_OK) == 0);
	/* With nothing offered, the young one still waits its hour. */
	test_assert_u64(spool_sweep(s, NULL, 0, 3600), 1);
	test_assert_u64(spool_have(s, &offered), 0);
	test_assert_u64(spool_have(s, &young), 4);
	spool_remove(s, &young);
	spool_remove(s, &held);
	spool_remove(s, &begun);
	unlink(path);
	spool_close(&s);
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_journal_survives_reopen,
		test_torn_journal_line_ignored,
		test_resume_and_digest,
		test_one_run_at_a_time,
		test_compaction,
		test_sweep,
		NULL
	};
	int ret;

	if (mkdtemp(dir) == NULL)
		return 1;
	ret = test_run(tests);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			ret = 1;
	}
	return ret;
}
