#ifndef SHIPMAIL_TEXT_H
#define SHIPMAIL_TEXT_H

/*
 * Small text helpers for header values on their way into the pending
 * index.  Pure functions on Dovecot's data stack, unit-tested alone.
 */

/* A header value as one line: folding and other runs of white space
   (CR, LF, tab, space) become one space; leading and trailing white
   space goes.  Returns str itself when nothing changes. */
const char *shipmail_text_one_line(const char *str);

/* The handle in an X-Shipmail-Handle value, lower-cased and trimmed, or
   NULL when the value is not exactly one well-formed handle. */
const char *shipmail_text_handle(const char *value);

/* Whether a NULL-terminated keyword list (or NULL) holds keyword; IMAP
   keywords compare without regard to case. */
bool shipmail_keywords_have(const char *const *keywords, const char *keyword);

#endif
