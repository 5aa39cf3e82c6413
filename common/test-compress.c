/* Unit tests of the session compression streams. */
#include "compress.h"
#include "test-common.h"

#include <stdlib.h>
#include <string.h>

struct buf {
	unsigned char *data;
	size_t len, max_piece;
};

static int buf_sink(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;

	b->data = realloc(b->data, b->len + len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	if (len > b->max_piece)
		b->max_piece = len;
	return 0;
}

static void make_text(unsigned char *p, size_t len)
{
	static const char words[] = "Received: from mail.example by mx "
		"with ESMTPS id 4Xyz; Subject: =?utf-8?q?Re=3A_hi?= ";
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i % 97 == 0 ? rand() :
				       words[i % (sizeof(words) - 1)]);
}

/* Compress two messages with a flush each, decode, compare. */
static void roundtrip(enum proto_compress method)
{
	struct buf wire = { 0 }, plain = { 0 };
	struct compressor *c;
	struct decompressor *d;
	unsigned char msg[100000];
	size_t first_flush;

	make_text(msg, sizeof(msg));
	c = compressor_new(method, 3, buf_sink, &wire);
	d = decompressor_new(method, buf_sink, &plain);
	test_assert(c != NULL && d != NULL);
	if (c == NULL || d == NULL)
		return;
	test_assert(compressor_write(c, msg, 5000) == 0);
	test_assert(compressor_flush(c) == 0);
	first_flush = wire.len;

	/* What was flushed decodes completely on its own. */
	test_assert(decompressor_feed(d, wire.data, first_flush) == 0);
	test_assert_u64(plain.len, 5000);

	test_assert(compressor_write(c, msg + 5000, sizeof(msg) - 5000) == 0);
	test_assert(compressor_flush(c) == 0);
	test_assert(decompressor_feed(d, wire.data + first_flush,
				      wire.len - first_flush) == 0);
	test_assert_u64(plain.len, sizeof(msg));
	test_assert(plain.len == sizeof(msg) &&
		    memcmp(plain.data, msg, sizeof(msg)) == 0);
	if (method != PROTO_COMPRESS_NONE)
		test_assert(wire.len < sizeof(msg) / 2);
	test_assert(plain.max_piece <= COMPRESS_CHUNK);
	compressor_free(&c);
	decompressor_free(&d);
	test_assert(c == NULL && d == NULL);
	free(wire.data);
	free(plain.data);
}

static void test_zstd_roundtrip(void)
{
	test_begin("compress: zstd stream round-trips across flushes");
	roundtrip(PROTO_COMPRESS_ZSTD);
	test_end();
}

static void test_zlib_roundtrip(void)
{
	test_begin("compress: zlib stream round-trips across flushes");
	roundtrip(PROTO_COMPRESS_ZLIB);
	test_end();
}

static void test_none_roundtrip(void)
{
	test_begin("compress: none passes bytes through");
	roundtrip(PROTO_COMPRESS_NONE);
	test_end();
}

static void test_garbage_refused(void)
{
	struct buf plain = { 0 };
	struct decompressor *d;
	unsigned char junk[512];
	size_t i;

	test_begin("compress: garbage input is an error, not a crash");
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 31 + 7);
	d = decompressor_new(PROTO_COMPRESS_ZSTD, buf_sink, &plain);
	test_assert(decompressor_feed(d, junk, sizeof(junk)) < 0);
	decompressor_free(&d);
	d = decompressor_new(PROTO_COMPRESS_ZLIB, buf_sink, &plain);
	test_assert(decompressor_feed(d, junk, sizeof(junk)) < 0);
	decompressor_free(&d);
	free(plain.data);
	test_end();
}

static void test_bomb_comes_in_small_pieces(void)
{
	struct buf wire = { 0 }, plain = { 0 };
	struct compressor *c;
	struct decompressor *d;
	unsigned char *zeros = calloc(1, 4 << 20);

	test_begin("compress: 4 MB of zeros decode in bounded pieces");
	c = compressor_new(PROTO_COMPRESS_ZSTD, 19, buf_sink, &wire);
	test_assert(compressor_write(c, zeros, 4 << 20) == 0);
	test_assert(compressor_flush(c) == 0);
	test_assert(wire.len < 4096);
	d = decompressor_new(PROTO_COMPRESS_ZSTD, buf_sink, &plain);
	test_assert(decompressor_feed(d, wire.data, wire.len) == 0);
	test_assert_u64(plain.len, 4 << 20);
	test_assert(plain.max_piece <= COMPRESS_CHUNK);
	compressor_free(&c);
	decompressor_free(&d);
	free(zeros);
	free(wire.data);
	free(plain.data);
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_zstd_roundtrip,
		test_zlib_roundtrip,
		test_none_roundtrip,
		test_garbage_refused,
		test_bomb_comes_in_small_pieces,
		NULL
	};

	return test_run(tests);
}
