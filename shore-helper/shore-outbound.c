/*
 * The ship's outbound mail on shore: see shore-outbound.h.
 *
 * Plain C, no Dovecot: shipmail-shore logs what the replies say.
 *
 * XXX ORCPT= is kept in the envelope but not given to Postfix (its
 * sendmail has no option for it): delivery status notifications from
 * shore name the recipient as rewritten, not as the ship's user wrote it.
 *
 * XXX the recipients are the ship's word: whoever holds a ship's key
 * can send mail, as one of that ship's users, to anyone.
 *
 * Uploads are bounded one by one (shore_outbound_max_size), while
 * unfinished together (shore_outbound_max_held), and once injected by
 * their number in the last 24 hours (shore_outbound_max_per_day).
 */
#define _GNU_SOURCE
#include "shore-outbound.h"
#include "outbound.h"
#include "digest.h"
#include "spawn.h"
#include "ship-users.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The envelope block is read whole; a larger one is refused. */
#define OB_ENVELOPE_READ_MAX	(OUTBOUND_HEADER_MAX + 1)

_Static_assert(PROTO_ID_LEN == OUTBOUND_ID_LEN, "one id, two names");

struct shore_outbound {
	struct shore_outbound_settings set;
	char *dir;			/* <dir>/<ship> */
	int dir_fd;

	/* The PUT being received */
	int put_fd;
	int put_sent;			/* already injected: just drop bytes */
	int put_errno;
	char put_id[PROTO_ID_LEN + 1];
	uint64_t put_size;
	char put_digest[DIGEST_HEX_LEN + 1];

	/* Injected in the last 24 hours, as last counted: counting reads
	   the whole directory, so it is done at most once a minute and
	   kept up by this session's own injections. */
	uint64_t day_sent;
	time_t day_counted;		/* 0: not yet */

	char text[PROTO_TEXT_MAX + 1];
};

static int ship_name_is_safe(const char *ship)
{
	size_t len = strlen(ship);

	return len > 0 && len <= 64 && ship[0] != '.' &&
		strspn(ship, "abcdefghijklmnopqrstuvwxyz"
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

static int sync_dir(struct shore_outbound *ob)
{
	return fsync(ob->dir_fd);
}

static void ob_path(const struct shore_outbound *ob, const char *id,
		    const char *suffix, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s%s", ob->dir, id, suffix);
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* An empty marker file, durable before we return. */
static int mark(struct shore_outbound *ob, const char *id, const char *suffix)
{
	char path[4096];
	int fd, ret;

	ob_path(ob, id, suffix, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret < 0 ? -1 : sync_dir(ob);
}

/* Drop markers and abandoned uploads older than keep seconds. */
static void ob_expire(struct shore_outbound *ob)
{
	time_t limit = time(NULL) - (time_t)ob->set.keep;
	DIR *d = opendir(ob->dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (!proto_id_is_valid(de->d_name, PROTO_ID_LEN) ||
		    fstatat(ob->dir_fd, de->d_name, &st, 0) < 0 ||
		    st.st_mtime >= limit)
			continue;
		(void)unlinkat(ob->dir_fd, de->d_name, 0);
	}
	closedir(d);
	(void)sync_dir(ob);
}

/*
 * The ship's files with this suffix and a time of at least since: how
 * many (*count_r, when not NULL), and their bytes (returned).  Unfinished
 * uploads are ".part" since 0; the day's injections ".sent" since a day
 * ago (markers outlive a day: shore_outbound_keep is at least one).
 */
static uint64_t ob_files(const struct shore_outbound *ob, const char *suffix,
			 time_t since, uint64_t *count_r)
{
	DIR *d = opendir(ob->dir);
	struct dirent *de;
	uint64_t bytes = 0, count = 0;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			struct stat st;

			if (proto_id_is_valid(de->d_name, PROTO_ID_LEN) &&
			    strcmp(de->d_name + PROTO_ID_LEN, suffix) == 0 &&
			    fstatat(ob->dir_fd, de->d_name, &st, 0) == 0 &&
			    st.st_mtime >= since) {
				bytes += (uint64_t)st.st_size;
				count++;
			}
		}
		closedir(d);
	}
	if (count_r != NULL)
		*count_r = count;
	return bytes;
}

/* 0, or PROTO_ERR_TEMP with *error_r (ob->text) when the ship has
   injected its day's worth: the message waits on the ship, and so do
   its bytes. */
static int ob_check_day(struct shore_outbound *ob, const char **error_r)
{
	time_t now = time(NULL);

	if (ob->set.max_per_day == 0)
		return 0;
	if (ob->day_counted == 0 || now - ob->day_counted >= 60 ||
	    now < ob->day_counted) {
		(void)ob_files(ob, ".sent", now - SHORE_OUTBOUND_DAY,
			       &ob->day_sent);
		ob->day_counted = now;
	}
	if (ob->day_sent < ob->set.max_per_day)
		return 0;
	snprintf(ob->text, sizeof(ob->text), "ship %s has sent %llu "
		 "messages in the last 24 hours, the shore's bound "
		 "(shore_outbound_max_per_day); the rest waits",
		 ob->set.ship, (unsigned long long)ob->day_sent);
	*error_r = ob->text;
	return PROTO_ERR_TEMP;
}

struct shore_outbound *shore_outbound_open(
	const struct shore_outbound_settings *set, char *error,
	size_t error_size)
{
	struct shore_outbound *ob;
	char path[4096];

	if (!ship_name_is_safe(set->ship)) {
		snprintf(error, error_size, "ship name %.64s cannot name a "
			 "directory", set->ship);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", set->dir, set->ship);
	if ((mkdir(set->dir, 0750) < 0 && errno != EEXIST) ||
	    (mkdir(path, 0700) < 0 && errno != EEXIST)) {
		snprintf(error, error_size, "mkdir %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	ob = calloc(1, sizeof(*ob));
	if (ob == NULL || (ob->dir = strdup(path)) == NULL) {
		free(ob);
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	ob->set = *set;
	ob->put_fd = -1;
	ob->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ob->dir_fd < 0 || access(path, W_OK) < 0) {
		snprintf(error, error_size, "%s: %s", path, strerror(errno));
		shore_outbound_free(&ob);
		return NULL;
	}
	ob_expire(ob);
	return ob;
}

void shore_outbound_free(struct shore_outbound **_ob)
{
	struct shore_outbound *ob = *_ob;

	if (ob == NULL)
		return;
	*_ob = NULL;
	shore_outbound_put_abort(ob);
	if (ob->dir_fd >= 0)
		close(ob->dir_fd);
	free(ob->dir);
	free(ob);
}

int shore_outbound_have(struct shore_outbound *ob, const char *id,
			uint64_t *have_r, int *sent_r, const char **error_r)
{
	char path[4096];
	struct stat st;

	*have_r = 0;
	*sent_r = 0;
	ob_path(ob, id, ".sent", path, sizeof(path));
	if (exists(path)) {
		*sent_r = 1;
		return 0;
	}
	/* Not sent yet: whatever its bytes, it could not be injected
	   today; better the ship hears it before it sends them. */
	if (ob_check_day(ob, error_r) != 0)
		return PROTO_ERR_TEMP;
	ob_path(ob, id, ".part", path, sizeof(path));
	if (stat(path, &st) == 0) {
		*have_r = (uint64_t)st.st_size;
		return 0;
	}
	if (errno != ENOENT) {
		*error_r = "cannot read the shore's upload directory";
		return PROTO_ERR_TEMP;
	}
	return 0;
}

int shore_outbound_put_begin(struct shore_outbound *ob,
			     const struct proto_request *req,
			     const char **error_r)
{
	char path[4096], sent[4096];
	struct stat st;
	int created;

	shore_outbound_put_abort(ob);
	ob->put_errno = 0;
	ob->put_sent = 0;
	memcpy(ob->put_id, req->id, sizeof(ob->put_id));
	memcpy(ob->put_digest, req->digest, sizeof(ob->put_digest));
	ob->put_size = req->size;

	ob_path(ob, req->id, ".sent", sent, sizeof(sent));
	if (exists(sent)) {
		/* A PUT repeated after its reply was lost. */
		ob->put_sent = 1;
		return 0;
	}
	if (req->size > ob->set.max_size) {
		snprintf(ob->text, sizeof(ob->text), "message of %llu bytes "
			 "is over the shore's limit of %llu",
			 (unsigned long long)req->size,
			 (unsigned long long)ob->set.max_size);
		*error_r = ob->text;
		return PROTO_ERR_REFUSED;
	}
	ob_path(ob, req->id, ".part", path, sizeof(path));
	created = !exists(path);
	if (created && ob_check_day(ob, error_r) != 0)
		return PROTO_ERR_TEMP;
	if (created) {
		/* A new upload must fit beside the unfinished ones: a ship's
		   key cannot fill the shore's disk.  For now only: they end
		   or expire. */
		uint64_t held = ob_files(ob, ".part", 0, NULL);

		if (held + req->size > ob->set.max_held) {
			snprintf(ob->text, sizeof(ob->text), "the shore holds "
				 "%llu bytes of unfinished uploads from this "
				 "ship; with %llu more it would pass "
				 "shore_outbound_max_held (%llu)",
				 (unsigned long long)held,
				 (unsigned long long)req->size,
				 (unsigned long long)ob->set.max_held);
			*error_r = ob->text;
			return PROTO_ERR_TEMP;
		}
	}
	ob->put_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	/* Another session of this ship may be injecting this upload (the
	   ship reconnected while the old session still had it): wait for
	   it, so as not to cut the file under its sendmail. */
	if (ob->put_fd < 0 || flock(ob->put_fd, LOCK_EX) < 0) {
		snprintf(ob->text, sizeof(ob->text), "cannot store the "
			 "upload: %s", strerror(errno));
		*error_r = ob->text;
		shore_outbound_put_abort(ob);
		return PROTO_ERR_TEMP;
	}
	if (exists(sent)) {
		if (created)
			(void)unlink(path);
		shore_outbound_put_abort(ob);
		ob->put_sent = 1;
		return 0;
	}
	if (fstat(ob->put_fd, &st) < 0 || (created && sync_dir(ob) < 0)) {
		snprintf(ob->text, sizeof(ob->text), "cannot store the "
			 "upload: %s", strerror(errno));
		*error_r = ob->text;
		shore_outbound_put_abort(ob);
		return PROTO_ERR_TEMP;
	}
	if (req->offset > (uint64_t)st.st_size) {
		snprintf(ob->text, sizeof(ob->text), "offset %llu past the "
			 "%llu bytes held", (unsigned long long)req->offset,
			 (unsigned long long)st.st_size);
		*error_r = ob->text;
		shore_outbound_put_abort(ob);
		return PROTO_ERR_RANGE;
	}
	/* Bytes past the offset are the ship's to send again.  What is
	   written after the lock goes are the same bytes at the same
	   offsets as any other session of the ship writes. */
	if (ftruncate(ob->put_fd, (off_t)req->offset) < 0 ||
	    lseek(ob->put_fd, (off_t)req->offset, SEEK_SET) < 0 ||
	    flock(ob->put_fd, LOCK_UN) < 0) {
		snprintf(ob->text, sizeof(ob->text), "cannot store the "
			 "upload: %s", strerror(errno));
		*error_r = ob->text;
		shore_outbound_put_abort(ob);
		return PROTO_ERR_TEMP;
	}
	return 0;
}

void shore_outbound_put_data(struct shore_outbound *ob, const void *data,
			     size_t len)
{
	const unsigned char *p = data;

	while (ob->put_fd >= 0 && ob->put_errno == 0 && len > 0) {
		ssize_t n = write(ob->put_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ob->put_errno = errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
}

void shore_outbound_put_abort(struct shore_outbound *ob)
{
	if (ob->put_fd < 0)
		return;
	(void)fdatasync(ob->put_fd);
	close(ob->put_fd);
	ob->put_fd = -1;
}

static int file_digest(int fd, char *hex, uint64_t *size_r)
{
	struct digest_ctx ctx;
	unsigned char buf[65536];
	ssize_t n;

	*size_r = 0;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	digest_init(&ctx);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		digest_update(&ctx, buf, (size_t)n);
		*size_r += (uint64_t)n;
	}
	digest_final_hex(&ctx, hex);
	return n < 0 ? -1 : 0;
}

/* The envelope block at the start of the upload; its length, or -1. */
static ssize_t read_envelope(struct shore_outbound *ob, int fd,
			     struct outbound_envelope *env)
{
	size_t want = ob->put_size < OB_ENVELOPE_READ_MAX ?
		(size_t)ob->put_size : OB_ENVELOPE_READ_MAX;
	char *buf = malloc(want + 1), error[200];
	size_t got = 0;
	ssize_t n, ret;

	if (buf == NULL || lseek(fd, 0, SEEK_SET) < 0) {
		free(buf);
		snprintf(ob->text, sizeof(ob->text), "cannot read upload");
		return -1;
	}
	while (got < want && (n = read(fd, buf + got, want - got)) > 0)
		got += (size_t)n;
	ret = outbound_envelope_parse(buf, got, env, error, sizeof(error));
	free(buf);
	if (ret <= 0) {
		snprintf(ob->text, sizeof(ob->text), "bad envelope: %.180s",
			 ret == 0 ? "cut or too long" : error);
		return -1;
	}
	return ret;
}

/* Distinct NOTIFY values of the recipients, in order of appearance. */
static size_t notify_groups(const struct outbound_envelope *env,
			    unsigned int *groups)
{
	size_t count = 0, i, j;

	for (i = 0; i < env->rcpt_count; i++) {
		for (j = 0; j < count; j++) {
			if (groups[j] == env->rcpts[i].notify)
				break;
		}
		if (j == count)
			groups[count++] = env->rcpts[i].notify;
	}
	return count;
}

/* sendmail's argv for one group: malloc'ed, strings borrowed. */
static char **group_argv(const struct shore_outbound *ob,
			 const struct outbound_envelope *env,
			 unsigned int notify, char *notify_buf, size_t size)
{
	size_t n = ob->set.sendmail_argc, i;
	char **argv = calloc(n + 16 + env->rcpt_count, sizeof(*argv));
	const char *name;

	if (argv == NULL)
		return NULL;
	memcpy(argv, ob->set.sendmail_argv, n * sizeof(*argv));
	argv[n++] = "-i";
	argv[n++] = "-f";
	argv[n++] = env->sender[0] != '\0' ? env->sender : "<>";
	name = outbound_notify_name(notify, notify_buf, size);
	if (name != NULL) {
		argv[n++] = "-N";
		argv[n++] = (char *)name;
	}
	if (env->ret != OUTBOUND_RET_NONE) {
		argv[n++] = "-R";
		argv[n++] = env->ret == OUTBOUND_RET_FULL ? "full" : "hdrs";
	}
	if (env->envid != NULL) {
		argv[n++] = "-V";
		argv[n++] = env->envid;
	}
	if (env->body_8bit) {
		argv[n++] = "-B";
		argv[n++] = "8BITMIME";
	}
	if (env->smtputf8)
		argv[n++] = "-SMTPUTF8";
	argv[n++] = "--";
	for (i = 0; i < env->rcpt_count; i++) {
		if (env->rcpts[i].notify == notify)
			argv[n++] = env->rcpts[i].addr;
	}
	argv[n] = NULL;
	return argv;
}

/* Run sendmail once per group not yet injected.  0 or an error code. */
static int inject(struct shore_outbound *ob, int fd,
		  const struct outbound_envelope *env, size_t header_len,
		  size_t *groups_r)
{
	unsigned int *groups = calloc(env->rcpt_count + 1, sizeof(*groups));
	size_t count, k;
	int ret = 0;

	if (groups == NULL) {
		snprintf(ob->text, sizeof(ob->text), "out of memory");
		return PROTO_ERR_TEMP;
	}
	count = notify_groups(env, groups);
	*groups_r = count;
	for (k = 0; k < count && ret == 0; k++) {
		char suffix[32], notify_buf[64], error[256];
		char path[4096], **argv;
		int status;

		snprintf(suffix, sizeof(suffix), ".g%zu", k);
		ob_path(ob, ob->put_id, suffix, path, sizeof(path));
		if (exists(path))
			continue;
		argv = group_argv(ob, env, groups[k], notify_buf,
				  sizeof(notify_buf));
		if (argv == NULL ||
		    lseek(fd, (off_t)header_len, SEEK_SET) < 0) {
			free(argv);
			snprintf(ob->text, sizeof(ob->text), "out of memory");
			ret = PROTO_ERR_TEMP;
			break;
		}
		if (spawn_run_fd(argv, fd, ob->set.sendmail_timeout, &status,
				 error, sizeof(error)) < 0) {
			/* 75 and anything that did not run to its end is
			   temporary: the bytes stay for another try. */
			int temp = status < 0 || status == 75;

			snprintf(ob->text, sizeof(ob->text), "sendmail: %.180s",
				 error);
			ret = temp ? PROTO_ERR_TEMP : PROTO_ERR_REFUSED;
		} else if (mark(ob, ob->put_id, suffix) < 0) {
			snprintf(ob->text, sizeof(ob->text), "injected, but "
				 "cannot record it: %s", strerror(errno));
			ret = PROTO_ERR_TEMP;
		}
		free(argv);
	}
	free(groups);
	return ret;
}

/* Injected: the .sent marker, then the upload and group markers go. */
static int finish(struct shore_outbound *ob, size_t groups)
{
	char path[4096], suffix[32];
	size_t k;

	if (mark(ob, ob->put_id, ".sent") < 0) {
		snprintf(ob->text, sizeof(ob->text), "injected, but cannot "
			 "record it: %s", strerror(errno));
		return PROTO_ERR_TEMP;
	}
	ob->day_sent++;
	ob_path(ob, ob->put_id, ".part", path, sizeof(path));
	(void)unlink(path);
	for (k = 0; k < groups; k++) {
		snprintf(suffix, sizeof(suffix), ".g%zu", k);
		ob_path(ob, ob->put_id, suffix, path, sizeof(path));
		(void)unlink(path);
	}
	(void)sync_dir(ob);
	return 0;
}

/* An upload refused for good before anything of it was injected: the
   ship will not send it again, its bytes need not wait for expiry. */
static void drop_refused(struct shore_outbound *ob, const char *path)
{
	(void)unlink(path);
	(void)sync_dir(ob);
}

/* The null sender (a bounce), or one of the ship's users. */
static int sender_is_the_ships(const struct shore_outbound *ob,
			       const char *sender)
{
	return sender[0] == '\0' || ship_users_match(ob->set.users, sender);
}

int shore_outbound_put_end(struct shore_outbound *ob, const char **text_r,
			   uint64_t *have_r, int *sent_r)
{
	struct outbound_envelope env;
	char digest[DIGEST_HEX_LEN + 1], path[4096];
	uint64_t size;
	ssize_t header_len;
	size_t groups = 0;
	int fd, ret;

	*text_r = ob->text;
	*have_r = 0;
	*sent_r = 0;
	if (ob->put_sent) {
		snprintf(ob->text, sizeof(ob->text), "sent");
		*sent_r = 1;
		return 0;
	}
	if (ob->put_fd < 0) {
		snprintf(ob->text, sizeof(ob->text), "no upload under way");
		return PROTO_ERR_SEQUENCE;
	}
	fd = ob->put_fd;
	ob->put_fd = -1;
	if (ob->put_errno == 0 && fdatasync(fd) < 0)
		ob->put_errno = errno;
	if (ob->put_errno == 0) {
		off_t end = lseek(fd, 0, SEEK_CUR);

		if (end < 0)
			ob->put_errno = errno;
		else
			*have_r = (uint64_t)end;
	}
	close(fd);
	if (ob->put_errno != 0) {
		snprintf(ob->text, sizeof(ob->text), "cannot store the "
			 "upload: %s", strerror(ob->put_errno));
		return PROTO_ERR_TEMP;
	}
	if (*have_r < ob->put_size) {
		snprintf(ob->text, sizeof(ob->text), "have %llu",
			 (unsigned long long)*have_r);
		return 0;
	}

	ob_path(ob, ob->put_id, ".part", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	/* One injection at a time; whoever waited finds it done. */
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		int saved = errno;

		close(fd);
		fd = -1;
		errno = saved;
	}
	if (fd >= 0 || errno == ENOENT) {
		char sent[4096];

		/* Gone: another session may have just injected it. */
		ob_path(ob, ob->put_id, ".sent", sent, sizeof(sent));
		if (exists(sent)) {
			if (fd >= 0)
				close(fd);
			snprintf(ob->text, sizeof(ob->text), "sent");
			*sent_r = 1;
			return 0;
		}
	}
	if (fd < 0 || file_digest(fd, digest, &size) < 0) {
		snprintf(ob->text, sizeof(ob->text), "cannot read the "
			 "upload: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return PROTO_ERR_TEMP;
	}
	if (size != ob->put_size || strcmp(digest, ob->put_digest) != 0) {
		close(fd);
		(void)unlink(path);
		(void)sync_dir(ob);
		snprintf(ob->text, sizeof(ob->text), "digest mismatch: got "
			 "%llu bytes, dropped; send it again",
			 (unsigned long long)size);
		return PROTO_ERR_DIGEST;
	}

	memset(&env, 0, sizeof(env));
	header_len = read_envelope(ob, fd, &env);
	if (header_len < 0) {
		close(fd);
		drop_refused(ob, path);
		return PROTO_ERR_REFUSED;
	}
	if (!sender_is_the_ships(ob, env.sender)) {
		snprintf(ob->text, sizeof(ob->text), "sender <%.100s> is not "
			 "a user of ship %s", env.sender, ob->set.ship);
		close(fd);
		drop_refused(ob, path);
		outbound_envelope_free(&env);
		return PROTO_ERR_REFUSED;
	}
	ret = ob_check_day(ob, text_r);
	if (ret == 0)
		ret = inject(ob, fd, &env, (size_t)header_len, &groups);
	close(fd);
	if (ret == 0 && (ret = finish(ob, groups)) == 0) {
		snprintf(ob->text, sizeof(ob->text), "sent");
		*sent_r = 1;
	}
	outbound_envelope_free(&env);
	return ret;
}
