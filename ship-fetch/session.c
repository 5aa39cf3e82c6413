/*
 * The SSH session: see session.h.  libssh2 runs non-blocking; every
 * call that would block is retried after poll() on the socket, in the
 * direction libssh2 asks for, with a deadline.  The deadline moves
 * whenever bytes arrive (or channel data leaves), so a silent link ends
 * the session after idle_timeout (connect_timeout while it starts),
 * however slow a live link is.
 */
#include "session.h"
#include "relay-client.h"

#include <libssh2.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct session {
	int fd;
	pid_t relay_pid;		/* the resumable link's child */
	LIBSSH2_SESSION *ssh;
	LIBSSH2_CHANNEL *channel;
	unsigned int idle_timeout, keepalive;
	time_t last_data;		/* any byte, keepalive answers too */
	time_t last_heard;		/* the last byte from the shore */
	time_t last_reply;		/* the shore's channel data */
	char error[256];
};

int session_global_init(void)
{
	return libssh2_init(0) == 0 ? 0 : -1;
}

void session_global_deinit(void)
{
	libssh2_exit();
}

static time_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Wait until libssh2 can make progress.  Sends a keepalive once nothing
 * has come from the shore for the keepalive interval: while bytes flow
 * the link is known to live, and on a link of 300 bytes a second a
 * keepalive and its answer every few seconds would cost more than a
 * cut.  -1 once the link has been silent for idle_timeout.
 */
static int session_wait(struct session *s)
{
	int dirs = libssh2_session_block_directions(s->ssh);
	struct pollfd pfd = { .fd = s->fd };
	int next_keepalive = (int)s->keepalive, left, ret;

	if ((dirs & LIBSSH2_SESSION_BLOCK_INBOUND) != 0)
		pfd.events |= POLLIN;
	if ((dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0)
		pfd.events |= POLLOUT;
	if (pfd.events == 0)
		pfd.events = POLLIN;

	left = (int)(s->last_data + (time_t)s->idle_timeout - now());
	if (left <= 0) {
		snprintf(s->error, sizeof(s->error),
			 "link silent for %us", s->idle_timeout);
		return -1;
	}
	if (s->channel != NULL && s->keepalive > 0) {
		time_t quiet = now() - s->last_heard;

		if (quiet >= (time_t)s->keepalive)
			(void)libssh2_keepalive_send(s->ssh, &next_keepalive);
		else
			next_keepalive = (int)((time_t)s->keepalive - quiet);
	}
	if (next_keepalive > 0 && next_keepalive < left)
		left = next_keepalive;
	ret = poll(&pfd, 1, left * 1000);
	if (ret < 0 && errno != EINTR) {
		snprintf(s->error, sizeof(s->error), "poll: %s",
			 strerror(errno));
		return -1;
	}

	/* Any byte from the shore, keepalive answers included, shows that
	   the link lives: silence is measured from the last one. */
	if (ret > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0)
		s->last_data = s->last_heard = now();
	return 0;
}

/* libssh2's last error as text. */
static void session_set_ssh_error(struct session *s, const char *what)
{
	char *msg = NULL;

	(void)libssh2_session_last_error(s->ssh, &msg, NULL, 0);
	snprintf(s->error, sizeof(s->error), "%s: %s", what,
		 msg != NULL ? msg : "unknown error");
}

int session_tcp_connect(const struct session_settings *set, char *error,
			size_t error_size)
{
	struct addrinfo hints, *res, *ai;
	char port[16];
	int fd = -1, ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", set->port);
	ret = getaddrinfo(set->host, port, &hints, &res);
	if (ret != 0) {
		snprintf(error, error_size, "%s: %s", set->host,
			 gai_strerror(ret));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS)
			soerr = errno;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (soerr == 0 && poll(&pfd, 1,
				       (int)set->connect_timeout * 1000) <= 0)
			soerr = ETIMEDOUT;
		if (soerr == 0)
			(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
					 &len);
		if (soerr != 0) {
			snprintf(error, error_size, "connect %s port %u: %s",
				 set->host, set->port, strerror(soerr));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	/* libssh2 sends every SSH packet with a send() of its own, and
	   shipmail-fetch sends a batch right behind HELLO: with Nagle's
	   algorithm the second of two small packets would wait for the
	   first one's ACK, a whole round trip over a satellite. */
	if (fd >= 0) {
		int one = 1;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	}
	return fd;
}

static int knownhost_type(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:
		return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/*
 * known_hosts, read once a session: it says which host key types to
 * ask for, then checks the key the shore showed.  NULL with s->error
 * set when it cannot be read.
 */
static LIBSSH2_KNOWNHOSTS *known_hosts_read(struct session *s,
					    const struct session_settings *set)
{
	LIBSSH2_KNOWNHOSTS *hosts = libssh2_knownhost_init(s->ssh);

	if (hosts == NULL) {
		snprintf(s->error, sizeof(s->error), "known_hosts: no memory");
		return NULL;
	}
	if (libssh2_knownhost_readfile(hosts, set->known_hosts,
				       LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
		session_set_ssh_error(s, set->known_hosts);
		libssh2_knownhost_free(hosts);
		return NULL;
	}
	return hosts;
}

/* The shore's key against known_hosts: the only trust there is. */
static enum session_error check_host_key(struct session *s,
					 const struct session_settings *set,
					 LIBSSH2_KNOWNHOSTS *hosts)
{
	const char *key;
	size_t len;
	int type, ret;

	key = libssh2_session_hostkey(s->ssh, &len, &type);
	ret = key == NULL ? LIBSSH2_KNOWNHOST_CHECK_FAILURE :
		libssh2_knownhost_checkp(hosts, set->host, (int)set->port,
			key, len, LIBSSH2_KNOWNHOST_TYPE_PLAIN |
			LIBSSH2_KNOWNHOST_KEYENC_RAW | knownhost_type(type),
			NULL);

	switch (ret) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return SESSION_ERR_NONE;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		snprintf(s->error, sizeof(s->error), "HOST KEY MISMATCH for "
			 "%s port %u: the shore's key differs from the one "
			 "in %s; someone may be in the middle, or the shore's "
			 "key changed. Not connecting.", set->host, set->port,
			 set->known_hosts);
		return SESSION_ERR_HOSTKEY;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		snprintf(s->error, sizeof(s->error), "host %s port %u is not "
			 "in %s (or only with another key type); add the "
			 "shore's key there first", set->host, set->port,
			 set->known_hosts);
		return SESSION_ERR_UNKNOWN_HOST;
	default:
		snprintf(s->error, sizeof(s->error), "cannot check the host "
			 "key of %s", set->host);
		return SESSION_ERR_LOCAL;
	}
}

static int socket_is_alive(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

#define SSH_RETRY(s, call) ({						\
	int _rc;							\
	while ((_rc = (call)) == LIBSSH2_ERROR_EAGAIN &&		\
	       session_wait(s) == 0)					\
		;							\
	_rc; })

/*
 * Offer a few strong methods instead of libssh2's whole list: every
 * session start costs its KEXINIT on a link of 300 bytes a second, and
 * cuts make many starts.  Each list keeps fallbacks that any OpenSSH
 * has; a failure to set a list only leaves libssh2's default.
 */
static void session_prefer_short_methods(LIBSSH2_SESSION *ssh)
{
	(void)libssh2_session_method_pref(ssh, LIBSSH2_METHOD_KEX,
		"curve25519-sha256,ecdh-sha2-nistp256,"
		"diffie-hellman-group14-sha256");
	(void)libssh2_session_method_pref(ssh, LIBSSH2_METHOD_CRYPT_CS,
					  "aes128-ctr,aes256-ctr");
	(void)libssh2_session_method_pref(ssh, LIBSSH2_METHOD_CRYPT_SC,
					  "aes128-ctr,aes256-ctr");
	(void)libssh2_session_method_pref(ssh, LIBSSH2_METHOD_MAC_CS,
					  "hmac-sha2-256,hmac-sha1");
	(void)libssh2_session_method_pref(ssh, LIBSSH2_METHOD_MAC_SC,
					  "hmac-sha2-256,hmac-sha1");
	(void)libssh2_session_method_pref(ssh, LIBSSH2_METHOD_COMP_CS, "none");
	(void)libssh2_session_method_pref(ssh, LIBSSH2_METHOD_COMP_SC, "none");
}

/*
 * Ask only for the host key types known_hosts holds for the shore, best
 * first.  libssh2 would otherwise take the first type of its own list
 * that the shore has, which may be one known_hosts lacks (a shore with
 * an ECDSA and an Ed25519 key, an Ed25519 line here), and its list is
 * long.  A known_hosts entry of a type is found by asking about a key
 * that cannot be the shore's: the answer is "mismatch" when the host
 * has a key of that type there, hashed names included.  Nothing found:
 * libssh2's list, and check_host_key says what is wrong.
 */
static void session_prefer_known_host_keys(LIBSSH2_SESSION *ssh,
					   LIBSSH2_KNOWNHOSTS *hosts,
					   const struct session_settings *set)
{
	static const struct {
		int type;
		const char *method;
	} types[] = {
		{ LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519" },
		{ LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256" },
		{ LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384" },
		{ LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521" },
		{ LIBSSH2_KNOWNHOST_KEY_SSHRSA, "rsa-sha2-512,rsa-sha2-256,ssh-rsa" },
	};
	char list[256] = "";
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (libssh2_knownhost_checkp(hosts, set->host, (int)set->port,
				"?", 1, LIBSSH2_KNOWNHOST_TYPE_PLAIN |
				LIBSSH2_KNOWNHOST_KEYENC_RAW | types[i].type,
				NULL) != LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			continue;
		if (list[0] != '\0')
			strcat(list, ",");
		strcat(list, types[i].method);
	}
	/* Names this libssh2 lacks are dropped; none left keeps its list. */
	if (list[0] != '\0')
		(void)libssh2_session_method_pref(ssh, LIBSSH2_METHOD_HOSTKEY,
						  list);
}

static enum session_error session_start(struct session *s,
					const struct session_settings *set,
					LIBSSH2_KNOWNHOSTS *hosts)
{
	enum session_error err;
	int rc;

	if (SSH_RETRY(s, libssh2_session_handshake(s->ssh, s->fd)) != 0) {
		session_set_ssh_error(s, "SSH handshake");
		return SESSION_ERR_LINK;
	}
	if ((err = check_host_key(s, set, hosts)) != SESSION_ERR_NONE)
		return err;

	rc = SSH_RETRY(s, libssh2_userauth_publickey_fromfile_ex(s->ssh,
			set->user, (unsigned int)strlen(set->user), NULL,
			set->key, NULL));
	if (rc != 0) {
		session_set_ssh_error(s, "public key authentication");
		if (rc == LIBSSH2_ERROR_FILE)
			return SESSION_ERR_LOCAL;
		/* libssh2 reports a cut while waiting for the answer with
		   the same code as a refusal: only a live socket means the
		   shore said no. */
		return (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
			rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) &&
			socket_is_alive(s->fd) ?
			SESSION_ERR_AUTH : SESSION_ERR_LINK;
	}

	/* The shore's sshd sends channel data in packets of at most
	   packet_size: a packet is of use only once its MAC is in, so
	   a cut wastes the part of one that crossed. */
	while ((s->channel = libssh2_channel_open_ex(s->ssh, "session",
			sizeof("session") - 1, LIBSSH2_CHANNEL_WINDOW_DEFAULT,
			set->packet_size, NULL, 0)) == NULL &&
	       libssh2_session_last_errno(s->ssh) == LIBSSH2_ERROR_EAGAIN &&
	       session_wait(s) == 0)
		;
	if (s->channel == NULL) {
		session_set_ssh_error(s, "opening the channel");
		return SESSION_ERR_LINK;
	}
	(void)SSH_RETRY(s, libssh2_channel_handle_extended_data2(s->channel,
			LIBSSH2_CHANNEL_EXTENDED_DATA_IGNORE));
	if (SSH_RETRY(s, libssh2_channel_exec(s->channel,
					      set->command)) != 0) {
		session_set_ssh_error(s, "starting the shore command");
		return SESSION_ERR_LINK;
	}
	return SESSION_ERR_NONE;
}

struct session *session_open(const struct session_settings *set,
			     enum session_error *err_r, char *error,
			     size_t error_size)
{
	struct session *s = calloc(1, sizeof(*s));
	LIBSSH2_KNOWNHOSTS *hosts;

	if (s == NULL) {
		*err_r = SESSION_ERR_LOCAL;
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	s->idle_timeout = set->idle_timeout;
	s->keepalive = set->keepalive;
	s->fd = set->relay ?
		relay_client_start(set, &s->relay_pid, error, error_size) :
		session_tcp_connect(set, error, error_size);
	if (s->fd < 0) {
		free(s);
		*err_r = SESSION_ERR_LINK;
		return NULL;
	}
	s->ssh = libssh2_session_init();
	if (s->ssh == NULL) {
		snprintf(error, error_size, "libssh2: cannot start a session");
		*err_r = SESSION_ERR_LOCAL;
		session_close(&s);
		return NULL;
	}
	libssh2_session_set_blocking(s->ssh, 0);
	hosts = known_hosts_read(s, set);
	if (hosts == NULL) {
		snprintf(error, error_size, "%s", s->error);
		*err_r = SESSION_ERR_LOCAL;
		session_close(&s);
		return NULL;
	}
	session_prefer_short_methods(s->ssh);
	session_prefer_known_host_keys(s->ssh, hosts, set);
	if (s->keepalive > 0)
		libssh2_keepalive_config(s->ssh, 1, s->keepalive);

	/* Until the channel runs, connect_timeout bounds each wait. */
	s->idle_timeout = set->connect_timeout;
	s->last_data = now();
	*err_r = session_start(s, set, hosts);
	libssh2_knownhost_free(hosts);
	if (*err_r != SESSION_ERR_NONE) {
		snprintf(error, error_size, "%s", s->error);
		session_close(&s);
		return NULL;
	}
	s->idle_timeout = set->idle_timeout;
	s->last_data = s->last_reply = s->last_heard = now();
	return s;
}

void session_abort(struct session **s)
{
	if (*s != NULL && (*s)->fd >= 0)
		(void)shutdown((*s)->fd, SHUT_RDWR);
	if (*s != NULL && (*s)->relay_pid > 0) {
		relay_client_stop((*s)->relay_pid, 1);
		(*s)->relay_pid = 0;
	}
	session_close(s);
}

void session_close(struct session **_s)
{
	struct session *s = *_s;

	if (s == NULL)
		return;
	*_s = NULL;

	/* Non-blocking, libssh2 would leave the frees half done; blocking
	   with a short timeout, a dead link cannot hold us long. */
	if (s->ssh != NULL) {
		libssh2_session_set_timeout(s->ssh, 1000);
		libssh2_session_set_blocking(s->ssh, 1);
	}
	if (s->channel != NULL)
		(void)libssh2_channel_free(s->channel);
	if (s->ssh != NULL && libssh2_session_free(s->ssh) != 0) {
		/* The shore's close did not come in time: the link is dead,
		   or full of data we no longer want.  libssh2 keeps
		   waiting for it and frees nothing; with the socket shut,
		   its reads fail at once and it frees all. */
		(void)shutdown(s->fd, SHUT_RDWR);
		(void)libssh2_session_free(s->ssh);
	}
	if (s->fd >= 0)
		close(s->fd);
	relay_client_stop(s->relay_pid, 0);
	free(s);
}

/*
 * The caller reads only when it waits for an answer.  Keepalive answers
 * show that the link and sshd live, not that shipmail-shore does: a
 * shore that answers nothing for idle_timeout while the link is alive
 * (stuck, or stopped) ends the session as a silent link would.
 */
ssize_t session_read(struct session *s, void *buf, size_t size)
{
	for (;;) {
		ssize_t n = libssh2_channel_read(s->channel, buf, size);

		if (n > 0) {
			s->last_data = s->last_reply = s->last_heard = now();
			return n;
		}
		if (n == 0 && libssh2_channel_eof(s->channel))
			return 0;
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			session_set_ssh_error(s, "read");
			return -1;
		}
		if (now() - s->last_reply >= (time_t)s->idle_timeout) {
			snprintf(s->error, sizeof(s->error), "shipmail-shore "
				 "answered nothing for %us (the link lives)",
				 s->idle_timeout);
			return -1;
		}
		if (session_wait(s) < 0)
			return -1;
	}
}

int session_write(struct session *s, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = libssh2_channel_write(s->channel, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			s->last_data = now();
			continue;
		}
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			session_set_ssh_error(s, "write");
			return -1;
		}
		if (session_wait(s) < 0)
			return -1;
	}
	return 0;
}

const char *session_last_error(const struct session *s)
{
	return s->error;
}
