/* Unit tests of the ship to user mapping. */
#include "ship-users.h"
#include "../common/config.h"
#include "test-common.h"

#include <string.h>

static struct ship_users *load(const char *text, const char *ship)
{
	char error[256];
	struct config *cfg = config_parse(text, strlen(text), "test",
					  error, sizeof(error));
	struct ship_users *users;

	if (cfg == NULL)
		return NULL;
	users = ship_users_load(cfg, ship, error, sizeof(error));
	config_free(&cfg);
	return users;
}

static void test_domains_and_addresses(void)
{
	struct ship_users *u = load("shore_ship_one = @ship1.example, "
				    "captain@fleet.example\n"
				    "shore_ship_two = @ship2.example\n", "one");

	test_begin("ship users: domain items and single addresses match");
	test_assert(u != NULL);
	test_assert(ship_users_match(u, "alice@ship1.example"));
	test_assert(ship_users_match(u, "Bob@SHIP1.example"));
	test_assert(ship_users_match(u, "captain@fleet.example"));
	test_assert(!ship_users_match(u, "mate@fleet.example"));
	test_assert(!ship_users_match(u, "alice@ship2.example"));
	test_assert(!ship_users_match(u, "alice@xship1.example"));
	test_assert(!ship_users_match(u, "@ship1.example"));
	test_assert(!ship_users_match(u, "ship1.example"));
	ship_users_free(&u);
	test_assert(u == NULL);
	test_end();
}

static void test_unsafe_names_refused(void)
{
	static const char *const bad[] = {
		"a/b@ship1.example", "..@ship1.example", "x/../y@ship1.example",
		"*@ship1.example", "%u@ship1.example", "a b@ship1.example",
		"a\tb@ship1.example", ".hidden@ship1.example", "",
		"-o@ship1.example", "a\\b@ship1.example",
		"zed@ship2.example@ship1.example", "a@@ship1.example",
	};
	struct ship_users *u = load("shore_ship_one = @ship1.example\n",
				    "one");
	size_t i;

	test_begin("ship users: '/', '..', '*', '%', blanks, two '@' refused");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ship_users_match(u, bad[i]))
			test_assert_str(bad[i], "(refused)");
	}
	test_assert(ship_users_match(u, "a.b+tag@ship1.example"));
	ship_users_free(&u);
	test_end();
}

static void test_bad_ship_names(void)
{
	test_begin("ship users: unknown or malformed ship names refused");
	test_assert(load("shore_ship_one = @ship1.example\n", "two") == NULL);
	test_assert(load("shore_ship_one = @ship1.example\n", "o/ne") == NULL);
	test_assert(load("shore_ship_one = @ship1.example\n", "") == NULL);
	test_assert(load("shore_ship_one =\n", "one") == NULL);
	test_assert(ship_name_is_valid("ship-1_a"));
	test_assert(!ship_name_is_valid("ship 1"));
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_domains_and_addresses,
		test_unsafe_names_refused,
		test_bad_ship_names,
		NULL
	};

	return test_run(tests);
}
