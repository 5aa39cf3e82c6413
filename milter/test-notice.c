/* Unit tests of the notice text: what a notice says, how it is marked,
   and that nothing from the original message can break its header. */
#include "notice.h"
#include "str.h"
#include "common/handle.h"
#include "common/test-common.h"

#include <string.h>

static const char handle[] = "abcdefghij234567abcd";

static void
inbound_info(struct notice_info *info)
{
	memset(info, 0, sizeof(*info));
	info->notice_from = "Ship mail <postmaster@shore.example>";
	info->to = "alice@ship1.example";
	info->now = 1796126400;	/* Tue, 01 Dec 2026 12:00:00 +0000 */
	info->hostname = "shore.example";
	info->from = " =?UTF-8?Q?Bj=C3=B6rn?= <bjorn@example.org>";
	info->subject = " =?iso-8859-1?q?Rapport_d=E9taill=E9?=";
	info->date = " Tue, 1 Dec 2026 10:00:00 +0100";
	info->size = 1258291;
	info->limit = 200 * 1024;
	info->handle = handle;
	info->request_folder = "Request";
	info->link_bps = 2400;
	info->queue_id = "4Xyz1";
}

/* The header block of a notice, without the blank line. */
static size_t
header_length(const char *text)
{
	const char *end = strstr(text, "\n\n");

	return end != NULL ? (size_t)(end - text) + 1 : 0;
}

/* Number of header fields (lines not starting with a blank). */
static int
header_fields(const char *text)
{
	size_t len = header_length(text);
	int n = 0;

	for (size_t i = 0; i < len; i++) {
		if ((i == 0 || text[i - 1] == '\n') && text[i] != ' ' &&
		    text[i] != '\t')
			n++;
	}
	return n;
}

static void
test_notice_inbound_says_everything(void)
{
	struct notice_info info;
	struct str out = STR_INIT;
	const char *t;

	test_begin("notice: inbound names sender, subject, size, limit, "
		   "handle and how to ask");
	inbound_info(&info);
	notice_inbound(&out, &info);
	t = str_c(&out);
	test_assert(strncmp(t, "From: Ship mail <postmaster@shore.example>\n",
			    43) == 0);
	test_assert(strstr(t, "\nTo: <alice@ship1.example>\n") != NULL);
	test_assert(strstr(t, "\nAuto-Submitted: auto-generated\n") != NULL);
	test_assert(strstr(t, "\nX-Shipmail-Notice: abcdefghij234567abcd\n")
		    != NULL);
	test_assert(strstr(t, "\nDate: Tue, 01 Dec 2026 12:00:00 +0000\n")
		    != NULL);
	test_assert(strstr(t, "\nContent-Type: text/plain; charset=utf-8\n")
		    != NULL);
	test_assert(strstr(t, "  From:     Bj\xc3\xb6rn <bjorn@example.org>\n")
		    != NULL);
	test_assert(strstr(t, "  Subject:  Rapport d\xc3\xa9taill\xc3\xa9\n")
		    != NULL);
	test_assert(strstr(t, "  Date:     Tue, 1 Dec 2026 10:00:00 +0100\n")
		    != NULL);
	test_assert(strstr(t, "  Size:     1.2 MB (1258291 bytes)\n") != NULL);
	test_assert(strstr(t, "  Limit:    200 KB\n") != NULL);
	test_assert(strstr(t, "  Handle:   abcdefghij234567abcd\n") != NULL);
	test_assert(strstr(t, "about 69 minutes") != NULL);
	test_assert(strstr(t, "\"Request\" folder") != NULL);
	test_assert(strstr(t, "shipmail-fetch request alice@ship1.example "
			   "abcdefghij234567abcd\n") != NULL);
	test_assert(strstr(t, "doveadm shipmail request -u "
			   "alice@ship1.example abcdefghij234567abcd\n")
		    != NULL);
	/* The subject is not ASCII: the notice's Subject is encoded. */
	test_assert(strstr(t, "\nSubject: =?UTF-8?B?") != NULL);
	test_assert(header_fields(t) == 10);
	test_assert(out.len < 2000);
	str_free(&out);
	test_end();
}

static void
test_notice_without_headers(void)
{
	struct notice_info info;
	struct str out = STR_INIT;
	const char *t;

	test_begin("notice: mail without From, Subject or Date");
	inbound_info(&info);
	info.from = info.subject = info.date = NULL;
	info.link_bps = 0;
	notice_inbound(&out, &info);
	t = str_c(&out);
	test_assert(strstr(t, "\nSubject: Held on shore\n") != NULL);
	test_assert(strstr(t, "  From:     (none)\n") != NULL);
	test_assert(strstr(t, "  Subject:  (none)\n") != NULL);
	test_assert(strstr(t, "  Date:     (none)\n") != NULL);
	test_assert(strstr(t, "bit/s") == NULL);
	str_free(&out);
	test_end();
}

static void
test_notice_hostile_headers_stay_inside(void)
{
	struct notice_info info;
	struct str out = STR_INIT;
	const char *t;

	test_begin("notice: line breaks in the original cannot add headers");
	inbound_info(&info);
	info.subject = "=?utf-8?q?x=0D=0ABcc:_victim@example.org=0A=0A"
		"fake_body?=";
	info.from = "a\r\nX-Evil: 1";
	info.to = "alice\r\nBcc: x@ship1.example";
	notice_inbound(&out, &info);
	t = str_c(&out);
	test_assert(header_fields(t) == 10);
	test_assert(strstr(t, "\nBcc:") == NULL);
	test_assert(strstr(t, "\nX-Evil") == NULL);
	test_assert(strstr(t, "\r") == NULL);
	test_assert(strstr(t, "  From:     a X-Evil: 1\n") != NULL);
	str_free(&out);
	test_end();
}

static void
test_notice_outbound_hold(void)
{
	static const char *const rcpts[] = {
		"a@x.example", "b@x.example", "c@x.example", "d@x.example",
		"e@x.example", "f@x.example", "g@x.example", "h@x.example",
		"i@x.example", "j@x.example", "k@x.example", "l@x.example",
	};
	struct notice_info info;
	struct str out = STR_INIT;
	const char *t;

	test_begin("notice: outbound hold tells the sender what happens and "
		   "how to release it");
	inbound_info(&info);
	info.to = "alice@ship1.example";
	info.handle = NULL;
	info.queue_id = "4ShipQ1";
	info.rcpts = rcpts;
	info.rcpt_count = 12;
	notice_outbound(&out, &info);
	t = str_c(&out);
	test_assert(strstr(t, "\nAuto-Submitted: auto-generated\n") != NULL);
	test_assert(strstr(t, "\nX-Shipmail-Notice: 4ShipQ1\n") != NULL);
	test_assert(strstr(t, "  To:       a@x.example, b@x.example") != NULL);
	test_assert(strstr(t, "j@x.example and 2 more\n") != NULL);
	test_assert(strstr(t, "k@x.example") == NULL);
	test_assert(strstr(t, "    postsuper -r 4ShipQ1\n") != NULL);
	test_assert(strstr(t, "    postsuper -d 4ShipQ1\n") != NULL);
	test_assert(strstr(t, "  Queue ID: 4ShipQ1\n") != NULL);
	test_assert(strstr(t, "  Limit:    200 KB\n") != NULL);
	str_free(&out);
	test_end();
}

static void
test_notice_size_format(void)
{
	char buf[32];

	test_begin("notice: sizes are written in the config's units");
	notice_format_size(buf, sizeof(buf), 512);
	test_assert_str(buf, "512 bytes");
	notice_format_size(buf, sizeof(buf), 50 * 1024);
	test_assert_str(buf, "50 KB");
	notice_format_size(buf, sizeof(buf), 2 * 1024 * 1024);
	test_assert_str(buf, "2.0 MB");
	test_end();
}

int
main(void)
{
	static void (*const tests[])(void) = {
		test_notice_inbound_says_everything,
		test_notice_without_headers,
		test_notice_hostile_headers_stay_inside,
		test_notice_outbound_hold,
		test_notice_size_format,
		NULL
	};

	return test_run(tests);
}
