#ifndef SHIPMAIL_FUZZ_INPUT_H
#define SHIPMAIL_FUZZ_INPUT_H

/*
 * Helpers shared by the libFuzzer harnesses: reading numbers and
 * strings off the fuzzer's bytes, a failed property that crashes the
 * harness with a message, and an independent UTF-8 check.
 *
 * Numbers are taken little-endian; when the input runs out the missing
 * bytes read as zero, so any input is usable.  Strings end at a NUL
 * byte or at the end of the input, which makes seeds easy to write
 * with printf '...\0...'.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_input {
	const uint8_t *data;
	size_t size;
};

/* A property that does not hold: libFuzzer records the input. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: property failed: %s\n", \
			__FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static inline uint8_t
fuzz_u8(struct fuzz_input *in)
{
	uint8_t v = 0;

	if (in->size > 0) {
		v = in->data[0];
		in->data++;
		in->size--;
	}
	return v;
}

static inline uint64_t
fuzz_uint(struct fuzz_input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)fuzz_u8(in) << (8 * i);
	return v;
}

/* A NUL-terminated copy of len bytes, in a block of exactly len + 1. */
static inline char *
fuzz_dup(const void *data, size_t len)
{
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/* The bytes up to the next NUL (consumed) or the end, as a string. */
static inline char *
fuzz_string(struct fuzz_input *in)
{
	const uint8_t *nul = in->size > 0 ?
		memchr(in->data, '\0', in->size) : NULL;
	size_t len = nul != NULL ? (size_t)(nul - in->data) : in->size;
	char *s = fuzz_dup(in->data, len);

	in->data += len;
	in->size -= len;
	if (nul != NULL)
		fuzz_u8(in);
	return s;
}

/* Length of the well-formed UTF-8 character at s (RFC 3629), or 0. */
static inline size_t
fuzz_utf8_len(const unsigned char *s, size_t avail, uint32_t *cp_r)
{
	size_t len;
	uint32_t cp;

	if (avail == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (avail < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Shortest form only, no surrogates, nothing past U+10FFFF. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff)
		return 0;
	*cp_r = cp;
	return len;
}

static inline int
fuzz_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t n = fuzz_utf8_len((const unsigned char *)s + i,
					 len - i, &cp);

		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

#endif
