/*
 * doveadm shipmail pending [-A | -u USER] [--summary] [--oversize]
 *
 * Lists pending mail from the index alone, oldest first: one row per
 * message, or per user with --summary (count, bytes, oldest).
 *
 * This is deliberately not a doveadm mail command.  For those, -A means
 * "run once per user", which costs a userdb iteration and a mail user
 * per account: 10,000 users for 100 with pending mail.  Here -A is one
 * dict iteration of the whole index, so the cost grows with what is
 * pending, not with the number of users.  -u USER checks that the user
 * exists (userdb) and iterates that user's prefix only.  The dict comes
 * from the global plugin { shipmail_dict }: the index is shared, so a
 * per-user value would make no sense here.
 *
 * Not done: -S (running on a remote doveadm server) and -F; through the
 * HTTP API the command runs on the server that answers it, which reads
 * the same index.
 */
#include "lib.h"
#include "array.h"
#include "hash.h"
#include "dict.h"
#include "master-service.h"
#include "mail-storage-service.h"
#include "doveadm.h"
#include "doveadm-print.h"
#include "doveadm-settings.h"
#include "doveadm-util.h"
#include "shipmail-index.h"
#include "doveadm-shipmail.h"

struct pending_cmd {
	pool_t pool;
	bool all_users, summary, oversize;
	const char *user;
	ARRAY_TYPE(shipmail_index_row) rows;
};

struct pending_summary {
	const char *user;
	unsigned int count;
	uint64_t bytes;
	int64_t oldest;
};

static int pending_cmd_parse(struct doveadm_cmd_context *cctx,
			     struct pending_cmd *cmd)
{
	(void)doveadm_cmd_param_bool(cctx, "all-users", &cmd->all_users);
	(void)doveadm_cmd_param_str(cctx, "user", &cmd->user);
	(void)doveadm_cmd_param_bool(cctx, "summary", &cmd->summary);
	(void)doveadm_cmd_param_bool(cctx, "oversize", &cmd->oversize);

	if (cmd->all_users == (cmd->user != NULL)) {
		i_error("shipmail pending: give either -A or -u USER");
		doveadm_exit_code = EX_USAGE;
		return -1;
	}
	return 0;
}

int doveadm_shipmail_user_exists(const char *user, const char **error_r)
{
	struct mail_storage_service_ctx *service;
	struct mail_storage_service_input input;
	struct mail_storage_service_user *service_user;
	int ret;

	service = mail_storage_service_init(master_service, NULL,
		MAIL_STORAGE_SERVICE_FLAG_USERDB_LOOKUP |
		MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT |
		MAIL_STORAGE_SERVICE_FLAG_NO_PLUGINS |
		MAIL_STORAGE_SERVICE_FLAG_NO_RESTRICT_ACCESS);
	i_zero(&input);
	input.module = "mail";
	input.service = "doveadm";
	input.username = user;
	ret = mail_storage_service_lookup(service, &input, &service_user,
					  error_r);
	if (ret > 0)
		mail_storage_service_user_unref(&service_user);
	mail_storage_service_deinit(&service);
	return ret < 0 ? -1 : ret;
}

/* Read the rows this invocation lists into cmd->rows. */
static int pending_read(struct pending_cmd *cmd)
{
	const char *uri, *prefix, *error;
	struct dict *dict;
	unsigned int bad;
	int ret;

	uri = doveadm_plugin_getenv("shipmail_dict");
	if (uri == NULL || uri[0] == '\0') {
		i_error("shipmail pending: plugin { shipmail_dict } is not set");
		doveadm_exit_code = EX_CONFIG;
		return -1;
	}
	prefix = cmd->all_users ? PENDING_DICT_PREFIX :
		shipmail_index_prefix(cmd->user, NULL);
	if (prefix == NULL) {
		i_error("shipmail pending: user name too long: %s", cmd->user);
		doveadm_exit_code = EX_USAGE;
		return -1;
	}
	if (shipmail_index_open(uri, doveadm_settings->base_dir, NULL,
				&dict, &error) < 0) {
		i_error("shipmail pending: %s", error);
		doveadm_exit_code = EX_CONFIG;
		return -1;
	}

	ret = shipmail_index_read(dict, cmd->user, prefix, cmd->pool,
				  &cmd->rows, &bad, &error);
	dict_deinit(&dict);
	if (ret < 0) {
		i_error("shipmail pending: %s", error);
		doveadm_exit_code = EX_TEMPFAIL;
		return -1;
	}
	if (bad > 0)
		i_warning("shipmail pending: %u malformed index rows skipped "
			  "(doveadm shipmail recalc rewrites them)", bad);
	return 0;
}

static void pending_drop_small(struct pending_cmd *cmd)
{
	const struct shipmail_index_row *rows;
	unsigned int i, count;

	rows = array_get(&cmd->rows, &count);
	for (i = count; i > 0; i--) {
		if ((rows[i - 1].entry.flags & PENDING_FLAG_OVERSIZE) == 0)
			array_delete(&cmd->rows, i - 1, 1);
	}
}

static void pending_print_rows(struct pending_cmd *cmd)
{
	const struct shipmail_index_row *row;

	doveadm_print_header_simple("username");
	doveadm_print_header_simple("mailbox");
	doveadm_print_header("uidvalidity", "uidvalidity",
			     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header("uid", "uid", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header("size", "size", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header_simple("received");
	doveadm_print_header_simple("flags");
	doveadm_print_header_simple("handle");
	doveadm_print_header_simple("from");
	doveadm_print_header("subject", "subject",
			     DOVEADM_PRINT_HEADER_FLAG_EXPAND);

	array_foreach(&cmd->rows, row) T_BEGIN {
		doveadm_print(row->entry.user);
		doveadm_print(row->entry.mailbox);
		doveadm_print_num(row->entry.uidvalidity);
		doveadm_print_num(row->entry.uid);
		doveadm_print_num(row->entry.size);
		doveadm_print(doveadm_shipmail_time(row->entry.received));
		doveadm_print(doveadm_shipmail_flags(row->entry.flags));
		doveadm_print(row->entry.handle);
		doveadm_print(row->entry.from);
		doveadm_print(row->entry.subject);
	} T_END;
}

static int pending_summary_cmp(struct pending_summary *const *a,
			       struct pending_summary *const *b)
{
	if ((*a)->oldest != (*b)->oldest)
		return (*a)->oldest < (*b)->oldest ? -1 : 1;
	return strcmp((*a)->user, (*b)->user);
}

static void pending_print_summary(struct pending_cmd *cmd)
{
	HASH_TABLE(const char *, struct pending_summary *) users;
	ARRAY(struct pending_summary *) list;
	const struct shipmail_index_row *row;
	struct pending_summary *sum, *const *sump;

	hash_table_create(&users, cmd->pool, 0, str_hash, strcmp);
	p_array_init(&list, cmd->pool, 16);
	array_foreach(&cmd->rows, row) {
		sum = hash_table_lookup(users, row->entry.user);
		if (sum == NULL) {
			sum = p_new(cmd->pool, struct pending_summary, 1);
			sum->user = row->entry.user;
			sum->oldest = row->entry.received;
			hash_table_insert(users, sum->user, sum);
			array_push_back(&list, &sum);
		}
		sum->count++;
		sum->bytes += row->entry.size;
		if (row->entry.received < sum->oldest)
			sum->oldest = row->entry.received;
	}
	hash_table_destroy(&users);
	array_sort(&list, pending_summary_cmp);

	doveadm_print_header_simple("username");
	doveadm_print_header("count", "count", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header("bytes", "bytes", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header_simple("oldest");
	array_foreach(&list, sump) T_BEGIN {
		doveadm_print((*sump)->user);
		doveadm_print_num((*sump)->count);
		doveadm_print_num((*sump)->bytes);
		doveadm_print(doveadm_shipmail_time((*sump)->oldest));
	} T_END;
}

static void cmd_shipmail_pending(struct doveadm_cmd_context *cctx)
{
	struct pending_cmd cmd;
	const char *error;
	int ret;

	i_zero(&cmd);
	if (pending_cmd_parse(cctx, &cmd) < 0)
		return;
	if (cmd.user != NULL) {
		ret = doveadm_shipmail_user_exists(cmd.user, &error);
		if (ret <= 0) {
			i_error("shipmail pending: %s: %s", cmd.user,
				ret == 0 ? "user doesn't exist" : error);
			doveadm_exit_code = ret == 0 ? EX_NOUSER : EX_TEMPFAIL;
			return;
		}
	}

	cmd.pool = pool_alloconly_create("shipmail pending", 1024 * 64);
	p_array_init(&cmd.rows, cmd.pool, 128);
	if (pending_read(&cmd) == 0) {
		if (cmd.oversize)
			pending_drop_small(&cmd);
		array_sort(&cmd.rows, shipmail_index_row_cmp);
		doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
		if (cmd.summary)
			pending_print_summary(&cmd);
		else
			pending_print_rows(&cmd);
	}
	pool_unref(&cmd.pool);
}

static struct doveadm_cmd_ver2 doveadm_cmd_shipmail_pending = {
	.name = "shipmail pending",
	.cmd = cmd_shipmail_pending,
	.usage = "[-A | -u <user>] [--summary] [--oversize]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('A', "all-users", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('u', "user", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "summary", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('\0', "oversize", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAMS_END
};

void doveadm_shipmail_register_pending(void)
{
	doveadm_cmd_register_ver2(&doveadm_cmd_shipmail_pending);
}
