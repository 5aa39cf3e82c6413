/*
 * Unit tests of handles (handle.h): the form a handle must have, and
 * that generated handles spread over the whole alphabet in every
 * position, as 100 random bits must.
 */
#include "handle.h"
#include "test-common.h"

#include <string.h>

#define SAMPLE	2000

static void
test_valid_form(void)
{
	test_begin("handle: 20 characters of a-z and 2-7, nothing else");
	test_assert(handle_is_valid("abcdefghijklmnopqrs7", 20));
	test_assert(handle_is_valid("22222222222222222222", 20));
	test_assert(!handle_is_valid("abcdefghijklmnopqrs", 19));
	test_assert(!handle_is_valid("abcdefghijklmnopqrs77", 21));
	test_assert(!handle_is_valid("Abcdefghijklmnopqrs7", 20));
	test_assert(!handle_is_valid("abcdefghijklmnopqrs8", 20));
	test_assert(!handle_is_valid("abcdefghijklmnopqrs1", 20));
	test_assert(!handle_is_valid("abcdefghij/lmnopqrs7", 20));
	test_assert(!handle_is_valid("abcdefghij\0lmnopqrs7", 20));
	test_assert(!handle_is_valid("", 0));
	test_end();
}

/*
 * Every generated handle is valid and new, and each of the 20
 * positions takes each of the 32 characters in a sample of 2000: a
 * position stuck on fewer values (fewer random bits) would miss one.
 * A fair generator misses one with a chance of about 1e-11.
 */
static void
test_generated_spread(void)
{
	static char seen[SAMPLE][SHIPMAIL_HANDLE_LEN + 1];
	unsigned int used[SHIPMAIL_HANDLE_LEN][32];
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	int all_valid = 1, all_new = 1, spread = 1;

	test_begin("handle: generated ones are valid, distinct, and use "
		   "every character in every position");
	memset(used, 0, sizeof(used));
	for (size_t n = 0; n < SAMPLE; n++) {
		test_assert(handle_generate(seen[n]) == 0);
		all_valid &= handle_is_valid(seen[n], strlen(seen[n]));
		for (size_t k = 0; k < n && all_new; k++)
			all_new = strcmp(seen[k], seen[n]) != 0;
		for (size_t i = 0; i < SHIPMAIL_HANDLE_LEN; i++) {
			const char *c = strchr(alphabet, seen[n][i]);

			if (c != NULL && seen[n][i] != '\0')
				used[i][c - alphabet]++;
		}
	}
	for (size_t i = 0; i < SHIPMAIL_HANDLE_LEN; i++) {
		for (size_t c = 0; c < 32; c++)
			spread &= used[i][c] > 0;
	}
	test_assert(all_valid);
	test_assert(all_new);
	test_assert(spread);
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_valid_form,
		test_generated_spread,
		NULL,
	};

	return test_run(tests);
}
