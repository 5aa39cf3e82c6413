#ifndef SHIPMAIL_BOUNCE_H
#define SHIPMAIL_BOUNCE_H

/*
 * Returning to its sender an outbound message that the shore refused
 * for good (too large for the shore, a sender that is not the ship's,
 * refused by the shore's sendmail): a delivery status notification
 * (RFC 3464) with the shore's reason, one failed recipient each, and
 * the original's header; the whole original only when its sender asked
 * for it (RET=FULL) and it is small (BOUNCE_FULL_MAX), as Postfix does:
 * the message stays on the ship for the admin in any case.  It goes
 * through the ship's own sendmail, with the null sender, so that it
 * can bounce no further.
 */

#include <stddef.h>
#include <time.h>

#include "outbound.h"

/* What of the original a notification quotes at most: its header,
   or the whole of a small message asked for with RET=FULL. */
#define BOUNCE_HEADER_MAX	(64 * 1024)
#define BOUNCE_FULL_MAX		50000

struct bounce_info {
	const struct outbound_envelope *env;
	const char *id;			/* the outbound spool file */
	const char *header;		/* the original's header */
	size_t header_len;
	const char *message;		/* or all of it; NULL: header only */
	size_t message_len;
	const char *reason;		/* the shore's reply, "554 ..." */
	const char *hostname;
	const char *kept_in;		/* where the admin finds it */
	time_t arrival, now;
};

/* 1 when someone is to be told: a sender that is not null, and a
   recipient whose NOTIFY does not exclude failures. */
int bounce_wanted(const struct outbound_envelope *env);

/* The notification, LF line ends, malloc'ed; NULL on ENOMEM. */
char *bounce_compose(const struct bounce_info *info, size_t *len_r);

/* 1 when the whole original goes back: RET=FULL and at most
   BOUNCE_FULL_MAX bytes. */
int bounce_wants_full(const struct outbound_envelope *env,
		      size_t message_len);

/* The header of a message (CRLF or LF line ends) in data[0..len): its
   length up to and without the empty line, at most BOUNCE_HEADER_MAX. */
size_t bounce_header_len(const char *data, size_t len);

#endif
