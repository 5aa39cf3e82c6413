/*
 * Reading and checking the shipmail_* plugin settings.  See
 * shipmail-settings.h for what each one means.
 *
 * This file does not look settings up itself: the caller passes a
 * function (mail_user_plugin_getenv for a mail user, the plugin { }
 * section of the global configuration for doveadm), so the same checks
 * apply everywhere.  Mailbox names are compared as given, except INBOX,
 * which IMAP makes case-insensitive; wildcards are not supported.
 */
#include "lib.h"
#include "array.h"
#include "str.h"
#include "common/config.h"
#include "shipmail-settings.h"

static int
shipmail_settings_read_size(const char *value, uoff_t *size_r,
			    const char **error_r)
{
	uint64_t bytes;

	if (value == NULL || value[0] == '\0') {
		*size_r = 0;
		return 0;
	}
	if (size_parse(value, &bytes) < 0) {
		*error_r = t_strdup_printf(
			"shipmail_max_size: not a size: '%s' (use e.g. 50k or 2M)",
			value);
		return -1;
	}
	*size_r = bytes;
	return 0;
}

static int
shipmail_settings_read_mailboxes(pool_t pool, const char *value,
				 const char *const **mailboxes_r,
				 const char **error_r)
{
	const char *const *names;
	ARRAY_TYPE(const_string) list;

	if (value == NULL)
		value = SHIPMAIL_DEFAULT_MAILBOXES;
	names = t_strsplit_spaces(value, " ,");
	if (names[0] == NULL) {
		*error_r = "shipmail_mailboxes: empty (leave it unset for INBOX)";
		return -1;
	}

	p_array_init(&list, pool, 4);
	for (; *names != NULL; names++) {
		const char *name = p_strdup(pool, *names);

		if (strcasecmp(name, "INBOX") == 0)
			name = "INBOX";
		array_push_back(&list, &name);
	}
	array_append_zero(&list);
	*mailboxes_r = array_front(&list);
	return 0;
}

bool shipmail_keyword_is_valid(const char *keyword)
{
	const unsigned char *p = (const unsigned char *)keyword;

	/* A keyword is an IMAP atom that is not a system flag. */
	if (*p == '\0' || *p == '\\')
		return FALSE;
	for (; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p) != NULL)
			return FALSE;
	}
	return TRUE;
}

/* The settings of the crew's requests for held mail. */
static int
shipmail_settings_read_request(pool_t pool, shipmail_getenv_t *getenv_fn,
			       void *context, struct shipmail_settings *set,
			       const char **error_r)
{
	const char *value;

	value = getenv_fn("shipmail_request_mailbox", context);
	if (value == NULL || value[0] == '\0')
		value = SHIPMAIL_DEFAULT_REQUEST_MAILBOX;
	set->request_mailbox = p_strdup(pool, value);

	value = getenv_fn("shipmail_request_keyword", context);
	if (value == NULL || value[0] == '\0')
		value = SHIPMAIL_DEFAULT_REQUEST_KEYWORD;
	if (!shipmail_keyword_is_valid(value)) {
		*error_r = t_strdup_printf("shipmail_request_keyword: "
			"not a valid IMAP keyword: '%s'", value);
		return -1;
	}
	/* One keyword meaning both would ask for every shipped notice. */
	if (strcasecmp(value, set->keyword) == 0) {
		*error_r = t_strdup_printf("shipmail_request_keyword: "
			"'%s' is also shipmail_keyword", value);
		return -1;
	}
	set->request_keyword = p_strdup(pool, value);

	value = getenv_fn("shipmail_request_daily_limit", context);
	if (value == NULL || value[0] == '\0')
		set->request_daily_limit = SHIPMAIL_DEFAULT_REQUEST_DAILY_LIMIT;
	else if (str_to_uint(value, &set->request_daily_limit) < 0) {
		*error_r = t_strdup_printf("shipmail_request_daily_limit: "
			"not a number: '%s' (0: no limit)", value);
		return -1;
	}
	return 0;
}

int shipmail_settings_read(pool_t pool, shipmail_getenv_t *getenv_fn,
			   void *context, struct shipmail_settings **set_r,
			   const char **error_r)
{
	struct shipmail_settings *set;
	const char *value;

	set = p_new(pool, struct shipmail_settings, 1);

	value = getenv_fn("shipmail_dict", context);
	if (value == NULL || value[0] == '\0') {
		*error_r = "shipmail_dict: not set (e.g. proxy::shipmail)";
		return -1;
	}
	set->dict_uri = p_strdup(pool, value);

	if (shipmail_settings_read_mailboxes(pool,
			getenv_fn("shipmail_mailboxes", context),
			&set->mailboxes, error_r) < 0)
		return -1;
	if (shipmail_settings_read_size(getenv_fn("shipmail_max_size", context),
					&set->max_size, error_r) < 0)
		return -1;

	value = getenv_fn("shipmail_keyword", context);
	if (value == NULL || value[0] == '\0')
		value = SHIPMAIL_DEFAULT_KEYWORD;
	if (!shipmail_keyword_is_valid(value)) {
		*error_r = t_strdup_printf(
			"shipmail_keyword: not a valid IMAP keyword: '%s'", value);
		return -1;
	}
	set->keyword = p_strdup(pool, value);

	if (shipmail_settings_read_request(pool, getenv_fn, context, set,
					   error_r) < 0)
		return -1;
	*set_r = set;
	return 0;
}

bool shipmail_settings_mailbox_wanted(const struct shipmail_settings *set,
				      const char *vname)
{
	const char *const *name;

	for (name = set->mailboxes; *name != NULL; name++) {
		if (strcmp(*name, vname) == 0)
			return TRUE;
		if (strcmp(*name, "INBOX") == 0 &&
		    strcasecmp(vname, "INBOX") == 0)
			return TRUE;
	}
	return FALSE;
}
