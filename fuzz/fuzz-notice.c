/*
 * Fuzz harness for notice composition (milter/notice.h).
 *
 * Notices quote what a stranger wrote: the From, Subject and Date of the
 * original, and envelope addresses.  The input gives the size and link
 * speed, then NUL-separated From, Subject, Date, envelope address, queue
 * ID and recipients; the settings a site writes are fixed.  Both the
 * inbound and the outbound notice must be:
 *   - valid UTF-8 without a control character other than LF, and no
 *     character that reorders text (what mime_decode_header removes);
 *   - a header of exactly the ten fields a notice has, in order, in
 *     printable ASCII, continued only on lines that start with a space;
 *   - a body with as many lines as the same notice about a message
 *     whose strings are all empty: nothing a stranger writes adds a
 *     line;
 *   - a Subject that decodes to the notice's title with the original
 *     subject decoded, and a body that shows that subject.
 */
#include "milter/notice.h"
#include "milter/mime.h"
#include "milter/str.h"
#include "fuzz-input.h"

#define RCPTS_MAX	16

static const char *const fields[] = {
	"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
	SHIPMAIL_NOTICE_HEADER, "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding",
};
#define FIELD_COUNT (sizeof(fields) / sizeof(fields[0]))

static int
is_unsafe(uint32_t cp)
{
	return (cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f) ||
		cp == 0x2028 || cp == 0x2029 ||
		(cp >= 0x202a && cp <= 0x202e) ||
		(cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* The Subject field's value, unfolded; NULL if there is none. */
static char *
subject_value(const char *text, size_t header_len)
{
	struct str v = STR_INIT;
	const char *p = text;

	while (p < text + header_len && strncmp(p, "Subject:", 8) != 0)
		p = strchr(p, '\n') + 1;
	if (p >= text + header_len)
		return NULL;
	p += 8;
	for (; p < text + header_len; p++) {
		if (*p == '\n') {
			if (p[1] != ' ')
				break;
			continue;
		}
		str_putc(&v, *p);
	}
	return str_steal(&v);
}

/* Check a notice; returns the number of lines in its body. */
static size_t
check_notice(const char *text, const char *title, const char *subject)
{
	const char *end = strstr(text, "\n\n"), *p;
	size_t len = strlen(text), header_len, field = 0, i = 0;
	char *value, *decoded, *line;
	uint32_t cp;

	while (i < len) {
		size_t n = fuzz_utf8_len((const unsigned char *)text + i,
					 len - i, &cp);

		FUZZ_CHECK(n > 0 && !is_unsafe(cp));
		i += n;
	}

	FUZZ_CHECK(end != NULL);
	header_len = (size_t)(end - text) + 1;
	for (p = text; p < text + header_len; p = strchr(p, '\n') + 1) {
		for (const char *q = p; *q != '\n'; q++)
			FUZZ_CHECK(*q >= 0x20 && *q <= 0x7e);
		if (*p == ' ')
			continue;
		FUZZ_CHECK(field < FIELD_COUNT);
		FUZZ_CHECK(strncmp(p, fields[field], strlen(fields[field]))
			   == 0 && p[strlen(fields[field])] == ':');
		field++;
	}
	FUZZ_CHECK(field == FIELD_COUNT);

	value = subject_value(text, header_len);
	FUZZ_CHECK(value != NULL);
	decoded = mime_decode_header(value, SIZE_MAX);
	FUZZ_CHECK(strcmp(decoded, title) == 0);
	free(decoded);
	free(value);

	line = malloc(strlen(subject) + 32);
	if (line == NULL)
		abort();
	sprintf(line, "\n  Subject:  %s\n", *subject != '\0' ?
		subject : "(none)");
	FUZZ_CHECK(strstr(end, line) != NULL);
	free(line);
	return count_lines(end);
}

static char *
make_title(const char *prefix, const char *subject)
{
	struct str s = STR_INIT;

	str_puts(&s, prefix);
	if (*subject != '\0')
		str_printf(&s, ": %s", subject);
	return str_steal(&s);
}

static void
compose(struct notice_info *info, int inbound, struct str *out)
{
	str_truncate(out, 0);
	if (inbound)
		notice_inbound(out, info);
	else
		notice_outbound(out, info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct notice_info info, blank;
	struct str out = STR_INIT;
	char *strings[5 + RCPTS_MAX], *subject;
	const char *empty_rcpts[RCPTS_MAX];
	size_t nstrings = 0;

	memset(&info, 0, sizeof(info));
	info.notice_from = "Ship mail <postmaster@shore.example>";
	info.hostname = "shore.example";
	info.handle = "abcdefghij234567abcd";
	info.request_folder = "Request";
	info.now = (time_t)(fuzz_uint(&in, 4));
	info.size = fuzz_uint(&in, 8);
	info.limit = fuzz_uint(&in, 4);
	info.link_bps = (unsigned int)fuzz_uint(&in, 2);
	while (nstrings < 5 + RCPTS_MAX && (nstrings < 5 || in.size > 0))
		strings[nstrings++] = fuzz_string(&in);
	info.from = strings[0];
	info.subject = strings[1];
	info.date = strings[2];
	info.to = strings[3];
	info.queue_id = strings[4];
	info.rcpts = (const char *const *)strings + 5;
	info.rcpt_count = nstrings - 5;

	/* The same notice about a message with only empty strings. */
	blank = info;
	blank.from = blank.subject = blank.date = "";
	blank.to = blank.queue_id = "";
	for (size_t i = 0; i < RCPTS_MAX; i++)
		empty_rcpts[i] = "";
	blank.rcpts = empty_rcpts;

	subject = mime_decode_header(info.subject, NOTICE_FIELD_MAX);
	for (int inbound = 0; inbound <= 1; inbound++) {
		char *title = make_title(inbound ? "Held on shore" :
					 "Held on the ship", subject);
		size_t lines, blank_lines;
		char *blank_title = make_title(inbound ? "Held on shore" :
					       "Held on the ship", "");

		compose(&info, inbound, &out);
		lines = check_notice(str_c(&out), title, subject);
		compose(&blank, inbound, &out);
		blank_lines = check_notice(str_c(&out), blank_title, "");
		FUZZ_CHECK(lines == blank_lines);
		free(title);
		free(blank_title);
	}

	free(subject);
	str_free(&out);
	for (size_t i = 0; i < nstrings; i++)
		free(strings[i]);
	return 0;
}
