#ifndef SHIPMAIL_SPAWN_H
#define SHIPMAIL_SPAWN_H

/*
 * Run a command without a shell, give it a message on stdin, and wait
 * for it within a time limit.  Made for sendmail (the milter's notices,
 * the shore's injection of the ship's outbound mail): safe to call from
 * any thread of a threaded program, as the child does nothing but
 * redirect descriptors and execve.
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

/*
 * The same with stdin read from input_fd, from its current offset (the
 * child shares the offset), and the exit status in *exit_r: -1 when the
 * command did not run to its exit (exec failure, signal, time limit).
 */
int spawn_run_fd(char *const argv[], int input_fd, unsigned int timeout_secs,
		 int *exit_r, char *error, size_t error_size);

/*
 * Run a command with an empty stdin and keep the start of what it
 * writes (stdout and stderr), NUL-terminated, in output: at most
 * output_size - 1 bytes.  0 when it exited 0; -1 with error set and
 * output empty otherwise.
 */
int spawn_capture(char *const argv[], unsigned int timeout_secs,
		  char *output, size_t output_size, char *error,
		  size_t error_size);

#endif
