/*
 * doveadm shipmail requests [-A | -u USER]
 * doveadm shipmail requests-sent -u USER <handle>...
 * doveadm shipmail requests-add -u USER <handle>...
 *
 * The ship's queue of the crew's requests for held mail (see
 * common/request.h), for the admin and for shipmail-fetch: "requests"
 * lists it, oldest first; "requests-sent" removes requests once they
 * were handed to the shore; "requests-add" is the admin's override of
 * the daily limit: it queues requests that count against nothing.
 * Not to be confused with "request", which releases a held message in
 * the shore's pending index.
 *
 * Like "pending", these are not doveadm mail commands: -A is one
 * iteration of the dict whatever the number of users, -u checks the
 * user in the userdb and reads that user's prefix only, and the dict
 * is the global plugin { shipmail_dict }.
 *
 * requests-sent is idempotent: a handle that is not queued (any more)
 * is reported as such and is no error, so that shipmail-fetch can
 * repeat a removal whose answer it lost.  requests-add likewise leaves
 * a request that is already queued as it is.
 */
#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "dict.h"
#include "doveadm.h"
#include "doveadm-print.h"
#include "doveadm-settings.h"
#include "doveadm-util.h"
#include "common/request.h"
#include "shipmail-index.h"
#include "shipmail-text.h"
#include "doveadm-shipmail.h"

struct requests_row {
	struct request_entry entry;
};
ARRAY_DEFINE_TYPE(requests_row, struct requests_row);

/* Open the index of the global settings; on error log it, set the exit
   code and return -1.  what names the command in the log. */
static int
requests_open(const char *what, struct dict **dict_r)
{
	const char *uri, *error;

	uri = doveadm_plugin_getenv("shipmail_dict");
	if (uri == NULL || uri[0] == '\0') {
		i_error("shipmail %s: plugin { shipmail_dict } is not set",
			what);
		doveadm_exit_code = EX_CONFIG;
		return -1;
	}
	if (shipmail_index_open(uri, doveadm_settings->base_dir, NULL,
				dict_r, &error) < 0) {
		i_error("shipmail %s: %s", what, error);
		doveadm_exit_code = EX_CONFIG;
		return -1;
	}
	return 0;
}

/* Check that -u names an existing user; on error log it and set the
   exit code. */
static int requests_check_user(const char *what, const char *user)
{
	const char *error;
	int ret;

	ret = doveadm_shipmail_user_exists(user, &error);
	if (ret <= 0) {
		i_error("shipmail %s: %s: %s", what, user,
			ret == 0 ? "user doesn't exist" : error);
		doveadm_exit_code = ret == 0 ? EX_NOUSER : EX_TEMPFAIL;
		return -1;
	}
	return 0;
}

/* Decode one dict row into rows; a malformed one is logged and left. */
static void
requests_add_row(const char *key, const char *value, pool_t pool,
		 ARRAY_TYPE(requests_row) *rows)
{
	struct requests_row row;
	char *user = p_malloc(pool, PENDING_USER_MAX + 1);
	const char *error;

	i_zero(&row);
	if (request_key_parse(key, &row.entry, user, PENDING_USER_MAX + 1,
			      &error) < 0 ||
	    request_value_decode(value, &row.entry, &error) < 0) {
		i_warning("shipmail requests: row %s skipped: %s", key, error);
		return;
	}
	array_push_back(rows, &row);
}

static int
requests_read(struct dict *dict, const char *user, const char *prefix,
	      pool_t pool, ARRAY_TYPE(requests_row) *rows)
{
	struct dict_op_settings op_set;
	struct dict_iterate_context *iter;
	const char *key, *value, *error;

	i_zero(&op_set);
	op_set.username = user;
	iter = dict_iterate_init(dict, &op_set, prefix,
				 DICT_ITERATE_FLAG_RECURSE);
	while (dict_iterate(iter, &key, &value))
		requests_add_row(key, value, pool, rows);
	if (dict_iterate_deinit(&iter, &error) < 0) {
		i_error("shipmail requests: reading the index failed: %s",
			error);
		doveadm_exit_code = EX_TEMPFAIL;
		return -1;
	}
	return 0;
}

static int requests_row_cmp(const struct requests_row *a,
			    const struct requests_row *b)
{
	int ret;

	if (a->entry.requested != b->entry.requested)
		return a->entry.requested < b->entry.requested ? -1 : 1;
	if ((ret = strcmp(a->entry.user, b->entry.user)) != 0)
		return ret;
	return strcmp(a->entry.handle, b->entry.handle);
}

static void requests_print(ARRAY_TYPE(requests_row) *rows)
{
	const struct requests_row *row;

	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	doveadm_print_header_simple("username");
	doveadm_print_header_simple("handle");
	doveadm_print_header_simple("requested");
	doveadm_print_header_simple("origin");
	doveadm_print_header_simple("state");
	array_foreach(rows, row) T_BEGIN {
		doveadm_print(row->entry.user);
		doveadm_print(row->entry.handle);
		doveadm_print(doveadm_shipmail_time(row->entry.requested));
		doveadm_print(request_origin_name(row->entry.origin));
		doveadm_print("queued");
	} T_END;
}

/* The prefix -A or -u USER lists, or NULL after logging why not. */
static const char *requests_prefix(bool all_users, const char *user)
{
	char *buf;

	if (all_users)
		return REQUEST_DICT_PREFIX;
	buf = t_malloc0(REQUEST_KEY_MAX);
	if (request_key_user_prefix(buf, REQUEST_KEY_MAX, user) == 0) {
		i_error("shipmail requests: user name too long: %s", user);
		doveadm_exit_code = EX_USAGE;
		return NULL;
	}
	return buf;
}

static void cmd_shipmail_requests(struct doveadm_cmd_context *cctx)
{
	ARRAY_TYPE(requests_row) rows;
	const char *user = NULL, *prefix;
	bool all_users = FALSE;
	struct dict *dict;
	pool_t pool;

	(void)doveadm_cmd_param_bool(cctx, "all-users", &all_users);
	(void)doveadm_cmd_param_str(cctx, "user", &user);
	if (all_users == (user != NULL)) {
		i_error("shipmail requests: give either -A or -u USER");
		doveadm_exit_code = EX_USAGE;
		return;
	}
	if (user != NULL && requests_check_user("requests", user) < 0)
		return;
	if ((prefix = requests_prefix(all_users, user)) == NULL ||
	    requests_open("requests", &dict) < 0)
		return;

	pool = pool_alloconly_create("shipmail requests", 16 * 1024);
	p_array_init(&rows, pool, 32);
	if (requests_read(dict, user, prefix, pool, &rows) == 0) {
		array_sort(&rows, requests_row_cmp);
		requests_print(&rows);
	}
	dict_deinit(&dict);
	pool_unref(&pool);
}

/* --- requests-sent and requests-add ---------------------------------- */

/* The value of a request the admin queues now. */
static const char *requests_admin_value(void)
{
	struct request_entry entry;
	char *buf = t_malloc0(REQUEST_VALUE_MAX);

	i_zero(&entry);
	entry.requested = ioloop_time;
	entry.origin = REQUEST_ORIGIN_ADMIN;
	(void)request_value_encode(&entry, buf, REQUEST_VALUE_MAX);
	return buf;
}

/* Queue (add) or remove one handle's request: the result word to
   print, or NULL when the index failed (logged). */
static const char *
requests_change(const char *what, struct dict *dict, const char *user,
		const char *handle, bool add)
{
	struct dict_op_settings op_set;
	struct dict_transaction_context *dt;
	char key[REQUEST_KEY_MAX];
	/* dict_lookup() looks at *error_r even when it succeeds. */
	const char *value, *error = NULL;
	int ret;

	i_zero(&op_set);
	op_set.username = user;
	if (request_key_build(key, sizeof(key), user, handle) == 0) {
		i_error("shipmail %s: user name too long: %s", what, user);
		doveadm_exit_code = EX_USAGE;
		return NULL;
	}
	ret = dict_lookup(dict, &op_set, pool_datastack_create(), key,
			  &value, &error);
	if (ret == 0 && !add)
		return "not queued";
	if (ret > 0 && add)
		return "already queued";
	if (ret >= 0) {
		dt = dict_transaction_begin(dict, &op_set);
		if (add)
			dict_set(dt, key, requests_admin_value());
		else
			dict_unset(dt, key);
		ret = shipmail_index_commit(&dt, &error);
	}
	if (ret < 0) {
		i_error("shipmail %s: %s %s: %s", what, user, handle, error);
		doveadm_exit_code = EX_TEMPFAIL;
		return NULL;
	}
	return add ? "queued" : "removed";
}

/* The handles given, lower-cased; NULL after logging a malformed one. */
static const char *const *
requests_handles(const char *what, const char *const *args)
{
	ARRAY_TYPE(const_string) handles;
	const char *handle;

	t_array_init(&handles, 8);
	for (; *args != NULL; args++) {
		handle = shipmail_text_handle(*args);
		if (handle == NULL) {
			i_error("shipmail %s: not a handle: %s", what, *args);
			doveadm_exit_code = EX_USAGE;
			return NULL;
		}
		array_push_back(&handles, &handle);
	}
	array_append_zero(&handles);
	return array_front(&handles);
}

/* requests-sent (add FALSE) and requests-add (add TRUE). */
static void
requests_change_cmd(struct doveadm_cmd_context *cctx, const char *what,
		    bool add)
{
	const char *user = NULL, *const *args = NULL, *const *handles;
	const char *result;
	struct dict *dict;

	(void)doveadm_cmd_param_str(cctx, "user", &user);
	(void)doveadm_cmd_param_array(cctx, "handle", &args);
	if (user == NULL || args == NULL || args[0] == NULL) {
		i_error("shipmail %s: give -u USER and handles", what);
		doveadm_exit_code = EX_USAGE;
		return;
	}
	if ((handles = requests_handles(what, args)) == NULL ||
	    requests_check_user(what, user) < 0 ||
	    requests_open(what, &dict) < 0)
		return;

	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	doveadm_print_header_simple("handle");
	doveadm_print_header_simple("result");
	for (; *handles != NULL; handles++) {
		result = requests_change(what, dict, user, *handles, add);
		if (result == NULL)
			break;
		doveadm_print(*handles);
		doveadm_print(result);
	}
	dict_deinit(&dict);
}

static void cmd_shipmail_requests_sent(struct doveadm_cmd_context *cctx)
{
	requests_change_cmd(cctx, "requests-sent", FALSE);
}

static void cmd_shipmail_requests_add(struct doveadm_cmd_context *cctx)
{
	requests_change_cmd(cctx, "requests-add", TRUE);
}

static struct doveadm_cmd_ver2 doveadm_cmd_shipmail_requests = {
	.name = "shipmail requests",
	.cmd = cmd_shipmail_requests,
	.usage = "[-A | -u <user>]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('A', "all-users", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('u', "user", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAMS_END
};

static struct doveadm_cmd_ver2 doveadm_cmd_shipmail_requests_sent = {
	.name = "shipmail requests-sent",
	.cmd = cmd_shipmail_requests_sent,
	.usage = "-u <user> <handle> [<handle>...]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('u', "user", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "handle", CMD_PARAM_ARRAY, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

static struct doveadm_cmd_ver2 doveadm_cmd_shipmail_requests_add = {
	.name = "shipmail requests-add",
	.cmd = cmd_shipmail_requests_add,
	.usage = "-u <user> <handle> [<handle>...]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('u', "user", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "handle", CMD_PARAM_ARRAY, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

void doveadm_shipmail_register_requests(void)
{
	doveadm_cmd_register_ver2(&doveadm_cmd_shipmail_requests);
	doveadm_cmd_register_ver2(&doveadm_cmd_shipmail_requests_sent);
	doveadm_cmd_register_ver2(&doveadm_cmd_shipmail_requests_add);
}
