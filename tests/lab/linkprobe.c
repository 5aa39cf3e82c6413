/*
 * shipmail-linkprobe: measures a link emulator from both of its ends.
 *
 * The probe listens on 127.0.0.1:TARGET (the emulator's target) and
 * connects to 127.0.0.1:VIA (the emulator), so that it holds both ends
 * of one connection and times them with one clock.  It prints key=value
 * lines on stdout.
 *
 *   measure (default): the one-way delay each way (median of --pings
 *     one-byte exchanges, the byte's own serialization included), then
 *     the rate each way (--bytes sent in one go; the rate is what the
 *     receiving end sees between its first and its last read).
 *   cut: sends --bytes (0: nothing) up and waits up to --timeout seconds
 *     for the connection to end; prints what arrived and how it ended.
 *
 * Does not: measure several connections sharing the link, or loss.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PINGS 64

struct probe {
	int via, target;
	long bytes;
	int pings;
	double timeout;
	int client, server;	/* the two ends of the connection */
};

/* One socket address seen as what it is and as what the calls take. */
union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
};

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("shipmail-linkprobe: ", stderr);
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

static int
listen_on(int port)
{
	union sockaddr_any sa = { .in.sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.in.sin_port = htons(port);
	sa.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd == -1 || bind(fd, &sa.sa, sizeof(sa.in)) == -1 ||
	    listen(fd, 4) == -1)
		die("listen: %s", strerror(errno));
	return fd;
}

static int
connect_to(int port)
{
	union sockaddr_any sa = { .in.sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.in.sin_port = htons(port);
	sa.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || connect(fd, &sa.sa, sizeof(sa.in)) == -1)
		die("connect to the emulator: %s", strerror(errno));
	return fd;
}

/* Waits until fd is readable; false on timeout. */
static bool
wait_readable(int fd, double secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, (int)(secs * 1000)) == 1;
}

static void
probe_connect(struct probe *p)
{
	int lfd = listen_on(p->target);

	p->client = connect_to(p->via);
	if (!wait_readable(lfd, p->timeout))
		die("%s", "the emulator did not connect to the target");
	p->server = accept(lfd, NULL, NULL);
	if (p->server == -1)
		die("accept: %s", strerror(errno));
	close(lfd);
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One byte from one end to the other; seconds, or -1 on failure. */
static double
ping_once(const struct probe *p, int from, int to)
{
	char c = 'p';
	double t0 = now_secs();

	if (write(from, &c, 1) != 1 || !wait_readable(to, p->timeout) ||
	    read(to, &c, 1) != 1)
		return -1;
	return now_secs() - t0;
}

static double
median_delay(const struct probe *p, int from, int to)
{
	double samples[MAX_PINGS];
	int i;

	for (i = 0; i < p->pings; i++) {
		samples[i] = ping_once(p, from, to);
		if (samples[i] < 0)
			die("%s", "a ping byte did not arrive");
	}
	qsort(samples, p->pings, sizeof(samples[0]), compare_double);
	return samples[p->pings / 2];
}

/* Sends p->bytes from one end and times their arrival at the other.
 * Returns bytes per second seen by the receiver. */
static double
rate_once(const struct probe *p, int from, int to)
{
	static char buf[65536];
	long sent = 0, got = 0, first_len = 0;
	double first = 0, last = 0, deadline = now_secs() + p->timeout;
	struct pollfd fds[2];
	ssize_t n;

	memset(buf, 'x', sizeof(buf));
	while (got < p->bytes) {
		fds[0] = (struct pollfd){ .fd = from, .events = sent < p->bytes ? POLLOUT : 0 };
		fds[1] = (struct pollfd){ .fd = to, .events = POLLIN };
		if (now_secs() > deadline)
			die("%s", "rate: timed out");
		if (poll(fds, 2, 1000) < 0)
			die("poll: %s", strerror(errno));
		if (fds[0].revents & POLLOUT) {
			long want = p->bytes - sent;

			n = write(from, buf, want < (long)sizeof(buf) ? (size_t)want : sizeof(buf));
			if (n < 0)
				die("rate: write: %s", strerror(errno));
			sent += n;
		}
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(to, buf, sizeof(buf));
			if (n <= 0)
				die("%s", "rate: connection ended");
			if (got == 0) {
				first = now_secs();
				first_len = n;
			}
			got += n;
			last = now_secs();
		}
	}
	if (last <= first)
		return 0;
	return (got - first_len) / (last - first);
}

static void
probe_measure(struct probe *p)
{
	double up, down;

	probe_connect(p);
	up = median_delay(p, p->client, p->server);
	down = median_delay(p, p->server, p->client);
	printf("delay_up_ms=%.1f\ndelay_down_ms=%.1f\n", up * 1000, down * 1000);
	fflush(stdout);
	printf("rate_up_bps=%.0f\n", rate_once(p, p->client, p->server) * 8);
	fflush(stdout);
	printf("rate_down_bps=%.0f\n", rate_once(p, p->server, p->client) * 8);
	printf("bytes=%ld\n", p->bytes);
}

/* Sends bytes up and reads both ends until the connection ends. */
static void
probe_cut(struct probe *p)
{
	static char buf[16384];
	long sent = 0, got = 0;
	double t0, deadline;
	const char *how = "timeout";
	struct pollfd fds[2];
	ssize_t n;

	probe_connect(p);
	printf("connected=1\n");
	fflush(stdout);
	t0 = now_secs();
	deadline = t0 + p->timeout;
	memset(buf, 'c', sizeof(buf));
	while (now_secs() < deadline) {
		fds[0] = (struct pollfd){ .fd = p->client,
			.events = POLLIN | (sent < p->bytes ? POLLOUT : 0) };
		fds[1] = (struct pollfd){ .fd = p->server, .events = POLLIN };
		if (poll(fds, 2, 100) < 0)
			break;
		if (fds[0].revents & POLLOUT) {
			long want = p->bytes - sent;
			size_t chunk = want < (long)sizeof(buf) ?
				(size_t)want : sizeof(buf);

			n = send(p->client, buf, chunk, MSG_NOSIGNAL);
			if (n < 0) {
				how = "client-write-failed";
				break;
			}
			sent += n;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(p->client, buf, sizeof(buf));
			if (n <= 0) {
				how = n == 0 ? "client-eof" : "client-reset";
				break;
			}
		}
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(p->server, buf, sizeof(buf));
			if (n <= 0) {
				how = n == 0 ? "server-eof" : "server-reset";
				break;
			}
			got += n;
		}
	}
	printf("sent=%ld\nreceived=%ld\nended=%s\nelapsed_ms=%.0f\n",
	       sent, got, how, (now_secs() - t0) * 1000);
}

static long
parse_number(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 0)
		die("not a number: %s", arg);
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "via", required_argument, NULL, 'v' },
		{ "target", required_argument, NULL, 't' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "pings", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	struct probe p = { .bytes = 3000, .pings = 5, .timeout = 30 };
	const char *mode = "measure";
	long secs;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'v': p.via = (int)parse_number(optarg); break;
		case 't': p.target = (int)parse_number(optarg); break;
		case 'b': p.bytes = parse_number(optarg); break;
		case 'p': p.pings = (int)parse_number(optarg); break;
		case 'T': secs = parse_number(optarg); p.timeout = secs; break;
		default:
			fputs("usage: shipmail-linkprobe --via PORT --target PORT "
			      "[--bytes N] [--pings N] [--timeout SECS] [measure|cut]\n",
			      stderr);
			return 2;
		}
	}
	if (optind < argc)
		mode = argv[optind];
	if (p.via == 0 || p.target == 0 || p.pings < 1 || p.pings > MAX_PINGS)
		die("%s", "need --via and --target ports, 1-64 pings");
	if (strcmp(mode, "measure") == 0)
		probe_measure(&p);
	else if (strcmp(mode, "cut") == 0)
		probe_cut(&p);
	else
		die("unknown mode: %s", mode);
	return 0;
}
