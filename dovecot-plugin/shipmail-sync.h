#ifndef SHIPMAIL_SYNC_H
#define SHIPMAIL_SYNC_H

/*
 * Bringing the pending index in line with the mailboxes, which are the
 * truth: every message in a shipped mailbox without the shipped keyword
 * has exactly one entry, with the values it would get if it were saved
 * now, and nothing else has one.  A "requested" mark is index-only
 * state and survives.  Used by doveadm shipmail recalc for whole users
 * and by the mail plugin when a mailbox changes under its entries
 * (UIDVALIDITY update, rename).
 *
 *   ctx = shipmail_sync_begin(...);        reads the user's rows
 *   shipmail_sync_mailbox(ctx, box);       for each shipped mailbox
 *   shipmail_sync_end(&ctx, ...);          drops rows no mailbox claimed,
 *                                          commits
 *
 * Without SHIPMAIL_SYNC_FLAG_ADD and _REMOVE only rows that exist are
 * rewritten: what the mail plugin does when a mailbox changes under its
 * entries, where adding could bring back an entry that a replica's
 * shore already removed.
 */

struct dict;
struct mailbox;
struct mail_user;
struct pending_entry;
struct shipmail_settings;
struct shipmail_sync_context;

enum shipmail_sync_change {
	SHIPMAIL_SYNC_ADDED,
	SHIPMAIL_SYNC_REMOVED,
	SHIPMAIL_SYNC_UPDATED,
};

enum shipmail_sync_flags {
	/* Add rows for unshipped mail that has none. */
	SHIPMAIL_SYNC_FLAG_ADD		= 0x01,
	/* Remove rows that no synced mailbox claimed. */
	SHIPMAIL_SYNC_FLAG_REMOVE	= 0x02,
};
#define SHIPMAIL_SYNC_FLAGS_ALL \
	(SHIPMAIL_SYNC_FLAG_ADD | SHIPMAIL_SYNC_FLAG_REMOVE)

struct shipmail_sync_result {
	unsigned int added, removed, updated, kept, bad;
};

/* Called for each change before it is written. */
typedef void shipmail_sync_report_t(enum shipmail_sync_change change,
				    const struct pending_entry *entry,
				    void *context);

/* Start syncing a user's rows, or only one mailbox's rows when guid is
   not NULL.  Returns NULL with *error_r set if the rows can't be read. */
struct shipmail_sync_context *
shipmail_sync_begin(struct dict *dict, const struct shipmail_settings *set,
		    struct mail_user *user, const char *guid,
		    enum shipmail_sync_flags flags,
		    shipmail_sync_report_t *report, void *report_context,
		    const char **error_r);

/* Bring one shipped mailbox's rows in line.  Returns 0, or -1 with
   *error_r set (the rest of the sync can go on). */
int shipmail_sync_mailbox(struct shipmail_sync_context *ctx,
			  struct mailbox *box, const char **error_r);

/* Remove the rows no synced mailbox claimed and commit.  Returns 0, or
   -1 with *error_r set; *result_r is filled either way. */
int shipmail_sync_end(struct shipmail_sync_context **ctx,
		      struct shipmail_sync_result *result_r,
		      const char **error_r);

const char *shipmail_sync_change_name(enum shipmail_sync_change change);

#endif
