/* Unit tests of the run's order: fairness, age, oversize, budget. */
#include "plan.h"
#include "test-common.h"

#include <stdio.h>
#include <string.h>

static struct plan_item item(const char *user, uint32_t uid, int64_t t,
			     uint64_t size, unsigned int flags)
{
	struct plan_item it;

	memset(&it, 0, sizeof(it));
	snprintf(it.ref.user, sizeof(it.ref.user), "%s", user);
	strcpy(it.ref.guid, "0123456789abcdef0123456789abcdef");
	it.ref.uidvalidity = 1;
	it.ref.uid = uid;
	it.received = t;
	it.size = size;
	it.flags = flags;
	return it;
}

static void test_fair_and_oldest_first(void)
{
	struct plan_item it[6];
	size_t over, def, n;

	test_begin("plan: users in turn, each oldest first");
	it[0] = item("flood", 1, 10, 100, 0);
	it[1] = item("flood", 2, 11, 100, 0);
	it[2] = item("flood", 3, 12, 100, 0);
	it[3] = item("flood", 4, 13, 100, 0);
	it[4] = item("quiet", 7, 50, 100, 0);
	it[5] = item("other", 9, 20, 100, 0);
	n = plan_order(it, 6, 0, &over, &def);
	test_assert_u64(n, 6);
	test_assert(over == 0 && def == 0);
	test_assert(strcmp(it[0].ref.user, "flood") == 0 && it[0].ref.uid == 1);
	test_assert_str(it[1].ref.user, "other");
	test_assert_str(it[2].ref.user, "quiet");
	test_assert(strcmp(it[3].ref.user, "flood") == 0 && it[3].ref.uid == 2);
	test_assert(it[4].ref.uid == 3 && it[5].ref.uid == 4);
	test_end();
}

static void test_oversize_only_when_requested(void)
{
	struct plan_item it[3];
	size_t over, def, n;

	test_begin("plan: oversize mail only once requested");
	it[0] = item("a", 1, 1, 5000000, PENDING_FLAG_OVERSIZE);
	it[1] = item("a", 2, 2, 100, 0);
	it[2] = item("b", 3, 3, 6000000,
		     PENDING_FLAG_OVERSIZE | PENDING_FLAG_REQUESTED);
	n = plan_order(it, 3, 0, &over, &def);
	test_assert_u64(n, 2);
	test_assert_u64(over, 1);
	test_assert(it[0].ref.uid == 2 && it[1].ref.uid == 3);
	test_end();
}

static void test_byte_budget(void)
{
	struct plan_item it[3];
	size_t over, def, n;

	test_begin("plan: byte budget defers the rest, takes at least one");
	it[0] = item("a", 1, 1, 600, 0);
	it[1] = item("a", 2, 2, 600, 0);
	it[2] = item("a", 3, 3, 600, 0);
	n = plan_order(it, 3, 1300, &over, &def);
	test_assert_u64(n, 2);
	test_assert_u64(def, 1);
	n = plan_order(it, 3, 10, &over, &def);
	test_assert_u64(n, 1);
	test_assert_u64(def, 2);
	test_assert_u64(plan_order(it, 0, 10, &over, &def), 0);
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_fair_and_oldest_first,
		test_oversize_only_when_requested,
		test_byte_budget,
		NULL
	};

	return test_run(tests);
}
