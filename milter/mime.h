#ifndef SHIPMAIL_MIME_H
#define SHIPMAIL_MIME_H

/*
 * Header text in and out of a notice.
 *
 * In: a header value as it came from the wire (possibly folded, 8-bit,
 * malformed, with RFC 2047 encoded words in any charset iconv knows)
 * becomes one line of printable UTF-8, safe to put in a notice: no line
 * breaks, no control or bidirectional-override characters, cut to a
 * length.  Raw bytes that are not UTF-8 are taken as Latin-1; an encoded
 * word in an unknown charset or with a bad encoding stays as it was
 * written.  RFC 2231 parameters and the address syntax are not parsed.
 *
 * Out: a header line with a UTF-8 value, folded under 78 columns, with
 * encoded words (UTF-8, base64) when the value is not plain ASCII.
 */

#include <stddef.h>

struct str;

/* A new string: the value decoded for display, at most max_chars
   characters (an ellipsis marks a cut). */
char *mime_decode_header(const char *value, size_t max_chars);

/* Append "Name: value\n" to out, encoded and folded as needed. */
void mime_write_header(struct str *out, const char *name, const char *utf8);

/* Number of bytes of the valid UTF-8 sequence at s (1-4), or 0. */
size_t mime_utf8_char_len(const unsigned char *s, size_t avail);

#endif
