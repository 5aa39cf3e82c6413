#ifndef SHIPMAIL_OUTBOX_H
#define SHIPMAIL_OUTBOX_H

/*
 * The ship's outbound spool directory, in the Maildir manner:
 *
 *   <dir>/tmp/<id>    being written (by shipmail-outbound)
 *   <dir>/new/<id>    whole and fsynced: waiting to go up to the shore
 *   <dir>/failed/<id> refused by the shore for good, returned to sender
 *
 * A file is written in tmp/, fsynced, renamed into new/, and new/ is
 * fsynced before the writer says so: a message that shipmail-outbound
 * acknowledged to Postfix survives a crash.  Each file is an outbound
 * spool file (common/outbound.h): the envelope block, then the message.
 * Ids are 128 random bits, so writers need no lock.  shipmail-fetch
 * lists new/, uploads, and removes a file once the shore has it.
 *
 * A writer killed mid-message leaves a file in tmp/ that nothing else
 * reads; outbox_clean_tmp() removes such files once they are old.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "outbound.h"

struct outbox;

/*
 * Open dir and its tmp/ and new/.  The writer (shipmail-outbound, as the
 * mail user) passes create to make what is missing (0700); the reader
 * does not, so that a run as root never makes directories the writer
 * cannot use.  NULL with error set and errno (ENOENT: not made yet).
 */
struct outbox *outbox_open(const char *dir, int create, char *error,
			   size_t error_size);
void outbox_close(struct outbox **box);

/*
 * 0 when the spool's filesystem has at least min_free bytes free for an
 * unprivileged user; -1 with errno ENOSPC (or statvfs's) and error set.
 */
int outbox_check_space(struct outbox *box, uint64_t min_free, char *error,
		       size_t error_size);

struct outbox_writer;

/*
 * Start a message: tmp/<new id> with env's envelope block.  Refuses
 * (NULL, errno ENOSPC, error text) when the filesystem has less than
 * min_free bytes free; NULL with errno and error on any other failure.
 */
struct outbox_writer *outbox_writer_new(struct outbox *box,
					const struct outbound_envelope *env,
					uint64_t min_free, char *error,
					size_t error_size);
/* Append message bytes (buffered).  0 or -1 with errno. */
int outbox_writer_write(struct outbox_writer *w, const void *data,
			size_t len);
/*
 * fsync, rename into new/, fsync new/; id_r gets the id.  0, or -1 with
 * errno; the writer is freed either way and a failed file removed.
 */
int outbox_writer_commit(struct outbox_writer **w,
			 char id_r[OUTBOUND_ID_LEN + 1]);
/* Drop the message being written: nothing of it stays. */
void outbox_writer_abort(struct outbox_writer **w);

struct outbox_item {
	char id[OUTBOUND_ID_LEN + 1];
	uint64_t size;			/* of the whole file */
	time_t queued;			/* its mtime: when it was committed */
};

/*
 * Everything in new/, sorted smallest first, ties oldest first (then by
 * id, so the order is stable).  Names that are not ids are skipped.
 * *items_r is malloc'ed (NULL when empty).  0 or -1 with errno.
 */
int outbox_list(struct outbox *box, struct outbox_item **items_r,
		size_t *count_r);

/* open(new/<id>, O_RDONLY); -1 with errno (EINVAL for a bad id). */
int outbox_item_open(struct outbox *box, const char *id);

/* SHA-256 (lower-case hex) and size of the whole file.  0 or -1. */
int outbox_item_digest(struct outbox *box, const char *id, char hex[65],
		       uint64_t *size_r);

/* unlink new/<id> and fsync new/.  0, or -1 with errno (ENOENT counts
   as success: it was removed before). */
int outbox_item_remove(struct outbox *box, const char *id);

/* Remove tmp/ files older than secs (left by a killed writer).
   shipmail-fetch uses OUTBOX_TMP_MAX_AGE: no writer takes a day, Postfix
   gives up on an LMTP session long before. */
#define OUTBOX_TMP_MAX_AGE	(24 * 60 * 60)
void outbox_clean_tmp(struct outbox *box, unsigned int secs);

/* Move new/<id> to failed/<id> (made when missing), both directories
   synced: a message that will never go, kept for the administrator.
   0 or -1 with errno. */
int outbox_item_set_aside(struct outbox *box, const char *id);

#endif
