#ifndef SHIPMAIL_COMPRESS_H
#define SHIPMAIL_COMPRESS_H

/*
 * One compressed stream across a whole session, zstd or zlib (raw
 * deflate with a zlib header), behind one small interface.  Output goes
 * to a sink callback in pieces of at most COMPRESS_CHUNK bytes, so that
 * neither side ever holds more than that: a decompression bomb costs
 * the receiver time, never memory.  Method "none" passes bytes through.
 * Which methods exist depends on the libraries found at build time.
 */

#include <stddef.h>

#include "proto.h"

#define COMPRESS_CHUNK	16384

/* Returns 0, or -1 to stop (the caller sees -1 too). */
typedef int compress_sink_fn(void *ctx, const void *data, size_t len);

struct compressor;
struct decompressor;

/* The methods this build supports, as 1 << enum proto_compress. */
unsigned int compress_supported_mask(void);

/* NULL when the method is not built in or the library fails. */
struct compressor *compressor_new(enum proto_compress method, int level,
				  compress_sink_fn *sink, void *ctx);
/* Compress data; output may be held back until compressor_flush(). */
int compressor_write(struct compressor *c, const void *data, size_t len);
/* Push out everything written so far, so that the peer can decode it. */
int compressor_flush(struct compressor *c);
void compressor_free(struct compressor **c);

struct decompressor *decompressor_new(enum proto_compress method,
				      compress_sink_fn *sink, void *ctx);
/* Decode data; -1 on corrupt input or when the sink says stop. */
int decompressor_feed(struct decompressor *d, const void *data, size_t len);
void decompressor_free(struct decompressor **d);

#endif
