/*
 * SHA-256 as FIPS 180-4 describes it: 64-byte blocks, a padded final
 * block carrying the message length in bits.  See digest.h.
 */
#include "digest.h"

#include <string.h>

static const uint32_t round_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The message schedule: 16 words from the block, 48 derived. */
static void schedule(const unsigned char *block, uint32_t w[64])
{
	unsigned int i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(block + 4 * i);
	for (i = 16; i < 64; i++) {
		uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^
			(w[i - 15] >> 3);
		uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^
			(w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
}

static void compress_block(uint32_t state[8], const unsigned char *block)
{
	uint32_t w[64], v[8];
	unsigned int i;

	schedule(block, w);
	memcpy(v, state, sizeof(v));

	for (i = 0; i < 64; i++) {
		uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
		uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
		uint32_t t1 = v[7] + s1 + ch + round_k[i] + w[i];
		uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
		uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
		uint32_t t2 = s0 + maj;

		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}

	for (i = 0; i < 8; i++)
		state[i] += v[i];
}

void digest_init(struct digest_ctx *ctx)
{
	static const uint32_t initial[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(ctx->state, initial, sizeof(initial));
	ctx->total = 0;
	ctx->used = 0;
}

void digest_update(struct digest_ctx *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;

	ctx->total += len;

	/* Top up a partly filled block first. */
	if (ctx->used > 0) {
		size_t take = sizeof(ctx->block) - ctx->used;

		if (take > len)
			take = len;
		memcpy(ctx->block + ctx->used, p, take);
		ctx->used += take;
		p += take;
		len -= take;
		if (ctx->used < sizeof(ctx->block))
			return;
		compress_block(ctx->state, ctx->block);
		ctx->used = 0;
	}

	/* Whole blocks straight from the input. */
	for (; len >= 64; p += 64, len -= 64)
		compress_block(ctx->state, p);

	memcpy(ctx->block, p, len);
	ctx->used = len;
}

void digest_final(struct digest_ctx *ctx, unsigned char out[DIGEST_SIZE])
{
	uint64_t bits = ctx->total * 8;
	unsigned int i;

	/* Padding: 0x80, zeros, then the 64-bit length, big-endian. */
	ctx->block[ctx->used++] = 0x80;
	if (ctx->used > 56) {
		memset(ctx->block + ctx->used, 0, 64 - ctx->used);
		compress_block(ctx->state, ctx->block);
		ctx->used = 0;
	}
	memset(ctx->block + ctx->used, 0, 56 - ctx->used);
	store_be32(ctx->block + 56, (uint32_t)(bits >> 32));
	store_be32(ctx->block + 60, (uint32_t)bits);
	compress_block(ctx->state, ctx->block);

	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, ctx->state[i]);
	memset(ctx, 0, sizeof(*ctx));
}

void digest_to_hex(const unsigned char digest[DIGEST_SIZE], char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned int i;

	for (i = 0; i < DIGEST_SIZE; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0x0f];
	}
	hex[DIGEST_HEX_LEN] = '\0';
}

void digest_final_hex(struct digest_ctx *ctx, char *hex)
{
	unsigned char raw[DIGEST_SIZE];

	digest_final(ctx, raw);
	digest_to_hex(raw, hex);
}

int digest_hex_is_valid(const char *str)
{
	size_t i;

	for (i = 0; i < DIGEST_HEX_LEN; i++) {
		if (!((str[i] >= '0' && str[i] <= '9') ||
		      (str[i] >= 'a' && str[i] <= 'f')))
			return 0;
	}
	return str[i] == '\0';
}
