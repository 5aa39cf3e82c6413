/*
 * Stream compression for the transfer: see compress.h.  zstd keeps one
 * frame open for the session and flushes a block at each
 * compressor_flush(); zlib does a sync flush there.  Both directions
 * push bounded chunks into the sink.
 */
#include "compress.h"

#include <stdlib.h>
#include <string.h>

#ifdef SHIPMAIL_HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
#include <zlib.h>
#endif

struct compressor {
	enum proto_compress method;
	compress_sink_fn *sink;
	void *ctx;
#ifdef SHIPMAIL_HAVE_ZSTD
	ZSTD_CCtx *zstd;
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	z_stream zlib;
#endif
	unsigned char out[COMPRESS_CHUNK];
};

struct decompressor {
	enum proto_compress method;
	compress_sink_fn *sink;
	void *ctx;
	int finished;
#ifdef SHIPMAIL_HAVE_ZSTD
	ZSTD_DCtx *zstd;
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	z_stream zlib;
#endif
	unsigned char out[COMPRESS_CHUNK];
};

unsigned int compress_supported_mask(void)
{
	unsigned int mask = 1u << PROTO_COMPRESS_NONE;

#ifdef SHIPMAIL_HAVE_ZSTD
	mask |= 1u << PROTO_COMPRESS_ZSTD;
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	mask |= 1u << PROTO_COMPRESS_ZLIB;
#endif
	return mask;
}

struct compressor *compressor_new(enum proto_compress method, int level,
				  compress_sink_fn *sink, void *ctx)
{
	struct compressor *c;

	if ((compress_supported_mask() & (1u << method)) == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->method = method;
	c->sink = sink;
	c->ctx = ctx;

#ifdef SHIPMAIL_HAVE_ZSTD
	if (method == PROTO_COMPRESS_ZSTD) {
		c->zstd = ZSTD_createCCtx();
		if (c->zstd == NULL ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd,
				ZSTD_c_compressionLevel, level))) {
			compressor_free(&c);
			return NULL;
		}
	}
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	if (method == PROTO_COMPRESS_ZLIB &&
	    deflateInit(&c->zlib, level > 9 ? 9 : level) != Z_OK) {
		free(c);
		return NULL;
	}
#endif
	return c;
}

#ifdef SHIPMAIL_HAVE_ZSTD
static int zstd_run(struct compressor *c, const void *data, size_t len,
		    ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { data, len, 0 };

	for (;;) {
		ZSTD_outBuffer out = { c->out, sizeof(c->out), 0 };
		size_t left = ZSTD_compressStream2(c->zstd, &out, &in, mode);

		if (ZSTD_isError(left))
			return -1;
		if (out.pos > 0 && c->sink(c->ctx, c->out, out.pos) < 0)
			return -1;
		/* Done when input is used and, for a flush, nothing left. */
		if (in.pos == in.size && (mode == ZSTD_e_continue || left == 0))
			return 0;
	}
}
#endif

#ifdef SHIPMAIL_HAVE_ZLIB
static int zlib_run(struct compressor *c, const void *data, size_t len,
		    int flush)
{
	c->zlib.next_in = (Bytef *)(uintptr_t)data;
	c->zlib.avail_in = (uInt)len;
	do {
		int ret;

		c->zlib.next_out = c->out;
		c->zlib.avail_out = sizeof(c->out);
		ret = deflate(&c->zlib, flush);
		if (ret == Z_STREAM_ERROR)
			return -1;
		if (c->zlib.avail_out < sizeof(c->out) &&
		    c->sink(c->ctx, c->out,
			    sizeof(c->out) - c->zlib.avail_out) < 0)
			return -1;
	} while (c->zlib.avail_in > 0 || c->zlib.avail_out == 0);
	return 0;
}
#endif

/* Pass bytes through, in pieces no larger than a decoded chunk. */
static int sink_chunked(compress_sink_fn *sink, void *ctx, const void *data,
			size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = len < COMPRESS_CHUNK ? len : COMPRESS_CHUNK;

		if (sink(ctx, p, n) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int compressor_write(struct compressor *c, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	switch (c->method) {
	case PROTO_COMPRESS_NONE:
		return sink_chunked(c->sink, c->ctx, data, len);
#ifdef SHIPMAIL_HAVE_ZSTD
	case PROTO_COMPRESS_ZSTD:
		return zstd_run(c, data, len, ZSTD_e_continue);
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	case PROTO_COMPRESS_ZLIB:
		return zlib_run(c, data, len, Z_NO_FLUSH);
#endif
	default:
		return -1;
	}
}

int compressor_flush(struct compressor *c)
{
	switch (c->method) {
	case PROTO_COMPRESS_NONE:
		return 0;
#ifdef SHIPMAIL_HAVE_ZSTD
	case PROTO_COMPRESS_ZSTD:
		return zstd_run(c, "", 0, ZSTD_e_flush);
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	case PROTO_COMPRESS_ZLIB:
		return zlib_run(c, "", 0, Z_SYNC_FLUSH);
#endif
	default:
		return -1;
	}
}

void compressor_free(struct compressor **_c)
{
	struct compressor *c = *_c;

	if (c == NULL)
		return;
	*_c = NULL;
#ifdef SHIPMAIL_HAVE_ZSTD
	if (c->zstd != NULL)
		ZSTD_freeCCtx(c->zstd);
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	if (c->method == PROTO_COMPRESS_ZLIB)
		deflateEnd(&c->zlib);
#endif
	free(c);
}

struct decompressor *decompressor_new(enum proto_compress method,
				      compress_sink_fn *sink, void *ctx)
{
	struct decompressor *d;

	if ((compress_supported_mask() & (1u << method)) == 0)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->method = method;
	d->sink = sink;
	d->ctx = ctx;

#ifdef SHIPMAIL_HAVE_ZSTD
	if (method == PROTO_COMPRESS_ZSTD) {
		d->zstd = ZSTD_createDCtx();
		if (d->zstd == NULL) {
			free(d);
			return NULL;
		}
	}
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	if (method == PROTO_COMPRESS_ZLIB && inflateInit(&d->zlib) != Z_OK) {
		free(d);
		return NULL;
	}
#endif
	return d;
}

#ifdef SHIPMAIL_HAVE_ZSTD
static int zstd_feed(struct decompressor *d, const void *data, size_t len)
{
	ZSTD_inBuffer in = { data, len, 0 };

	for (;;) {
		ZSTD_outBuffer out = { d->out, sizeof(d->out), 0 };
		size_t ret = ZSTD_decompressStream(d->zstd, &out, &in);

		if (ZSTD_isError(ret))
			return -1;
		if (out.pos > 0 && d->sink(d->ctx, d->out, out.pos) < 0)
			return -1;
		/* A full output buffer may hide more: go round again. */
		if (in.pos == in.size && out.pos < out.size)
			return 0;
	}
}
#endif

#ifdef SHIPMAIL_HAVE_ZLIB
static int zlib_feed(struct decompressor *d, const void *data, size_t len)
{
	d->zlib.next_in = (Bytef *)(uintptr_t)data;
	d->zlib.avail_in = (uInt)len;
	for (;;) {
		int ret;
		size_t got;

		d->zlib.next_out = d->out;
		d->zlib.avail_out = sizeof(d->out);
		ret = inflate(&d->zlib, Z_SYNC_FLUSH);
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return -1;	/* corrupt, or the stream ended */
		got = sizeof(d->out) - d->zlib.avail_out;
		if (got > 0 && d->sink(d->ctx, d->out, got) < 0)
			return -1;
		if (d->zlib.avail_in == 0 && d->zlib.avail_out > 0)
			return 0;
		if (got == 0 && ret == Z_BUF_ERROR)
			return 0;
	}
}
#endif

int decompressor_feed(struct decompressor *d, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	switch (d->method) {
	case PROTO_COMPRESS_NONE:
		return sink_chunked(d->sink, d->ctx, data, len);
#ifdef SHIPMAIL_HAVE_ZSTD
	case PROTO_COMPRESS_ZSTD:
		return zstd_feed(d, data, len);
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	case PROTO_COMPRESS_ZLIB:
		return zlib_feed(d, data, len);
#endif
	default:
		return -1;
	}
}

void decompressor_free(struct decompressor **_d)
{
	struct decompressor *d = *_d;

	if (d == NULL)
		return;
	*_d = NULL;
#ifdef SHIPMAIL_HAVE_ZSTD
	if (d->zstd != NULL)
		ZSTD_freeDCtx(d->zstd);
#endif
#ifdef SHIPMAIL_HAVE_ZLIB
	if (d->method == PROTO_COMPRESS_ZLIB)
		inflateEnd(&d->zlib);
#endif
	free(d);
}
