/*
 * Composing oversize and hold notices: see notice.h.
 *
 * Not done here: deciding whether a notice is due (message.c) or sending
 * it (spawn.c).  The wording is English only.
 * XXX no localisation: a crew that reads another language gets English.
 */
#include "notice.h"
#include "mime.h"
#include "str.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Recipients an outbound notice lists before "and N more". */
#define NOTICE_RCPTS_SHOWN	10

void
notice_format_size(char *buf, size_t size, uint64_t bytes)
{
	if (bytes >= 1024 * 1024)
		snprintf(buf, size, "%.1f MB", (double)bytes / (1024 * 1024));
	else if (bytes >= 1024)
		snprintf(buf, size, "%.0f KB", (double)bytes / 1024);
	else
		snprintf(buf, size, "%" PRIu64 " bytes", bytes);
}

/* RFC 5322 date in UTC; gmtime_r keeps it thread-safe. */
static void
format_date(char *buf, size_t size, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* Envelope strings (address, queue ID) reach a header: keep them to
   one line of printable ASCII whatever they hold. */
static char *
printable(const char *s)
{
	char *copy = xstrdup(s);

	for (char *p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	}
	return copy;
}

/* The header lines every notice shares. */
static void
write_header(struct str *out, const struct notice_info *info,
	     const char *subject, const char *about)
{
	char date[64];
	char *to = printable(info->to);

	format_date(date, sizeof(date), info->now);
	str_printf(out, "From: %s\n", info->notice_from);
	str_printf(out, "To: <%s>\n", to);
	free(to);
	mime_write_header(out, "Subject", subject);
	str_printf(out, "Date: %s\n", date);
	str_printf(out, "Message-ID: <shipmail.%lld.%s@%s>\n",
		   (long long)info->now, about, info->hostname);
	str_puts(out, "Auto-Submitted: auto-generated\n");
	str_printf(out, "%s: %s\n", SHIPMAIL_NOTICE_HEADER, about);
	str_puts(out, "MIME-Version: 1.0\n"
		 "Content-Type: text/plain; charset=utf-8\n"
		 "Content-Transfer-Encoding: 8bit\n\n");
}

/* Subject for the notice: a prefix and the original's subject. */
static char *
notice_subject(const char *prefix, const char *original)
{
	struct str s = STR_INIT;

	str_puts(&s, prefix);
	if (*original != '\0') {
		str_puts(&s, ": ");
		str_puts(&s, original);
	}
	return str_steal(&s);
}

/* The "From / Subject / Date / Size / Limit" block of the body. */
static void
write_facts(struct str *out, const char *from, const char *subject,
	    const struct notice_info *info)
{
	char size[32], limit[32];
	char *date = mime_decode_header(info->date, NOTICE_FIELD_MAX);

	notice_format_size(size, sizeof(size), info->size);
	notice_format_size(limit, sizeof(limit), info->limit);
	str_printf(out, "  From:     %s\n", *from != '\0' ? from : "(none)");
	str_printf(out, "  Subject:  %s\n",
		   *subject != '\0' ? subject : "(none)");
	str_printf(out, "  Date:     %s\n", *date != '\0' ? date : "(none)");
	str_printf(out, "  Size:     %s (%" PRIu64 " bytes)\n", size,
		   info->size);
	str_printf(out, "  Limit:    %s\n", limit);
	free(date);
}

/* "about 12 minutes" for the transfer at the link's raw speed. */
static void
write_estimate(struct str *out, const struct notice_info *info)
{
	uint64_t secs;

	if (info->link_bps == 0)
		return;
	secs = info->size * 8 / info->link_bps;
	if (secs < 120)
		str_printf(out, "At %u bit/s it would take about %" PRIu64
			   " seconds to send.\n", info->link_bps, secs);
	else if (secs < 2 * 3600)
		str_printf(out, "At %u bit/s it would take about %" PRIu64
			   " minutes to send.\n", info->link_bps, secs / 60);
	else
		str_printf(out, "At %u bit/s it would take about %" PRIu64
			   " hours to send.\n", info->link_bps, secs / 3600);
}

void
notice_inbound(struct str *out, const struct notice_info *info)
{
	char *to = printable(info->to);
	char *from = mime_decode_header(info->from, NOTICE_FIELD_MAX);
	char *subject = mime_decode_header(info->subject, NOTICE_FIELD_MAX);
	char *title = notice_subject("Held on shore", subject);

	write_header(out, info, title, info->handle);
	str_puts(out,
		 "A message for you is larger than the ship's limit, so it was "
		 "kept on shore\nand not sent over the satellite link.\n\n");
	write_facts(out, from, subject, info);
	str_printf(out, "  Handle:   %s\n\n", info->handle);
	write_estimate(out, info);
	str_printf(out,
		   "\nTo have it sent to the ship anyway, do one of these:\n"
		   "  - move this notice into your \"%s\" folder;\n"
		   "  - on the ship, run:\n"
		   "      shipmail-fetch request %s %s\n"
		   "  - ask the shore's mail administrator to run:\n"
		   "      doveadm shipmail request -u %s %s\n"
		   "It then comes with the next mail transfer.  Otherwise it "
		   "stays on shore.\n",
		   info->request_folder, to, info->handle, to, info->handle);
	free(to);
	free(from);
	free(subject);
	free(title);
}

static void
write_recipients(struct str *out, const struct notice_info *info)
{
	size_t shown = info->rcpt_count < NOTICE_RCPTS_SHOWN ?
		info->rcpt_count : NOTICE_RCPTS_SHOWN;

	str_puts(out, "  To:       ");
	for (size_t i = 0; i < shown; i++) {
		char *r = mime_decode_header(info->rcpts[i], NOTICE_FIELD_MAX);

		str_printf(out, "%s%s", i > 0 ? ", " : "", r);
		free(r);
	}
	if (info->rcpt_count > shown)
		str_printf(out, " and %zu more", info->rcpt_count - shown);
	str_putc(out, '\n');
}

void
notice_outbound(struct str *out, const struct notice_info *info)
{
	char *from = mime_decode_header(info->from, NOTICE_FIELD_MAX);
	char *subject = mime_decode_header(info->subject, NOTICE_FIELD_MAX);
	char *title = notice_subject("Held on the ship", subject);
	char *queue_id = printable(info->queue_id);

	write_header(out, info, title, queue_id);
	str_puts(out,
		 "Your message is larger than the ship's sending limit, so it "
		 "was not sent\nashore.  It is held in the ship's mail queue; "
		 "nothing more happens to it\nuntil the ship's mail "
		 "administrator decides.\n\n");
	write_recipients(out, info);
	write_facts(out, from, subject, info);
	str_printf(out, "  Queue ID: %s\n\n", queue_id);
	str_printf(out,
		   "The administrator can send it anyway with\n"
		   "    postsuper -r %s\n"
		   "(it then goes ashore with the next transfer), or delete it "
		   "with\n"
		   "    postsuper -d %s\n"
		   "If you do not need it to go, ask for it to be deleted, and "
		   "send a smaller\nmessage instead (for instance a link "
		   "rather than an attachment).\n",
		   queue_id, queue_id);
	free(queue_id);
	free(from);
	free(subject);
	free(title);
}
