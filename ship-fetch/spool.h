#ifndef SHIPMAIL_SPOOL_H
#define SHIPMAIL_SPOOL_H

/*
 * shipmail-fetch's spool directory: one file per message being fetched,
 * and a journal of what was delivered and acknowledged.
 *
 * A message's file grows as bytes arrive and is fsynced at each chunk
 * boundary the caller chooses; its size is where the next FETCH starts,
 * so a cut or a kill costs only the bytes not yet written.  Once the
 * message is delivered over LMTP, a "D" line (with the digest) is
 * appended to the journal and fsynced BEFORE the acknowledgement is
 * sent; an "A" line follows the shore's OK.  A message with a D line is
 * never delivered again, whatever the shore offers.  A message the ship
 * refused for good gets an "F" line: it stays in the spool, is neither
 * fetched nor acknowledged again, and waits for an administrator.
 *
 * An "L" line, fsynced, goes before every LMTP delivery: a run that
 * dies (or loses the LMTP connection) after the final dot has no way of
 * knowing whether Dovecot stored the message, and the L line tells the
 * next run to look in the mailbox before delivering again.  An "R" line
 * says that LMTP refused the message for now (a 4xx reply): it is
 * delivered again later, without looking.
 *
 * Journal lines: "<state> <user> <guid> <uidvalidity> <uid> <digest>",
 * the user percent-encoded as on the wire.  A torn last line (a crash
 * while appending) is ignored.
 *
 * One run at a time: spool_open() takes an exclusive lock on the file
 * "lock" in the directory (its text: the holder's pid) and fails with
 * EWOULDBLOCK while another run holds it.  Two runs would fetch the
 * same message into the same file, and deliver it twice.
 *
 * The journal is compacted when it is opened and has grown: it is
 * rewritten (a new file, synced, renamed over the old) with one line per
 * message in its last state, and of the acknowledged messages, which
 * need remembering only in case the shore offers one again, the newest
 * "keep" only.
 */

#include <stdint.h>
#include <stdio.h>

#include "proto.h"

enum spool_state {
	SPOOL_NONE = 0,		/* never delivered (R: refused for now) */
	SPOOL_DELIVERED,	/* D: delivered, ack not confirmed */
	SPOOL_ACKED,		/* A: delivered and acknowledged */
	SPOOL_FAILED,		/* F: refused for good by the ship */
	SPOOL_DELIVERING,	/* L: LMTP began; outcome unknown */
};

struct spool;

/* Open (creating) dir, lock it and open its journal, compacted first
   when it has more than a few superseded lines or more acknowledged
   messages than keep.  NULL with error set, and errno EWOULDBLOCK when
   another process holds the lock. */
struct spool *spool_open(const char *dir, size_t keep, char *error,
			 size_t error_size);

/* Lines in the journal before and after the compaction at open (equal
   when there was none); returns the errno of a compaction that failed
   (the old journal is kept and used), else 0. */
int spool_compaction(const struct spool *spool, size_t *before_r,
		     size_t *after_r);
void spool_close(struct spool **spool);

/* What the journal says about ref. */
enum spool_state spool_state(const struct spool *spool,
			     const struct proto_msgref *ref);

/* Append a state line and fsync it.  0 or -1 with errno. */
int spool_record(struct spool *spool, const struct proto_msgref *ref,
		 enum spool_state state, const char *digest);

/* Refs in state DELIVERED (acks to resend), for i = 0.. until NULL. */
const struct proto_msgref *spool_unacked(const struct spool *spool,
					 size_t i);

/* The path of ref's message file. */
void spool_path(const struct spool *spool, const struct proto_msgref *ref,
		char *buf, size_t size);

/* Bytes of ref already in the spool (0 when there is no file). */
uint64_t spool_have(const struct spool *spool,
		    const struct proto_msgref *ref);

/* Open ref's file for appending at offset (truncating anything past
   it).  Returns an fd or -1 with errno. */
int spool_append_open(const struct spool *spool,
		      const struct proto_msgref *ref, uint64_t offset);

/* SHA-256 hex of ref's whole file; -1 with errno on failure. */
int spool_digest(const struct spool *spool, const struct proto_msgref *ref,
		 char *hex, uint64_t *size_r);

/*
 * Remove message files that nothing will ever finish: not in keep (the
 * shore's whole offer), not held by the journal (delivery begun, or
 * refused for good), and not written to for min_age seconds: the
 * partial fetch of a message that was then deleted on shore, or
 * acknowledged by a run that lost the file.  Returns how many went.
 */
size_t spool_sweep(const struct spool *spool, const struct proto_msgref *keep,
		   size_t keep_count, unsigned int min_age);

/* Remove ref's file (after delivery or a digest mismatch). */
void spool_remove(const struct spool *spool, const struct proto_msgref *ref);

#endif
