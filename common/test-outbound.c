/* Unit tests of the outbound spool file's envelope block. */
#include "outbound.h"
#include "test-common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ssize_t
parse_str(const char *s, struct outbound_envelope *env, char *error,
	  size_t size)
{
	return outbound_envelope_parse(s, strlen(s), env, error, size);
}

static void
test_roundtrip_full(void)
{
	struct outbound_envelope env, back;
	char error[256], *block, *again;
	size_t len, len2;

	test_begin("envelope: every field formats and parses back the same");
	memset(&env, 0, sizeof(env));
	env.sender = strdup("bob+tag=1@ship1.example");
	env.ret = OUTBOUND_RET_HDRS;
	env.envid = strdup("abc+def <x> \xc3\xa9");
	env.body_8bit = 1;
	env.smtputf8 = 1;
	test_assert(outbound_envelope_add_rcpt(&env, "alice@shore.example",
		OUTBOUND_NOTIFY_SUCCESS | OUTBOUND_NOTIFY_FAILURE,
		"rfc822;x@shore.example") == 0);
	test_assert(outbound_envelope_add_rcpt(&env, "carol@shore.example",
		OUTBOUND_NOTIFY_NEVER, NULL) == 0);
	test_assert(outbound_envelope_add_rcpt(&env, "d \"q\"@shore.example",
		0, NULL) == 0);
	block = outbound_envelope_format(&env, &len);
	test_assert(block != NULL);
	test_assert_str(block, "SHIPMAIL-OUTBOUND 1\n"
		"from bob+2Btag+3D1@ship1.example ret=HDRS "
		"envid=abc+2Bdef+20+3Cx+3E+20+C3+A9 body=8BITMIME smtputf8\n"
		"rcpt alice@shore.example notify=SUCCESS,FAILURE "
		"orcpt=rfc822;x@shore.example\n"
		"rcpt carol@shore.example notify=NEVER\n"
		"rcpt d+20\"q\"@shore.example\n\n");
	test_assert(outbound_envelope_parse(block, len, &back, error,
					    sizeof(error)) == (ssize_t)len);
	test_assert_str(back.sender, env.sender);
	test_assert(back.ret == OUTBOUND_RET_HDRS);
	test_assert_str(back.envid, env.envid);
	test_assert(back.body_8bit == 1 && back.smtputf8 == 1);
	test_assert_u64(back.rcpt_count, 3);
	test_assert_str(back.rcpts[0].orcpt, "rfc822;x@shore.example");
	test_assert(back.rcpts[0].notify == 3);
	test_assert(back.rcpts[1].notify == OUTBOUND_NOTIFY_NEVER);
	test_assert(back.rcpts[1].orcpt == NULL);
	test_assert_str(back.rcpts[2].addr, "d \"q\"@shore.example");
	again = outbound_envelope_format(&back, &len2);
	test_assert(again != NULL && len2 == len &&
		    memcmp(again, block, len) == 0);
	free(again);
	free(block);
	outbound_envelope_free(&back);
	outbound_envelope_free(&env);
	test_assert(env.sender == NULL && env.rcpt_count == 0);
	test_end();
}

static void
test_roundtrip_null_sender(void)
{
	struct outbound_envelope env, back;
	char error[256], *block;
	const char *msg = "Subject: x\r\n\r\nbody\r\n";
	char file[512];
	size_t len;
	ssize_t n;

	test_begin("envelope: null sender is <>, the message follows");
	memset(&env, 0, sizeof(env));
	env.sender = strdup("");
	test_assert(outbound_envelope_add_rcpt(&env, "a@shore.example", 0,
					       NULL) == 0);
	block = outbound_envelope_format(&env, &len);
	test_assert_str(block, "SHIPMAIL-OUTBOUND 1\nfrom <>\n"
			"rcpt a@shore.example\n\n");
	snprintf(file, sizeof(file), "%s%s", block, msg);
	n = parse_str(file, &back, error, sizeof(error));
	test_assert(n == (ssize_t)len);
	test_assert_str(back.sender, "");
	test_assert(back.ret == OUTBOUND_RET_NONE && back.envid == NULL);
	test_assert(back.body_8bit == 0 && back.smtputf8 == 0);
	test_assert_str(file + n, msg);
	free(block);
	outbound_envelope_free(&back);
	outbound_envelope_free(&env);
	test_end();
}

static void
test_body_7bit_read(void)
{
	struct outbound_envelope env;
	char error[256];

	test_begin("envelope: body=7BIT is read, ret=FULL too");
	test_assert(parse_str("SHIPMAIL-OUTBOUND 1\nfrom a@b ret=FULL "
			      "body=7BIT\nrcpt c@d\n\n", &env, error,
			      sizeof(error)) > 0);
	test_assert(env.body_8bit == 0 && env.ret == OUTBOUND_RET_FULL);
	outbound_envelope_free(&env);
	test_end();
}

static void
test_need_more(void)
{
	static const char block[] = "SHIPMAIL-OUTBOUND 1\n"
		"from a@ship1.example envid=x\nrcpt b@shore.example "
		"notify=DELAY\nrcpt c@shore.example\n\n";
	struct outbound_envelope env;
	char error[256];

	test_begin("envelope: every prefix needs more, the whole block parses");
	for (size_t i = 0; i < sizeof(block) - 1; i++) {
		error[0] = '\0';
		test_assert(outbound_envelope_parse(block, i, &env, error,
						    sizeof(error)) == 0);
		test_assert(env.sender == NULL && env.rcpts == NULL);
	}
	test_assert(outbound_envelope_parse(block, sizeof(block) - 1, &env,
		error, sizeof(error)) == (ssize_t)sizeof(block) - 1);
	test_assert(env.rcpts[0].notify == OUTBOUND_NOTIFY_DELAY);
	outbound_envelope_free(&env);
	/* A prefix that is already wrong is refused at once. */
	test_assert(parse_str("SHIPMAIL-OUTBOUND 2", &env, error,
			      sizeof(error)) < 0);
	test_assert(parse_str("SHIPMAIL-OUTBOUND 1\nfrom a b\nrcpt x",
			      &env, error, sizeof(error)) < 0);
	test_end();
}

static void
test_malformed_refused(void)
{
	static const char *const bad[] = {
		"",
		"SHIPMAIL-OUTBOUND 10\nfrom a\nrcpt b\n\n",
		"shipmail-outbound 1\nfrom a\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\n\n",		/* no rcpt */
		"SHIPMAIL-OUTBOUND 1\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom \nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a \nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom  a\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\r\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b\r\n\r\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt <>\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nfrom a\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nFROM a\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a ret=full\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a ret=\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a ret=FULL ret=HDRS\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a envid=x ret=FULL\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a smtputf8 body=8BITMIME\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a body=BINARYMIME\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a envid=\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a size=10\nrcpt b\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b notify=\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b notify=never\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b notify=NEVER,DELAY\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b notify=FAILURE,SUCCESS\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b notify=DELAY,DELAY\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b notify=SUCCESS,\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b notify=,SUCCESS\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b orcpt=x notify=DELAY\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b orcpt=\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b x\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b\nx\n\n",
		"SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b\0c\n\n",
	};
	struct outbound_envelope env;
	char error[256];

	test_begin("envelope: malformed blocks are refused with a reason");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);

		/* The NUL case: its length is the literal's. */
		if (i == sizeof(bad) / sizeof(bad[0]) - 1)
			len = sizeof("SHIPMAIL-OUTBOUND 1\nfrom a\nrcpt b\0c\n\n")
				- 1;
		error[0] = '\0';
		if (outbound_envelope_parse(bad[i], len, &env, error,
					    sizeof(error)) >= 0 &&
		    len > 0) {
			printf("# accepted: case %zu\n", i);
			test_assert(0);
			outbound_envelope_free(&env);
			continue;
		}
		test_assert(len == 0 || error[0] != '\0');
		test_assert(env.sender == NULL && env.rcpts == NULL);
	}
	test_end();
}

static void
test_encoding_strict(void)
{
	static const char *const bad[] = {
		"a+2b@b",	/* lower-case hex */
		"a+41@b",	/* "A" stands for itself */
		"a+00@b",	/* NUL */
		"a+0A@b",	/* LF */
		"a+7F@b",	/* DEL */
		"a+2@b",	/* truncated */
		"a+",
		"a+G0@b",
		"a=b",		/* "=" must be encoded */
		"a<b",
		"a>b",
		"a\xc3\xa9",	/* 8-bit bytes must be encoded */
		"a\tb",
	};
	static const char *const good[][2] = {
		{ "a+2Bb", "a+b" }, { "a+3D+3C+3E", "a=<>" },
		{ "+20", " " }, { "+C3+A9", "\xc3\xa9" }, { "~!\"#$%&", NULL },
	};
	struct outbound_envelope env;
	char error[256], buf[512];

	test_begin("envelope: one spelling per value, +00 and controls refused");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "SHIPMAIL-OUTBOUND 1\nfrom x\n"
			 "rcpt %s\n\n", bad[i]);
		error[0] = '\0';
		test_assert(parse_str(buf, &env, error, sizeof(error)) < 0);
		test_assert(strstr(error, "recipient") != NULL);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "SHIPMAIL-OUTBOUND 1\nfrom x\n"
			 "rcpt %s\n\n", good[i][0]);
		test_assert(parse_str(buf, &env, error, sizeof(error)) > 0);
		if (env.rcpts != NULL)
			test_assert_str(env.rcpts[0].addr, good[i][1] != NULL ?
					good[i][1] : good[i][0]);
		outbound_envelope_free(&env);
	}
	test_end();
}

/* A block with one rcpt whose address is n bytes of "a" (encoded as is). */
static char *
block_with_addr(size_t n)
{
	char *s = malloc(n + 64);

	strcpy(s, "SHIPMAIL-OUTBOUND 1\nfrom x\nrcpt ");
	memset(s + strlen(s), 'a', n);
	strcpy(s + strlen("SHIPMAIL-OUTBOUND 1\nfrom x\nrcpt ") + n, "\n\n");
	return s;
}

static void
test_bounds(void)
{
	struct outbound_envelope env;
	char error[256], long_value[OUTBOUND_ORCPT_MAX + 2], *s;
	size_t len;

	test_begin("envelope: addresses, envid, orcpt and recipients bounded");
	s = block_with_addr(OUTBOUND_ADDR_MAX);
	test_assert(parse_str(s, &env, error, sizeof(error)) > 0);
	outbound_envelope_free(&env);
	free(s);
	s = block_with_addr(OUTBOUND_ADDR_MAX + 1);
	test_assert(parse_str(s, &env, error, sizeof(error)) < 0);
	test_assert(strstr(error, "too long") != NULL);
	free(s);

	/* Writing refuses what reading would. */
	memset(&env, 0, sizeof(env));
	memset(long_value, 'e', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	test_assert(outbound_envelope_add_rcpt(&env, long_value, 0, NULL) < 0 &&
		    errno == EINVAL);
	test_assert(outbound_envelope_add_rcpt(&env, "a", 0, long_value) < 0);
	test_assert(outbound_envelope_add_rcpt(&env, "", 0, NULL) < 0);
	test_assert(outbound_envelope_add_rcpt(&env, "a\nb", 0, NULL) < 0);
	test_assert(outbound_envelope_add_rcpt(&env, "a", 9, NULL) < 0);
	test_assert(outbound_envelope_add_rcpt(&env, "a", 0, "") < 0);
	long_value[OUTBOUND_ENVID_MAX + 1] = '\0';
	env.sender = strdup("s");
	env.envid = strdup(long_value);
	test_assert(outbound_envelope_add_rcpt(&env, "a", 0, NULL) == 0);
	test_assert(outbound_envelope_format(&env, &len) == NULL);
	env.envid[OUTBOUND_ENVID_MAX] = '\0';
	s = outbound_envelope_format(&env, &len);
	test_assert(s != NULL);
	free(s);

	/* OUTBOUND_RCPT_MAX recipients, not one more. */
	for (size_t i = 1; i < OUTBOUND_RCPT_MAX; i++)
		test_assert(outbound_envelope_add_rcpt(&env, "r@x", 0,
						       NULL) == 0);
	test_assert(outbound_envelope_add_rcpt(&env, "r@x", 0, NULL) < 0 &&
		    errno == E2BIG);
	s = outbound_envelope_format(&env, &len);
	test_assert(s != NULL);
	outbound_envelope_free(&env);
	test_assert(outbound_envelope_parse(s, len, &env, error,
					    sizeof(error)) == (ssize_t)len);
	test_assert_u64(env.rcpt_count, OUTBOUND_RCPT_MAX);
	outbound_envelope_free(&env);
	free(s);
	test_end();
}

static void
test_too_many_recipients(void)
{
	const char *head = "SHIPMAIL-OUTBOUND 1\nfrom x\n";
	size_t size = strlen(head) + (OUTBOUND_RCPT_MAX + 1) * 9 + 2;
	char *s = malloc(size), *p;
	struct outbound_envelope env;
	char error[256];

	test_begin("envelope: recipient OUTBOUND_RCPT_MAX + 1 refused");
	p = s + sprintf(s, "%s", head);
	for (size_t i = 0; i <= OUTBOUND_RCPT_MAX; i++)
		p += sprintf(p, "rcpt r@x\n");
	p += sprintf(p, "\n");
	test_assert(outbound_envelope_parse(s, (size_t)(p - s), &env, error,
					    sizeof(error)) < 0);
	test_assert(strstr(error, "recipients") != NULL);
	free(s);
	test_end();
}

static void
test_header_bound(void)
{
	size_t size = OUTBOUND_HEADER_MAX + 8192;
	char *s = malloc(size);
	struct outbound_envelope env;
	char error[256];
	size_t pos;

	test_begin("envelope: no block longer than 1 MB, no line over its limit");
	/* A never-ending rcpt line: refused once it is longer than a line. */
	pos = (size_t)sprintf(s, "SHIPMAIL-OUTBOUND 1\nfrom x\nrcpt ");
	memset(s + pos, 'a', size - pos);
	test_assert(outbound_envelope_parse(s, 8192, &env, error,
					    sizeof(error)) < 0);
	test_assert(strstr(error, "longer") != NULL);
	/* Lines of fully encoded values: 1 MB before 1000 recipients. */
	pos = (size_t)sprintf(s, "SHIPMAIL-OUTBOUND 1\nfrom x\n");
	while (pos <= OUTBOUND_HEADER_MAX) {
		pos += (size_t)sprintf(s + pos, "rcpt ");
		for (int i = 0; i < OUTBOUND_ADDR_MAX; i++)
			pos += (size_t)sprintf(s + pos, "+20");
		pos += (size_t)sprintf(s + pos, " orcpt=");
		for (int i = 0; i < OUTBOUND_ORCPT_MAX; i++)
			pos += (size_t)sprintf(s + pos, "+20");
		s[pos++] = '\n';
	}
	test_assert(outbound_envelope_parse(s, pos, &env, error,
					    sizeof(error)) < 0);
	test_assert(strstr(error, "over") != NULL);
	free(s);
	test_end();
}

static void
test_notify_name(void)
{
	char buf[64];

	test_begin("notify names for sendmail -N");
	test_assert(outbound_notify_name(0, buf, sizeof(buf)) == NULL);
	test_assert_str(outbound_notify_name(OUTBOUND_NOTIFY_NEVER, buf,
					     sizeof(buf)), "never");
	test_assert_str(outbound_notify_name(OUTBOUND_NOTIFY_SUCCESS |
		OUTBOUND_NOTIFY_FAILURE, buf, sizeof(buf)), "SUCCESS,FAILURE");
	test_assert_str(outbound_notify_name(7, buf, sizeof(buf)),
			"SUCCESS,FAILURE,DELAY");
	test_assert_str(outbound_notify_name(OUTBOUND_NOTIFY_DELAY, buf,
					     sizeof(buf)), "DELAY");
	test_assert(outbound_notify_name(OUTBOUND_NOTIFY_NEVER |
		OUTBOUND_NOTIFY_DELAY, buf, sizeof(buf)) == NULL);
	test_assert(outbound_notify_name(7, buf, 10) == NULL);
	test_end();
}

static void
test_ids(void)
{
	char a[OUTBOUND_ID_LEN + 1], b[OUTBOUND_ID_LEN + 1];

	test_begin("ids: 32 lower-case hex digits, fresh each time");
	test_assert(outbound_id_new(a) == 0 && outbound_id_new(b) == 0);
	test_assert(strlen(a) == OUTBOUND_ID_LEN);
	test_assert(outbound_id_valid(a, strlen(a)));
	test_assert(strcmp(a, b) != 0);
	test_assert(!outbound_id_valid(a, OUTBOUND_ID_LEN - 1));
	test_assert(!outbound_id_valid("0123456789ABCDEF0123456789abcdef",
				       OUTBOUND_ID_LEN));
	test_assert(!outbound_id_valid("0123456789abcdef0123456789abcdeg",
				       OUTBOUND_ID_LEN));
	test_assert(!outbound_id_valid("../../../../../../../../etc/pass",
				       OUTBOUND_ID_LEN));
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_roundtrip_full,
		test_roundtrip_null_sender,
		test_body_7bit_read,
		test_need_more,
		test_malformed_refused,
		test_encoding_strict,
		test_bounds,
		test_too_many_recipients,
		test_header_bound,
		test_notify_name,
		test_ids,
		NULL
	};

	return test_run(tests);
}
