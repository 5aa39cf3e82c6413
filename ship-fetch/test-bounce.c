/* Unit tests of the notifications for outbound mail the shore refused. */
#include "bounce.h"
#include "test-common.h"

#include <stdlib.h>
#include <string.h>

static void envelope(struct outbound_envelope *env, const char *sender)
{
	memset(env, 0, sizeof(*env));
	env->sender = strdup(sender);
}

static void test_wanted(void)
{
	struct outbound_envelope env;

	test_begin("bounce: who is told");
	envelope(&env, "alice@ship1.example");
	test_assert(outbound_envelope_add_rcpt(&env, "a@shore.example",
					       OUTBOUND_NOTIFY_NEVER,
					       NULL) == 0);
	test_assert(!bounce_wanted(&env));
	test_assert(outbound_envelope_add_rcpt(&env, "b@shore.example",
					       OUTBOUND_NOTIFY_SUCCESS |
					       OUTBOUND_NOTIFY_FAILURE,
					       NULL) == 0);
	test_assert(bounce_wanted(&env));
	outbound_envelope_free(&env);

	envelope(&env, "alice@ship1.example");
	test_assert(outbound_envelope_add_rcpt(&env, "a@shore.example", 0,
					       NULL) == 0);
	test_assert(bounce_wanted(&env));
	outbound_envelope_free(&env);

	/* A bounce is never bounced. */
	envelope(&env, "");
	test_assert(outbound_envelope_add_rcpt(&env, "a@shore.example", 0,
					       NULL) == 0);
	test_assert(!bounce_wanted(&env));
	outbound_envelope_free(&env);
	test_end();
}

static void test_header_len(void)
{
	static const char crlf[] = "From: a\r\nTo: b\r\n\r\nbody\r\n";
	static const char lf[] = "From: a\nTo: b\n\nbody\n";
	static const char nobody[] = "From: a\nTo: b\n";
	static const char cut[] = "From: a\nTo: b";

	test_begin("bounce: the original's header");
	test_assert_u64(bounce_header_len(crlf, sizeof(crlf) - 1), 16);
	test_assert_u64(bounce_header_len(lf, sizeof(lf) - 1), 14);
	test_assert_u64(bounce_header_len(nobody, sizeof(nobody) - 1), 14);
	test_assert_u64(bounce_header_len(cut, sizeof(cut) - 1), 8);
	test_end();
}

static void test_compose(void)
{
	static const char header[] = "From: Alice <alice@ship1.example>\r\n"
		"Subject: big\r\n";
	struct outbound_envelope env;
	struct bounce_info info;
	char *text;
	size_t len;

	test_begin("bounce: the notification");
	envelope(&env, "alice@ship1.example");
	env.envid = strdup("QQ314159");
	test_assert(outbound_envelope_add_rcpt(&env, "dave@shore.example", 0,
					       "rfc822;dave@shore.example") == 0);
	test_assert(outbound_envelope_add_rcpt(&env, "erin@shore.example", 0,
					       NULL) == 0);
	memset(&info, 0, sizeof(info));
	info.env = &env;
	info.id = "0123456789abcdef0123456789abcdef";
	info.header = header;
	info.header_len = sizeof(header) - 1;
	info.reason = "554 message of 70000 bytes\r\nBcc: x@y";
	info.hostname = "ship1";
	info.kept_in = "/var/spool/shipmail/outbound/failed/0123";
	info.arrival = 0;
	info.now = 86400;
	text = bounce_compose(&info, &len);
	test_assert(text != NULL && strlen(text) == len);
	test_assert(strstr(text, "\nTo: <alice@ship1.example>\n") != NULL);
	test_assert(strstr(text, "\nDate: Fri, 02 Jan 1970 00:00:00 +0000\n")
		    != NULL);
	test_assert(strstr(text, "report-type=delivery-status") != NULL);
	test_assert(strstr(text, "\nAuto-Submitted: auto-replied\n") != NULL);
	/* The shore's text stays on its line. */
	test_assert(strstr(text, "554 message of 70000 bytes??Bcc: x@y") !=
		    NULL);
	test_assert(strstr(text, "\nBcc:") == NULL);
	test_assert(strstr(text, "\nOriginal-Envelope-Id: QQ314159\n") !=
		    NULL);
	test_assert(strstr(text, "\nFinal-Recipient: rfc822; "
			   "dave@shore.example\nOriginal-Recipient: "
			   "rfc822;dave@shore.example\nAction: failed\n"
			   "Status: 5.0.0\n") != NULL);
	test_assert(strstr(text, "\nFinal-Recipient: rfc822; "
			   "erin@shore.example\nAction: failed\n") != NULL);
	/* The header quoted with LF line ends, then the closing line. */
	test_assert(strstr(text, "\n\nFrom: Alice <alice@ship1.example>\n"
			   "Subject: big\n\n--0123456789abcdef0123456789"
			   "abcdef/ship1--\n") != NULL);
	test_assert(strchr(text, '\r') == NULL);
	test_assert(strstr(text, info.kept_in) != NULL);
	free(text);
	outbound_envelope_free(&env);
	test_end();
}

static void test_full(void)
{
	static const char msg[] = "From: Alice <alice@ship1.example>\r\n"
		"Subject: photos\r\n\r\nThe body, caf\xc3\xa9 and all.\r\n";
	static const char hostile[] = "Subject: x\n\n"
		"--0123456789abcdef0123456789abcdef/ship1--\nafter\n";
	struct outbound_envelope env;
	struct bounce_info info;
	char *text;
	size_t len;

	test_begin("bounce: RET=FULL returns a small message whole");
	envelope(&env, "alice@ship1.example");
	test_assert(outbound_envelope_add_rcpt(&env, "dave@shore.example", 0,
					       NULL) == 0);
	test_assert(!bounce_wants_full(&env, 100));
	env.ret = OUTBOUND_RET_HDRS;
	test_assert(!bounce_wants_full(&env, 100));
	env.ret = OUTBOUND_RET_FULL;
	test_assert(bounce_wants_full(&env, BOUNCE_FULL_MAX));
	test_assert(!bounce_wants_full(&env, BOUNCE_FULL_MAX + 1));

	memset(&info, 0, sizeof(info));
	info.env = &env;
	info.id = "0123456789abcdef0123456789abcdef";
	info.header = msg;
	info.header_len = bounce_header_len(msg, sizeof(msg) - 1);
	info.message = msg;
	info.message_len = sizeof(msg) - 1;
	info.reason = "554 no";
	info.hostname = "ship1";
	info.kept_in = "/k";
	text = bounce_compose(&info, &len);
	test_assert(text != NULL);
	test_assert(strstr(text, "\nIt follows.") != NULL);
	test_assert(strstr(text, "\nContent-Type: message/rfc822\n"
			   "Content-Description: Undelivered Message\n"
			   "Content-Transfer-Encoding: 8bit\n\n"
			   "From: Alice") != NULL);
	test_assert(strstr(text, "\n\nThe body, caf\xc3\xa9 and all.\n\n--"
			   "0123456789abcdef0123456789abcdef/ship1--\n")
		    != NULL);
	test_assert(strstr(text, "text/rfc822-headers") == NULL);
	free(text);

	/* A body with the boundary in it would end the part early: its
	   header alone goes back. */
	info.header = hostile;
	info.header_len = bounce_header_len(hostile, sizeof(hostile) - 1);
	info.message = hostile;
	info.message_len = sizeof(hostile) - 1;
	text = bounce_compose(&info, &len);
	test_assert(text != NULL);
	test_assert(strstr(text, "text/rfc822-headers") != NULL);
	test_assert(strstr(text, "message/rfc822") == NULL);
	test_assert(strstr(text, "\nafter\n") == NULL);
	free(text);
	outbound_envelope_free(&env);
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_wanted,
		test_header_len,
		test_compose,
		test_full,
		NULL
	};

	return test_run(tests);
}
