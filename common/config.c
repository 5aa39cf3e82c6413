/*
 * Postfix-style configuration files: see config.h for the syntax.
 *
 * The whole file is small (tens of lines), so parameters sit in one array
 * searched linearly; nothing here is on a hot path.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on what a configuration file may hold. */
#define CONFIG_FILE_MAX		(1024 * 1024)
#define CONFIG_NAME_MAX		128

struct config_param {
	char *name;
	char *value;
	char *origin;		/* "file:line" */
};

struct config {
	struct config_param *params;
	size_t count, alloc;
};

static void
set_error(char *error, size_t size, const char *fmt, ...)
{
	va_list args;

	if (error == NULL || size == 0)
		return;
	va_start(args, fmt);
	vsnprintf(error, size, fmt, args);
	va_end(args);
}

static void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size);

	if (p == NULL) {
		fprintf(stderr, "shipmail: out of memory\n");
		abort();
	}
	return p;
}

static char *
xstrndup(const char *s, size_t len)
{
	char *p = xrealloc(NULL, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static struct config_param *
config_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->count; i++) {
		if (strcmp(cfg->params[i].name, name) == 0)
			return &cfg->params[i];
	}
	return NULL;
}

/* Store name = value, replacing an earlier value of the same name. */
static void
config_set(struct config *cfg, const char *name, size_t name_len,
	   const char *value, size_t value_len, const char *origin)
{
	char *n = xstrndup(name, name_len);
	struct config_param *p = config_find(cfg, n);

	if (p != NULL) {
		free(n);
		free(p->value);
		free(p->origin);
	} else {
		if (cfg->count == cfg->alloc) {
			cfg->alloc = cfg->alloc == 0 ? 16 : cfg->alloc * 2;
			cfg->params = xrealloc(cfg->params,
					       cfg->alloc * sizeof(*p));
		}
		p = &cfg->params[cfg->count++];
		p->name = n;
	}
	p->value = xstrndup(value, value_len);
	p->origin = xstrndup(origin, strlen(origin));
}

static int
is_name_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

/* Trim blanks (space, tab, CR) from both ends of [*start, *end). */
static void
trim(const char **start, const char **end)
{
	while (*start < *end && isspace((unsigned char)**start))
		(*start)++;
	while (*end > *start && isspace((unsigned char)(*end)[-1]))
		(*end)--;
}

/*
 * Parse one logical line (a "name = value" line with its continuation
 * lines already joined by the caller) and store it.
 */
static int
config_parse_logical(struct config *cfg, const char *line, size_t len,
		     const char *origin, char *error, size_t error_size)
{
	const char *p = line, *end = line + len, *name, *name_end, *value;

	trim(&p, &end);
	name = p;
	while (p < end && is_name_char((unsigned char)*p))
		p++;
	name_end = p;
	if (name_end == name) {
		set_error(error, error_size,
			  "%s: expected a parameter name", origin);
		return -1;
	}
	if ((size_t)(name_end - name) > CONFIG_NAME_MAX) {
		set_error(error, error_size, "%s: parameter name too long",
			  origin);
		return -1;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p != '=') {
		set_error(error, error_size,
			  "%s: missing '=' after \"%.*s\"", origin,
			  (int)(name_end - name), name);
		return -1;
	}
	value = p + 1;
	trim(&value, &end);
	config_set(cfg, name, (size_t)(name_end - name), value,
		   (size_t)(end - value), origin);
	return 0;
}

struct config *
config_parse(const char *buf, size_t len, const char *origin,
	     char *error, size_t error_size)
{
	struct config *cfg = xrealloc(NULL, sizeof(*cfg));
	const char *p = buf, *end = buf + len;
	char *logical = NULL, where[PATH_MAX + 32];
	size_t logical_len = 0, logical_alloc = 0;
	unsigned int lineno = 0, start_line = 0;
	int ret = 0;

	memset(cfg, 0, sizeof(*cfg));
	while (ret == 0 && p <= end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol != NULL ? eol : end;
		const char *q = p;
		int at_end = eol == NULL;

		lineno++;
		while (q < line_end && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (memchr(p, '\0', (size_t)(line_end - p)) != NULL) {
			set_error(error, error_size, "%s:%u: NUL byte in line",
				  origin, lineno);
			ret = -1;
			break;
		}
		if (q == line_end || *q == '#') {
			/* Blank or comment line: neither ends nor joins. */
		} else if (q != p) {
			/* Continuation of the previous logical line. */
			if (logical_len == 0) {
				set_error(error, error_size,
					  "%s:%u: continuation line without "
					  "a parameter before it",
					  origin, lineno);
				ret = -1;
				break;
			}
		} else if (logical_len > 0) {
			snprintf(where, sizeof(where), "%s:%u", origin,
				 start_line);
			ret = config_parse_logical(cfg, logical, logical_len,
						   where, error, error_size);
			logical_len = 0;
		}
		if (ret == 0 && q != line_end && *q != '#') {
			size_t n = (size_t)(line_end - p);

			if (logical_len == 0)
				start_line = lineno;
			if (logical_len + n + 2 > logical_alloc) {
				logical_alloc = (logical_len + n + 2) * 2;
				logical = xrealloc(logical, logical_alloc);
			}
			if (logical_len > 0)
				logical[logical_len++] = ' ';
			memcpy(logical + logical_len, p, n);
			logical_len += n;
		}
		if (at_end)
			break;
		p = eol + 1;
	}
	if (ret == 0 && logical_len > 0) {
		snprintf(where, sizeof(where), "%s:%u", origin, start_line);
		ret = config_parse_logical(cfg, logical, logical_len, where,
					   error, error_size);
	}
	free(logical);
	if (ret < 0)
		config_free(&cfg);
	return cfg;
}

struct config *
config_load(const char *path, char *error, size_t error_size)
{
	struct config *cfg;
	FILE *f = fopen(path, "r");
	char *buf;
	size_t len;

	if (f == NULL) {
		set_error(error, error_size, "open %s: %s", path,
			  strerror(errno));
		return NULL;
	}
	buf = xrealloc(NULL, CONFIG_FILE_MAX + 1);
	len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		set_error(error, error_size, "read %s: %s", path,
			  strerror(errno));
		cfg = NULL;
	} else if (len > CONFIG_FILE_MAX) {
		set_error(error, error_size, "%s: larger than %d bytes", path,
			  CONFIG_FILE_MAX);
		cfg = NULL;
	} else {
		cfg = config_parse(buf, len, path, error, error_size);
	}
	free(buf);
	fclose(f);
	return cfg;
}

void
config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->count; i++) {
		free(cfg->params[i].name);
		free(cfg->params[i].value);
		free(cfg->params[i].origin);
	}
	free(cfg->params);
	free(cfg);
	*cfgp = NULL;
}

const char *
config_get(const struct config *cfg, const char *name, const char *def)
{
	const struct config_param *p = cfg == NULL ? NULL :
		config_find(cfg, name);

	return p != NULL ? p->value : def;
}

const char *
config_origin(const struct config *cfg, const char *name)
{
	const struct config_param *p = cfg == NULL ? NULL :
		config_find(cfg, name);

	return p != NULL ? p->origin : NULL;
}

int
config_next(const struct config *cfg, size_t *iter, const char **name_r,
	    const char **value_r)
{
	if (cfg == NULL || *iter >= cfg->count)
		return 0;
	*name_r = cfg->params[*iter].name;
	*value_r = cfg->params[*iter].value;
	(*iter)++;
	return 1;
}

/* Parse an unsigned decimal number; *end_r points after its digits. */
static int
parse_u64(const char *str, uint64_t *value_r, const char **end_r)
{
	uint64_t v = 0;
	const char *p = str;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value_r = v;
	*end_r = p;
	return 0;
}

int
size_parse(const char *str, uint64_t *bytes_r)
{
	uint64_t v, mult = 1;
	const char *p;

	if (parse_u64(str, &v, &p) < 0)
		return -1;
	switch (*p) {
	case 'k': case 'K': mult = 1024; p++; break;
	case 'm': case 'M': mult = 1024 * 1024; p++; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; p++; break;
	default: break;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0' || (mult > 1 && v > UINT64_MAX / mult))
		return -1;
	*bytes_r = v * mult;
	return 0;
}

int
seconds_parse(const char *str, unsigned int *seconds_r)
{
	uint64_t v, mult = 1;
	const char *p;

	if (parse_u64(str, &v, &p) < 0)
		return -1;
	switch (*p) {
	case 's': p++; break;
	case 'm': mult = 60; p++; break;
	case 'h': mult = 3600; p++; break;
	case 'd': mult = 86400; p++; break;
	default: break;
	}
	if (*p != '\0' || v > UINT_MAX / mult)
		return -1;
	*seconds_r = (unsigned int)(v * mult);
	return 0;
}

int
config_get_size(const struct config *cfg, const char *name, uint64_t def,
		uint64_t *value_r, char *error, size_t error_size)
{
	const char *v = config_get(cfg, name, NULL);

	if (v == NULL) {
		*value_r = def;
		return 0;
	}
	if (size_parse(v, value_r) < 0) {
		set_error(error, error_size,
			  "%s: %s = %s: not a size (e.g. 50k, 2M)",
			  config_origin(cfg, name), name, v);
		return -1;
	}
	return 0;
}

int
config_get_seconds(const struct config *cfg, const char *name,
		   unsigned int def, unsigned int *value_r,
		   char *error, size_t error_size)
{
	const char *v = config_get(cfg, name, NULL);

	if (v == NULL) {
		*value_r = def;
		return 0;
	}
	if (seconds_parse(v, value_r) < 0) {
		set_error(error, error_size,
			  "%s: %s = %s: not a time (e.g. 30s, 5m, 1h)",
			  config_origin(cfg, name), name, v);
		return -1;
	}
	return 0;
}

int
config_get_bool(const struct config *cfg, const char *name, int def,
		int *value_r, char *error, size_t error_size)
{
	const char *v = config_get(cfg, name, NULL);

	if (v == NULL) {
		*value_r = def;
		return 0;
	}
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0) {
		*value_r = 1;
		return 0;
	}
	if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0) {
		*value_r = 0;
		return 0;
	}
	set_error(error, error_size, "%s: %s = %s: not yes or no",
		  config_origin(cfg, name), name, v);
	return -1;
}

size_t
config_list_foreach(const char *list,
		    void (*fn)(const char *item, size_t len, void *ctx),
		    void *ctx)
{
	const char *p = list;
	size_t count = 0;

	while (*p != '\0') {
		const char *start;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		start = p;
		while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p))
			p++;
		if (p > start) {
			fn(start, (size_t)(p - start), ctx);
			count++;
		}
	}
	return count;
}

int
config_get_command(const struct config *cfg, const char *name,
		   const char *def, size_t extra, char ***argv_r,
		   size_t *argc_r, char *error, size_t error_size)
{
	const char *s = config_get(cfg, name, def);
	size_t argc = 0, words = 0, i;
	char **argv;

	*argv_r = NULL;
	*argc_r = 0;
	for (i = 0; s != NULL && s[i] != '\0'; i++) {
		if (!isspace((unsigned char)s[i]) &&
		    (i == 0 || isspace((unsigned char)s[i - 1])))
			words++;
	}
	if (words == 0 || s[strspn(s, " \t")] != '/') {
		const char *origin = config_origin(cfg, name);

		set_error(error, error_size, "%s: %s: needs an absolute "
			  "program path", origin != NULL ? origin : "default",
			  name);
		return -1;
	}
	argv = calloc(words + extra + 1, sizeof(*argv));
	if (argv == NULL) {
		set_error(error, error_size, "%s: out of memory", name);
		return -1;
	}
	while (*s != '\0') {
		size_t len = 0;

		while (isspace((unsigned char)*s))
			s++;
		while (s[len] != '\0' && !isspace((unsigned char)s[len]))
			len++;
		if (len > 0 && (argv[argc++] = strndup(s, len)) == NULL) {
			config_command_free(&argv);
			set_error(error, error_size, "%s: out of memory",
				  name);
			return -1;
		}
		s += len;
	}
	*argv_r = argv;
	*argc_r = argc;
	return 0;
}

void
config_command_free(char ***_argv)
{
	char **argv = *_argv;

	*_argv = NULL;
	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}
