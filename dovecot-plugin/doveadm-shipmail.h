#ifndef DOVEADM_SHIPMAIL_H
#define DOVEADM_SHIPMAIL_H

/*
 * doveadm shipmail: the admin's view of the pending index.
 *
 *   pending  [-A | -u USER] [--summary] [--oversize]
 *   ack      -u USER <mailbox> <uidvalidity> <uid>...
 *   request  -u USER <uid | handle>
 *   recalc   [-A | -u USER]
 *
 * and on the ship, the crew's queued requests for held mail:
 *
 *   requests       [-A | -u USER]
 *   requests-sent  -u USER <handle>...
 *   requests-add   -u USER <handle>...   (not counted: the admin's
 *                                          override of the daily limit)
 *
 * "pending" reads only the index and is not a per-user mail command, so
 * that -A is one iteration of the index whatever the number of users;
 * the others open the user's mailboxes through doveadm's mail command
 * machinery (-A, -u, -S, -F, the HTTP API).
 */

#include "shipmail-export.h"

struct module;
struct dict;
struct mail_user;
struct shipmail_settings;

SHIPMAIL_EXPORT extern const char *doveadm_shipmail_plugin_version;
SHIPMAIL_EXPORT void doveadm_shipmail_plugin_init(struct module *module);
SHIPMAIL_EXPORT void doveadm_shipmail_plugin_deinit(void);

void doveadm_shipmail_register_pending(void);
void doveadm_shipmail_register_mail_commands(void);
void doveadm_shipmail_register_requests(void);

/* Ask the userdb whether the user exists: 1 yes, 0 no, -1 error. */
int doveadm_shipmail_user_exists(const char *user, const char **error_r);

/* Received time as doveadm prints dates: "YYYY-MM-DD HH:MM:SS" UTC. */
const char *doveadm_shipmail_time(int64_t t);
/* The flags column: "oversize", "requested", both or "". */
const char *doveadm_shipmail_flags(unsigned int flags);

#endif
