#ifndef SHIPMAIL_FETCH_H
#define SHIPMAIL_FETCH_H

/*
 * Shared between shipmail-fetch's main program (fetch.c: settings,
 * retries, exit codes) and its protocol engine (fetch-conn.c: one SSH
 * session from greeting to QUIT).
 */

#include <stdint.h>
#include <sysexits.h>
#include <time.h>

#include "plan.h"
#include "session.h"

struct config;
struct spool;

struct fetch_settings {
	struct session_settings ssh;
	const char *spool_dir;
	const char *lmtp;
	unsigned int compress_mask;
	uint64_t max_bytes;		/* per run, 0: no limit */
	unsigned int max_time;		/* seconds per run, 0: no limit */
	unsigned int retries;		/* failed sessions in a row */
	unsigned int backoff, backoff_max;
	unsigned int lmtp_timeout;
	unsigned int pipeline;		/* FETCH requests in flight */
	const struct config *cfg;	/* for fetch_user_map */
};

/* What one run has done so far, across its sessions. */
struct fetch_run {
	const struct fetch_settings *set;
	struct spool *spool;
	int dry_run, quiet, tty;
	time_t started, deadline;	/* deadline 0: none */

	uint64_t bytes_planned;		/* message bytes planned */
	uint64_t bytes_received;	/* message bytes that arrived */
	unsigned int delivered, acked, deferred, oversize;
	unsigned int temp_failures, perm_failures;
	int protocol_error;
	int budget_hit;
	time_t last_progress;
};

enum conn_result {
	CONN_DONE,		/* the session ended with QUIT */
	CONN_LINK,		/* cut, timeout: reconnect */
	CONN_FATAL,		/* stop the run; exit code in *exit_r */
};

/* One session.  *progress_r is set when any message byte or ack came. */
enum conn_result fetch_conn_run(struct fetch_run *run, int *progress_r,
				int *exit_r);

/* Log one line (stderr), clearing a progress line first. */
void fetch_log(struct fetch_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Show progress on a terminal (no-op otherwise). */
void fetch_progress(struct fetch_run *run, const char *user,
		    uint64_t have, uint64_t size, unsigned int done,
		    unsigned int total);

/* The ship's recipient for a shore user (fetch_user_map, else same). */
void fetch_map_user(const struct fetch_settings *set, const char *user,
		    char *buf, size_t size);

#endif
