/*
 * shipmail-outbound: the ship's Postfix hands mail for the shore to
 * shipmail through this LMTP server (RFC 2033) on standard input and
 * output, started per connection by Postfix's spawn(8).  Each message
 * is stored, with its envelope, in the outbound spool (outbox.h) and
 * fsynced before the recipients' 250 replies go out; shipmail-fetch
 * later uploads it in its SSH session and the shore injects it.
 *
 * When the spool cannot take a message (less than outbound_min_free
 * left, a write or fsync error) every recipient gets 452 4.3.1 and the
 * message stays in Postfix's queue, which retries: nothing is lost and
 * nothing is half-stored.  Free space is checked at MAIL FROM already,
 * so that Postfix defers before sending the data across.
 *
 * The data is streamed into the spool file: memory stays bounded by
 * the input buffer, whatever the message size.  Lines may end in CRLF
 * or a bare LF; they are stored with CRLF, dot-unstuffed.
 *
 * spawn(8) connects standard error to the client too: nothing may be
 * written there once the session runs, so diagnostics go to syslog
 * (facility mail) and, before the greeting, into a 421 reply.
 *
 * BUGS: VRFY and EXPN do not look anything up; the shore decides.
 */
#include "../common/config.h"
#include "outbound.h"
#include "outbox.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#define OUTBOUND_SPOOL_DEFAULT	"/var/spool/shipmail/outbound"
#define OUTBOUND_SIZE_DEFAULT	(10 * 1024 * 1024)
#define IDLE_TIMEOUT_SECS	300
#define COMMAND_MAX		4096	/* ORCPT and ENVID fit, xtext-encoded */
#define DATA_LINE_MAX		(1024 * 1024)
#define IN_BUF_SIZE		(64 * 1024)
#define OUT_BUF_SIZE		(16 * 1024)
#define LOG_FIELD_MAX		256

struct settings {
	const char *spool_dir;
	uint64_t min_free;
	uint64_t max_size;
};

/* What the DATA reader found, decided after the final dot. */
enum data_outcome {
	DATA_OK,
	DATA_TOO_BIG,
	DATA_LINE_TOO_LONG,
	DATA_WRITE_FAILED,
};

struct session {
	struct settings set;
	struct outbox *box;
	char hostname[256];

	unsigned char in[IN_BUF_SIZE];
	size_t in_start, in_end;
	char out[OUT_BUF_SIZE];
	size_t out_used;

	int lhlo_done;
	int in_mail;			/* MAIL FROM accepted */
	uint64_t declared_size;
	struct outbound_envelope env;
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

/* One line per refused transaction: the subject, then why. */
static void
log_refusal(struct session *s, const char *reason)
{
	char from[LOG_FIELD_MAX];

	log_line(LOG_NOTICE, "refused: from=<%s> nrcpt=%zu reason=\"%s\"",
		 log_safe(from, s->env.sender), s->env.rcpt_count, reason);
}

/* ---- output ---- */

static void
out_flush(struct session *s)
{
	size_t done = 0;

	while (done < s->out_used) {
		ssize_t n = write(STDOUT_FILENO, s->out + done,
				  s->out_used - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_line(LOG_WARNING, "lost the client: write: %s",
				 n < 0 ? strerror(errno) : "short write");
			exit(EX_IOERR);
		}
		done += (size_t)n;
	}
	s->out_used = 0;
}

static void
reply(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Queue one reply line (CRLF added); sent when input would block. */
static void
reply(struct session *s, const char *fmt, ...)
{
	va_list args;
	int n;

	if (s->out_used + 1024 > sizeof(s->out))
		out_flush(s);
	va_start(args, fmt);
	n = vsnprintf(s->out + s->out_used, sizeof(s->out) - s->out_used - 2,
		      fmt, args);
	va_end(args);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(s->out) - s->out_used - 3)
		n = (int)(sizeof(s->out) - s->out_used - 3);
	s->out_used += (size_t)n;
	memcpy(s->out + s->out_used, "\r\n", 2);
	s->out_used += 2;
}

/* ---- input ---- */

/*
 * More bytes into the input buffer; replies are flushed first, since
 * the client may wait for them (pipelining: answer, then read).  0 at
 * EOF; exits on the idle timeout.
 */
static int
in_fill(struct session *s)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	ssize_t n;
	int rc;

	out_flush(s);
	if (s->in_start > 0) {
		memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
		s->in_end -= s->in_start;
		s->in_start = 0;
	}
	if (s->in_end == sizeof(s->in))
		return 1;	/* the caller consumes what is there */
	while ((rc = poll(&pfd, 1, IDLE_TIMEOUT_SECS * 1000)) < 0 &&
	       errno == EINTR)
		;
	if (rc == 0) {
		log_line(LOG_INFO, "idle for %d s: closing", IDLE_TIMEOUT_SECS);
		reply(s, "421 4.4.2 %s idle timeout, closing", s->hostname);
		out_flush(s);
		exit(EX_OK);
	}
	do {
		n = read(STDIN_FILENO, s->in + s->in_end,
			 sizeof(s->in) - s->in_end);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		log_line(LOG_WARNING, "lost the client: read: %s",
			 strerror(errno));
		return 0;
	}
	s->in_end += (size_t)n;
	return n > 0;
}

/*
 * The next command line, CR LF or LF stripped, NUL-terminated in the
 * buffer.  NULL at EOF.  A line over COMMAND_MAX is skipped whole and
 * *too_long_r set: the caller refuses it.
 */
static char *
read_command(struct session *s, int *too_long_r)
{
	size_t skipped = 0;

	*too_long_r = 0;
	for (;;) {
		unsigned char *start = s->in + s->in_start;
		size_t avail = s->in_end - s->in_start;
		unsigned char *nl = memchr(start, '\n', avail);

		if (nl != NULL) {
			size_t len = (size_t)(nl - start);

			s->in_start += len + 1;
			if (skipped > 0 || len > COMMAND_MAX) {
				*too_long_r = 1;
				return "";
			}
			if (len > 0 && start[len - 1] == '\r')
				len--;
			start[len] = '\0';
			return (char *)start;
		}
		if (avail > COMMAND_MAX) {
			/* Drop what is there, remember to refuse the line. */
			skipped += avail;
			s->in_start = s->in_end;
		}
		if (!in_fill(s))
			return NULL;
	}
}

/* ---- the transaction ---- */

static void
transaction_reset(struct session *s)
{
	outbound_envelope_free(&s->env);
	s->in_mail = 0;
	s->declared_size = 0;
}

/* ---- parsing MAIL and RCPT ---- */

/*
 * "<path>" at *p: the address into out (at most OUTBOUND_ADDR_MAX
 * bytes), a source route dropped; *p moves past the ">".  Quoted
 * strings may hold ">".  -1 on a syntax error, -2 when too long.
 */
static int
parse_path(const char **p, char *out, size_t out_size)
{
	const char *s = *p;
	size_t len = 0;
	int quoted = 0;

	if (*s++ != '<')
		return -1;
	/* A source route, "@a,@b:user@c", is obsolete: keep the mailbox. */
	if (*s == '@') {
		const char *colon = strchr(s, ':');

		if (colon == NULL)
			return -1;
		s = colon + 1;
	}
	for (; *s != '\0'; s++) {
		if (!quoted && *s == '>')
			break;
		if (*s == '"')
			quoted = !quoted;
		else if (quoted && *s == '\\' && s[1] != '\0') {
			/* The backslash stays: the address is kept as sent. */
			if (len >= out_size - 1)
				return -2;
			out[len++] = *s++;
		}
		if (len >= out_size - 1)
			return -2;
		out[len++] = *s;
	}
	if (*s != '>')
		return -1;
	out[len] = '\0';
	*p = s + 1;
	return 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)toupper((unsigned char)c);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*
 * RFC 3461 xtext: 0x21..0x7e except "+" and "=" as themselves, "+HH"
 * for any byte.  Hex digits of either case are accepted (be liberal);
 * the result must be a value the spool file can hold.  -1 when not.
 */
static int
xtext_decode(const char *s, size_t len, char *out, size_t out_size)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (n + 1 >= out_size)
			return -1;
		if (c == '+') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=') {
			return -1;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* The next "KEY[=VALUE]" parameter after blanks; 0 at the end. */
static int
next_param(const char **p, const char **key_r, size_t *key_len_r,
	   const char **value_r, size_t *value_len_r)
{
	const char *s = *p, *end, *eq;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	end = strchr(s, ' ');
	if (end == NULL)
		end = s + strlen(s);
	eq = memchr(s, '=', (size_t)(end - s));
	*key_r = s;
	*key_len_r = (size_t)((eq != NULL ? eq : end) - s);
	*value_r = eq != NULL ? eq + 1 : NULL;
	*value_len_r = eq != NULL ? (size_t)(end - eq - 1) : 0;
	*p = end;
	return 1;
}

static int
key_is(const char *key, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(key, name, len) == 0;
}

static int
value_is(const char *v, size_t len, const char *word)
{
	return v != NULL && len == strlen(word) &&
		strncasecmp(v, word, len) == 0;
}

/* "FROM:" / "TO:" then optional blanks; NULL when it is not there. */
static const char *
skip_prefix(const char *args, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncasecmp(args, prefix, n) != 0)
		return NULL;
	args += n;
	while (*args == ' ')
		args++;
	return args;
}

/* ---- commands ---- */

static void
cmd_lhlo(struct session *s, const char *args)
{
	if (*args == '\0') {
		reply(s, "501 5.5.4 LHLO needs a host name");
		return;
	}
	transaction_reset(s);
	s->lhlo_done = 1;
	reply(s, "250-%s", s->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %" PRIu64, s->set.max_size);
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-8BITMIME");
	reply(s, "250-DSN");
	reply(s, "250 SMTPUTF8");
}

/* The MAIL FROM parameters into s->env; an error reply when -1. */
static int
mail_params(struct session *s, const char *p)
{
	const char *key, *v;
	size_t klen, vlen;
	char envid[OUTBOUND_ENVID_MAX + 1];
	int seen_size = 0, seen_body = 0, seen_ret = 0;

	while (next_param(&p, &key, &klen, &v, &vlen)) {
		if (key_is(key, klen, "SIZE") && v != NULL && !seen_size) {
			char *end;

			errno = 0;
			s->declared_size = strtoull(v, &end, 10);
			if (vlen == 0 || !isdigit((unsigned char)*v) ||
			    end != v + vlen || errno != 0) {
				reply(s, "501 5.5.4 bad SIZE");
				return -1;
			}
			seen_size = 1;
		} else if (key_is(key, klen, "BODY") && !seen_body &&
			   (value_is(v, vlen, "7BIT") ||
			    value_is(v, vlen, "8BITMIME"))) {
			s->env.body_8bit = v[0] == '8';
			seen_body = 1;
		} else if (key_is(key, klen, "RET") && !seen_ret &&
			   (value_is(v, vlen, "FULL") ||
			    value_is(v, vlen, "HDRS"))) {
			s->env.ret = toupper((unsigned char)v[0]) == 'F' ?
				OUTBOUND_RET_FULL : OUTBOUND_RET_HDRS;
			seen_ret = 1;
		} else if (key_is(key, klen, "ENVID") && v != NULL &&
			   s->env.envid == NULL) {
			if (xtext_decode(v, vlen, envid, sizeof(envid)) < 0) {
				reply(s, "501 5.5.4 bad ENVID (xtext, at most "
				      "%d bytes)", OUTBOUND_ENVID_MAX);
				return -1;
			}
			if ((s->env.envid = strdup(envid)) == NULL) {
				reply(s, "451 4.3.0 out of memory");
				return -1;
			}
		} else if (key_is(key, klen, "SMTPUTF8") && v == NULL &&
			   !s->env.smtputf8) {
			s->env.smtputf8 = 1;
		} else if (key_is(key, klen, "SIZE") ||
			   key_is(key, klen, "BODY") ||
			   key_is(key, klen, "RET") ||
			   key_is(key, klen, "ENVID") ||
			   key_is(key, klen, "SMTPUTF8")) {
			reply(s, "501 5.5.4 bad or repeated %.*s parameter",
			      (int)klen, key);
			return -1;
		} else {
			reply(s, "555 5.5.4 unsupported parameter %.*s",
			      klen > 40 ? 40 : (int)klen, key);
			return -1;
		}
	}
	return 0;
}

static void
cmd_mail(struct session *s, const char *args)
{
	char sender[OUTBOUND_ADDR_MAX + 1], error[256];
	const char *p;
	int rc;

	if (!s->lhlo_done || s->in_mail) {
		reply(s, "503 5.5.1 %s", !s->lhlo_done ? "LHLO first" :
		      "nested MAIL command");
		return;
	}
	if ((p = skip_prefix(args, "FROM:")) == NULL ||
	    (rc = parse_path(&p, sender, sizeof(sender))) == -1) {
		reply(s, "501 5.5.4 syntax: MAIL FROM:<address> [parameters]");
		return;
	}
	if (rc == -2 || !outbound_addr_valid(sender, 1)) {
		reply(s, "501 5.1.7 bad sender address");
		return;
	}
	if ((s->env.sender = strdup(sender)) == NULL) {
		reply(s, "451 4.3.0 out of memory");
		return;
	}
	if (*p != '\0' && *p != ' ') {
		reply(s, "501 5.5.4 syntax: MAIL FROM:<address> [parameters]");
		transaction_reset(s);
		return;
	}
	if (mail_params(s, p) < 0) {
		transaction_reset(s);
		return;
	}
	if (s->declared_size > s->set.max_size) {
		reply(s, "552 5.3.4 message size %" PRIu64 " exceeds the "
		      "outbound limit of %" PRIu64 " bytes", s->declared_size,
		      s->set.max_size);
		log_refusal(s, "declared size over outbound_max_size");
		transaction_reset(s);
		return;
	}
	/* Postfix defers at once rather than sending the data in vain. */
	if (outbox_check_space(s->box, s->set.min_free + s->declared_size,
			       error, sizeof(error)) < 0) {
		reply(s, "452 4.3.1 shipmail outbound spool full");
		log_refusal(s, error);
		transaction_reset(s);
		return;
	}
	s->in_mail = 1;
	reply(s, "250 2.1.0 sender ok");
}

/* NOTIFY=: NEVER alone, or a list of SUCCESS, FAILURE, DELAY. */
static int
parse_notify(const char *v, size_t len, unsigned int *notify_r)
{
	unsigned int notify = 0;

	if (value_is(v, len, "NEVER")) {
		*notify_r = OUTBOUND_NOTIFY_NEVER;
		return 0;
	}
	while (v != NULL && len > 0) {
		const char *comma = memchr(v, ',', len);
		size_t n = comma != NULL ? (size_t)(comma - v) : len;

		if (value_is(v, n, "SUCCESS"))
			notify |= OUTBOUND_NOTIFY_SUCCESS;
		else if (value_is(v, n, "FAILURE"))
			notify |= OUTBOUND_NOTIFY_FAILURE;
		else if (value_is(v, n, "DELAY"))
			notify |= OUTBOUND_NOTIFY_DELAY;
		else
			return -1;
		if (comma == NULL)
			break;
		v += n + 1;
		len -= n + 1;
	}
	*notify_r = notify;
	return notify != 0 ? 0 : -1;
}

/* ORCPT=addr-type;xtext: stored as "addr-type;decoded". */
static int
parse_orcpt(const char *v, size_t len, char *out, size_t out_size)
{
	const char *semi = v != NULL ? memchr(v, ';', len) : NULL;
	size_t type_len;

	if (semi == NULL || semi == v)
		return -1;
	type_len = (size_t)(semi - v);
	if (type_len + 2 > out_size)
		return -1;
	for (size_t i = 0; i < type_len; i++) {
		if (!isalnum((unsigned char)v[i]) && v[i] != '-')
			return -1;
	}
	memcpy(out, v, type_len);
	out[type_len] = ';';
	return xtext_decode(semi + 1, len - type_len - 1, out + type_len + 1,
			    out_size - type_len - 1);
}

static void
cmd_rcpt(struct session *s, const char *args)
{
	char addr[OUTBOUND_ADDR_MAX + 1], orcpt[OUTBOUND_ORCPT_MAX + 1];
	const char *p, *key, *v;
	size_t klen, vlen;
	unsigned int notify = 0;
	int have_orcpt = 0, seen_notify = 0, rc;

	if (!s->in_mail) {
		reply(s, "503 5.5.1 MAIL first");
		return;
	}
	if ((p = skip_prefix(args, "TO:")) == NULL ||
	    (rc = parse_path(&p, addr, sizeof(addr))) == -1 ||
	    (*p != '\0' && *p != ' ')) {
		reply(s, "501 5.5.4 syntax: RCPT TO:<address> [parameters]");
		return;
	}
	if (rc == -2 || !outbound_addr_valid(addr, 0)) {
		reply(s, "501 5.1.3 bad recipient address");
		return;
	}
	while (next_param(&p, &key, &klen, &v, &vlen)) {
		if (key_is(key, klen, "NOTIFY") && !seen_notify &&
		    parse_notify(v, vlen, &notify) == 0) {
			seen_notify = 1;
		} else if (key_is(key, klen, "ORCPT") && !have_orcpt &&
			   parse_orcpt(v, vlen, orcpt, sizeof(orcpt)) == 0) {
			have_orcpt = 1;
		} else if (key_is(key, klen, "NOTIFY") ||
			   key_is(key, klen, "ORCPT")) {
			reply(s, "501 5.5.4 bad or repeated %.*s parameter",
			      (int)klen, key);
			return;
		} else {
			reply(s, "555 5.5.4 unsupported parameter %.*s",
			      klen > 40 ? 40 : (int)klen, key);
			return;
		}
	}
	if (s->env.rcpt_count >= OUTBOUND_RCPT_MAX) {
		reply(s, "452 4.5.3 too many recipients");
		return;
	}
	if (outbound_envelope_add_rcpt(&s->env, addr, notify,
				       have_orcpt ? orcpt : NULL) < 0) {
		reply(s, "451 4.3.0 cannot add the recipient: %s",
		      strerror(errno));
		return;
	}
	reply(s, "250 2.1.5 recipient ok");
}

/* ---- DATA ---- */

struct data_reader {
	struct outbox_writer *w;
	uint64_t max_size, size, line_len;
	int bol, dot, dot_cr, cr;	/* where in a line we are */
	enum data_outcome outcome;
	int error;			/* errno of a failed write */
	char buf[8192];
	size_t used;
};

static void
data_flush(struct data_reader *d)
{
	if (d->used > 0 && d->outcome == DATA_OK &&
	    outbox_writer_write(d->w, d->buf, d->used) < 0) {
		d->outcome = DATA_WRITE_FAILED;
		d->error = errno;
	}
	d->used = 0;
}

/* One byte of the message as stored; bounds are checked here. */
static void
data_emit(struct data_reader *d, char c)
{
	d->size++;
	if (c == '\n') {
		d->line_len = 0;
	} else if (++d->line_len > DATA_LINE_MAX && d->outcome == DATA_OK) {
		d->outcome = DATA_LINE_TOO_LONG;
	}
	if (d->size > d->max_size && d->outcome == DATA_OK)
		d->outcome = DATA_TOO_BIG;
	if (d->outcome != DATA_OK)
		return;		/* read on to the dot, store nothing */
	d->buf[d->used++] = c;
	if (d->used == sizeof(d->buf))
		data_flush(d);
}

static void
data_eol(struct data_reader *d)
{
	data_emit(d, '\r');
	data_emit(d, '\n');
	d->bol = 1;
}

/*
 * Feed one input byte through dot-unstuffing and line-end
 * normalisation.  1 when it ended the data (the lone dot).
 */
static int
data_byte(struct data_reader *d, char c)
{
	if (d->dot_cr) {
		d->dot_cr = 0;
		if (c == '\n')
			return 1;
		d->cr = 1;	/* ".\r" + c: the dot was stuffing */
	}
	if (d->dot) {
		d->dot = 0;
		if (c == '\n')
			return 1;
		if (c == '\r') {
			d->dot_cr = 1;
			return 0;
		}
		/* The leading dot goes (RFC 5321 4.5.2); c is data. */
	}
	if (d->cr) {
		d->cr = 0;
		if (c == '\n') {
			data_eol(d);
			return 0;
		}
		data_emit(d, '\r');	/* a bare CR is kept */
	}
	if (d->bol && c == '.') {
		d->bol = 0;
		d->dot = 1;
		return 0;
	}
	d->bol = 0;
	if (c == '\r')
		d->cr = 1;
	else if (c == '\n')
		data_eol(d);
	else
		data_emit(d, c);
	return 0;
}

/* Read the data up to the lone dot into d; -1 at EOF before it. */
static int
data_read(struct session *s, struct data_reader *d)
{
	for (;;) {
		while (s->in_start < s->in_end) {
			char c = (char)s->in[s->in_start++];

			if (data_byte(d, c)) {
				data_flush(d);
				return 0;
			}
		}
		if (!in_fill(s))
			return -1;
	}
}

/* The same reply for every recipient: LMTP wants one each. */
static void
reply_each(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
reply_each(struct session *s, const char *fmt, ...)
{
	char text[512];
	va_list args;

	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	for (size_t i = 0; i < s->env.rcpt_count; i++)
		reply(s, "%s", text);
}

static void
data_finish(struct session *s, struct data_reader *d)
{
	char id[OUTBOUND_ID_LEN + 1], from[LOG_FIELD_MAX], why[256];

	switch (d->outcome) {
	case DATA_TOO_BIG:
		outbox_writer_abort(&d->w);
		reply_each(s, "552 5.3.4 message size %" PRIu64 " exceeds the "
			   "outbound limit of %" PRIu64 " bytes", d->size,
			   s->set.max_size);
		log_refusal(s, "message over outbound_max_size");
		return;
	case DATA_LINE_TOO_LONG:
		outbox_writer_abort(&d->w);
		reply_each(s, "554 5.6.0 message has a line longer than %d "
			   "bytes", DATA_LINE_MAX);
		log_refusal(s, "line over 1 MB");
		return;
	case DATA_WRITE_FAILED:
		outbox_writer_abort(&d->w);
		break;
	case DATA_OK:
		if (outbox_writer_commit(&d->w, id) == 0) {
			reply_each(s, "250 2.0.0 %s queued for the shore", id);
			log_line(LOG_INFO, "id=%s from=<%s> nrcpt=%zu "
				 "size=%" PRIu64, id,
				 log_safe(from, s->env.sender),
				 s->env.rcpt_count, d->size);
			return;
		}
		d->error = errno;
		break;
	}
	/* Not stored: Postfix keeps the message and tries again. */
	snprintf(why, sizeof(why), "spool write failed: %s",
		 strerror(d->error));
	reply_each(s, "452 4.3.1 shipmail outbound spool: %s",
		   strerror(d->error));
	log_refusal(s, why);
}

/* 0, or -1 when the client went away inside the data. */
static int
cmd_data(struct session *s, const char *args)
{
	struct data_reader d;
	char error[256];

	if (*args != '\0') {
		reply(s, "501 5.5.4 DATA takes no arguments");
		return 0;
	}
	if (!s->in_mail || s->env.rcpt_count == 0) {
		reply(s, "503 5.5.1 %s", !s->in_mail ? "MAIL first" :
		      "no valid recipients");
		return 0;
	}
	memset(&d, 0, sizeof(d));
	d.max_size = s->set.max_size;
	d.bol = 1;
	d.w = outbox_writer_new(s->box, &s->env, s->set.min_free, error,
				sizeof(error));
	if (d.w == NULL) {
		if (errno == ENOSPC)
			reply(s, "452 4.3.1 shipmail outbound spool full");
		else
			reply(s, "451 4.3.0 shipmail outbound spool: %s",
			      strerror(errno));
		log_refusal(s, error);
		transaction_reset(s);
		return 0;
	}
	reply(s, "354 end data with <CR><LF>.<CR><LF>");
	if (data_read(s, &d) < 0) {
		outbox_writer_abort(&d.w);
		log_refusal(s, "the client went away inside DATA");
		return -1;
	}
	data_finish(s, &d);
	transaction_reset(s);
	return 0;
}

/* ---- the session ---- */

/* Split "VERB args": the verb is NUL-terminated in place. */
static char *
split_verb(char *line)
{
	char *sp = strchr(line, ' ');

	if (sp == NULL)
		return line + strlen(line);
	*sp = '\0';
	return sp + 1;
}

static int
session_run(struct session *s)
{
	char *line, *args;
	int too_long;

	reply(s, "220 %s shipmail-outbound LMTP", s->hostname);
	while ((line = read_command(s, &too_long)) != NULL) {
		if (too_long) {
			reply(s, "500 5.5.2 line too long");
			continue;
		}
		args = split_verb(line);
		if (strcasecmp(line, "LHLO") == 0) {
			cmd_lhlo(s, args);
		} else if (strcasecmp(line, "MAIL") == 0) {
			cmd_mail(s, args);
		} else if (strcasecmp(line, "RCPT") == 0) {
			cmd_rcpt(s, args);
		} else if (strcasecmp(line, "DATA") == 0) {
			if (cmd_data(s, args) < 0)
				return EX_OK;
		} else if (strcasecmp(line, "RSET") == 0) {
			transaction_reset(s);
			reply(s, "250 2.0.0 OK");
		} else if (strcasecmp(line, "NOOP") == 0) {
			reply(s, "250 2.0.0 OK");
		} else if (strcasecmp(line, "VRFY") == 0) {
			reply(s, "252 2.5.0 cannot verify, send the mail");
		} else if (strcasecmp(line, "QUIT") == 0) {
			reply(s, "221 2.0.0 %s closing", s->hostname);
			out_flush(s);
			return EX_OK;
		} else if (strcasecmp(line, "HELO") == 0 ||
			   strcasecmp(line, "EHLO") == 0) {
			reply(s, "500 5.5.1 this is LMTP: use LHLO");
		} else {
			reply(s, "500 5.5.2 command not recognized");
		}
	}
	out_flush(s);
	return EX_OK;
}

/* ---- start-up ---- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: shipmail-outbound [-c CONFIG] [-t]\n");
	exit(EX_USAGE);
}

/* The settings; -1 with error set.  cfg must outlive set. */
static int
settings_load(struct settings *set, const struct config *cfg, char *error,
	      size_t error_size)
{
	set->spool_dir = config_get(cfg, "outbound_spool_dir",
				    OUTBOUND_SPOOL_DEFAULT);
	if (set->spool_dir[0] != '/') {
		snprintf(error, error_size, "outbound_spool_dir: needs an "
			 "absolute path, not \"%s\"", set->spool_dir);
		return -1;
	}
	if (config_get_size(cfg, "outbound_min_free", OUTBOUND_SIZE_DEFAULT,
			    &set->min_free, error, error_size) < 0 ||
	    config_get_size(cfg, "outbound_max_size", OUTBOUND_SIZE_DEFAULT,
			    &set->max_size, error, error_size) < 0)
		return -1;
	if (set->max_size == 0) {
		snprintf(error, error_size, "outbound_max_size: must not be 0");
		return -1;
	}
	return 0;
}

/* Refuse the session before it starts: Postfix defers on a 421. */
static int
refuse_session(const char *hostname, int status, const char *error)
{
	char line[512];
	int n;

	log_line(LOG_ERR, "%s", error);
	n = snprintf(line, sizeof(line), "421 4.3.0 %s shipmail-outbound: "
		     "local configuration problem, try again later\r\n",
		     hostname);
	if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) < 0)
		return status;
	return status;
}

int
main(int argc, char **argv)
{
	const char *path = SHIPMAIL_CONFIG_DEFAULT;
	char error[CONFIG_ERROR_MAX];
	struct session *s;
	struct config *cfg;
	int check = 0, opt, rc, fd;

	while ((opt = getopt(argc, argv, "c:t")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': check = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return EX_OSERR;
	cfg = config_load(path, error, sizeof(error));
	if (check) {
		if (cfg == NULL ||
		    settings_load(&s->set, cfg, error, sizeof(error)) < 0) {
			fprintf(stderr, "shipmail-outbound: %s\n", error);
			return EX_CONFIG;
		}
		printf("%s: ok (outbound_spool_dir = %s, outbound_min_free = "
		       "%" PRIu64 ", outbound_max_size = %" PRIu64 ")\n", path,
		       s->set.spool_dir, s->set.min_free, s->set.max_size);
		config_free(&cfg);
		free(s);
		return EX_OK;
	}

	/* spawn(8) gives standard error to the client: keep it quiet. */
	if ((fd = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(fd, STDERR_FILENO);
		if (fd != STDERR_FILENO)
			close(fd);
	}
	signal(SIGPIPE, SIG_IGN);
	openlog("shipmail-outbound", LOG_PID, LOG_MAIL);
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		strcpy(s->hostname, "localhost");

	if (cfg == NULL)
		return refuse_session(s->hostname, EX_CONFIG, error);
	if (settings_load(&s->set, cfg, error, sizeof(error)) < 0)
		return refuse_session(s->hostname, EX_CONFIG, error);
	if ((s->box = outbox_open(s->set.spool_dir, 1, error,
				  sizeof(error))) == NULL)
		return refuse_session(s->hostname, EX_TEMPFAIL, error);

	rc = session_run(s);
	transaction_reset(s);
	outbox_close(&s->box);
	config_free(&cfg);
	free(s);
	closelog();
	return rc;
}
