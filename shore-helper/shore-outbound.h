#ifndef SHIPMAIL_SHORE_OUTBOUND_H
#define SHIPMAIL_SHORE_OUTBOUND_H

/*
 * The shore's side of the ship's outbound mail: uploads (HAVE, PUT) are
 * kept in one directory per ship until they are whole, verified,
 * and injected into the shore's Postfix with its sendmail command.
 *
 *   <dir>/<ship>/<id>.part    the bytes received so far (the ship's
 *                             spool file: envelope block, then message)
 *   <dir>/<ship>/<id>.g<N>    recipient group N was injected
 *   <dir>/<ship>/<id>.sent    all of it was injected
 *
 * Every file is fsynced, and the directory after each create, rename
 * or unlink, before the reply that depends on it goes out.  A .sent
 * marker is what makes a PUT repeated after a lost reply harmless: the
 * message is not injected again, the ship is told "sent".  Markers are
 * removed after shore_outbound_keep (30 days by default).
 *
 * Recipients are injected in groups of equal NOTIFY= (sendmail's -N
 * applies to a whole run), in the order of the envelope; a group's
 * marker is written as soon as its sendmail exits 0, so a failure in a
 * later group never injects an earlier one twice.
 *
 * The ship names uploads only by id (32 hex digits): no name or path
 * from the peer reaches the filesystem.  The envelope sender must be
 * one of the ship's users (shore_ship_NAME) or empty, a bounce: a
 * ship's key does not make the shore an open relay.  What one ship
 * injects in 24 hours is bounded (shore_outbound_max_per_day), counted
 * from its .sent markers; past the bound new uploads wait (451).
 */

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct ship_users;

/* The window of shore_outbound_max_per_day, in seconds. */
#define SHORE_OUTBOUND_DAY	86400

struct shore_outbound_settings {
	const char *dir;		/* shore_outbound_dir */
	const char *ship;
	const struct ship_users *users;	/* the senders taken */
	char **sendmail_argv;		/* room for the caller's arguments */
	size_t sendmail_argc;
	unsigned int sendmail_timeout;
	uint64_t max_size;
	uint64_t max_held;		/* unfinished uploads, in bytes */
	uint64_t max_per_day;		/* injected in 24 hours; 0: no bound */
	unsigned int keep;		/* seconds to keep .sent markers */
};

struct shore_outbound;

/* NULL with error set when the directory cannot be made or used. */
struct shore_outbound *shore_outbound_open(
	const struct shore_outbound_settings *set, char *error,
	size_t error_size);
void shore_outbound_free(struct shore_outbound **ob);

/* HAVE: the bytes held for id (0 when none), or *sent_r = 1.
   0, or a protocol error code with *error_r. */
int shore_outbound_have(struct shore_outbound *ob, const char *id,
			uint64_t *have_r, int *sent_r, const char **error_r);

/*
 * PUT: begin receiving req->length bytes at req->offset of the upload
 * req->id.  On an error code (with *error_r) the bytes that follow are
 * still the caller's to read: it drops them and replies the error.
 */
int shore_outbound_put_begin(struct shore_outbound *ob,
			     const struct proto_request *req,
			     const char **error_r);
/* Bytes of the PUT being received.  A write error is remembered and
   reported at the end. */
void shore_outbound_put_data(struct shore_outbound *ob, const void *data,
			     size_t len);
/*
 * The piece's bytes are in.  When the upload is not whole yet, they are
 * made durable and *have_r says how many the shore holds (*sent_r 0).
 * When it is whole: verify size and digest, inject, mark it sent
 * (*sent_r 1).  0 with *text_r, or an error code with *text_r: 422
 * (digest: the upload is dropped, the ship sends it again), 451 (try
 * later: the bytes are kept; also when the day's bound is reached),
 * 554 (refused for good: bad envelope, a sender not of the ship, too
 * large, or sendmail refused it).
 */
int shore_outbound_put_end(struct shore_outbound *ob, const char **text_r,
			   uint64_t *have_r, int *sent_r);
/* The session ended inside a PUT: keep, fsynced, what came. */
void shore_outbound_put_abort(struct shore_outbound *ob);

#endif
