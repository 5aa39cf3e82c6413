/*
 * Rebuilding pending entries from mailboxes (see shipmail-sync.h).
 *
 * The user's existing rows are read once into a hash keyed by dict key;
 * each synced mailbox is searched for unshipped mail, each message's
 * entry is computed as the mail plugin would compute it and compared
 * with its row as encoded text.  All writes go into one dict
 * transaction, committed at the end.
 *
 * Not done: mailboxes are read whole; a recalc of a very large mailbox
 * reads every header once (the mail plugin never needs to).
 */
#include "lib.h"
#include "array.h"
#include "hash.h"
#include "dict.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "mail-search-build.h"
#include "shipmail-settings.h"
#include "shipmail-index.h"
#include "shipmail-entry.h"
#include "shipmail-sync.h"

struct shipmail_sync_row {
	struct shipmail_index_row row;
	bool seen;
};

struct shipmail_sync_context {
	pool_t pool;
	struct dict *dict;
	const struct shipmail_settings *set;
	struct mail_user *user;
	struct dict_transaction_context *trans;
	enum shipmail_sync_flags flags;

	/* dict key => struct shipmail_sync_row */
	HASH_TABLE(const char *, struct shipmail_sync_row *) rows;

	shipmail_sync_report_t *report;
	void *report_context;
	struct shipmail_sync_result result;
};

const char *shipmail_sync_change_name(enum shipmail_sync_change change)
{
	switch (change) {
	case SHIPMAIL_SYNC_ADDED:
		return "added";
	case SHIPMAIL_SYNC_REMOVED:
		return "removed";
	case SHIPMAIL_SYNC_UPDATED:
		return "updated";
	}
	i_unreached();
}

struct shipmail_sync_context *
shipmail_sync_begin(struct dict *dict, const struct shipmail_settings *set,
		    struct mail_user *user, const char *guid,
		    enum shipmail_sync_flags flags,
		    shipmail_sync_report_t *report, void *report_context,
		    const char **error_r)
{
	struct shipmail_sync_context *ctx;
	ARRAY_TYPE(shipmail_index_row) rows;
	const struct shipmail_index_row *row;
	struct shipmail_sync_row *srow;
	const char *prefix;
	pool_t pool;

	prefix = shipmail_index_prefix(user->username, guid);
	if (prefix == NULL) {
		*error_r = "user name cannot be an index key";
		return NULL;
	}

	pool = pool_alloconly_create("shipmail sync", 4096);
	ctx = p_new(pool, struct shipmail_sync_context, 1);
	ctx->pool = pool;
	ctx->dict = dict;
	ctx->set = set;
	ctx->user = user;
	ctx->flags = flags;
	ctx->report = report;
	ctx->report_context = report_context;
	hash_table_create(&ctx->rows, pool, 0, str_hash, strcmp);

	p_array_init(&rows, pool, 16);
	if (shipmail_index_read(dict, user->username, prefix, pool, &rows,
				&ctx->result.bad, error_r) < 0) {
		hash_table_destroy(&ctx->rows);
		pool_unref(&pool);
		return NULL;
	}
	array_foreach(&rows, row) {
		srow = p_new(pool, struct shipmail_sync_row, 1);
		srow->row = *row;
		hash_table_update(ctx->rows, srow->row.key, srow);
	}
	ctx->trans = dict_transaction_begin(dict,
					    mail_user_get_dict_op_settings(user));
	return ctx;
}

/* Write one message's entry unless its row already says the same. */
static void
shipmail_sync_message(struct shipmail_sync_context *ctx,
		      struct pending_entry *entry)
{
	struct shipmail_sync_row *srow;
	const char *key, *value, *old_value;

	key = shipmail_index_key(entry->user, entry->guid, entry->uid);
	srow = hash_table_lookup(ctx->rows, key);
	if (srow != NULL) {
		srow->seen = TRUE;
		/* A request is the index's own state: keep it. */
		entry->flags |= srow->row.entry.flags & PENDING_FLAG_REQUESTED;
		old_value = shipmail_index_value(&srow->row.entry);
	} else if ((ctx->flags & SHIPMAIL_SYNC_FLAG_ADD) == 0) {
		return;
	} else {
		old_value = NULL;
	}
	value = shipmail_index_value(entry);
	if (old_value != NULL && strcmp(old_value, value) == 0) {
		ctx->result.kept++;
		return;
	}

	if (old_value == NULL) {
		ctx->result.added++;
		ctx->report(SHIPMAIL_SYNC_ADDED, entry, ctx->report_context);
	} else {
		ctx->result.updated++;
		ctx->report(SHIPMAIL_SYNC_UPDATED, entry, ctx->report_context);
	}
	dict_set(ctx->trans, key, value);
}

static struct mail_search_args *shipmail_sync_search_args(void)
{
	struct mail_search_args *args = mail_search_build_init();

	mail_search_build_add_all(args);
	return args;
}

/* Sync the mailbox and learn what every entry of it holds. */
static int
shipmail_sync_open(struct mailbox *box, const char **guid_r,
		   uint32_t *uidvalidity_r, const char **error_r)
{
	struct mailbox_status status;
	const char *error;

	if (mailbox_sync(box, 0) < 0) {
		*error_r = t_strdup_printf("mailbox %s: %s",
			mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
		return -1;
	}
	if (shipmail_mailbox_guid(box, guid_r, &error) < 0) {
		*error_r = error;
		return -1;
	}
	mailbox_get_open_status(box, STATUS_UIDVALIDITY, &status);
	*uidvalidity_r = status.uidvalidity;
	return 0;
}

/* Compare one message of the mailbox with its row. */
static void
shipmail_sync_mail(struct shipmail_sync_context *ctx, struct mail *mail,
		   const char *guid, uint32_t uidvalidity)
{
	struct pending_entry entry;
	const char *error;

	if (shipmail_mail_is_shipped(mail, ctx->set->keyword))
		return;
	i_zero(&entry);
	if (shipmail_entry_fill(mail, ctx->set, &entry, &error) < 0) {
		/* Expunged meanwhile, most likely: its row goes. */
		i_warning("shipmail: %s UID %u skipped: %s",
			  mailbox_get_vname(mail->box), mail->uid, error);
		return;
	}
	entry.user = ctx->user->username;
	memcpy(entry.guid, guid, PENDING_GUID_LEN + 1);
	entry.uid = mail->uid;
	entry.uidvalidity = uidvalidity;
	shipmail_sync_message(ctx, &entry);
}

int shipmail_sync_mailbox(struct shipmail_sync_context *ctx,
			  struct mailbox *box, const char **error_r)
{
	struct mailbox_transaction_context *t;
	struct mailbox_header_lookup_ctx *headers;
	struct mail_search_args *args;
	struct mail_search_context *search;
	struct mail *mail;
	const char *guid;
	uint32_t uidvalidity;
	int ret = 0;

	if (shipmail_sync_open(box, &guid, &uidvalidity, error_r) < 0)
		return -1;
	i_assert(strlen(guid) == PENDING_GUID_LEN);

	/* NO_NOTIFY: reading is all this does, the plugin has no part. */
	t = mailbox_transaction_begin(box, MAILBOX_TRANSACTION_FLAG_NO_NOTIFY,
				      "shipmail sync");
	headers = mailbox_header_lookup_init(box, shipmail_entry_headers);
	args = shipmail_sync_search_args();
	search = mailbox_search_init(t, args, NULL,
				     SHIPMAIL_ENTRY_FETCH_FIELDS, headers);
	mail_search_args_unref(&args);
	mailbox_header_lookup_unref(&headers);

	while (mailbox_search_next(search, &mail))
		shipmail_sync_mail(ctx, mail, guid, uidvalidity);
	if (mailbox_search_deinit(&search) < 0) {
		*error_r = t_strdup_printf("mailbox %s: search failed: %s",
			mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
		ret = -1;
	}
	(void)mailbox_transaction_commit(&t);
	return ret;
}

int shipmail_sync_end(struct shipmail_sync_context **_ctx,
		      struct shipmail_sync_result *result_r,
		      const char **error_r)
{
	struct shipmail_sync_context *ctx = *_ctx;
	struct hash_iterate_context *iter;
	struct shipmail_sync_row *srow;
	const char *key;
	int ret;

	*_ctx = NULL;
	iter = hash_table_iterate_init(ctx->rows);
	while (hash_table_iterate(iter, ctx->rows, &key, &srow)) {
		if (srow->seen || (ctx->flags & SHIPMAIL_SYNC_FLAG_REMOVE) == 0)
			continue;
		ctx->result.removed++;
		ctx->report(SHIPMAIL_SYNC_REMOVED, &srow->row.entry,
			    ctx->report_context);
		dict_unset(ctx->trans, key);
	}
	hash_table_iterate_deinit(&iter);

	ret = shipmail_index_commit(&ctx->trans, error_r);
	*result_r = ctx->result;
	hash_table_destroy(&ctx->rows);
	pool_unref(&ctx->pool);
	return ret;
}
