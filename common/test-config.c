/* Unit tests of the configuration file parser and value syntax. */
#include "config.h"
#include "test-common.h"

#include <string.h>

static struct config *
parse(const char *text, char *error)
{
	return config_parse(text, strlen(text), "test.conf", error,
			    CONFIG_ERROR_MAX);
}

static void
test_config_basic_lines(void)
{
	char error[CONFIG_ERROR_MAX] = "";
	struct config *cfg = parse(
		"# a comment\n"
		"\n"
		"role = shore\n"
		"  # indented comment\n"
		"ship_domains=ship1.example,\tship2.example\n"
		"empty =\n"
		"last_no_newline = yes", error);

	test_begin("config: names, values, comments, blank lines");
	test_assert(cfg != NULL);
	test_assert_str(config_get(cfg, "role", NULL), "shore");
	test_assert_str(config_get(cfg, "ship_domains", NULL),
			"ship1.example,\tship2.example");
	test_assert_str(config_get(cfg, "empty", NULL), "");
	test_assert_str(config_get(cfg, "last_no_newline", NULL), "yes");
	test_assert_str(config_get(cfg, "missing", "dflt"), "dflt");
	test_assert_str(config_origin(cfg, "role"), "test.conf:3");
	config_free(&cfg);
	test_assert(cfg == NULL);
	test_end();
}

static void
test_config_continuation_and_override(void)
{
	char error[CONFIG_ERROR_MAX] = "";
	struct config *cfg = parse(
		"limits = a 1\n"
		"    b 2\n"
		"\tc 3\r\n"
		"role = ship\n"
		"role = shore\n", error);
	size_t iter = 0, n = 0;
	const char *name, *value;

	test_begin("config: continuation lines join, last value wins");
	test_assert(cfg != NULL);
	test_assert_str(config_get(cfg, "limits", NULL), "a 1     b 2 \tc 3");
	test_assert_str(config_get(cfg, "role", NULL), "shore");
	test_assert_str(config_origin(cfg, "role"), "test.conf:5");
	while (config_next(cfg, &iter, &name, &value))
		n++;
	test_assert_u64(n, 2);
	config_free(&cfg);
	test_end();
}

static void
test_config_syntax_errors(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "= value\n", "test.conf:1: expected a parameter name" },
		{ "ok = 1\nname value\n",
		  "test.conf:2: missing '=' after \"name\"" },
		{ "  continued\n", "test.conf:1: continuation line without "
		  "a parameter before it" },
		{ "na/me = 1\n", "test.conf:1: missing '=' after \"na\"" },
	};
	char error[CONFIG_ERROR_MAX];

	test_begin("config: syntax errors name the file and line");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg;

		error[0] = '\0';
		cfg = parse(cases[i].text, error);
		test_assert(cfg == NULL);
		test_assert_str(error, cases[i].want);
	}
	test_end();
}

static void
test_config_nul_byte(void)
{
	char error[CONFIG_ERROR_MAX] = "";
	static const char text[] = "a = 1\nb = x\0y\n";
	struct config *cfg = config_parse(text, sizeof(text) - 1, "t", error,
					  sizeof(error));

	test_begin("config: a NUL byte is an error");
	test_assert(cfg == NULL);
	test_assert_str(error, "t:2: NUL byte in line");
	test_end();
}

static void
test_size_parse(void)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t want;
	} cases[] = {
		{ "0", 0, 0 }, { "1500", 0, 1500 }, { "50k", 0, 51200 },
		{ "200K", 0, 204800 }, { "2M", 0, 2097152 },
		{ "2MB", 0, 2097152 }, { "1G", 0, 1073741824 },
		{ "", -1, 0 }, { "k", -1, 0 }, { "-1", -1, 0 },
		{ "1.5M", -1, 0 }, { "10 k", -1, 0 }, { "3T", -1, 0 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 },
		{ "18014398509481984k", -1, 0 },
	};

	test_begin("size_parse: units and overflow");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int ret = size_parse(cases[i].in, &v);

		test_assert(ret == cases[i].ret);
		if (ret == 0)
			test_assert_u64(v, cases[i].want);
	}
	test_end();
}

static void
test_typed_getters(void)
{
	char error[CONFIG_ERROR_MAX] = "";
	struct config *cfg = parse("max = 2M\nbad = 2X\nt = 5m\non = yes\n"
				   "maybe = perhaps\n", error);
	uint64_t size;
	unsigned int secs;
	int b;

	test_begin("config: typed getters, defaults and bad values");
	test_assert(config_get_size(cfg, "max", 1, &size, error,
				    sizeof(error)) == 0);
	test_assert_u64(size, 2 * 1024 * 1024);
	test_assert(config_get_size(cfg, "unset", 77, &size, error,
				    sizeof(error)) == 0);
	test_assert_u64(size, 77);
	test_assert(config_get_size(cfg, "bad", 1, &size, error,
				    sizeof(error)) < 0);
	test_assert_str(error, "test.conf:2: bad = 2X: not a size "
			"(e.g. 50k, 2M)");
	test_assert(config_get_seconds(cfg, "t", 1, &secs, error,
				       sizeof(error)) == 0);
	test_assert_u64(secs, 300);
	test_assert(config_get_bool(cfg, "on", 0, &b, error,
				    sizeof(error)) == 0 && b == 1);
	test_assert(config_get_bool(cfg, "maybe", 0, &b, error,
				    sizeof(error)) < 0);
	config_free(&cfg);
	test_end();
}

static void
count_item(const char *item, size_t len, void *ctx)
{
	char *out = ctx;

	strncat(out, item, len);
	strcat(out, "|");
}

static void
test_list_foreach(void)
{
	char out[128] = "";

	test_begin("config_list_foreach: commas and whitespace separate");
	test_assert_u64(config_list_foreach(" a.example, b.example\tc ,,d ",
					    count_item, out), 4);
	test_assert_str(out, "a.example|b.example|c|d|");
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_config_basic_lines,
		test_config_continuation_and_override,
		test_config_syntax_errors,
		test_config_nul_byte,
		test_size_parse,
		test_typed_getters,
		test_list_foreach,
		NULL
	};

	return test_run(tests);
}
