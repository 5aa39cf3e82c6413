#ifndef SHIPMAIL_SPAWN_H
#define SHIPMAIL_SPAWN_H

/*
 * Run a command without a shell, give it a message on stdin, and wait
 * for it within a time limit.  Made for the notice command (sendmail):
 * safe to call from any thread of a threaded program, as the child does
 * nothing but redirect descriptors and execve.
 *
 * The child gets the caller's environment, stdin from the message, and
 * stdout and stderr into a pipe whose first line explains a failure.
 * Every other descriptor is closed in the child.  A child still running
 * at the time limit is killed (SIGKILL) and reaped.
 *
 * The caller must ignore SIGPIPE: a command that exits without reading
 * all its input must not kill the milter.
 */

#include <stddef.h>

/* 0 when the command ran and exited 0; -1 with error set otherwise. */
int spawn_run(char *const argv[], const char *input, size_t input_len,
	      unsigned int timeout_secs, char *error, size_t error_size);

#endif
