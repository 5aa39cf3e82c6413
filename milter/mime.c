/*
 * Decoding header values for display and writing encoded headers: see
 * mime.h.
 *
 * Not done: RFC 2231 continuations, address parsing, and any check that
 * the decoded text is meaningful.  Everything a peer sends is treated as
 * hostile: the output never holds a byte that could end a header line.
 */
#include "mime.h"
#include "str.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD */
#define ELLIPSIS	"\xe2\x80\xa6"	/* U+2026 */
#define ENCODED_WORD_MAX	75	/* RFC 2047, section 2 */
#define HEADER_LINE_MAX		76

size_t
mime_utf8_char_len(const unsigned char *s, size_t avail)
{
	size_t len;
	uint32_t cp;

	if (avail == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (avail < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}

	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Append bytes that should be UTF-8; others are read as Latin-1. */
static void
append_raw(struct str *out, const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = mime_utf8_char_len(s + i, len - i);

		if (n > 0) {
			str_append(out, (const char *)s + i, n);
			i += n;
			continue;
		}
		str_putc(out, (char)(0xc0 | (s[i] >> 6)));
		str_putc(out, (char)(0x80 | (s[i] & 0x3f)));
		i++;
	}
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
decode_q(struct str *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '_') {
			str_putc(out, ' ');
		} else if (s[i] == '=' && i + 2 < len &&
			   (hi = hex_value((unsigned char)s[i + 1])) >= 0 &&
			   (lo = hex_value((unsigned char)s[i + 2])) >= 0) {
			str_putc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			str_putc(out, s[i]);
		}
	}
}

static int
base64_value(int c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";
	const char *p = c != '\0' ? strchr(alphabet, c) : NULL;

	return p != NULL ? (int)(p - alphabet) : -1;
}

/* Base64 to bytes; -1 on a character outside the alphabet. */
static int
decode_b(struct str *out, const char *s, size_t len)
{
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		int v;

		if (s[i] == '=')
			break;
		if ((v = base64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			str_putc(out, (char)((acc >> bits) & 0xff));
		}
	}
	return 0;
}

static int
is_utf8_charset(const char *charset)
{
	return strcasecmp(charset, "utf-8") == 0 ||
		strcasecmp(charset, "utf8") == 0 ||
		strcasecmp(charset, "us-ascii") == 0;
}

/* Convert bytes in charset to UTF-8 through iconv; -1 if unknown. */
static int
convert_charset(struct str *out, const char *charset, const struct str *in)
{
	iconv_t cd;
	char *inp = in->s;
	size_t inleft = in->len;

	if (is_utf8_charset(charset)) {
		append_raw(out, (const unsigned char *)str_c(in), in->len);
		return 0;
	}
	if ((cd = iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return -1;
	while (inleft > 0) {
		char buf[256], *outp = buf;
		size_t outleft = sizeof(buf);
		size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);

		str_append(out, buf, outp - buf);
		if (rc == (size_t)-1 && errno != E2BIG) {
			/* A byte that is not in the charset. */
			str_puts(out, REPLACEMENT);
			inp++;
			inleft--;
		}
	}
	iconv_close(cd);
	return 0;
}

/*
 * Try an encoded word "=?charset?Q|B?text?=" at s.  On success append
 * its text as UTF-8 and return its length; 0 when it is not one (or
 * cannot be decoded), so that the caller keeps it as written.
 */
static size_t
decode_word(struct str *out, const char *s, size_t len)
{
	const char *charset = s + 2, *q1, *text, *end;
	char cs[64], *star;
	struct str bytes = STR_INIT;
	int enc, ok;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	q1 = memchr(charset, '?', len - 2);
	if (q1 == NULL || q1 == charset ||
	    (size_t)(q1 - charset) >= sizeof(cs) ||
	    q1 + 3 > s + len || q1[2] != '?')
		return 0;
	enc = toupper((unsigned char)q1[1]);
	text = q1 + 3;
	for (end = text; end + 1 < s + len; end++) {
		if (end[0] == '?' && end[1] == '=')
			break;
		if (isspace((unsigned char)*end))
			return 0;
	}
	if (end + 1 >= s + len || (enc != 'Q' && enc != 'B'))
		return 0;

	memcpy(cs, charset, q1 - charset);
	cs[q1 - charset] = '\0';
	if ((star = strchr(cs, '*')) != NULL)
		*star = '\0';	/* RFC 2231 language tag */
	if (enc == 'Q')
		decode_q(&bytes, text, end - text);
	ok = enc == 'Q' || decode_b(&bytes, text, end - text) == 0;
	ok = ok && convert_charset(out, cs, &bytes) == 0;
	str_free(&bytes);
	return ok ? (size_t)(end + 2 - s) : 0;
}

/* Decode the encoded words of value; the rest is taken raw.  Blanks
   between two encoded words are dropped (RFC 2047, section 6.2). */
static void
decode_words(struct str *out, const char *value)
{
	const char *p = value, *end = value + strlen(value);
	struct str word = STR_INIT;
	int last_was_word = 0;

	while (p < end) {
		const char *ws = p, *token;
		size_t n;

		while (p < end && isspace((unsigned char)*p))
			p++;
		str_truncate(&word, 0);
		n = p < end ? decode_word(&word, p, end - p) : 0;
		if (n > 0) {
			if (!last_was_word)
				append_raw(out, (const unsigned char *)ws,
					   p - ws);
			str_append(out, str_c(&word), word.len);
			p += n;
			last_was_word = 1;
			continue;
		}
		append_raw(out, (const unsigned char *)ws, p - ws);
		token = p;
		while (p < end && !isspace((unsigned char)*p) &&
		       !(p > token && p[0] == '=' && p + 1 < end &&
			 p[1] == '?'))
			p++;
		append_raw(out, (const unsigned char *)token, p - token);
		last_was_word = 0;
	}
	str_free(&word);
}

/* Code point of a valid UTF-8 sequence of len bytes. */
static uint32_t
code_point(const unsigned char *s, size_t len)
{
	static const unsigned char lead_mask[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	uint32_t cp = s[0] & lead_mask[len];

	for (size_t i = 1; i < len; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

/* Characters that must not reach a notice: controls, and those that
   reorder text or break lines in a reader's display. */
static int
is_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		cp == 0x2028 || cp == 0x2029 ||
		(cp >= 0x202a && cp <= 0x202e) ||
		(cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* Valid UTF-8 in, one safe line out: blanks collapsed, cut at max. */
static char *
sanitize(const struct str *in, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)str_c(in);
	struct str out = STR_INIT;
	size_t i = 0, chars = 0;
	int pending_space = 0;

	while (i < in->len) {
		size_t n = mime_utf8_char_len(s + i, in->len - i);
		uint32_t cp = n > 0 ? code_point(s + i, n) : 0xfffd;
		/* iconv may pass through what is not UTF-8 (code points
		   past U+10FFFF for some charset names): such a byte
		   becomes U+FFFD, never itself. */
		const char *bytes = n > 0 ? (const char *)s + i : REPLACEMENT;
		size_t bytes_len = n > 0 ? n : sizeof(REPLACEMENT) - 1;

		if (n == 0)
			n = 1;
		if (cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n') {
			pending_space = out.len > 0;
		} else if (!is_unsafe(cp)) {
			if (chars + pending_space >= max_chars) {
				str_puts(&out, ELLIPSIS);
				break;
			}
			if (pending_space) {
				str_putc(&out, ' ');
				chars++;
			}
			pending_space = 0;
			str_append(&out, bytes, bytes_len);
			chars++;
		}
		i += n;
	}
	return str_steal(&out);
}

char *
mime_decode_header(const char *value, size_t max_chars)
{
	struct str decoded = STR_INIT;
	char *result;

	decode_words(&decoded, value != NULL ? value : "");
	result = sanitize(&decoded, max_chars);
	str_free(&decoded);
	return result;
}

static int
is_plain_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	}
	return 1;
}

/* Plain ASCII: words, folded before a word that would pass the width. */
static void
write_plain(struct str *out, const char *name, const char *value)
{
	size_t col = strlen(name) + 1;
	const char *p = value;

	str_puts(out, name);
	str_putc(out, ':');
	while (*p != '\0') {
		size_t len = strcspn(p, " ");

		if (len > 0) {
			if (col + 1 + len > HEADER_LINE_MAX && col > 1 &&
			    col > strlen(name) + 1) {
				str_puts(out, "\n");
				col = 0;
			}
			str_putc(out, ' ');
			str_append(out, p, len);
			col += 1 + len;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	str_putc(out, '\n');
}

static void
write_base64(struct str *out, const unsigned char *s, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		str_putc(out, alphabet[(v >> 18) & 63]);
		str_putc(out, alphabet[(v >> 12) & 63]);
		str_putc(out, i + 1 < len ? alphabet[(v >> 6) & 63] : '=');
		str_putc(out, i + 2 < len ? alphabet[v & 63] : '=');
	}
}

/* Non-ASCII: one encoded word per line, split between characters. */
static void
write_encoded(struct str *out, const char *name, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t len = strlen(value), i = 0, col = strlen(name) + 2;

	str_puts(out, name);
	str_puts(out, ": ");
	while (i < len) {
		/* Room for base64 on this line, in whole groups of 3 bytes. */
		size_t room = HEADER_LINE_MAX - col - 12;
		size_t budget = room / 4 * 3, take = 0;

		if (budget < 6)
			budget = 6;
		while (i + take < len) {
			size_t n = mime_utf8_char_len(s + i + take,
						      len - i - take);

			if (n == 0)
				n = 1;
			if (take + n > budget)
				break;
			take += n;
		}
		if (take == 0)
			take = 1;
		str_puts(out, "=?UTF-8?B?");
		write_base64(out, s + i, take);
		str_puts(out, "?=");
		i += take;
		if (i < len) {
			str_puts(out, "\n ");
			col = 1;
		}
	}
	str_putc(out, '\n');
}

void
mime_write_header(struct str *out, const char *name, const char *utf8)
{
	if (is_plain_ascii(utf8) && strstr(utf8, "=?") == NULL)
		write_plain(out, name, utf8);
	else
		write_encoded(out, name, utf8);
}
