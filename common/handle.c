/*
 * Random handles for held messages: see handle.h.
 */
#include "handle.h"

#include <errno.h>
#include <sys/random.h>

static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

int
handle_generate(char buf[SHIPMAIL_HANDLE_LEN + 1])
{
	unsigned char random[SHIPMAIL_HANDLE_LEN];
	size_t got = 0;

	while (got < sizeof(random)) {
		ssize_t n = getrandom(random + got, sizeof(random) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	/* Five random bits per character. */
	for (size_t i = 0; i < SHIPMAIL_HANDLE_LEN; i++)
		buf[i] = base32_alphabet[random[i] & 31];
	buf[SHIPMAIL_HANDLE_LEN] = '\0';
	return 0;
}

int
handle_is_valid(const char *str, size_t len)
{
	if (len != SHIPMAIL_HANDLE_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = str[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')))
			return 0;
	}
	return 1;
}
