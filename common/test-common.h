#ifndef SHIPMAIL_TEST_COMMON_H
#define SHIPMAIL_TEST_COMMON_H

/*
 * A small test driver for the unit tests that sit beside the code.
 *
 * A test program is a table of functions; each one calls test_begin()
 * with a name that says which case it checks, makes its checks with
 * test_assert() and the comparison helpers, and ends with test_end().
 * The output is TAP ("ok N - name" / "not ok N - name"), which the
 * project's test runner counts.  A failed check prints where and what.
 */

#include <stddef.h>
#include <stdint.h>

void test_begin(const char *name);
void test_end(void);

/* Run every test in the NULL-terminated table; return the exit status. */
int test_run(void (*const tests[])(void));

#define test_assert(expr) \
	test_assert_at((expr) ? 1 : 0, #expr, __FILE__, __LINE__)
#define test_assert_str(got, want) \
	test_assert_str_at((got), (want), __FILE__, __LINE__)
#define test_assert_u64(got, want) \
	test_assert_u64_at((got), (want), #got, __FILE__, __LINE__)

void test_assert_at(int ok, const char *expr, const char *file, int line);
void test_assert_str_at(const char *got, const char *want,
			const char *file, int line);
void test_assert_u64_at(uint64_t got, uint64_t want, const char *expr,
			const char *file, int line);

#endif
