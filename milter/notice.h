#ifndef SHIPMAIL_NOTICE_H
#define SHIPMAIL_NOTICE_H

/*
 * The text of the notices the milter sends: a complete message (header
 * and body, LF line ends) ready for the notice command's stdin.
 *
 * Inbound (shore): to a ship recipient whose copy is kept on shore
 * because it is over the recipient's limit.  Outbound (ship): to the
 * sender of mail held in the ship's queue.  Both are short plain text,
 * marked Auto-Submitted: auto-generated, and carry the notice header
 * below so that software on the ship can tell a notice from other mail
 * (moving a notice into the request folder asks for the held message).
 *
 * Every string taken from the original message goes through
 * mime_decode_header(): a notice never holds a control character or a
 * line break that came from a peer.
 */

#include <stdint.h>
#include <stddef.h>
#include <time.h>

struct str;

/* On notices: the handle (inbound) or queue ID (outbound) it is about. */
#define SHIPMAIL_NOTICE_HEADER	"X-Shipmail-Notice"

/* How much of a decoded From or Subject a notice shows. */
#define NOTICE_FIELD_MAX	200

struct notice_info {
	const char *notice_from;	/* header form */
	const char *to;			/* the notice's recipient */
	time_t now;
	const char *hostname;		/* for the Message-ID */

	/* Raw header values of the original (any may be NULL). */
	const char *from, *subject, *date;
	uint64_t size, limit;

	/* Inbound */
	const char *handle;
	const char *request_folder;
	unsigned int link_bps;		/* 0: no time estimate */

	/* Outbound */
	const char *queue_id;
	const char *const *rcpts;	/* the recipients off the ship */
	size_t rcpt_count;
};

void notice_inbound(struct str *out, const struct notice_info *info);
void notice_outbound(struct str *out, const struct notice_info *info);

/* "1.2 MB", "200 KB", "512 bytes": sizes in the units of the config. */
void notice_format_size(char *buf, size_t size, uint64_t bytes);

#endif
