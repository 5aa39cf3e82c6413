/*
 * shipmail-fetch: brings the ship's mail from the shore over one SSH
 * session at a time and delivers it to the ship's Dovecot over LMTP.
 *
 *   shipmail-fetch [-c CONFIG] [--dry-run] [-q]
 *   shipmail-fetch [-c CONFIG] request USER HANDLE...
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
 * The same sessions carry the ship's outbound spool ashore
 * (outbound_spool_dir, filled by shipmail-outbound from the ship's
 * Postfix) and the crew's requests for held mail, which the ship's
 * Dovecot queues (doveadm shipmail requests) and which "request" adds
 * to by hand.
 */
#include "fetch.h"
#include "spool.h"
#include "outbox.h"
#include "compress.h"
#include "../common/config.h"
#include "../common/spawn.h"

#include <ctype.h>
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
	int found, backwards;
};

/* One fetch_user_map item: "shore-user=ship-user". */
static void map_item(const char *item, size_t len, void *ctx)
{
	struct map_search *m = ctx;
	const char *eq = memchr(item, '=', len), *key, *value;
	size_t ulen = strlen(m->user), klen, vlen;

	if (m->found || eq == NULL)
		return;
	key = item;
	klen = (size_t)(eq - item);
	value = eq + 1;
	vlen = len - klen - 1;
	if (m->backwards) {
		const char *k = key;
		size_t kl = klen;

		key = value;
		klen = vlen;
		value = k;
		vlen = kl;
	}
	if (klen != ulen || strncasecmp(key, m->user, ulen) != 0 ||
	    vlen == 0 || vlen >= m->size)
		return;
	memcpy(m->buf, value, vlen);
	m->buf[vlen] = '\0';
	m->found = 1;
}

static void map_user(const struct fetch_settings *set, const char *user,
		     char *buf, size_t size, int backwards)
{
	struct map_search m = { user, buf, size, 0, backwards };
	const char *map = config_get(set->cfg, "fetch_user_map", NULL);

	if (map != NULL)
		(void)config_list_foreach(map, map_item, &m);
	if (!m.found)
		snprintf(buf, size, "%s", user);
}

void fetch_map_user(const struct fetch_settings *set, const char *user,
		    char *buf, size_t size)
{
	map_user(set, user, buf, size, 0);
}

void fetch_unmap_user(const struct fetch_settings *set, const char *user,
		      char *buf, size_t size)
{
	map_user(set, user, buf, size, 1);
}

/* --- requests for held mail, through the ship's doveadm -------------- */

/* Run "doveadm shipmail ARGS..." into out; 0 or -1 with error. */
static int doveadm_shipmail(const struct fetch_settings *set,
			    const char *const *args, char *out,
			    size_t out_size, char *error, size_t error_size)
{
	size_t n = set->doveadm_argc, i, count = 0;
	char **argv;
	int ret;

	while (args[count] != NULL)
		count++;
	argv = calloc(n + count + 4, sizeof(*argv));
	if (argv == NULL) {
		snprintf(error, error_size, "out of memory");
		return -1;
	}
	memcpy(argv, set->doveadm_argv, n * sizeof(*argv));
	argv[n++] = "-f";
	argv[n++] = "tab";
	argv[n++] = "shipmail";
	for (i = 0; i < count; i++)
		argv[n++] = (char *)args[i];
	ret = spawn_capture(argv, set->lmtp_timeout, out, out_size, error,
			    error_size);
	free(argv);
	return ret;
}

/* One row of "requests": username, handle, requested, origin, state. */
static int request_row(struct fetch_run *run, char *line)
{
	char *user = line, *handle = strchr(line, '\t'), *end;
	struct fetch_request *grown, *r;

	if (handle == NULL)
		return 0;
	*handle++ = '\0';
	end = strchr(handle, '\t');
	if (end != NULL)
		*end = '\0';
	if (strcmp(user, "username") == 0)
		return 0;		/* the header */
	if (!handle_is_valid(handle, strlen(handle)) || *user == '\0' ||
	    strlen(user) > PENDING_USER_MAX) {
		fetch_log(run, "skipping a request: bad row from doveadm");
		return 0;
	}
	grown = realloc(run->requests,
			(run->request_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	run->requests = grown;
	r = &run->requests[run->request_count++];
	memset(r, 0, sizeof(*r));
	snprintf(r->user, sizeof(r->user), "%s", user);
	memcpy(r->handle, handle, sizeof(r->handle));
	return 0;
}

int fetch_requests_load(struct fetch_run *run)
{
	static const char *const args[] = { "requests", "-A", NULL };
	char *out = malloc(FETCH_REQUESTS_OUT_MAX), error[256], *line;
	int ret = 0;

	if (out == NULL)
		return -1;
	if (doveadm_shipmail(run->set, args, out, FETCH_REQUESTS_OUT_MAX,
			     error, sizeof(error)) < 0) {
		fetch_log(run, "requests for held mail stay queued: doveadm: "
			  "%s", error);
		free(out);
		return -1;
	}
	for (line = out; *line != '\0' && ret == 0;) {
		size_t len = strcspn(line, "\n");
		int last = line[len] == '\0';

		line[len] = '\0';
		ret = request_row(run, line);
		line += len + (last ? 0 : 1);
	}
	free(out);
	return ret;
}

void fetch_request_done(struct fetch_run *run, struct fetch_request *req)
{
	const char *args[] = { "requests-sent", "-u", req->user, req->handle,
			       NULL };
	char out[256], error[256];

	req->done = 1;
	if (doveadm_shipmail(run->set, args, out, sizeof(out), error,
			     sizeof(error)) < 0)
		fetch_log(run, "request user=%s handle=%s stays queued on the "
			  "ship: doveadm: %s", req->user, req->handle, error);
}

/* shipmail-fetch request USER HANDLE...: queued for the next session. */
static int request_command(const struct fetch_settings *set, int argc,
			   char **argv)
{
	const char **args = calloc((size_t)argc + 4, sizeof(*args));
	char out[4096], error[256];
	int i, n = 0, ret;

	if (args == NULL)
		return EX_OSERR;
	args[n++] = "requests-add";
	args[n++] = "-u";
	args[n++] = argv[0];
	for (i = 1; i < argc; i++) {
		/* Handles are lower case; one copied from a notice in
		   capitals is the same handle. */
		for (char *p = argv[i]; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!handle_is_valid(argv[i], strlen(argv[i]))) {
			fprintf(stderr, "shipmail-fetch: %s: not a handle (20 "
				"letters a-z and digits 2-7)\n", argv[i]);
			free(args);
			return EX_USAGE;
		}
		args[n++] = argv[i];
	}
	ret = doveadm_shipmail(set, args, out, sizeof(out), error,
			       sizeof(error));
	free(args);
	if (ret < 0) {
		fprintf(stderr, "shipmail-fetch: doveadm: %s\n", error);
		return EX_TEMPFAIL;
	}
	fputs(out, stdout);
	return EX_OK;
}

/* doveadm search prints "<mailbox GUID> <UID>" for each hit; anything
   else it writes (warnings on stderr) is no hit. */
static int output_has_hit(const char *out)
{
	while (*out != '\0') {
		size_t hex = strspn(out, "0123456789abcdef");

		if (hex == PENDING_GUID_LEN && out[hex] == ' ' &&
		    out[hex + 1] >= '1' && out[hex + 1] <= '9')
			return 1;
		out += strcspn(out, "\n");
		if (*out == '\n')
			out++;
	}
	return 0;
}

int fetch_find_delivered(const struct fetch_settings *set, const char *rcpt,
			 const char *ref_value, char *error,
			 size_t error_size)
{
	char **argv = set->doveadm_argv, out[4096];
	size_t n = set->doveadm_argc;
	int ret;

	argv[n] = "search";
	argv[n + 1] = "-u";
	argv[n + 2] = (char *)rcpt;
	argv[n + 3] = "header";
	argv[n + 4] = FETCH_TRACE_HEADER;
	argv[n + 5] = (char *)ref_value;
	argv[n + 6] = NULL;
	ret = spawn_capture(argv, set->lmtp_timeout, out, sizeof(out),
			    error, error_size);
	argv[n] = NULL;
	if (ret < 0)
		return -1;
	return output_has_hit(out);
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
	unsigned int port, level;

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
		      err) < 0 ||
	    get_count(cfg, "fetch_journal_keep", 10000, 1000000,
		      &set->journal_keep, err) < 0 ||
	    get_count(cfg, "fetch_packet_size", 2048, 32768,
		      &set->ssh.packet_size, err) < 0)
		return -1;
	if (config_get_bool(cfg, "fetch_relay", 0, &set->ssh.relay,
			    err->text, sizeof(err->text)) < 0)
		return -1;
	if (set->ssh.packet_size < 1024) {
		snprintf(err->text, sizeof(err->text), "fetch_packet_size: "
			 "want 1k to 32k");
		return -1;
	}
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
	set->outbound_dir = config_get(cfg, "outbound_spool_dir",
				       "/var/spool/shipmail/outbound");
	if (config_get_size(cfg, "fetch_send_max_bytes", 0,
			    &set->send_max_bytes, err->text,
			    sizeof(err->text)) < 0 ||
	    config_get_size(cfg, "fetch_send_piece", 16384, &set->send_piece,
			    err->text, sizeof(err->text)) < 0 ||
	    get_count(cfg, "fetch_compress_level", 19, 22, &level, err) < 0)
		return -1;
	if (set->send_piece < 512 || set->send_piece > 1024 * 1024 ||
	    level == 0) {
		snprintf(err->text, sizeof(err->text), "fetch_send_piece: "
			 "want 512 to 1M; fetch_compress_level: 1-22");
		return -1;
	}
	set->compress_level = (int)level;
	if (config_get_command(cfg, "fetch_sendmail", "/usr/sbin/sendmail", 6,
			       &set->sendmail_argv, &set->sendmail_argc,
			       err->text, sizeof(err->text)) < 0)
		return -1;
	return config_get_command(cfg, "fetch_doveadm", "/usr/bin/doveadm", 6,
				  &set->doveadm_argv, &set->doveadm_argc,
				  err->text, sizeof(err->text));
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
		"[-q]\n"
		"       shipmail-fetch [-c CONFIG] request USER HANDLE...\n");
	exit(EX_USAGE);
}

/* One line when the journal was compacted, or could not be. */
static void spool_report_compaction(struct fetch_run *run)
{
	size_t before, after;
	int error = spool_compaction(run->spool, &before, &after);

	if (error != 0)
		fetch_log(run, "journal not compacted (%zu lines kept): %s",
			  before, strerror(error));
	else if (after != before)
		fetch_log(run, "journal compacted: %zu lines to %zu", before,
			  after);
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
		else if (strcmp(argv[i], "request") == 0 && i + 2 < argc)
			break;
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
	if (i < argc) {
		ret = request_command(&set, argc - i - 1, argv + i + 1);
		config_command_free(&set.doveadm_argv);
		config_command_free(&set.sendmail_argv);
		config_free(&cfg);
		return ret;
	}
	run.set = &set;
	run.tty = !run.quiet && isatty(STDERR_FILENO);
	run.started = time(NULL);
	if (set.max_time > 0)
		run.deadline = run.started + (time_t)set.max_time;
	signal(SIGPIPE, SIG_IGN);

	run.spool = spool_open(set.spool_dir, set.journal_keep, err.text,
			       sizeof(err.text));
	if (run.spool == NULL) {
		/* A run still going (a slow link outlasts a cron interval)
		   is no fault: this one has nothing to do. */
		ret = errno == EWOULDBLOCK ? EX_TEMPFAIL : EX_CANTCREAT;
		fprintf(stderr, "shipmail-fetch: spool: %s\n", err.text);
		config_command_free(&set.doveadm_argv);
		config_command_free(&set.sendmail_argv);
		config_free(&cfg);
		return ret;
	}
	spool_report_compaction(&run);
	/* Not made here: shipmail-outbound makes it, as the mail user,
	   with the first message; until then there is nothing to send. */
	run.outbox = outbox_open(set.outbound_dir, 0, err.text,
				 sizeof(err.text));
	if (run.outbox != NULL && !run.dry_run)
		outbox_clean_tmp(run.outbox, OUTBOX_TMP_MAX_AGE);
	else if (run.outbox == NULL && errno != ENOENT)
		fetch_log(&run, "nothing goes ashore this run: outbound "
			  "spool: %s", err.text);
	if (!run.dry_run)
		(void)fetch_requests_load(&run);
	if (session_global_init() < 0) {
		fprintf(stderr, "shipmail-fetch: libssh2 does not start\n");
		ret = EX_SOFTWARE;
	} else {
		ret = fetch_run(&run);
		session_global_deinit();
	}
	if (!run.dry_run)
		fetch_log(&run, "done: delivered=%u acked=%u deferred=%u "
			  "oversize_waiting=%u bytes=%llu sent=%u "
			  "sent_bytes=%llu requested=%u exit=%d",
			  run.delivered, run.acked, run.deferred, run.oversize,
			  (unsigned long long)run.bytes_received, run.sent,
			  (unsigned long long)run.bytes_sent, run.requested,
			  ret);
	outbox_close(&run.outbox);
	free(run.requests);
	spool_close(&run.spool);
	config_command_free(&set.doveadm_argv);
	config_command_free(&set.sendmail_argv);
	config_free(&cfg);
	return ret;
}
