/*
 * The resumable link's shared part: see relay.h.
 *
 * The end marker 'E' counts as one byte of the stream, after the data:
 * an acknowledgement that covers it says the peer has seen it, and a
 * resume after it was lost sends it again.
 */
#include "relay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RELAY_MAGIC	"SHIPMAIL-RELAY 1 "

int relay_queue_push(struct relay_queue *q, const void *data, size_t len)
{
	if (len == 0)
		return 0;	/* data may be NULL then */
	if (q->cap - q->len < len) {
		size_t cap = q->cap == 0 ? 4096 : q->cap;
		unsigned char *grown;

		while (cap - q->len < len)
			cap *= 2;
		grown = realloc(q->buf, cap);
		if (grown == NULL)
			return -1;
		q->buf = grown;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, data, len);
	q->len += len;
	return 0;
}

void relay_queue_drop(struct relay_queue *q, size_t n)
{
	if (n > q->len)
		n = q->len;
	if (n == 0)
		return;		/* buf may still be NULL */
	memmove(q->buf, q->buf + n, q->len - n);
	q->len -= n;
	q->start += n;
}

void relay_queue_free(struct relay_queue *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

int relay_queue_write(struct relay_queue *q, int fd)
{
	while (q->len > 0) {
		ssize_t n = write(fd, q->buf, q->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		relay_queue_drop(q, (size_t)n);
	}
	return 0;
}

/* --- lines ---------------------------------------------------------- */

static void token_hex(char out[2 * RELAY_TOKEN_LEN + 1],
		      const unsigned char *token)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < RELAY_TOKEN_LEN; i++) {
		out[2 * i] = hex[token[i] >> 4];
		out[2 * i + 1] = hex[token[i] & 15];
	}
	out[2 * RELAY_TOKEN_LEN] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "<token> <count>" and nothing else. */
static int parse_token_count(const char *p, struct relay_line *l)
{
	size_t i;
	uint64_t n = 0;

	for (i = 0; i < RELAY_TOKEN_LEN; i++) {
		int hi = hex_digit(p[2 * i]), lo;

		if (hi < 0 || (lo = hex_digit(p[2 * i + 1])) < 0)
			return -1;
		l->token[i] = (unsigned char)(hi << 4 | lo);
	}
	p += 2 * RELAY_TOKEN_LEN;
	if (*p++ != ' ' || *p < '0' || *p > '9' || (p[0] == '0' && p[1] != '\0'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t digit = (uint64_t)(*p - '0');

		if (n > (UINT64_MAX - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}
	l->received = n;
	return *p == '\0' ? 0 : -1;
}

size_t relay_line_format(char *out, const struct relay_line *l)
{
	char tok[2 * RELAY_TOKEN_LEN + 1];
	int n;

	token_hex(tok, l->token);
	switch (l->verb) {
	case RELAY_NEW:
		n = snprintf(out, RELAY_LINE_MAX + 1, RELAY_MAGIC "NEW\n");
		break;
	case RELAY_RESUME:
	case RELAY_OK:
		n = snprintf(out, RELAY_LINE_MAX + 1, RELAY_MAGIC "%s %s %"
			     PRIu64 "\n", l->verb == RELAY_OK ? "OK" :
			     "RESUME", tok, l->received);
		break;
	default:
		n = snprintf(out, RELAY_LINE_MAX + 1, RELAY_MAGIC "NO %.80s\n",
			     l->text);
		break;
	}
	return n < 0 ? 0 : (size_t)n;
}

int relay_line_parse(const char *line, struct relay_line *l_r)
{
	size_t magic = sizeof(RELAY_MAGIC) - 1;

	memset(l_r, 0, sizeof(*l_r));
	if (strncmp(line, RELAY_MAGIC, magic) != 0)
		return -1;
	line += magic;
	if (strcmp(line, "NEW") == 0) {
		l_r->verb = RELAY_NEW;
		return 0;
	}
	if (strncmp(line, "RESUME ", 7) == 0) {
		l_r->verb = RELAY_RESUME;
		return parse_token_count(line + 7, l_r);
	}
	if (strncmp(line, "OK ", 3) == 0) {
		l_r->verb = RELAY_OK;
		return parse_token_count(line + 3, l_r);
	}
	if (strncmp(line, "NO ", 3) == 0) {
		size_t i;

		l_r->verb = RELAY_NO;
		snprintf(l_r->text, sizeof(l_r->text), "%s", line + 3);
		/* The text goes to a log: printable characters only. */
		for (i = 0; l_r->text[i] != '\0'; i++) {
			if (l_r->text[i] < 0x20 || l_r->text[i] > 0x7e)
				l_r->text[i] = '?';
		}
		return 0;
	}
	return -1;
}

/* --- the stream ----------------------------------------------------- */

static uint64_t data_end(const struct relay_end *e)
{
	return e->unacked.start + e->unacked.len;
}

static int wire_data(struct relay_end *e, const unsigned char *data,
		     size_t len)
{
	while (len > 0) {
		size_t n = len > RELAY_DATA_MAX ? RELAY_DATA_MAX : len;
		unsigned char hdr[3] = { 'D', (unsigned char)(n >> 8),
					 (unsigned char)n };

		if (relay_queue_push(&e->wire, hdr, 3) < 0 ||
		    relay_queue_push(&e->wire, data, n) < 0)
			return -1;
		data += n;
		len -= n;
	}
	return 0;
}

static int wire_count(struct relay_end *e, unsigned char type,
		      uint64_t count)
{
	unsigned char f[9];
	int i;

	f[0] = type;
	for (i = 0; i < 8; i++)
		f[1 + i] = (unsigned char)(count >> (56 - 8 * i));
	return relay_queue_push(&e->wire, f, sizeof(f));
}

int relay_end_send(struct relay_end *e, const void *data, size_t len)
{
	if (e->ended) {
		errno = EPIPE;
		return -1;
	}
	if (relay_queue_push(&e->unacked, data, len) < 0)
		return -1;
	return e->paused ? 0 : wire_data(e, data, len);
}

int relay_end_finish(struct relay_end *e)
{
	if (e->ended)
		return 0;
	e->ended = 1;
	return e->paused ? 0 : relay_queue_push(&e->wire, "E", 1);
}

int relay_end_ping(struct relay_end *e)
{
	if (e->ping_out)
		return 0;
	e->ping_out = 1;
	return relay_queue_push(&e->wire, "P", 1);
}

static int send_ack(struct relay_end *e)
{
	e->acked = e->received;
	return wire_count(e, 'A', e->received);
}

/* The peer's acknowledgement of count stream bytes. */
static int take_ack(struct relay_end *e, uint64_t count, const char **error_r)
{
	uint64_t end = data_end(e) + (e->ended ? 1 : 0);

	if (count > end) {
		*error_r = "acknowledgement of bytes never sent";
		return -1;
	}
	if (count > e->unacked.start)
		relay_queue_drop(&e->unacked,
				 (size_t)((count < data_end(e) ? count :
					   data_end(e)) - e->unacked.start));
	e->ping_out = 0;
	e->peer_acked = count;
	return 0;
}

/* A frame header is whole: act on it. */
static int take_header(struct relay_end *e, const char **error_r)
{
	uint64_t count = 0;
	size_t i;

	switch (e->hdr[0]) {
	case 'D':
		e->data_left = (size_t)e->hdr[1] << 8 | e->hdr[2];
		if (e->data_left == 0 || e->data_left > RELAY_DATA_MAX) {
			*error_r = "data frame of a bad length";
			return -1;
		}
		return 0;
	case 'A':
		for (i = 1; i < 9; i++)
			count = count << 8 | e->hdr[i];
		return take_ack(e, count, error_r);
	case 'P':
		return send_ack(e);
	case 'E':
		if (!e->peer_ended) {
			e->peer_ended = 1;
			e->received++;
		}
		return send_ack(e);
	}
	*error_r = "unknown frame";
	return -1;
}

int relay_end_input(struct relay_end *e, const unsigned char *data,
		    size_t len, const char **error_r)
{
	while (len > 0) {
		if (e->data_left > 0) {
			size_t n = len < e->data_left ? len : e->data_left;

			if (relay_queue_push(&e->sink, data, n) < 0) {
				*error_r = "out of memory";
				return -1;
			}
			e->received += n;
			e->data_left -= n;
			data += n;
			len -= n;
			if (e->received - e->acked >= RELAY_ACK_EVERY &&
			    send_ack(e) < 0) {
				*error_r = "out of memory";
				return -1;
			}
			continue;
		}
		if (e->peer_ended) {
			*error_r = "frame after the end of the stream";
			return -1;
		}
		if (e->hdr_len == 0) {
			e->hdr_need = data[0] == 'D' ? 3 :
				data[0] == 'A' ? 9 : 1;
		}
		e->hdr[e->hdr_len++] = *data++;
		len--;
		if (e->hdr_len < e->hdr_need)
			continue;
		e->hdr_len = 0;
		if (take_header(e, error_r) < 0)
			return -1;
	}
	return 0;
}

int relay_end_resume(struct relay_end *e, uint64_t peer_received,
		      const char *line, size_t line_len)
{
	uint64_t end = data_end(e);

	if (peer_received < e->unacked.start ||
	    peer_received > end + (e->ended ? 1 : 0))
		return -1;
	e->wire.len = 0;
	if (relay_queue_push(&e->wire, line, line_len) < 0)
		return -1;
	e->hdr_len = 0;
	e->data_left = 0;
	e->ping_out = 0;
	e->paused = 0;
	e->peer_acked = peer_received;
	e->acked = e->received;		/* our line said it */
	if (peer_received < end) {
		relay_queue_drop(&e->unacked,
				 (size_t)(peer_received - e->unacked.start));
		if (wire_data(e, e->unacked.buf, e->unacked.len) < 0)
			return -1;
	}
	if (e->ended && peer_received <= end &&
	    relay_queue_push(&e->wire, "E", 1) < 0)
		return -1;
	return 0;
}

int relay_end_write(struct relay_end *e, int fd)
{
	return relay_queue_write(&e->wire, fd);
}

int relay_end_all_acked(const struct relay_end *e)
{
	return e->ended && e->peer_acked == data_end(e) + 1;
}

void relay_end_free(struct relay_end *e)
{
	relay_queue_free(&e->unacked);
	relay_queue_free(&e->wire);
	relay_queue_free(&e->sink);
}
