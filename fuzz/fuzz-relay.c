/*
 * Fuzz harness for the resumable link's frames and lines (common/relay.h).
 *
 * shipmail-relay reads a first line and then frames from anyone who
 * reaches its port; shipmail-fetch reads the same from the relay.  The
 * input is cut into pieces at the positions its first bytes give, so
 * that every frame header and every data frame can be split anywhere,
 * as TCP may.  Whatever the bytes: no crash, no read past them, the
 * count of bytes taken is the data handed on (plus one for an end
 * marker), an error comes with its reason and stays an error, and a
 * line that parses formats back to itself.
 */
#include "common/relay.h"
#include "fuzz-input.h"

static void
check_line(const uint8_t *data, size_t size)
{
	char line[RELAY_LINE_MAX + 1], again[RELAY_LINE_MAX + 2];
	struct relay_line l;
	size_t len = size < RELAY_LINE_MAX ? size : RELAY_LINE_MAX;

	memcpy(line, data, len);
	line[len] = '\0';
	if (relay_line_parse(line, &l) < 0 || l.verb == RELAY_NO)
		return;
	len = relay_line_format(again, &l);
	FUZZ_CHECK(len > 0 && again[len - 1] == '\n');
	again[len - 1] = '\0';
	FUZZ_CHECK(strcmp(again, line) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_end e = { 0 };
	const char *error = NULL;
	size_t step, pos = 0;
	int failed = 0;

	check_line(data, size);
	if (size < 1)
		return 0;
	/* Our own stream, so that acknowledgements have bytes to cover. */
	if (relay_end_send(&e, data, size < 1000 ? size : 1000) < 0)
		abort();
	step = data[0] % 17 + 1;
	for (pos = 1; pos < size && !failed; pos += step) {
		size_t n = size - pos < step ? size - pos : step;

		failed = relay_end_input(&e, data + pos, n, &error) < 0;
		FUZZ_CHECK(!failed || error != NULL);
		FUZZ_CHECK(e.received == e.sink.len + (e.peer_ended ? 1 : 0));
		FUZZ_CHECK(e.peer_acked <= e.unacked.start + e.unacked.len);
	}
	relay_end_free(&e);
	return 0;
}
