#ifndef SHIPMAIL_PLUGIN_REQUEST_H
#define SHIPMAIL_PLUGIN_REQUEST_H

/*
 * The crew's way to ask for mail held on shore, in the ship's Dovecot:
 * moving, copying or appending an oversize notice into the request
 * mailbox (shipmail_request_mailbox), or giving it the request keyword
 * (shipmail_request_keyword), from any IMAP client, queues a request
 * for the handle in the notice's X-Shipmail-Notice header.  Requests
 * live in the index dict as common/request.h describes, for
 * shipmail-fetch to hand to the shore; doveadm shipmail requests lists
 * them.  A request over the user's daily limit is not queued: the user
 * gets a short reply in the INBOX instead.
 *
 * It has its own notify registration, beside the pending index's: its
 * transactions are those of every private mailbox (the keyword can be
 * set anywhere), while the pending index watches shipped mailboxes
 * only, and neither one's bookkeeping can change the other's.
 */

struct mail_user;
struct dict;
struct shipmail_settings;

/* Provided by shipmail-plugin.c: the user's settings and index
   connection, FALSE when the plugin is not active for the user. */
bool shipmail_user_lookup(struct mail_user *user,
			  const struct shipmail_settings **set_r,
			  struct dict **dict_r);

void shipmail_request_init(void);
void shipmail_request_deinit(void);

#endif
