/*
 * shipmail-milter: the size policy for mail that crosses the ship's
 * satellite link, as a libmilter filter for Postfix.
 *
 * On shore (milter_role = shore) mail to ship recipients that is over a
 * recipient's limit is accepted and kept on shore: it gets a header with
 * a random handle, and each such recipient gets a short notice.  A
 * handle header that mail brings with it is removed on shore, so that
 * every handle in the pending index is one the milter made.  On the
 * ship (milter_role = ship) mail leaving the ship that is over the
 * sender's limit is rejected with 552 5.3.4 or held in Postfix's hold
 * queue with a notice to the sender.
 *
 * This file is the libmilter glue: options, the callbacks, the actions
 * and the log.  The decisions are in message.c and policy.c, the notice
 * text in notice.c, running the notice command in spawn.c.
 *
 * BUGS: several messages of one session are handled one after the
 * other; a notice command that hangs holds up that session until
 * milter_notice_timeout.  Mail with one recipient over the limit and
 * another under it carries the handle header in both copies (the
 * handle names the message, not the copy).
 */
#include "common/config.h"
#include "common/handle.h"
#include "message.h"
#include "notice.h"
#include "policy.h"
#include "common/spawn.h"
#include "str.h"

#include <libmilter/mfapi.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/* The largest milter packet accepted: above Postfix's header limit. */
#define MILTER_PACKET_MAX	(1024 * 1024)

/* Peer strings in a log line are cut to this and made printable. */
#define LOG_FIELD_MAX	256

static struct policy policy;
static int verbose;
static char hostname[256] = "localhost";

/* Per SMTP session: the current message and what was negotiated. */
struct conn {
	struct message msg;
	int leading_space;	/* header values keep their blanks */
	int no_reply;		/* SMFIP_NR_* bits the MTA accepted */
};

/* ---- log ---- */

static void
log_line(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
log_line(int priority, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsyslog(priority, fmt, args);
	va_end(args);
}

/* A peer's string for a log line: printable ASCII, bounded. */
static const char *
log_safe(char buf[LOG_FIELD_MAX], const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < LOG_FIELD_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c < 0x20 || c >= 0x7f || c == '"' ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}

/* ---- one place for failures ---- */

/*
 * Something inside the milter failed for this message: apply
 * milter_error_action.  Accept lets the mail through unchanged (it is
 * delivered as if there were no milter); tempfail makes the client try
 * again later.  Either way nothing is lost.
 */
static sfsistat
milter_fail(SMFICTX *ctx, struct conn *c, const char *what)
{
	const char *id = c != NULL ? c->msg.queue_id : "NOQUEUE";

	if (policy.error_action == FAIL_ACCEPT) {
		log_line(LOG_ERR, "%s: action=accept reason=error error=\"%s\"",
			 id, what);
		return SMFIS_ACCEPT;
	}
	log_line(LOG_ERR, "%s: action=tempfail reason=error error=\"%s\"",
		 id, what);
	smfi_setreply(ctx, "451", "4.3.0",
		      "shipmail: temporary local problem, try again later");
	return SMFIS_TEMPFAIL;
}

/* ---- notices ---- */

/* Run the notice command for one recipient; 0 or -1 with error set. */
static int
notice_send(const char *to, const struct str *text, char *error,
	    size_t error_size)
{
	char **argv = xmalloc((policy.notice_argc + 2) * sizeof(char *));
	int rc;

	memcpy(argv, policy.notice_argv, policy.notice_argc * sizeof(char *));
	argv[policy.notice_argc] = (char *)to;
	argv[policy.notice_argc + 1] = NULL;
	rc = spawn_run(argv, str_c(text), text->len, policy.notice_timeout,
		       error, error_size);
	free(argv);
	return rc;
}

static void
notice_info_init(struct notice_info *info, const struct message *msg,
		 const char *to, uint64_t limit)
{
	memset(info, 0, sizeof(*info));
	info->notice_from = policy.notice_from;
	info->to = to;
	info->now = time(NULL);
	info->hostname = hostname;
	info->from = msg->from;
	info->subject = msg->subject;
	info->date = msg->date;
	info->size = message_size(msg);
	info->limit = limit;
	info->request_folder = policy.request_folder;
	info->link_bps = policy.link_bps;
	info->queue_id = msg->queue_id;
}

/* ---- shore: oversize mail kept on shore ---- */

/* Notify one oversize recipient; returns the "notice=..." log text. */
static int
shore_notify(const struct message *msg, const struct message_rcpt *r,
	     const char *handle, char *result, size_t size)
{
	struct notice_info info;
	struct str text = STR_INIT;
	char error[256];
	int rc;

	notice_info_init(&info, msg, r->addr, r->limit);
	info.handle = handle;
	notice_inbound(&text, &info);
	rc = notice_send(r->addr, &text, error, sizeof(error));
	str_free(&text);
	if (rc < 0)
		snprintf(result, size, "notice=failed error=\"%s\"", error);
	else
		snprintf(result, size, "notice=sent");
	return rc;
}

static void
shore_log(const struct message *msg, const struct message_rcpt *r,
	  const char *handle, const char *result)
{
	char from[LOG_FIELD_MAX], rcpt[LOG_FIELD_MAX];

	log_line(LOG_INFO, "%s: action=oversize size=%" PRIu64
		 " limit=%" PRIu64 " declared=%" PRIu64
		 " from=<%s> rcpt=<%s> handle=%s %s",
		 msg->queue_id, message_size(msg), r->limit, msg->declared,
		 log_safe(from, msg->sender), log_safe(rcpt, r->addr), handle,
		 result);
}

static sfsistat
shore_tempfail_notice(SMFICTX *ctx, const struct message *msg,
		      const struct message_rcpt *r, const char *result)
{
	char rcpt[LOG_FIELD_MAX];

	log_line(LOG_WARNING, "%s: action=tempfail reason=notice-failed "
		 "size=%" PRIu64 " limit=%" PRIu64 " rcpt=<%s> %s",
		 msg->queue_id, message_size(msg), r->limit,
		 log_safe(rcpt, r->addr), result);
	smfi_setreply(ctx, "451", "4.3.0",
		      "shipmail: cannot send the oversize notice now, "
		      "try again later");
	return SMFIS_TEMPFAIL;
}

/*
 * Remove the handle headers the message came with.  The Dovecot plugin
 * records the first one it finds: left in place, a sender's header
 * would name the held message in the index, and the handle of the
 * notice would then release nothing.  Last first, so that the indexes
 * of the others stay as they were.
 */
static int
shore_strip_handles(SMFICTX *ctx, const struct message *msg)
{
	char from[LOG_FIELD_MAX];

	if (msg->handle_headers == 0)
		return 0;
	for (unsigned int i = msg->handle_headers; i > 0; i--) {
		if (smfi_chgheader(ctx, SHIPMAIL_HANDLE_HEADER, (int)i,
				   NULL) != MI_SUCCESS)
			return -1;
	}
	log_line(LOG_NOTICE, "%s: action=strip header=%s count=%u "
		 "from=<%s>", msg->queue_id, SHIPMAIL_HANDLE_HEADER,
		 msg->handle_headers, log_safe(from, msg->sender));
	return 0;
}

static sfsistat
shore_end_of_message(SMFICTX *ctx, struct conn *c)
{
	struct message *msg = &c->msg;
	char handle[SHIPMAIL_HANDLE_LEN + 1], result[320];
	const char *why = NULL;
	int may_notify;

	if (shore_strip_handles(ctx, msg) < 0)
		return milter_fail(ctx, c, "cannot remove a handle header");
	if (message_decide_shore(msg) == 0)
		return SMFIS_CONTINUE;

	if (handle_generate(handle) < 0)
		return milter_fail(ctx, c, "no randomness for a handle");
	if (smfi_addheader(ctx, SHIPMAIL_HANDLE_HEADER, handle) != MI_SUCCESS)
		return milter_fail(ctx, c, "cannot add the handle header");

	may_notify = message_may_notify(msg, &policy, &why);
	for (size_t i = 0; i < msg->rcpt_count; i++) {
		const struct message_rcpt *r = &msg->rcpts[i];

		if (!r->over)
			continue;
		if (!may_notify) {
			snprintf(result, sizeof(result),
				 "notice=skipped reason=%s", why);
		} else if (shore_notify(msg, r, handle, result,
					sizeof(result)) < 0 &&
			   policy.notice_failure == FAIL_TEMPFAIL) {
			return shore_tempfail_notice(ctx, msg, r, result);
		}
		shore_log(msg, r, handle, result);
	}
	return SMFIS_CONTINUE;
}

/* ---- ship: mail leaving the ship ---- */

static sfsistat
ship_reject(SMFICTX *ctx, struct message *msg, uint64_t size,
	    uint64_t limit, const char *stage, const char *rcpt_addr)
{
	char text[200], s[32], l[32], from[LOG_FIELD_MAX], rcpt[LOG_FIELD_MAX];

	notice_format_size(s, sizeof(s), size);
	notice_format_size(l, sizeof(l), limit);
	snprintf(text, sizeof(text), "Message too big for the ship's "
		 "satellite link: size %s, limit %s", s, l);
	log_line(LOG_INFO, "%s: action=reject stage=%s size=%" PRIu64
		 " limit=%" PRIu64 " from=<%s> rcpt=<%s>", msg->queue_id,
		 stage, size, limit, log_safe(from, msg->sender),
		 log_safe(rcpt, rcpt_addr));
	smfi_setreply(ctx, "552", "5.3.4", text);
	return SMFIS_REJECT;
}

/* The addresses of the recipients off the ship, for the hold notice. */
static const char **
ship_leaving_rcpts(const struct message *msg, size_t *count_r)
{
	const char **list = xmalloc((msg->rcpt_count + 1) * sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; i < msg->rcpt_count; i++) {
		if (!msg->rcpts[i].ship)
			list[n++] = msg->rcpts[i].addr;
	}
	*count_r = n;
	return list;
}

/* Notify the sender of held mail; 0, or -1 with result describing it. */
static int
ship_notify(const struct message *msg, uint64_t limit, char *result,
	    size_t size)
{
	struct notice_info info;
	struct str text = STR_INIT;
	const char **rcpts;
	const char *why = NULL;
	char error[256];
	int rc;

	if (*msg->sender == '\0') {
		snprintf(result, size, "notice=skipped reason=null-sender");
		return 0;
	}
	if (!message_may_notify(msg, &policy, &why)) {
		snprintf(result, size, "notice=skipped reason=%s", why);
		return 0;
	}
	notice_info_init(&info, msg, msg->sender, limit);
	rcpts = ship_leaving_rcpts(msg, &info.rcpt_count);
	info.rcpts = rcpts;
	notice_outbound(&text, &info);
	rc = notice_send(msg->sender, &text, error, sizeof(error));
	if (rc < 0)
		snprintf(result, size, "notice=failed error=\"%s\"", error);
	else
		snprintf(result, size, "notice=sent");
	free(rcpts);
	str_free(&text);
	return rc;
}

/*
 * Hold first, then notify: the notice must not promise a hold that
 * Postfix refused.  A notice that fails under milter_notice_failure =
 * tempfail defers the message, and Postfix drops the hold request.
 */
static sfsistat
ship_hold(SMFICTX *ctx, struct conn *c, uint64_t limit)
{
	struct message *msg = &c->msg;
	char result[320], from[LOG_FIELD_MAX], rcpt[LOG_FIELD_MAX];
	int failed;

	if (smfi_quarantine(ctx, "shipmail: over the sending limit") !=
	    MI_SUCCESS)
		return milter_fail(ctx, c, "cannot put the message on hold");

	failed = ship_notify(msg, limit, result, sizeof(result)) < 0 &&
		policy.notice_failure == FAIL_TEMPFAIL;
	log_line(LOG_INFO, "%s: action=%s size=%" PRIu64 " limit=%" PRIu64
		 " from=<%s> rcpt=<%s> nrcpt=%zu %s", msg->queue_id,
		 failed ? "tempfail reason=notice-failed" : "hold",
		 message_size(msg), limit, log_safe(from, msg->sender),
		 log_safe(rcpt, msg->rcpt_count > 0 ? msg->rcpts[0].addr : ""),
		 msg->rcpt_count, result);
	if (failed) {
		smfi_setreply(ctx, "451", "4.3.0",
			      "shipmail: cannot send the hold notice now, "
			      "try again later");
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
ship_end_of_message(SMFICTX *ctx, struct conn *c)
{
	uint64_t limit;
	struct message *msg = &c->msg;

	switch (message_decide_ship(msg, &policy, &limit)) {
	case SHIP_PASS:
		return SMFIS_CONTINUE;
	case SHIP_REJECT:
		return ship_reject(ctx, msg, message_size(msg), limit, "eom",
				   msg->rcpt_count > 0 ?
				   msg->rcpts[0].addr : "");
	case SHIP_HOLD:
		return ship_hold(ctx, c, limit);
	}
	return milter_fail(ctx, c, "unknown verdict");
}

/* ---- libmilter callbacks ---- */

static struct conn *
conn_get(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c == NULL) {
		c = xmalloc(sizeof(*c));
		memset(c, 0, sizeof(*c));
		message_init(&c->msg);
		smfi_setpriv(ctx, c);
	}
	return c;
}

static void
conn_queue_id(SMFICTX *ctx, struct conn *c)
{
	message_set_queue_id(&c->msg, smfi_getsymval(ctx, "i"));
}

/*
 * Ask only for what the policy needs: no connect, HELO, DATA or unknown
 * command events, and no reply to each header and body chunk (the MTA
 * then streams them), which is most of a milter's per-message cost.
 */
static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	     unsigned long f2, unsigned long f3, unsigned long *pf0,
	     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want = SMFIP_NOCONNECT | SMFIP_NOHELO |
		SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_HDR |
		SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC;
	struct conn *c = conn_get(ctx);

	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
	*pf1 = f1 & want;
	*pf2 = 0;
	*pf3 = 0;
	c->leading_space = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	c->no_reply = (int)(*pf1 & (SMFIP_NR_HDR | SMFIP_NR_EOH |
				    SMFIP_NR_BODY));
	return SMFIS_CONTINUE;
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_get(ctx);

	message_reset(&c->msg);
	conn_queue_id(ctx, c);
	message_set_sender(&c->msg, argv);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_get(ctx);
	uint64_t limit = 0;

	char *addr;
	sfsistat rc;

	conn_queue_id(ctx, c);
	if (message_add_rcpt(&c->msg, &policy, argv[0], &limit) !=
	    EARLY_REJECT)
		return SMFIS_CONTINUE;
	addr = policy_address(argv[0]);
	rc = ship_reject(ctx, &c->msg, c->msg.declared, limit, "rcpt", addr);
	free(addr);
	return rc;
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = conn_get(ctx);

	message_header(&c->msg, name, value, c->leading_space);
	return (c->no_reply & SMFIP_NR_HDR) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
cb_eoh(SMFICTX *ctx)
{
	struct conn *c = conn_get(ctx);

	message_end_of_header(&c->msg);
	return (c->no_reply & SMFIP_NR_EOH) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct conn *c = conn_get(ctx);

	message_body(&c->msg, len);
	return (c->no_reply & SMFIP_NR_BODY) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	struct conn *c = conn_get(ctx);
	sfsistat rc;

	conn_queue_id(ctx, c);
	if (verbose) {
		log_line(LOG_DEBUG, "%s: size=%" PRIu64 " header=%" PRIu64
			 " body=%" PRIu64 " nrcpt=%zu", c->msg.queue_id,
			 message_size(&c->msg), c->msg.header_bytes,
			 c->msg.body_bytes, c->msg.rcpt_count);
	}
	rc = policy.role == ROLE_SHORE ? shore_end_of_message(ctx, c) :
		ship_end_of_message(ctx, c);
	message_reset(&c->msg);
	return rc;
}

static sfsistat
cb_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		message_reset(&c->msg);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL) {
		message_reset(&c->msg);
		free(c->msg.sender);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc milter_desc = {
	.xxfi_name = "shipmail-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};

/* ---- start-up ---- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: shipmail-milter [-c CONFIG] [-s SOCKET] "
		"[-f] [-t] [-v]\n");
	exit(EX_USAGE);
}

/* Load and check the configuration; exits EX_CONFIG on any error. */
static void
load_policy(const char *path)
{
	char error[CONFIG_ERROR_MAX];
	struct config *cfg = config_load(path, error, sizeof(error));

	if (cfg == NULL) {
		fprintf(stderr, "shipmail-milter: %s\n", error);
		exit(EX_CONFIG);
	}
	if (policy_load(&policy, cfg, path, error, sizeof(error)) < 0) {
		fprintf(stderr, "shipmail-milter: %s\n", error);
		config_free(&cfg);
		exit(EX_CONFIG);
	}
	config_free(&cfg);
}

static int
run_milter(int foreground)
{
	/* Postfix passes a header of up to header_size_limit (100 KB by
	   default) in one packet; libmilter's default would drop the
	   session, and Postfix would apply milter_default_action. */
	smfi_setmaxdatasize(MILTER_PACKET_MAX);
	if (smfi_setconn(policy.socket) != MI_SUCCESS ||
	    smfi_register(milter_desc) != MI_SUCCESS) {
		fprintf(stderr, "shipmail-milter: cannot set up %s\n",
			policy.socket);
		return EX_SOFTWARE;
	}
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "shipmail-milter: cannot listen on %s\n",
			policy.socket);
		return EX_UNAVAILABLE;
	}
	if (!foreground && daemon(0, 0) < 0) {
		fprintf(stderr, "shipmail-milter: daemon: %s\n",
			strerror(errno));
		return EX_OSERR;
	}
	log_line(LOG_INFO, "starting: role=%s socket=%s",
		 policy.role == ROLE_SHORE ? "shore" : "ship", policy.socket);
	return smfi_main() == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}

int
main(int argc, char **argv)
{
	const char *path = SHIPMAIL_CONFIG_DEFAULT, *socket = NULL;
	int foreground = 0, check = 0, opt, rc;

	while ((opt = getopt(argc, argv, "c:s:ftv")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 's': socket = optarg; break;
		case 'f': foreground = 1; break;
		case 't': check = 1; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	load_policy(path);
	if (socket != NULL) {
		free(policy.socket);
		policy.socket = xstrdup(socket);
	}
	if (check) {
		printf("%s: ok (milter_role = %s)\n", path,
		       policy.role == ROLE_SHORE ? "shore" : "ship");
		policy_free(&policy);
		return EX_OK;
	}

	/* A notice command that exits early must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	gethostname(hostname, sizeof(hostname) - 1);
	openlog("shipmail-milter", LOG_PID | (verbose && foreground ?
					      LOG_PERROR : 0), LOG_MAIL);
	if (!verbose)
		setlogmask(LOG_UPTO(LOG_INFO));
	rc = run_milter(foreground);
	policy_free(&policy);
	closelog();
	return rc;
}
