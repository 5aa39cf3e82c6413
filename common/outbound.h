#ifndef SHIPMAIL_OUTBOUND_H
#define SHIPMAIL_OUTBOUND_H

/*
 * The ship's outbound spool file: an envelope block, then the message.
 * The ship writes it (shipmail-outbound, from the ship's Postfix), the
 * shore reads it from the upload (shipmail-shore), so the parser takes
 * its input as hostile: one spelling per value, every length bounded.
 *
 *   SHIPMAIL-OUTBOUND 1
 *   from <enc-sender>[ ret=FULL|HDRS][ envid=<enc>][ body=7BIT|8BITMIME]
 *	[ smtputf8]
 *   rcpt <enc-addr>[ notify=NEVER|<SUCCESS,FAILURE,DELAY>][ orcpt=<enc>]
 *   ...                                   (1 to OUTBOUND_RCPT_MAX)
 *   <empty line>
 *   <the message as received: CRLF line ends, dot-unstuffed>
 *
 * Envelope lines end with LF, fields are separated by one space, the
 * optional fields come in the order shown, each at most once.  <enc>:
 * bytes 0x21..0x7e stand for themselves except "+", "=", "<" and ">",
 * which, like every other byte, are written "+HH" (upper-case hex).  The
 * null sender is written "<>".  Decoded values hold no control bytes
 * (0x00..0x1f, 0x7f): they end up in sendmail's arguments on shore.
 * NOTIFY subsets are written in the order SUCCESS,FAILURE,DELAY.
 * body=7BIT is read but never written (it is the default).
 */

#include <stddef.h>
#include <sys/types.h>

#define OUTBOUND_ID_LEN		32	/* lower-case hex, 128 random bits */
#define OUTBOUND_RCPT_MAX	1000
#define OUTBOUND_ADDR_MAX	512	/* decoded bytes of an address */
#define OUTBOUND_ENVID_MAX	100
#define OUTBOUND_ORCPT_MAX	512
#define OUTBOUND_HEADER_MAX	(1024 * 1024)	/* the whole envelope block */

enum outbound_notify {
	OUTBOUND_NOTIFY_SUCCESS = 1,
	OUTBOUND_NOTIFY_FAILURE = 2,
	OUTBOUND_NOTIFY_DELAY = 4,
	OUTBOUND_NOTIFY_NEVER = 8,
};				/* 0: not given */

enum outbound_ret {
	OUTBOUND_RET_NONE,
	OUTBOUND_RET_FULL,
	OUTBOUND_RET_HDRS,
};

struct outbound_rcpt {
	char *addr;
	unsigned int notify;		/* enum outbound_notify bits */
	char *orcpt;			/* NULL: none */
};

struct outbound_envelope {
	char *sender;			/* "" for the null sender */
	enum outbound_ret ret;
	char *envid;			/* NULL: none */
	int body_8bit, smtputf8;
	struct outbound_rcpt *rcpts;
	size_t rcpt_count;
};

/*
 * Append a recipient (copies strings).  0, or -1 with errno: ENOMEM,
 * E2BIG over OUTBOUND_RCPT_MAX, EINVAL for a value that could not be
 * stored (empty, too long, control bytes, a bad notify set).
 */
int outbound_envelope_add_rcpt(struct outbound_envelope *env,
			       const char *addr, unsigned int notify,
			       const char *orcpt);

/* Check a value the way the parser would: 1 when addr (or "" for a
   sender) can be stored, 0 when not. */
int outbound_addr_valid(const char *addr, int is_sender);

/* The envelope block, with its final empty line, malloc'ed.  NULL on
   ENOMEM or an invalid envelope (errno EINVAL). */
char *outbound_envelope_format(const struct outbound_envelope *env,
			       size_t *len_r);

/*
 * Parse the envelope block at the start of data[0..len).  Returns the
 * length of the block (the message starts there), 0 when len does not
 * yet hold a whole block but could (need more bytes), or -1 with error
 * set (malformed, or over a bound).  env is filled (free it with
 * outbound_envelope_free) only on success.
 */
ssize_t outbound_envelope_parse(const char *data, size_t len,
				struct outbound_envelope *env,
				char *error, size_t error_size);

/* Free what env holds and zero it; env itself is the caller's. */
void outbound_envelope_free(struct outbound_envelope *env);

/* A fresh random id (getrandom), OUTBOUND_ID_LEN hex chars + NUL.
   0 or -1 with errno. */
int outbound_id_new(char id[OUTBOUND_ID_LEN + 1]);

/* 1 when s[0..len) is exactly OUTBOUND_ID_LEN lower-case hex digits. */
int outbound_id_valid(const char *s, size_t len);

/* "SUCCESS,FAILURE" etc. for sendmail -N, "never", or NULL for 0 (or
   an impossible set, or buf too small). */
const char *outbound_notify_name(unsigned int notify, char *buf,
				 size_t size);

#endif
