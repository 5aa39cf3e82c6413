/* Unit tests of SHA-256 against the FIPS 180-4 and NIST vectors. */
#include "digest.h"
#include "test-common.h"

#include <string.h>

static void hex_of(const void *data, size_t len, char *hex)
{
	struct digest_ctx ctx;

	digest_init(&ctx);
	digest_update(&ctx, data, len);
	digest_final_hex(&ctx, hex);
}

static void test_known_vectors(void)
{
	char hex[DIGEST_HEX_LEN + 1];

	test_begin("digest: empty, abc and the two-block NIST vector");
	hex_of("", 0, hex);
	test_assert_str(hex, "e3b0c44298fc1c149afbf4c8996fb924"
			"27ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, hex);
	test_assert_str(hex, "ba7816bf8f01cfea414140de5dae2223"
			"b00361a396177a9cb410ff61f20015ad");
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	       56, hex);
	test_assert_str(hex, "248d6a61d20638b8e5c026930c3e6039"
			"a33ce45964ff2167f6ecedd419db06c1");
	test_end();
}

static void test_million_a_in_odd_pieces(void)
{
	struct digest_ctx ctx;
	char hex[DIGEST_HEX_LEN + 1], buf[997];
	size_t left = 1000000;

	test_begin("digest: a million 'a' fed in 997-byte pieces");
	memset(buf, 'a', sizeof(buf));
	digest_init(&ctx);
	while (left > 0) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		digest_update(&ctx, buf, n);
		left -= n;
	}
	digest_final_hex(&ctx, hex);
	test_assert_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
			"f1809a48a497200e046d39ccc7112cd0");
	test_end();
}

static void test_split_equals_whole(void)
{
	char whole[DIGEST_HEX_LEN + 1], split[DIGEST_HEX_LEN + 1];
	unsigned char data[300];
	struct digest_ctx ctx;
	size_t cut, i;
	int same = 1;

	test_begin("digest: any split point gives the same digest");
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	hex_of(data, sizeof(data), whole);
	for (cut = 0; cut <= sizeof(data); cut++) {
		digest_init(&ctx);
		digest_update(&ctx, data, cut);
		digest_update(&ctx, data + cut, sizeof(data) - cut);
		digest_final_hex(&ctx, split);
		same &= strcmp(whole, split) == 0;
	}
	test_assert(same);
	test_end();
}

static void test_hex_validation(void)
{
	test_begin("digest: hex form validation");
	test_assert(digest_hex_is_valid("e3b0c44298fc1c149afbf4c8996fb924"
					"27ae41e4649b934ca495991b7852b855"));
	test_assert(!digest_hex_is_valid("E3b0c44298fc1c149afbf4c8996fb924"
					 "27ae41e4649b934ca495991b7852b855"));
	test_assert(!digest_hex_is_valid("e3b0"));
	test_assert(!digest_hex_is_valid("e3b0c44298fc1c149afbf4c8996fb924"
					  "27ae41e4649b934ca495991b7852b8550"));
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_known_vectors,
		test_million_a_in_odd_pieces,
		test_split_equals_whole,
		test_hex_validation,
		NULL
	};

	return test_run(tests);
}
