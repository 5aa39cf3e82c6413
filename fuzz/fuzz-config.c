/*
 * Fuzz harness for the configuration parser (common/config.h).
 *
 * Any bytes are parsed as a configuration file.  A refused file must
 * come with an error message.  For an accepted one, every parameter is
 * read back through each typed getter and split as a list, and these
 * properties must hold:
 *   - names are non-empty, made of name characters, and seen once;
 *   - values hold no line break and no blank at either end;
 *   - config_get() and config_origin() agree with the iteration;
 *   - size_parse() and seconds_parse() accept exactly the documented
 *     syntax and give its value, refusing what overflows;
 *   - config_list_foreach() gives the non-empty items between commas
 *     and blanks, each within the value, and counts them.
 */
#include "common/config.h"
#include "fuzz-input.h"

#include <ctype.h>
#include <limits.h>

static const char origin_name[] = "fuzz.conf";

/* Reference: digits, then an optional unit from units, and for sizes
   an optional "B".  Returns the multiplier, or 0 for other syntax. */
static uint64_t
reference_unit(const char *s, int sizes, const char **digits_end_r)
{
	const char *p = s;
	uint64_t mult = 1;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return 0;
	*digits_end_r = p;
	if (sizes) {
		if (*p == 'k' || *p == 'K')
			mult = 1024, p++;
		else if (*p == 'm' || *p == 'M')
			mult = 1024 * 1024, p++;
		else if (*p == 'g' || *p == 'G')
			mult = 1024 * 1024 * 1024, p++;
		if (*p == 'b' || *p == 'B')
			p++;
	} else {
		if (*p == 's')
			p++;
		else if (*p == 'm')
			mult = 60, p++;
		else if (*p == 'h')
			mult = 3600, p++;
		else if (*p == 'd')
			mult = 86400, p++;
	}
	return *p == '\0' ? mult : 0;
}

/* Reference value of a number in the syntax above, or -1 past max. */
static int
reference_value(const char *s, int sizes, unsigned __int128 max,
		unsigned __int128 *value_r)
{
	const char *end;
	uint64_t mult = reference_unit(s, sizes, &end);
	unsigned __int128 v = 0;

	if (mult == 0)
		return -1;
	for (const char *p = s; p < end; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > max)
			return -1;
	}
	v *= mult;
	if (v > max)
		return -1;
	*value_r = v;
	return 0;
}

static void
check_numbers(const struct config *cfg, const char *name, const char *value)
{
	char error[CONFIG_ERROR_MAX];
	unsigned __int128 want;
	uint64_t size;
	unsigned int secs;
	int flag, ret;

	ret = config_get_size(cfg, name, 7, &size, error, sizeof(error));
	if (reference_value(value, 1, UINT64_MAX, &want) == 0)
		FUZZ_CHECK(ret == 0 && size == want);
	else
		FUZZ_CHECK(ret < 0 && strstr(error, name) != NULL);

	ret = config_get_seconds(cfg, name, 7, &secs, error, sizeof(error));
	if (reference_value(value, 0, UINT_MAX, &want) == 0)
		FUZZ_CHECK(ret == 0 && secs == want);
	else
		FUZZ_CHECK(ret < 0 && strstr(error, name) != NULL);

	ret = config_get_bool(cfg, name, 7, &flag, error, sizeof(error));
	FUZZ_CHECK(ret < 0 || flag == 0 || flag == 1);
}

struct list_check {
	const char *list;
	size_t len, count;
};

static int
is_list_separator(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

static void
list_item(const char *item, size_t len, void *context)
{
	struct list_check *c = context;

	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(item >= c->list && item + len <= c->list + c->len);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(!is_list_separator(item[i]));
	/* Items are whole: bounded by separators or the value's ends. */
	FUZZ_CHECK(item == c->list || is_list_separator(item[-1]));
	FUZZ_CHECK(item[len] == '\0' || is_list_separator(item[len]));
	c->count++;
}

static size_t
reference_list_count(const char *s)
{
	size_t n = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (!is_list_separator(s[i]) &&
		    (i == 0 || is_list_separator(s[i - 1])))
			n++;
	}
	return n;
}

static void
check_param(const struct config *cfg, const char *name, const char *value)
{
	struct list_check lc = { value, strlen(value), 0 };
	const char *origin;
	size_t len = strlen(value);

	FUZZ_CHECK(*name != '\0');
	for (const char *p = name; *p != '\0'; p++)
		FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '_' ||
			   *p == '-' || *p == '.');
	FUZZ_CHECK(strchr(value, '\n') == NULL);
	FUZZ_CHECK(len == 0 || (!isspace((unsigned char)value[0]) &&
				!isspace((unsigned char)value[len - 1])));
	FUZZ_CHECK(config_get(cfg, name, NULL) == value);
	origin = config_origin(cfg, name);
	FUZZ_CHECK(origin != NULL &&
		   strncmp(origin, origin_name, sizeof(origin_name) - 1) == 0 &&
		   origin[sizeof(origin_name) - 1] == ':');

	check_numbers(cfg, name, value);
	FUZZ_CHECK(config_list_foreach(value, list_item, &lc) == lc.count);
	FUZZ_CHECK(lc.count == reference_list_count(value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char error[CONFIG_ERROR_MAX] = "";
	/* An exact copy with no terminating NUL: the parser gets a length. */
	char *buf = malloc(size > 0 ? size : 1);
	struct config *cfg;
	const char *name, *value, *prev_name, *prev_value;
	size_t iter = 0, count = 0;

	if (buf == NULL)
		abort();
	if (size > 0)
		memcpy(buf, data, size);
	cfg = config_parse(buf, size, origin_name, error, sizeof(error));
	if (cfg == NULL) {
		FUZZ_CHECK(error[0] != '\0');
		free(buf);
		return 0;
	}

	while (config_next(cfg, &iter, &name, &value)) {
		size_t iter2 = 0;

		/* A name given twice is seen once. */
		for (size_t i = 0; i < count; i++) {
			FUZZ_CHECK(config_next(cfg, &iter2, &prev_name,
					       &prev_value));
			FUZZ_CHECK(strcmp(prev_name, name) != 0);
		}
		check_param(cfg, name, value);
		count++;
	}
	FUZZ_CHECK(config_get(cfg, "no such name", "def")[0] == 'd');
	FUZZ_CHECK(config_origin(cfg, "no such name") == NULL);

	config_free(&cfg);
	FUZZ_CHECK(cfg == NULL);
	free(buf);
	return 0;
}
