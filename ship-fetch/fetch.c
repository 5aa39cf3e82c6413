/*
 * shipmail-fetch: brings the ship's mail from the shore over one SSH
 * session at a time and delivers it to the ship's Dovecot over LMTP.
 *
 *   shipmail-fetch [-c CONFIG] [--dry-run] [-q]
 *
 * This file reads the settings (fetch_* in shipmail.conf), runs sessions
 * (fetch-conn.c) until the offer is done, reconnecting with exponential
 * backoff after cuts, and turns the outcome into an exit code that cron
 * and systemd can act on (doc/shipmail-fetch.1):
 *
 *   0  done (mail left only by the run's budgets, or oversize on shore)
 *   65 a message was refused for good by the ship's LMTP (held in spool)
 *   69 the shore refused our key      75 try again later (link, LMTP)
 *   76 the shore broke the protocol   77 host key mismatch or unknown
 *   73/74 spool trouble, 78 configuration, 64 usage
 *
 * XXX outbound mail (ship to shore) and requests for held mail are not
 * carried yet: the ship's Postfix must relay over SMTP meanwhile.  The
 * protocol has room for them (a capability in a later version).
 */
#include "fetch.h"
#include "spool.h"
#include "compress.h"
#include "../common/config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct settings_error {
	char text[CONFIG_ERROR_MAX];
};

void fetch_log(struct fetch_run *run, const char *fmt, ...)
{
	va_list args;

	if (run->tty)
		fputs("\r\033[K", stderr);
	fputs("shipmail-fetch: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	run->last_progress = 0;
}

static void format_duration(char *buf, size_t size, uint64_t secs)
{
	if (secs >= 3600)
		snprintf(buf, size, "%lluh%02llum",
			 (unsigned long long)(secs / 3600),
			 (unsigned long long)(secs % 3600 / 60));
	else
		snprintf(buf, size, "%llum%02llus",
			 (unsigned long long)(secs / 60),
			 (unsigned long long)(secs % 60));
}

void fetch_progress(struct fetch_run *run, const char *user,
		    uint64_t have, uint64_t size, unsigned int done,
		    unsigned int total)
{
	time_t now = time(NULL);
	uint64_t elapsed, rate, left;
	char eta[32];

	if (!run->tty || now == run->last_progress)
		return;
	run->last_progress = now;
	elapsed = (uint64_t)(now - run->started);
	rate = elapsed > 0 ? run->bytes_received / elapsed : 0;
	left = run->bytes_planned > run->bytes_received ?
		run->bytes_planned - run->bytes_received : 0;
	if (rate > 0)
		format_duration(eta, sizeof(eta), left / rate);
	else
		snprintf(eta, sizeof(eta), "?");
	fprintf(stderr, "\r\033[K[%u/%u] %.40s %llu/%llu bytes, %llu B/s, "
		"ETA %s", done, total, user, (unsigned long long)have,
		(unsigned long long)size, (unsigned long long)rate, eta);
}

struct map_search {
	const char *user;
	char *buf;
	size_t size;
	int found;
};

/* One fetch_user_map item: "shore-user=ship-user". */
static void map_item(const char *item, size_t len, void *ctx)
{
	struct map_search *m = ctx;
	const char *eq = memchr(item, '=', len);
	size_t ulen = strlen(m->user);

	if (m->found || eq == NULL || (size_t)(eq - item) != ulen ||
	    strncasecmp(item, m->user, ulen) != 0)
		return;
	len -= ulen + 1;
	if (len == 0 || len >= m->size)
		return;
	memcpy(m->buf, eq + 1, len);
	m->buf[len] = '\0';
	m->found = 1;
}

void fetch_map_user(const struct fetch_settings *set, const char *user,
		    char *buf, size_t size)
{
	struct map_search m = { user, buf, size, 0 };
	const char *map = config_get(set->cfg, "fetch_user_map", NULL);

	if (map != NULL)
		(void)config_list_foreach(map, map_item, &m);
	if (!m.found)
		snprintf(buf, size, "%s", user);
}

/* --- settings ------------------------------------------------------- */

static int get_required(const struct config *cfg, const char *name,
			const char **value_r, struct settings_error *err)
{
	*value_r = config_get(cfg, name, NULL);
	if (*value_r == NULL || **value_r == '\0') {
		snprintf(err->text, sizeof(err->text), "%s is not set", name);
		return -1;
	}
	return 0;
}

static int get_count(const struct config *cfg, const char *name,
		     unsigned int def, unsigned int max, unsigned int *v_r,
		     struct settings_error *err)
{
	uint64_t v;

	if (config_get_size(cfg, name, def, &v, err->text,
			    sizeof(err->text)) < 0)
		return -1;
	if (v > max) {
		snprintf(err->text, sizeof(err->text), "%s: at most %u",
			 name, max);
		return -1;
	}
	*v_r = (unsigned int)v;
	return 0;
}

struct compress_list {
	unsigned int mask;
	int bad;
};

static void compress_item(const char *item, size_t len, void *ctx)
{
	struct compress_list *list = ctx;
	enum proto_compress c;

	if (proto_compress_parse(item, len, &c) < 0)
		list->bad = 1;
	else
		list->mask |= 1u << c;
}

static int settings_read(const struct config *cfg, struct fetch_settings *set,
			 struct settings_error *err)
{
	struct compress_list list = { 0, 0 };
	unsigned int port;

	memset(set, 0, sizeof(*set));
	set->cfg = cfg;
	if (get_required(cfg, "fetch_host", &set->ssh.host, err) < 0 ||
	    get_required(cfg, "fetch_key", &set->ssh.key, err) < 0 ||
	    get_required(cfg, "fetch_known_hosts", &set->ssh.known_hosts,
			 err) < 0 ||
	    get_required(cfg, "fetch_lmtp", &set->lmtp, err) < 0)
		return -1;
	set->ssh.user = config_get(cfg, "fetch_user", "shipmail");
	set->ssh.command = config_get(cfg, "fetch_command", "shipmail-shore");
	set->spool_dir = config_get(cfg, "fetch_spool_dir",
				    "/var/spool/shipmail/fetch");
	if (get_count(cfg, "fetch_port", 22, 65535, &port, err) < 0 ||
	    config_get_seconds(cfg, "fetch_connect_timeout", 60,
			       &set->ssh.connect_timeout, err->text,
			       sizeof(err->text)) < 0 ||
	    config_get_seconds(cfg, "fetch_timeout", 120,
			       &set->ssh.idle_timeout, err->text,
			       sizeof(err->text)) < 0 ||
	    config_get_seconds(cfg, "fetch_keepalive", 30,
			       &set->ssh.keepalive, err->text,
			       sizeof(err->text)) < 0 ||
	    config_get_size(cfg, "fetch_max_bytes", 0, &set->max_bytes,
			    err->text, sizeof(err->text)) < 0 ||
	    config_get_seconds(cfg, "fetch_max_time", 0, &set->max_time,
			       err->text, sizeof(err->text)) < 0 ||
	    get_count(cfg, "fetch_retries", 10, 10000, &set->retries,
		      err) < 0 ||
	    config_get_seconds(cfg, "fetch_backoff", 2, &set->backoff,
			       err->text, sizeof(err->text)) < 0 ||
	    config_get_seconds(cfg, "fetch_backoff_max", 300,
			       &set->backoff_max, err->text,
			       sizeof(err->text)) < 0 ||
	    config_get_seconds(cfg, "fetch_lmtp_timeout", 60,
			       &set->lmtp_timeout, err->text,
			       sizeof(err->text)) < 0 ||
	    get_count(cfg, "fetch_pipeline", 16, 1000, &set->pipeline,
		      err) < 0)
		return -1;
	set->ssh.port = port;
	if (set->ssh.connect_timeout == 0 || set->ssh.idle_timeout == 0 ||
	    set->pipeline == 0) {
		snprintf(err->text, sizeof(err->text), "fetch_connect_timeout,"
			 " fetch_timeout and fetch_pipeline must not be 0");
		return -1;
	}
	(void)config_list_foreach(config_get(cfg, "fetch_compress",
					     "zstd, zlib, none"),
				  compress_item, &list);
	if (list.bad) {
		snprintf(err->text, sizeof(err->text), "fetch_compress: "
			 "want a list of zstd, zlib, none");
		return -1;
	}
	set->compress_mask = list.mask | 1u << PROTO_COMPRESS_NONE;
	return 0;
}

/* --- the run -------------------------------------------------------- */

static int run_exit_code(const struct fetch_run *run, int link_gave_up)
{
	if (run->protocol_error)
		return EX_PROTOCOL;
	if (run->perm_failures > 0)
		return EX_DATAERR;
	if (link_gave_up || run->temp_failures > 0)
		return EX_TEMPFAIL;
	return EX_OK;
}

static void backoff_sleep(struct fetch_run *run, unsigned int *delay)
{
	unsigned int d = *delay;

	if (run->deadline != 0 && time(NULL) + (time_t)d >= run->deadline)
		d = run->deadline > time(NULL) ?
			(unsigned int)(run->deadline - time(NULL)) : 0;
	fetch_log(run, "reconnecting in %us", d);
	sleep(d);
	*delay = *delay * 2 > run->set->backoff_max ?
		run->set->backoff_max : *delay * 2;
	if (*delay == 0)
		*delay = 1;
}

/* Sessions until the offer is done, the budget used, or retries out. */
static int fetch_run(struct fetch_run *run)
{
	unsigned int failures = 0, delay = run->set->backoff;
	int exit_code = EX_OK;

	for (;;) {
		int progress = 0;
		enum conn_result ret = fetch_conn_run(run, &progress,
						      &exit_code);

		if (ret == CONN_DONE)
			return run_exit_code(run, 0);
		if (ret == CONN_FATAL) {
			if (exit_code == EX_PROTOCOL)
				run->protocol_error = 1;
			return exit_code;
		}
		if (progress) {
			failures = 0;
			delay = run->set->backoff;
		}
		if (++failures > run->set->retries ||
		    (run->deadline != 0 && time(NULL) >= run->deadline)) {
			fetch_log(run, "giving up for this run after %u "
				  "failed sessions", failures);
			return run_exit_code(run, 1);
		}
		backoff_sleep(run, &delay);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: shipmail-fetch [-c CONFIG] [--dry-run] "
		"[-q]\n");
	exit(EX_USAGE);
}

int main(int argc, char *argv[])
{
	const char *config_path = SHIPMAIL_CONFIG_DEFAULT;
	struct fetch_settings set;
	struct settings_error err;
	struct fetch_run run;
	struct config *cfg;
	int i, ret;

	memset(&run, 0, sizeof(run));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config_path = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0 ||
			 strcmp(argv[i], "-n") == 0)
			run.dry_run = 1;
		else if (strcmp(argv[i], "-q") == 0)
			run.quiet = 1;
		else
			usage();
	}

	cfg = config_load(config_path, err.text, sizeof(err.text));
	if (cfg == NULL || settings_read(cfg, &set, &err) < 0) {
		fprintf(stderr, "shipmail-fetch: %s: %s\n", config_path,
			err.text);
		config_free(&cfg);
		return EX_CONFIG;
	}
	run.set = &set;
	run.tty = !run.quiet && isatty(STDERR_FILENO);
	run.started = time(NULL);
	if (set.max_time > 0)
		run.deadline = run.started + (time_t)set.max_time;
	signal(SIGPIPE, SIG_IGN);

	run.spool = spool_open(set.spool_dir, err.text, sizeof(err.text));
	if (run.spool == NULL) {
		fprintf(stderr, "shipmail-fetch: spool: %s\n", err.text);
		config_free(&cfg);
		return EX_CANTCREAT;
	}
	if (session_global_init() < 0) {
		fprintf(stderr, "shipmail-fetch: libssh2 does not start\n");
		ret = EX_SOFTWARE;
	} else {
		ret = fetch_run(&run);
		session_global_deinit();
	}
	if (!run.dry_run)
		fetch_log(&run, "done: delivered=%u acked=%u deferred=%u "
			  "oversize_waiting=%u bytes=%llu exit=%d",
			  run.delivered, run.acked, run.deferred, run.oversize,
			  (unsigned long long)run.bytes_received, ret);
	spool_close(&run.spool);
	config_free(&cfg);
	return ret;
}
