/*
 * Header values made fit for the pending index (see shipmail-text.h).
 * Decoding RFC 2047 words is not done here: lib-storage's
 * mail_get_first_header_utf8() has done it before these run.
 */
#include "lib.h"
#include "str.h"
#include "common/handle.h"
#include "shipmail-text.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

const char *shipmail_text_one_line(const char *str)
{
	string_t *out;
	const char *p;
	bool space = FALSE;

	for (p = str; *p != '\0'; p++) {
		if (*p != ' ' && is_space(*p))
			break;
		if (*p == ' ' && (p == str || p[1] == ' ' || p[1] == '\0'))
			break;
	}
	if (*p == '\0')
		return str;

	out = t_str_new(strlen(str));
	for (p = str; *p != '\0'; p++) {
		if (is_space(*p)) {
			space = str_len(out) > 0;
			continue;
		}
		if (space)
			str_append_c(out, ' ');
		space = FALSE;
		str_append_c(out, *p);
	}
	return str_c(out);
}

const char *shipmail_text_handle(const char *value)
{
	const char *handle = t_str_lcase(shipmail_text_one_line(value));

	if (!handle_is_valid(handle, strlen(handle)))
		return NULL;
	return handle;
}

bool
shipmail_keywords_have(const char *const *keywords, const char *keyword)
{
	if (keywords == NULL)
		return FALSE;
	for (; *keywords != NULL; keywords++) {
		if (strcasecmp(*keywords, keyword) == 0)
			return TRUE;
	}
	return FALSE;
}
