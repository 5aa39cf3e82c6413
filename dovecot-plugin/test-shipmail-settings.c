/*
 * Unit tests of the plugin's settings and header text helpers: what an
 * admin can write in plugin { } and what a header can hold.
 */
#include "lib.h"
#include "common/test-common.h"
#include "shipmail-settings.h"
#include "shipmail-text.h"

/* Settings given as a NULL-terminated list of name, value pairs. */
static const char *test_getenv(const char *name, void *context)
{
	const char *const *pairs = context;

	for (; pairs[0] != NULL; pairs += 2) {
		if (strcmp(pairs[0], name) == 0)
			return pairs[1];
	}
	return NULL;
}

static int test_read(const char *const *pairs, struct shipmail_settings **set_r,
		     const char **error_r)
{
	return shipmail_settings_read(pool_datastack_create(), test_getenv,
				      (void *)pairs, set_r, error_r);
}

static void test_settings_defaults(void)
{
	const char *pairs[] = { "shipmail_dict", "proxy::shipmail", NULL };
	struct shipmail_settings *set;
	const char *error;

	test_begin("settings: only shipmail_dict set gives INBOX, $Shipped, no size limit");
	T_BEGIN {
		test_assert(test_read(pairs, &set, &error) == 0);
		test_assert_str(set->dict_uri, "proxy::shipmail");
		test_assert_str(set->keyword, "$Shipped");
		test_assert_u64(set->max_size, 0);
		test_assert_str(set->mailboxes[0], "INBOX");
		test_assert(set->mailboxes[1] == NULL);
	} T_END;
	test_end();
}

static void test_settings_values(void)
{
	const char *pairs[] = {
		"shipmail_dict", "file:/tmp/x",
		"shipmail_mailboxes", "inbox, Ship  Outbound",
		"shipmail_max_size", "50k",
		"shipmail_keyword", "$Sent2Ship",
		NULL
	};
	struct shipmail_settings *set;
	const char *error;

	test_begin("settings: list, size with unit and keyword are read");
	T_BEGIN {
		test_assert(test_read(pairs, &set, &error) == 0);
		test_assert_u64(set->max_size, 50 * 1024);
		test_assert_str(set->keyword, "$Sent2Ship");
		test_assert_str(set->mailboxes[0], "INBOX");
		test_assert_str(set->mailboxes[1], "Ship");
		test_assert_str(set->mailboxes[2], "Outbound");
		test_assert(set->mailboxes[3] == NULL);
		test_assert(shipmail_settings_mailbox_wanted(set, "Inbox"));
		test_assert(shipmail_settings_mailbox_wanted(set, "Ship"));
		test_assert(!shipmail_settings_mailbox_wanted(set, "ship"));
		test_assert(!shipmail_settings_mailbox_wanted(set, "Trash"));
	} T_END;
	test_end();
}

static void test_settings_request_defaults(void)
{
	const char *pairs[] = { "shipmail_dict", "proxy::shipmail", NULL };
	struct shipmail_settings *set;
	const char *error;

	test_begin("settings: requests default to Request, $Request, 5 a day");
	T_BEGIN {
		test_assert(test_read(pairs, &set, &error) == 0);
		test_assert_str(set->request_mailbox, "Request");
		test_assert_str(set->request_keyword, "$Request");
		test_assert_u64(set->request_daily_limit, 5);
	} T_END;
	test_end();
}

static void test_settings_request_values(void)
{
	const char *pairs[] = {
		"shipmail_dict", "proxy::shipmail",
		"shipmail_request_mailbox", "Held/Ask",
		"shipmail_request_keyword", "$AskShore",
		"shipmail_request_daily_limit", "0",
		NULL
	};
	struct shipmail_settings *set;
	const char *error;

	test_begin("settings: request folder, keyword and limit 0 are read");
	T_BEGIN {
		test_assert(test_read(pairs, &set, &error) == 0);
		test_assert_str(set->request_mailbox, "Held/Ask");
		test_assert_str(set->request_keyword, "$AskShore");
		test_assert_u64(set->request_daily_limit, 0);
	} T_END;
	test_end();
}

static void test_settings_errors(void)
{
	static const struct {
		const char *name, *value, *error_start;
	} cases[] = {
		{ "shipmail_dict", "", "shipmail_dict: not set" },
		{ "shipmail_max_size", "2 megabytes", "shipmail_max_size: not a size" },
		{ "shipmail_max_size", "-5", "shipmail_max_size: not a size" },
		{ "shipmail_keyword", "\\Seen", "shipmail_keyword: not a valid" },
		{ "shipmail_keyword", "two words", "shipmail_keyword: not a valid" },
		{ "shipmail_mailboxes", " , ", "shipmail_mailboxes: empty" },
		{ "shipmail_request_keyword", "two words",
		  "shipmail_request_keyword: not a valid" },
		{ "shipmail_request_keyword", "$shipped",
		  "shipmail_request_keyword: '$shipped' is also" },
		{ "shipmail_request_daily_limit", "-1",
		  "shipmail_request_daily_limit: not a number" },
		{ "shipmail_request_daily_limit", "5 per day",
		  "shipmail_request_daily_limit: not a number" },
	};

	test_begin("settings: each bad value is an error naming the setting");
	for (unsigned int i = 0; i < N_ELEMENTS(cases); i++) T_BEGIN {
		const char *pairs[] = {
			cases[i].name, cases[i].value,
			"shipmail_dict", "proxy::shipmail", NULL
		};
		struct shipmail_settings *set;
		const char *error = "";

		test_assert(test_read(pairs, &set, &error) < 0);
		test_assert(str_begins(error, cases[i].error_start));
	} T_END;
	test_end();
}

static void test_text_one_line(void)
{
	test_begin("text: folded header values become one trimmed line");
	T_BEGIN {
		test_assert_str(shipmail_text_one_line("plain"), "plain");
		test_assert_str(shipmail_text_one_line("  a\r\n\tb  c \n"), "a b c");
		test_assert_str(shipmail_text_one_line(""), "");
		test_assert_str(shipmail_text_one_line(" \t "), "");
		test_assert_str(shipmail_text_one_line("Grüße\n aus"), "Grüße aus");
	} T_END;
	test_end();
}

static void test_text_handle(void)
{
	test_begin("text: a handle header is trimmed, lower-cased and checked");
	T_BEGIN {
		test_assert_str(shipmail_text_handle(" ABCDEFGHIJKLMNOPQRST \r\n"),
				"abcdefghijklmnopqrst");
		test_assert(shipmail_text_handle("abcdefghijklmnopqrs") == NULL);
		test_assert(shipmail_text_handle("abcdefghijklmnopqrs1") == NULL);
		test_assert(shipmail_text_handle("abcdefghij klmnopqrst") == NULL);
		test_assert(shipmail_text_handle("") == NULL);
	} T_END;
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_settings_defaults,
		test_settings_values,
		test_settings_request_defaults,
		test_settings_request_values,
		test_settings_errors,
		test_text_one_line,
		test_text_handle,
		NULL
	};
	int ret;

	lib_init();
	ret = test_run(tests);
	lib_deinit();
	return ret;
}
