/* Unit tests of running the notice command: input, exit status, errors,
   time limit, and what the child inherits. */
#include "spawn.h"
#include "test-common.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char error[256];

static int
run(const char *const argv[], const char *input, size_t len,
    unsigned int timeout)
{
	error[0] = '\0';
	return spawn_run((char *const *)argv, input, len, timeout, error,
			 sizeof(error));
}

static void
test_spawn_input_reaches_command(void)
{
	char path[] = "/tmp/test-spawn-XXXXXX";
	const char *argv[] = { "/usr/bin/tee", path, NULL };
	size_t len = 1024 * 1024;
	char *input = malloc(len), *back = malloc(len + 1);
	int fd = mkstemp(path);
	ssize_t got;

	test_begin("spawn: 1 MB of input reaches the command, output "
		   "drained meanwhile");
	for (size_t i = 0; i < len; i++)
		input[i] = (char)('a' + i % 26);
	test_assert(fd >= 0);
	test_assert(run(argv, input, len, 30) == 0);
	got = read(fd, back, len + 1);
	test_assert(got == (ssize_t)len);
	test_assert(memcmp(input, back, len) == 0);
	close(fd);
	unlink(path);
	free(input);
	free(back);
	test_end();
}

static void
test_spawn_failures_are_explained(void)
{
	const char *false_argv[] = { "/bin/false", NULL };
	const char *missing[] = { "/nonexistent/sendmail", "-i", NULL };
	const char *noisy[] = { "/bin/sh", "-c",
				"echo 'postdrop: queue full' >&2; exit 75",
				NULL };

	test_begin("spawn: exit status, stderr and exec errors are reported");
	test_assert(run(false_argv, "x\n", 2, 10) < 0);
	test_assert_str(error, "exit status 1");
	test_assert(run(missing, "x\n", 2, 10) < 0);
	test_assert_str(error, "cannot execute: No such file or directory");
	test_assert(run(noisy, "x\n", 2, 10) < 0);
	test_assert_str(error, "exit status 75: postdrop: queue full");
	test_end();
}

/* The shore tells a temporary failure (75, or no exit of the command's
   own) from a refusal for good by this status. */
static void
test_spawn_fd_exit_status(void)
{
	const char *false_argv[] = { "/bin/false", NULL };
	const char *missing[] = { "/nonexistent/sendmail", "-i", NULL };
	const char *tempfail[] = { "/bin/sh", "-c", "exit 75", NULL };
	const char *sleeper[] = { "/bin/sleep", "30", NULL };
	int fd = open("/dev/null", O_RDONLY), status;

	test_begin("spawn: the exit status with a file as input; -1 when "
		   "the command never ran to its exit");
	test_assert(fd >= 0);
	test_assert(spawn_run_fd((char *const *)false_argv, fd, 10, &status,
				 error, sizeof(error)) < 0);
	test_assert(status == 1);
	test_assert(spawn_run_fd((char *const *)tempfail, fd, 10, &status,
				 error, sizeof(error)) < 0);
	test_assert(status == 75);
	test_assert(spawn_run_fd((char *const *)missing, fd, 10, &status,
				 error, sizeof(error)) < 0);
	test_assert(status == -1);
	test_assert_str(error, "cannot execute: No such file or directory");
	test_assert(spawn_run_fd((char *const *)sleeper, fd, 1, &status,
				 error, sizeof(error)) < 0);
	test_assert(status == -1);
	close(fd);
	test_end();
}

static void
test_spawn_timeout_kills(void)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	time_t start = time(NULL);

	test_begin("spawn: a hanging command is killed at the time limit");
	test_assert(run(argv, "", 0, 1) < 0);
	test_assert_str(error, "timed out, killed");
	test_assert(time(NULL) - start < 10);
	test_end();
}

static void
test_spawn_unread_input_and_fds(void)
{
	const char *true_argv[] = { "/bin/true", NULL };
	const char *fd_check[] = { "/bin/sh", "-c",
				   "test ! -e /proc/$$/fd/9", NULL };
	size_t len = 4 * 1024 * 1024;
	char *input = calloc(1, len);
	int fd = open("/dev/null", O_RDONLY);

	test_begin("spawn: a command that reads nothing; no fd leaks to it");
	test_assert(run(true_argv, input, len, 10) == 0);
	test_assert(dup2(fd, 9) == 9);
	test_assert(run(fd_check, "", 0, 10) == 0);
	close(9);
	close(fd);
	free(input);
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_spawn_input_reaches_command,
		test_spawn_failures_are_explained,
		test_spawn_fd_exit_status,
		test_spawn_timeout_kills,
		test_spawn_unread_input_and_fds,
		NULL
	};

	/* As the milter does: a closed pipe is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return test_run(tests);
}
