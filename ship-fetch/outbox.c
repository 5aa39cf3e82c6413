/*
 * The outbound spool directory: see outbox.h.  Files are reached with
 * openat() and friends relative to descriptors of tmp/ and new/, so
 * that no path is built from anything but a checked id.
 */
#include "outbox.h"
#include "digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define OUTBOX_WRITE_BUF	(64 * 1024)

struct outbox {
	char *dir;
	int dir_fd, tmp_fd, new_fd;
};

struct outbox_writer {
	struct outbox *box;
	int fd;
	char id[OUTBOUND_ID_LEN + 1];
	size_t used;
	unsigned char buf[OUTBOX_WRITE_BUF];
};

/* Open a directory below parent_fd, first making it when create is set. */
static int
open_subdir(int parent_fd, const char *name, int create)
{
	if (create && mkdirat(parent_fd, name, 0700) < 0 && errno != EEXIST)
		return -1;
	return openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* outbox_open's failure on a subdirectory: NULL, errno kept. */
static struct outbox *
open_failed(struct outbox **box, const char *sub, char *error,
	    size_t error_size)
{
	int err = errno;

	snprintf(error, error_size, "outbox %s/%s: %s", (*box)->dir, sub,
		 strerror(err));
	outbox_close(box);
	errno = err;
	return NULL;
}

struct outbox *
outbox_open(const char *dir, int create, char *error, size_t error_size)
{
	struct outbox *box = calloc(1, sizeof(*box));

	if (box == NULL || (box->dir = strdup(dir)) == NULL) {
		free(box);
		snprintf(error, error_size, "outbox %s: out of memory", dir);
		return NULL;
	}
	box->tmp_fd = box->new_fd = -1;
	if ((create && mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (box->dir_fd = open(dir, O_RDONLY | O_DIRECTORY |
				O_CLOEXEC)) < 0) {
		int err = errno;

		snprintf(error, error_size, "outbox %s: %s", dir,
			 strerror(err));
		box->dir_fd = -1;
		outbox_close(&box);
		errno = err;
		return NULL;
	}
	/* The reader needs new/ only: tmp/ is for writing, and cleaning. */
	box->tmp_fd = open_subdir(box->dir_fd, "tmp", create);
	if (box->tmp_fd < 0 && (create || errno != ENOENT))
		return open_failed(&box, "tmp", error, error_size);
	box->new_fd = open_subdir(box->dir_fd, "new", create);
	if (box->new_fd < 0)
		return open_failed(&box, "new", error, error_size);
	return box;
}

void
outbox_close(struct outbox **_box)
{
	struct outbox *box = *_box;

	if (box == NULL)
		return;
	*_box = NULL;
	if (box->dir_fd >= 0)
		close(box->dir_fd);
	if (box->tmp_fd >= 0)
		close(box->tmp_fd);
	if (box->new_fd >= 0)
		close(box->new_fd);
	free(box->dir);
	free(box);
}

int
outbox_check_space(struct outbox *box, uint64_t min_free, char *error,
		   size_t error_size)
{
	struct statvfs st;
	uint64_t avail;

	if (fstatvfs(box->dir_fd, &st) < 0) {
		int err = errno;

		snprintf(error, error_size, "statvfs %s: %s", box->dir,
			 strerror(err));
		errno = err;
		return -1;
	}
	/* f_bavail: what a user without the reserved blocks may use. */
	avail = (uint64_t)st.f_bavail * st.f_frsize;
	if (avail < min_free) {
		snprintf(error, error_size, "%s: %" PRIu64 " bytes free, "
			 "less than %" PRIu64, box->dir, avail, min_free);
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

/* ---- writing ---- */

static int
write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
writer_flush(struct outbox_writer *w)
{
	if (w->used > 0 && write_all(w->fd, w->buf, w->used) < 0)
		return -1;
	w->used = 0;
	return 0;
}

struct outbox_writer *
outbox_writer_new(struct outbox *box, const struct outbound_envelope *env,
		  uint64_t min_free, char *error, size_t error_size)
{
	struct outbox_writer *w;
	char *block;
	size_t len;
	int err;

	if (outbox_check_space(box, min_free, error, error_size) < 0)
		return NULL;
	if ((block = outbound_envelope_format(env, &len)) == NULL) {
		err = errno;
		snprintf(error, error_size, "envelope: %s", strerror(err));
		errno = err;
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		free(block);
		snprintf(error, error_size, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	w->box = box;
	if (outbound_id_new(w->id) < 0 ||
	    (w->fd = openat(box->tmp_fd, w->id, O_WRONLY | O_CREAT |
			    O_EXCL | O_CLOEXEC, 0600)) < 0) {
		err = errno;
		snprintf(error, error_size, "%s/tmp: %s", box->dir,
			 strerror(err));
		free(block);
		free(w);
		errno = err;
		return NULL;
	}
	if (outbox_writer_write(w, block, len) < 0) {
		err = errno;
		snprintf(error, error_size, "%s/tmp/%s: %s", box->dir, w->id,
			 strerror(err));
		free(block);
		outbox_writer_abort(&w);
		errno = err;
		return NULL;
	}
	free(block);
	return w;
}

int
outbox_writer_write(struct outbox_writer *w, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = sizeof(w->buf) - w->used;

		if (n > len)
			n = len;
		memcpy(w->buf + w->used, p, n);
		w->used += n;
		p += n;
		len -= n;
		if (w->used == sizeof(w->buf) && writer_flush(w) < 0)
			return -1;
	}
	return 0;
}

void
outbox_writer_abort(struct outbox_writer **_w)
{
	struct outbox_writer *w = *_w;

	if (w == NULL)
		return;
	*_w = NULL;
	if (w->fd >= 0)
		close(w->fd);
	unlinkat(w->box->tmp_fd, w->id, 0);
	free(w);
}

int
outbox_writer_commit(struct outbox_writer **_w,
		     char id_r[OUTBOUND_ID_LEN + 1])
{
	struct outbox_writer *w = *_w;
	struct outbox *box = w->box;
	int err;

	*_w = NULL;
	if (writer_flush(w) < 0 || fsync(w->fd) < 0)
		goto fail;
	err = close(w->fd);
	w->fd = -1;
	if (err < 0 || renameat(box->tmp_fd, w->id, box->new_fd, w->id) < 0)
		goto fail;
	/* Only a synced directory makes the rename survive a crash. */
	if (fsync(box->new_fd) < 0) {
		err = errno;
		unlinkat(box->new_fd, w->id, 0);
		free(w);
		errno = err;
		return -1;
	}
	memcpy(id_r, w->id, sizeof(w->id));
	free(w);
	return 0;
fail:
	err = errno;
	*_w = w;
	outbox_writer_abort(_w);
	errno = err;
	return -1;
}

/* ---- reading ---- */

static int
item_cmp(const void *a, const void *b)
{
	const struct outbox_item *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	if (x->queued != y->queued)
		return x->queued < y->queued ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
outbox_list(struct outbox *box, struct outbox_item **items_r,
	    size_t *count_r)
{
	struct outbox_item *items = NULL, *grown;
	size_t count = 0, alloc = 0;
	struct dirent *d;
	struct stat st;
	DIR *dir;
	int fd, err;

	*items_r = NULL;
	*count_r = 0;
	if ((fd = openat(box->new_fd, ".", O_RDONLY | O_DIRECTORY |
			 O_CLOEXEC)) < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	while ((errno = 0, d = readdir(dir)) != NULL) {
		if (!outbound_id_valid(d->d_name, strlen(d->d_name)))
			continue;
		/* Removed between readdir and stat: no longer listed. */
		if (fstatat(box->new_fd, d->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (count == alloc) {
			alloc = alloc == 0 ? 64 : alloc * 2;
			if ((grown = realloc(items, alloc *
					     sizeof(*items))) == NULL)
				goto fail;
			items = grown;
		}
		memcpy(items[count].id, d->d_name, OUTBOUND_ID_LEN + 1);
		items[count].size = (uint64_t)st.st_size;
		items[count].queued = st.st_mtime;
		count++;
	}
	if (errno != 0)
		goto fail;
	closedir(dir);
	if (count > 1)
		qsort(items, count, sizeof(*items), item_cmp);
	*items_r = items;
	*count_r = count;
	return 0;
fail:
	err = errno;
	closedir(dir);
	free(items);
	errno = err;
	return -1;
}

int
outbox_item_open(struct outbox *box, const char *id)
{
	if (!outbound_id_valid(id, strlen(id))) {
		errno = EINVAL;
		return -1;
	}
	return openat(box->new_fd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

int
outbox_item_digest(struct outbox *box, const char *id, char hex[65],
		   uint64_t *size_r)
{
	struct digest_ctx ctx;
	unsigned char buf[64 * 1024];
	uint64_t size = 0;
	int fd = outbox_item_open(box, id), err;
	ssize_t n;

	if (fd < 0)
		return -1;
	digest_init(&ctx);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		digest_update(&ctx, buf, (size_t)n);
		size += (uint64_t)n;
	}
	close(fd);
	digest_final_hex(&ctx, hex);
	*size_r = size;
	return 0;
}

int
outbox_item_remove(struct outbox *box, const char *id)
{
	if (!outbound_id_valid(id, strlen(id))) {
		errno = EINVAL;
		return -1;
	}
	if (unlinkat(box->new_fd, id, 0) < 0 && errno != ENOENT)
		return -1;
	/* Synced even after ENOENT: an earlier unlink may not have been. */
	return fsync(box->new_fd);
}

void
outbox_clean_tmp(struct outbox *box, unsigned int secs)
{
	time_t now = time(NULL);
	struct dirent *d;
	struct stat st;
	DIR *dir;
	int fd;

	if (box->tmp_fd < 0)
		return;
	if ((fd = openat(box->tmp_fd, ".", O_RDONLY | O_DIRECTORY |
			 O_CLOEXEC)) < 0)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		if (!outbound_id_valid(d->d_name, strlen(d->d_name)) ||
		    fstatat(box->tmp_fd, d->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_mtime + (time_t)secs <= now)
			unlinkat(box->tmp_fd, d->d_name, 0);
	}
	closedir(dir);
}

int
outbox_item_set_aside(struct outbox *box, const char *id)
{
	int fd, ret;

	if (!outbound_id_valid(id, strlen(id))) {
		errno = EINVAL;
		return -1;
	}
	if (mkdirat(box->dir_fd, "failed", 0700) < 0 && errno != EEXIST)
		return -1;
	fd = openat(box->dir_fd, "failed", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = renameat(box->new_fd, id, fd, id);
	if (ret == 0)
		ret = fsync(fd) < 0 || fsync(box->new_fd) < 0 ? -1 : 0;
	close(fd);
	return ret;
}
