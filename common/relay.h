#ifndef SHIPMAIL_RELAY_H
#define SHIPMAIL_RELAY_H
/*
 * The resumable link: a byte stream each way between shipmail-fetch and
 * shipmail-relay that outlives the TCP connections carrying it.  The
 * SSH session runs inside it, so a cut costs a TCP connect and one short
 * line each way instead of a new SSH session.
 *
 * A connection starts with one line from each side:
 *
 *   ship:  SHIPMAIL-RELAY 1 NEW
 *          SHIPMAIL-RELAY 1 RESUME <token> <received>
 *   relay: SHIPMAIL-RELAY 1 OK <token> <received>
 *          SHIPMAIL-RELAY 1 NO <text>            (then it closes)
 *
 * <token> names the stream (32 hex digits, chosen by the relay);
 * <received> counts the stream bytes the sender of the line has taken
 * from its peer.  Each side then resends what the other lacks.  After
 * the lines come frames, the same both ways:
 *
 *   'D' <length: 2 bytes, big-endian, 1..RELAY_DATA_MAX> <bytes>
 *   'A' <count: 8 bytes, big-endian>   all bytes up to count arrived
 *   'P'                                please send an 'A'
 *   'E'                                no more bytes from this side
 *
 * A data frame's bytes count as taken as they arrive, whole frame or
 * not: a cut in the middle of a frame loses nothing that came through.
 * Bytes are kept for resending until the peer's 'A' covers them.
 *
 * This file holds what both ends share: the lines, the frame reader and
 * the per-direction state (struct relay_end).  Sockets and policy are
 * the callers'.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RELAY_LINE_MAX		128
#define RELAY_TOKEN_LEN		16
#define RELAY_DATA_MAX		16384
/* Unacknowledged or undelivered bytes one direction may hold. */
#define RELAY_QUEUE_MAX		(256 * 1024)
/* An acknowledgement after this many bytes taken. */
#define RELAY_ACK_EVERY		8192

/* Bytes with absolute stream offsets [start, start + len). */
struct relay_queue {
	unsigned char *buf;
	size_t len, cap;
	uint64_t start;
};

int relay_queue_push(struct relay_queue *q, const void *data, size_t len);
/* Drop the first n bytes. */
void relay_queue_drop(struct relay_queue *q, size_t n);
void relay_queue_free(struct relay_queue *q);

struct relay_line {
	enum { RELAY_NEW, RELAY_RESUME, RELAY_OK, RELAY_NO } verb;
	unsigned char token[RELAY_TOKEN_LEN];
	uint64_t received;
	char text[RELAY_LINE_MAX];	/* NO: why */
};

/* A line with its LF into out (RELAY_LINE_MAX + 1 bytes); its length. */
size_t relay_line_format(char *out, const struct relay_line *l);
/* A line without its LF.  0, or -1 when it is not one of ours. */
int relay_line_parse(const char *line, struct relay_line *l_r);

/*
 * One side's view of the stream: what goes out (kept until acknowledged,
 * framed into wire) and what comes in (parsed frame by frame; data goes
 * to the sink queue, for the local socket).
 */
struct relay_end {
	struct relay_queue unacked;	/* our data from the peer's 'A' on */
	struct relay_queue wire;	/* frames for the current connection */
	struct relay_queue sink;	/* the peer's data, not yet written */
	uint64_t received;		/* the peer's data bytes taken */
	uint64_t acked;			/* the last 'A' we sent */
	uint64_t peer_acked;		/* the peer's last 'A' */
	int ended;			/* our 'E' is in unacked's wake */
	int peer_ended;			/* the peer's 'E' came */
	int ping_out;			/* a 'P' waits for its 'A' */
	int paused;			/* no frames until the peer's count */

	/* Frame reader. */
	unsigned char hdr[9];
	size_t hdr_len, hdr_need;
	size_t data_left;
};

/* Our data: kept, and framed unless paused (a new connection waits
   for the peer's count: frames sent before it would land at the wrong
   offset). */
int relay_end_send(struct relay_end *e, const void *data, size_t len);
/* Our end of the stream: an 'E' once every byte is out. */
int relay_end_finish(struct relay_end *e);
/* Ask for an acknowledgement. */
int relay_end_ping(struct relay_end *e);
/*
 * Bytes from the peer.  0, or -1 with *error_r on a malformed frame or
 * an acknowledgement of bytes never sent.
 */
int relay_end_input(struct relay_end *e, const unsigned char *data,
		    size_t len, const char **error_r);
/*
 * A new connection on which the peer has taken peer_received of our
 * bytes: wire is rebuilt from there, behind line (the connection's
 * first line, or NULL), and the frame reader reset.  -1 when those
 * bytes are no longer kept (or were never sent).
 */
int relay_end_resume(struct relay_end *e, uint64_t peer_received,
		     const char *line, size_t line_len);
/* Write what wire holds to a non-blocking fd: 0, or -1 with errno. */
int relay_end_write(struct relay_end *e, int fd);
/* Every byte of ours, and our 'E', acknowledged. */
int relay_end_all_acked(const struct relay_end *e);
void relay_end_free(struct relay_end *e);

/* Write a queue's head to a non-blocking fd and drop what went. */
int relay_queue_write(struct relay_queue *q, int fd);

#endif
