/*
 * shipmail-linkemu: a userspace TCP proxy that behaves like the ship's
 * satellite link.  It listens on 127.0.0.1:PORT and forwards every
 * connection to 127.0.0.1:TARGET through an emulated link:
 *
 *  - a bit rate per direction, shared by all connections of the link:
 *    bytes leave at that rate (serialization delay), in slices of about
 *    20 ms, so a reader sees a steady trickle rather than bursts;
 *  - a one-way delay added after serialization;
 *  - cuts: every T seconds, after N bytes delivered, at seeded random
 *    intervals, or on command.  A cut resets every connection (both
 *    sides see a reset) and drops what was in flight; with --down, new
 *    connections are reset for a while after each cut;
 *  - a blackhole mode: connections are accepted and kept, nothing moves
 *    in either direction until it is switched off;
 *  - byte counts per direction, connection and cut counts.
 *
 * A unix control socket takes one command per connection (see
 * ctl_dispatch()); the same binary is the client (--ctl).  SIGTERM or
 * SIGINT ends it and writes the statistics to --stats and stderr;
 * SIGUSR1 prints them to stderr.  One process, poll() based.
 *
 * Does not emulate: packet loss short of a cut, reordering, MTU.
 *
 * BUGS: XXX connection setup costs no round trip: connect() succeeds at
 * once and a refused target is seen at once (a real link takes 1.4 s
 * for the handshake, and a dead one leaves the client's SYN unanswered
 * until its own timeout); clients that time their connects see them too
 * early here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Slice of serialization time read at once when the rate is limited. */
#define SLICE_SECS 0.02
/* How far ahead of the serializer the proxy may read. */
#define BACKLOG_SECS 0.05
/* Read size when the rate is unlimited. */
#define UNLIMITED_READ 16384
/* Bytes queued per direction of a connection before reading stops. */
#define MAX_QUEUED (256 * 1024)
#define MAX_CTL_CLIENTS 16
#define CTL_LINE_MAX 256

enum dir { UP = 0, DOWN = 1 };	/* UP: client to target */

struct chunk {
	struct chunk *next;
	double due;		/* when it has all reached the far end */
	size_t len, off;
	bool eof;		/* the sender closed: shut the far end down */
	unsigned char data[];
};

struct flow {
	struct chunk *head, *tail;
	size_t queued;
	bool eof_read;		/* nothing more to read from the source */
	bool eof_sent;		/* far end shut down for writing */
};

struct conn {
	struct conn *next;
	unsigned int id;
	int fd[2];		/* [UP] the client, [DOWN] the target */
	bool connecting;
	struct flow flow[2];
	uint64_t bytes[2];
};

struct ctl_client {
	int fd;
	size_t len;
	char buf[CTL_LINE_MAX];
};

struct link {
	const char *name;
	int listen_port, target_port;
	int listen_fd, ctl_fd;
	const char *ctl_path, *stats_path, *pid_path;

	double rate[2];		/* bytes per second; 0 is unlimited */
	double delay;		/* seconds, one way */
	double next_free[2];	/* when the serializer is free again */
	bool blackhole;

	double cut_every, cut_min, cut_max, down;
	uint64_t cut_bytes, delivered_since_cut;
	uint64_t seed;
	double next_cut, down_until, started;

	struct conn *conns;
	unsigned int next_id;
	struct ctl_client ctl[MAX_CTL_CLIENTS];

	uint64_t bytes[2], connections, refused, cuts, conns_cut;
};

/* One socket address seen as what it is and as what the calls take. */
union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_un un;
};

static volatile sig_atomic_t got_stop, got_stats;
static bool verbose;

static void __attribute__((format(printf, 2, 3)))
logmsg(const struct link *l, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "linkemu %s: ", l->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("shipmail-linkemu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: a small generator whose sequence depends on the seed only,
 * so that a run with --seed can be repeated. */
static uint64_t
rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
rand_between(uint64_t *state, double min, double max)
{
	double unit = (rand_next(state) >> 11) * (1.0 / 9007199254740992.0);

	return min + (max - min) * unit;
}

/* --- option parsing --- */

/* A duration: a number with an optional unit ms, s or m; a bare number
 * is in unit_secs.  Returns -1 when it is not one. */
static double
duration_value(const char *arg, double unit_secs)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || v < 0 || !isfinite(v))
		return -1;
	if (strcmp(end, "ms") == 0)
		return v / 1000.0;
	if (strcmp(end, "s") == 0)
		return v;
	if (strcmp(end, "m") == 0)
		return v * 60.0;
	return *end == '\0' ? v * unit_secs : -1;
}

static double
parse_duration(const char *arg, double unit_secs, const char *opt)
{
	double v = duration_value(arg, unit_secs);

	if (v < 0)
		die("%s: not a duration (N, Nms, Ns, Nm): %s", opt, arg);
	return v;
}

/* A decimal count; false when it is not one. */
static bool
count_value(const char *arg, uint64_t *value_r)
{
	char *end;

	errno = 0;
	*value_r = strtoull(arg, &end, 10);
	return errno == 0 && end != arg && *end == '\0' && arg[0] != '-';
}

static uint64_t
parse_count(const char *arg, const char *opt)
{
	uint64_t v;

	if (!count_value(arg, &v))
		die("%s: not a number: %s", opt, arg);
	return v;
}

static int
parse_port(const char *arg, const char *opt)
{
	uint64_t v = parse_count(arg, opt);

	if (v == 0 || v > 65535)
		die("%s: not a port: %s", opt, arg);
	return (int)v;
}

/* A rate in bit/s, kept in bytes per second. */
static double
parse_rate(const char *arg, const char *opt)
{
	return parse_count(arg, opt) / 8.0;
}

static void
parse_cut_random(struct link *l, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char min[64];

	if (colon == NULL || (size_t)(colon - arg) >= sizeof(min))
		die("--cut-random: want MIN:MAX, got %s", arg);
	memcpy(min, arg, colon - arg);
	min[colon - arg] = '\0';
	l->cut_min = parse_duration(min, 1.0, "--cut-random");
	l->cut_max = parse_duration(colon + 1, 1.0, "--cut-random");
	if (l->cut_max < l->cut_min || l->cut_max <= 0)
		die("--cut-random: MAX must be above MIN and 0: %s", arg);
}

static void
usage(void)
{
	fputs("usage: shipmail-linkemu --listen PORT --target PORT [options]\n"
	      "  --rate BITS          bit rate each way (default 2400, 0: unlimited)\n"
	      "  --rate-up BITS       client to target\n"
	      "  --rate-down BITS     target to client\n"
	      "  --delay DUR          one-way delay (default 700ms; bare: ms)\n"
	      "  --cut-every DUR      cut all connections every DUR (bare: s)\n"
	      "  --cut-bytes N        cut after N bytes delivered since the last cut\n"
	      "  --cut-random MIN:MAX cut at random intervals (seconds)\n"
	      "  --seed N             seed for --cut-random (default 1)\n"
	      "  --down DUR           reset new connections for DUR after a cut\n"
	      "  --blackhole          start with the link silent\n"
	      "  --control PATH       unix control socket\n"
	      "  --stats PATH         write statistics here at exit\n"
	      "  --pidfile PATH       --name NAME (for logs)  --verbose\n"
	      "usage: shipmail-linkemu --control PATH --ctl COMMAND [ARG...]\n"
	      "  commands: stats, cut, blackhole on|off, rate BITS [BITS_DOWN],\n"
	      "            delay DUR, cut-bytes N, quit\n", stderr);
	exit(2);
}

/* --- statistics --- */

static void
stats_write(const struct link *l, FILE *f)
{
	unsigned int active = 0;
	const struct conn *c;

	for (c = l->conns; c != NULL; c = c->next)
		active++;
	fprintf(f, "name=%s\nlisten=%d\ntarget=%d\n"
		"rate_up=%.0f\nrate_down=%.0f\ndelay_ms=%.0f\nblackhole=%d\n"
		"up_bytes=%llu\ndown_bytes=%llu\nconnections=%llu\nactive=%u\n"
		"refused=%llu\ncuts=%llu\nconns_cut=%llu\nuptime=%.3f\n",
		l->name, l->listen_port, l->target_port,
		l->rate[UP] * 8, l->rate[DOWN] * 8, l->delay * 1000,
		l->blackhole ? 1 : 0,
		(unsigned long long)l->bytes[UP],
		(unsigned long long)l->bytes[DOWN],
		(unsigned long long)l->connections, active,
		(unsigned long long)l->refused,
		(unsigned long long)l->cuts,
		(unsigned long long)l->conns_cut, now_secs() - l->started);
}

static void
stats_log(const struct link *l)
{
	logmsg(l, "stats up_bytes=%llu down_bytes=%llu connections=%llu "
	       "cuts=%llu conns_cut=%llu",
	       (unsigned long long)l->bytes[UP],
	       (unsigned long long)l->bytes[DOWN],
	       (unsigned long long)l->connections,
	       (unsigned long long)l->cuts,
	       (unsigned long long)l->conns_cut);
}

static void
stats_dump_file(const struct link *l)
{
	char tmp[4096];
	FILE *f;

	if (l->stats_path == NULL)
		return;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", l->stats_path) >= sizeof(tmp))
		return;
	if ((f = fopen(tmp, "w")) == NULL) {
		logmsg(l, "stats %s: %s", tmp, strerror(errno));
		return;
	}
	stats_write(l, f);
	if (fclose(f) != 0 || rename(tmp, l->stats_path) != 0)
		logmsg(l, "stats %s: %s", l->stats_path, strerror(errno));
}

/* --- connections --- */

static void
flow_clear(struct flow *fl)
{
	struct chunk *ch, *next;

	for (ch = fl->head; ch != NULL; ch = next) {
		next = ch->next;
		free(ch);
	}
	fl->head = fl->tail = NULL;
	fl->queued = 0;
}

/* Closing with a zero linger time sends a reset: the peer sees the
 * connection fail rather than end cleanly, as when a link drops. */
static void
close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void
conn_free(struct link *l, struct conn *c, bool reset, const char *why)
{
	struct conn **pp;
	int i;

	for (pp = &l->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (verbose || reset)
		logmsg(l, "conn=%u closed reason=%s up=%llu down=%llu",
		       c->id, why, (unsigned long long)c->bytes[UP],
		       (unsigned long long)c->bytes[DOWN]);
	for (i = 0; i < 2; i++) {
		flow_clear(&c->flow[i]);
		if (reset)
			close_reset(c->fd[i]);
		else if (c->fd[i] >= 0)
			close(c->fd[i]);
	}
	free(c);
}

static int
target_connect(const struct link *l)
{
	union sockaddr_any sa = { .in.sin_family = AF_INET };
	int fd;

	sa.in.sin_port = htons(l->target_port);
	sa.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, &sa.sa, sizeof(sa.in)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
conn_accept_one(struct link *l, int cfd, double now)
{
	struct conn *c;
	int one = 1;

	l->connections++;
	if (now < l->down_until) {
		l->refused++;
		logmsg(l, "connection reset: link down after a cut");
		close_reset(cfd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		logmsg(l, "connection reset: out of memory");
		close_reset(cfd);
		return;
	}
	c->fd[UP] = cfd;
	c->fd[DOWN] = target_connect(l);
	if (c->fd[DOWN] == -1) {
		l->refused++;
		logmsg(l, "connection reset: target %d: %s",
		       l->target_port, strerror(errno));
		close_reset(cfd);
		free(c);
		return;
	}

	/* The emulator does its own pacing; Nagle would only add delay. */
	(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(c->fd[DOWN], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->connecting = true;
	c->id = ++l->next_id;
	c->next = l->conns;
	l->conns = c;
	if (verbose)
		logmsg(l, "conn=%u open", c->id);
}

static void
conn_accept(struct link *l, double now)
{
	int cfd, n;

	for (n = 0; n < 64; n++) {
		cfd = accept4(l->listen_fd, NULL, NULL,
			      SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				logmsg(l, "accept: %s", strerror(errno));
			return;
		}
		conn_accept_one(l, cfd, now);
	}
}

static void
conn_connected(struct link *l, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd[DOWN], SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		l->refused++;
		logmsg(l, "conn=%u target %d: %s", c->id, l->target_port,
		       strerror(err));
		conn_free(l, c, true, "refused");
		return;
	}
	c->connecting = false;
}

/* --- the link itself --- */

static void
link_schedule_cut(struct link *l, double from)
{
	if (l->cut_max > 0)
		l->next_cut = from + rand_between(&l->seed, l->cut_min, l->cut_max);
	else if (l->cut_every > 0)
		l->next_cut = from + l->cut_every;
	else
		l->next_cut = 0;
}

/* Drops every connection and whatever was on the way. */
static unsigned int
link_cut(struct link *l, double now, const char *why)
{
	unsigned int n = 0;

	while (l->conns != NULL) {
		conn_free(l, l->conns, true, "cut");
		n++;
	}
	l->cuts++;
	l->conns_cut += n;
	l->delivered_since_cut = 0;
	l->next_free[UP] = l->next_free[DOWN] = now;
	if (l->down > 0)
		l->down_until = now + l->down;
	link_schedule_cut(l, now);
	logmsg(l, "cut by %s: %u connections reset", why, n);
	return n;
}

/* Whether a direction of a connection may take more bytes now. */
static bool
flow_can_read(const struct link *l, const struct conn *c, enum dir d,
	      double now)
{
	const struct flow *fl = &c->flow[d];

	if (l->blackhole || c->connecting || fl->eof_read)
		return false;
	if (fl->queued >= MAX_QUEUED)
		return false;
	return l->rate[d] == 0 || l->next_free[d] <= now + BACKLOG_SECS;
}

static size_t
flow_read_size(const struct link *l, enum dir d)
{
	double n;

	if (l->rate[d] == 0)
		return UNLIMITED_READ;
	n = l->rate[d] * SLICE_SECS;
	if (n < 1)
		return 1;
	return n > UNLIMITED_READ ? UNLIMITED_READ : (size_t)n;
}

static void
flow_append(struct flow *fl, struct chunk *ch)
{
	if (fl->tail != NULL)
		fl->tail->next = ch;
	else
		fl->head = ch;
	fl->tail = ch;
	fl->queued += ch->len;
}

/* Puts LEN bytes (or the end of the stream) on the serializer: they
 * leave when it is free, at the rate, and arrive one delay later. */
static void
flow_enqueue(struct link *l, struct conn *c, enum dir d, struct chunk *ch,
	     double now)
{
	double start = l->next_free[d] > now ? l->next_free[d] : now;
	double finish = start;

	if (l->rate[d] > 0)
		finish += ch->len / l->rate[d];
	l->next_free[d] = finish;
	ch->due = finish + l->delay;
	flow_append(&c->flow[d], ch);
}

/* Returns false when the connection was closed. */
static bool
flow_read(struct link *l, struct conn *c, enum dir d, double now)
{
	size_t want = flow_read_size(l, d);
	struct chunk *ch = malloc(sizeof(*ch) + want);
	ssize_t n;

	if (ch == NULL) {
		logmsg(l, "conn=%u out of memory", c->id);
		conn_free(l, c, true, "nomem");
		return false;
	}
	n = read(c->fd[d], ch->data, want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		free(ch);
		return true;
	}
	if (n == -1) {
		free(ch);
		conn_free(l, c, true, d == UP ? "client-error" : "target-error");
		return false;
	}

	/* A short read must not keep a full-size buffer queued for the
	 * whole delay: a peer writing a byte at a time would pin 16 KB per
	 * byte. */
	if ((size_t)n < want) {
		struct chunk *shrunk = realloc(ch, sizeof(*ch) + n);

		if (shrunk != NULL)
			ch = shrunk;
	}
	ch->next = NULL;
	ch->len = (size_t)n;
	ch->off = 0;
	ch->eof = n == 0;
	if (n == 0)
		c->flow[d].eof_read = true;
	flow_enqueue(l, c, d, ch, now);
	return true;
}

/* How many bytes may be delivered before a --cut-bytes cut. */
static size_t
link_byte_budget(const struct link *l, size_t want)
{
	uint64_t left;

	if (l->cut_bytes == 0)
		return want;
	left = l->cut_bytes - l->delivered_since_cut;
	return left < want ? (size_t)left : want;
}

/* Writes what is due.  Returns false when the connection was closed. */
static bool
flow_write(struct link *l, struct conn *c, enum dir d, double now)
{
	struct flow *fl = &c->flow[d];
	int to = c->fd[1 - d];

	while (fl->head != NULL && fl->head->due <= now) {
		struct chunk *ch = fl->head;
		size_t len;
		ssize_t n;

		if (ch->eof) {
			(void)shutdown(to, SHUT_WR);
			fl->eof_sent = true;
		} else {
			len = link_byte_budget(l, ch->len - ch->off);
			n = send(to, ch->data + ch->off, len, MSG_NOSIGNAL);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return true;
			if (n == -1) {
				conn_free(l, c, true, d == UP ? "target-error" : "client-error");
				return false;
			}
			ch->off += n;
			fl->queued -= n;
			c->bytes[d] += n;
			l->bytes[d] += n;
			l->delivered_since_cut += n;
			if (l->cut_bytes > 0 && l->delivered_since_cut >= l->cut_bytes) {
				link_cut(l, now, "bytes");
				return false;
			}
			if (ch->off < ch->len)
				return true;
		}
		fl->head = ch->next;
		if (fl->head == NULL)
			fl->tail = NULL;
		free(ch);
	}
	if (c->flow[UP].eof_sent && c->flow[DOWN].eof_sent) {
		conn_free(l, c, false, "eof");
		return false;
	}
	return true;
}

/* --- control socket --- */

static int
ctl_listen(const char *path)
{
	union sockaddr_any sa = { .un.sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.un.sun_path))
		die("--control: path too long: %s", path);
	strcpy(sa.un.sun_path, path);
	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("control socket: %s", strerror(errno));
	if (bind(fd, &sa.sa, sizeof(sa.un)) == -1 ||
	    listen(fd, 16) == -1)
		die("control socket %s: %s", path, strerror(errno));
	return fd;
}

static void __attribute__((format(printf, 2, 3)))
ctl_reply(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)send(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1,
			   MSG_NOSIGNAL);
}

static bool
ctl_set_rate(struct link *l, const char *up, const char *down)
{
	char *end;
	double r[2];
	int i;
	const char *args[2] = { up, down != NULL ? down : up };

	for (i = 0; i < 2; i++) {
		errno = 0;
		r[i] = strtod(args[i], &end);
		if (errno != 0 || *end != '\0' || end == args[i] || r[i] < 0)
			return false;
	}
	l->rate[UP] = r[UP] / 8.0;
	l->rate[DOWN] = r[DOWN] / 8.0;
	return true;
}

/* One command per control connection; the answer ends with the
 * connection. */
static void
ctl_dispatch(struct link *l, int fd, char *line, double now)
{
	char *argv[4] = { NULL, NULL, NULL, NULL };
	char *save = NULL, *tok;
	int argc = 0;
	double delay;

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL && argc < 4;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	if (argc == 0) {
		ctl_reply(fd, "error: empty command\n");
	} else if (strcmp(argv[0], "stats") == 0) {
		FILE *f = fdopen(dup(fd), "w");

		if (f != NULL) {
			stats_write(l, f);
			fclose(f);
		}
	} else if (strcmp(argv[0], "cut") == 0) {
		ctl_reply(fd, "ok cut connections=%u\n", link_cut(l, now, "command"));
	} else if (strcmp(argv[0], "blackhole") == 0 && argc == 2 &&
		   (strcmp(argv[1], "on") == 0 || strcmp(argv[1], "off") == 0)) {
		l->blackhole = strcmp(argv[1], "on") == 0;
		logmsg(l, "blackhole %s", argv[1]);
		ctl_reply(fd, "ok blackhole %s\n", argv[1]);
	} else if (strcmp(argv[0], "rate") == 0 && argc >= 2 &&
		   ctl_set_rate(l, argv[1], argv[2])) {
		logmsg(l, "rate up=%.0f down=%.0f", l->rate[UP] * 8, l->rate[DOWN] * 8);
		ctl_reply(fd, "ok rate up=%.0f down=%.0f\n",
			  l->rate[UP] * 8, l->rate[DOWN] * 8);
	} else if (strcmp(argv[0], "delay") == 0 && argc == 2 &&
		   (delay = duration_value(argv[1], 0.001)) >= 0) {
		l->delay = delay;
		logmsg(l, "delay_ms=%.0f", l->delay * 1000);
		ctl_reply(fd, "ok delay_ms=%.0f\n", l->delay * 1000);
	} else if (strcmp(argv[0], "cut-bytes") == 0 && argc == 2 &&
		   count_value(argv[1], &l->cut_bytes)) {
		l->delivered_since_cut = 0;
		ctl_reply(fd, "ok cut-bytes=%llu\n", (unsigned long long)l->cut_bytes);
	} else if (strcmp(argv[0], "quit") == 0) {
		got_stop = 1;
		ctl_reply(fd, "ok quit\n");
	} else {
		ctl_reply(fd, "error: unknown command or bad arguments: %s\n",
			  argv[0]);
	}
}

static void
ctl_accept(struct link *l)
{
	int fd, i;

	while ((fd = accept4(l->ctl_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		for (i = 0; i < MAX_CTL_CLIENTS && l->ctl[i].fd >= 0; i++)
			;
		if (i == MAX_CTL_CLIENTS) {
			ctl_reply(fd, "error: too many control clients\n");
			close(fd);
			continue;
		}
		l->ctl[i].fd = fd;
		l->ctl[i].len = 0;
	}
}

static void
ctl_read(struct link *l, struct ctl_client *cc, double now)
{
	ssize_t n = read(cc->fd, cc->buf + cc->len, sizeof(cc->buf) - 1 - cc->len);
	char *nl;

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		cc->len += n;
	cc->buf[cc->len] = '\0';
	nl = strchr(cc->buf, '\n');
	if (nl == NULL && n > 0 && cc->len < sizeof(cc->buf) - 1)
		return;

	/* A line, the end of input or a full buffer: answer what came. */
	if (nl != NULL)
		*nl = '\0';
	if (n >= 0 && cc->len > 0) {
		/* Replies are small: a blocking write is fine and simple. */
		int fl = fcntl(cc->fd, F_GETFL);

		(void)fcntl(cc->fd, F_SETFL, fl & ~O_NONBLOCK);
		ctl_dispatch(l, cc->fd, cc->buf, now);
	}
	close(cc->fd);
	cc->fd = -1;
}

/* The client side: sends one command, prints the answer. */
static int
ctl_client(const char *path, int argc, char **argv)
{
	union sockaddr_any sa = { .un.sun_family = AF_UNIX };
	char buf[4096], line[CTL_LINE_MAX];
	size_t len = 0;
	ssize_t n;
	int fd, i, rc = 0;

	if (path == NULL || argc == 0)
		usage();
	for (i = 0; i < argc; i++) {
		int w = snprintf(line + len, sizeof(line) - len, "%s%s",
				 i > 0 ? " " : "", argv[i]);

		if (w < 0 || (size_t)w >= sizeof(line) - len - 1)
			die("command too long");
		len += w;
	}
	line[len++] = '\n';
	if (strlen(path) >= sizeof(sa.un.sun_path))
		die("--control: path too long: %s", path);
	strcpy(sa.un.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, &sa.sa, sizeof(sa.un)) == -1)
		die("control %s: %s", path, strerror(errno));
	if (write(fd, line, len) != (ssize_t)len)
		die("control %s: %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (strncmp(buf, "error", 5) == 0)
			rc = 1;
		fwrite(buf, 1, n, stdout);
	}
	close(fd);
	return rc;
}

/* --- the event loop --- */

struct pollset {
	struct pollfd *fds;
	size_t n, cap;
};

static size_t
pollset_add(struct pollset *ps, int fd, short events)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;
		struct pollfd *p = realloc(ps->fds, cap * sizeof(*p));

		if (p == NULL)
			die("out of memory");
		ps->fds = p;
		ps->cap = cap;
	}

	/* A socket with nothing wanted is left out: poll would report its
	 * hangup again and again. */
	ps->fds[ps->n].fd = events != 0 ? fd : -1;
	ps->fds[ps->n].events = events;
	ps->fds[ps->n].revents = 0;
	return ps->n++;
}

static double
earliest(double a, double b)
{
	return (a == 0 || (b != 0 && b < a)) ? b : a;
}

/* The poll set for one connection, in the order loop_handle_conn()
 * reads it back; *wake is lowered to the next moment it needs. */
static void
loop_add_conn(struct link *l, struct conn *c, struct pollset *ps,
	      double now, double *wake)
{
	short ev[2] = { 0, 0 };
	int d;

	if (c->connecting) {
		pollset_add(ps, c->fd[UP], 0);
		pollset_add(ps, c->fd[DOWN], POLLOUT);
		return;
	}
	for (d = UP; d <= DOWN; d++) {
		const struct flow *fl = &c->flow[d];

		if (flow_can_read(l, c, d, now))
			ev[d] |= POLLIN;
		else if (!l->blackhole && !fl->eof_read && fl->queued < MAX_QUEUED)
			*wake = earliest(*wake, l->next_free[d] - BACKLOG_SECS);
		if (fl->head != NULL && !l->blackhole) {
			if (fl->head->due <= now)
				ev[1 - d] |= POLLOUT;
			else
				*wake = earliest(*wake, fl->head->due);
		}
	}
	pollset_add(ps, c->fd[UP], ev[UP]);
	pollset_add(ps, c->fd[DOWN], ev[DOWN]);
}

static void
loop_handle_conn(struct link *l, struct conn *c, const struct pollfd *p,
		 double now)
{
	int d;

	if (c->connecting) {
		if (p[DOWN].revents != 0)
			conn_connected(l, c);
		return;
	}
	for (d = UP; d <= DOWN; d++) {
		if ((p[d].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    flow_can_read(l, c, d, now) && !flow_read(l, c, d, now))
			return;
	}
	for (d = UP; d <= DOWN; d++) {
		if (p[1 - d].revents & (POLLOUT | POLLHUP | POLLERR)) {
			if (!flow_write(l, c, d, now))
				return;
		}
	}
}

static void
loop_timeout(double wake, double now, struct timespec *ts)
{
	double secs;

	if (wake == 0)
		secs = 1.0;
	else
		secs = wake - now;
	if (secs < 0)
		secs = 0;
	if (secs > 1.0)
		secs = 1.0;
	ts->tv_sec = (time_t)secs;
	ts->tv_nsec = (long)((secs - ts->tv_sec) * 1e9);
}

static void
loop_once(struct link *l, struct pollset *ps, const sigset_t *unblocked)
{
	struct conn **order = NULL, *c;
	size_t nconn = 0, i, base;
	uint64_t cuts;
	double now = now_secs(), wake = l->next_cut;
	struct timespec ts;

	if (l->next_cut != 0 && now >= l->next_cut) {
		link_cut(l, now, "timer");
		wake = l->next_cut;
	}
	ps->n = 0;
	pollset_add(ps, l->listen_fd, POLLIN);
	pollset_add(ps, l->ctl_fd, POLLIN);
	for (i = 0; i < MAX_CTL_CLIENTS; i++)
		pollset_add(ps, l->ctl[i].fd, l->ctl[i].fd >= 0 ? POLLIN : 0);
	for (c = l->conns; c != NULL; c = c->next)
		nconn++;
	if (nconn > 0 && (order = calloc(nconn, sizeof(*order))) == NULL)
		die("out of memory");
	for (i = 0, c = l->conns; c != NULL; c = c->next, i++) {
		order[i] = c;
		loop_add_conn(l, c, ps, now, &wake);
	}
	loop_timeout(wake, now, &ts);

	if (ppoll(ps->fds, ps->n, &ts, unblocked) == -1 && errno != EINTR)
		die("poll: %s", strerror(errno));
	now = now_secs();

	/* Connections first: a cut from the control socket frees them.  A
	 * cut by bytes while handling one frees the rest as well. */
	base = 2 + MAX_CTL_CLIENTS;
	cuts = l->cuts;
	for (i = 0; i < nconn && l->cuts == cuts; i++)
		loop_handle_conn(l, order[i], &ps->fds[base + 2 * i], now);
	free(order);
	for (i = 0; i < MAX_CTL_CLIENTS; i++)
		if (l->ctl[i].fd >= 0 && ps->fds[2 + i].revents != 0)
			ctl_read(l, &l->ctl[i], now);
	if (ps->fds[1].revents & POLLIN)
		ctl_accept(l);
	if (ps->fds[0].revents & POLLIN)
		conn_accept(l, now);
}

static int
listen_tcp(int port)
{
	union sockaddr_any sa = { .in.sin_family = AF_INET };
	int fd, one = 1;

	sa.in.sin_port = htons(port);
	sa.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &sa.sa, sizeof(sa.in)) == -1 ||
	    listen(fd, 128) == -1)
		die("listen on 127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_stats = 1;
	else
		got_stop = 1;
}

/* Signals are blocked except inside ppoll(), so none is lost between a
 * check of the flags and the wait. */
static void
signals_setup(sigset_t *unblocked)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, unblocked);
	sigdelset(unblocked, SIGTERM);
	sigdelset(unblocked, SIGINT);
	sigdelset(unblocked, SIGHUP);
	sigdelset(unblocked, SIGUSR1);
}

static void
write_pidfile(const char *path)
{
	FILE *f;

	if (path == NULL)
		return;
	if ((f = fopen(path, "w")) == NULL)
		die("pidfile %s: %s", path, strerror(errno));
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0)
		die("pidfile %s: %s", path, strerror(errno));
}

static void
link_run(struct link *l)
{
	struct pollset ps = { NULL, 0, 0 };
	sigset_t unblocked;
	int i;

	signals_setup(&unblocked);
	for (i = 0; i < MAX_CTL_CLIENTS; i++)
		l->ctl[i].fd = -1;
	l->listen_fd = listen_tcp(l->listen_port);

	/* The control socket appears last: once it exists, the link works. */
	l->ctl_fd = l->ctl_path != NULL ? ctl_listen(l->ctl_path) : -1;
	write_pidfile(l->pid_path);
	l->started = now_secs();
	l->next_free[UP] = l->next_free[DOWN] = l->started;
	link_schedule_cut(l, l->started);
	logmsg(l, "listening port=%d target=%d rate_up=%.0f rate_down=%.0f "
	       "delay_ms=%.0f", l->listen_port, l->target_port,
	       l->rate[UP] * 8, l->rate[DOWN] * 8, l->delay * 1000);

	while (!got_stop) {
		loop_once(l, &ps, &unblocked);
		if (got_stats) {
			got_stats = 0;
			stats_log(l);
		}
	}

	stats_dump_file(l);
	stats_log(l);
	while (l->conns != NULL)
		conn_free(l, l->conns, true, "exit");
	for (i = 0; i < MAX_CTL_CLIENTS; i++)
		if (l->ctl[i].fd >= 0)
			close(l->ctl[i].fd);
	close(l->listen_fd);
	if (l->ctl_fd >= 0) {
		close(l->ctl_fd);
		(void)unlink(l->ctl_path);
	}
	if (l->pid_path != NULL)
		(void)unlink(l->pid_path);
	free(ps.fds);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "target", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'r' },
		{ "rate-up", required_argument, NULL, 'U' },
		{ "rate-down", required_argument, NULL, 'D' },
		{ "delay", required_argument, NULL, 'd' },
		{ "cut-every", required_argument, NULL, 'e' },
		{ "cut-bytes", required_argument, NULL, 'b' },
		{ "cut-random", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'S' },
		{ "down", required_argument, NULL, 'w' },
		{ "blackhole", no_argument, NULL, 'B' },
		{ "control", required_argument, NULL, 'c' },
		{ "stats", required_argument, NULL, 's' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "ctl", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct link l;
	bool client = false;
	int opt;

	memset(&l, 0, sizeof(l));
	l.name = "link";
	l.rate[UP] = l.rate[DOWN] = 2400 / 8.0;
	l.delay = 0.7;
	l.seed = 1;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 'l': l.listen_port = parse_port(optarg, "--listen"); break;
		case 't': l.target_port = parse_port(optarg, "--target"); break;
		case 'r': l.rate[UP] = l.rate[DOWN] = parse_rate(optarg, "--rate"); break;
		case 'U': l.rate[UP] = parse_rate(optarg, "--rate-up"); break;
		case 'D': l.rate[DOWN] = parse_rate(optarg, "--rate-down"); break;
		case 'd': l.delay = parse_duration(optarg, 0.001, "--delay"); break;
		case 'e': l.cut_every = parse_duration(optarg, 1.0, "--cut-every"); break;
		case 'b': l.cut_bytes = parse_count(optarg, "--cut-bytes"); break;
		case 'R': parse_cut_random(&l, optarg); break;
		case 'S': l.seed = parse_count(optarg, "--seed"); break;
		case 'w': l.down = parse_duration(optarg, 1.0, "--down"); break;
		case 'B': l.blackhole = true; break;
		case 'c': l.ctl_path = optarg; break;
		case 's': l.stats_path = optarg; break;
		case 'p': l.pid_path = optarg; break;
		case 'n': l.name = optarg; break;
		case 'v': verbose = true; break;
		case 'C': client = true; break;
		default: usage();
		}
	}
	if (client)
		return ctl_client(l.ctl_path, argc - optind, argv + optind);
	if (optind != argc || l.listen_port == 0 || l.target_port == 0)
		usage();
	link_run(&l);
	return 0;
}
