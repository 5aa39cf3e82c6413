#ifndef SHIPMAIL_PENDING_H
#define SHIPMAIL_PENDING_H

/*
 * The pending index: one dict entry per message that waits on shore to
 * be shipped.  This file defines the entry's key and value encoding,
 * shared by the Dovecot plugin that writes entries, doveadm shipmail
 * and shipmail-shore that read them.  It needs neither Dovecot nor
 * Postfix, so it can be tested and fuzzed alone.
 *
 * Key:    shared/shipmail/pending/<user>/<mailbox GUID>/<UID>
 *         <user> is percent-encoded: every byte outside A-Z a-z 0-9 and
 *         "@._+-" becomes %HH, so "/" and "%" cannot split or fake a key.
 *         The GUID is 32 lower-case hex digits.  Entries live under
 *         shared/ so that one iteration lists every user's pending mail.
 *
 * Value:  one line of tab-separated fields, version first:
 *         1 <uidvalidity> <size> <received> <flags> <handle> <mailbox>
 *           <from> <subject>
 *         flags is "-" or letters: o = oversize, r = requested.
 *         handle is "-" when the message has none.  Text fields escape
 *         backslash, tab, CR, LF and other control bytes (\\ \t \r \n
 *         \xHH) and are cut to PENDING_TEXT_MAX bytes on a UTF-8
 *         character boundary.  A decoder refuses unknown versions, a
 *         wrong field count and malformed numbers or escapes.
 */

#include <stddef.h>
#include <stdint.h>

#define PENDING_DICT_PREFIX	"shared/shipmail/pending/"
#define PENDING_GUID_LEN	32
#define PENDING_TEXT_MAX	200
#define PENDING_USER_MAX	255
/* Longest key: prefix + user encoded 3x + guid + uid + separators. */
#define PENDING_KEY_MAX		(sizeof(PENDING_DICT_PREFIX) + \
				 3 * PENDING_USER_MAX + PENDING_GUID_LEN + 16)

enum pending_flags {
	PENDING_FLAG_OVERSIZE	= 0x01,
	PENDING_FLAG_REQUESTED	= 0x02,
};

struct pending_entry {
	/* From the key */
	const char *user;
	char guid[PENDING_GUID_LEN + 1];
	uint32_t uid;

	/* From the value */
	uint32_t uidvalidity;
	uint64_t size;
	int64_t received;		/* Unix time the message arrived */
	unsigned int flags;		/* enum pending_flags */
	const char *handle;		/* "" when none */
	const char *mailbox;		/* name when indexed; may be renamed */
	const char *from;
	const char *subject;
};

/*
 * Write the key for (user, guid, uid) into buf.  Returns the key's
 * length, or 0 if the user name is empty or longer than
 * PENDING_USER_MAX, or the GUID is not 32 hex digits, or buf is short.
 */
size_t pending_key_build(char *buf, size_t size, const char *user,
			 const char *guid, uint32_t uid);

/* The prefix that holds one user's entries ("...pending/<user>/"). */
size_t pending_key_user_prefix(char *buf, size_t size, const char *user);

/*
 * Parse a key into entry->guid and entry->uid, and the decoded user name
 * into user_buf (which entry->user then points to).  Returns 0, or -1
 * with *error_r set.
 */
int pending_key_parse(const char *key, struct pending_entry *entry,
		      char *user_buf, size_t user_buf_size,
		      const char **error_r);

/*
 * Percent-decode the user part [p, end) of a key into user_buf.  Returns
 * 0, or -1 when it is empty, has a bad escape, a byte that is never left
 * unescaped, a NUL, or is longer than PENDING_USER_MAX or the buffer.
 */
int pending_user_decode(const char *p, const char *end, char *user_buf,
			size_t user_buf_size);

/*
 * Encode the value fields of entry into buf, NUL-terminated.  Returns
 * the length the value needs, like snprintf: if it is >= size, buf was
 * too small and holds a cut value.  Never more than PENDING_VALUE_MAX.
 */
#define PENDING_VALUE_MAX	(4 * 3 * PENDING_TEXT_MAX + 128)
size_t pending_value_encode(const struct pending_entry *entry, char *buf,
			    size_t size);

/*
 * Decode a value in place: value is modified and entry's text fields
 * point into it.  Returns 0, or -1 with *error_r set.
 */
int pending_value_decode(char *value, struct pending_entry *entry,
			 const char **error_r);

/* Non-zero when str is exactly 32 lower-case hex digits. */
int pending_guid_is_valid(const char *str);

#endif
