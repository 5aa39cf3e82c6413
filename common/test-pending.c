/* Unit tests of the pending index's key and value encoding. */
#include "pending.h"
#include "handle.h"
#include "test-common.h"

#include <string.h>

#define GUID "0123456789abcdef0123456789abcdef"

static void
test_key_roundtrip_plain_user(void)
{
	char key[PENDING_KEY_MAX], user[PENDING_USER_MAX + 1];
	struct pending_entry e;
	const char *error = NULL;

	test_begin("pending key: a plain user round-trips");
	test_assert(pending_key_build(key, sizeof(key), "alice@ship1.example",
				      GUID, 42) > 0);
	test_assert_str(key, "shared/shipmail/pending/alice@ship1.example/"
			GUID "/42");
	memset(&e, 0, sizeof(e));
	test_assert(pending_key_parse(key, &e, user, sizeof(user),
				      &error) == 0);
	test_assert_str(e.user, "alice@ship1.example");
	test_assert_str(e.guid, GUID);
	test_assert_u64(e.uid, 42);
	test_end();
}

static void
test_key_escapes_hostile_users(void)
{
	static const char *const users[] = {
		"a/b", "../..", "*", "%", "50%/x", "space user", "ü@x",
		"tab\tuser", "x%2Fy",
	};
	char key[PENDING_KEY_MAX], prefix[PENDING_KEY_MAX];
	char user[PENDING_USER_MAX + 1];
	struct pending_entry e;
	const char *error = NULL;

	test_begin("pending key: '/', '..', '*', '%', 8-bit users are escaped");
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		size_t len = pending_key_build(key, sizeof(key), users[i],
					       GUID, 7);
		const char *rest;

		test_assert(len > 0);
		rest = key + strlen(PENDING_DICT_PREFIX);
		/* Exactly two slashes after the prefix: user/guid/uid. */
		test_assert(strchr(rest, '/') != NULL &&
			    strchr(strchr(rest, '/') + 1, '/') != NULL &&
			    strchr(strchr(strchr(rest, '/') + 1, '/') + 1,
				   '/') == NULL);
		test_assert(strchr(rest, '*') == NULL);
		test_assert(pending_key_parse(key, &e, user, sizeof(user),
					      &error) == 0);
		test_assert_str(e.user, users[i]);
		test_assert(pending_key_user_prefix(prefix, sizeof(prefix),
						    users[i]) > 0);
		test_assert(strncmp(key, prefix, strlen(prefix)) == 0);
	}
	test_end();
}

static void
test_key_refuses_bad_input(void)
{
	static const char *const bad[] = {
		"other/prefix/a/" GUID "/1",
		"shared/shipmail/pending/",
		"shared/shipmail/pending//" GUID "/1",
		"shared/shipmail/pending/a/" GUID,
		"shared/shipmail/pending/a/" GUID "/",
		"shared/shipmail/pending/a/" GUID "/0",
		"shared/shipmail/pending/a/" GUID "/4294967296",
		"shared/shipmail/pending/a/" GUID "/12x",
		"shared/shipmail/pending/a/0123/1",
		"shared/shipmail/pending/a/0123456789ABCDEF0123456789abcdef/1",
		"shared/shipmail/pending/a%2/" GUID "/1",
		"shared/shipmail/pending/a%00/" GUID "/1",
		"shared/shipmail/pending/a*b/" GUID "/1",
	};
	char user[PENDING_USER_MAX + 1], big[PENDING_USER_MAX + 2];
	char key[PENDING_KEY_MAX];
	struct pending_entry e;

	test_begin("pending key: malformed keys and users are refused");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;

		test_assert(pending_key_parse(bad[i], &e, user, sizeof(user),
					      &error) < 0);
		test_assert(error != NULL);
	}
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	test_assert(pending_key_build(key, sizeof(key), big, GUID, 1) == 0);
	test_assert(pending_key_build(key, sizeof(key), "", GUID, 1) == 0);
	test_assert(pending_key_build(key, sizeof(key), "a", "xyz", 1) == 0);
	test_assert(pending_key_build(key, 20, "a", GUID, 1) == 0);
	test_end();
}

static void
test_value_roundtrip(void)
{
	char buf[PENDING_VALUE_MAX];
	struct pending_entry in, out;
	const char *error = NULL;
	size_t len;

	memset(&in, 0, sizeof(in));
	in.uidvalidity = 1700000000;
	in.size = 123456789012ULL;
	in.received = 1764770000;
	in.flags = PENDING_FLAG_OVERSIZE | PENDING_FLAG_REQUESTED;
	in.handle = "abcdefghijklmnop2345";
	in.mailbox = "INBOX";
	in.from = "Dr. \\ \"Back\tslash\" <b@x>";
	in.subject = "line1\r\nline2 \x01 ünïcode";

	test_begin("pending value: every field round-trips, escapes hold");
	len = pending_value_encode(&in, buf, sizeof(buf));
	test_assert(len < sizeof(buf) && len == strlen(buf));
	test_assert(strchr(buf, '\n') == NULL && strchr(buf, '\r') == NULL);
	memset(&out, 0, sizeof(out));
	test_assert(pending_value_decode(buf, &out, &error) == 0);
	test_assert_u64(out.uidvalidity, in.uidvalidity);
	test_assert_u64(out.size, in.size);
	test_assert_u64((uint64_t)out.received, (uint64_t)in.received);
	test_assert_u64(out.flags, in.flags);
	test_assert_str(out.handle, in.handle);
	test_assert_str(out.mailbox, in.mailbox);
	test_assert_str(out.from, in.from);
	test_assert_str(out.subject, in.subject);
	test_end();
}

static void
test_value_cuts_long_text_on_utf8_boundary(void)
{
	char subject[PENDING_TEXT_MAX * 2 + 1], buf[PENDING_VALUE_MAX];
	struct pending_entry in, out;
	const char *error = NULL;

	/* "é" is two bytes; start with one ASCII byte so that the cut
	   falls in the middle of a character. */
	subject[0] = 'x';
	for (size_t i = 1; i + 1 < sizeof(subject); i += 2) {
		subject[i] = (char)0xc3;
		subject[i + 1] = (char)0xa9;
	}
	subject[sizeof(subject) - 1] = '\0';
	memset(&in, 0, sizeof(in));
	in.uidvalidity = 1;
	in.subject = subject;
	in.handle = "not a valid handle";

	test_begin("pending value: long text cut whole, bad handle dropped");
	pending_value_encode(&in, buf, sizeof(buf));
	test_assert(pending_value_decode(buf, &out, &error) == 0);
	test_assert(strlen(out.subject) <= PENDING_TEXT_MAX);
	test_assert(strlen(out.subject) >= PENDING_TEXT_MAX - 1);
	test_assert(((unsigned char)out.subject[strlen(out.subject) - 1]) ==
		    0xa9);
	test_assert_str(out.handle, "");
	test_assert_str(out.from, "");
	test_end();
}

static void
test_value_refuses_malformed(void)
{
	static const char *const bad[] = {
		"",
		"1",
		"2\t1\t10\t0\t-\t-\tINBOX\tf\ts",
		"1\t0\t10\t0\t-\t-\tINBOX\tf\ts",
		"1\t1\t-10\t0\t-\t-\tINBOX\tf\ts",
		"1\t1\t10\t0\tz\t-\tINBOX\tf\ts",
		"1\t1\t10\t0\t\t-\tINBOX\tf\ts",
		"1\t1\t10\t0\t-\tshort\tINBOX\tf\ts",
		"1\t1\t10\t0\t-\t-\tINBOX\tf\ts\textra",
		"1\t1\t10\t0\t-\t-\tINBOX\tf\\q\ts",
		"1\t1\t10\t0\t-\t-\tINBOX\tf\\x0\ts",
		"1\t1\t10\t0\t-\t-\tINBOX\tf\\x00\ts",
		"1\t1\t10\t0\t-\t-\tINBOX\tf\ts\\",
		"1\t4294967296\t10\t0\t-\t-\tINBOX\tf\ts",
		"1\t1\t010\t0\t-\t-\tINBOX\tf\ts",
	};
	char buf[256];
	struct pending_entry e;

	test_begin("pending value: malformed values are refused");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;

		strcpy(buf, bad[i]);
		test_assert(pending_value_decode(buf, &e, &error) < 0);
		test_assert(error != NULL);
	}
	strcpy(buf, "1\t1\t10\t0\t-\t-\tINBOX\tf\ts");
	test_assert(pending_value_decode(buf, &e, &(const char *){NULL}) == 0);
	test_end();
}

static void
test_handles(void)
{
	char a[SHIPMAIL_HANDLE_LEN + 1], b[SHIPMAIL_HANDLE_LEN + 1];

	test_begin("handle: random, well-formed, validator strict");
	test_assert(handle_generate(a) == 0);
	test_assert(handle_generate(b) == 0);
	test_assert(handle_is_valid(a, strlen(a)));
	test_assert(strcmp(a, b) != 0);
	test_assert(!handle_is_valid("abcdefghijklmnop234", 19));
	test_assert(!handle_is_valid("abcdefghijklmnop2341", 20));
	test_assert(!handle_is_valid("ABCDEFGHIJKLMNOP2345", 20));
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_key_roundtrip_plain_user,
		test_key_escapes_hostile_users,
		test_key_refuses_bad_input,
		test_value_roundtrip,
		test_value_cuts_long_text_on_utf8_boundary,
		test_value_refuses_malformed,
		test_handles,
		NULL
	};

	return test_run(tests);
}
