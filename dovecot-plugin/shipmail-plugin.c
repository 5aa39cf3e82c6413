/*
 * The shipmail mail plugin: keeps the pending index up to date as mail
 * comes and goes, through the notify plugin's hooks.
 *
 * - A message saved or copied into a shipped mailbox (LMTP and LDA
 *   delivery, IMAP APPEND and COPY/MOVE, doveadm save) gets an entry,
 *   written when its transaction commits: only then are UIDs known, so
 *   every transaction asks for them (MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS)
 *   and the saves are matched in order with changes->saved_uids.
 * - Expunging a message (also when its mailbox is deleted) or giving it
 *   the shipped keyword removes the entry; taking the keyword away
 *   brings it back.
 * - Entries are keyed by mailbox GUID, so they survive a rename.  A
 *   UIDVALIDITY update or a rename between shipped names rewrites the
 *   mailbox's existing entries; a rename into or out of
 *   shipmail_mailboxes adds or drops them.
 *
 * Not done here, on purpose: replication (dsync) transactions are
 * skipped so that replicas sharing one index do not write it twice;
 * autocreated users (LMTP's raw user, shared-namespace owners) and
 * non-private namespaces are ignored.  Changes made outside lib-storage
 * (files removed by hand, a plugin not loaded) are not seen: doveadm
 * shipmail recalc repairs those.
 *
 * XXX a rename is seen for the renamed mailbox only: the children it
 * takes along keep the old names in their entries (and stay or stop
 * being shipped by their old names) until recalc runs.
 *
 * A bad setting or an unreachable index is logged and the mail goes on:
 * the index is rebuilt by recalc, delivery is never refused for it.
 * Writes are asynchronous over one index connection per process, waited
 * for only when the process ends: LMTP answers before the entry is on
 * the database's disk.  XXX an entry whose write fails after LMTP
 * answered is only logged: recalc must repair it.
 */
#include "lib.h"
#include "array.h"
#include "seq-range-array.h"
#include "dict.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "notify-plugin.h"
#include "shipmail-settings.h"
#include "shipmail-text.h"
#include "shipmail-index.h"
#include "shipmail-entry.h"
#include "shipmail-sync.h"
#include "shipmail-request.h"
#include "shipmail-plugin.h"

#define SHIPMAIL_USER_CONTEXT(obj) \
	MODULE_CONTEXT(obj, shipmail_user_module)

struct shipmail_user {
	union mail_user_module_context module_ctx;
	struct shipmail_settings *set;
	/* One of shipmail_dicts: not the user's to close. */
	struct dict *dict;
};

/* An index connection, shared by every user of the process with the
   same shipmail_dict. */
struct shipmail_dict {
	char *uri, *base_dir;
	struct dict *dict;
};

/* A change to write at commit: a full entry to set, or a UID to unset. */
struct shipmail_change {
	struct pending_entry entry;
	bool unset;
};

struct shipmail_txn {
	pool_t pool;
	struct mail_user *user;
	struct shipmail_user *suser;
	struct mailbox *box;
	const char *guid;
	/* The headers an entry needs, asked for all at once (lazily). */
	struct mailbox_header_lookup_ctx *headers;

	/* Saved and copied mail in save order; entry.uid comes at commit.
	   A shipped one keeps its place (skip) so the order still matches
	   changes->saved_uids. */
	ARRAY(struct shipmail_change) saves;
	/* Expunges and keyword changes of existing mail, in order. */
	ARRAY(struct shipmail_change) changes;
};

const char *shipmail_plugin_version = DOVECOT_ABI_VERSION;
const char *shipmail_plugin_dependencies[] = { "notify", NULL };

static MODULE_CONTEXT_DEFINE_INIT(shipmail_user_module,
				  &mail_user_module_register);
static struct notify_context *shipmail_notify_ctx;
static ARRAY(struct shipmail_dict) shipmail_dicts;

static const char *shipmail_user_getenv(const char *name, void *context)
{
	return mail_user_plugin_getenv(context, name);
}

/*
 * The index connection for uri, opened on first use and kept until the
 * process ends.  Writes are asynchronous and nobody waits for them when
 * a user is done: an LMTP delivery does not wait for the database's
 * disk, and the process waits for what is left when it exits.
 */
static int
shipmail_dict_get(const char *uri, const char *base_dir, struct dict **dict_r,
		  const char **error_r)
{
	struct shipmail_dict *sdict;

	if (!array_is_created(&shipmail_dicts))
		i_array_init(&shipmail_dicts, 2);
	array_foreach_modifiable(&shipmail_dicts, sdict) {
		if (strcmp(sdict->uri, uri) == 0 &&
		    strcmp(sdict->base_dir, base_dir) == 0) {
			*dict_r = sdict->dict;
			return 0;
		}
	}

	/* No event parent: the connection outlives the user. */
	if (shipmail_index_open(uri, base_dir, NULL, dict_r, error_r) < 0)
		return -1;
	sdict = array_append_space(&shipmail_dicts);
	sdict->uri = i_strdup(uri);
	sdict->base_dir = i_strdup(base_dir);
	sdict->dict = *dict_r;
	return 0;
}

static void shipmail_dicts_deinit(void)
{
	struct shipmail_dict *sdict;

	if (!array_is_created(&shipmail_dicts))
		return;
	array_foreach_modifiable(&shipmail_dicts, sdict) {
		dict_wait(sdict->dict);
		dict_deinit(&sdict->dict);
		i_free(sdict->uri);
		i_free(sdict->base_dir);
	}
	array_free(&shipmail_dicts);
}

static void shipmail_mail_user_created(struct mail_user *user)
{
	struct shipmail_user *suser;
	struct shipmail_settings *set;
	struct dict *dict;
	const char *error;

	if (user->autocreated)
		return;
	if (shipmail_settings_read(user->pool, shipmail_user_getenv, user,
				   &set, &error) < 0 ||
	    shipmail_dict_get(set->dict_uri, user->set->base_dir,
			      &dict, &error) < 0) {
		/* Logged for every session: the admin must see it. */
		e_error(user->event, "shipmail: %s: pending index not "
			"updated, mail is not affected", error);
		return;
	}

	/* No vfuncs of the user are overridden: the connection is not
	   the user's to close. */
	suser = p_new(user->pool, struct shipmail_user, 1);
	suser->set = set;
	suser->dict = dict;
	MODULE_CONTEXT_SET(user, shipmail_user_module, suser);
}

bool shipmail_user_lookup(struct mail_user *user,
			  const struct shipmail_settings **set_r,
			  struct dict **dict_r)
{
	struct shipmail_user *suser = SHIPMAIL_USER_CONTEXT(user);

	if (suser == NULL)
		return FALSE;
	*set_r = suser->set;
	*dict_r = suser->dict;
	return TRUE;
}

/* The user whose index entries a mailbox's mail has, or NULL when the
   mailbox is not one whose mail is shipped. */
static struct shipmail_user *shipmail_box_user(struct mailbox *box)
{
	struct mail_user *user = mailbox_get_namespace(box)->user;
	struct shipmail_user *suser = SHIPMAIL_USER_CONTEXT(user);

	if (suser == NULL)
		return NULL;
	if (mailbox_get_namespace(box)->type != MAIL_NAMESPACE_TYPE_PRIVATE)
		return NULL;
	if (!shipmail_settings_mailbox_wanted(suser->set,
					      mailbox_get_vname(box)))
		return NULL;
	return suser;
}

/* --- mail transactions ------------------------------------------- */

static void *
shipmail_transaction_begin(struct mailbox_transaction_context *t)
{
	struct shipmail_user *suser;
	struct shipmail_txn *txn;
	pool_t pool;

	if ((t->flags & MAILBOX_TRANSACTION_FLAG_SYNC) != 0)
		return NULL;
	suser = shipmail_box_user(t->box);
	if (suser == NULL)
		return NULL;

	/* Saved mail's UIDs are needed at commit. */
	t->flags |= MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS;

	pool = pool_alloconly_create("shipmail txn", 1024);
	txn = p_new(pool, struct shipmail_txn, 1);
	txn->pool = pool;
	txn->suser = suser;
	txn->box = t->box;
	txn->user = mailbox_get_namespace(t->box)->user;
	p_array_init(&txn->saves, pool, 4);
	p_array_init(&txn->changes, pool, 4);
	return txn;
}

static void shipmail_txn_free(struct shipmail_txn *txn)
{
	if (txn->headers != NULL)
		mailbox_header_lookup_unref(&txn->headers);
	pool_unref(&txn->pool);
}

/* Read the entry's fields of mail in one pass over its header. */
static int
shipmail_txn_fill(struct shipmail_txn *txn, struct mail *mail,
		  struct pending_entry *entry, const char **error_r)
{
	const char *const *names = shipmail_entry_headers;

	if (txn->headers == NULL)
		txn->headers = mailbox_header_lookup_init(txn->box, names);
	mail_add_temp_wanted_fields(mail, SHIPMAIL_ENTRY_FETCH_FIELDS,
				    txn->headers);
	return shipmail_entry_fill(mail, txn->suser->set, entry, error_r);
}

/* The mailbox GUID, looked up once per transaction; NULL on error,
   which is logged. */
static const char *shipmail_txn_guid(struct shipmail_txn *txn)
{
	const char *guid, *error;

	if (txn->guid != NULL)
		return txn->guid;
	if (shipmail_mailbox_guid(txn->box, &guid, &error) < 0) {
		e_error(txn->user->event, "shipmail: %s", error);
		return NULL;
	}
	txn->guid = p_strdup(txn->pool, guid);
	return txn->guid;
}

/* Copy an entry's strings from the data stack into the txn's pool. */
static void
shipmail_txn_keep(struct shipmail_txn *txn, struct pending_entry *entry)
{
	entry->handle = p_strdup(txn->pool, entry->handle);
	entry->mailbox = p_strdup(txn->pool, entry->mailbox);
	entry->from = p_strdup(txn->pool, entry->from);
	entry->subject = p_strdup(txn->pool, entry->subject);
}

/* Record a new or copied message; skip marks one that is not pending
   but still holds a place in the order of saved UIDs. */
static void shipmail_record_new(struct shipmail_txn *txn, struct mail *mail)
{
	struct shipmail_change *change;
	const char *error;

	change = array_append_space(&txn->saves);
	if (shipmail_mail_is_shipped(mail, txn->suser->set->keyword)) {
		change->unset = TRUE;
		return;
	}
	if (shipmail_txn_fill(txn, mail, &change->entry, &error) < 0) {
		e_error(txn->user->event, "shipmail: %s: %s",
			mailbox_get_vname(txn->box), error);
		change->unset = TRUE;
		return;
	}
	shipmail_txn_keep(txn, &change->entry);
}

static void shipmail_mail_save(void *_txn, struct mail *mail)
{
	struct shipmail_txn *txn = _txn;

	if (txn != NULL) T_BEGIN {
		shipmail_record_new(txn, mail);
	} T_END;
}

static void
shipmail_mail_copy(void *_txn, struct mail *src ATTR_UNUSED,
		   struct mail *dst)
{
	shipmail_mail_save(_txn, dst);
}

static void shipmail_record_unset(struct shipmail_txn *txn, uint32_t uid)
{
	struct shipmail_change *change;

	if (uid == 0)
		return;
	change = array_append_space(&txn->changes);
	change->entry.uid = uid;
	change->unset = TRUE;
}

static void shipmail_mail_expunge(void *_txn, struct mail *mail)
{
	struct shipmail_txn *txn = _txn;

	if (txn != NULL)
		shipmail_record_unset(txn, mail->uid);
}

/* An existing message that lost the shipped keyword: pending again. */
static void shipmail_record_unshipped(struct shipmail_txn *txn,
				      struct mail *mail)
{
	struct shipmail_change *change;
	struct pending_entry entry;
	const char *error;

	i_zero(&entry);
	if (shipmail_txn_fill(txn, mail, &entry, &error) < 0) {
		e_error(txn->user->event, "shipmail: %s UID %u: %s",
			mailbox_get_vname(txn->box), mail->uid, error);
		return;
	}
	entry.uid = mail->uid;
	shipmail_txn_keep(txn, &entry);
	change = array_append_space(&txn->changes);
	change->entry = entry;
}

static void
shipmail_mail_update_keywords(void *_txn, struct mail *mail,
			      const char *const *old_keywords)
{
	struct shipmail_txn *txn = _txn;
	const char *keyword;
	bool was, is;

	/* Mail saved in this transaction has no UID yet; its keywords
	   were looked at when it was saved. */
	if (txn == NULL || mail->uid == 0)
		return;
	keyword = txn->suser->set->keyword;
	was = shipmail_keywords_have(old_keywords, keyword);
	is = shipmail_mail_is_shipped(mail, keyword);
	if (!was && is)
		shipmail_record_unset(txn, mail->uid);
	else if (was && !is) T_BEGIN {
		shipmail_record_unshipped(txn, mail);
	} T_END;
}

/* The commit ends after the user may be gone: the callback gets a copy
   of the name. */
static void shipmail_commit_callback(const struct dict_commit_result *result,
				     char *username)
{
	if (result->ret != DICT_COMMIT_RET_OK &&
	    result->ret != DICT_COMMIT_RET_NOTFOUND) {
		i_error("shipmail: writing the pending index failed for %s: "
			"%s (doveadm shipmail recalc -u %s repairs it)",
			username, result->error, username);
	}
	i_free(username);
}

/* Put one change into the dict transaction. */
static void
shipmail_apply(struct shipmail_txn *txn, struct dict_transaction_context *dt,
	       struct shipmail_change *change, uint32_t uidvalidity)
{
	const char *key;

	key = shipmail_index_key(txn->user->username, txn->guid,
				 change->entry.uid);
	if (key == NULL)
		return;
	if (change->unset) {
		dict_unset(dt, key);
		return;
	}
	change->entry.user = txn->user->username;
	memcpy(change->entry.guid, txn->guid, PENDING_GUID_LEN + 1);
	change->entry.uidvalidity = uidvalidity;
	dict_set(dt, key, shipmail_index_value(&change->entry));
}

/* Give each recorded save its UID, in the order they were saved. */
static void
shipmail_assign_uids(struct shipmail_txn *txn,
		     struct mail_transaction_commit_changes *changes)
{
	struct shipmail_change *saves;
	struct seq_range_iter iter;
	unsigned int i, count;
	uint32_t uid;

	saves = array_get_modifiable(&txn->saves, &count);
	seq_range_array_iter_init(&iter, &changes->saved_uids);
	for (i = 0; i < count; i++) {
		if (!seq_range_array_iter_nth(&iter, i, &uid)) {
			e_error(txn->user->event, "shipmail: %s: "
				"%u saved messages but only %u UIDs: "
				"not indexed", mailbox_get_vname(txn->box),
				count, i);
			array_delete(&txn->saves, i, count - i);
			return;
		}
		saves[i].entry.uid = uid;
	}
}

static void shipmail_write(struct shipmail_txn *txn,
			   struct mail_transaction_commit_changes *changes)
{
	struct dict_transaction_context *dt;
	struct shipmail_change *change;
	struct mailbox_status status;
	uint32_t uidvalidity = changes->uid_validity;

	if (shipmail_txn_guid(txn) == NULL)
		return;
	if (uidvalidity == 0) {
		mailbox_get_open_status(txn->box, STATUS_UIDVALIDITY, &status);
		uidvalidity = status.uidvalidity;
	}
	shipmail_assign_uids(txn, changes);

	dt = dict_transaction_begin(txn->suser->dict,
				    mail_user_get_dict_op_settings(txn->user));
	array_foreach_modifiable(&txn->saves, change) {
		/* A shipped save holds its place but writes nothing. */
		if (!change->unset)
			shipmail_apply(txn, dt, change, uidvalidity);
	}
	array_foreach_modifiable(&txn->changes, change)
		shipmail_apply(txn, dt, change, uidvalidity);
	e_debug(txn->user->event, "shipmail: index mailbox=%s saves=%u "
		"changes=%u", mailbox_get_vname(txn->box),
		array_count(&txn->saves), array_count(&txn->changes));
	dict_transaction_no_slowness_warning(dt);
	dict_transaction_commit_async(&dt, shipmail_commit_callback,
				      i_strdup(txn->user->username));
}

static void
shipmail_transaction_commit(void *_txn,
			    struct mail_transaction_commit_changes *changes)
{
	struct shipmail_txn *txn = _txn;

	if (txn == NULL)
		return;
	if (array_count(&txn->saves) + array_count(&txn->changes) > 0) T_BEGIN {
		shipmail_write(txn, changes);
	} T_END;
	shipmail_txn_free(txn);
}

static void shipmail_transaction_rollback(void *_txn)
{
	struct shipmail_txn *txn = _txn;

	if (txn != NULL)
		shipmail_txn_free(txn);
}

/* --- mailbox changes --------------------------------------------- */

static void
shipmail_sync_report(enum shipmail_sync_change change,
		     const struct pending_entry *entry, void *context)
{
	struct mail_user *user = context;

	e_debug(user->event, "shipmail: resync %s: %s UID %u",
		shipmail_sync_change_name(change), entry->mailbox, entry->uid);
}

/* Bring the entries of box's mailbox GUID in line with box: all of
   them when wanted, or only those that exist (flags 0); none at all
   when box is not shipped. */
static void
shipmail_resync(struct mail_user *user, struct mailbox *box, bool wanted,
		enum shipmail_sync_flags flags)
{
	struct shipmail_user *suser = SHIPMAIL_USER_CONTEXT(user);
	struct shipmail_sync_context *ctx;
	struct shipmail_sync_result result;
	const char *guid, *error;

	if (shipmail_mailbox_guid(box, &guid, &error) < 0) {
		e_error(user->event, "shipmail: %s", error);
		return;
	}
	ctx = shipmail_sync_begin(suser->dict, suser->set, user, guid, flags,
				  shipmail_sync_report, user, &error);
	if (ctx == NULL) {
		e_error(user->event, "shipmail: %s", error);
		return;
	}
	if (wanted && shipmail_sync_mailbox(ctx, box, &error) < 0)
		e_error(user->event, "shipmail: %s", error);
	if (shipmail_sync_end(&ctx, &result, &error) < 0)
		e_error(user->event, "shipmail: %s", error);
}

static void shipmail_mailbox_update(struct mailbox *box)
{
	/* Called for UIDVALIDITY changes among others: the entries hold
	   the UIDVALIDITY, so the existing ones are rewritten.  Nothing is
	   added: dsync updates mailboxes too, and a replica must not bring
	   back entries that the other side removed. */
	if (shipmail_box_user(box) != NULL) T_BEGIN {
		shipmail_resync(mailbox_get_namespace(box)->user, box, TRUE, 0);
	} T_END;
}

static void shipmail_mailbox_rename(struct mailbox *src, struct mailbox *dest)
{
	struct mail_user *user = mailbox_get_namespace(dest)->user;
	bool was, is;

	if (SHIPMAIL_USER_CONTEXT(user) == NULL)
		return;
	was = shipmail_box_user(src) != NULL;
	is = shipmail_box_user(dest) != NULL;
	/* Renamed into a shipped name: its mail becomes pending.  XXX on
	   a dsync replica this can index mail whose shipped keyword has
	   not arrived yet: recalc on the primary corrects it. */
	if (!was && is) T_BEGIN {
		shipmail_resync(user, dest, TRUE, SHIPMAIL_SYNC_FLAGS_ALL);
	} T_END;
	/* Still shipped: the entries get the new name. */
	if (was && is) T_BEGIN {
		shipmail_resync(user, dest, TRUE, 0);
	} T_END;
	/* Renamed away: nothing in it is pending any more. */
	if (was && !is) T_BEGIN {
		shipmail_resync(user, dest, FALSE, SHIPMAIL_SYNC_FLAG_REMOVE);
	} T_END;
}

static const struct notify_vfuncs shipmail_notify_vfuncs = {
	.mail_transaction_begin = shipmail_transaction_begin,
	.mail_save = shipmail_mail_save,
	.mail_copy = shipmail_mail_copy,
	.mail_expunge = shipmail_mail_expunge,
	.mail_update_keywords = shipmail_mail_update_keywords,
	.mail_transaction_commit = shipmail_transaction_commit,
	.mail_transaction_rollback = shipmail_transaction_rollback,
	.mailbox_update = shipmail_mailbox_update,
	.mailbox_rename = shipmail_mailbox_rename,
};

static struct mail_storage_hooks shipmail_mail_storage_hooks = {
	.mail_user_created = shipmail_mail_user_created,
};

void shipmail_plugin_init(struct module *module)
{
	shipmail_notify_ctx = notify_register(&shipmail_notify_vfuncs);
	shipmail_request_init();
	mail_storage_hooks_add(module, &shipmail_mail_storage_hooks);
}

void shipmail_plugin_deinit(void)
{
	mail_storage_hooks_remove(&shipmail_mail_storage_hooks);
	shipmail_request_deinit();
	notify_unregister(shipmail_notify_ctx);
	shipmail_dicts_deinit();
}
