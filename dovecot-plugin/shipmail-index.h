#ifndef SHIPMAIL_INDEX_H
#define SHIPMAIL_INDEX_H

/*
 * The pending index as Dovecot sees it: a dict holding one entry per
 * pending message, keyed and encoded as common/pending.h says.  This
 * file opens the dict, names keys and reads a prefix back into decoded
 * rows; writing is plain dict_set()/dict_unset() by the callers.
 *
 * Reading trusts nothing: a row whose key or value does not decode is
 * counted and left out, never half-used.
 */

#include "common/pending.h"

struct dict;
struct event;

struct shipmail_index_row {
	/* Decoded; strings belong to the pool given to the reader. */
	struct pending_entry entry;
	const char *key;
};
ARRAY_DEFINE_TYPE(shipmail_index_row, struct shipmail_index_row);

/* Open the dict at uri.  Returns 0, or -1 with *error_r set. */
int shipmail_index_open(const char *uri, const char *base_dir,
			struct event *event_parent, struct dict **dict_r,
			const char **error_r);

/* The key of one entry, or NULL if the user name cannot be a key
   (empty or too long).  On the data stack. */
const char *shipmail_index_key(const char *user, const char *guid,
			       uint32_t uid);

/* The prefix of a user's entries, or of their entries in one mailbox
   when guid is not NULL.  NULL if the user name cannot be a key. */
const char *shipmail_index_prefix(const char *user, const char *guid);

/* An entry's value on the data stack. */
const char *shipmail_index_value(const struct pending_entry *entry);

/*
 * Read every row under prefix (PENDING_DICT_PREFIX for all users) into
 * rows, allocated from pool.  *bad_r counts rows that did not decode.
 * Returns 0, or -1 with *error_r set when the iteration failed.
 */
int shipmail_index_read(struct dict *dict, const char *username,
			const char *prefix, pool_t pool,
			ARRAY_TYPE(shipmail_index_row) *rows,
			unsigned int *bad_r, const char **error_r);

/* Commit a transaction and wait for it: 0, or -1 with *error_r set. */
int shipmail_index_commit(struct dict_transaction_context **trans,
			  const char **error_r);

/* qsort order of rows: oldest first, then user, mailbox and UID. */
int shipmail_index_row_cmp(const struct shipmail_index_row *a,
			   const struct shipmail_index_row *b);

#endif
