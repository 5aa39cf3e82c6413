#ifndef SHIPMAIL_STR_H
#define SHIPMAIL_STR_H

/*
 * A growable, always NUL-terminated byte string for composing notices,
 * log lines and decoded header text.
 *
 * Allocation failure is fatal (abort), as in the rest of shipmail: a
 * milter that runs out of memory cannot apply any policy reliably, and
 * Postfix applies milter_default_action when the socket goes away.
 */

#include <stdarg.h>
#include <stddef.h>

struct str {
	char *s;
	size_t len, cap;
};

#define STR_INIT { NULL, 0, 0 }

void str_append(struct str *str, const char *data, size_t len);
void str_puts(struct str *str, const char *s);
void str_putc(struct str *str, char c);
void str_printf(struct str *str, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void str_truncate(struct str *str, size_t len);
/* The text so far, "" when nothing was appended. */
const char *str_c(const struct str *str);
/* Hand the buffer over to the caller (who frees it); str becomes empty. */
char *str_steal(struct str *str);
void str_free(struct str *str);

/* Allocation helpers that abort on failure. */
void *xmalloc(size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);

#endif
