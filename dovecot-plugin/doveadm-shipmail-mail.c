/*
 * doveadm shipmail ack, request and recalc: the commands that act on a
 * user's mailboxes, run per user by doveadm's mail command machinery
 * (-u, -A, -F, -S and the HTTP API come with it).
 *
 *   ack -u USER <mailbox> <uidvalidity> <uid>...
 *       gives the messages the shipped keyword (the mailbox is the
 *       truth) and drops their entries.  Acking twice is not an error;
 *       a UID that does not exist is (not found), the others are acked.
 *   request -u USER <uid | handle>
 *       marks an entry requested, so that an oversize message goes with
 *       the next fetch.  A UID must name one entry of the user.
 *   recalc [-A | -u USER]
 *       rebuilds the user's entries from the shipped mailboxes, prints
 *       each difference and writes the fix.
 *
 * Settings come from the user's plugin { } like the mail plugin's, so
 * both agree on the dict, the mailboxes and the keyword.
 */
#include "lib.h"
#include "array.h"
#include "dict.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "doveadm.h"
#include "doveadm-mail.h"
#include "doveadm-print.h"
#include "common/handle.h"
#include "shipmail-settings.h"
#include "shipmail-index.h"
#include "shipmail-entry.h"
#include "shipmail-sync.h"
#include "shipmail-text.h"
#include "doveadm-shipmail.h"

struct ack_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	bool bad_args;
	const char *mailbox;
	uint32_t uidvalidity;
	ARRAY(uint32_t) uids;
};

struct request_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	bool bad_args;
	const char *handle;
	uint32_t uid;
};

/* What a command needs of the user: settings and the open index. */
struct shipmail_cmd_user {
	struct shipmail_settings *set;
	struct dict *dict;
};

static const char *shipmail_cmd_getenv(const char *name, void *context)
{
	return mail_user_plugin_getenv(context, name);
}

/* Read the user's settings and open the index; on error log it, set
   the exit code and return -1. */
static int
shipmail_cmd_user_init(struct doveadm_mail_cmd_context *ctx,
		       struct mail_user *user, struct shipmail_cmd_user *cu)
{
	const char *error;

	if (shipmail_settings_read(user->pool, shipmail_cmd_getenv, user,
				   &cu->set, &error) < 0 ||
	    shipmail_index_open(cu->set->dict_uri, user->set->base_dir,
				user->event, &cu->dict, &error) < 0) {
		i_error("shipmail: %s", error);
		ctx->exit_code = EX_CONFIG;
		return -1;
	}
	return 0;
}

static void shipmail_cmd_user_deinit(struct shipmail_cmd_user *cu)
{
	if (cu->dict != NULL) {
		dict_wait(cu->dict);
		dict_deinit(&cu->dict);
	}
}

static void
shipmail_cmd_index_failed(struct doveadm_mail_cmd_context *ctx,
			  const char *error)
{
	i_error("shipmail: %s", error);
	ctx->exit_code = EX_TEMPFAIL;
}

static bool shipmail_parse_uint32(const char *str, uint32_t *num_r)
{
	return str_to_uint32(str, num_r) == 0 && *num_r > 0;
}

/* A bad argument: logged, and the command does nothing.  Not fatal, so
   that a doveadm server answering the HTTP API goes on. */
static void
shipmail_cmd_bad_arg(struct doveadm_mail_cmd_context *ctx, bool *bad_args,
		     const char *what, const char *arg)
{
	i_error("%s: %s", what, arg);
	ctx->exit_code = EX_USAGE;
	*bad_args = TRUE;
}

/* Open and sync a mailbox by name; on error log it and return NULL. */
static struct mailbox *
shipmail_cmd_mailbox(struct doveadm_mail_cmd_context *ctx,
		     struct mail_user *user, const char *name)
{
	struct mailbox *box = doveadm_mailbox_find(user, name);

	if (mailbox_sync(box, 0) < 0) {
		i_error("shipmail: mailbox %s: %s", name,
			mailbox_get_last_internal_error(box, NULL));
		doveadm_mail_failed_mailbox(ctx, box);
		mailbox_free(&box);
		return NULL;
	}
	return box;
}

/* --- ack --------------------------------------------------------- */

static void
cmd_shipmail_ack_init(struct doveadm_mail_cmd_context *_ctx,
		      const char *const args[])
{
	struct ack_cmd_context *ctx = (struct ack_cmd_context *)_ctx;
	uint32_t uid;

	if (str_array_length(args) < 3)
		doveadm_mail_help_name("shipmail ack");
	ctx->mailbox = p_strdup(_ctx->pool, args[0]);
	if (!shipmail_parse_uint32(args[1], &ctx->uidvalidity)) {
		shipmail_cmd_bad_arg(_ctx, &ctx->bad_args,
				     "shipmail ack: bad UIDVALIDITY", args[1]);
	}
	p_array_init(&ctx->uids, _ctx->pool, 8);
	for (args += 2; *args != NULL; args++) {
		if (shipmail_parse_uint32(*args, &uid))
			array_push_back(&ctx->uids, &uid);
		else {
			shipmail_cmd_bad_arg(_ctx, &ctx->bad_args,
					     "shipmail ack: bad UID", *args);
		}
	}

	doveadm_print_header_simple("mailbox");
	doveadm_print_header("uid", "uid", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header_simple("result");
}

/* Set the keyword on one UID; returns the result word to print. */
static const char *
shipmail_ack_one(struct mail *mail, struct mail_keywords *kw,
		 const char *keyword, uint32_t uid)
{
	if (!mail_set_uid(mail, uid))
		return "not found";
	if (shipmail_mail_is_shipped(mail, keyword))
		return "already acked";
	mail_update_keywords(mail, MODIFY_ADD, kw);
	return "acked";
}

/* Give the UIDs the keyword.  Returns 0, or -1 if the mailbox failed. */
static int
shipmail_ack_mailbox(struct ack_cmd_context *ctx, struct mailbox *box,
		     const char *keyword)
{
	const char *const keywords[] = { keyword, NULL };
	struct mailbox_transaction_context *t;
	struct mail_keywords *kw;
	struct mail *mail;
	const char *result;
	const uint32_t *uidp;

	t = mailbox_transaction_begin(box, ctx->ctx.transaction_flags,
				      "doveadm shipmail ack");
	kw = mailbox_keywords_create_valid(box, keywords);
	mail = mail_alloc(t, 0, NULL);
	array_foreach(&ctx->uids, uidp) {
		result = shipmail_ack_one(mail, kw, keyword, *uidp);
		if (strcmp(result, "not found") == 0) {
			i_error("shipmail ack: %s UID %u: no such message",
				ctx->mailbox, *uidp);
			if (ctx->ctx.exit_code == 0)
				ctx->ctx.exit_code = DOVEADM_EX_NOTFOUND;
		}
		doveadm_print(ctx->mailbox);
		doveadm_print_num(*uidp);
		doveadm_print(result);
	}
	mail_free(&mail);
	mailbox_keywords_unref(&kw);
	if (mailbox_transaction_commit(&t) < 0) {
		i_error("shipmail ack: %s: %s", ctx->mailbox,
			mailbox_get_last_internal_error(box, NULL));
		doveadm_mail_failed_mailbox(&ctx->ctx, box);
		return -1;
	}
	return 0;
}

/* Drop the entries, whether or not the mail plugin already did. */
static int
shipmail_ack_unindex(struct ack_cmd_context *ctx, struct mail_user *user,
		     struct dict *dict, const char *guid, const char **error_r)
{
	struct dict_transaction_context *dt;
	const uint32_t *uidp;
	const char *key;

	dt = dict_transaction_begin(dict, mail_user_get_dict_op_settings(user));
	array_foreach(&ctx->uids, uidp) {
		key = shipmail_index_key(user->username, guid, *uidp);
		if (key != NULL)
			dict_unset(dt, key);
	}
	return shipmail_index_commit(&dt, error_r);
}

static int
cmd_shipmail_ack_run_box(struct ack_cmd_context *ctx, struct mail_user *user,
			 struct shipmail_cmd_user *cu, struct mailbox *box)
{
	struct mailbox_status status;
	const char *guid, *error;

	mailbox_get_open_status(box, STATUS_UIDVALIDITY, &status);
	if (status.uidvalidity != ctx->uidvalidity) {
		i_error("shipmail ack: %s: UIDVALIDITY is %u, not %u: "
			"nothing acked", ctx->mailbox, status.uidvalidity,
			ctx->uidvalidity);
		ctx->ctx.exit_code = DOVEADM_EX_NOTPOSSIBLE;
		return -1;
	}
	if (shipmail_mailbox_guid(box, &guid, &error) < 0) {
		shipmail_cmd_index_failed(&ctx->ctx, error);
		return -1;
	}
	if (shipmail_ack_mailbox(ctx, box, cu->set->keyword) < 0)
		return -1;
	if (shipmail_ack_unindex(ctx, user, cu->dict, guid, &error) < 0) {
		shipmail_cmd_index_failed(&ctx->ctx, error);
		return -1;
	}
	return 0;
}

static int
cmd_shipmail_ack_run(struct doveadm_mail_cmd_context *_ctx,
		     struct mail_user *user)
{
	struct ack_cmd_context *ctx = (struct ack_cmd_context *)_ctx;
	struct shipmail_cmd_user cu;
	struct mailbox *box;
	int ret;

	if (ctx->bad_args)
		return -1;
	i_zero(&cu);
	if (shipmail_cmd_user_init(_ctx, user, &cu) < 0)
		return -1;
	box = shipmail_cmd_mailbox(_ctx, user, ctx->mailbox);
	if (box == NULL) {
		shipmail_cmd_user_deinit(&cu);
		return -1;
	}
	ret = cmd_shipmail_ack_run_box(ctx, user, &cu, box);
	mailbox_free(&box);
	shipmail_cmd_user_deinit(&cu);
	return ret;
}

static struct doveadm_mail_cmd_context *cmd_shipmail_ack_alloc(void)
{
	struct ack_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct ack_cmd_context);
	ctx->ctx.v.init = cmd_shipmail_ack_init;
	ctx->ctx.v.run = cmd_shipmail_ack_run;
	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	return &ctx->ctx;
}

/* --- request ----------------------------------------------------- */

static void
cmd_shipmail_request_init(struct doveadm_mail_cmd_context *_ctx,
			  const char *const args[])
{
	struct request_cmd_context *ctx = (struct request_cmd_context *)_ctx;

	if (str_array_length(args) != 1)
		doveadm_mail_help_name("shipmail request");
	ctx->handle = shipmail_text_handle(args[0]);
	if (ctx->handle != NULL)
		ctx->handle = p_strdup(_ctx->pool, ctx->handle);
	else if (!shipmail_parse_uint32(args[0], &ctx->uid)) {
		shipmail_cmd_bad_arg(_ctx, &ctx->bad_args,
			"shipmail request: neither a UID nor a handle", args[0]);
	}

	doveadm_print_header_simple("mailbox");
	doveadm_print_header("uid", "uid", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header("size", "size", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header_simple("flags");
	doveadm_print_header_simple("handle");
}

static bool
request_matches(const struct request_cmd_context *ctx,
		const struct pending_entry *entry)
{
	if (ctx->handle != NULL)
		return strcmp(entry->handle, ctx->handle) == 0;
	return entry->uid == ctx->uid;
}

/* The one row the request names, or NULL after logging why not. */
static struct shipmail_index_row *
request_find(struct request_cmd_context *ctx, const char *what,
	     ARRAY_TYPE(shipmail_index_row) *rows)
{
	struct shipmail_index_row *row, *found = NULL;
	unsigned int matches = 0;

	array_foreach_modifiable(rows, row) {
		if (request_matches(ctx, &row->entry)) {
			found = row;
			matches++;
		}
	}
	if (matches == 0) {
		i_error("shipmail request: no pending message with %s", what);
		ctx->ctx.exit_code = DOVEADM_EX_NOTFOUND;
		return NULL;
	}
	if (matches > 1) {
		i_error("shipmail request: %s is pending in %u mailboxes: "
			"use the handle", what, matches);
		ctx->ctx.exit_code = DOVEADM_EX_NOTPOSSIBLE;
		return NULL;
	}
	return found;
}

static int
request_mark(struct request_cmd_context *ctx, struct mail_user *user,
	     struct dict *dict, struct shipmail_index_row *row)
{
	struct dict_transaction_context *dt;
	const char *error;

	row->entry.flags |= PENDING_FLAG_REQUESTED;
	dt = dict_transaction_begin(dict, mail_user_get_dict_op_settings(user));
	dict_set(dt, row->key, shipmail_index_value(&row->entry));
	if (shipmail_index_commit(&dt, &error) < 0) {
		shipmail_cmd_index_failed(&ctx->ctx, error);
		return -1;
	}
	doveadm_print(row->entry.mailbox);
	doveadm_print_num(row->entry.uid);
	doveadm_print_num(row->entry.size);
	doveadm_print(doveadm_shipmail_flags(row->entry.flags));
	doveadm_print(row->entry.handle);
	return 0;
}

static int
cmd_shipmail_request_run(struct doveadm_mail_cmd_context *_ctx,
			 struct mail_user *user)
{
	struct request_cmd_context *ctx = (struct request_cmd_context *)_ctx;
	ARRAY_TYPE(shipmail_index_row) rows;
	struct shipmail_index_row *row;
	struct shipmail_cmd_user cu;
	const char *what, *error;
	unsigned int bad;
	int ret = -1;

	if (ctx->bad_args)
		return -1;
	i_zero(&cu);
	if (shipmail_cmd_user_init(_ctx, user, &cu) < 0)
		return -1;
	what = ctx->handle != NULL ? t_strconcat("handle ", ctx->handle, NULL) :
		t_strdup_printf("UID %u", ctx->uid);

	t_array_init(&rows, 16);
	if (shipmail_index_read(cu.dict, user->username,
				shipmail_index_prefix(user->username, NULL),
				pool_datastack_create(), &rows, &bad,
				&error) < 0)
		shipmail_cmd_index_failed(_ctx, error);
	else if ((row = request_find(ctx, what, &rows)) != NULL)
		ret = request_mark(ctx, user, cu.dict, row);
	shipmail_cmd_user_deinit(&cu);
	return ret;
}

static struct doveadm_mail_cmd_context *cmd_shipmail_request_alloc(void)
{
	struct request_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct request_cmd_context);
	ctx->ctx.v.init = cmd_shipmail_request_init;
	ctx->ctx.v.run = cmd_shipmail_request_run;
	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	return &ctx->ctx;
}

/* --- recalc ------------------------------------------------------ */

static void
cmd_shipmail_recalc_init(struct doveadm_mail_cmd_context *ctx ATTR_UNUSED,
			 const char *const args[])
{
	if (args[0] != NULL)
		doveadm_mail_help_name("shipmail recalc");
	doveadm_print_header_simple("mailbox");
	doveadm_print_header("uid", "uid", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header_simple("change");
	doveadm_print_header("subject", "subject",
			     DOVEADM_PRINT_HEADER_FLAG_EXPAND);
}

static void
recalc_report(enum shipmail_sync_change change,
	      const struct pending_entry *entry, void *context ATTR_UNUSED)
{
	doveadm_print(entry->mailbox);
	doveadm_print_num(entry->uid);
	doveadm_print(shipmail_sync_change_name(change));
	doveadm_print(entry->subject);
}

/* Sync one shipped mailbox; a missing one is not an error (its rows,
   if any, are then removed as unclaimed). */
static void
recalc_mailbox(struct doveadm_mail_cmd_context *ctx, struct mail_user *user,
	       struct shipmail_sync_context *sync, const char *name)
{
	struct mail_namespace *ns;
	struct mailbox *box;
	enum mail_error error_code;
	const char *error;

	ns = mail_namespace_find(user->namespaces, name);
	box = mailbox_alloc(ns->list, name, MAILBOX_FLAG_IGNORE_ACLS);
	if (mailbox_open(box) < 0) {
		error = mailbox_get_last_internal_error(box, &error_code);
		if (error_code != MAIL_ERROR_NOTFOUND) {
			i_error("shipmail recalc: mailbox %s: %s", name, error);
			doveadm_mail_failed_mailbox(ctx, box);
		}
	} else if (shipmail_sync_mailbox(sync, box, &error) < 0) {
		i_error("shipmail recalc: %s", error);
		doveadm_mail_failed_mailbox(ctx, box);
	}
	mailbox_free(&box);
}

static int
cmd_shipmail_recalc_run(struct doveadm_mail_cmd_context *ctx,
			struct mail_user *user)
{
	struct shipmail_sync_context *sync;
	struct shipmail_sync_result result;
	struct shipmail_cmd_user cu;
	const char *const *name, *error;
	int ret = 0;

	i_zero(&cu);
	if (shipmail_cmd_user_init(ctx, user, &cu) < 0)
		return -1;
	sync = shipmail_sync_begin(cu.dict, cu.set, user, NULL,
				   SHIPMAIL_SYNC_FLAGS_ALL, recalc_report, NULL,
				   &error);
	if (sync == NULL) {
		shipmail_cmd_index_failed(ctx, error);
		shipmail_cmd_user_deinit(&cu);
		return -1;
	}
	for (name = cu.set->mailboxes; *name != NULL; name++)
		recalc_mailbox(ctx, user, sync, *name);
	if (shipmail_sync_end(&sync, &result, &error) < 0) {
		shipmail_cmd_index_failed(ctx, error);
		ret = -1;
	}
	if (result.bad > 0)
		i_warning("shipmail recalc: %u malformed rows of %s left "
			  "in the index", result.bad, user->username);
	shipmail_cmd_user_deinit(&cu);
	return ret;
}

static struct doveadm_mail_cmd_context *cmd_shipmail_recalc_alloc(void)
{
	struct doveadm_mail_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct doveadm_mail_cmd_context);
	ctx->v.init = cmd_shipmail_recalc_init;
	ctx->v.run = cmd_shipmail_recalc_run;
	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	return ctx;
}

/* --- registration ------------------------------------------------ */

static struct doveadm_cmd_ver2 doveadm_cmd_shipmail_ack = {
	.name = "shipmail ack",
	.mail_cmd = cmd_shipmail_ack_alloc,
	.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX
		"<mailbox> <uidvalidity> <uid> [<uid>...]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_MAIL_COMMON
DOVEADM_CMD_PARAM('\0', "mailbox", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "uidvalidity", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "uid", CMD_PARAM_ARRAY, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

static struct doveadm_cmd_ver2 doveadm_cmd_shipmail_request = {
	.name = "shipmail request",
	.mail_cmd = cmd_shipmail_request_alloc,
	.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX "<uid> | <handle>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_MAIL_COMMON
DOVEADM_CMD_PARAM('\0', "message", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

static struct doveadm_cmd_ver2 doveadm_cmd_shipmail_recalc = {
	.name = "shipmail recalc",
	.mail_cmd = cmd_shipmail_recalc_alloc,
	.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX,
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_MAIL_COMMON
DOVEADM_CMD_PARAMS_END
};

void doveadm_shipmail_register_mail_commands(void)
{
	doveadm_cmd_register_ver2(&doveadm_cmd_shipmail_ack);
	doveadm_cmd_register_ver2(&doveadm_cmd_shipmail_request);
	doveadm_cmd_register_ver2(&doveadm_cmd_shipmail_recalc);
}
