#ifndef SHIPMAIL_MESSAGE_H
#define SHIPMAIL_MESSAGE_H

/*
 * One message as the milter sees it: envelope, the few headers a notice
 * needs, the byte count, and the size decisions.
 *
 * The count is what the message weighs on the wire: every header as
 * "Name:" + value + CRLF (a folded value's inner line ends count as
 * CRLF), the empty line ending the header, and the body bytes exactly as
 * the MTA hands them over (Postfix sends CRLF line ends).  It excludes
 * the SMTP dot-stuffing and the final ".", and the Received: header that
 * Postfix adds after the milter has seen the message.
 *
 * Nothing here calls libmilter: shipmail-milter.c feeds the callbacks'
 * arguments in, and the unit tests do the same with plain strings.
 */

#include <stdint.h>
#include <stddef.h>

struct policy;

/* The first header of each of these kinds is kept (cut to this size). */
#define MESSAGE_HEADER_KEEP	4096

struct message_rcpt {
	char *addr;		/* lower case, no brackets */
	uint64_t limit;		/* shore: 0 for no limit */
	int ship;		/* mailbox on the ship */
	int over;		/* set by message_decide_shore() */
};

struct message {
	char queue_id[64];	/* "NOQUEUE" until the MTA names it */
	char *sender;		/* lower case; "" for the null sender */
	uint64_t declared;	/* MAIL FROM SIZE=, 0 when absent */

	struct message_rcpt *rcpts;
	size_t rcpt_count, rcpt_alloc;

	uint64_t header_bytes, body_bytes;
	char *from, *subject, *date, *message_id;
	int auto_submitted;	/* an Auto-Submitted header, not "no" */
	unsigned int handle_headers;	/* X-Shipmail-Handle it came with */
};

enum early_verdict { EARLY_CONTINUE, EARLY_REJECT };

enum ship_verdict { SHIP_PASS, SHIP_REJECT, SHIP_HOLD };

void message_init(struct message *msg);
/* Forget everything (a new MAIL FROM, an abort, the end of a session). */
void message_reset(struct message *msg);

void message_set_queue_id(struct message *msg, const char *id);

/* MAIL FROM with its ESMTP arguments (argv[0] is the address). */
void message_set_sender(struct message *msg, char *const argv[]);

/*
 * RCPT TO.  On the ship, when SIZE= already exceeds the sender's limit,
 * a recipient off the ship is refused here (EARLY_REJECT, *limit_r set)
 * and not recorded; mail between crew members on board is not limited.
 */
enum early_verdict message_add_rcpt(struct message *msg,
				    const struct policy *policy,
				    const char *arg, uint64_t *limit_r);

/* One header; leading_space says whether value still has the blanks
   after the colon (the milter asked for them). */
void message_header(struct message *msg, const char *name, const char *value,
		    int leading_space);
void message_end_of_header(struct message *msg);
void message_body(struct message *msg, size_t len);

uint64_t message_size(const struct message *msg);

/* Shore: mark the recipients over their limit; returns how many. */
size_t message_decide_shore(struct message *msg);

/* Ship: the verdict for the counted size; *limit_r gets the limit. */
enum ship_verdict message_decide_ship(const struct message *msg,
				      const struct policy *policy,
				      uint64_t *limit_r);

/*
 * Whether a notice about this message may be sent: not for mail that is
 * itself automatic (Auto-Submitted other than "no"), nor for mail from
 * the notice sender; reason_r says why not.
 */
int message_may_notify(const struct message *msg, const struct policy *policy,
		       const char **reason_r);

#endif
