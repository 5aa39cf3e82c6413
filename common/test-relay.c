/*
 * Unit tests of the resumable link's shared part (relay.h): the first
 * lines, frames read whole or a byte at a time, acknowledgements, and
 * a resume after a cut that loses bytes in flight, in both directions.
 */
#include "relay.h"
#include "test-common.h"

#include <stdio.h>
#include <string.h>

static void
test_lines(void)
{
	struct relay_line l = { .verb = RELAY_RESUME }, got;
	char line[RELAY_LINE_MAX + 1];
	size_t len;

	test_begin("relay: first lines round-trip; malformed ones are refused");
	memset(l.token, 0xa5, sizeof(l.token));
	l.received = 18446744073709551615ULL;
	len = relay_line_format(line, &l);
	test_assert(len > 0 && line[len - 1] == '\n');
	line[len - 1] = '\0';
	test_assert(relay_line_parse(line, &got) == 0);
	test_assert(got.verb == RELAY_RESUME);
	test_assert(memcmp(got.token, l.token, sizeof(l.token)) == 0);
	test_assert_u64(got.received, l.received);

	test_assert(relay_line_parse("SHIPMAIL-RELAY 1 NEW", &got) == 0 &&
		    got.verb == RELAY_NEW);
	test_assert(relay_line_parse("SHIPMAIL-RELAY 1 NO full\x01", &got) == 0 &&
		    got.verb == RELAY_NO && strcmp(got.text, "full?") == 0);
	test_assert(relay_line_parse("SHIPMAIL-RELAY 2 NEW", &got) < 0);
	test_assert(relay_line_parse("SSH-2.0-OpenSSH_9.2", &got) < 0);
	test_assert(relay_line_parse("SHIPMAIL-RELAY 1 NEW ", &got) < 0);
	test_assert(relay_line_parse("SHIPMAIL-RELAY 1 RESUME "
				     "A5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5 1",
				     &got) < 0);
	test_assert(relay_line_parse("SHIPMAIL-RELAY 1 RESUME "
				     "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5 1",
				     &got) < 0);
	test_assert(relay_line_parse("SHIPMAIL-RELAY 1 RESUME "
				     "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5 01",
				     &got) < 0);
	test_assert(relay_line_parse("SHIPMAIL-RELAY 1 RESUME "
				     "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5 "
				     "18446744073709551616", &got) < 0);
	test_assert(relay_line_parse("SHIPMAIL-RELAY 1 OK "
				     "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5 7x",
				     &got) < 0);
	test_end();
}

/* Feed a's wire to b, a byte at a time when slow. */
static int
carry(struct relay_end *a, struct relay_end *b, int slow)
{
	const char *error = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; i < a->wire.len && ret == 0; i += slow ? 1 : a->wire.len)
		ret = relay_end_input(b, a->wire.buf + i,
				      slow ? 1 : a->wire.len, &error);
	a->wire.len = 0;
	return ret;
}

static void
fill(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

static void
test_stream(void)
{
	static unsigned char data[100000];
	struct relay_end a = { 0 }, b = { 0 };
	int slow;

	for (slow = 0; slow < 2; slow++) {
		test_begin(slow ? "relay: a stream read a byte at a time" :
			   "relay: a stream read in large pieces");
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		fill(data, sizeof(data), 7);
		test_assert(relay_end_send(&a, data, 30000) == 0);
		test_assert(relay_end_send(&a, data + 30000, 70000) == 0);
		test_assert(relay_end_finish(&a) == 0);
		test_assert(carry(&a, &b, slow) == 0);
		test_assert(b.sink.len == sizeof(data) &&
			    memcmp(b.sink.buf, data, sizeof(data)) == 0);
		test_assert(b.peer_ended);
		test_assert_u64(b.received, sizeof(data) + 1);
		/* b's acknowledgements free a's copy. */
		test_assert(b.wire.len > 0);
		test_assert(carry(&b, &a, slow) == 0);
		test_assert_u64(a.unacked.len, 0);
		test_assert(relay_end_all_acked(&a));
		relay_end_free(&a);
		relay_end_free(&b);
		test_end();
	}
}

/*
 * A cut: the second half of what a sent is lost on the way (a part of
 * a frame), b's acknowledgements are lost too.  The new connection's
 * lines carry each side's count; what is resent fills the gap exactly.
 */
static void
test_resume(void)
{
	static unsigned char data[50000];
	struct relay_end a = { 0 }, b = { 0 }, c = { 0 };
	const char *error = NULL;
	size_t half;

	test_begin("relay: a resume after a cut resends exactly what is lost");
	fill(data, sizeof(data), 11);
	test_assert(relay_end_send(&a, data, sizeof(data)) == 0);
	half = a.wire.len / 2 + 1;	/* inside a frame */
	test_assert(relay_end_input(&b, a.wire.buf, half, &error) == 0);
	a.wire.len = 0;
	b.wire.len = 0;			/* its 'A's are lost */
	test_assert(b.received > 0 && b.received < sizeof(data));

	/* What a sends before b's count comes waits, end marker too:
	   frames now would land at the wrong offset. */
	a.paused = 1;
	test_assert(relay_end_send(&a, "tail", 4) == 0);
	test_assert(relay_end_finish(&a) == 0);
	test_assert_u64(a.wire.len, 0);

	/* b would have rebuilt its wire on its own line; a resends. */
	test_assert(relay_end_resume(&b, 0, "x", 1) == 0);
	test_assert(relay_end_resume(&a, b.received, "y", 1) == 0);
	test_assert(a.wire.len > 1 && a.wire.buf[0] == 'y');
	test_assert(relay_end_input(&b, a.wire.buf + 1, a.wire.len - 1,
				    &error) == 0);
	test_assert(b.sink.len == sizeof(data) + 4 &&
		    memcmp(b.sink.buf, data, sizeof(data)) == 0 &&
		    memcmp(b.sink.buf + sizeof(data), "tail", 4) == 0);
	test_assert(b.peer_ended);

	/* An offset a no longer holds, or never sent, is refused. */
	test_assert(relay_end_resume(&a, sizeof(data) + 6, NULL, 0) < 0);
	test_assert(relay_end_resume(&a, 0, NULL, 0) < 0);
	relay_end_free(&a);
	relay_end_free(&b);

	/* The ship's end resumes with no line of its own, maybe before it
	   has sent anything: nothing to copy, nothing to drop. */
	test_assert(relay_end_resume(&c, 0, NULL, 0) == 0);
	test_assert_u64(c.wire.len, 0);
	relay_end_free(&c);
	test_end();
}

static void
test_hostile_frames(void)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
	} cases[] = {
		{ "unknown frame type", "X", 1 },
		{ "empty data frame", "D\0\0", 3 },
		{ "data frame over the limit", "D\x40\x01", 3 },
		{ "acknowledgement of bytes never sent",
		  "A\0\0\0\0\0\0\0\1", 9 },
		{ "a frame after the end", "EP", 2 },
	};
	size_t i;

	test_begin("relay: malformed frames are errors, with a reason");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct relay_end e = { 0 };
		const char *error = NULL;
		int ret = relay_end_input(&e, (const unsigned char *)
					  cases[i].bytes, cases[i].len, &error);

		if (ret != -1 || error == NULL)
			printf("# case: %s\n", cases[i].what);
		test_assert(ret == -1 && error != NULL);
		relay_end_free(&e);
	}
	test_end();
}

static void
test_ping(void)
{
	struct relay_end a = { 0 }, b = { 0 };

	test_begin("relay: a ping is answered with the count taken");
	test_assert(relay_end_send(&a, "hello", 5) == 0);
	test_assert(relay_end_ping(&a) == 0);
	test_assert(relay_end_ping(&a) == 0);	/* one is enough */
	test_assert(carry(&a, &b, 0) == 0);
	test_assert_u64(b.wire.len, 9);
	test_assert(carry(&b, &a, 0) == 0);
	test_assert_u64(a.unacked.len, 0);
	test_assert(!a.ping_out);
	test_assert(!relay_end_all_acked(&a));	/* no 'E' yet */
	relay_end_free(&a);
	relay_end_free(&b);
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_lines,
		test_stream,
		test_resume,
		test_hostile_frames,
		test_ping,
		NULL,
	};

	return test_run(tests);
}
