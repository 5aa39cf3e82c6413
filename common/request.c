/*
 * Queued requests for held mail and the daily counter: key and value
 * encoding, see request.h.
 *
 * User names are encoded by pending.c's rules (through its prefix
 * builder), so a user has the same key part in both indexes.  Values
 * come from a database other programs can write: the decoders check
 * every field.
 */
#include "request.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define REQUEST_VALUE_VERSION	"1"
#define REQUEST_STATE_QUEUED	"queued"
#define SECONDS_PER_DAY		86400

static const char *const request_origins[] = {
	[REQUEST_ORIGIN_FOLDER] = "folder",
	[REQUEST_ORIGIN_KEYWORD] = "keyword",
	[REQUEST_ORIGIN_ADMIN] = "admin",
};
#define REQUEST_ORIGIN_LAST	REQUEST_ORIGIN_ADMIN

const char *
request_origin_name(enum request_origin origin)
{
	if (origin < REQUEST_ORIGIN_FOLDER || origin > REQUEST_ORIGIN_LAST)
		return "unknown";
	return request_origins[origin];
}

/* Write prefix followed by the encoded user and "/" into buf. */
static size_t
request_user_part(char *buf, size_t size, const char *prefix,
		  const char *user)
{
	char tmp[PENDING_KEY_MAX];
	size_t len, skip = sizeof(PENDING_DICT_PREFIX) - 1;
	size_t plen = strlen(prefix);

	/* The user part exactly as the pending index encodes it. */
	len = pending_key_user_prefix(tmp, sizeof(tmp), user);
	if (len == 0 || plen + len - skip >= size)
		return 0;
	memcpy(buf, prefix, plen);
	memcpy(buf + plen, tmp + skip, len - skip + 1);
	return plen + len - skip;
}

size_t
request_key_user_prefix(char *buf, size_t size, const char *user)
{
	return request_user_part(buf, size, REQUEST_DICT_PREFIX, user);
}

size_t
request_key_build(char *buf, size_t size, const char *user,
		  const char *handle)
{
	size_t pos = request_key_user_prefix(buf, size, user);

	if (pos == 0 || !handle_is_valid(handle, strlen(handle)) ||
	    pos + SHIPMAIL_HANDLE_LEN >= size)
		return 0;
	memcpy(buf + pos, handle, SHIPMAIL_HANDLE_LEN + 1);
	return pos + SHIPMAIL_HANDLE_LEN;
}

size_t
request_count_key_build(char *buf, size_t size, const char *user)
{
	size_t len = request_user_part(buf, size, REQUEST_COUNT_PREFIX, user);

	/* The counter is a leaf: drop the separator. */
	if (len == 0)
		return 0;
	buf[--len] = '\0';
	return len;
}

int
request_key_parse(const char *key, struct request_entry *entry,
		  char *user_buf, size_t user_buf_size, const char **error_r)
{
	const char *p = key, *slash;

	if (strncmp(p, REQUEST_DICT_PREFIX, sizeof(REQUEST_DICT_PREFIX) - 1)) {
		*error_r = "key outside the request prefix";
		return -1;
	}
	p += sizeof(REQUEST_DICT_PREFIX) - 1;
	slash = strchr(p, '/');
	if (slash == NULL ||
	    pending_user_decode(p, slash, user_buf, user_buf_size) < 0) {
		*error_r = "key's user is missing or malformed";
		return -1;
	}
	if (!handle_is_valid(slash + 1, strlen(slash + 1))) {
		*error_r = "key's handle is malformed";
		return -1;
	}
	memcpy(entry->handle, slash + 1, SHIPMAIL_HANDLE_LEN + 1);
	entry->user = user_buf;
	return 0;
}

size_t
request_value_encode(const struct request_entry *entry, char *buf,
		     size_t size)
{
	int n = snprintf(buf, size, "%s\t%" PRId64 "\t%s\t%s",
			 REQUEST_VALUE_VERSION,
			 entry->requested < 0 ? (int64_t)0 : entry->requested,
			 REQUEST_STATE_QUEUED,
			 request_origin_name(entry->origin));

	return n < 0 ? size : (size_t)n;
}

/* A decimal number without sign or leading zero, at most max; end is
   where it stopped.  0 or -1. */
static int
parse_number(const char *str, const char **end_r, uint64_t max,
	     uint64_t *value_r)
{
	uint64_t v = 0;
	const char *p = str;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == str || (*str == '0' && p - str > 1))
		return -1;
	*end_r = p;
	*value_r = v;
	return 0;
}

int
request_value_decode(const char *value, struct request_entry *entry,
		     const char **error_r)
{
	const char *p;
	uint64_t n;

	if (strncmp(value, REQUEST_VALUE_VERSION "\t", 2) != 0) {
		*error_r = "request value has an unknown version";
		return -1;
	}
	if (parse_number(value + 2, &p, INT64_MAX, &n) < 0 || *p != '\t') {
		*error_r = "request value's time is not a number";
		return -1;
	}
	entry->requested = (int64_t)n;
	p++;
	if (strncmp(p, REQUEST_STATE_QUEUED "\t",
		    sizeof(REQUEST_STATE_QUEUED)) != 0) {
		*error_r = "request value has an unknown state";
		return -1;
	}
	p += sizeof(REQUEST_STATE_QUEUED);
	for (int o = REQUEST_ORIGIN_FOLDER; o <= REQUEST_ORIGIN_LAST; o++) {
		if (strcmp(p, request_origins[o]) == 0) {
			entry->origin = (enum request_origin)o;
			return 0;
		}
	}
	*error_r = "request value has an unknown origin";
	return -1;
}

int64_t
request_day(int64_t t)
{
	/* Floor division: a time before 1970 still falls in its day. */
	return t >= 0 ? t / SECONDS_PER_DAY :
		-((-t + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY);
}

size_t
request_count_encode(int64_t day, unsigned int count, char *buf,
		     size_t size)
{
	int n = snprintf(buf, size, "%s\t%" PRId64 "\t%u",
			 REQUEST_VALUE_VERSION, day < 0 ? (int64_t)0 : day,
			 count);

	return n < 0 ? size : (size_t)n;
}

int
request_count_decode(const char *value, int64_t day, unsigned int *count_r,
		     const char **error_r)
{
	const char *p;
	uint64_t value_day, count;

	if (strncmp(value, REQUEST_VALUE_VERSION "\t", 2) != 0) {
		*error_r = "request counter has an unknown version";
		return -1;
	}
	if (parse_number(value + 2, &p, INT64_MAX, &value_day) < 0 ||
	    *p != '\t' || parse_number(p + 1, &p, UINT32_MAX, &count) < 0 ||
	    *p != '\0') {
		*error_r = "request counter is malformed";
		return -1;
	}
	*count_r = (int64_t)value_day == day ? (unsigned int)count : 0;
	return 0;
}
