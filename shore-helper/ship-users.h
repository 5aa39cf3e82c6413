#ifndef SHIPMAIL_SHIP_USERS_H
#define SHIPMAIL_SHIP_USERS_H

/*
 * Which users belong to a ship.  shipmail.conf maps each ship name to a
 * list: "shore_ship_NAME = @ship1.example, captain@fleet.example".  An
 * item starting with "@" takes every user of that domain; any other
 * item is one address.  Comparison ignores ASCII case.
 *
 * Before any match, a user name must look like a mail address that is
 * safe to hand to a userdb whose mail_location may expand it into a
 * path: no "/", no "..", no "*", "%", control bytes, spaces or quotes,
 * and at most one "@".
 * Such names are refused even if a list would take them.
 */

#include <stddef.h>

#define SHIP_NAME_MAX	64

struct config;
struct ship_users;

/* Non-zero when name is 1-64 of [A-Za-z0-9_-]. */
int ship_name_is_valid(const char *name);

/* The ship's list from cfg; NULL with error set when missing or empty. */
struct ship_users *ship_users_load(const struct config *cfg,
				   const char *ship, char *error,
				   size_t error_size);
void ship_users_free(struct ship_users **users);

/* Non-zero when user is safe to look up at all (see above). */
int ship_user_is_safe(const char *user);

/* Non-zero when user is safe and on the ship's list. */
int ship_users_match(const struct ship_users *users, const char *user);

#endif
