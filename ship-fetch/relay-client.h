#ifndef SHIPMAIL_RELAY_CLIENT_H
#define SHIPMAIL_RELAY_CLIENT_H
/*
 * The ship end of the resumable link: a child process between a
 * socketpair, for libssh2, and shipmail-relay on the shore.  See
 * relay-client.c.
 */
#include "session.h"

#include <stddef.h>
#include <sys/types.h>

/*
 * Connect to the relay at set->host and set->port, and start the child.
 * Returns the socket for libssh2 and the child in *pid_r, or -1 with
 * error set (the connect failed: try again later).
 */
int relay_client_start(const struct session_settings *set, pid_t *pid_r,
		       char *error, size_t error_size);
/* Reap the child once its socket is closed; kill it first if now. */
void relay_client_stop(pid_t pid, int now);

#endif
