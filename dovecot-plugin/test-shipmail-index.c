/*
 * Unit tests of the pending index as Dovecot's lib-dict sees it: keys
 * and prefixes, values, and reading rows back, through a file dict in a
 * temporary directory (no Dovecot service needed).
 */
#include "lib.h"
#include "array.h"
#include "unlink-directory.h"
#include "dict.h"
#include "common/test-common.h"
#include "shipmail-index.h"

#include <stdlib.h>
#include <unistd.h>

#define GUID1 "0123456789abcdef0123456789abcdef"
#define GUID2 "fedcba9876543210fedcba9876543210"

static const char *test_dir;

static void test_entry(struct pending_entry *e, const char *user,
		       const char *guid, uint32_t uid, int64_t received)
{
	i_zero(e);
	e->user = user;
	memcpy(e->guid, guid, PENDING_GUID_LEN + 1);
	e->uid = uid;
	e->uidvalidity = 1700000000;
	e->size = 1000 + uid;
	e->received = received;
	e->handle = "";
	e->mailbox = "INBOX";
	e->from = "Jürgen <j@shore.example>";
	e->subject = "tab\there";
}

static void test_index_keys(void)
{
	test_begin("index: keys and prefixes name user, mailbox and UID");
	T_BEGIN {
		test_assert_str(shipmail_index_key("a@b.example", GUID1, 7),
			"shared/shipmail/pending/a@b.example/" GUID1 "/7");
		test_assert_str(shipmail_index_key("a/b c", GUID1, 7),
			"shared/shipmail/pending/a%2fb%20c/" GUID1 "/7");
		test_assert_str(shipmail_index_prefix("a@b.example", NULL),
			"shared/shipmail/pending/a@b.example/");
		test_assert_str(shipmail_index_prefix("a@b.example", GUID2),
			"shared/shipmail/pending/a@b.example/" GUID2 "/");
		test_assert(shipmail_index_key("", GUID1, 7) == NULL);
		test_assert(shipmail_index_key("a", "nothex", 7) == NULL);
	} T_END;
	test_end();
}

static struct dict *test_dict_open(void)
{
	struct dict *dict;
	const char *error;

	if (shipmail_index_open(t_strconcat("file:", test_dir, "/index", NULL),
				test_dir, NULL, &dict, &error) < 0)
		i_fatal("%s", error);
	return dict;
}

static void test_dict_put(struct dict *dict, const char *key, const char *value)
{
	struct dict_op_settings op_set;
	struct dict_transaction_context *t;
	const char *error;

	i_zero(&op_set);
	t = dict_transaction_begin(dict, &op_set);
	dict_set(t, key, value);
	test_assert(shipmail_index_commit(&t, &error) == 0);
}

static void test_index_read_back(void)
{
	ARRAY_TYPE(shipmail_index_row) rows;
	const struct shipmail_index_row *row;
	struct pending_entry e;
	struct dict *dict;
	unsigned int bad = 99;
	const char *error;
	pool_t pool;

	test_begin("index: rows read back decoded, oldest first, bad ones counted");
	T_BEGIN {
		dict = test_dict_open();
		test_entry(&e, "bob@x.example", GUID1, 3, 300);
		test_dict_put(dict, shipmail_index_key(e.user, e.guid, e.uid),
			      shipmail_index_value(&e));
		test_entry(&e, "al/ice@x.example", GUID2, 9, 100);
		e.flags = PENDING_FLAG_OVERSIZE | PENDING_FLAG_REQUESTED;
		e.handle = "abcdefghijklmnopqrst";
		test_dict_put(dict, shipmail_index_key(e.user, e.guid, e.uid),
			      shipmail_index_value(&e));
		test_dict_put(dict, "shared/shipmail/pending/bob@x.example/"
			      GUID1 "/4", "2\tnot a version we know");

		pool = pool_alloconly_create("test rows", 1024);
		p_array_init(&rows, pool, 4);
		test_assert(shipmail_index_read(dict, NULL, PENDING_DICT_PREFIX,
						pool, &rows, &bad, &error) == 0);
		test_assert(bad == 1);
		test_assert(array_count(&rows) == 2);
		array_sort(&rows, shipmail_index_row_cmp);

		row = array_idx(&rows, 0);
		test_assert_str(row->entry.user, "al/ice@x.example");
		test_assert_str(row->entry.guid, GUID2);
		test_assert_u64(row->entry.uid, 9);
		test_assert_u64(row->entry.received, 100);
		test_assert_u64(row->entry.flags,
				PENDING_FLAG_OVERSIZE | PENDING_FLAG_REQUESTED);
		test_assert_str(row->entry.handle, "abcdefghijklmnopqrst");
		test_assert_str(row->entry.subject, "tab\there");
		test_assert_str(row->entry.from, "Jürgen <j@shore.example>");

		row = array_idx(&rows, 1);
		test_assert_str(row->entry.user, "bob@x.example");
		test_assert_u64(row->entry.size, 1003);

		array_clear(&rows);
		test_assert(shipmail_index_read(dict, NULL,
			shipmail_index_prefix("bob@x.example", NULL), pool,
			&rows, &bad, &error) == 0);
		test_assert(array_count(&rows) == 1 && bad == 1);
		pool_unref(&pool);
		dict_deinit(&dict);
	} T_END;
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_index_keys,
		test_index_read_back,
		NULL
	};
	char template[] = "/tmp/test-shipmail-index.XXXXXX";
	const char *error;
	int ret;

	lib_init();
	dict_drivers_register_builtin();
	if (mkdtemp(template) == NULL)
		i_fatal("mkdtemp() failed: %m");
	test_dir = template;
	ret = test_run(tests);
	if (unlink_directory(test_dir, UNLINK_DIRECTORY_FLAG_RMDIR, &error) < 0)
		i_error("%s", error);
	dict_drivers_unregister_builtin();
	lib_deinit();
	return ret;
}
