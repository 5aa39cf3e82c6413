/*
 * The milter's policy: configuration names, limit lookups, address
 * normalisation.  See policy.h.
 *
 * Not done here: anything per message (message.c) or per connection
 * (shipmail-milter.c).  The tables are small and searched linearly;
 * a site with thousands of per-address limits would want a hash.
 * XXX linear lookups: a table of many thousand addresses costs
 * microseconds per recipient; still far below an SMTP round trip.
 */
#include "policy.h"
#include "str.h"
#include "common/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every name this part reads; anything else starting "milter_" is a typo. */
static const char *const milter_names[] = {
	"milter_role", "milter_socket",
	"milter_inbound_limit", "milter_inbound_limits",
	"milter_outbound_limit", "milter_outbound_limits",
	"milter_outbound_action",
	"milter_notice_command", "milter_notice_from",
	"milter_notice_timeout", "milter_notice_failure",
	"milter_request_folder", "milter_link_speed",
	"milter_error_action",
	NULL
};

static void
set_error(char *error, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_error(char *error, size_t size, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(error, size, fmt, args);
	va_end(args);
}

/* The file being loaded, for messages about parameters left unset. */
static const char *loading_path = "(config)";

static const char *
origin(const struct config *cfg, const char *name)
{
	const char *o = config_origin(cfg, name);

	return o != NULL ? o : loading_path;
}

char *
policy_address(const char *arg)
{
	const char *start = arg, *end, *colon;
	char *addr;

	while (isspace((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	if (end > start && *start == '<' && end[-1] == '>') {
		start++;
		end--;
	}

	/* A source route "@a,@b:user@dom" names hosts, not the mailbox. */
	if (*start == '@' && (colon = memchr(start, ':', end - start)) != NULL)
		start = colon + 1;

	addr = xstrndup(start, end - start);
	for (char *p = addr; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	return addr;
}

/* The domain part of a lower case address, or "" when there is none. */
static const char *
address_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/*
 * Find the entry for addr: exact address, then its domain, then the
 * nearest ".parent" entry.  NULL when none matches.
 */
static const struct limit_entry *
limit_lookup(const struct limit_table *table, const char *addr)
{
	const char *domain = address_domain(addr);

	for (size_t i = 0; i < table->count; i++) {
		if (strcmp(table->entries[i].key, addr) == 0)
			return &table->entries[i];
	}
	if (*domain == '\0')
		return NULL;
	for (size_t i = 0; i < table->count; i++) {
		if (strcmp(table->entries[i].key, domain) == 0)
			return &table->entries[i];
	}
	for (const char *d = strchr(domain, '.'); d != NULL;
	     d = strchr(d + 1, '.')) {
		for (size_t i = 0; i < table->count; i++) {
			if (strcmp(table->entries[i].key, d) == 0)
				return &table->entries[i];
		}
	}
	return NULL;
}

static void
table_add(struct limit_table *table, const char *key, size_t len,
	  uint64_t size)
{
	struct limit_entry *e;
	char *raw;

	table->entries = xrealloc(table->entries,
				  (table->count + 1) * sizeof(*e));
	e = &table->entries[table->count++];
	raw = xstrndup(key, len);
	e->key = policy_address(raw);
	e->size = size;
	free(raw);
}

static void
table_free(struct limit_table *table)
{
	for (size_t i = 0; i < table->count; i++)
		free(table->entries[i].key);
	free(table->entries);
	table->entries = NULL;
	table->count = 0;
}

/* State for reading a "key size, key size" list item by item. */
struct pair_reader {
	struct limit_table *table;
	char *key;
	int failed;
	char bad[256];
};

static void
pair_item(const char *item, size_t len, void *context)
{
	struct pair_reader *r = context;
	uint64_t size;
	char *text;

	if (r->failed)
		return;
	if (r->key == NULL) {
		r->key = xstrndup(item, len);
		return;
	}
	text = xstrndup(item, len);
	if (size_parse(text, &size) < 0) {
		r->failed = 1;
		snprintf(r->bad, sizeof(r->bad), "bad size \"%.60s\" for %.60s",
			 text, r->key);
	} else {
		table_add(r->table, r->key, strlen(r->key), size);
	}
	free(text);
	free(r->key);
	r->key = NULL;
}

/* milter_inbound_limits and milter_outbound_limits: "key size" pairs. */
static int
load_limit_table(struct limit_table *table, const struct config *cfg,
		 const char *name, char *error, size_t error_size)
{
	struct pair_reader r = { .table = table };

	config_list_foreach(config_get(cfg, name, ""), pair_item, &r);
	if (r.key != NULL && !r.failed) {
		r.failed = 1;
		snprintf(r.bad, sizeof(r.bad), "no size after \"%.60s\"",
			 r.key);
	}
	free(r.key);
	if (r.failed) {
		set_error(error, error_size, "%s: %s: %s",
			  origin(cfg, name), name, r.bad);
		return -1;
	}
	return 0;
}

static void
ship_item(const char *item, size_t len, void *context)
{
	table_add(context, item, len, 0);
}

/* A keyword parameter: the index of its value in words, or -1. */
static int
load_keyword(const struct config *cfg, const char *name, const char *def,
	     const char *const words[], int *value_r,
	     char *error, size_t error_size)
{
	const char *value = config_get(cfg, name, def);

	for (int i = 0; words[i] != NULL; i++) {
		if (strcasecmp(value, words[i]) == 0) {
			*value_r = i;
			return 0;
		}
	}
	set_error(error, error_size, "%s: %s: unknown value \"%.60s\"",
		  origin(cfg, name), name, value);
	return -1;
}

static void
argv_item(const char *item, size_t len, void *context)
{
	struct policy *p = context;

	p->notice_argv = xrealloc(p->notice_argv,
				  (p->notice_argc + 2) * sizeof(char *));
	p->notice_argv[p->notice_argc++] = xstrndup(item, len);
	p->notice_argv[p->notice_argc] = NULL;
}

/* Split on blanks only: a command's arguments may contain commas. */
static void
split_blanks(const char *s, void (*fn)(const char *, size_t, void *),
	     void *context)
{
	while (*s != '\0') {
		size_t len;

		while (isspace((unsigned char)*s))
			s++;
		len = 0;
		while (s[len] != '\0' && !isspace((unsigned char)s[len]))
			len++;
		if (len > 0)
			fn(s, len, context);
		s += len;
	}
}

static int
load_notice_command(struct policy *p, const struct config *cfg,
		    char *error, size_t error_size)
{
	const char *name = "milter_notice_command";

	split_blanks(config_get(cfg, name, MILTER_NOTICE_COMMAND_DEFAULT),
		     argv_item, p);
	if (p->notice_argc == 0 || p->notice_argv[0][0] != '/') {
		set_error(error, error_size,
			  "%s: %s: needs an absolute program path",
			  origin(cfg, name), name);
		return -1;
	}
	return 0;
}

/* "Name <addr>" or "addr": keep the header form, and the address alone. */
static int
load_notice_from(struct policy *p, const struct config *cfg,
		 char *error, size_t error_size)
{
	const char *name = "milter_notice_from";
	const char *value = config_get(cfg, name, "Ship mail <postmaster>");
	const char *lt = strrchr(value, '<'), *gt = strrchr(value, '>');

	if (strpbrk(value, "\r\n") != NULL || *value == '\0' ||
	    (lt != NULL && (gt == NULL || gt < lt))) {
		set_error(error, error_size,
			  "%s: %s: not an address: \"%.60s\"",
			  origin(cfg, name), name, value);
		return -1;
	}
	p->notice_from = xstrdup(value);
	if (lt != NULL) {
		char *inner = xstrndup(lt + 1, gt - lt - 1);

		p->notice_from_addr = policy_address(inner);
		free(inner);
	} else {
		p->notice_from_addr = policy_address(value);
	}
	return 0;
}

static int
check_names(const struct config *cfg, char *error, size_t error_size)
{
	size_t iter = 0;
	const char *name, *value;

	while (config_next(cfg, &iter, &name, &value)) {
		int known = 0;

		if (strncmp(name, "milter_", 7) != 0)
			continue;
		for (size_t i = 0; milter_names[i] != NULL && !known; i++)
			known = strcmp(name, milter_names[i]) == 0;
		if (!known) {
			set_error(error, error_size,
				  "%s: unknown parameter %s", origin(cfg, name),
				  name);
			return -1;
		}
	}
	return 0;
}

static int
load_actions(struct policy *p, const struct config *cfg,
	     char *error, size_t error_size)
{
	static const char *const roles[] = { "shore", "ship", NULL };
	static const char *const outbound[] = { "reject", "hold", NULL };
	static const char *const fail[] = { "accept", "tempfail", NULL };
	int role, out, err, notice;

	if (config_get(cfg, "milter_role", NULL) == NULL) {
		set_error(error, error_size,
			  "%s: milter_role is not set (shore or ship)",
			  loading_path);
		return -1;
	}
	if (load_keyword(cfg, "milter_role", NULL, roles, &role,
			 error, error_size) < 0 ||
	    load_keyword(cfg, "milter_outbound_action", "reject", outbound,
			 &out, error, error_size) < 0 ||
	    load_keyword(cfg, "milter_error_action", "tempfail", fail,
			 &err, error, error_size) < 0 ||
	    load_keyword(cfg, "milter_notice_failure", "tempfail", fail,
			 &notice, error, error_size) < 0)
		return -1;
	p->role = role == 0 ? ROLE_SHORE : ROLE_SHIP;
	p->outbound_action = out == 0 ? OUTBOUND_REJECT : OUTBOUND_HOLD;
	p->error_action = err == 0 ? FAIL_ACCEPT : FAIL_TEMPFAIL;
	p->notice_failure = notice == 0 ? FAIL_ACCEPT : FAIL_TEMPFAIL;
	return 0;
}

static int
load_numbers(struct policy *p, const struct config *cfg,
	     char *error, size_t error_size)
{
	uint64_t bps;

	if (config_get_size(cfg, "milter_inbound_limit", 200 * 1024,
			    &p->inbound_limit, error, error_size) < 0 ||
	    config_get_size(cfg, "milter_outbound_limit", 200 * 1024,
			    &p->outbound_limit, error, error_size) < 0 ||
	    config_get_seconds(cfg, "milter_notice_timeout", 60,
			       &p->notice_timeout, error, error_size) < 0)
		return -1;

	/* A plain number of bits per second; "k" is allowed as 1000s
	   would be, but size_parse counts in 1024s: keep it plain. */
	if (config_get_size(cfg, "milter_link_speed", 2400, &bps,
			    error, error_size) < 0)
		return -1;
	if (bps > 1000000000) {
		set_error(error, error_size, "%s: milter_link_speed: too large",
			  origin(cfg, "milter_link_speed"));
		return -1;
	}
	p->link_bps = (unsigned int)bps;
	if (p->notice_timeout == 0) {
		set_error(error, error_size,
			  "%s: milter_notice_timeout: must be above 0",
			  origin(cfg, "milter_notice_timeout"));
		return -1;
	}
	return 0;
}

int
policy_load(struct policy *p, const struct config *cfg, const char *path,
	    char *error, size_t error_size)
{
	memset(p, 0, sizeof(*p));
	loading_path = path;

	if (check_names(cfg, error, error_size) < 0 ||
	    load_actions(p, cfg, error, error_size) < 0 ||
	    load_numbers(p, cfg, error, error_size) < 0 ||
	    load_limit_table(&p->inbound, cfg, "milter_inbound_limits",
			     error, error_size) < 0 ||
	    load_limit_table(&p->outbound, cfg, "milter_outbound_limits",
			     error, error_size) < 0 ||
	    load_notice_command(p, cfg, error, error_size) < 0 ||
	    load_notice_from(p, cfg, error, error_size) < 0) {
		policy_free(p);
		return -1;
	}

	config_list_foreach(config_get(cfg, "ship_domains", ""),
			    ship_item, &p->ship);
	config_list_foreach(config_get(cfg, "ship_recipients", ""),
			    ship_item, &p->ship);
	p->socket = xstrdup(config_get(cfg, "milter_socket",
				       MILTER_SOCKET_DEFAULT));
	p->request_folder = xstrdup(config_get(cfg, "milter_request_folder",
					       "Request"));
	if (p->role == ROLE_SHORE && p->ship.count == 0) {
		set_error(error, error_size, "%s: ship_domains and "
			  "ship_recipients are both empty: no mail would be "
			  "checked", origin(cfg, "milter_role"));
		policy_free(p);
		return -1;
	}
	return 0;
}

void
policy_free(struct policy *p)
{
	table_free(&p->ship);
	table_free(&p->inbound);
	table_free(&p->outbound);
	for (size_t i = 0; i < p->notice_argc; i++)
		free(p->notice_argv[i]);
	free(p->notice_argv);
	free(p->notice_from);
	free(p->notice_from_addr);
	free(p->socket);
	free(p->request_folder);
	memset(p, 0, sizeof(*p));
}

int
policy_is_ship_address(const struct policy *p, const char *addr)
{
	return limit_lookup(&p->ship, addr) != NULL;
}

uint64_t
policy_inbound_limit(const struct policy *p, const char *rcpt)
{
	const struct limit_entry *e;

	if (!policy_is_ship_address(p, rcpt))
		return 0;
	e = limit_lookup(&p->inbound, rcpt);
	return e != NULL ? e->size : p->inbound_limit;
}

uint64_t
policy_outbound_limit(const struct policy *p, const char *sender)
{
	const struct limit_entry *e = limit_lookup(&p->outbound, sender);

	return e != NULL ? e->size : p->outbound_limit;
}
