#ifndef SHIPMAIL_ENTRY_H
#define SHIPMAIL_ENTRY_H

/*
 * What the pending index says about one message, taken from the
 * message itself through lib-storage: size, received time, From and
 * Subject (RFC 2047 decoded, on one line), the milter's handle and the
 * oversize mark.  The mail plugin calls it as mail is saved, recalc as
 * it rebuilds; both must produce the same entry for the same message,
 * or recalc would see drift where there is none.
 */

#include "common/pending.h"

struct mail;
struct mailbox;
struct shipmail_settings;

/* The fields lib-storage should prefetch for shipmail_entry_fill(). */
#define SHIPMAIL_ENTRY_FETCH_FIELDS \
	(MAIL_FETCH_RECEIVED_DATE | MAIL_FETCH_VIRTUAL_SIZE)
extern const char *const shipmail_entry_headers[];

/* The mailbox's GUID as 32 hex digits (data stack).  Returns 0, or -1
   with *error_r set. */
int shipmail_mailbox_guid(struct mailbox *box, const char **guid_r,
			  const char **error_r);

/* TRUE when the mail carries the shipped keyword. */
bool shipmail_mail_is_shipped(struct mail *mail, const char *keyword);

/*
 * Fill entry from mail; strings are on the data stack.  user, guid, uid
 * and uidvalidity are left for the caller (a saved mail has no UID
 * yet).  Returns 0, or -1 with *error_r set when the mail could not be
 * read (expunged meanwhile, I/O error).
 */
int shipmail_entry_fill(struct mail *mail, const struct shipmail_settings *set,
			struct pending_entry *entry, const char **error_r);

#endif
