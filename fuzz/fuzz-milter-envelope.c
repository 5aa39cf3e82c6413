/*
 * Fuzz harness for what the milter reads off an SMTP session
 * (milter/policy.h, milter/message.h): envelope addresses with their
 * ESMTP arguments, and headers.
 *
 * A fixed policy (the first input byte picks the shore or the ship
 * role) sees a session written as lines: "M<addr> <args>" for MAIL
 * FROM, "R<addr>" for RCPT TO, "H<name>:<value>" for a header ("\n"
 * inside a value written as "\\n"), "B<n>" for n body bytes, "E" for
 * the end of the message.  Nothing may crash, and:
 *   - every address policy_address() gives is lower case;
 *   - the size only grows with headers and body;
 *   - on shore, the recipients marked over their limit are the limited
 *     ones the size passes; on the ship, a verdict other than pass
 *     means a recipient leaves the ship and the size passes the limit;
 *   - when a notice may be sent, it is composed as the milter would
 *     (with the kept From, Subject and Date) and has its ten header
 *     fields.
 */
#include "common/config.h"
#include "milter/message.h"
#include "milter/notice.h"
#include "milter/policy.h"
#include "milter/str.h"
#include "fuzz-input.h"

#include <ctype.h>

static const char shore_conf[] =
	"milter_role = shore\n"
	"ship_domains = ship1.example, .fleet.example\n"
	"ship_recipients = captain@shore.example\n"
	"milter_inbound_limit = 200k\n"
	"milter_inbound_limits = big@ship1.example 2M, small.fleet.example 0\n"
	"milter_notice_from = Ship mail <postmaster@shore.example>\n";
static const char ship_conf[] =
	"milter_role = ship\n"
	"ship_domains = ship1.example\n"
	"milter_outbound_limit = 100k\n"
	"milter_outbound_limits = master@ship1.example 1M\n"
	"milter_outbound_action = hold\n"
	"milter_notice_from = postmaster\n";

static struct policy policies[2];

static void
load_policy(struct policy *p, const char *text)
{
	char error[CONFIG_ERROR_MAX];
	struct config *cfg = config_parse(text, strlen(text), "fuzz.conf",
					  error, sizeof(error));

	FUZZ_CHECK(cfg != NULL);
	if (policy_load(p, cfg, "fuzz.conf", error, sizeof(error)) < 0) {
		fprintf(stderr, "fuzz-milter-envelope: %s\n", error);
		abort();
	}
	config_free(&cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	load_policy(&policies[0], shore_conf);
	load_policy(&policies[1], ship_conf);
	return 0;
}

/* Addresses are compared without case: they are kept in lower case. */
static void
check_address(const char *addr)
{
	for (const char *p = addr; *p != '\0'; p++)
		FUZZ_CHECK(tolower((unsigned char)*p) == (unsigned char)*p);
}

/* Split "addr arg arg" on blanks into a NULL-terminated argv. */
static char **
split_args(char *s)
{
	size_t n = 0;
	char **argv = xmalloc((strlen(s) + 2) * sizeof(char *));
	char *tok;

	argv[n++] = s;
	tok = strchr(s, ' ');
	while (tok != NULL) {
		*tok++ = '\0';
		argv[n++] = tok;
		tok = strchr(tok, ' ');
	}
	argv[n] = NULL;
	return argv;
}

/* Undo the "\\n" escape of header values. */
static void
unescape_newlines(char *s)
{
	char *w = s;

	for (char *r = s; *r != '\0'; r++) {
		if (r[0] == '\\' && r[1] == 'n') {
			*w++ = '\n';
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void
end_of_message(struct message *msg, const struct policy *policy)
{
	uint64_t size = message_size(msg), limit;
	const char *reason = NULL;
	struct notice_info info;
	struct str text = STR_INIT;
	const char *rcpts[4];
	size_t nrcpt = 0;

	if (policy->role == ROLE_SHORE) {
		size_t over = message_decide_shore(msg), n = 0;

		for (size_t i = 0; i < msg->rcpt_count; i++) {
			const struct message_rcpt *r = &msg->rcpts[i];

			FUZZ_CHECK(r->over == (r->limit > 0 &&
					       size > r->limit));
			FUZZ_CHECK(r->limit == 0 || r->ship);
			n += r->over != 0;
		}
		FUZZ_CHECK(n == over);
		if (over == 0)
			return;
	} else {
		enum ship_verdict v = message_decide_ship(msg, policy, &limit);
		int leaves = 0;

		for (size_t i = 0; i < msg->rcpt_count; i++) {
			leaves |= !msg->rcpts[i].ship;
			if (!msg->rcpts[i].ship && nrcpt < 4)
				rcpts[nrcpt++] = msg->rcpts[i].addr;
		}
		if (v != SHIP_PASS)
			FUZZ_CHECK(leaves && limit > 0 && size > limit);
		if (v != SHIP_HOLD)
			return;
	}
	if (!message_may_notify(msg, policy, &reason)) {
		FUZZ_CHECK(reason != NULL);
		return;
	}

	memset(&info, 0, sizeof(info));
	info.notice_from = policy->notice_from;
	info.to = policy->role == ROLE_SHORE && msg->rcpt_count > 0 ?
		msg->rcpts[0].addr : msg->sender;
	info.now = 1796126400;
	info.hostname = "shore.example";
	info.from = msg->from;
	info.subject = msg->subject;
	info.date = msg->date;
	info.size = size;
	info.limit = 1;
	info.handle = "abcdefghij234567abcd";
	info.request_folder = policy->request_folder;
	info.link_bps = policy->link_bps;
	info.queue_id = msg->queue_id;
	info.rcpts = rcpts;
	info.rcpt_count = nrcpt;
	if (policy->role == ROLE_SHORE)
		notice_inbound(&text, &info);
	else
		notice_outbound(&text, &info);
	{
		const char *end = strstr(str_c(&text), "\n\n");
		size_t fields = 0;

		FUZZ_CHECK(end != NULL);
		for (const char *p = str_c(&text); p <= end; p++)
			fields += (p == str_c(&text) || p[-1] == '\n') &&
				*p != ' ';
		FUZZ_CHECK(fields == 10);
	}
	str_free(&text);
}

static void
session_line(struct message *msg, const struct policy *policy, char *line)
{
	uint64_t before = message_size(msg), limit = 0;
	char **argv, *colon;

	switch (line[0]) {
	case 'M':
		message_reset(msg);
		message_set_queue_id(msg, "4Xyz1");
		argv = split_args(line + 1);
		message_set_sender(msg, argv);
		check_address(msg->sender);
		free(argv);
		break;
	case 'R':
		if (message_add_rcpt(msg, policy, line + 1, &limit) ==
		    EARLY_REJECT)
			FUZZ_CHECK(policy->role == ROLE_SHIP && limit > 0 &&
				   msg->declared > limit);
		for (size_t i = 0; i < msg->rcpt_count; i++)
			check_address(msg->rcpts[i].addr);
		break;
	case 'H':
		colon = strchr(line + 1, ':');
		if (colon == NULL)
			break;
		*colon = '\0';
		unescape_newlines(colon + 1);
		message_header(msg, line + 1, colon + 1, colon[1] == ' ');
		FUZZ_CHECK(message_size(msg) > before);
		break;
	case 'B':
		message_end_of_header(msg);
		message_body(msg, (size_t)strtoul(line + 1, NULL, 10) % 10000000);
		FUZZ_CHECK(message_size(msg) > before);
		break;
	case 'E':
		end_of_message(msg, policy);
		message_reset(msg);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	const struct policy *policy = &policies[fuzz_u8(&in) & 1];
	char *text = fuzz_dup(in.data, in.size), *line = text;
	struct message msg;

	message_init(&msg);
	while (line != NULL) {
		char *nl = strchr(line, '\n');

		if (nl != NULL)
			*nl++ = '\0';
		session_line(&msg, policy, line);
		line = nl;
	}
	end_of_message(&msg, policy);
	message_reset(&msg);
	free(msg.sender);
	free(text);
	return 0;
}
