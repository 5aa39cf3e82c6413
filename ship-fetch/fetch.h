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
struct outbox;

/* The header naming the shore's copy, put on every delivered message. */
#define FETCH_TRACE_HEADER	"X-Shipmail-Ref"

struct fetch_settings {
	struct session_settings ssh;
	const char *spool_dir;
	unsigned int journal_keep;	/* acknowledged messages remembered */
	const char *lmtp;
	unsigned int compress_mask;
	uint64_t max_bytes;		/* per run, 0: no limit */
	unsigned int max_time;		/* seconds per run, 0: no limit */
	unsigned int retries;		/* failed sessions in a row */
	unsigned int backoff, backoff_max;
	unsigned int lmtp_timeout;
	unsigned int pipeline;		/* FETCH requests in flight */
	char **doveadm_argv;		/* fetch_doveadm, room for 6 more */
	size_t doveadm_argc;
	char **sendmail_argv;		/* fetch_sendmail, room for 6 more */
	size_t sendmail_argc;
	const char *outbound_dir;	/* the ship's outbound spool */
	uint64_t send_max_bytes;	/* per run, 0: no limit */
	uint64_t send_piece;		/* bytes per PUT */
	int compress_level;		/* for what goes ashore */
	const struct config *cfg;	/* for fetch_user_map */
};

/* What "doveadm shipmail requests -A" may print: about 1500 requests. */
#define FETCH_REQUESTS_OUT_MAX	(128 * 1024)

/* A crew's request for held mail, from the ship's Dovecot. */
struct fetch_request {
	char user[PENDING_USER_MAX + 1];	/* the ship's user */
	char handle[SHIPMAIL_HANDLE_LEN + 1];
	int done;				/* answered by the shore */
};

/* What one run has done so far, across its sessions. */
struct fetch_run {
	const struct fetch_settings *set;
	struct spool *spool;
	struct outbox *outbox;		/* NULL: nothing goes ashore */
	struct fetch_request *requests;
	size_t request_count;
	int dry_run, quiet, tty;
	int swept;			/* stale spool files looked for */
	time_t started, deadline;	/* deadline 0: none */

	uint64_t bytes_planned;		/* message bytes planned */
	uint64_t bytes_received;	/* message bytes that arrived */
	unsigned int delivered, acked, deferred, oversize;
	unsigned int sent, requested;
	uint64_t bytes_sent;		/* message bytes that went ashore */
	unsigned int temp_failures, perm_failures;
	int protocol_error;
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

/*
 * Whether the ship's Dovecot holds a message whose trace header
 * (X-Shipmail-Ref) contains this value, in any of rcpt's mailboxes: 1
 * yes, 0 no, -1 cannot tell (error set).  doveadm matches substrings:
 * the value must be delimited so that no other reference contains it.
 */
int fetch_find_delivered(const struct fetch_settings *set, const char *rcpt,
			 const char *ref_value, char *error,
			 size_t error_size);

/* The requests queued in the ship's Dovecot (doveadm shipmail
   requests -A) into run->requests.  0, or -1 after logging why. */
int fetch_requests_load(struct fetch_run *run);

/* The shore has answered a request: drop it from the ship's queue. */
void fetch_request_done(struct fetch_run *run, struct fetch_request *req);

/* The shore's user for a ship user (fetch_user_map read backwards). */
void fetch_unmap_user(const struct fetch_settings *set, const char *user,
		      char *buf, size_t size);

/* The ship's recipient for a shore user (fetch_user_map, else same). */
void fetch_map_user(const struct fetch_settings *set, const char *user,
		    char *buf, size_t size);

/* An upload the shore refused for good (code, text): returned to its
   sender and set aside; see fetch-return.c. */
void fetch_return_upload(struct fetch_run *run, const char *id,
			 unsigned int code, const char *text);

#endif
