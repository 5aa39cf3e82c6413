/* Unit tests of header decoding for display (RFC 2047, 8-bit, hostile
   input) and of writing encoded, folded header lines. */
#include "mime.h"
#include "str.h"
#include "common/test-common.h"

#include <stdlib.h>
#include <string.h>

static void
check_decode(const char *in, size_t max, const char *want)
{
	char *got = mime_decode_header(in, max);

	test_assert_str(got, want);
	free(got);
}

static void
test_decode_plain_and_folded(void)
{
	test_begin("mime: plain text is unfolded and blanks collapsed");
	check_decode(" Hello   world ", 100, "Hello world");
	check_decode(" Quarterly\r\n\treport\n  2026", 100,
		     "Quarterly report 2026");
	check_decode("", 100, "");
	check_decode(NULL, 100, "");
	test_end();
}

static void
test_decode_encoded_words(void)
{
	test_begin("mime: Q and B words in UTF-8 and ISO-8859-1");
	check_decode("=?UTF-8?B?R3LDvMOfZQ==?=", 100, "Gr\xc3\xbc\xc3\x9f" "e");
	check_decode("=?iso-8859-1?q?caf=E9_cr=E8me?=", 100,
		     "caf\xc3\xa9 cr\xc3\xa8me");
	/* Blanks between adjacent words go; around text they stay. */
	check_decode("=?utf-8?q?a?= =?utf-8?q?b?=  c =?utf-8?q?d?=", 100,
		     "ab c d");
	check_decode("Re: =?UTF-8?Q?=C3=A9t=C3=A9?=", 100,
		     "Re: \xc3\xa9t\xc3\xa9");
	/* RFC 2231 language suffix on the charset. */
	check_decode("=?US-ASCII*EN?Q?Keith_Moore?=", 100, "Keith Moore");
	test_end();
}

static void
test_decode_odd_charsets(void)
{
	test_begin("mime: odd charsets through iconv, unknown kept raw");
	/* KOI8-R "привет" */
	check_decode("=?koi8-r?B?0NLJ18XU?=", 100,
		     "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	/* Shift_JIS "日本" */
	check_decode("=?Shift_JIS?B?k/qWew==?=", 100,
		     "\xe6\x97\xa5\xe6\x9c\xac");
	/* windows-1252 euro sign */
	check_decode("=?windows-1252?Q?=80_5?=", 100, "\xe2\x82\xac 5");
	check_decode("=?x-no-such-charset?Q?abc?=", 100,
		     "=?x-no-such-charset?Q?abc?=");
	/* Bytes that are not UTF-8 are read as Latin-1 (C1 controls go);
	   bytes iconv rejects become U+FFFD. */
	check_decode("=?utf-8?q?a=FFb?=", 100, "a\xc3\xbf" "b");
	check_decode("=?us-ascii?q?a=80b?=", 100, "ab");
	check_decode("=?iso-2022-jp?q?a=FFb?=", 100, "a\xef\xbf\xbd" "b");
	test_end();
}

static void
test_decode_malformed_words(void)
{
	test_begin("mime: malformed encoded words stay as written");
	check_decode("=?utf-8?x?abc?=", 100, "=?utf-8?x?abc?=");
	check_decode("=?utf-8?b?!!!!?=", 100, "=?utf-8?b?!!!!?=");
	check_decode("=?utf-8?q?no end", 100, "=?utf-8?q?no end");
	check_decode("=??q?x?=", 100, "=??q?x?=");
	check_decode("=?utf-8?q?=ZZ?=", 100, "=ZZ");
	check_decode("x=?utf-8?q?y?=", 100, "xy");
	test_end();
}

static void
test_decode_8bit_raw(void)
{
	test_begin("mime: raw 8-bit headers: UTF-8 kept, else Latin-1");
	check_decode("Gr\xc3\xbc\xc3\x9f" "e", 100, "Gr\xc3\xbc\xc3\x9f" "e");
	check_decode("caf\xe9", 100, "caf\xc3\xa9");
	/* Overlong and surrogate forms are not UTF-8. */
	check_decode("\xc0\xaf", 100, "\xc3\x80\xc2\xaf");
	check_decode("\xed\xa0\x80", 100, "\xc3\xad\xc2\xa0");
	test_end();
}

static void
test_decode_hostile(void)
{
	test_begin("mime: no line breaks, controls or bidi overrides out");
	/* An encoded CR LF must not start a new header in a notice. */
	check_decode("=?utf-8?q?hi=0D=0ABcc:_x@evil?=", 100, "hi Bcc: x@evil");
	check_decode("a\x01\x1b[31mb\x7f", 100, "a[31mb");
	check_decode("=?utf-8?b?YeKArmI=?=", 100, "ab");	/* U+202E */
	check_decode("=?utf-8?q?a=C2=85b?=", 100, "ab");	/* NEL */
	check_decode("=?utf-8?q?a=00b?=", 100, "ab");
	test_end();
}

static void
test_decode_cut(void)
{
	char *big = malloc(100001), *got;

	test_begin("mime: long values are cut on a character boundary");
	check_decode("abcdef", 3, "abc\xe2\x80\xa6");
	check_decode("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 2,
		     "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	memset(big, 'x', 100000);
	big[100000] = '\0';
	got = mime_decode_header(big, 200);
	test_assert_u64(strlen(got), 203);
	free(got);
	free(big);
	test_end();
}

static void
test_write_plain_folds(void)
{
	struct str out = STR_INIT;
	const char *s, *nl;
	int longest = 0;

	test_begin("mime: plain ASCII headers fold under 78 columns");
	mime_write_header(&out, "Subject", "Held on shore: short");
	test_assert_str(str_c(&out), "Subject: Held on shore: short\n");
	str_truncate(&out, 0);
	mime_write_header(&out, "Subject",
			  "one two three four five six seven eight nine ten "
			  "eleven twelve thirteen fourteen fifteen sixteen");
	for (s = str_c(&out); (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
		if (nl - s > longest)
			longest = (int)(nl - s);
	}
	test_assert(longest <= 76);
	test_assert(strstr(str_c(&out), "\n ") != NULL);
	test_assert(strncmp(str_c(&out), "Subject: one two", 16) == 0);
	str_free(&out);
	test_end();
}

static void
test_write_encoded_roundtrip(void)
{
	struct str out = STR_INIT;
	const char *text = "Held on shore: \xc3\xa9t\xc3\xa9 \xe6\x97\xa5"
		"\xe6\x9c\xac long long long long long long long long long "
		"\xe2\x82\xac";
	char *back, *value;
	const char *s, *nl;
	int longest = 0;

	test_begin("mime: non-ASCII headers become encoded words that decode "
		   "back");
	mime_write_header(&out, "Subject", text);
	for (s = str_c(&out); (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
		if (nl - s > longest)
			longest = (int)(nl - s);
	}
	test_assert(longest <= 76);
	test_assert(strncmp(str_c(&out), "Subject: =?UTF-8?B?", 19) == 0);
	value = strdup(str_c(&out) + 8);
	back = mime_decode_header(value, 1000);
	test_assert_str(back, text);
	free(back);
	free(value);

	/* A value that looks encoded is encoded, not passed through. */
	str_truncate(&out, 0);
	mime_write_header(&out, "Subject", "=?utf-8?q?x?=");
	test_assert(strncmp(str_c(&out), "Subject: =?UTF-8?B?", 19) == 0);
	str_free(&out);
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_decode_plain_and_folded,
		test_decode_encoded_words,
		test_decode_odd_charsets,
		test_decode_malformed_words,
		test_decode_8bit_raw,
		test_decode_hostile,
		test_decode_cut,
		test_write_plain_folds,
		test_write_encoded_roundtrip,
		NULL
	};

	return test_run(tests);
}
