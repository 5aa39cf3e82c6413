/*
 * Fuzz harness for handle checking (common/handle.h).
 *
 * handle_is_valid() sees handles that anyone can write: in a header of
 * an incoming message, in a crew member's request, on an admin's
 * command line.  Given any bytes (with their length, no terminating
 * NUL) it must read none past the length and agree with the definition:
 * exactly SHIPMAIL_HANDLE_LEN characters of a-z and 2-7.  A handle
 * made by handle_generate() must always be valid.
 */
#include "common/handle.h"
#include "fuzz-input.h"

static int
reference_is_valid(const uint8_t *s, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

	if (len != SHIPMAIL_HANDLE_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0' || strchr(alphabet, s[i]) == NULL)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *exact = malloc(size > 0 ? size : 1);
	char made[SHIPMAIL_HANDLE_LEN + 1];

	if (exact == NULL)
		abort();
	if (size > 0)
		memcpy(exact, data, size);
	FUZZ_CHECK(!handle_is_valid(exact, size) ==
		   !reference_is_valid(data, size));
	free(exact);

	/* A sample of generated handles, a few per run. */
	if (size > 0 && data[0] == 'g') {
		FUZZ_CHECK(handle_generate(made) == 0);
		FUZZ_CHECK(strlen(made) == SHIPMAIL_HANDLE_LEN);
		FUZZ_CHECK(handle_is_valid(made, strlen(made)));
	}
	return 0;
}
