/*
 * TAP output for the unit tests: see test-common.h.
 */
#include "test-common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *current_name;
static int current_failed;
static int test_count;
static int failed_count;

void
test_begin(const char *name)
{
	current_name = name;
	current_failed = 0;
}

void
test_end(void)
{
	test_count++;
	if (current_failed)
		failed_count++;
	printf("%sok %d - %s\n", current_failed ? "not " : "", test_count,
	       current_name != NULL ? current_name : "(unnamed)");
	fflush(stdout);
	current_name = NULL;
}

void
test_assert_at(int ok, const char *expr, const char *file, int line)
{
	if (ok)
		return;
	current_failed = 1;
	printf("# %s:%d: failed: %s\n", file, line, expr);
}

void
test_assert_str_at(const char *got, const char *want, const char *file,
		   int line)
{
	if (got == NULL && want == NULL)
		return;
	if (got != NULL && want != NULL && strcmp(got, want) == 0)
		return;
	current_failed = 1;
	printf("# %s:%d: got \"%s\", want \"%s\"\n", file, line,
	       got != NULL ? got : "(null)", want != NULL ? want : "(null)");
}

void
test_assert_u64_at(uint64_t got, uint64_t want, const char *expr,
		   const char *file, int line)
{
	if (got == want)
		return;
	current_failed = 1;
	printf("# %s:%d: %s is %" PRIu64 ", want %" PRIu64 "\n",
	       file, line, expr, got, want);
}

int
test_run(void (*const tests[])(void))
{
	for (size_t i = 0; tests[i] != NULL; i++)
		tests[i]();
	printf("1..%d\n", test_count);
	return failed_count == 0 ? 0 : 1;
}
