/*
 * Pending index entries: key and value encoding, see pending.h.
 *
 * Values are parsed from a database that other programs can write, so
 * the decoder trusts nothing: every field is checked and a bad one is
 * an error, never a crash or a silently wrong entry.
 */
#include "pending.h"
#include "handle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_VALUE_VERSION	"1"
#define PENDING_VALUE_FIELDS	9

static const char hexdigits[] = "0123456789abcdef";

static int
is_user_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '@' || c == '.' ||
		c == '_' || c == '+' || c == '-';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
pending_guid_is_valid(const char *str)
{
	size_t i;

	for (i = 0; i < PENDING_GUID_LEN; i++) {
		if (str[i] == '\0' || strchr(hexdigits, str[i]) == NULL)
			return 0;
	}
	return str[i] == '\0';
}

/* Append the percent-encoded user to buf at *pos; 0 if it did not fit. */
static int
user_encode(char *buf, size_t size, size_t *pos, const char *user)
{
	size_t len = strlen(user);

	if (len == 0 || len > PENDING_USER_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];

		if (is_user_safe(c)) {
			if (*pos + 1 >= size)
				return 0;
			buf[(*pos)++] = (char)c;
		} else {
			if (*pos + 3 >= size)
				return 0;
			buf[(*pos)++] = '%';
			buf[(*pos)++] = hexdigits[c >> 4];
			buf[(*pos)++] = hexdigits[c & 15];
		}
	}
	buf[*pos] = '\0';
	return 1;
}

size_t
pending_key_user_prefix(char *buf, size_t size, const char *user)
{
	size_t pos = sizeof(PENDING_DICT_PREFIX) - 1;

	if (size <= pos)
		return 0;
	memcpy(buf, PENDING_DICT_PREFIX, pos);
	if (!user_encode(buf, size, &pos, user) || pos + 2 > size)
		return 0;
	buf[pos++] = '/';
	buf[pos] = '\0';
	return pos;
}

size_t
pending_key_build(char *buf, size_t size, const char *user,
		  const char *guid, uint32_t uid)
{
	size_t pos = pending_key_user_prefix(buf, size, user);
	int n;

	if (pos == 0 || !pending_guid_is_valid(guid))
		return 0;
	n = snprintf(buf + pos, size - pos, "%s/%" PRIu32, guid, uid);
	if (n < 0 || (size_t)n >= size - pos)
		return 0;
	return pos + (size_t)n;
}

/* Parse a decimal number that must fill [str, end) and be <= max. */
static int
parse_number(const char *str, const char *end, uint64_t max,
	     uint64_t *value_r)
{
	uint64_t v = 0;

	if (str == end || (*str == '0' && end - str > 1))
		return -1;
	for (; str < end; str++) {
		if (*str < '0' || *str > '9')
			return -1;
		if (v > (max - (uint64_t)(*str - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*str - '0');
	}
	*value_r = v;
	return 0;
}

int
pending_user_decode(const char *p, const char *end, char *user_buf,
		    size_t user_buf_size)
{
	size_t out = 0;

	if (p == end)
		return -1;
	for (; p < end; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi = end - p > 2 ? hex_value(p[1]) : -1;
			int lo = hi >= 0 ? hex_value(p[2]) : -1;

			if (lo < 0)
				return -1;
			c = hi * 16 + lo;
			p += 2;
		} else if (!is_user_safe((unsigned char)c)) {
			return -1;
		}
		if (c == 0 || out + 1 >= user_buf_size ||
		    out >= PENDING_USER_MAX)
			return -1;
		user_buf[out++] = (char)c;
	}
	user_buf[out] = '\0';
	return 0;
}

int
pending_key_parse(const char *key, struct pending_entry *entry,
		  char *user_buf, size_t user_buf_size, const char **error_r)
{
	const char *p = key, *slash, *guid;
	uint64_t uid;

	if (strncmp(p, PENDING_DICT_PREFIX, sizeof(PENDING_DICT_PREFIX) - 1)) {
		*error_r = "key outside the pending prefix";
		return -1;
	}
	p += sizeof(PENDING_DICT_PREFIX) - 1;
	slash = strchr(p, '/');
	if (slash == NULL || slash == p) {
		*error_r = "key without a user";
		return -1;
	}

	/* The user, percent-decoded. */
	if (pending_user_decode(p, slash, user_buf, user_buf_size) < 0) {
		*error_r = "bad user in key (escape, character, length or NUL)";
		return -1;
	}

	/* The GUID and the UID. */
	guid = slash + 1;
	slash = strchr(guid, '/');
	if (slash == NULL || slash - guid != PENDING_GUID_LEN) {
		*error_r = "key without a mailbox GUID";
		return -1;
	}
	memcpy(entry->guid, guid, PENDING_GUID_LEN);
	entry->guid[PENDING_GUID_LEN] = '\0';
	if (!pending_guid_is_valid(entry->guid)) {
		*error_r = "key's mailbox GUID is not hex";
		return -1;
	}
	if (parse_number(slash + 1, slash + 1 + strlen(slash + 1),
			 UINT32_MAX, &uid) < 0 || uid == 0) {
		*error_r = "key's UID is not a number";
		return -1;
	}
	entry->uid = (uint32_t)uid;
	entry->user = user_buf;
	return 0;
}

/* Length of the longest prefix of str (at most max bytes) that does not
   end inside a UTF-8 sequence. */
static size_t
utf8_cut(const char *str, size_t max)
{
	size_t len = strlen(str);

	if (len <= max)
		return len;
	len = max;
	/* Back up over continuation bytes to the start of a character. */
	while (len > 0 && ((unsigned char)str[len] & 0xc0) == 0x80)
		len--;
	return len;
}

/* Output helper that counts what it would write, like snprintf. */
struct out {
	char *buf;
	size_t size, len;
};

static void
out_char(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void
out_str(struct out *o, const char *s)
{
	while (*s != '\0')
		out_char(o, *s++);
}

static void
out_text(struct out *o, const char *text)
{
	size_t len;

	if (text == NULL)
		text = "";
	len = utf8_cut(text, PENDING_TEXT_MAX);
	out_char(o, '\t');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		switch (c) {
		case '\\': out_str(o, "\\\\"); break;
		case '\t': out_str(o, "\\t"); break;
		case '\r': out_str(o, "\\r"); break;
		case '\n': out_str(o, "\\n"); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				out_str(o, "\\x");
				out_char(o, hexdigits[c >> 4]);
				out_char(o, hexdigits[c & 15]);
			} else {
				out_char(o, (char)c);
			}
		}
	}
}

size_t
pending_value_encode(const struct pending_entry *entry, char *buf,
		     size_t size)
{
	struct out o = { buf, size, 0 };
	char num[64];

	out_str(&o, PENDING_VALUE_VERSION);
	snprintf(num, sizeof(num), "\t%" PRIu32 "\t%" PRIu64 "\t%" PRId64 "\t",
		 entry->uidvalidity, entry->size,
		 entry->received < 0 ? (int64_t)0 : entry->received);
	out_str(&o, num);
	if ((entry->flags & PENDING_FLAG_OVERSIZE) != 0)
		out_char(&o, 'o');
	if ((entry->flags & PENDING_FLAG_REQUESTED) != 0)
		out_char(&o, 'r');
	if ((entry->flags & (PENDING_FLAG_OVERSIZE |
			     PENDING_FLAG_REQUESTED)) == 0)
		out_char(&o, '-');
	out_char(&o, '\t');
	/* A handle comes from a header anyone can write: keep only a
	   well-formed one. */
	out_str(&o, entry->handle != NULL &&
		handle_is_valid(entry->handle, strlen(entry->handle)) ?
		entry->handle : "-");
	out_text(&o, entry->mailbox);
	out_text(&o, entry->from);
	out_text(&o, entry->subject);
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

/* Undo out_text()'s escapes in place.  Returns 0 or -1. */
static int
unescape(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		int hi, lo;

		if (*r != '\\') {
			*w++ = *r++;
			continue;
		}
		switch (r[1]) {
		case '\\': *w++ = '\\'; r += 2; break;
		case 't': *w++ = '\t'; r += 2; break;
		case 'r': *w++ = '\r'; r += 2; break;
		case 'n': *w++ = '\n'; r += 2; break;
		case 'x':
			hi = hex_value(r[2]);
			lo = hi >= 0 ? hex_value(r[3]) : -1;
			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*w++ = (char)(hi * 16 + lo);
			r += 4;
			break;
		default:
			return -1;
		}
	}
	*w = '\0';
	return 0;
}

int
pending_value_decode(char *value, struct pending_entry *entry,
		     const char **error_r)
{
	char *field[PENDING_VALUE_FIELDS], *p = value;
	uint64_t n;
	size_t count = 0;

	/* Split on tabs; text fields hold no raw tab. */
	while (count < PENDING_VALUE_FIELDS) {
		field[count++] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	if (count != PENDING_VALUE_FIELDS || p != NULL) {
		*error_r = "value has a wrong number of fields";
		return -1;
	}
	if (strcmp(field[0], PENDING_VALUE_VERSION) != 0) {
		*error_r = "value has an unknown version";
		return -1;
	}
	if (parse_number(field[1], field[1] + strlen(field[1]), UINT32_MAX,
			 &n) < 0 || n == 0) {
		*error_r = "value's UIDVALIDITY is not a number";
		return -1;
	}
	entry->uidvalidity = (uint32_t)n;
	if (parse_number(field[2], field[2] + strlen(field[2]), INT64_MAX,
			 &entry->size) < 0) {
		*error_r = "value's size is not a number";
		return -1;
	}
	if (parse_number(field[3], field[3] + strlen(field[3]), INT64_MAX,
			 &n) < 0) {
		*error_r = "value's received time is not a number";
		return -1;
	}
	entry->received = (int64_t)n;

	entry->flags = 0;
	if (strcmp(field[4], "-") != 0) {
		for (const char *f = field[4]; *f != '\0'; f++) {
			if (*f == 'o')
				entry->flags |= PENDING_FLAG_OVERSIZE;
			else if (*f == 'r')
				entry->flags |= PENDING_FLAG_REQUESTED;
			else {
				*error_r = "value has an unknown flag";
				return -1;
			}
		}
		if (entry->flags == 0) {
			*error_r = "value has empty flags";
			return -1;
		}
	}
	if (strcmp(field[5], "-") == 0)
		entry->handle = "";
	else if (handle_is_valid(field[5], strlen(field[5])))
		entry->handle = field[5];
	else {
		*error_r = "value has a malformed handle";
		return -1;
	}
	for (int i = 6; i < PENDING_VALUE_FIELDS; i++) {
		if (unescape(field[i]) < 0) {
			*error_r = "value has a bad escape";
			return -1;
		}
	}
	entry->mailbox = field[6];
	entry->from = field[7];
	entry->subject = field[8];
	return 0;
}
