#ifndef SHIPMAIL_SESSION_H
#define SHIPMAIL_SESSION_H

/*
 * shipmail-fetch's SSH session to the shore (libssh2): TCP connect with
 * a timeout, handshake, the shore's host key checked against a
 * known_hosts file, public-key authentication only, one channel running
 * the forced command.  The session is non-blocking underneath and every
 * wait is bounded: a link that goes silent (no bytes, no reset) is given
 * up after the idle timeout.  Keepalives, sent only when the shore has
 * been quiet for the keepalive interval, keep an idle session alive
 * through NAT and show a dead link early.  Standard error from the shore
 * is discarded (shipmail-shore logs on its side).
 */

#include <stddef.h>
#include <sys/types.h>

struct session_settings {
	const char *host;
	unsigned int port;
	const char *user;
	const char *key;		/* private key file */
	const char *known_hosts;
	const char *command;		/* sent as exec; forced on shore */
	unsigned int connect_timeout;	/* seconds */
	unsigned int idle_timeout;	/* seconds without a byte */
	unsigned int keepalive;		/* seconds between keepalives */
	unsigned int packet_size;	/* largest SSH packet from shore */
	int relay;			/* host:port is a shipmail-relay */
};

enum session_error {
	SESSION_ERR_NONE = 0,
	SESSION_ERR_LINK,		/* connect, cut, timeout: try again */
	SESSION_ERR_HOSTKEY,		/* key differs from known_hosts */
	SESSION_ERR_UNKNOWN_HOST,	/* host not in known_hosts */
	SESSION_ERR_AUTH,		/* the shore refused our key */
	SESSION_ERR_LOCAL,		/* our files or library */
};

struct session;

int session_global_init(void);
void session_global_deinit(void);

/* Connect and start the command.  NULL with *err_r and error set. */
struct session *session_open(const struct session_settings *set,
			     enum session_error *err_r, char *error,
			     size_t error_size);
void session_close(struct session **s);
/* The same without the SSH goodbyes, for a session we give up on (a
   dead link, the run out of time): nothing waits on the shore. */
void session_abort(struct session **s);

/* Up to size bytes: >0, 0 at the end of the channel, -1 on error. */
ssize_t session_read(struct session *s, void *buf, size_t size);

/* Write everything; 0 or -1. */
int session_write(struct session *s, const void *data, size_t len);

/* A TCP connection to host:port within connect_timeout, or -1 with
   error set. */
int session_tcp_connect(const struct session_settings *set, char *error,
			size_t error_size);

/* Why the last read or write failed, for the log. */
const char *session_last_error(const struct session *s);


#endif
