/*
 * shipmail-shore's use of Dovecot: see shore-store.h.
 *
 * One mail user is open at a time: requests usually come grouped by
 * user, and switching costs a userdb lookup (a few ms), nothing on the
 * link.  A message's size and digest are computed from its canonical
 * form (CRLF line ends) on every FETCH, by reading it once before
 * sending; for mail of a few MB this is far cheaper than one second of
 * the link.  The dict is opened with the settings of a userdb-less
 * lookup, so that the offer needs no user at all.
 *
 * BUGS: a message whose index entry says it is pending but that was
 * expunged answers 404 until doveadm shipmail recalc drops the entry.
 */
#include "lib.h"
#include "array.h"
#include "str.h"
#include "guid.h"
#include "istream.h"
#include "istream-crlf.h"
#include "dict.h"
#include "master-service.h"
#include "mail-storage-service.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "mail-user.h"

#include "shore-store.h"
#include "ship-users.h"
#include "pending.h"
#include "digest.h"

#define STORE_DEFAULT_KEYWORD "$Shipped"

struct store {
	const struct ship_users *users;
	struct mail_storage_service_ctx *service;
	struct mail_user *settings_user;
	struct dict *dict;

	/* The user now open, if any */
	struct mail_user *user;
	char *username;
};

/* An open message, for the length of one request. */
struct store_mail {
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	struct mail *mail;
};

static int store_lookup(struct store *store, const char *username,
			bool settings_only, struct mail_user **user_r,
			const char **error_r)
{
	struct mail_storage_service_input input;
	struct mail_storage_service_user *service_user;
	int ret;

	i_zero(&input);
	input.module = "mail";
	input.service = "shipmail-shore";
	input.username = username;
	if (settings_only) {
		input.no_userdb_lookup = TRUE;
		input.flags_override_add =
			MAIL_STORAGE_SERVICE_FLAG_NO_NAMESPACES |
			MAIL_STORAGE_SERVICE_FLAG_NO_PLUGINS |
			MAIL_STORAGE_SERVICE_FLAG_NO_RESTRICT_ACCESS;
	}
	ret = mail_storage_service_lookup_next(store->service, &input,
					       &service_user, user_r,
					       error_r);
	if (ret > 0)
		mail_storage_service_user_unref(&service_user);
	return ret;
}

static int store_open_dict(struct store *store, const char *dict_uri)
{
	struct dict_settings set;
	const char *error;

	if (dict_uri == NULL)
		dict_uri = mail_user_plugin_getenv(store->settings_user,
						   "shipmail_dict");
	if (dict_uri == NULL || *dict_uri == '\0') {
		i_error("shipmail-shore: plugin setting shipmail_dict "
			"is not set in Dovecot's configuration");
		return -1;
	}
	i_zero(&set);
	set.base_dir = store->settings_user->set->base_dir;
	set.event_parent = store->settings_user->event;
	if (dict_init(dict_uri, &set, &store->dict, &error) < 0) {
		i_error("shipmail-shore: dict %s: %s", dict_uri, error);
		return -1;
	}
	return 0;
}

struct store *store_init(const struct ship_users *users,
			 const char *dict_uri)
{
	struct store *store = i_new(struct store, 1);
	const char *error;

	store->users = users;
	store->service = mail_storage_service_init(master_service, NULL,
		MAIL_STORAGE_SERVICE_FLAG_USERDB_LOOKUP |
		MAIL_STORAGE_SERVICE_FLAG_NO_CHDIR |
		MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT |
		MAIL_STORAGE_SERVICE_FLAG_USE_SYSEXITS);
	dict_drivers_register_builtin();

	if (store_lookup(store, "shipmail-shore", TRUE,
			 &store->settings_user, &error) <= 0) {
		i_error("shipmail-shore: reading Dovecot settings: %s", error);
		store_deinit(&store);
		return NULL;
	}
	if (store_open_dict(store, dict_uri) < 0) {
		store_deinit(&store);
		return NULL;
	}
	return store;
}

static void store_close_user(struct store *store)
{
	if (store->user != NULL)
		mail_user_unref(&store->user);
	i_free(store->username);
}

void store_deinit(struct store **_store)
{
	struct store *store = *_store;

	*_store = NULL;
	store_close_user(store);
	if (store->dict != NULL) {
		dict_wait(store->dict);
		dict_deinit(&store->dict);
	}
	if (store->settings_user != NULL)
		mail_user_unref(&store->settings_user);
	dict_drivers_unregister_builtin();
	mail_storage_service_deinit(&store->service);
	i_free(store);
}

int store_offer(struct store *store, store_offer_fn *fn, void *ctx,
		const char **error_r)
{
	struct dict_op_settings set;
	struct dict_iterate_context *iter;
	const char *key, *value, *error;

	i_zero(&set);
	iter = dict_iterate_init(store->dict, &set, PENDING_DICT_PREFIX,
				 DICT_ITERATE_FLAG_RECURSE);
	while (dict_iterate(iter, &key, &value)) T_BEGIN {
		char user[PENDING_USER_MAX + 1];
		struct pending_entry entry;
		char *copy = t_strdup_noconst(value);

		i_zero(&entry);
		if (pending_key_parse(key, &entry, user, sizeof(user),
				      &error) < 0 ||
		    pending_value_decode(copy, &entry, &error) < 0) {
			i_warning("shipmail-shore: skipping index entry "
				  "key=%s: %s", key, error);
		} else if (ship_users_match(store->users, entry.user)) {
			fn(ctx, &entry);
		}
	} T_END;
	if (dict_iterate_deinit(&iter, &error) < 0) {
		i_error("shipmail-shore: iterating the pending index: %s",
			error);
		*error_r = "cannot read the pending index";
		return PROTO_ERR_TEMP;
	}
	return 0;
}

/* Look up the index entry for ref; 0, or a code with *error_r. */
static int store_entry(struct store *store, const struct proto_msgref *ref,
		       struct pending_entry *entry_r, const char **error_r)
{
	struct dict_op_settings set;
	char key[PENDING_KEY_MAX];
	/* dict_lookup() looks at *error_r even when it succeeds. */
	const char *value, *error = NULL;
	int ret;

	if (pending_key_build(key, sizeof(key), ref->user, ref->guid,
			      ref->uid) == 0) {
		*error_r = "bad message reference";
		return PROTO_ERR_SYNTAX;
	}
	i_zero(&set);
	ret = dict_lookup(store->dict, &set, pool_datastack_create(), key,
			  &value, &error);
	if (ret < 0) {
		i_error("shipmail-shore: dict lookup %s: %s", key, error);
		*error_r = "cannot read the pending index";
		return PROTO_ERR_TEMP;
	}
	if (ret == 0) {
		*error_r = "not pending";
		return PROTO_ERR_NOT_FOUND;
	}
	i_zero(entry_r);
	if (pending_value_decode(t_strdup_noconst(value), entry_r,
				 &error) < 0) {
		i_warning("shipmail-shore: index entry key=%s: %s", key,
			  error);
		*error_r = "bad index entry";
		return PROTO_ERR_INTERNAL;
	}
	if (entry_r->uidvalidity != ref->uidvalidity) {
		*error_r = "UIDVALIDITY changed";
		return PROTO_ERR_CHANGED;
	}
	return 0;
}

/* Make ref->user the open user. */
static int store_switch_user(struct store *store, const char *username,
			     const char **error_r)
{
	const char *error;
	int ret;

	if (store->user != NULL && strcmp(store->username, username) == 0)
		return 0;
	store_close_user(store);
	ret = store_lookup(store, username, FALSE, &store->user, &error);
	if (ret == 0) {
		*error_r = "no such user";
		return PROTO_ERR_NOT_FOUND;
	}
	if (ret < 0) {
		i_error("shipmail-shore: user %s: %s", username, error);
		*error_r = "cannot open the user's mail";
		return PROTO_ERR_TEMP;
	}
	store->username = i_strdup(username);
	return 0;
}

static void store_mail_close(struct store_mail *sm)
{
	if (sm->mail != NULL)
		mail_free(&sm->mail);
	if (sm->trans != NULL)
		(void)mailbox_transaction_commit(&sm->trans);
	if (sm->box != NULL)
		mailbox_free(&sm->box);
}

/* Open the message of ref (user checked already). */
static int store_mail_open(struct store *store,
			   const struct proto_msgref *ref,
			   struct store_mail *sm, const char **error_r)
{
	struct mail_namespace *ns;
	struct mailbox_status status;
	enum mail_error mail_error;
	guid_128_t guid;
	int ret;

	i_zero(sm);
	if ((ret = store_switch_user(store, ref->user, error_r)) != 0)
		return ret;
	if (guid_128_from_string(ref->guid, guid) < 0) {
		*error_r = "bad mailbox GUID";
		return PROTO_ERR_SYNTAX;
	}
	ns = mail_namespace_find_inbox(store->user->namespaces);
	sm->box = mailbox_alloc_guid(ns->list, guid, 0);
	if (mailbox_open(sm->box) < 0 ||
	    mailbox_get_status(sm->box, STATUS_UIDVALIDITY, &status) < 0) {
		const char *error = mailbox_get_last_internal_error(
			sm->box, &mail_error);

		store_mail_close(sm);
		if (mail_error == MAIL_ERROR_NOTFOUND) {
			*error_r = "no such mailbox";
			return PROTO_ERR_NOT_FOUND;
		}
		i_error("shipmail-shore: user %s: mailbox %s: %s",
			ref->user, ref->guid, error);
		*error_r = "cannot open the mailbox";
		return PROTO_ERR_TEMP;
	}
	if (status.uidvalidity != ref->uidvalidity) {
		store_mail_close(sm);
		*error_r = "UIDVALIDITY changed";
		return PROTO_ERR_CHANGED;
	}
	sm->trans = mailbox_transaction_begin(sm->box, 0, "shipmail-shore");
	sm->mail = mail_alloc(sm->trans, MAIL_FETCH_STREAM_HEADER |
			      MAIL_FETCH_STREAM_BODY, NULL);
	if (!mail_set_uid(sm->mail, ref->uid)) {
		store_mail_close(sm);
		*error_r = "no such message";
		return PROTO_ERR_NOT_FOUND;
	}
	return 0;
}

/* The message's canonical form: CRLF line ends, from offset 0. */
static int store_mail_stream(struct store_mail *sm, struct istream **input_r,
			     const char **error_r)
{
	struct istream *input;

	if (mail_get_stream(sm->mail, NULL, NULL, &input) < 0) {
		enum mail_error mail_error;
		const char *error = mailbox_get_last_internal_error(
			sm->box, &mail_error);

		if (mail_error == MAIL_ERROR_EXPUNGED) {
			*error_r = "message expunged";
			return PROTO_ERR_NOT_FOUND;
		}
		i_error("shipmail-shore: reading message: %s", error);
		*error_r = "cannot read the message";
		return PROTO_ERR_TEMP;
	}
	i_stream_seek(input, 0);
	*input_r = i_stream_create_crlf(input);
	return 0;
}

/* Size and digest of the whole canonical message. */
static int store_mail_measure(struct store_mail *sm, uint64_t *size_r,
			      char *digest_hex, const char **error_r)
{
	struct digest_ctx ctx;
	struct istream *input;
	const unsigned char *data;
	size_t size;
	int ret;

	if ((ret = store_mail_stream(sm, &input, error_r)) != 0)
		return ret;
	digest_init(&ctx);
	*size_r = 0;
	while (i_stream_read_more(input, &data, &size) > 0) {
		digest_update(&ctx, data, size);
		*size_r += size;
		i_stream_skip(input, size);
	}
	ret = input->stream_errno;
	i_stream_unref(&input);
	if (ret != 0) {
		i_error("shipmail-shore: reading message: %s",
			strerror(ret));
		*error_r = "cannot read the message";
		return PROTO_ERR_TEMP;
	}
	digest_final_hex(&ctx, digest_hex);
	return 0;
}

/* Write the DATA line and count bytes from offset; -1 if writing failed. */
static int store_mail_send(struct store_mail *sm, uint64_t offset,
			   uint64_t count, store_write_fn *write_fn,
			   void *ctx)
{
	struct istream *input;
	const unsigned char *data;
	const char *error;
	size_t size;
	int ret = 0;

	if (store_mail_stream(sm, &input, &error) != 0)
		return -1;
	i_stream_skip(input, offset);
	while (count > 0 && i_stream_read_more(input, &data, &size) > 0) {
		if (size > count)
			size = count;
		if (write_fn(ctx, data, size) < 0) {
			ret = -1;
			break;
		}
		i_stream_skip(input, size);
		count -= size;
	}
	i_stream_unref(&input);

	/* A message that changed under us cannot be finished: end the
	   session rather than send a wrong byte count. */
	if (ret == 0 && count > 0) {
		i_error("shipmail-shore: message shorter than measured");
		return -1;
	}
	return ret;
}

static int store_fetch_check(struct store *store,
			     const struct proto_request *req,
			     const char **error_r)
{
	struct pending_entry entry;
	int ret;

	if (!ship_users_match(store->users, req->ref.user)) {
		*error_r = "user is not on this ship";
		return PROTO_ERR_FORBIDDEN;
	}
	if ((ret = store_entry(store, &req->ref, &entry, error_r)) != 0)
		return ret;
	if ((entry.flags & PENDING_FLAG_OVERSIZE) != 0 &&
	    (entry.flags & PENDING_FLAG_REQUESTED) == 0) {
		*error_r = "oversize; ask for it with doveadm shipmail request";
		return PROTO_ERR_OVERSIZE;
	}
	return 0;
}

int store_fetch(struct store *store, const struct proto_request *req,
		store_write_fn *write_fn, void *ctx, const char **error_r)
{
	char digest[DIGEST_HEX_LEN + 1], line[PROTO_LINE_MAX + 2];
	struct store_mail sm;
	uint64_t size, count;
	size_t len;
	int ret;

	if ((ret = store_fetch_check(store, req, error_r)) != 0)
		return ret;
	if ((ret = store_mail_open(store, &req->ref, &sm, error_r)) != 0)
		return ret;
	if ((ret = store_mail_measure(&sm, &size, digest, error_r)) != 0) {
		store_mail_close(&sm);
		return ret;
	}
	if (req->offset > size ||
	    (req->length > 0 && req->length > size - req->offset)) {
		store_mail_close(&sm);
		*error_r = t_strdup_printf("range past the end (size %llu)",
					   (unsigned long long)size);
		return PROTO_ERR_RANGE;
	}

	count = req->length > 0 ? req->length : size - req->offset;
	len = proto_format_data(line, sizeof(line), size, digest,
				req->offset, count);
	ret = write_fn(ctx, line, len) < 0 ||
		store_mail_send(&sm, req->offset, count, write_fn, ctx) < 0 ||
		write_fn(ctx, "\n", 1) < 0 ? -1 : 0;
	store_mail_close(&sm);
	return ret;
}

/* Drop the index entry ourselves too: the plugin may not be loaded in
   this process, and unsetting a missing key does no harm. */
static int store_unset_entry(struct store *store,
			     const struct proto_msgref *ref)
{
	struct dict_op_settings set;
	struct dict_transaction_context *trans;
	char key[PENDING_KEY_MAX];
	const char *error;

	if (pending_key_build(key, sizeof(key), ref->user, ref->guid,
			      ref->uid) == 0)
		return -1;
	i_zero(&set);
	trans = dict_transaction_begin(store->dict, &set);
	dict_unset(trans, key);
	if (dict_transaction_commit(&trans, &error) < 0) {
		i_error("shipmail-shore: dict unset %s: %s", key, error);
		return -1;
	}
	return 0;
}

static int store_set_keyword(struct store *store, struct store_mail *sm,
			     const char **text_r)
{
	const char *keyword = mail_user_plugin_getenv(store->user,
						      "shipmail_keyword");
	const char *names[2];
	struct mail_keywords *kw;
	enum mail_error mail_error;

	if (keyword == NULL || *keyword == '\0')
		keyword = STORE_DEFAULT_KEYWORD;
	names[0] = keyword;
	names[1] = NULL;
	kw = mailbox_keywords_create_valid(sm->box, names);
	mail_update_keywords(sm->mail, MODIFY_ADD, kw);
	mailbox_keywords_unref(&kw);
	mail_free(&sm->mail);
	if (mailbox_transaction_commit(&sm->trans) < 0) {
		i_error("shipmail-shore: user %s: setting %s: %s",
			store->username, keyword,
			mailbox_get_last_internal_error(sm->box,
							&mail_error));
		*text_r = "cannot mark the message shipped";
		return PROTO_ERR_TEMP;
	}
	return 0;
}

int store_ack(struct store *store, const struct proto_msgref *ref,
	      const char **text_r)
{
	struct store_mail sm;
	int ret;

	if (!ship_users_match(store->users, ref->user)) {
		*text_r = "user is not on this ship";
		return PROTO_ERR_FORBIDDEN;
	}

	/* An ACK resent after a cut finds the message already marked, or
	   gone: both mean shipped. */
	ret = store_mail_open(store, ref, &sm, text_r);
	if (ret == PROTO_ERR_NOT_FOUND) {
		(void)store_unset_entry(store, ref);
		*text_r = "gone";
		return 0;
	}
	if (ret != 0)
		return ret;
	ret = store_set_keyword(store, &sm, text_r);
	store_mail_close(&sm);
	if (ret != 0)
		return ret;
	if (store_unset_entry(store, ref) < 0) {
		*text_r = "marked shipped; index entry left for recalc";
		return 0;
	}
	*text_r = "shipped";
	return 0;
}

int store_request(struct store *store, const char *user, const char *handle,
		  const char **text_r)
{
	struct dict_op_settings set;
	struct dict_iterate_context *iter;
	struct dict_transaction_context *trans;
	char prefix[PENDING_KEY_MAX], value_buf[PENDING_VALUE_MAX + 1];
	const char *key, *value, *error, *found_key = NULL;
	const char *found_value = NULL;

	if (!ship_users_match(store->users, user)) {
		*text_r = "user is not on this ship";
		return PROTO_ERR_FORBIDDEN;
	}
	if (pending_key_user_prefix(prefix, sizeof(prefix), user) == 0) {
		*text_r = "bad user name";
		return PROTO_ERR_SYNTAX;
	}

	/* One user's entries: a handful, so a scan is cheap. */
	i_zero(&set);
	iter = dict_iterate_init(store->dict, &set, prefix,
				 DICT_ITERATE_FLAG_RECURSE);
	while (found_key == NULL && dict_iterate(iter, &key, &value)) {
		char name[PENDING_USER_MAX + 1];
		struct pending_entry entry;
		char *copy = t_strdup_noconst(value);

		i_zero(&entry);
		if (pending_key_parse(key, &entry, name, sizeof(name),
				      &error) < 0 ||
		    pending_value_decode(copy, &entry, &error) < 0 ||
		    strcmp(entry.handle, handle) != 0)
			continue;
		entry.flags |= PENDING_FLAG_REQUESTED;
		if (pending_value_encode(&entry, value_buf,
					 sizeof(value_buf)) >=
		    sizeof(value_buf))
			continue;
		found_key = t_strdup(key);
		found_value = value_buf;
	}
	if (dict_iterate_deinit(&iter, &error) < 0) {
		i_error("shipmail-shore: iterating %s: %s", prefix, error);
		*text_r = "cannot read the pending index";
		return PROTO_ERR_TEMP;
	}
	if (found_key == NULL) {
		*text_r = "no held message with this handle";
		return PROTO_ERR_NOT_FOUND;
	}
	trans = dict_transaction_begin(store->dict, &set);
	dict_set(trans, found_key, found_value);
	if (dict_transaction_commit(&trans, &error) < 0) {
		i_error("shipmail-shore: dict set %s: %s", found_key, error);
		*text_r = "cannot update the pending index";
		return PROTO_ERR_TEMP;
	}
	*text_r = "requested";
	return 0;
}
