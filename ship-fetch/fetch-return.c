/*
 * Outbound mail the shore refused for good: returned to its sender
 * through the ship's sendmail (see bounce.h), then set aside in the
 * outbound spool's failed/, where later runs no longer see it.  When
 * the notification cannot be handed over, the message stays in new/
 * and the next run tries again: the sender is told once it can be.
 */
#include "fetch.h"
#include "bounce.h"
#include "outbox.h"
#include "spawn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(BOUNCE_FULL_MAX <= BOUNCE_HEADER_MAX,
	       "read_start holds all of a message returned whole");

/* Seconds the ship's sendmail gets to take a notification. */
#define RETURN_SENDMAIL_TIMEOUT	60

/* The start of the spool file: the envelope and the original's header. */
static char *read_start(int fd, size_t *len_r)
{
	size_t want = OUTBOUND_HEADER_MAX + BOUNCE_HEADER_MAX, got = 0;
	char *buf = malloc(want);
	ssize_t n;

	if (buf == NULL)
		return NULL;
	while (got < want && (n = read(fd, buf + got, want - got)) > 0)
		got += (size_t)n;
	*len_r = got;
	return buf;
}

static int send_notice(struct fetch_run *run,
		       const struct outbound_envelope *env,
		       const char *text, size_t len, char *error,
		       size_t error_size)
{
	const struct fetch_settings *set = run->set;
	char **argv = calloc(set->sendmail_argc + 6, sizeof(*argv));
	size_t n = set->sendmail_argc;
	int ret;

	if (argv == NULL) {
		snprintf(error, error_size, "out of memory");
		return -1;
	}
	memcpy(argv, set->sendmail_argv, n * sizeof(*argv));
	argv[n++] = "-i";
	argv[n++] = "-f";
	argv[n++] = "<>";
	argv[n++] = "--";
	argv[n++] = env->sender;
	argv[n] = NULL;
	ret = spawn_run(argv, text, len, RETURN_SENDMAIL_TIMEOUT, error,
			error_size);
	free(argv);
	return ret;
}

void fetch_return_upload(struct fetch_run *run, const char *id,
			 unsigned int code, const char *text)
{
	struct outbound_envelope env;
	struct bounce_info info;
	char reason[512], host[256], kept[4096], error[256];
	char *buf = NULL, *notice = NULL;
	size_t len = 0, notice_len = 0;
	ssize_t env_len = -1;
	struct stat st;
	int fd;

	memset(&env, 0, sizeof(env));
	fd = outbox_item_open(run->outbox, id);
	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    (buf = read_start(fd, &len)) != NULL)
		env_len = outbound_envelope_parse(buf, len, &env, error,
						  sizeof(error));
	if (fd >= 0)
		close(fd);
	if (env_len <= 0) {
		/* Unreadable: the admin sees it in new/ and in this log. */
		fetch_log(run, "outbound id=%s: refused by the shore and not "
			  "returned to its sender: cannot read its envelope",
			  id);
		free(buf);
		return;
	}

	snprintf(reason, sizeof(reason), "%u %s", code, text);
	snprintf(kept, sizeof(kept), "%s/failed/%s", run->set->outbound_dir,
		 id);
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';

	if (bounce_wanted(&env)) {
		memset(&info, 0, sizeof(info));
		info.env = &env;
		info.id = id;
		info.header = buf + env_len;
		info.header_len = bounce_header_len(buf + env_len,
						    len - (size_t)env_len);
		/* The buffer holds all of a message that small. */
		if (st.st_size == (off_t)len &&
		    bounce_wants_full(&env, len - (size_t)env_len)) {
			info.message = buf + env_len;
			info.message_len = len - (size_t)env_len;
		}
		info.reason = reason;
		info.hostname = host;
		info.kept_in = kept;
		info.arrival = st.st_mtime;
		info.now = time(NULL);
		notice = bounce_compose(&info, &notice_len);
		if (notice == NULL ||
		    send_notice(run, &env, notice, notice_len, error,
				sizeof(error)) < 0) {
			fetch_log(run, "outbound id=%s: refused by the shore; "
				  "returning it to <%s> failed: %s (it "
				  "stays, and is tried again)", id,
				  env.sender, notice == NULL ?
				  "out of memory" : error);
			goto out;
		}
		fetch_log(run, "outbound id=%s: returned to <%s>", id,
			  env.sender);
	} else {
		fetch_log(run, "outbound id=%s: not returned (%s)", id,
			  env.sender[0] == '\0' ? "null sender" :
			  "NOTIFY excludes failures");
	}
	if (outbox_item_set_aside(run->outbox, id) < 0)
		fetch_log(run, "outbound id=%s: cannot move it to %s: %s", id,
			  kept, strerror(errno));
	else
		fetch_log(run, "outbound id=%s: kept in %s", id, kept);
out:
	free(notice);
	free(buf);
	outbound_envelope_free(&env);
}
