/*
 * Fuzz harness for the outbound spool file's envelope block
 * (common/outbound.h).
 *
 * The shore parses the block from what a ship uploaded.  Given any
 * bytes it must read none past the length and say "need more" only
 * while a block could still fit.  A block it accepts must format back
 * to exactly the same bytes (one spelling per value; the one exception
 * is body=7BIT, read but never written), and parse again to the same
 * envelope.
 */
#include "common/outbound.h"
#include "fuzz-input.h"

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_same(const struct outbound_envelope *a,
	   const struct outbound_envelope *b)
{
	FUZZ_CHECK(str_eq(a->sender, b->sender));
	FUZZ_CHECK(str_eq(a->envid, b->envid));
	FUZZ_CHECK(a->ret == b->ret && a->body_8bit == b->body_8bit &&
		   a->smtputf8 == b->smtputf8);
	FUZZ_CHECK(a->rcpt_count == b->rcpt_count);
	for (size_t i = 0; i < a->rcpt_count; i++) {
		FUZZ_CHECK(str_eq(a->rcpts[i].addr, b->rcpts[i].addr));
		FUZZ_CHECK(str_eq(a->rcpts[i].orcpt, b->rcpts[i].orcpt));
		FUZZ_CHECK(a->rcpts[i].notify == b->rcpts[i].notify);
	}
}

/* Does s[0..len) hold word? */
static int
contains(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; i + n <= len; i++) {
		if (memcmp(s + i, word, n) == 0)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact copy, so that ASan sees a read past the length. */
	char *exact = malloc(size > 0 ? size : 1), *block;
	struct outbound_envelope env, again;
	char error[256];
	size_t len;
	ssize_t n;

	if (exact == NULL)
		abort();
	if (size > 0)
		memcpy(exact, data, size);
	n = outbound_envelope_parse(exact, size, &env, error, sizeof(error));
	if (n <= 0) {
		FUZZ_CHECK(env.sender == NULL && env.rcpts == NULL);
		if (n == 0)
			FUZZ_CHECK(size < OUTBOUND_HEADER_MAX);
		free(exact);
		return 0;
	}
	FUZZ_CHECK((size_t)n <= size && (size_t)n <= OUTBOUND_HEADER_MAX);
	FUZZ_CHECK(n >= 2 && exact[n - 1] == '\n' && exact[n - 2] == '\n');
	FUZZ_CHECK(env.sender != NULL && env.rcpt_count >= 1 &&
		   env.rcpt_count <= OUTBOUND_RCPT_MAX);

	block = outbound_envelope_format(&env, &len);
	FUZZ_CHECK(block != NULL);
	if (!contains(exact, (size_t)n, " body=7BIT"))
		FUZZ_CHECK(len == (size_t)n && memcmp(block, exact, len) == 0);
	FUZZ_CHECK(outbound_envelope_parse(block, len, &again, error,
					   sizeof(error)) == (ssize_t)len);
	check_same(&env, &again);

	outbound_envelope_free(&again);
	outbound_envelope_free(&env);
	free(block);
	free(exact);
	return 0;
}
