/*
 * Fuzz harness for pending index values (common/pending.h).
 *
 * Values are read from a database that other programs can write.  Any
 * bytes (up to the first NUL) are decoded.  A refused value must come
 * with a reason.  For an accepted one:
 *   - the numbers are in range, the flags known, the handle empty or
 *     well formed, and the text fields lie inside the decoded buffer;
 *   - encoding the entry again fits PENDING_VALUE_MAX and decodes to
 *     the same numbers and handle, and to text fields that are the
 *     first ones cut to PENDING_TEXT_MAX bytes;
 *   - that second encoding is stable: encoding its decoding gives the
 *     same bytes;
 *   - encoding into a short buffer gives the same length, and the
 *     buffer holds a NUL-terminated prefix of the full value.
 */
#include "common/pending.h"
#include "common/handle.h"
#include "fuzz-input.h"

static int
inside(const char *p, const char *buf, size_t len)
{
	return p >= buf && p + strlen(p) <= buf + len;
}

/* b is a's text cut as the encoder does: a prefix, short enough. */
static void
check_cut(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);

	FUZZ_CHECK(blen <= alen && memcmp(a, b, blen) == 0);
	if (alen <= PENDING_TEXT_MAX)
		FUZZ_CHECK(blen == alen);
	else
		FUZZ_CHECK(blen <= PENDING_TEXT_MAX);
}

static void
check_short_buffers(const struct pending_entry *entry, const char *full,
		    size_t len, uint8_t pick)
{
	size_t size = len * pick / 255;
	char *buf = malloc(size > 0 ? size : 1);

	if (buf == NULL)
		abort();
	FUZZ_CHECK(pending_value_encode(entry, buf, size) == len);
	if (size > 0) {
		FUZZ_CHECK(strlen(buf) == size - 1);
		FUZZ_CHECK(memcmp(buf, full, size - 1) == 0);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = fuzz_dup(data, size);
	size_t value_len = strlen(value);
	char enc1[PENDING_VALUE_MAX + 1], enc2[PENDING_VALUE_MAX + 1];
	char copy[PENDING_VALUE_MAX + 1];
	struct pending_entry e1, e2;
	const char *error = NULL;
	size_t len1, len2;

	memset(&e1, 0, sizeof(e1));
	if (pending_value_decode(value, &e1, &error) < 0) {
		FUZZ_CHECK(error != NULL);
		free(value);
		return 0;
	}
	FUZZ_CHECK(e1.uidvalidity != 0);
	FUZZ_CHECK(e1.size <= INT64_MAX && e1.received >= 0);
	FUZZ_CHECK((e1.flags & ~(unsigned)(PENDING_FLAG_OVERSIZE |
					    PENDING_FLAG_REQUESTED)) == 0);
	FUZZ_CHECK(*e1.handle == '\0' ||
		   handle_is_valid(e1.handle, strlen(e1.handle)));
	FUZZ_CHECK(inside(e1.mailbox, value, value_len));
	FUZZ_CHECK(inside(e1.from, value, value_len));
	FUZZ_CHECK(inside(e1.subject, value, value_len));

	len1 = pending_value_encode(&e1, enc1, sizeof(enc1));
	FUZZ_CHECK(len1 <= PENDING_VALUE_MAX && strlen(enc1) == len1);
	memcpy(copy, enc1, len1 + 1);
	memset(&e2, 0, sizeof(e2));
	FUZZ_CHECK(pending_value_decode(copy, &e2, &error) == 0);
	FUZZ_CHECK(e2.uidvalidity == e1.uidvalidity);
	FUZZ_CHECK(e2.size == e1.size && e2.received == e1.received);
	FUZZ_CHECK(e2.flags == e1.flags);
	FUZZ_CHECK(strcmp(e2.handle, e1.handle) == 0);
	check_cut(e1.mailbox, e2.mailbox);
	check_cut(e1.from, e2.from);
	check_cut(e1.subject, e2.subject);

	len2 = pending_value_encode(&e2, enc2, sizeof(enc2));
	FUZZ_CHECK(len2 == len1 && strcmp(enc1, enc2) == 0);

	check_short_buffers(&e2, enc2, len2, size > 0 ? data[size - 1] : 0);
	free(value);
	return 0;
}
