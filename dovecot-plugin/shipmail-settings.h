#ifndef SHIPMAIL_SETTINGS_H
#define SHIPMAIL_SETTINGS_H

/*
 * The plugin's settings, read from Dovecot's plugin { } section by the
 * mail plugin and by doveadm shipmail alike, so that both agree on what
 * is pending:
 *
 *   shipmail_dict       dict URI of the pending index (required)
 *   shipmail_mailboxes  mailboxes whose mail is shipped (default INBOX)
 *   shipmail_max_size   larger mail is marked oversize (50k, 2M; unset
 *                       or 0: nothing is)
 *   shipmail_keyword    the keyword that marks shipped mail ($Shipped)
 *
 * and, on the ship, how the crew asks for held mail:
 *
 *   shipmail_request_mailbox      a notice moved or copied here is a
 *                                 request (Request)
 *   shipmail_request_keyword      a notice given this keyword is a
 *                                 request ($Request)
 *   shipmail_request_daily_limit  requests per user and UTC day (5;
 *                                 0: no limit)
 *
 * Parsing needs only Dovecot's lib, so it is unit-tested alone.
 */

#define SHIPMAIL_DEFAULT_MAILBOXES "INBOX"
#define SHIPMAIL_DEFAULT_KEYWORD "$Shipped"
#define SHIPMAIL_DEFAULT_REQUEST_MAILBOX "Request"
#define SHIPMAIL_DEFAULT_REQUEST_KEYWORD "$Request"
#define SHIPMAIL_DEFAULT_REQUEST_DAILY_LIMIT 5

struct shipmail_settings {
	const char *dict_uri;
	/* NULL-terminated; "INBOX" in any case means the INBOX */
	const char *const *mailboxes;
	uoff_t max_size;
	const char *keyword;

	const char *request_mailbox;
	const char *request_keyword;
	unsigned int request_daily_limit;	/* 0: unlimited */
};

/* Returns a setting's value, or NULL when it is not set. */
typedef const char *shipmail_getenv_t(const char *name, void *context);

/* Read and check every setting.  Returns 0, or -1 with *error_r naming
   the setting and what is wrong with it. */
int shipmail_settings_read(pool_t pool, shipmail_getenv_t *getenv_fn,
			   void *context, struct shipmail_settings **set_r,
			   const char **error_r);

/* TRUE when mail in the mailbox with this (virtual) name is shipped. */
bool shipmail_settings_mailbox_wanted(const struct shipmail_settings *set,
				      const char *vname);

/* TRUE when a keyword name can be set through IMAP and lib-storage. */
bool shipmail_keyword_is_valid(const char *keyword);

#endif
