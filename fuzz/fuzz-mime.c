/*
 * Fuzz harness for header decoding and encoding (milter/mime.h).
 *
 * The milter decodes the From, Subject and Date of any message from the
 * internet (or a ship's user) to put them in a notice.  The first input
 * byte is the character limit, the rest (up to a NUL) a header value.
 * The decoded text must be:
 *   - valid UTF-8, without controls, C1 controls, line or paragraph
 *     separators, bidirectional overrides or isolates, or a BOM;
 *   - one line with single spaces, none at either end;
 *   - at most the limit in characters, plus an ellipsis when cut, and
 *     then the start of what an unlimited decoding gives.
 * Written back with mime_write_header(), the header line must be
 * printable ASCII, end in LF, continue only on lines that start with a
 * space, keep encoded words within 75 and their lines within 78
 * characters (plain lines within RFC 5322's 998), and decode to the
 * same text.
 */
#include "milter/mime.h"
#include "milter/str.h"
#include "fuzz-input.h"

#define ELLIPSIS	"\xe2\x80\xa6"

static int
is_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		cp == 0x2028 || cp == 0x2029 ||
		(cp >= 0x202a && cp <= 0x202e) ||
		(cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* Check the decoded text; returns its length in characters. */
static size_t
check_decoded(const char *s)
{
	size_t len = strlen(s), i = 0, chars = 0;
	uint32_t cp, prev = 0;

	FUZZ_CHECK(len == 0 || (s[0] != ' ' && s[len - 1] != ' '));
	while (i < len) {
		size_t n = fuzz_utf8_len((const unsigned char *)s + i,
					 len - i, &cp);

		FUZZ_CHECK(n > 0);
		FUZZ_CHECK(!is_unsafe(cp));
		FUZZ_CHECK(!(cp == ' ' && prev == ' '));
		prev = cp;
		i += n;
		chars++;
	}
	return chars;
}

/* The header's value with the folds taken out (RFC 5322 unfolding). */
static char *
unfold(const char *header, size_t name_len)
{
	const char *p = header + name_len + 1;
	char *value = fuzz_dup(p, strlen(p)), *w = value;

	for (const char *r = p; *r != '\0'; r++) {
		if (*r != '\n')
			*w++ = *r;
	}
	*w = '\0';
	return value;
}

static void
check_lines(const char *h, int encoded)
{
	const char *line = h;

	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len;

		FUZZ_CHECK(nl != NULL);
		len = (size_t)(nl - line);
		if (line != h)
			FUZZ_CHECK(line[0] == ' ');
		/* Encoded words fold within 78; a plain word cannot be
		   split, so only the hard limit of RFC 5322 holds. */
		FUZZ_CHECK(len <= (encoded ? 78 : 998));
		line = nl + 1;
	}
}

static void
check_encoded_words(const char *h)
{
	const char *p = h;

	while ((p = strstr(p, "=?")) != NULL) {
		const char *end = strstr(p + 2, "?=");

		/* "=?UTF-8?B?" and its "?=" are 12 of the 75. */
		FUZZ_CHECK(strncmp(p, "=?UTF-8?B?", 10) == 0);
		end = strstr(p + 10, "?=");
		FUZZ_CHECK(end != NULL && end + 2 - p <= 75);
		p = end + 2;
	}
}

static void
check_written(const char *text)
{
	static const char name[] = "Subject";
	struct str out = STR_INIT;
	const char *h;
	char *value, *back;
	int encoded;

	mime_write_header(&out, name, text);
	h = str_c(&out);
	FUZZ_CHECK(strncmp(h, "Subject:", 8) == 0);
	FUZZ_CHECK(out.len > 0 && h[out.len - 1] == '\n');
	for (const char *p = h; *p != '\0'; p++)
		FUZZ_CHECK(*p == '\n' || (*p >= 0x20 && *p <= 0x7e));
	encoded = strstr(h, "=?UTF-8?B?") != NULL;
	check_lines(h, encoded);
	if (encoded)
		check_encoded_words(h);

	value = unfold(h, sizeof(name) - 1);
	back = mime_decode_header(value, SIZE_MAX);
	FUZZ_CHECK(strcmp(back, text) == 0);
	free(back);
	free(value);
	str_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	size_t max = fuzz_u8(&in);
	char *value = fuzz_string(&in);
	char *cut = mime_decode_header(value, max);
	char *full = mime_decode_header(value, SIZE_MAX);
	size_t cut_len = strlen(cut), e = sizeof(ELLIPSIS) - 1;

	check_decoded(full);
	FUZZ_CHECK(check_decoded(cut) <= max + 1);
	if (strcmp(cut, full) != 0) {
		FUZZ_CHECK(cut_len >= e &&
			   strcmp(cut + cut_len - e, ELLIPSIS) == 0);
		FUZZ_CHECK(strncmp(cut, full, cut_len - e) == 0);
	}
	check_written(full);
	check_written(cut);

	free(value);
	free(cut);
	free(full);
	return 0;
}
