/*
 * The ship end of the resumable link (see relay.h): a child process
 * that carries the SSH session's bytes between a socketpair, whose
 * other end libssh2 uses as its socket, and TCP connections to
 * shipmail-relay.  When a connection breaks it connects again and
 * resumes the stream; libssh2 sees a pause, not a cut.
 *
 * A connection that brings nothing for the keepalive interval is asked
 * for an acknowledgement; one that stays silent for twice that is taken
 * for dead (a blackholed link sends no reset) and replaced.  The child
 * never gives up on its own while the session lives: shipmail-fetch's
 * idle timeout decides that, by closing its end.  It ends when that
 * end closes, when the relay no longer knows the stream, or after the
 * relay's end of the stream.
 */
#include "relay-client.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Seconds to hand over our last bytes once the session has closed. */
#define LINGER_SECS	3
#define BACKOFF_MAX	30

struct link {
	const struct session_settings *set;
	int sp;				/* libssh2's socket, other end */
	int tcp;			/* -1: not connected */
	int have_token, answered;	/* answered: the relay's line came */
	unsigned char token[RELAY_TOKEN_LEN];
	char line[RELAY_LINE_MAX + 1];	/* the relay's line, so far */
	size_t line_len;
	time_t last_rx, connected_at, cut_at;
	unsigned int backoff;
	int sp_eof, sp_shut;
	struct relay_end end;		/* out: libssh2's bytes */
};

static void link_log(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void link_log(const char *fmt, ...)
{
	va_list ap;

	fputs("shipmail-fetch: relay: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static time_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void link_drop(struct link *l, const char *why)
{
	if (l->tcp < 0)
		return;
	link_log("link lost (%s); resuming", why);
	close(l->tcp);
	l->tcp = -1;
	l->cut_at = now();
}

/* Our line on a new connection: NEW with everything behind it, or
   RESUME. */
static int link_hello(struct link *l)
{
	struct relay_line hello = { .verb = RELAY_NEW };
	char line[RELAY_LINE_MAX + 1];
	size_t len;

	l->answered = 0;
	l->line_len = 0;
	l->connected_at = l->last_rx = now();
	if (l->have_token) {
		hello.verb = RELAY_RESUME;
		memcpy(hello.token, l->token, sizeof(hello.token));
		hello.received = l->end.received;
		len = relay_line_format(line, &hello);
		l->end.wire.len = 0;
		l->end.paused = 1;
		return relay_queue_push(&l->end.wire, line, len);
	}
	len = relay_line_format(line, &hello);
	return relay_end_resume(&l->end, 0, line, len);
}

/* The relay's line: -1 ends the child (the stream is gone). */
static int link_answer(struct link *l, const char *text)
{
	struct relay_line ok;

	if (relay_line_parse(text, &ok) < 0 ||
	    (ok.verb != RELAY_OK && ok.verb != RELAY_NO)) {
		link_log("not a shipmail-relay: the answer was not understood");
		return -1;
	}
	if (ok.verb == RELAY_NO) {
		link_log("the relay refused: %s", ok.text);
		return -1;
	}
	if (l->have_token) {
		if (memcmp(ok.token, l->token, sizeof(ok.token)) != 0 ||
		    relay_end_resume(&l->end, ok.received, NULL, 0) < 0) {
			link_log("the relay answered for another stream");
			return -1;
		}
		link_log("resumed after %llds", (long long)(now() - l->cut_at));
	} else {
		memcpy(l->token, ok.token, sizeof(l->token));
		l->have_token = 1;
	}
	l->answered = 1;
	l->backoff = 0;
	return 0;
}

/* Bytes from the relay: its line first, then frames. */
static int link_input(struct link *l, const unsigned char *data, size_t len)
{
	const char *error;

	if (!l->answered) {
		while (len > 0 && !l->answered) {
			char c = (char)*data++;

			len--;
			if (c != '\n') {
				if (l->line_len == RELAY_LINE_MAX) {
					link_log("not a shipmail-relay: "
						 "endless first line");
					return -1;
				}
				l->line[l->line_len++] = c;
				continue;
			}
			l->line[l->line_len] = '\0';
			if (link_answer(l, l->line) < 0)
				return -1;
		}
	}
	if (len > 0 && relay_end_input(&l->end, data, len, &error) < 0) {
		link_log("bad frames from the relay: %s", error);
		return -1;
	}
	return 0;
}

/* libssh2's bytes in: 0, or -1 once its end has closed. */
static int link_take(struct link *l)
{
	unsigned char buf[RELAY_DATA_MAX];
	ssize_t n = read(l->sp, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		l->sp_eof = 1;
		return -1;
	}
	return relay_end_send(&l->end, buf, (size_t)n) < 0 ? -1 : 0;
}

/* Wait before the next connect: at once the first time, then longer.
   libssh2's bytes are still taken (they go out after the resume), and
   what came before the cut still goes to it.  -1: the session is over. */
static int link_wait_reconnect(struct link *l)
{
	time_t until = now() + l->backoff;

	l->backoff = l->backoff == 0 ? 1 : l->backoff * 2;
	if (l->backoff > BACKOFF_MAX)
		l->backoff = BACKOFF_MAX;
	while (now() < until) {
		struct pollfd pfd = { .fd = l->sp };

		if (l->end.unacked.len < RELAY_QUEUE_MAX)
			pfd.events |= POLLIN;
		if (l->end.sink.len > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
		    link_take(l) < 0)
			return -1;
		if (l->end.sink.len > 0 &&
		    relay_queue_write(&l->end.sink, l->sp) < 0)
			return -1;
	}
	return 0;
}

/* Once the session has closed: our last bytes out, a few seconds. */
static void link_linger(struct link *l)
{
	time_t until = now() + LINGER_SECS;
	unsigned char buf[512];

	if (l->tcp < 0 || !l->answered)
		return;
	(void)relay_end_finish(&l->end);
	while (now() < until && !relay_end_all_acked(&l->end)) {
		struct pollfd pfd = { .fd = l->tcp, .events = POLLIN };
		ssize_t n;

		if (relay_end_write(&l->end, l->tcp) < 0)
			return;
		if (l->end.wire.len > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		n = read(l->tcp, buf, sizeof(buf));
		if (n <= 0 || link_input(l, buf, (size_t)n) < 0)
			return;
		l->end.sink.len = 0;	/* nobody reads it now */
	}
}

/* One round of poll over the socketpair and the connection. */
static int link_step(struct link *l)
{
	unsigned char buf[RELAY_DATA_MAX];
	struct pollfd pfd[2];
	time_t quiet = now() - l->last_rx;
	int keepalive = (int)(l->set->keepalive > 0 ? l->set->keepalive : 30);
	ssize_t n;

	pfd[0] = (struct pollfd){ .fd = l->sp };
	if (!l->sp_eof && l->end.unacked.len < RELAY_QUEUE_MAX)
		pfd[0].events |= POLLIN;
	if (l->end.sink.len > 0)
		pfd[0].events |= POLLOUT;
	pfd[1] = (struct pollfd){ .fd = l->tcp, .events = POLLIN };
	if (l->end.wire.len > 0)
		pfd[1].events |= POLLOUT;
	if (l->end.sink.len >= RELAY_QUEUE_MAX) {
		/* libssh2 is behind, not the link: no reading, no alarm. */
		pfd[1].events &= ~POLLIN;
		l->last_rx = now();
		quiet = 0;
	}

	if (quiet >= 2 * keepalive) {
		link_drop(l, "silent");
		return 0;
	}
	if (quiet >= keepalive && l->answered &&
	    relay_end_ping(&l->end) < 0)
		return -1;
	if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
		return -1;

	if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
	    link_take(l) < 0)
		return l->sp_eof ? 0 : -1;
	if (l->end.sink.len > 0 && relay_queue_write(&l->end.sink, l->sp) < 0)
		return -1;
	if (l->end.peer_ended && l->end.sink.len == 0 && !l->sp_shut) {
		(void)shutdown(l->sp, SHUT_WR);
		l->sp_shut = 1;
	}
	if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
		n = read(l->tcp, buf, sizeof(buf));
		if (n > 0) {
			l->last_rx = now();
			if (link_input(l, buf, (size_t)n) < 0)
				return -1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			link_drop(l, n == 0 ? "closed by the relay" :
				  strerror(errno));
			return 0;
		}
	}
	if (l->tcp >= 0 && relay_end_write(&l->end, l->tcp) < 0)
		link_drop(l, strerror(errno));
	return 0;
}

static void link_connect(struct link *l)
{
	char error[256];

	l->tcp = session_tcp_connect(l->set, error, sizeof(error));
	if (l->tcp < 0)
		link_log("%s", error);
	else if (link_hello(l) < 0)
		link_drop(l, "out of memory");
}

static int link_run(struct link *l)
{
	if (link_hello(l) < 0)
		return 1;
	while (!l->sp_eof) {
		if (l->tcp < 0) {
			if (link_wait_reconnect(l) < 0)
				return 0;
			link_connect(l);
			continue;
		}
		if (link_step(l) < 0)
			return 1;
		if (l->end.peer_ended && l->sp_shut && l->end.sink.len == 0 &&
		    l->tcp < 0)
			return 0;
	}
	link_linger(l);
	return 0;
}

/* The child keeps only its two sockets and stderr: a spool lock or an
   LMTP connection held past the parent's end would stand in the way of
   the next run. */
static void close_other_fds(int keep1, int keep2)
{
	long max = sysconf(_SC_OPEN_MAX);
	int fd;

	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++) {
		if (fd != keep1 && fd != keep2)
			(void)close(fd);
	}
}

int relay_client_start(const struct session_settings *set, pid_t *pid_r,
		       char *error, size_t error_size)
{
	int sp[2], tcp;
	pid_t pid;

	tcp = session_tcp_connect(set, error, error_size);
	if (tcp < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		snprintf(error, error_size, "socketpair: %s", strerror(errno));
		close(tcp);
		return -1;
	}
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(error, error_size, "fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		close(tcp);
		return -1;
	}
	if (pid == 0) {
		struct link l = { .set = set, .sp = sp[1], .tcp = tcp };
		int code;

		close_other_fds(sp[1], tcp);
		(void)fcntl(sp[1], F_SETFL, O_NONBLOCK);
		signal(SIGPIPE, SIG_IGN);
		code = link_run(&l);
		if (l.tcp >= 0)
			close(l.tcp);
		relay_end_free(&l.end);
		/* No exit handlers: they are the parent's. */
		_exit(code);
	}
	close(sp[1]);
	close(tcp);
	*pid_r = pid;
	return sp[0];
}

void relay_client_stop(pid_t pid, int now_)
{
	int i;

	if (pid <= 0)
		return;
	if (now_)
		(void)kill(pid, SIGKILL);
	for (i = 0; i < (LINGER_SECS + 1) * 10; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		usleep(100 * 1000);
	}
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}
