/*
 * Growable strings and allocation helpers: see str.h.
 */
#include "str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size == 0 ? 1 : size);

	if (p == NULL) {
		fputs("shipmail-milter: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *
xmalloc(size_t size)
{
	return xrealloc(NULL, size);
}

char *
xstrndup(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* Make room for len more bytes and the terminating NUL. */
static void
str_reserve(struct str *str, size_t len)
{
	size_t need = str->len + len + 1;

	if (need <= str->cap)
		return;
	if (str->cap == 0)
		str->cap = 64;
	while (str->cap < need)
		str->cap *= 2;
	str->s = xrealloc(str->s, str->cap);
}

void
str_append(struct str *str, const char *data, size_t len)
{
	str_reserve(str, len);
	memcpy(str->s + str->len, data, len);
	str->len += len;
	str->s[str->len] = '\0';
}

void
str_puts(struct str *str, const char *s)
{
	str_append(str, s, strlen(s));
}

void
str_putc(struct str *str, char c)
{
	str_append(str, &c, 1);
}

void
str_printf(struct str *str, const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = vsnprintf(NULL, 0, fmt, args);
	va_end(args);
	if (n < 0)
		abort();
	str_reserve(str, (size_t)n);
	va_start(args, fmt);
	vsnprintf(str->s + str->len, (size_t)n + 1, fmt, args);
	va_end(args);
	str->len += (size_t)n;
}

void
str_truncate(struct str *str, size_t len)
{
	if (len < str->len) {
		str->len = len;
		str->s[len] = '\0';
	}
}

const char *
str_c(const struct str *str)
{
	return str->s != NULL ? str->s : "";
}

char *
str_steal(struct str *str)
{
	char *s = str->s != NULL ? str->s : xstrdup("");

	str->s = NULL;
	str->len = str->cap = 0;
	return s;
}

void
str_free(struct str *str)
{
	free(str->s);
	str->s = NULL;
	str->len = str->cap = 0;
}
