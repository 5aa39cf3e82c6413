/*
 * Per-message state, byte count and size decisions: see message.h.
 *
 * Not done here: the notice text (notice.c), running the notice command
 * (spawn.c), and anything that talks to the MTA (shipmail-milter.c).
 */
#include "message.h"
#include "policy.h"
#include "str.h"
#include "common/handle.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
message_init(struct message *msg)
{
	memset(msg, 0, sizeof(*msg));
	strcpy(msg->queue_id, "NOQUEUE");
	msg->sender = xstrdup("");
}

void
message_reset(struct message *msg)
{
	for (size_t i = 0; i < msg->rcpt_count; i++)
		free(msg->rcpts[i].addr);
	free(msg->rcpts);
	free(msg->sender);
	free(msg->from);
	free(msg->subject);
	free(msg->date);
	free(msg->message_id);
	message_init(msg);
}

void
message_set_queue_id(struct message *msg, const char *id)
{
	if (id == NULL || *id == '\0')
		return;
	snprintf(msg->queue_id, sizeof(msg->queue_id), "%s", id);
}

/* The value of a "SIZE=n" ESMTP argument; 0 when absent or malformed. */
static uint64_t
declared_size(char *const argv[])
{
	for (size_t i = 1; argv[i] != NULL; i++) {
		const char *p = argv[i];
		uint64_t n = 0;

		if (strncasecmp(p, "SIZE=", 5) != 0)
			continue;
		for (p += 5; isdigit((unsigned char)*p); p++) {
			if (n > UINT64_MAX / 10 - 10)
				return 0;
			n = n * 10 + (uint64_t)(*p - '0');
		}
		return *p == '\0' ? n : 0;
	}
	return 0;
}

void
message_set_sender(struct message *msg, char *const argv[])
{
	free(msg->sender);
	msg->sender = policy_address(argv[0] != NULL ? argv[0] : "");
	msg->declared = argv[0] != NULL ? declared_size(argv) : 0;
}

static void
add_rcpt(struct message *msg, char *addr, uint64_t limit, int ship)
{
	struct message_rcpt *r;

	if (msg->rcpt_count == msg->rcpt_alloc) {
		msg->rcpt_alloc = msg->rcpt_alloc == 0 ? 8 :
			msg->rcpt_alloc * 2;
		msg->rcpts = xrealloc(msg->rcpts,
				      msg->rcpt_alloc * sizeof(*r));
	}
	r = &msg->rcpts[msg->rcpt_count++];
	r->addr = addr;
	r->limit = limit;
	r->ship = ship;
	r->over = 0;
}

enum early_verdict
message_add_rcpt(struct message *msg, const struct policy *policy,
		 const char *arg, uint64_t *limit_r)
{
	char *addr = policy_address(arg);
	int ship = policy_is_ship_address(policy, addr);
	uint64_t limit;

	if (policy->role == ROLE_SHORE) {
		add_rcpt(msg, addr, policy_inbound_limit(policy, addr), ship);
		return EARLY_CONTINUE;
	}

	/* Ship: SIZE= lets an off-ship recipient be refused before DATA,
	   when the policy is to reject rather than hold. */
	limit = policy_outbound_limit(policy, msg->sender);
	if (!ship && policy->outbound_action == OUTBOUND_REJECT &&
	    limit > 0 && msg->declared > limit) {
		*limit_r = limit;
		free(addr);
		return EARLY_REJECT;
	}
	add_rcpt(msg, addr, 0, ship);
	return EARLY_CONTINUE;
}

/* Keep the first header of a kind, cut to a sane length. */
static void
keep_header(char **slot, const char *value)
{
	size_t len = strlen(value);

	if (*slot != NULL)
		return;
	if (len > MESSAGE_HEADER_KEEP)
		len = MESSAGE_HEADER_KEEP;
	*slot = xstrndup(value, len);
}

/* Bytes of a header value on the wire: lone LFs become CRLF. */
static uint64_t
wire_length(const char *value)
{
	uint64_t n = 0;

	for (const char *p = value; *p != '\0'; p++) {
		n++;
		if (*p == '\n' && (p == value || p[-1] != '\r'))
			n++;
	}
	return n;
}

/* "no", possibly followed by a comment or parameters, means not auto. */
static int
auto_submitted_value(const char *value)
{
	while (isspace((unsigned char)*value))
		value++;
	if (strncasecmp(value, "no", 2) == 0 &&
	    (value[2] == '\0' || value[2] == ';' || value[2] == '(' ||
	     isspace((unsigned char)value[2])))
		return 0;
	return 1;
}

void
message_header(struct message *msg, const char *name, const char *value,
	       int leading_space)
{
	/* "Name:" + value + CRLF; without the leading blank the MTA
	   removed one space after the colon. */
	msg->header_bytes += strlen(name) + 1 + wire_length(value) + 2;
	if (!leading_space)
		msg->header_bytes++;

	if (strcasecmp(name, "From") == 0)
		keep_header(&msg->from, value);
	else if (strcasecmp(name, "Subject") == 0)
		keep_header(&msg->subject, value);
	else if (strcasecmp(name, "Date") == 0)
		keep_header(&msg->date, value);
	else if (strcasecmp(name, "Message-ID") == 0)
		keep_header(&msg->message_id, value);
	else if (strcasecmp(name, "Auto-Submitted") == 0)
		msg->auto_submitted |= auto_submitted_value(value);
	else if (strcasecmp(name, SHIPMAIL_HANDLE_HEADER) == 0)
		msg->handle_headers++;
}

void
message_end_of_header(struct message *msg)
{
	msg->header_bytes += 2;
}

void
message_body(struct message *msg, size_t len)
{
	msg->body_bytes += len;
}

uint64_t
message_size(const struct message *msg)
{
	return msg->header_bytes + msg->body_bytes;
}

size_t
message_decide_shore(struct message *msg)
{
	uint64_t size = message_size(msg);
	size_t over = 0;

	for (size_t i = 0; i < msg->rcpt_count; i++) {
		struct message_rcpt *r = &msg->rcpts[i];

		r->over = r->limit > 0 && size > r->limit;
		if (r->over)
			over++;
	}
	return over;
}

enum ship_verdict
message_decide_ship(const struct message *msg, const struct policy *policy,
		    uint64_t *limit_r)
{
	int leaves_ship = 0;

	for (size_t i = 0; i < msg->rcpt_count && !leaves_ship; i++)
		leaves_ship = !msg->rcpts[i].ship;

	*limit_r = policy_outbound_limit(policy, msg->sender);
	if (!leaves_ship || *limit_r == 0 || message_size(msg) <= *limit_r)
		return SHIP_PASS;
	return policy->outbound_action == OUTBOUND_HOLD ? SHIP_HOLD :
		SHIP_REJECT;
}

/* The address in a From header: inside the last <>, or the whole. */
static char *
header_address(const char *value)
{
	const char *lt = strrchr(value, '<');
	const char *gt = lt != NULL ? strchr(lt, '>') : NULL;
	char *inner, *addr;

	if (lt == NULL || gt == NULL)
		return policy_address(value);
	inner = xstrndup(lt + 1, gt - lt - 1);
	addr = policy_address(inner);
	free(inner);
	return addr;
}

/* Whether addr is me; an unqualified me ("postmaster") matches any
   domain, as the MTA qualifies it when the notice is sent. */
static int
same_address(const char *addr, const char *me)
{
	size_t len = strlen(me);

	if (len == 0)
		return 0;
	if (strcmp(addr, me) == 0)
		return 1;
	return strchr(me, '@') == NULL && strncmp(addr, me, len) == 0 &&
		addr[len] == '@';
}

int
message_may_notify(const struct message *msg, const struct policy *policy,
		   const char **reason_r)
{
	const char *me = policy->notice_from_addr;
	char *from;
	int same;

	if (msg->auto_submitted) {
		*reason_r = "auto-submitted";
		return 0;
	}
	if (same_address(msg->sender, me)) {
		*reason_r = "notice-sender";
		return 0;
	}
	if (msg->from == NULL)
		return 1;
	from = header_address(msg->from);
	same = same_address(from, me);
	free(from);
	if (same) {
		*reason_r = "notice-sender";
		return 0;
	}
	return 1;
}
