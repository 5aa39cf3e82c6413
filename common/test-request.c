/* Unit tests of the request queue's and the daily counter's encoding. */
#include "request.h"
#include "test-common.h"

#include <string.h>

#define HANDLE "abcdefghijklmnop2345"

static void
test_key_roundtrip(void)
{
	static const char *const users[] = {
		"alice@ship1.example", "a/b", "50%/x", "../..", "ü@x",
	};
	char key[REQUEST_KEY_MAX], prefix[REQUEST_KEY_MAX];
	char user[PENDING_USER_MAX + 1];
	struct request_entry e;
	const char *error = NULL;

	test_begin("request key: users round-trip, escaped as pending keys");
	test_assert(request_key_build(key, sizeof(key), users[0],
				      HANDLE) > 0);
	test_assert_str(key, "shared/shipmail/request/alice@ship1.example/"
			HANDLE);
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		memset(&e, 0, sizeof(e));
		test_assert(request_key_build(key, sizeof(key), users[i],
					      HANDLE) > 0);
		test_assert(request_key_parse(key, &e, user, sizeof(user),
					      &error) == 0);
		test_assert_str(e.user, users[i]);
		test_assert_str(e.handle, HANDLE);
		test_assert(request_key_user_prefix(prefix, sizeof(prefix),
						    users[i]) > 0);
		test_assert(strncmp(key, prefix, strlen(prefix)) == 0);
		/* Exactly one separator after the prefix. */
		test_assert(strchr(key + strlen(REQUEST_DICT_PREFIX), '/') ==
			    strrchr(key, '/'));
	}
	test_end();
}

static void
test_key_refuses_bad_input(void)
{
	static const char *const bad[] = {
		"shared/shipmail/pending/a/" HANDLE,
		"shared/shipmail/request/",
		"shared/shipmail/request//" HANDLE,
		"shared/shipmail/request/a/",
		"shared/shipmail/request/a/ABCDEFGHIJKLMNOP2345",
		"shared/shipmail/request/a/" HANDLE "x",
		"shared/shipmail/request/a/b/" HANDLE,
		"shared/shipmail/request/a%2/" HANDLE,
		"shared/shipmail/request/a%00/" HANDLE,
		"shared/shipmail/request/a*b/" HANDLE,
	};
	char key[REQUEST_KEY_MAX], user[PENDING_USER_MAX + 1];
	struct request_entry e;

	test_begin("request key: malformed keys, users and handles refused");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;

		test_assert(request_key_parse(bad[i], &e, user, sizeof(user),
					      &error) < 0);
		test_assert(error != NULL);
	}
	test_assert(request_key_build(key, sizeof(key), "", HANDLE) == 0);
	test_assert(request_key_build(key, sizeof(key), "a", "short") == 0);
	test_assert(request_key_build(key, sizeof(key), "a",
				      "abcdefghijklmnop2341") == 0);
	test_assert(request_key_build(key, 30, "a", HANDLE) == 0);
	test_end();
}

static void
test_value_roundtrip(void)
{
	char buf[REQUEST_VALUE_MAX];
	struct request_entry in, out;
	const char *error = NULL;

	test_begin("request value: time and origin round-trip");
	memset(&in, 0, sizeof(in));
	in.requested = 1764790000;
	in.origin = REQUEST_ORIGIN_KEYWORD;
	test_assert(request_value_encode(&in, buf, sizeof(buf)) <
		    sizeof(buf));
	test_assert_str(buf, "1\t1764790000\tqueued\tkeyword");
	memset(&out, 0, sizeof(out));
	test_assert(request_value_decode(buf, &out, &error) == 0);
	test_assert_u64((uint64_t)out.requested, 1764790000);
	test_assert(out.origin == REQUEST_ORIGIN_KEYWORD);
	in.origin = REQUEST_ORIGIN_FOLDER;
	request_value_encode(&in, buf, sizeof(buf));
	test_assert(request_value_decode(buf, &out, &error) == 0);
	test_assert_str(request_origin_name(out.origin), "folder");
	in.origin = REQUEST_ORIGIN_ADMIN;
	request_value_encode(&in, buf, sizeof(buf));
	test_assert_str(buf, "1\t1764790000\tqueued\tadmin");
	test_assert(request_value_decode(buf, &out, &error) == 0);
	test_assert(out.origin == REQUEST_ORIGIN_ADMIN);
	test_end();
}

static void
test_value_refuses_malformed(void)
{
	static const char *const bad[] = {
		"", "1", "2\t1\tqueued\tfolder", "1\t\tqueued\tfolder",
		"1\t-1\tqueued\tfolder", "1\t01\tqueued\tfolder",
		"1\t1\tsent\tfolder", "1\t1\tqueued\tshell",
		"1\t1\tqueued\tunknown", "1\t1\tqueued\t",
		"1\t1\tqueued\tfolder\textra", "1\t1x\tqueued\tfolder",
		"1\t99999999999999999999\tqueued\tfolder",
	};
	struct request_entry e;

	test_begin("request value: malformed values are refused");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;

		test_assert(request_value_decode(bad[i], &e, &error) < 0);
		test_assert(error != NULL);
	}
	test_end();
}

static void
test_counter(void)
{
	char key[REQUEST_KEY_MAX], buf[REQUEST_VALUE_MAX];
	unsigned int count = 99;
	const char *error = NULL;
	int64_t day = request_day(1764790000);

	test_begin("request counter: same day counts, another day is 0");
	test_assert(request_count_key_build(key, sizeof(key), "a/b") > 0);
	test_assert_str(key, "shared/shipmail/request-count/a%2fb");
	test_assert_u64((uint64_t)day, 20425);
	test_assert_u64((uint64_t)request_day(1764806399), 20425);
	test_assert_u64((uint64_t)request_day(1764806400), 20426);
	request_count_encode(day, 4, buf, sizeof(buf));
	test_assert_str(buf, "1\t20425\t4");
	test_assert(request_count_decode(buf, day, &count, &error) == 0);
	test_assert_u64(count, 4);
	test_assert(request_count_decode(buf, day + 1, &count, &error) == 0);
	test_assert_u64(count, 0);
	test_assert(request_count_decode("1\t20425", day, &count,
					 &error) < 0);
	test_assert(request_count_decode("1\t20425\t4x", day, &count,
					 &error) < 0);
	test_assert(request_count_decode("3\t20425\t4", day, &count,
					 &error) < 0);
	test_assert(request_count_decode("1\t20425\t4294967296", day, &count,
					 &error) < 0);
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_key_roundtrip,
		test_key_refuses_bad_input,
		test_value_roundtrip,
		test_value_refuses_malformed,
		test_counter,
		NULL
	};

	return test_run(tests);
}
