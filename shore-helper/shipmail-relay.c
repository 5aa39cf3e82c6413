/*
 * shipmail-relay: the shore end of the resumable link (see relay.h).
 * It listens for ships, opens one connection to the local sshd per
 * stream, and keeps that connection (and so the SSH session and its
 * shipmail-shore) while the ship's TCP connection is cut, for up to
 * relay_hold.  When the ship comes back with the stream's token, each
 * side resends what the other lacks and the SSH session goes on.
 *
 * It authenticates nobody: sshd does, inside the stream, exactly as
 * without the relay.  What the relay adds to the shore's exposure is
 * one line of text read before sshd's own banner, and memory: at most
 * relay_max_sessions streams of RELAY_QUEUE_MAX bytes each way.  A
 * token is 128 random bits; anyone who holds it can take the stream
 * over, but reads only SSH's ciphertext and can at most break the
 * session, as anyone on the path can by cutting it.
 *
 * One process, poll() based, no privileges needed.  Logs to syslog
 * (facility mail) and standard error.
 *
 * BUGS: XXX sshd sees every ship as a connection from the relay's own
 * address: its per-source limits (MaxStartups, PerSourcePenalties) and
 * its log lose the ship's address, which only the relay's log keeps.
 */
#define _GNU_SOURCE
#include "../common/config.h"
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define EX_USAGE	64
#define EX_SOFTWARE	70
#define EX_OSERR	71
#define EX_CONFIG	78

/* Connections that have not yet sent their first line. */
#define HELLO_MAX	64
#define HELLO_TIMEOUT	30
/* Seconds a stream stays once sshd has closed it. */
#define SSHD_GONE_SECS	60

struct relay_settings {
	char *listen_host, *listen_port;
	char *sshd_host, *sshd_port;
	unsigned int hold;		/* seconds a cut stream is kept */
	unsigned int max_sessions;
};

struct hello {
	int fd;
	time_t since;
	char peer[64];
	char line[RELAY_LINE_MAX + 1];
	size_t len;
};

struct stream {
	unsigned char token[RELAY_TOKEN_LEN];
	unsigned int id;
	int client_fd;			/* -1: cut, waiting */
	int sshd_fd;
	int sshd_eof;			/* sshd closed its side */
	time_t sshd_eof_at;
	int sshd_shut;			/* we closed our side to sshd */
	time_t cut_since;
	unsigned int resumes;
	char peer[64];
	struct relay_end end;		/* out: sshd's bytes; sink: to sshd */
};

static struct relay_settings set;
static struct hello hellos[HELLO_MAX];
static size_t hello_count;
static struct stream **streams;
static size_t stream_count;
static unsigned int next_id = 1;
static volatile sig_atomic_t stopping;

static void relay_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void relay_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}

static time_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* --- settings ------------------------------------------------------- */

/* "host:port" or "[v6]:port" into two strings; -1 if malformed. */
static int split_address(const char *value, char **host_r, char **port_r)
{
	const char *colon = strrchr(value, ':');
	size_t hlen;

	if (colon == NULL || colon[1] == '\0' || colon == value)
		return -1;
	hlen = (size_t)(colon - value);
	if (value[0] == '[' && hlen >= 2 && value[hlen - 1] == ']') {
		value++;
		hlen -= 2;
	}
	*host_r = strndup(value, hlen);
	*port_r = strdup(colon + 1);
	return *host_r == NULL || *port_r == NULL ? -1 : 0;
}

static void settings_read(const char *path)
{
	char error[CONFIG_ERROR_MAX];
	struct config *cfg = config_load(path, error, sizeof(error));
	uint64_t max;

	if (cfg == NULL) {
		fprintf(stderr, "shipmail-relay: %s\n", error);
		exit(EX_CONFIG);
	}
	if (split_address(config_get(cfg, "relay_listen", "0.0.0.0:8022"),
			  &set.listen_host, &set.listen_port) < 0 ||
	    split_address(config_get(cfg, "relay_sshd", "127.0.0.1:22"),
			  &set.sshd_host, &set.sshd_port) < 0) {
		fprintf(stderr, "shipmail-relay: %s: relay_listen and "
			"relay_sshd: want host:port\n", path);
		exit(EX_CONFIG);
	}
	if (config_get_seconds(cfg, "relay_hold", 600, &set.hold, error,
			       sizeof(error)) < 0 ||
	    config_get_size(cfg, "relay_max_sessions", 32, &max, error,
			    sizeof(error)) < 0) {
		fprintf(stderr, "shipmail-relay: %s\n", error);
		exit(EX_CONFIG);
	}
	if (max == 0 || max > 4096 || set.hold == 0) {
		fprintf(stderr, "shipmail-relay: %s: relay_max_sessions: want "
			"1-4096; relay_hold: not 0\n", path);
		exit(EX_CONFIG);
	}
	set.max_sessions = (unsigned int)max;
	config_free(&cfg);
}

/* --- sockets -------------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int listen_on(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *res, *ai;
	int fd = -1, one = 1, ret;

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret != 0) {
		relay_log(LOG_ERR, "listen %s:%s: %s", host, port,
			  gai_strerror(ret));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, 16) < 0) {
			relay_log(LOG_ERR, "listen %s:%s: %m", host, port);
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* The local sshd: a blocking connect (it is near), then non-blocking. */
static int sshd_connect(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1;

	if (getaddrinfo(set.sshd_host, set.sshd_port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0 && set_nonblock(fd) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void peer_name(int fd, char *out, size_t size)
{
	union {
		struct sockaddr sa;
		struct sockaddr_storage ss;
	} addr;
	socklen_t len = sizeof(addr);
	char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";

	if (getpeername(fd, &addr.sa, &len) == 0)
		(void)getnameinfo(&addr.sa, len, host,
				  sizeof(host), port, sizeof(port),
				  NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(out, size, "%s:%s", host, port);
}

/* A line and close: for a refused connection. */
static void refuse(int fd, const char *peer, const char *why)
{
	struct relay_line l = { .verb = RELAY_NO };
	char line[RELAY_LINE_MAX + 1];
	size_t len;

	snprintf(l.text, sizeof(l.text), "%s", why);
	len = relay_line_format(line, &l);
	(void)send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	relay_log(LOG_NOTICE, "refused peer=%s: %s", peer, why);
	/* Unread bytes at close() would reset the connection, and the
	   line could be lost on the way: read them first. */
	(void)shutdown(fd, SHUT_WR);
	while (recv(fd, line, sizeof(line), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

/* --- streams -------------------------------------------------------- */

static void stream_free(size_t i, const char *why)
{
	struct stream *st = streams[i];

	relay_log(LOG_INFO, "stream=%u peer=%s ended: %s in=%llu out=%llu "
		  "resumes=%u", st->id, st->peer, why,
		  (unsigned long long)st->end.received,
		  (unsigned long long)(st->end.unacked.start +
				       st->end.unacked.len), st->resumes);
	if (st->client_fd >= 0)
		close(st->client_fd);
	if (st->sshd_fd >= 0)
		close(st->sshd_fd);
	relay_end_free(&st->end);
	free(st);
	streams[i] = streams[--stream_count];
}

static struct stream *stream_find(const unsigned char *token)
{
	size_t i, k;

	for (i = 0; i < stream_count; i++) {
		unsigned char diff = 0;

		for (k = 0; k < RELAY_TOKEN_LEN; k++)
			diff |= (unsigned char)(streams[i]->token[k] ^ token[k]);
		if (diff == 0)
			return streams[i];
	}
	return NULL;
}

/* Room for one more stream: the longest-cut one goes if need be. */
static int stream_make_room(void)
{
	size_t i, oldest = stream_count;

	if (stream_count < set.max_sessions)
		return 0;
	for (i = 0; i < stream_count; i++) {
		if (streams[i]->client_fd < 0 &&
		    (oldest == stream_count ||
		     streams[i]->cut_since < streams[oldest]->cut_since))
			oldest = i;
	}
	if (oldest == stream_count)
		return -1;
	stream_free(oldest, "dropped for a new stream");
	return 0;
}

/* Bytes that came behind the first line belong to the stream. */
static int stream_input(struct stream *st, const unsigned char *data,
			size_t len)
{
	const char *error;

	if (relay_end_input(&st->end, data, len, &error) < 0) {
		relay_log(LOG_WARNING, "stream=%u peer=%s: %s", st->id,
			  st->peer, error);
		return -1;
	}
	return 0;
}

static void stream_new(struct hello *h, const unsigned char *rest,
		       size_t rest_len)
{
	struct relay_line ok = { .verb = RELAY_OK };
	char line[RELAY_LINE_MAX + 1];
	struct stream *st, **grown;
	size_t got = 0;

	if (stream_make_room() < 0) {
		refuse(h->fd, h->peer, "too many sessions, try later");
		return;
	}
	grown = realloc(streams, (stream_count + 1) * sizeof(*streams));
	st = calloc(1, sizeof(*st));
	if (grown != NULL)
		streams = grown;
	if (grown == NULL || st == NULL) {
		free(st);
		refuse(h->fd, h->peer, "out of memory");
		return;
	}
	while (got < sizeof(st->token)) {
		ssize_t n = getrandom(st->token + got,
				      sizeof(st->token) - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			break;
	}
	st->sshd_fd = got == sizeof(st->token) ? sshd_connect() : -1;
	if (st->sshd_fd < 0) {
		free(st);
		refuse(h->fd, h->peer, "sshd is not answering");
		return;
	}
	st->id = next_id++;
	st->client_fd = h->fd;
	snprintf(st->peer, sizeof(st->peer), "%s", h->peer);
	memcpy(ok.token, st->token, sizeof(ok.token));
	if (relay_end_resume(&st->end, 0, line,
			     relay_line_format(line, &ok)) < 0 ||
	    stream_input(st, rest, rest_len) < 0) {
		close(st->sshd_fd);
		relay_end_free(&st->end);
		free(st);
		refuse(h->fd, h->peer, "bad stream");
		return;
	}
	streams[stream_count++] = st;
	relay_log(LOG_INFO, "stream=%u peer=%s started", st->id, st->peer);
}

static void stream_resume(struct hello *h, const struct relay_line *l,
			  const unsigned char *rest, size_t rest_len)
{
	struct relay_line ok = { .verb = RELAY_OK };
	struct stream *st = stream_find(l->token);
	char line[RELAY_LINE_MAX + 1];
	size_t i;

	if (st == NULL) {
		refuse(h->fd, h->peer, "no such stream (expired?)");
		return;
	}
	if (st->client_fd >= 0)
		close(st->client_fd);	/* its cut was not seen yet */
	st->client_fd = h->fd;
	memcpy(ok.token, st->token, sizeof(ok.token));
	ok.received = st->end.received;
	if (relay_end_resume(&st->end, l->received, line,
			     relay_line_format(line, &ok)) < 0 ||
	    stream_input(st, rest, rest_len) < 0) {
		for (i = 0; streams[i] != st; i++)
			;
		st->client_fd = -1;
		refuse(h->fd, h->peer, "cannot resume at that offset");
		stream_free(i, "resume refused");
		return;
	}
	st->resumes++;
	relay_log(LOG_INFO, "stream=%u peer=%s resumed after %llds "
		  "at in=%llu out=%llu", st->id, h->peer,
		  (long long)(st->cut_since == 0 ? 0 : now() - st->cut_since),
		  (unsigned long long)st->end.received,
		  (unsigned long long)l->received);
	snprintf(st->peer, sizeof(st->peer), "%s", h->peer);
	st->cut_since = 0;
}

/* The ship's connection is gone: keep the stream for a resume. */
static void stream_cut(struct stream *st, const char *why)
{
	relay_log(LOG_INFO, "stream=%u peer=%s cut: %s", st->id, st->peer,
		  why);
	close(st->client_fd);
	st->client_fd = -1;
	st->cut_since = now();
}

/* --- first lines ---------------------------------------------------- */

static void hello_drop(size_t i)
{
	hellos[i] = hellos[--hello_count];
}

/* Reads what came; acts once the line is whole.  0: keep waiting. */
static int hello_read(struct hello *h)
{
	unsigned char buf[RELAY_LINE_MAX + RELAY_DATA_MAX];
	struct relay_line l;
	ssize_t n;
	char *lf;
	size_t line_len;

	/* Peek, so that frames behind the line are read only once. */
	n = recv(h->fd, buf, sizeof(buf), MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		close(h->fd);
		return 1;
	}
	lf = memchr(buf, '\n', (size_t)n);
	if (lf == NULL) {
		if ((size_t)n > RELAY_LINE_MAX) {
			refuse(h->fd, h->peer, "first line too long");
			return 1;
		}
		return 0;
	}
	line_len = (size_t)(lf - (char *)buf);
	if (line_len > RELAY_LINE_MAX) {
		refuse(h->fd, h->peer, "first line too long");
		return 1;
	}
	n = recv(h->fd, buf, sizeof(buf), 0);	/* what we peeked */
	if (n <= (ssize_t)line_len) {
		close(h->fd);
		return 1;
	}
	buf[line_len] = '\0';
	if (relay_line_parse((char *)buf, &l) < 0 ||
	    (l.verb != RELAY_NEW && l.verb != RELAY_RESUME)) {
		refuse(h->fd, h->peer, "not a shipmail-relay request");
		return 1;
	}
	if (l.verb == RELAY_NEW)
		stream_new(h, buf + line_len + 1, (size_t)n - line_len - 1);
	else
		stream_resume(h, &l, buf + line_len + 1,
			      (size_t)n - line_len - 1);
	return 1;
}

static void accept_one(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct hello *h;
	int one = 1;

	if (fd < 0)
		return;
	if (hello_count == HELLO_MAX) {
		close(fd);
		relay_log(LOG_WARNING, "too many connections without a "
			  "first line: one refused");
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	h = &hellos[hello_count++];
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->since = now();
	peer_name(fd, h->peer, sizeof(h->peer));
}

/* --- the loop ------------------------------------------------------- */

/* One stream's turn after poll: 0, or -1 when it is over (why set). */
static int stream_step(struct stream *st, short client_ev, short sshd_ev,
		       const char **why)
{
	unsigned char buf[RELAY_DATA_MAX];
	ssize_t n;

	if (st->client_fd >= 0 && (client_ev & (POLLIN | POLLHUP | POLLERR))) {
		n = read(st->client_fd, buf, sizeof(buf));
		if (n > 0 && stream_input(st, buf, (size_t)n) < 0) {
			*why = "malformed frames from the ship";
			return -1;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			if (st->end.peer_ended || st->sshd_eof) {
				*why = "closed";
				return -1;
			}
			stream_cut(st, n == 0 ? "closed" : strerror(errno));
		}
	}
	if (st->sshd_fd >= 0 && (sshd_ev & (POLLIN | POLLHUP | POLLERR))) {
		n = read(st->sshd_fd, buf, sizeof(buf));
		if (n > 0 && relay_end_send(&st->end, buf, (size_t)n) < 0) {
			*why = "out of memory";
			return -1;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			st->sshd_eof = 1;
			st->sshd_eof_at = now();
			(void)relay_end_finish(&st->end);
		}
	}
	if (st->end.sink.len > 0 && !st->sshd_shut &&
	    relay_queue_write(&st->end.sink, st->sshd_fd) < 0) {
		st->end.sink.len = 0;
		st->sshd_shut = 1;
	}
	if (st->end.peer_ended && st->end.sink.len == 0 && !st->sshd_shut) {
		(void)shutdown(st->sshd_fd, SHUT_WR);
		st->sshd_shut = 1;
	}
	if (st->client_fd >= 0 && relay_end_write(&st->end, st->client_fd) < 0)
		stream_cut(st, strerror(errno));
	if (st->end.peer_ended && relay_end_all_acked(&st->end)) {
		*why = "closed";
		return -1;
	}
	/* Nobody will come for sshd's last words. */
	if (st->client_fd < 0 && st->sshd_eof) {
		*why = "sshd closed while the ship was away";
		return -1;
	}
	/* A peer that never ends (sshd's login grace time ran out, say)
	   does not keep its place. */
	if (st->sshd_eof && now() - st->sshd_eof_at >= SSHD_GONE_SECS) {
		*why = "sshd closed, the ship did not end";
		return -1;
	}
	if (st->client_fd < 0 && now() - st->cut_since >= (time_t)set.hold) {
		*why = "not resumed in time";
		return -1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void relay_loop(int listen_fd)
{
	struct pollfd *pfd = NULL;
	size_t alloc = 0;

	while (!stopping) {
		size_t i, n = 1, need = 1 + HELLO_MAX + 2 * stream_count;

		if (need > alloc) {
			struct pollfd *grown = realloc(pfd, need * sizeof(*pfd));

			if (grown == NULL) {
				relay_log(LOG_ERR, "out of memory");
				break;
			}
			pfd = grown;
			alloc = need;
		}
		pfd[0] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		for (i = 0; i < hello_count; i++)
			pfd[n++] = (struct pollfd){ .fd = hellos[i].fd,
						    .events = POLLIN };
		for (i = 0; i < stream_count; i++) {
			struct stream *st = streams[i];
			struct relay_end *e = &st->end;

			pfd[n] = (struct pollfd){ .fd = st->client_fd };
			if (e->sink.len < RELAY_QUEUE_MAX)
				pfd[n].events |= POLLIN;
			if (e->wire.len > 0)
				pfd[n].events |= POLLOUT;
			n++;
			pfd[n] = (struct pollfd){ .fd = st->sshd_eof ? -1 :
						  st->sshd_fd };
			if (e->unacked.len < RELAY_QUEUE_MAX)
				pfd[n].events |= POLLIN;
			if (e->sink.len > 0 && !st->sshd_shut)
				pfd[n].events |= POLLOUT;
			n++;
		}
		if (poll(pfd, n, 1000) < 0 && errno != EINTR) {
			relay_log(LOG_ERR, "poll: %m");
			break;
		}

		/* Streams first: their slots follow the hellos'. */
		for (i = stream_count; i-- > 0;) {
			struct pollfd *p = &pfd[1 + hello_count + 2 * i];
			const char *why = NULL;

			if (stream_step(streams[i], p[0].revents,
					p[1].revents, &why) < 0)
				stream_free(i, why);
		}
		for (i = hello_count; i-- > 0;) {
			if ((pfd[1 + i].revents & (POLLIN | POLLHUP |
						   POLLERR)) != 0 &&
			    hello_read(&hellos[i]))
				hello_drop(i);
			else if (now() - hellos[i].since >= HELLO_TIMEOUT) {
				refuse(hellos[i].fd, hellos[i].peer,
				       "no first line in time");
				hello_drop(i);
			}
		}
		if (pfd[0].revents & POLLIN)
			accept_one(listen_fd);
	}
	free(pfd);
}

static void usage(void)
{
	fprintf(stderr, "usage: shipmail-relay [-c config]\n");
	exit(EX_USAGE);
}

int main(int argc, char **argv)
{
	const char *config = SHIPMAIL_CONFIG_DEFAULT;
	struct sigaction sa = { .sa_handler = on_signal };
	int opt, fd;

	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			config = optarg;
		else
			usage();
	}
	if (optind != argc)
		usage();
	settings_read(config);
	openlog("shipmail-relay", LOG_PID | LOG_PERROR, LOG_MAIL);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fd = listen_on(set.listen_host, set.listen_port);
	if (fd < 0)
		return EX_OSERR;
	relay_log(LOG_INFO, "listening on %s:%s for sshd at %s:%s, "
		  "hold=%us max_sessions=%u", set.listen_host,
		  set.listen_port, set.sshd_host, set.sshd_port, set.hold,
		  set.max_sessions);
	relay_loop(fd);
	while (stream_count > 0)
		stream_free(stream_count - 1, "relay stopped");
	while (hello_count > 0) {
		close(hellos[hello_count - 1].fd);
		hello_count--;
	}
	free(streams);
	close(fd);
	free(set.listen_host);
	free(set.listen_port);
	free(set.sshd_host);
	free(set.sshd_port);
	relay_log(LOG_INFO, "stopped");
	return stopping ? 0 : EX_SOFTWARE;
}
