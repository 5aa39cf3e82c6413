#ifndef SHIPMAIL_REQUEST_H
#define SHIPMAIL_REQUEST_H

/*
 * Requests for held mail, queued on the ship: one dict entry per
 * (user, handle) that a crew member asked for, waiting for
 * shipmail-fetch to hand it to the shore, and one counter per user of
 * the requests made today, for the daily limit.  This file defines the
 * keys and values, shared by the Dovecot plugin that writes them and
 * doveadm shipmail requests|requests-sent that read and remove them.
 * It needs neither Dovecot nor Postfix.
 *
 * Request key:   shared/shipmail/request/<user>/<handle>
 * Request value: 1 <requested> <state> <origin>  (tab-separated)
 *                requested is Unix time; state is "queued" (the only
 *                state so far: sent requests are removed); origin is
 *                how it was asked: "folder" or "keyword" by the crew,
 *                "admin" by doveadm shipmail requests-add (not counted
 *                against the daily limit).
 * Counter key:   shared/shipmail/request-count/<user>
 * Counter value: 1 <day> <count>
 *                day is the UTC day (days since 1970-01-01) the count
 *                belongs to; a counter of an earlier day counts 0.
 *
 * <user> is percent-encoded as in pending.h.  The counter lives under
 * its own prefix so that iterating the requests never meets it (the
 * SQL dict of Dovecot 2.3 cannot iterate a prefix that mixes maps).
 * Decoders refuse unknown versions, states and origins, and malformed
 * numbers or handles.
 */

#include <stddef.h>
#include <stdint.h>

#include "handle.h"
#include "pending.h"

#define REQUEST_DICT_PREFIX	"shared/shipmail/request/"
#define REQUEST_COUNT_PREFIX	"shared/shipmail/request-count/"
#define REQUEST_KEY_MAX		(sizeof(REQUEST_COUNT_PREFIX) + \
				 3 * PENDING_USER_MAX + \
				 SHIPMAIL_HANDLE_LEN + 2)
#define REQUEST_VALUE_MAX	64

enum request_origin {
	REQUEST_ORIGIN_FOLDER = 1,
	REQUEST_ORIGIN_KEYWORD,
	REQUEST_ORIGIN_ADMIN,
};

struct request_entry {
	/* From the key */
	const char *user;
	char handle[SHIPMAIL_HANDLE_LEN + 1];

	/* From the value */
	int64_t requested;
	enum request_origin origin;
};

/* "folder", "keyword" or "admin". */
const char *request_origin_name(enum request_origin origin);

/* Write the key of (user, handle).  Returns its length, or 0 when the
   user cannot be a key, the handle is malformed or buf is short. */
size_t request_key_build(char *buf, size_t size, const char *user,
			 const char *handle);

/* The prefix of one user's requests ("...request/<user>/"), or 0. */
size_t request_key_user_prefix(char *buf, size_t size, const char *user);

/* Parse a request key into entry->handle and the decoded user into
   user_buf (entry->user points to it).  0, or -1 with *error_r set. */
int request_key_parse(const char *key, struct request_entry *entry,
		      char *user_buf, size_t user_buf_size,
		      const char **error_r);

/* Encode entry's value into buf; returns the length needed, as
   snprintf does (>= size: buf was short and holds a cut value). */
size_t request_value_encode(const struct request_entry *entry, char *buf,
			    size_t size);

/* Decode a request value into entry.  0, or -1 with *error_r set. */
int request_value_decode(const char *value, struct request_entry *entry,
			 const char **error_r);

/* The key of a user's counter, or 0 (as request_key_build). */
size_t request_count_key_build(char *buf, size_t size, const char *user);

/* The UTC day number of Unix time t. */
int64_t request_day(int64_t t);

size_t request_count_encode(int64_t day, unsigned int count, char *buf,
			    size_t size);

/* The count of day held by value: that of the value when it is for the
   same day, 0 for another day.  0, or -1 with *error_r set. */
int request_count_decode(const char *value, int64_t day,
			 unsigned int *count_r, const char **error_r);

#endif
