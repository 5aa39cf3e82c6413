/* Unit tests of the transfer protocol's line parser and formatters. */
#include "proto.h"
#include "test-common.h"

#include <stdlib.h>
#include <string.h>

#define GUID "0123456789abcdef0123456789abcdef"
#define DIG "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int req(const char *line, struct proto_request *r)
{
	const char *error = NULL;

	return proto_request_parse(line, strlen(line), r, &error);
}

static int rep(const char *line, struct proto_reply *r)
{
	const char *error = NULL;

	return proto_reply_parse(line, strlen(line), r, &error);
}

static void test_requests_parse(void)
{
	struct proto_request r;

	test_begin("proto: HELLO, OFFER, FETCH, ACK, QUIT parse");
	test_assert(req("HELLO 1 zstd,zlib,none", &r) == 0);
	test_assert(r.cmd == PROTO_CMD_HELLO && r.version == 1);
	test_assert(r.compress_mask == 7);
	test_assert(req("HELLO 1 lz77,none", &r) == 0);
	test_assert(r.compress_mask == 1);
	test_assert(req("OFFER\r", &r) == 0 && r.cmd == PROTO_CMD_OFFER);
	test_assert(req("QUIT", &r) == 0 && r.cmd == PROTO_CMD_QUIT);
	test_assert(req("FETCH alice@ship1.example " GUID " 17 42 100", &r)
		    == 0);
	test_assert(r.cmd == PROTO_CMD_FETCH);
	test_assert_str(r.ref.user, "alice@ship1.example");
	test_assert_str(r.ref.guid, GUID);
	test_assert_u64(r.ref.uidvalidity, 17);
	test_assert_u64(r.ref.uid, 42);
	test_assert_u64(r.offset, 100);
	test_assert_u64(r.length, 0);
	test_assert(req("FETCH a%2Fb " GUID " 1 2 0 512", &r) == 0);
	test_assert_str(r.ref.user, "a/b");
	test_assert_u64(r.length, 512);
	test_assert(req("ACK bob " GUID " 4294967295 1", &r) == 0);
	test_assert(r.cmd == PROTO_CMD_ACK && r.ref.uidvalidity == UINT32_MAX);
	test_end();
}

static void test_requests_refused(void)
{
	static const char *const bad[] = {
		"",
		"   ",
		"HELLO",
		"HELLO x zstd",
		"HELLO 1",
		"OFFER now",
		"FETCH alice " GUID " 1 2",
		"FETCH alice " GUID " 0 2 0",
		"FETCH alice " GUID " 1 0 0",
		"FETCH alice " GUID " 4294967296 2 0",
		"FETCH alice " GUID " 1 2 -1",
		"FETCH alice " GUID " 1 2 01",
		"FETCH alice " GUID " 1 2 99999999999999999999999",
		"FETCH alice " GUID " 1 2 2147483649",
		"FETCH alice " GUID " 1 2 0 0",
		"FETCH alice 0123456789ABCDEF0123456789ABCDEF 1 2 0",
		"FETCH alice ../../../etc/passwd 1 2 0",
		"FETCH a/b " GUID " 1 2 0",
		"FETCH * " GUID " 1 2 0",
		"FETCH % " GUID " 1 2 0",
		"FETCH %2 " GUID " 1 2 0",
		"FETCH a%00b " GUID " 1 2 0",
		"FETCH %61 " GUID " 1 2 0",
		"ACK alice " GUID " 1",
		"ACK alice " GUID " 1 2 3",
		"a b c d e f g h i j k",
	};
	struct proto_request r;
	size_t i;

	test_begin("proto: malformed requests get 400 or 401");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int code = req(bad[i], &r);

		if (code != PROTO_ERR_SYNTAX)
			test_assert_str(bad[i], "(refused with 400)");
	}
	test_assert(req("STEAL everything", &r) == PROTO_ERR_UNKNOWN);
	test_assert(req("fetch alice " GUID " 1 2 0", &r) ==
		    PROTO_ERR_UNKNOWN);
	test_end();
}

static void test_nul_and_long_lines_refused(void)
{
	char line[PROTO_LINE_MAX + 100];
	struct proto_request r;
	const char *error;

	test_begin("proto: NUL inside a line and over-long lines refused");
	memcpy(line, "OFFER\0x", 7);
	test_assert(proto_request_parse(line, 7, &r, &error) ==
		    PROTO_ERR_SYNTAX);
	memset(line, 'a', sizeof(line));
	memcpy(line, "ACK ", 4);
	test_assert(proto_request_parse(line, sizeof(line), &r, &error) ==
		    PROTO_ERR_SYNTAX);
	test_end();
}

static void test_user_encoding_roundtrip(void)
{
	static const char *const users[] = {
		"alice@ship1.example", "a/b", "..", "*", "%", "x y", "\xc3\xbc",
	};
	char enc[3 * PENDING_USER_MAX + 1], dec[PENDING_USER_MAX + 1];
	char longname[PENDING_USER_MAX + 2];
	size_t i;

	test_begin("proto: user names round-trip; too long refused");
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		size_t n = proto_user_encode(enc, sizeof(enc), users[i]);

		test_assert(n > 0 && strchr(enc, '/') == NULL &&
			    strchr(enc, ' ') == NULL);
		test_assert(proto_user_decode(enc, n, dec, sizeof(dec)) == 0);
		test_assert_str(dec, users[i]);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	test_assert(proto_user_encode(enc, sizeof(enc), longname) == 0);
	test_assert(proto_user_decode(longname, strlen(longname), dec,
				      sizeof(dec)) < 0);
	test_end();
}

static void test_format_parse_roundtrip(void)
{
	struct proto_request in, out;
	struct proto_msgref ref;
	struct proto_reply r;
	char line[PROTO_LINE_MAX + 2];
	size_t n;

	test_begin("proto: formatted lines parse back to the same values");
	memset(&in, 0, sizeof(in));
	in.cmd = PROTO_CMD_FETCH;
	strcpy(in.ref.user, "odd user/%*");
	strcpy(in.ref.guid, GUID);
	in.ref.uidvalidity = 5;
	in.ref.uid = 9;
	in.offset = 1234;
	in.length = 99;
	n = proto_request_format(line, sizeof(line), &in);
	test_assert(n > 0 && line[n - 1] == '\n');
	test_assert(proto_request_parse(line, n - 1, &out, &(const char *){
		NULL }) == 0);
	test_assert_str(out.ref.user, in.ref.user);
	test_assert_u64(out.offset, 1234);
	test_assert_u64(out.length, 99);

	ref = in.ref;
	n = proto_format_msg(line, sizeof(line), &ref, 4096, 1700000000,
			     PENDING_FLAG_OVERSIZE | PENDING_FLAG_REQUESTED);
	test_assert(n > 0 && rep(line, &r) == -1);	/* LF included */
	line[n - 1] = '\0';
	test_assert(rep(line, &r) == 0 && r.type == PROTO_REPLY_MSG);
	test_assert_str(r.ref.user, "odd user/%*");
	test_assert_u64(r.size, 4096);
	test_assert(r.received == 1700000000 && r.flags == 3);

	n = proto_format_greeting(line, sizeof(line), 7, 0);
	line[n - 1] = '\0';
	test_assert_str(line, "SHIPMAIL 1 zstd,zlib,none");
	test_assert(rep(line, &r) == 0 && r.compress_mask == 7);
	test_end();
}

static void test_replies(void)
{
	struct proto_reply r;

	test_begin("proto: replies parse and bad ones are refused");
	test_assert(rep("DATA 100 " DIG " 40 60", &r) == 0);
	test_assert(r.type == PROTO_REPLY_DATA && r.size == 100 &&
		    r.offset == 40 && r.data_len == 60);
	test_assert(rep("DATA 100 " DIG " 40 61", &r) < 0);
	test_assert(rep("DATA 100 " DIG " 101 0", &r) < 0);
	test_assert(rep("DATA 99999999999 " DIG " 0 0", &r) < 0);
	test_assert(rep("OFFER 100001", &r) < 0);
	test_assert(rep("OFFER 3", &r) == 0 && r.count == 3);
	test_assert(rep("ERR 403 user not on this ship", &r) == 0);
	test_assert(r.code == 403);
	test_assert_str(r.text, "user not on this ship");
	test_assert(rep("ERR x", &r) < 0);
	test_assert(rep("HELLO 1 zstd", &r) == 0 &&
		    r.compress == PROTO_COMPRESS_ZSTD);
	test_assert(rep("HELLO 1 brotli", &r) < 0);
	test_assert(rep("WHAT", &r) < 0);
	test_end();
}

static void test_long_reply_text(void)
{
	static const char text[] = "the shore cannot reach its mail "
		"store now, try again later \t with\ttabs";
	char line[PROTO_LINE_MAX + 2];
	struct proto_reply r;
	size_t len;

	test_begin("proto: OK and ERR text of any word count round-trips");
	len = proto_format_err(line, sizeof(line), 451, text);
	test_assert(len > 0);
	test_assert(rep("ERR 451 a b c d e f g h i j k l m n", &r) == 0);
	test_assert_str(r.text, "a b c d e f g h i j k l m n");
	line[len - 1] = '\0';
	test_assert(rep(line, &r) == 0 && r.code == 451);
	test_assert_str(r.text, "the shore cannot reach its mail store now, "
			"try again later ? with?tabs");
	len = proto_format_ok(line, sizeof(line), text);
	test_assert(len > 0);
	line[len - 1] = '\0';
	test_assert(rep(line, &r) == 0 && r.type == PROTO_REPLY_OK);
	test_assert(rep("MSG a b c d e f g h i j k l m n", &r) < 0);
	test_end();
}

static void test_compress_choice(void)
{
	test_begin("proto: compression choice prefers zstd, then zlib");
	test_assert(proto_compress_choose(7, 7) == PROTO_COMPRESS_ZSTD);
	test_assert(proto_compress_choose(7, 3) == PROTO_COMPRESS_ZLIB);
	test_assert(proto_compress_choose(5, 3) == PROTO_COMPRESS_NONE);
	test_assert(proto_compress_choose(0, 0) == PROTO_COMPRESS_NONE);
	test_end();
}

static void test_random_bytes_do_not_crash(void)
{
	unsigned char buf[256];
	unsigned int i, j;

	test_begin("proto: 20000 random lines parse or fail cleanly");
	srand(12345);
	for (i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % (int)sizeof(buf));

		for (j = 0; j < n; j++) {
			/* Mostly protocol-like bytes, sometimes anything. */
			static const char alphabet[] =
				"FETCH ACK OFFER DATA MSG 0123456789abcdef%";
			buf[j] = rand() % 8 == 0 ? (unsigned char)rand() :
				(unsigned char)alphabet[rand() %
					(int)(sizeof(alphabet) - 1)];
		}
		proto_fuzz_one(buf, n);
	}
	test_assert(1);
	test_end();
}

#define ID "0123456789abcdef0123456789abcdef"

static void test_upload_and_request(void)
{
	static const char *const bad[] = {
		"HAVE",
		"HAVE 0123",
		"HAVE 0123456789ABCDEF0123456789ABCDEF",
		"HAVE ../../../../etc/passwd/0123456789ab",
		"PUT " ID " 10 " DIG " 4",
		"PUT " ID " 10 " DIG " 11 0",
		"PUT " ID " 10 " DIG " 4 7",
		"PUT " ID " 10 nothex 0 10",
		"PUT " ID " 4294967296000 " DIG " 0 1",
		"REQUEST alice@ship1.example",
		"REQUEST alice@ship1.example ABCDEFGHIJKLMNOPQRST",
		"REQUEST alice@ship1.example abcdefghijklmnopqrs1",
		"REQUEST a/b abcdefghijklmnopqrst",
		NULL
	};
	struct proto_request r, again;
	struct proto_reply p;
	char line[PROTO_LINE_MAX + 2];
	size_t len;

	test_begin("proto: HAVE, PUT and REQUEST parse, format, refuse");
	test_assert(req("HAVE " ID, &r) == 0 && r.cmd == PROTO_CMD_HAVE);
	test_assert_str(r.id, ID);
	test_assert(req("PUT " ID " 10 " DIG " 4 6", &r) == 0);
	test_assert(r.cmd == PROTO_CMD_PUT && r.size == 10 && r.offset == 4 &&
		    r.length == 6);
	test_assert_str(r.digest, DIG);
	len = proto_request_format(line, sizeof(line), &r);
	test_assert(len > 0 && line[len - 1] == '\n');
	line[len - 1] = '\0';
	test_assert(req(line, &again) == 0);
	test_assert(again.size == 10 && again.offset == 4 &&
		    again.length == 6 && strcmp(again.id, ID) == 0);
	test_assert(req("PUT " ID " 10 " DIG " 0 4", &r) == 0 &&
		    r.length == 4);
	test_assert(req("PUT " ID " 0 " DIG " 0 0", &r) == 0);
	test_assert(req("REQUEST alice@ship1.example abcdefghijklmnopqrst",
			&r) == 0 && r.cmd == PROTO_CMD_REQUEST);
	test_assert_str(r.ref.user, "alice@ship1.example");
	test_assert_str(r.handle, "abcdefghijklmnopqrst");
	len = proto_request_format(line, sizeof(line), &r);
	test_assert(len > 0 && line[len - 1] == '\n');
	line[len - 1] = '\0';
	test_assert(req(line, &again) == 0 &&
		    strcmp(again.handle, r.handle) == 0);
	for (size_t i = 0; bad[i] != NULL; i++)
		test_assert(req(bad[i], &r) == PROTO_ERR_SYNTAX);

	test_assert(rep("HAVE " ID " 1234", &p) == 0 &&
		    p.type == PROTO_REPLY_HAVE && p.offset == 1234 && !p.sent);
	test_assert(rep("HAVE " ID " sent", &p) == 0 && p.sent);
	test_assert(rep("HAVE " ID " -1", &p) < 0);
	test_assert(rep("HAVE " ID, &p) < 0);
	len = proto_format_have(line, sizeof(line), ID, 99, 0);
	test_assert(len > 0 && line[len - 1] == '\n');
	line[len - 1] = '\0';
	test_assert(rep(line, &p) == 0 && p.offset == 99);
	test_assert(proto_format_have(line, sizeof(line), "x", 1, 0) == 0);

	/* The greeting names capabilities; unknown ones are skipped. */
	test_assert(rep("SHIPMAIL 1 zstd,none send,request,later", &p) == 0);
	test_assert(p.caps == (PROTO_CAP_SEND | PROTO_CAP_REQUEST));
	test_assert(rep("SHIPMAIL 1 zstd,none", &p) == 0 && p.caps == 0);
	test_assert(rep("HELLO 1 zstd send", &p) < 0);
	len = proto_format_greeting(line, sizeof(line), 7, PROTO_CAP_SEND);
	test_assert(len > 0 && line[len - 1] == '\n');
	line[len - 1] = '\0';
	test_assert(rep(line, &p) == 0 && p.caps == PROTO_CAP_SEND);
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_requests_parse,
		test_requests_refused,
		test_nul_and_long_lines_refused,
		test_user_encoding_roundtrip,
		test_format_parse_roundtrip,
		test_replies,
		test_long_reply_text,
		test_compress_choice,
		test_random_bytes_do_not_crash,
		test_upload_and_request,
		NULL
	};

	return test_run(tests);
}
