/* Unit tests of the milter's policy: configuration, limit lookups, the
   byte count and the per-recipient and per-sender size decisions. */
#include "policy.h"
#include "message.h"
#include "str.h"
#include "common/config.h"
#include "common/test-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
load(struct policy *p, const char *text, char *error)
{
	struct config *cfg = config_parse(text, strlen(text), "t.conf", error,
					  CONFIG_ERROR_MAX);
	int rc;

	if (cfg == NULL)
		return -1;
	rc = policy_load(p, cfg, "t.conf", error, CONFIG_ERROR_MAX);
	config_free(&cfg);
	return rc;
}

static const char shore_conf[] =
	"milter_role = shore\n"
	"ship_domains = ship1.example, .fleet.example\n"
	"ship_recipients = captain@shore.example\n"
	"milter_inbound_limit = 100k\n"
	"milter_inbound_limits = ship1.example 50k,\n"
	"    Chief@Ship1.example 2M, captain@shore.example 0\n";

static const char ship_conf[] =
	"milter_role = ship\n"
	"ship_domains = ship1.example\n"
	"milter_outbound_limit = 100k\n"
	"milter_outbound_limits = captain@ship1.example 1M\n"
	"milter_outbound_action = reject\n";

static void
test_policy_defaults(void)
{
	struct policy p;
	char error[CONFIG_ERROR_MAX] = "";

	test_begin("policy: defaults for unset names");
	test_assert(load(&p, "milter_role = ship\n", error) == 0);
	test_assert(p.role == ROLE_SHIP);
	test_assert_str(p.socket, MILTER_SOCKET_DEFAULT);
	test_assert_u64(p.outbound_limit, 200 * 1024);
	test_assert(p.outbound_action == OUTBOUND_REJECT);
	test_assert(p.error_action == FAIL_TEMPFAIL);
	test_assert(p.notice_failure == FAIL_TEMPFAIL);
	test_assert_u64(p.notice_argc, 5);
	test_assert_str(p.notice_argv[0], "/usr/sbin/sendmail");
	test_assert_str(p.notice_argv[3], "<>");
	test_assert_str(p.notice_argv[4], "--");
	test_assert_str(p.notice_from_addr, "postmaster");
	test_assert_str(p.request_folder, "Request");
	test_assert_u64(p.link_bps, 2400);
	policy_free(&p);
	test_end();
}

static void
test_policy_errors_name_file_and_line(void)
{
	struct policy p;
	char error[CONFIG_ERROR_MAX] = "";

	test_begin("policy: bad values name the file, line and parameter");
	test_assert(load(&p, "ship_domains = a\n", error) < 0);
	test_assert(strstr(error, "milter_role is not set") != NULL);
	test_assert(load(&p, "milter_role = boat\nship_domains = a\n",
			 error) < 0);
	test_assert_str(error, "t.conf:1: milter_role: unknown value \"boat\"");
	test_assert(load(&p, "milter_role = shore\nship_domains = a\n"
			 "milter_inbound_limits = a 5x\n", error) < 0);
	test_assert(strncmp(error, "t.conf:3: milter_inbound_limits:", 32)
		    == 0);
	test_assert(load(&p, "milter_role = shore\nship_domains = a\n"
			 "milter_inbound_limits = a 5k b\n", error) < 0);
	test_assert(strstr(error, "no size after \"b\"") != NULL);
	test_assert(load(&p, "milter_role = shore\nship_domains = a\n"
			 "milter_inbound_limt = 5k\n", error) < 0);
	test_assert_str(error,
			"t.conf:3: unknown parameter milter_inbound_limt");
	test_assert(load(&p, "milter_role = shore\n", error) < 0);
	test_assert(strstr(error, "ship_domains") != NULL);
	test_assert(load(&p, "milter_role = ship\n"
			 "milter_notice_command = sendmail -i\n", error) < 0);
	test_assert(strstr(error, "absolute") != NULL);
	test_assert(load(&p, "milter_role = ship\n"
			 "milter_notice_from = Foo <bar\n", error) < 0);
	test_assert(load(&p, "milter_role = ship\n"
			 "milter_error_action = bounce\n", error) < 0);
	test_assert(load(&p, "milter_role = ship\n"
			 "milter_notice_timeout = 0\n", error) < 0);
	/* Names of the other parts are not the milter's business. */
	test_assert(load(&p, "milter_role = ship\nfetch_budget = 1M\n",
			 error) == 0);
	policy_free(&p);
	test_end();
}

static void
test_policy_address_forms(void)
{
	char *a;

	test_begin("policy: envelope addresses lose brackets, route, case");
	a = policy_address(" <Alice@Ship1.EXAMPLE> ");
	test_assert_str(a, "alice@ship1.example");
	free(a);
	a = policy_address("<@relay.example,@b.example:bob@ship1.example>");
	test_assert_str(a, "bob@ship1.example");
	free(a);
	a = policy_address("<>");
	test_assert_str(a, "");
	free(a);
	a = policy_address("");
	test_assert_str(a, "");
	free(a);
	test_end();
}

static void
test_policy_inbound_limits(void)
{
	struct policy p;
	char error[CONFIG_ERROR_MAX] = "";

	test_begin("policy: inbound limit by address, domain, subdomain");
	test_assert(load(&p, shore_conf, error) == 0);
	test_assert_u64(policy_inbound_limit(&p, "alice@ship1.example"),
			50 * 1024);
	test_assert_u64(policy_inbound_limit(&p, "chief@ship1.example"),
			2 * 1024 * 1024);
	test_assert_u64(policy_inbound_limit(&p, "cook@deck.fleet.example"),
			100 * 1024);
	test_assert_u64(policy_inbound_limit(&p, "captain@shore.example"), 0);
	test_assert(policy_is_ship_address(&p, "captain@shore.example"));
	test_assert(!policy_is_ship_address(&p, "office@shore.example"));
	test_assert_u64(policy_inbound_limit(&p, "office@shore.example"), 0);
	test_assert(!policy_is_ship_address(&p, "x@fleet.example.org"));
	test_assert(!policy_is_ship_address(&p, "postmaster"));
	policy_free(&p);
	test_end();
}

/* Feed a message the way the milter does. */
static void
feed(struct message *m, const struct policy *p, const char *from,
     const char *size_arg, const char *const rcpts[], size_t body)
{
	char *argv[3] = { (char *)from, (char *)size_arg, NULL };
	uint64_t limit;

	message_reset(m);
	message_set_sender(m, argv);
	for (size_t i = 0; rcpts[i] != NULL; i++)
		message_add_rcpt(m, p, rcpts[i], &limit);
	message_header(m, "From", " a@b", 1);
	message_end_of_header(m);
	message_body(m, body);
}

static void
test_message_count_matches_wire(void)
{
	struct message m;
	struct policy p;
	char error[CONFIG_ERROR_MAX] = "";
	/* On the wire: "Subject: hi\r\n X\r\nTo:a@b\r\n\r\nbody\r\n" */
	const size_t wire = 13 + 4 + 8 + 2 + 6;

	test_begin("message: count equals the bytes on the wire");
	test_assert(load(&p, shore_conf, error) == 0);
	message_init(&m);
	message_header(&m, "Subject", " hi\n X", 1);
	message_header(&m, "To", "a@b", 1);
	message_end_of_header(&m);
	message_body(&m, 6);
	test_assert_u64(message_size(&m), wire);

	/* Without leading space the MTA dropped one blank. */
	message_reset(&m);
	message_header(&m, "Subject", "hi\r\n X", 0);
	message_header(&m, "To", "a@b", 1);
	message_end_of_header(&m);
	message_body(&m, 6);
	test_assert_u64(message_size(&m), wire);
	message_reset(&m);
	free(m.sender);
	policy_free(&p);
	test_end();
}

static void
test_message_shore_per_recipient(void)
{
	static const char *const rcpts[] = {
		"<alice@ship1.example>", "<chief@ship1.example>",
		"<office@shore.example>", NULL
	};
	struct message m;
	struct policy p;
	char error[CONFIG_ERROR_MAX] = "";

	test_begin("message: shore marks only the recipients over limit");
	test_assert(load(&p, shore_conf, error) == 0);
	message_init(&m);
	feed(&m, &p, "<bob@example.org>", "SIZE=100", rcpts, 60 * 1024);
	test_assert_u64(message_decide_shore(&m), 1);
	test_assert(m.rcpts[0].over);
	test_assert(!m.rcpts[1].over);
	test_assert(!m.rcpts[2].over);
	test_assert_u64(m.declared, 100);
	test_assert_str(m.sender, "bob@example.org");

	/* Exactly at the limit is not over it. */
	feed(&m, &p, "<>", NULL, rcpts, 0);
	message_body(&m, 50 * 1024 - message_size(&m));
	test_assert_u64(message_size(&m), 50 * 1024);
	test_assert_u64(message_decide_shore(&m), 0);
	message_body(&m, 1);
	test_assert_u64(message_decide_shore(&m), 1);
	test_assert_str(m.sender, "");
	message_reset(&m);
	free(m.sender);
	policy_free(&p);
	test_end();
}

static void
test_message_many_recipients_and_reset(void)
{
	struct message m;
	struct policy p;
	char error[CONFIG_ERROR_MAX] = "", addr[64];
	uint64_t limit;
	char *argv[] = { "<bob@example.org>", NULL };

	test_begin("message: 500 recipients, then a reset for the next mail");
	test_assert(load(&p, shore_conf, error) == 0);
	message_init(&m);
	message_set_sender(&m, argv);
	for (int i = 0; i < 500; i++) {
		snprintf(addr, sizeof(addr), "<u%d@ship1.example>", i);
		test_assert(message_add_rcpt(&m, &p, addr, &limit) ==
			    EARLY_CONTINUE);
	}
	message_body(&m, 51 * 1024);
	test_assert_u64(m.rcpt_count, 500);
	test_assert_u64(message_decide_shore(&m), 500);

	message_reset(&m);
	test_assert_u64(m.rcpt_count, 0);
	test_assert_u64(message_size(&m), 0);
	test_assert(m.subject == NULL);
	test_assert_str(m.queue_id, "NOQUEUE");
	message_reset(&m);
	free(m.sender);
	policy_free(&p);
	test_end();
}

static void
test_message_ship_early_and_final(void)
{
	static const char *const out[] = { "<x@shore.example>", NULL };
	static const char *const aboard[] = { "<cook@ship1.example>", NULL };
	struct message m;
	struct policy p;
	char error[CONFIG_ERROR_MAX] = "";
	char *argv[] = { "<alice@ship1.example>", "BODY=8BITMIME",
			 "SIZE=300000", NULL };
	uint64_t limit = 0;

	test_begin("message: ship rejects at RCPT by SIZE=, at end by count");
	test_assert(load(&p, ship_conf, error) == 0);
	message_init(&m);
	message_set_sender(&m, argv);
	test_assert(message_add_rcpt(&m, &p, "<x@shore.example>", &limit) ==
		    EARLY_REJECT);
	test_assert_u64(limit, 100 * 1024);
	test_assert_u64(m.rcpt_count, 0);
	test_assert(message_add_rcpt(&m, &p, "<cook@ship1.example>",
				     &limit) == EARLY_CONTINUE);

	/* The captain may send more. */
	argv[0] = "<captain@ship1.example>";
	message_reset(&m);
	message_set_sender(&m, argv);
	test_assert(message_add_rcpt(&m, &p, "<x@shore.example>", &limit) ==
		    EARLY_CONTINUE);

	/* No SIZE= (sendmail): decided on the count. */
	feed(&m, &p, "alice@ship1.example", NULL, out, 200 * 1024);
	test_assert(message_decide_ship(&m, &p, &limit) == SHIP_REJECT);
	feed(&m, &p, "alice@ship1.example", NULL, aboard, 200 * 1024);
	test_assert(message_decide_ship(&m, &p, &limit) == SHIP_PASS);
	feed(&m, &p, "alice@ship1.example", NULL, out, 1000);
	test_assert(message_decide_ship(&m, &p, &limit) == SHIP_PASS);

	/* A lying SIZE= does not get big mail through. */
	feed(&m, &p, "alice@ship1.example", "SIZE=10", out, 200 * 1024);
	test_assert(message_decide_ship(&m, &p, &limit) == SHIP_REJECT);
	policy_free(&p);

	test_assert(load(&p, "milter_role = ship\n"
			 "ship_domains = ship1.example\n"
			 "milter_outbound_action = hold\n", error) == 0);
	feed(&m, &p, "alice@ship1.example", "SIZE=999999", out, 300 * 1024);
	test_assert(message_decide_ship(&m, &p, &limit) == SHIP_HOLD);
	message_reset(&m);
	message_set_sender(&m, argv);
	test_assert(message_add_rcpt(&m, &p, "<x@shore.example>", &limit) ==
		    EARLY_CONTINUE);
	message_reset(&m);
	free(m.sender);
	policy_free(&p);
	test_end();
}

static void
test_message_notices_never_trigger_notices(void)
{
	static const char *const rcpts[] = { "<alice@ship1.example>", NULL };
	struct message m;
	struct policy p;
	char error[CONFIG_ERROR_MAX] = "";
	const char *why = NULL;

	test_begin("message: no notice for automatic mail or our own");
	test_assert(load(&p, shore_conf, error) == 0);
	message_init(&m);
	feed(&m, &p, "<bob@example.org>", NULL, rcpts, 10);
	test_assert(message_may_notify(&m, &p, &why));

	message_header(&m, "Auto-Submitted", " no (user sent)", 1);
	test_assert(message_may_notify(&m, &p, &why));
	message_header(&m, "Auto-Submitted", " auto-replied", 1);
	test_assert(!message_may_notify(&m, &p, &why));
	test_assert_str(why, "auto-submitted");

	feed(&m, &p, "<>", NULL, rcpts, 10);
	free(m.from);
	m.from = strdup("Ship mail <Postmaster@shore.example>");
	test_assert(!message_may_notify(&m, &p, &why));
	test_assert_str(why, "notice-sender");

	feed(&m, &p, "<postmaster@shore.example>", NULL, rcpts, 10);
	test_assert(!message_may_notify(&m, &p, &why));
	message_reset(&m);
	free(m.sender);
	policy_free(&p);
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_policy_defaults,
		test_policy_errors_name_file_and_line,
		test_policy_address_forms,
		test_policy_inbound_limits,
		test_message_count_matches_wire,
		test_message_shore_per_recipient,
		test_message_many_recipients_and_reset,
		test_message_ship_early_and_final,
		test_message_notices_never_trigger_notices,
		NULL
	};

	return test_run(tests);
}
