/*
 * Opening, naming and reading the pending index (see shipmail-index.h).
 *
 * The keys and values themselves are made by common/pending.c; this
 * file only puts them on Dovecot's data stack and through lib-dict.
 * It does not decide what is pending: that is shipmail-entry.c's job.
 */
#include "lib.h"
#include "array.h"
#include "dict.h"
#include "shipmail-index.h"

int shipmail_index_open(const char *uri, const char *base_dir,
			struct event *event_parent, struct dict **dict_r,
			const char **error_r)
{
	struct dict_settings set;
	const char *error;

	i_zero(&set);
	set.base_dir = base_dir;
	set.event_parent = event_parent;
	if (dict_init(uri, &set, dict_r, &error) < 0) {
		*error_r = t_strdup_printf("shipmail_dict %s: %s", uri, error);
		return -1;
	}
	return 0;
}

const char *shipmail_index_key(const char *user, const char *guid,
			       uint32_t uid)
{
	char *buf = t_malloc_no0(PENDING_KEY_MAX);

	if (pending_key_build(buf, PENDING_KEY_MAX, user, guid, uid) == 0)
		return NULL;
	return buf;
}

const char *shipmail_index_prefix(const char *user, const char *guid)
{
	char *buf = t_malloc_no0(PENDING_KEY_MAX);

	if (pending_key_user_prefix(buf, PENDING_KEY_MAX, user) == 0)
		return NULL;
	if (guid == NULL)
		return buf;
	return t_strconcat(buf, guid, "/", NULL);
}

const char *shipmail_index_value(const struct pending_entry *entry)
{
	char *buf = t_malloc_no0(PENDING_VALUE_MAX + 1);

	(void)pending_value_encode(entry, buf, PENDING_VALUE_MAX + 1);
	return buf;
}

/* Decode one row into row, with its strings copied into pool. */
static int
shipmail_index_decode(const char *key, const char *value, pool_t pool,
		      struct shipmail_index_row *row)
{
	char *user_buf = p_malloc(pool, PENDING_USER_MAX + 1);
	char *value_copy = p_strdup(pool, value);
	const char *error;

	i_zero(row);
	if (pending_key_parse(key, &row->entry, user_buf,
			      PENDING_USER_MAX + 1, &error) < 0 ||
	    pending_value_decode(value_copy, &row->entry, &error) < 0) {
		i_warning("shipmail: index row %s skipped: %s", key, error);
		return -1;
	}
	row->key = p_strdup(pool, key);
	return 0;
}

int shipmail_index_read(struct dict *dict, const char *username,
			const char *prefix, pool_t pool,
			ARRAY_TYPE(shipmail_index_row) *rows,
			unsigned int *bad_r, const char **error_r)
{
	struct dict_op_settings op_set;
	struct dict_iterate_context *iter;
	struct shipmail_index_row row;
	const char *key, *value, *error;

	i_zero(&op_set);
	op_set.username = username;
	*bad_r = 0;

	iter = dict_iterate_init(dict, &op_set, prefix,
				 DICT_ITERATE_FLAG_RECURSE);
	while (dict_iterate(iter, &key, &value)) {
		if (shipmail_index_decode(key, value, pool, &row) < 0)
			(*bad_r)++;
		else
			array_push_back(rows, &row);
	}
	if (dict_iterate_deinit(&iter, &error) < 0) {
		*error_r = t_strdup_printf("reading the index failed: %s",
					   error);
		return -1;
	}
	return 0;
}

int shipmail_index_commit(struct dict_transaction_context **trans,
			  const char **error_r)
{
	const char *error;

	if (dict_transaction_commit(trans, &error) < 0) {
		*error_r = t_strdup_printf("writing the index failed: %s",
					   error);
		return -1;
	}
	return 0;
}

int shipmail_index_row_cmp(const struct shipmail_index_row *a,
			   const struct shipmail_index_row *b)
{
	int ret;

	if (a->entry.received != b->entry.received)
		return a->entry.received < b->entry.received ? -1 : 1;
	if ((ret = strcmp(a->entry.user, b->entry.user)) != 0)
		return ret;
	if ((ret = strcmp(a->entry.guid, b->entry.guid)) != 0)
		return ret;
	if (a->entry.uid != b->entry.uid)
		return a->entry.uid < b->entry.uid ? -1 : 1;
	return 0;
}
