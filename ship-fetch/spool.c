/*
 * The spool directory and its journal: see spool.h.  The journal is
 * read once into an array; lookups scan it linearly, which compaction
 * keeps to the few thousand messages that a ship remembers.
 */
#include "spool.h"
#include "digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_JOURNAL	"journal"
#define SPOOL_LOCK	"lock"
/* Superseded journal lines tolerated before a compaction. */
#define SPOOL_SLACK	1024

struct spool_entry {
	struct proto_msgref ref;
	enum spool_state state;
};

struct spool {
	char *dir;
	int journal_fd, lock_fd;
	int torn;			/* the journal ends inside a line */
	size_t lines;			/* lines read from the journal */
	size_t lines_after;		/* and after the compaction */
	int compact_errno;		/* why a compaction failed, or 0 */
	struct spool_entry *entries;
	size_t count, alloc;
};

static int ref_equal(const struct proto_msgref *a,
		     const struct proto_msgref *b)
{
	return a->uid == b->uid && a->uidvalidity == b->uidvalidity &&
		strcmp(a->guid, b->guid) == 0 && strcmp(a->user, b->user) == 0;
}

static struct spool_entry *spool_find(const struct spool *spool,
				      const struct proto_msgref *ref)
{
	size_t i;

	for (i = spool->count; i-- > 0;) {
		if (ref_equal(&spool->entries[i].ref, ref))
			return &spool->entries[i];
	}
	return NULL;
}

/* Remember a state; a later line for the same message overrides. */
static int spool_remember(struct spool *spool, const struct proto_msgref *ref,
			  enum spool_state state)
{
	struct spool_entry *e = spool_find(spool, ref);

	if (e != NULL) {
		e->state = state;
		return 0;
	}
	if (spool->count == spool->alloc) {
		size_t alloc = spool->alloc == 0 ? 64 : spool->alloc * 2;
		struct spool_entry *grown = realloc(spool->entries,
						    alloc * sizeof(*grown));

		if (grown == NULL)
			return -1;
		spool->entries = grown;
		spool->alloc = alloc;
	}
	spool->entries[spool->count].ref = *ref;
	spool->entries[spool->count].state = state;
	spool->count++;
	return 0;
}

/* The journal's letter for each state, indexed by enum spool_state. */
static const char state_letters[] = "RDAFL";

static int state_of(char c, enum spool_state *state_r)
{
	const char *p = strchr(state_letters, c);

	if (c == '\0' || p == NULL)
		return -1;
	*state_r = (enum spool_state)(p - state_letters);
	return 0;
}

/* One journal line: "S user guid uidvalidity uid digest". */
static void spool_load_line(struct spool *spool, const char *line,
			    size_t len)
{
	struct proto_reply parsed;
	enum spool_state state;
	char msg[PROTO_LINE_MAX + 1];
	const char *error;

	if (len < 3 || line[1] != ' ' || len > PROTO_LINE_MAX - 16 ||
	    state_of(line[0], &state) < 0)
		return;

	/* Reuse the protocol's MSG parser for the reference fields. */
	memcpy(msg, "MSG", 3);
	memcpy(msg + 3, line + 1, len - 1);
	len += 2;
	/* Replace the digest by "0 0 -" so that MSG's fields line up. */
	while (len > 0 && msg[len - 1] != ' ')
		len--;
	if (len == 0)
		return;
	memcpy(msg + len - 1, " 0 0 -", 6);
	len += 5;
	if (proto_reply_parse(msg, len, &parsed, &error) == 0)
		(void)spool_remember(spool, &parsed.ref, state);
}

static int spool_load(struct spool *spool)
{
	char path[4096], buf[8192], line[PROTO_LINE_MAX + 1];
	size_t line_len = 0;
	ssize_t n;
	int fd;

	spool->torn = 0;
	spool->lines = 0;

	snprintf(path, sizeof(path), "%s/%s", spool->dir, SPOOL_JOURNAL);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t i;

		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				spool->lines++;
				spool_load_line(spool, line, line_len);
				line_len = 0;
			} else if (line_len < sizeof(line)) {
				line[line_len++] = buf[i];
			}
		}
		spool->torn = buf[n - 1] != '\n';
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

/* A journal line for ref in state, with its LF; 0 when it does not
   fit (a user name that cannot be encoded). */
static size_t spool_format(char *line, size_t size,
			   const struct proto_msgref *ref,
			   enum spool_state state, const char *digest)
{
	char user[3 * PENDING_USER_MAX + 1];
	int len;

	if (proto_user_encode(user, sizeof(user), ref->user) == 0)
		return 0;
	len = snprintf(line, size, "%c %s %s %u %u %s\n",
		       state_letters[state], user, ref->guid, ref->uidvalidity,
		       ref->uid, digest != NULL && *digest != '\0' ?
		       digest : "-");
	return len < 0 || (size_t)len >= size ? 0 : (size_t)len;
}

static size_t spool_acked(const struct spool *spool)
{
	size_t i, n = 0;

	for (i = 0; i < spool->count; i++)
		n += spool->entries[i].state == SPOOL_ACKED;
	return n;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/*
 * Drop all but the newest keep acknowledged entries (the array is in
 * the order messages first appeared) and write what is left, one line
 * each, to a new journal that replaces the old.  On any failure the old
 * journal stays, whole.
 */
static int spool_compact(struct spool *spool, size_t keep)
{
	char path[4096], tmp[4096], line[PROTO_LINE_MAX + 2];
	size_t acked = spool_acked(spool), drop, i, kept = 0;
	FILE *f;
	int fd, ok;

	drop = acked > keep ? acked - keep : 0;

	snprintf(path, sizeof(path), "%s/%s", spool->dir, SPOOL_JOURNAL);
	snprintf(tmp, sizeof(tmp), "%s/%s.new", spool->dir, SPOOL_JOURNAL);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (i = 0; i < spool->count; i++) {
		const struct spool_entry *e = &spool->entries[i];
		size_t len;

		if (e->state == SPOOL_ACKED && drop > 0) {
			drop--;
			continue;
		}
		len = spool_format(line, sizeof(line), &e->ref, e->state,
				   NULL);
		if (len > 0 && fwrite(line, 1, len, f) != len)
			break;
		spool->entries[kept++] = *e;
	}
	ok = i == spool->count && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		int saved = errno;

		(void)unlink(tmp);
		/* The array may be short of entries the old journal has. */
		spool->count = 0;
		if (spool_load(spool) < 0)
			return -1;
		errno = saved;
		return -1;
	}
	spool->count = kept;
	spool->lines_after = kept;
	spool->torn = 0;
	/* A crash before this leaves the old journal or the new one,
	   either of them whole. */
	return sync_dir(spool->dir);
}

/* The exclusive lock on dir/lock, with our pid in it.  -1 with errno
   (EWOULDBLOCK: another run) and a text. */
static int spool_lock(struct spool *spool, char *error, size_t error_size)
{
	char path[4096], pid[32] = "";
	ssize_t n;
	int len;

	snprintf(path, sizeof(path), "%s/%s", spool->dir, SPOOL_LOCK);
	spool->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (spool->lock_fd < 0) {
		snprintf(error, error_size, "open %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (flock(spool->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;

		if (saved == EWOULDBLOCK) {
			n = pread(spool->lock_fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			snprintf(error, error_size, "%s is in use by another "
				 "shipmail-fetch (pid %s)", spool->dir,
				 *pid != '\0' ? pid : "unknown");
		} else {
			snprintf(error, error_size, "lock %s: %s", path,
				 strerror(saved));
		}
		errno = saved;
		return -1;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(spool->lock_fd, 0) < 0 ||
	    pwrite(spool->lock_fd, pid, (size_t)len, 0) != len) {
		snprintf(error, error_size, "write %s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int spool_compaction(const struct spool *spool, size_t *before_r,
		     size_t *after_r)
{
	*before_r = spool->lines;
	*after_r = spool->lines_after;
	return spool->compact_errno;
}

struct spool *spool_open(const char *dir, size_t keep, char *error,
			 size_t error_size)
{
	struct spool *spool = calloc(1, sizeof(*spool));
	char path[4096];

	if (spool == NULL || (spool->dir = strdup(dir)) == NULL) {
		free(spool);
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	spool->journal_fd = -1;
	spool->lock_fd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(error, error_size, "mkdir %s: %s", dir,
			 strerror(errno));
		spool_close(&spool);
		return NULL;
	}
	if (spool_lock(spool, error, error_size) < 0) {
		int saved = errno;

		spool_close(&spool);
		errno = saved;
		return NULL;
	}
	if (spool_load(spool) < 0) {
		snprintf(error, error_size, "reading %s/%s: %s", dir,
			 SPOOL_JOURNAL, strerror(errno));
		spool_close(&spool);
		return NULL;
	}
	spool->lines_after = spool->lines;
	/* Not fatal: the old journal is still whole, and still appended
	   to; the next run tries again. */
	if ((spool->lines - spool->count >= SPOOL_SLACK ||
	     spool_acked(spool) > keep) && spool_compact(spool, keep) < 0)
		spool->compact_errno = errno != 0 ? errno : EIO;
	snprintf(path, sizeof(path), "%s/%s", dir, SPOOL_JOURNAL);
	spool->journal_fd = open(path, O_WRONLY | O_APPEND | O_CREAT |
				 O_CLOEXEC, 0600);
	if (spool->journal_fd < 0) {
		snprintf(error, error_size, "open %s: %s", path,
			 strerror(errno));
		spool_close(&spool);
		return NULL;
	}

	/* End a torn line, so that the next record starts a line of its
	   own instead of being glued to the fragment and lost. */
	if (spool->torn && (write(spool->journal_fd, "\n", 1) != 1 ||
			    fdatasync(spool->journal_fd) < 0)) {
		snprintf(error, error_size, "write %s: %s", path,
			 strerror(errno));
		spool_close(&spool);
		return NULL;
	}
	return spool;
}

void spool_close(struct spool **_spool)
{
	struct spool *spool = *_spool;

	if (spool == NULL)
		return;
	*_spool = NULL;
	if (spool->journal_fd >= 0)
		close(spool->journal_fd);
	if (spool->lock_fd >= 0)
		close(spool->lock_fd);
	free(spool->entries);
	free(spool->dir);
	free(spool);
}

enum spool_state spool_state(const struct spool *spool,
			     const struct proto_msgref *ref)
{
	const struct spool_entry *e = spool_find(spool, ref);

	return e == NULL ? SPOOL_NONE : e->state;
}

int spool_record(struct spool *spool, const struct proto_msgref *ref,
		 enum spool_state state, const char *digest)
{
	char line[PROTO_LINE_MAX + 2];
	size_t len = spool_format(line, sizeof(line), ref, state, digest);

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (write(spool->journal_fd, line, len) != (ssize_t)len ||
	    fdatasync(spool->journal_fd) < 0)
		return -1;
	return spool_remember(spool, ref, state);
}

const struct proto_msgref *spool_unacked(const struct spool *spool,
					 size_t i)
{
	size_t seen = 0, j;

	for (j = 0; j < spool->count; j++) {
		if (spool->entries[j].state != SPOOL_DELIVERED)
			continue;
		if (seen++ == i)
			return &spool->entries[j].ref;
	}
	return NULL;
}

void spool_path(const struct spool *spool, const struct proto_msgref *ref,
		char *buf, size_t size)
{
	struct digest_ctx ctx;
	char hex[DIGEST_HEX_LEN + 1];

	/* The user name can be anything: only its hash goes in the name. */
	digest_init(&ctx);
	digest_update(&ctx, ref->user, strlen(ref->user));
	digest_final_hex(&ctx, hex);
	snprintf(buf, size, "%s/%s-%u-%u-%.16s.msg", spool->dir, ref->guid,
		 ref->uidvalidity, ref->uid, hex);
}

uint64_t spool_have(const struct spool *spool,
		    const struct proto_msgref *ref)
{
	char path[4096];
	struct stat st;

	spool_path(spool, ref, path, sizeof(path));
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return (uint64_t)st.st_size;
}

int spool_append_open(const struct spool *spool,
		      const struct proto_msgref *ref, uint64_t offset)
{
	char path[4096];
	int fd;

	spool_path(spool, ref, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)offset) < 0 ||
	    lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int spool_digest(const struct spool *spool, const struct proto_msgref *ref,
		 char *hex, uint64_t *size_r)
{
	struct digest_ctx ctx;
	char path[4096], buf[65536];
	ssize_t n;
	int fd;

	spool_path(spool, ref, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	digest_init(&ctx);
	*size_r = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		digest_update(&ctx, buf, (size_t)n);
		*size_r += (uint64_t)n;
	}
	close(fd);
	if (n < 0)
		return -1;
	digest_final_hex(&ctx, hex);
	return 0;
}

void spool_remove(const struct spool *spool, const struct proto_msgref *ref)
{
	char path[4096];

	spool_path(spool, ref, path, sizeof(path));
	(void)unlink(path);
}

/* A message file's name, without the directory. */
struct spool_name {
	char name[PENDING_GUID_LEN + 64];
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spool_name *)a)->name,
		      ((const struct spool_name *)b)->name);
}

static void spool_name_of(const struct spool *spool,
			  const struct proto_msgref *ref,
			  struct spool_name *n)
{
	char path[4096];
	const char *slash, *base;
	size_t len;

	spool_path(spool, ref, path, sizeof(path));
	slash = strrchr(path, '/');
	base = slash != NULL ? slash + 1 : path;
	/* At most 75 bytes: GUID, two numbers, 16 hex digits, ".msg". */
	len = strlen(base);
	if (len >= sizeof(n->name))
		len = sizeof(n->name) - 1;
	memcpy(n->name, base, len);
	n->name[len] = '\0';
}

size_t spool_sweep(const struct spool *spool, const struct proto_msgref *keep,
		   size_t keep_count, unsigned int min_age)
{
	struct spool_name *names, probe;
	size_t count = 0, removed = 0, i;
	time_t now = time(NULL);
	struct dirent *de;
	DIR *dir;
	int dfd;

	names = calloc(keep_count + spool->count + 1, sizeof(*names));
	if (names == NULL)
		return 0;
	for (i = 0; i < keep_count; i++)
		spool_name_of(spool, &keep[i], &names[count++]);
	for (i = 0; i < spool->count; i++) {
		enum spool_state st = spool->entries[i].state;

		if (st == SPOOL_DELIVERING || st == SPOOL_FAILED)
			spool_name_of(spool, &spool->entries[i].ref,
				      &names[count++]);
	}
	qsort(names, count, sizeof(*names), name_cmp);

	dir = opendir(spool->dir);
	if (dir == NULL) {
		free(names);
		return 0;
	}
	dfd = dirfd(dir);
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (len < 5 || strcmp(de->d_name + len - 4, ".msg") != 0 ||
		    len >= sizeof(probe.name))
			continue;
		memcpy(probe.name, de->d_name, len + 1);
		if (bsearch(&probe, names, count, sizeof(*names),
			    name_cmp) != NULL)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) ||
		    st.st_mtime + (time_t)min_age > now)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(dir);
	free(names);
	return removed;
}
