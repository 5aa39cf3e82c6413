/*
 * Running a command without a shell: see spawn.h.
 *
 * Not done: retries (the caller's policy decides what a failure means)
 * and any kind of shell parsing; argv is used as given.
 */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How much of the command's output is kept for the error message. */
#define SPAWN_OUTPUT_MAX	200

struct child {
	pid_t pid;
	int in_fd;		/* its stdin */
	int out_fd;		/* its stdout and stderr */
	int exec_fd;		/* errno of a failed execve, else EOF */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: only async-signal-safe calls until execve. */
static void __attribute__((noreturn))
child_exec(char *const argv[], int in_fd, int out_fd, int exec_fd)
{
	int err;

	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(127);
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 1024; fd++) {
			if (fd != exec_fd)
				close(fd);
		}
	}
	fcntl(exec_fd, F_SETFD, FD_CLOEXEC);
	execve(argv[0], argv, environ);
	err = errno;
	if (write(exec_fd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

static void
close_pair(int fds[2])
{
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

/*
 * Fork the child with its pipes; its stdin is input_fd when that is not
 * -1, else a pipe.  -1 with error set on failure.
 */
static int
child_start(struct child *c, char *const argv[], int input_fd, char *error,
	    size_t size)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, ex[2] = { -1, -1 };

	if (input_fd >= 0)
		in[0] = fcntl(input_fd, F_DUPFD_CLOEXEC, 3);
	if ((input_fd >= 0 ? in[0] < 0 : pipe2(in, O_CLOEXEC) < 0) ||
	    pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(ex, O_CLOEXEC) < 0) {
		snprintf(error, size, "pipe: %s", strerror(errno));
		close_pair(in);
		close_pair(out);
		close_pair(ex);
		return -1;
	}
	c->pid = fork();
	if (c->pid < 0) {
		snprintf(error, size, "fork: %s", strerror(errno));
		close_pair(in);
		close_pair(out);
		close_pair(ex);
		return -1;
	}
	if (c->pid == 0)
		child_exec(argv, in[0], out[1], ex[1]);

	close(in[0]);
	close(out[1]);
	close(ex[1]);
	c->in_fd = in[1];
	c->out_fd = out[0];
	c->exec_fd = ex[0];
	if (c->in_fd >= 0)
		fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
	return 0;
}

/*
 * Feed the input and collect output until the child closes its output
 * (normally: it exited) or the deadline passes.  Returns 0, or -1 on
 * timeout.
 */
static int
child_talk(struct child *c, const char *input, size_t len, long long deadline,
	   char *output, size_t output_size)
{
	size_t written = 0, got = 0;

	if (len == 0 && c->in_fd >= 0) {
		close(c->in_fd);
		c->in_fd = -1;
	}
	while (c->out_fd >= 0) {
		struct pollfd p[2] = {
			{ .fd = c->out_fd, .events = POLLIN },
			{ .fd = c->in_fd, .events = POLLOUT },
		};
		long long left = deadline - now_ms();
		char buf[512];
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(p, c->in_fd >= 0 ? 2 : 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (c->in_fd >= 0 &&
		    (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(c->in_fd, input + written, len - written);
			if (n > 0)
				written += (size_t)n;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				written = len;	/* it stopped reading */
			if (written == len) {
				close(c->in_fd);
				c->in_fd = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(c->out_fd, buf, sizeof(buf));
			if (n > 0 && got + 1 < output_size) {
				size_t keep = (size_t)n;

				if (keep > output_size - 1 - got)
					keep = output_size - 1 - got;
				memcpy(output + got, buf, keep);
				got += keep;
				output[got] = '\0';
			}
			if (n == 0 || (n < 0 && errno != EINTR &&
				       errno != EAGAIN)) {
				close(c->out_fd);
				c->out_fd = -1;
			}
		}
	}
	return 0;
}

/* Wait for the child to exit before the deadline; kill it after. */
static int
child_reap(struct child *c, long long deadline, int *status_r)
{
	for (;;) {
		pid_t r = waitpid(c->pid, status_r, WNOHANG);

		if (r == c->pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline) {
			kill(c->pid, SIGKILL);
			while (waitpid(c->pid, status_r, 0) < 0 &&
			       errno == EINTR)
				;
			return -1;
		}
		usleep(10000);
	}
}

/* The first line of the command's output, for the log. */
static const char *
first_line(char *output)
{
	output[strcspn(output, "\r\n")] = '\0';
	for (char *p = output; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	}
	return output;
}

/*
 * 0 when the command exited 0, -1 with error set otherwise; *ran_r is
 * 0 when execve failed (the child's exit status is then its own 127,
 * not the command's).
 */
static int
child_result(struct child *c, int status, int timed_out, char *output,
	     char *error, size_t size, int *ran_r)
{
	int exec_errno = 0;

	*ran_r = 1;
	if (read(c->exec_fd, &exec_errno, sizeof(exec_errno)) ==
	    (ssize_t)sizeof(exec_errno)) {
		snprintf(error, size, "cannot execute: %s",
			 strerror(exec_errno));
		*ran_r = 0;
		return -1;
	}
	if (timed_out) {
		snprintf(error, size, "timed out, killed");
		return -1;
	}
	if (WIFSIGNALED(status)) {
		snprintf(error, size, "killed by signal %d", WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status) != 0) {
		snprintf(error, size, "exit status %d%s%s",
			 WEXITSTATUS(status), *output != '\0' ? ": " : "",
			 first_line(output));
		return -1;
	}
	return 0;
}

static int
spawn(char *const argv[], int input_fd, const char *input, size_t input_len,
      unsigned int timeout_secs, int *exit_r, char *output,
      size_t output_size, char *error, size_t error_size)
{
	struct child c;
	long long deadline = now_ms() + (long long)timeout_secs * 1000;
	int status = 0, timed_out, rc, ran;

	*exit_r = -1;
	if (child_start(&c, argv, input_fd, error, error_size) < 0)
		return -1;

	output[0] = '\0';
	timed_out = child_talk(&c, input, input_len, deadline, output,
			       output_size) < 0;
	if (c.in_fd >= 0)
		close(c.in_fd);
	if (c.out_fd >= 0)
		close(c.out_fd);
	if (child_reap(&c, timed_out ? 0 : deadline, &status) < 0)
		timed_out = 1;

	rc = child_result(&c, status, timed_out, output, error, error_size,
			  &ran);
	if (rc < 0 || timed_out || !WIFEXITED(status))
		output[0] = '\0';
	if (ran && !timed_out && WIFEXITED(status))
		*exit_r = WEXITSTATUS(status);
	close(c.exec_fd);
	return rc;
}

int
spawn_run(char *const argv[], const char *input, size_t input_len,
	  unsigned int timeout_secs, char *error, size_t error_size)
{
	char output[SPAWN_OUTPUT_MAX + 1];
	int status;

	return spawn(argv, -1, input, input_len, timeout_secs, &status,
		     output, sizeof(output), error, error_size);
}

int
spawn_run_fd(char *const argv[], int input_fd, unsigned int timeout_secs,
	     int *exit_r, char *error, size_t error_size)
{
	char output[SPAWN_OUTPUT_MAX + 1];

	return spawn(argv, input_fd, NULL, 0, timeout_secs, exit_r, output,
		     sizeof(output), error, error_size);
}

int
spawn_capture(char *const argv[], unsigned int timeout_secs, char *output,
	      size_t output_size, char *error, size_t error_size)
{
	int status;

	return spawn(argv, -1, NULL, 0, timeout_secs, &status, output,
		     output_size, error, error_size);
}
