/*
 * Delivery status notifications for outbound mail the shore refused for
 * good: see bounce.h.
 */
#define _GNU_SOURCE
#include "bounce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOUNCE_REASON_MAX	400

int bounce_wanted(const struct outbound_envelope *env)
{
	size_t i;

	if (env->sender == NULL || env->sender[0] == '\0')
		return 0;
	for (i = 0; i < env->rcpt_count; i++) {
		unsigned int n = env->rcpts[i].notify;

		if (n == 0 || (n & OUTBOUND_NOTIFY_FAILURE) != 0)
			return 1;
	}
	return 0;
}

int bounce_wants_full(const struct outbound_envelope *env,
		      size_t message_len)
{
	return env->ret == OUTBOUND_RET_FULL && message_len <= BOUNCE_FULL_MAX;
}

size_t bounce_header_len(const char *data, size_t len)
{
	size_t i;

	if (len > BOUNCE_HEADER_MAX)
		len = BOUNCE_HEADER_MAX;
	for (i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		/* An empty line: LF LF, or LF CR LF. */
		if (i + 1 < len && data[i + 1] == '\n')
			return i + 1;
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			return i + 1;
	}
	/* No body, or a header longer than we quote: cut at a line end. */
	while (len > 0 && data[len - 1] != '\n')
		len--;
	return len;
}

/* The shore's reply as one line of printable ASCII. */
static void clean_reason(char *buf, size_t size, const char *reason)
{
	size_t i;

	snprintf(buf, size, "%s", reason);
	for (i = 0; buf[i] != '\0'; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c < 0x20 || c > 0x7e)
			buf[i] = '?';
	}
}

static void rfc5322_date(char *buf, size_t size, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* Lines of the original, LF-ended, NUL made visible. */
static void put_lines(FILE *f, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			continue;
		putc(p[i] == '\0' ? '?' : p[i], f);
	}
	if (len > 0 && p[len - 1] != '\n')
		putc('\n', f);
}

char *bounce_compose(const struct bounce_info *b, size_t *len_r)
{
	const struct outbound_envelope *env = b->env;
	char date[64], arrival[64], reason[BOUNCE_REASON_MAX + 1];
	char boundary[128];
	char *text = NULL;
	size_t i, len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *quoted = b->header;
	size_t quoted_len = b->header_len;
	int full = 0, eight_bit = 0;

	if (f == NULL)
		return NULL;
	rfc5322_date(date, sizeof(date), b->now);
	rfc5322_date(arrival, sizeof(arrival), b->arrival);
	clean_reason(reason, sizeof(reason), b->reason);
	/* The id is hex, the host name ours: neither is in the quoted
	   header as a line of its own. */
	snprintf(boundary, sizeof(boundary), "%s/%s", b->id, b->hostname);
	/* A header cannot hold a line starting with "--"; a body can,
	   and one with our boundary is quoted by its header only. */
	if (b->message != NULL &&
	    memmem(b->message, b->message_len, boundary,
		   strlen(boundary)) == NULL) {
		full = 1;
		quoted = b->message;
		quoted_len = b->message_len;
		for (i = 0; i < quoted_len && !eight_bit; i++)
			eight_bit = (unsigned char)quoted[i] >= 0x80;
	}

	fprintf(f, "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
		"To: <%s>\n"
		"Subject: Undelivered mail returned to sender\n"
		"Date: %s\n"
		"Message-ID: <%lld.%s@%s>\n"
		"Auto-Submitted: auto-replied\n"
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/report; report-type=delivery-status;\n"
		"\tboundary=\"%s\"\n"
		"\n"
		"This is a MIME-encapsulated message.\n"
		"\n"
		"--%s\n"
		"Content-Type: text/plain; charset=us-ascii\n"
		"Content-Description: Notification\n"
		"\n"
		"This is shipmail on %s.\n"
		"\n"
		"Your message could not go ashore: the shore refused it for\n"
		"good, and it will not be tried again.  The shore said:\n"
		"\n"
		"    %s\n"
		"\n"
		"It was for:\n"
		"\n",
		b->hostname, env->sender, date, (long long)b->now, b->id,
		b->hostname, boundary, boundary, b->hostname, reason);
	for (i = 0; i < env->rcpt_count; i++)
		fprintf(f, "    <%s>\n", env->rcpts[i].addr);
	fprintf(f, "\n"
		"%s follows.  The message is kept on the ship, in\n"
		"%s, for the ship's administrator.\n"
		"\n"
		"--%s\n"
		"Content-Type: message/delivery-status\n"
		"\n"
		"Reporting-MTA: dns; %s\n"
		"X-Shipmail-Outbound-Id: %s\n",
		full ? "It" : "Its header", b->kept_in, boundary,
		b->hostname, b->id);
	if (env->envid != NULL)
		fprintf(f, "Original-Envelope-Id: %s\n", env->envid);
	fprintf(f, "Arrival-Date: %s\n", arrival);
	for (i = 0; i < env->rcpt_count; i++) {
		const struct outbound_rcpt *r = &env->rcpts[i];

		fprintf(f, "\nFinal-Recipient: rfc822; %s\n", r->addr);
		if (r->orcpt != NULL)
			fprintf(f, "Original-Recipient: %s\n", r->orcpt);
		fprintf(f, "Action: failed\n"
			"Status: 5.0.0\n"
			"Remote-MTA: dns; shore\n"
			"Diagnostic-Code: smtp; %s\n", reason);
	}
	if (full)
		fprintf(f, "\n"
			"--%s\n"
			"Content-Type: message/rfc822\n"
			"Content-Description: Undelivered Message\n"
			"%s"
			"\n", boundary, eight_bit ?
			"Content-Transfer-Encoding: 8bit\n" : "");
	else
		fprintf(f, "\n"
			"--%s\n"
			"Content-Type: text/rfc822-headers\n"
			"Content-Description: Undelivered Message Headers\n"
			"\n", boundary);
	put_lines(f, quoted, quoted_len);
	fprintf(f, "\n--%s--\n", boundary);
	if (ferror(f)) {
		fclose(f);
		free(text);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	*len_r = len;
	return text;
}
