/*
 * LMTP client: see lmtp.h.  Blocking sockets with send and receive
 * timeouts; a reply is read whole (all its continuation lines) and
 * judged by the first digit of its code.
 */
#include "lmtp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define LMTP_LINE_MAX	1024

struct lmtp {
	int fd;
	char in[4096];
	size_t in_pos, in_len;
	char out[16384];
	size_t out_len;
	char *error;
	size_t error_size;
	int no_reply;			/* the last step read no reply */
};

static int lmtp_connect_unix(const char *path)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un sun;
	} addr;
	int fd;

	if (strlen(path) >= sizeof(addr.sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun.sun_family = AF_UNIX;
	strcpy(addr.sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, &addr.sa, sizeof(addr.sun)) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int lmtp_connect_inet(const char *hostport)
{
	struct addrinfo hints, *res, *ai;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	int fd = -1;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static int lmtp_connect(const char *target, unsigned int timeout)
{
	struct timeval tv = { .tv_sec = timeout };
	int fd;

	if (strncmp(target, "unix:", 5) == 0)
		fd = lmtp_connect_unix(target + 5);
	else if (target[0] == '/')
		fd = lmtp_connect_unix(target);
	else if (strncmp(target, "inet:", 5) == 0)
		fd = lmtp_connect_inet(target + 5);
	else
		fd = lmtp_connect_inet(target);
	if (fd >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

static int lmtp_flush(struct lmtp *l)
{
	size_t pos = 0;

	while (pos < l->out_len) {
		ssize_t n = write(l->fd, l->out + pos, l->out_len - pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(l->error, l->error_size, "LMTP write: %s",
				 n < 0 ? strerror(errno) : "closed");
			return -1;
		}
		pos += (size_t)n;
	}
	l->out_len = 0;
	return 0;
}

static int lmtp_put(struct lmtp *l, const char *data, size_t len)
{
	while (len > 0) {
		size_t n = sizeof(l->out) - l->out_len;

		if (n > len)
			n = len;
		memcpy(l->out + l->out_len, data, n);
		l->out_len += n;
		data += n;
		len -= n;
		if (l->out_len == sizeof(l->out) && lmtp_flush(l) < 0)
			return -1;
	}
	return 0;
}

/* One reply line into line (cut if longer); -1 on EOF or error. */
static int lmtp_read_line(struct lmtp *l, char *line, size_t size)
{
	size_t len = 0;

	for (;;) {
		char c;

		if (l->in_pos == l->in_len) {
			ssize_t n = read(l->fd, l->in, sizeof(l->in));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				snprintf(l->error, l->error_size,
					 "LMTP read: %s", n < 0 ?
					 strerror(errno) : "connection closed");
				return -1;
			}
			l->in_pos = 0;
			l->in_len = (size_t)n;
		}
		c = l->in[l->in_pos++];
		if (c == '\n')
			break;
		if (c != '\r' && len + 1 < size)
			line[len++] = c;
	}
	line[len] = '\0';
	return 0;
}

/* A whole reply; returns its code (0 when malformed), -1 on error. */
static int lmtp_reply(struct lmtp *l, char *last, size_t size)
{
	for (;;) {
		if (lmtp_read_line(l, last, size) < 0)
			return -1;
		if (strlen(last) < 3 || last[0] < '1' || last[0] > '5')
			return 0;
		if (last[3] != '-')
			return atoi(last);
	}
}

/* Send a command and expect a 2xx or 3xx code in the given class. */
static enum lmtp_result lmtp_step(struct lmtp *l, const char *cmd,
				  int want_class)
{
	char reply[LMTP_LINE_MAX];
	int code;

	if (cmd != NULL &&
	    (lmtp_put(l, cmd, strlen(cmd)) < 0 || lmtp_flush(l) < 0))
		return LMTP_TEMPFAIL;
	code = lmtp_reply(l, reply, sizeof(reply));
	l->no_reply = code < 0;
	if (code < 0)
		return LMTP_TEMPFAIL;
	if (code / 100 == want_class)
		return LMTP_OK;
	snprintf(l->error, l->error_size, "LMTP %s%s%s", reply,
		 cmd != NULL ? " after " : "", cmd != NULL ? cmd : "");
	/* Strip the CRLF of the command from the message. */
	l->error[strcspn(l->error, "\r\n")] = '\0';
	return code / 100 == 5 ? LMTP_PERMFAIL : LMTP_TEMPFAIL;
}

/* The message, dot-stuffed, ending with CRLF.CRLF. */
static enum lmtp_result lmtp_send_file(struct lmtp *l, const char *path,
				       const char *trace)
{
	char buf[8192];
	int at_line_start = 1, last = '\n';
	enum lmtp_result ret;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(l->error, l->error_size, "open %s: %s", path,
			 strerror(errno));
		return LMTP_TEMPFAIL;
	}
	if (trace != NULL &&
	    (trace[0] == '.' || lmtp_put(l, trace, strlen(trace)) < 0 ||
	     lmtp_put(l, "\r\n", 2) < 0))
		goto fail;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t i, start = 0;

		/* Copy in runs; a line starting with "." gets one more. */
		for (i = 0; i < n; i++) {
			if (at_line_start && buf[i] == '.') {
				if (lmtp_put(l, buf + start,
					     (size_t)(i - start)) < 0 ||
				    lmtp_put(l, ".", 1) < 0)
					goto fail;
				start = i;
			}
			at_line_start = buf[i] == '\n';
			last = buf[i];
		}
		if (lmtp_put(l, buf + start, (size_t)(n - start)) < 0)
			goto fail;
	}
	close(fd);
	if (n < 0)
		return LMTP_TEMPFAIL;
	if ((last != '\n' && lmtp_put(l, "\r\n", 2) < 0) ||
	    lmtp_put(l, ".\r\n", 3) < 0 || lmtp_flush(l) < 0)
		return LMTP_TEMPFAIL;

	/* From here on the server may have stored the message: a reply
	   that does not come leaves the outcome unknown. */
	ret = lmtp_step(l, NULL, 2);
	if (ret == LMTP_TEMPFAIL && l->no_reply) {
		snprintf(l->error, l->error_size, "no reply after the "
			 "message was sent");
		return LMTP_UNKNOWN;
	}
	return ret;
fail:
	close(fd);
	return LMTP_TEMPFAIL;
}

static int lmtp_address_is_clean(const char *addr)
{
	size_t i;

	for (i = 0; addr[i] != '\0'; i++) {
		unsigned char c = (unsigned char)addr[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
			return 0;
	}
	return i < 512;
}

void lmtp_sender_from_file(const char *path, char *buf, size_t size)
{
	char head[600];
	const char *lt, *gt;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (n <= 0)
		return;
	head[n] = '\0';
	if (strncasecmp(head, "Return-Path:", 12) != 0 ||
	    (lt = strchr(head, '<')) == NULL ||
	    (gt = strchr(lt, '>')) == NULL ||
	    (size_t)(gt - lt - 1) >= size)
		return;
	memcpy(buf, lt + 1, (size_t)(gt - lt - 1));
	buf[gt - lt - 1] = '\0';

	/* Only a clean address: nothing that could break the command. */
	if (!lmtp_address_is_clean(buf))
		buf[0] = '\0';
}

enum lmtp_result lmtp_deliver(const char *target, const char *rcpt,
			      const char *path, const char *trace,
			      unsigned int timeout, char *error,
			      size_t error_size)
{
	struct lmtp l;
	char cmd[LMTP_LINE_MAX], sender[512];
	enum lmtp_result ret;

	if (!lmtp_address_is_clean(rcpt) || *rcpt == '\0') {
		snprintf(error, error_size, "unusable recipient address");
		return LMTP_PERMFAIL;
	}
	memset(&l, 0, sizeof(l));
	l.error = error;
	l.error_size = error_size;
	l.fd = lmtp_connect(target, timeout);
	if (l.fd < 0) {
		snprintf(error, error_size, "LMTP connect %s: %s", target,
			 strerror(errno));
		return LMTP_TEMPFAIL;
	}
	lmtp_sender_from_file(path, sender, sizeof(sender));

	ret = lmtp_step(&l, NULL, 2);
	if (ret == LMTP_OK)
		ret = lmtp_step(&l, "LHLO shipmail-fetch\r\n", 2);
	if (ret == LMTP_OK) {
		snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", sender);
		ret = lmtp_step(&l, cmd, 2);
	}
	if (ret == LMTP_OK) {
		snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", rcpt);
		ret = lmtp_step(&l, cmd, 2);
	}
	if (ret == LMTP_OK)
		ret = lmtp_step(&l, "DATA\r\n", 3);
	if (ret == LMTP_OK)
		ret = lmtp_send_file(&l, path, trace);
	if (ret == LMTP_OK) {
		(void)lmtp_put(&l, "QUIT\r\n", 6);
		(void)lmtp_flush(&l);
	}
	close(l.fd);
	return ret;
}
