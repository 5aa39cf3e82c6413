/*
 * Fuzz harness for stream decompression (common/compress.h).
 *
 * The ship decompresses whatever comes over the link.  The first input
 * byte picks the method (none, zlib or zstd) and the mode, the second
 * how the rest is cut into pieces:
 *   - hostile mode: the rest is fed to a decompressor piece by piece.
 *     It may refuse it, but must not crash, and must hand the sink
 *     non-empty chunks of at most COMPRESS_CHUNK bytes; "none" must
 *     pass the bytes through unchanged.  A sink that says stop ends it.
 *   - round-trip mode: the rest is compressed piece by piece with a
 *     flush after each piece, and after every flush the decompressor
 *     must have given back exactly the bytes written so far: this is
 *     what lets the transfer act on a request before the next arrives.
 */
#include "common/compress.h"
#include "fuzz-input.h"

/* Stop a decompression bomb here: the time limit, not memory, matters. */
#define OUTPUT_LIMIT	(16 * 1024 * 1024)

struct sink {
	unsigned char *buf;	/* kept output (round trip, "none") */
	size_t len, cap;
	size_t total;
	int keep;
};

static int
sink_write(void *context, const void *data, size_t len)
{
	struct sink *s = context;

	FUZZ_CHECK(len > 0 && len <= COMPRESS_CHUNK);
	s->total += len;
	if (s->total > OUTPUT_LIMIT)
		return -1;
	if (s->keep) {
		if (s->len + len > s->cap) {
			s->cap = (s->len + len) * 2;
			s->buf = realloc(s->buf, s->cap);
			if (s->buf == NULL)
				abort();
		}
		memcpy(s->buf + s->len, data, len);
		s->len += len;
	}
	return 0;
}

/* Next piece length, 1 .. 64, or all that is left for a 0 seed. */
static size_t
next_piece(uint32_t *state, size_t left)
{
	size_t n;

	if (*state == 0)
		return left;
	*state = *state * 1103515245u + 12345u;
	n = 1 + (*state >> 16) % 64;
	return n < left ? n : left;
}

static void
hostile(enum proto_compress method, uint32_t state, const uint8_t *data,
	size_t size)
{
	struct sink s = { .keep = method == PROTO_COMPRESS_NONE };
	struct decompressor *d = decompressor_new(method, sink_write, &s);
	size_t pos = 0;
	int failed = 0;

	if (d == NULL)
		return;		/* not built in */
	while (pos < size && !failed) {
		size_t n = next_piece(&state, size - pos);

		failed = decompressor_feed(d, data + pos, n) < 0;
		pos += n;
	}
	if (method == PROTO_COMPRESS_NONE)
		FUZZ_CHECK(!failed && s.len == size &&
			   (size == 0 || memcmp(s.buf, data, size) == 0));
	decompressor_free(&d);
	FUZZ_CHECK(d == NULL);
	free(s.buf);
}

/* The compressor's sink: each chunk goes straight to the decompressor. */
struct pipe {
	struct decompressor *d;
	int failed;
};

static int
pipe_write(void *context, const void *data, size_t len)
{
	struct pipe *p = context;

	FUZZ_CHECK(len > 0 && len <= COMPRESS_CHUNK);
	if (decompressor_feed(p->d, data, len) < 0)
		p->failed = 1;
	return 0;
}

static void
round_trip(enum proto_compress method, int level, uint32_t state,
	   const uint8_t *data, size_t size)
{
	struct sink s = { .keep = 1 };
	struct pipe p = { NULL, 0 };
	struct compressor *c;
	size_t pos = 0;

	p.d = decompressor_new(method, sink_write, &s);
	c = compressor_new(method, level, pipe_write, &p);
	if (p.d == NULL || c == NULL) {
		FUZZ_CHECK(p.d == NULL && c == NULL);
		return;		/* not built in */
	}
	while (pos < size) {
		size_t n = next_piece(&state, size - pos);

		FUZZ_CHECK(compressor_write(c, data + pos, n) == 0);
		FUZZ_CHECK(compressor_flush(c) == 0);
		pos += n;
		FUZZ_CHECK(!p.failed);
		FUZZ_CHECK(s.len == pos && memcmp(s.buf, data, pos) == 0);
	}
	compressor_free(&c);
	decompressor_free(&p.d);
	free(s.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t mode = fuzz_u8(&in);
	uint32_t state = fuzz_u8(&in);
	enum proto_compress method = (enum proto_compress)(mode % 3);

	if ((mode & 0x80) != 0)
		round_trip(method, 1 + (mode >> 2) % 3, state, in.data,
			   in.size);
	else
		hostile(method, state, in.data, in.size);
	return 0;
}
