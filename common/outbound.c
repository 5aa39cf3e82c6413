/*
 * The outbound spool file's envelope block: see outbound.h.
 *
 * The parser reads what a ship uploaded, so it accepts exactly the
 * bytes the formatter writes (apart from body=7BIT, which it reads but
 * never writes): one form per value means that two spool files with
 * the same envelope have the same bytes, and a value can never smuggle
 * a second meaning past a check.  Every line is bounded before it is
 * decoded, and the block as a whole by OUTBOUND_HEADER_MAX.
 */
#include "outbound.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define OUTBOUND_MAGIC		"SHIPMAIL-OUTBOUND 1\n"
/* The longest envelope line: a rcpt with every field encoded. */
#define OUTBOUND_LINE_MAX \
	(sizeof("rcpt  notify=SUCCESS,FAILURE,DELAY orcpt=") + \
	 3 * (OUTBOUND_ADDR_MAX + OUTBOUND_ORCPT_MAX))

static const char hex_upper[] = "0123456789ABCDEF";

static void
set_error(char *error, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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

/* ---- values ---- */

/* A byte that is written as itself. */
static int
enc_plain(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '+' && c != '=' &&
		c != '<' && c != '>';
}

/* A byte a decoded value may hold. */
static int
value_byte_ok(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

/* 1 when s (max decoded bytes) can be stored; empty only if allowed. */
static int
value_valid(const char *s, size_t max, int empty_ok)
{
	size_t len = strlen(s);

	if (len > max || (len == 0 && !empty_ok))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!value_byte_ok((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

int
outbound_addr_valid(const char *addr, int is_sender)
{
	return addr != NULL && value_valid(addr, OUTBOUND_ADDR_MAX, is_sender);
}

static int
notify_valid(unsigned int notify)
{
	return notify == 0 || notify == OUTBOUND_NOTIFY_NEVER ||
		(notify & ~7u) == 0;
}

/* Length of s encoded. */
static size_t
enc_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += enc_plain((unsigned char)*s) ? 1 : 3;
	return n;
}

/* Encode s at p; returns the end. */
static char *
enc_put(char *p, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (enc_plain(c)) {
			*p++ = (char)c;
		} else {
			*p++ = '+';
			*p++ = hex_upper[c >> 4];
			*p++ = hex_upper[c & 15];
		}
	}
	return p;
}

static int
hex_upper_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode src[0..len) into a malloc'ed string of at most max bytes.
 * Only the spelling enc_put() writes is accepted: a byte that could
 * stand for itself but is written +HH is refused, as is lower-case
 * hex.  NULL with *why_r set (or ENOMEM: *why_r "out of memory").
 */
static char *
dec_value(const char *src, size_t len, size_t max, const char **why_r)
{
	char *out = malloc(len + 1), *p = out;

	if (out == NULL) {
		*why_r = "out of memory";
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		int hi, lo;

		if ((size_t)(p - out) >= max) {
			*why_r = "too long";
			goto fail;
		}
		if (c != '+') {
			if (!enc_plain(c)) {
				*why_r = "byte not allowed unencoded";
				goto fail;
			}
			*p++ = (char)c;
			continue;
		}
		if (i + 2 >= len) {
			*why_r = "truncated +HH";
			goto fail;
		}
		hi = hex_upper_value(src[i + 1]);
		lo = hex_upper_value(src[i + 2]);
		if (hi < 0 || lo < 0) {
			*why_r = "bad +HH (upper-case hex only)";
			goto fail;
		}
		c = (unsigned char)(hi << 4 | lo);
		if (enc_plain(c)) {
			*why_r = "+HH for a byte that stands for itself";
			goto fail;
		}
		if (!value_byte_ok(c)) {
			*why_r = "control byte";
			goto fail;
		}
		*p++ = (char)c;
		i += 2;
	}
	*p = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

/* ---- the envelope ---- */

int
outbound_envelope_add_rcpt(struct outbound_envelope *env, const char *addr,
			   unsigned int notify, const char *orcpt)
{
	struct outbound_rcpt *rcpts, *r;

	if (env->rcpt_count >= OUTBOUND_RCPT_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (!outbound_addr_valid(addr, 0) || !notify_valid(notify) ||
	    (orcpt != NULL && !value_valid(orcpt, OUTBOUND_ORCPT_MAX, 0))) {
		errno = EINVAL;
		return -1;
	}
	rcpts = realloc(env->rcpts, (env->rcpt_count + 1) * sizeof(*rcpts));
	if (rcpts == NULL)
		return -1;
	env->rcpts = rcpts;
	r = &rcpts[env->rcpt_count];
	r->notify = notify;
	r->addr = strdup(addr);
	r->orcpt = orcpt != NULL ? strdup(orcpt) : NULL;
	if (r->addr == NULL || (orcpt != NULL && r->orcpt == NULL)) {
		free(r->addr);
		free(r->orcpt);
		errno = ENOMEM;
		return -1;
	}
	env->rcpt_count++;
	return 0;
}

void
outbound_envelope_free(struct outbound_envelope *env)
{
	for (size_t i = 0; i < env->rcpt_count; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->envid);
	memset(env, 0, sizeof(*env));
}

static int
envelope_valid(const struct outbound_envelope *env)
{
	if (env->sender == NULL || !outbound_addr_valid(env->sender, 1) ||
	    env->rcpt_count == 0 || env->rcpt_count > OUTBOUND_RCPT_MAX ||
	    (env->ret != OUTBOUND_RET_NONE && env->ret != OUTBOUND_RET_FULL &&
	     env->ret != OUTBOUND_RET_HDRS) ||
	    (env->envid != NULL &&
	     !value_valid(env->envid, OUTBOUND_ENVID_MAX, 0)))
		return 0;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct outbound_rcpt *r = &env->rcpts[i];

		if (!outbound_addr_valid(r->addr, 0) ||
		    !notify_valid(r->notify) ||
		    (r->orcpt != NULL &&
		     !value_valid(r->orcpt, OUTBOUND_ORCPT_MAX, 0)))
			return 0;
	}
	return 1;
}

const char *
outbound_notify_name(unsigned int notify, char *buf, size_t size)
{
	static const char *const names[] = { "SUCCESS", "FAILURE", "DELAY" };
	size_t pos = 0;

	if (notify == 0 || !notify_valid(notify) || size == 0)
		return NULL;
	if (notify == OUTBOUND_NOTIFY_NEVER) {
		if (size < sizeof("never"))
			return NULL;
		memcpy(buf, "never", sizeof("never"));
		return buf;
	}
	buf[0] = '\0';
	for (unsigned int i = 0; i < 3; i++) {
		size_t n = strlen(names[i]);

		if ((notify & (1u << i)) == 0)
			continue;
		if (pos + (pos > 0) + n + 1 > size)
			return NULL;
		if (pos > 0)
			buf[pos++] = ',';
		memcpy(buf + pos, names[i], n + 1);
		pos += n;
	}
	return buf;
}

/* The notify field as the file writes it: upper case, NEVER alone. */
static const char *
notify_field(unsigned int notify, char buf[32])
{
	if (notify == OUTBOUND_NOTIFY_NEVER)
		return "NEVER";
	return outbound_notify_name(notify, buf, 32);
}

char *
outbound_envelope_format(const struct outbound_envelope *env, size_t *len_r)
{
	char notify[32], *out, *p;
	size_t len;

	if (!envelope_valid(env)) {
		errno = EINVAL;
		return NULL;
	}

	/* Size it first: every part has a known encoded length. */
	len = strlen(OUTBOUND_MAGIC) + sizeof("from \n") - 1 +
		(env->sender[0] == '\0' ? 2 : enc_len(env->sender)) +
		sizeof(" ret=FULL envid= body=8BITMIME smtputf8") +
		(env->envid != NULL ? enc_len(env->envid) : 0) + 1;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct outbound_rcpt *r = &env->rcpts[i];

		len += sizeof("rcpt  notify=SUCCESS,FAILURE,DELAY orcpt=\n") +
			enc_len(r->addr) +
			(r->orcpt != NULL ? enc_len(r->orcpt) : 0);
	}
	if ((out = malloc(len)) == NULL)
		return NULL;

	p = out + strlen(OUTBOUND_MAGIC);
	memcpy(out, OUTBOUND_MAGIC, strlen(OUTBOUND_MAGIC));
	p += sprintf(p, "from ");
	if (env->sender[0] == '\0')
		p += sprintf(p, "<>");
	else
		p = enc_put(p, env->sender);
	if (env->ret != OUTBOUND_RET_NONE)
		p += sprintf(p, " ret=%s",
			     env->ret == OUTBOUND_RET_FULL ? "FULL" : "HDRS");
	if (env->envid != NULL) {
		p += sprintf(p, " envid=");
		p = enc_put(p, env->envid);
	}
	if (env->body_8bit)
		p += sprintf(p, " body=8BITMIME");
	if (env->smtputf8)
		p += sprintf(p, " smtputf8");
	*p++ = '\n';
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct outbound_rcpt *r = &env->rcpts[i];

		p += sprintf(p, "rcpt ");
		p = enc_put(p, r->addr);
		if (r->notify != 0)
			p += sprintf(p, " notify=%s",
				     notify_field(r->notify, notify));
		if (r->orcpt != NULL) {
			p += sprintf(p, " orcpt=");
			p = enc_put(p, r->orcpt);
		}
		*p++ = '\n';
	}
	*p++ = '\n';
	*p = '\0';
	if ((size_t)(p - out) > OUTBOUND_HEADER_MAX) {
		free(out);
		errno = EINVAL;
		return NULL;
	}
	*len_r = (size_t)(p - out);
	return out;
}

/* ---- parsing ---- */

/* One line being taken apart field by field. */
struct line {
	const char *p, *end;
	int more;		/* a space was seen: another field follows */
	unsigned int number;
};

/*
 * The next space-separated field; 0 at the end of the line.  Two spaces
 * or a trailing one give an empty field, which no caller accepts.
 */
static int
line_field(struct line *l, const char **f_r, size_t *len_r)
{
	const char *sp;

	if (l->p >= l->end && !l->more)
		return 0;
	sp = memchr(l->p, ' ', (size_t)(l->end - l->p));
	if (sp == NULL)
		sp = l->end;
	*f_r = l->p;
	*len_r = (size_t)(sp - l->p);
	l->more = sp < l->end;
	l->p = l->more ? sp + 1 : sp;
	return 1;
}

/* field is "name=value": *value_r points after the "=". */
static int
field_is(const char *f, size_t len, const char *name, const char **value_r,
	 size_t *vlen_r)
{
	size_t n = strlen(name);

	if (len <= n || memcmp(f, name, n) != 0 || f[n] != '=')
		return 0;
	*value_r = f + n + 1;
	*vlen_r = len - n - 1;
	return 1;
}

static int
field_eq(const char *f, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(f, word, len) == 0;
}

/* "NEVER" or a non-empty SUCCESS,FAILURE,DELAY subset in that order. */
static int
parse_notify(const char *v, size_t len, unsigned int *notify_r)
{
	static const char *const names[] = { "SUCCESS", "FAILURE", "DELAY" };
	unsigned int notify = 0, next = 0;

	if (field_eq(v, len, "NEVER")) {
		*notify_r = OUTBOUND_NOTIFY_NEVER;
		return 0;
	}
	while (len > 0) {
		const char *comma = memchr(v, ',', len);
		size_t n = comma != NULL ? (size_t)(comma - v) : len;
		unsigned int i;

		for (i = next; i < 3; i++) {
			if (field_eq(v, n, names[i]))
				break;
		}
		if (i == 3)
			return -1;
		notify |= 1u << i;
		next = i + 1;
		if (comma == NULL)
			break;
		if (n + 1 == len)
			return -1;	/* a trailing comma */
		v += n + 1;
		len -= n + 1;
	}
	*notify_r = notify;
	return notify != 0 ? 0 : -1;
}

/* Decode a field's value into *out_r; -1 with error set. */
static int
parse_value(const struct line *l, const char *what, const char *v,
	    size_t len, size_t max, char **out_r, char *error, size_t size)
{
	const char *why = NULL;

	if (len == 0) {
		set_error(error, size, "line %u: empty %s", l->number, what);
		return -1;
	}
	if ((*out_r = dec_value(v, len, max, &why)) == NULL) {
		set_error(error, size, "line %u: %s: %s", l->number, what, why);
		return -1;
	}
	return 0;
}

static int
parse_from(struct line *l, struct outbound_envelope *env, char *error,
	   size_t size)
{
	const char *f, *v;
	size_t len, vlen;
	int stage = 0;		/* which optional fields may still come */

	if (!line_field(l, &f, &len) || !field_eq(f, len, "from") ||
	    !line_field(l, &f, &len)) {
		set_error(error, size, "line %u: not a from line", l->number);
		return -1;
	}
	if (field_eq(f, len, "<>")) {
		if ((env->sender = strdup("")) == NULL) {
			set_error(error, size, "out of memory");
			return -1;
		}
	} else if (parse_value(l, "sender", f, len, OUTBOUND_ADDR_MAX,
			       &env->sender, error, size) < 0) {
		return -1;
	}
	while (line_field(l, &f, &len)) {
		if (stage < 1 && field_eq(f, len, "ret=FULL")) {
			env->ret = OUTBOUND_RET_FULL;
			stage = 1;
		} else if (stage < 1 && field_eq(f, len, "ret=HDRS")) {
			env->ret = OUTBOUND_RET_HDRS;
			stage = 1;
		} else if (stage < 2 && field_is(f, len, "envid", &v, &vlen)) {
			if (parse_value(l, "envid", v, vlen,
					OUTBOUND_ENVID_MAX, &env->envid,
					error, size) < 0)
				return -1;
			stage = 2;
		} else if (stage < 3 && (field_eq(f, len, "body=7BIT") ||
					 field_eq(f, len, "body=8BITMIME"))) {
			env->body_8bit = f[5] == '8';
			stage = 3;
		} else if (stage < 4 && field_eq(f, len, "smtputf8")) {
			env->smtputf8 = 1;
			stage = 4;
		} else {
			set_error(error, size, "line %u: unexpected field "
				  "\"%.*s\"", l->number,
				  len > 40 ? 40 : (int)len, f);
			return -1;
		}
	}
	return 0;
}

static int
parse_rcpt(struct line *l, struct outbound_envelope *env, char *error,
	   size_t size)
{
	const char *f, *v;
	size_t len, vlen;
	char *addr = NULL, *orcpt = NULL;
	unsigned int notify = 0;
	int stage = 0, rc = -1;

	if (env->rcpt_count >= OUTBOUND_RCPT_MAX) {
		set_error(error, size, "line %u: more than %d recipients",
			  l->number, OUTBOUND_RCPT_MAX);
		return -1;
	}
	if (!line_field(l, &f, &len) || !field_eq(f, len, "rcpt") ||
	    !line_field(l, &f, &len)) {
		set_error(error, size, "line %u: not a rcpt line", l->number);
		return -1;
	}
	if (parse_value(l, "recipient", f, len, OUTBOUND_ADDR_MAX, &addr,
			error, size) < 0)
		return -1;
	while (line_field(l, &f, &len)) {
		if (stage < 1 && field_is(f, len, "notify", &v, &vlen)) {
			if (parse_notify(v, vlen, &notify) < 0) {
				set_error(error, size, "line %u: bad notify",
					  l->number);
				goto out;
			}
			stage = 1;
		} else if (stage < 2 && field_is(f, len, "orcpt", &v, &vlen)) {
			if (parse_value(l, "orcpt", v, vlen,
					OUTBOUND_ORCPT_MAX, &orcpt,
					error, size) < 0)
				goto out;
			stage = 2;
		} else {
			set_error(error, size, "line %u: unexpected field "
				  "\"%.*s\"", l->number,
				  len > 40 ? 40 : (int)len, f);
			goto out;
		}
	}
	if (outbound_envelope_add_rcpt(env, addr, notify, orcpt) < 0) {
		set_error(error, size, "line %u: %s", l->number,
			  strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(addr);
	free(orcpt);
	return rc;
}

ssize_t
outbound_envelope_parse(const char *data, size_t len,
			struct outbound_envelope *env, char *error,
			size_t error_size)
{
	struct outbound_envelope e;
	size_t magic = strlen(OUTBOUND_MAGIC), pos;
	unsigned int number = 1;

	memset(&e, 0, sizeof(e));
	memset(env, 0, sizeof(*env));
	if (memcmp(data, OUTBOUND_MAGIC, len < magic ? len : magic) != 0) {
		set_error(error, error_size,
			  "not a shipmail outbound file (version 1)");
		return -1;
	}
	if (len < magic)
		return 0;

	for (pos = magic;;) {
		size_t avail = len - pos;
		const char *nl = memchr(data + pos, '\n',
					avail < OUTBOUND_LINE_MAX + 1 ?
					avail : OUTBOUND_LINE_MAX + 1);
		struct line l;

		number++;
		if (nl == NULL) {
			if (avail > OUTBOUND_LINE_MAX) {
				set_error(error, error_size,
					  "line %u: longer than %zu bytes",
					  number, (size_t)OUTBOUND_LINE_MAX);
				goto fail;
			}
			if (pos + avail >= OUTBOUND_HEADER_MAX) {
				set_error(error, error_size, "envelope block "
					  "over %d bytes", OUTBOUND_HEADER_MAX);
				goto fail;
			}
			outbound_envelope_free(&e);
			return 0;
		}
		l.p = data + pos;
		l.end = nl;
		l.more = 0;
		l.number = number;
		pos = (size_t)(nl - data) + 1;
		if (pos > OUTBOUND_HEADER_MAX) {
			set_error(error, error_size, "envelope block over %d "
				  "bytes", OUTBOUND_HEADER_MAX);
			goto fail;
		}
		if (memchr(l.p, '\0', (size_t)(l.end - l.p)) != NULL) {
			set_error(error, error_size, "line %u: NUL byte",
				  number);
			goto fail;
		}
		if (number == 2) {
			if (parse_from(&l, &e, error, error_size) < 0)
				goto fail;
		} else if (l.p == l.end) {
			break;
		} else if (parse_rcpt(&l, &e, error, error_size) < 0) {
			goto fail;
		}
	}
	if (e.rcpt_count == 0) {
		set_error(error, error_size, "no recipients");
		goto fail;
	}
	*env = e;
	return (ssize_t)pos;
fail:
	outbound_envelope_free(&e);
	return -1;
}

/* ---- ids ---- */

int
outbound_id_new(char id[OUTBOUND_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char random[OUTBOUND_ID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(random)) {
		ssize_t n = getrandom(random + got, sizeof(random) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(random); i++) {
		id[2 * i] = hex[random[i] >> 4];
		id[2 * i + 1] = hex[random[i] & 15];
	}
	id[OUTBOUND_ID_LEN] = '\0';
	return 0;
}

int
outbound_id_valid(const char *s, size_t len)
{
	if (s == NULL || len != OUTBOUND_ID_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}
