#ifndef SHIPMAIL_DIGEST_H
#define SHIPMAIL_DIGEST_H

/*
 * SHA-256 (FIPS 180-4), written for shipmail so that the ship side,
 * which has no Dovecot, and the shore side compute the same digest of
 * a message.  Streaming: init, update any number of times, final.
 * It is not constant-time and not meant for secrets: it only proves
 * that the bytes the ship holds are the bytes the shore sent.
 */

#include <stddef.h>
#include <stdint.h>

#define DIGEST_SIZE	32
#define DIGEST_HEX_LEN	(2 * DIGEST_SIZE)

struct digest_ctx {
	uint32_t state[8];
	uint64_t total;			/* bytes hashed so far */
	unsigned char block[64];
	size_t used;			/* bytes waiting in block */
};

void digest_init(struct digest_ctx *ctx);
void digest_update(struct digest_ctx *ctx, const void *data, size_t len);
void digest_final(struct digest_ctx *ctx, unsigned char out[DIGEST_SIZE]);

/* Lower-case hex of a digest into hex (DIGEST_HEX_LEN + 1 bytes). */
void digest_to_hex(const unsigned char digest[DIGEST_SIZE], char *hex);

/* Finish ctx and write its hex form. */
void digest_final_hex(struct digest_ctx *ctx, char *hex);

/* Non-zero when str is exactly 64 lower-case hex digits. */
int digest_hex_is_valid(const char *str);

#endif
