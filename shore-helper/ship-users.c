/*
 * A ship's user list: see ship-users.h.  The list is small (domains and
 * a few addresses), so matching is a linear scan.
 */
#include "ship-users.h"
#include "../common/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ship_users {
	char **items;
	size_t count;
};

int ship_name_is_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (i == SHIP_NAME_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return i > 0;
}

static void add_item(const char *item, size_t len, void *ctx)
{
	struct ship_users *users = ctx;
	char **grown = realloc(users->items,
			       (users->count + 1) * sizeof(*grown));
	char *copy = strndup(item, len);

	if (grown == NULL || copy == NULL) {
		/* Out of memory: a shorter list refuses more, never less. */
		free(copy);
		if (grown != NULL)
			users->items = grown;
		return;
	}
	users->items = grown;
	users->items[users->count++] = copy;
}

struct ship_users *ship_users_load(const struct config *cfg,
				   const char *ship, char *error,
				   size_t error_size)
{
	struct ship_users *users;
	char name[SHIP_NAME_MAX + 16];
	const char *list;

	if (!ship_name_is_valid(ship)) {
		snprintf(error, error_size, "invalid ship name (want 1-%d of "
			 "A-Z a-z 0-9 _ -)", SHIP_NAME_MAX);
		return NULL;
	}
	snprintf(name, sizeof(name), "shore_ship_%s", ship);
	list = config_get(cfg, name, NULL);
	users = calloc(1, sizeof(*users));
	if (users == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	if (list != NULL)
		(void)config_list_foreach(list, add_item, users);
	if (users->count == 0) {
		snprintf(error, error_size, "%s is not set or empty: "
			 "ship %s has no users", name, ship);
		ship_users_free(&users);
		return NULL;
	}
	return users;
}

void ship_users_free(struct ship_users **_users)
{
	struct ship_users *users = *_users;
	size_t i;

	if (users == NULL)
		return;
	*_users = NULL;
	for (i = 0; i < users->count; i++)
		free(users->items[i]);
	free(users->items);
	free(users);
}

/*
 * One "@" at most: the ship's list reads the domain after the last "@",
 * Dovecot's %d after the first, and the two must name the same domain.
 */
int ship_user_is_safe(const char *user)
{
	const char *at = strchr(user, '@');
	size_t i, len = strlen(user);

	if (len == 0 || len > 255 || strstr(user, "..") != NULL ||
	    user[0] == '.' || user[0] == '-' ||
	    (at != NULL && strchr(at + 1, '@') != NULL))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];

		if (c <= 0x20 || c == 0x7f || strchr("/\\*%?\"'`$;|&<>()[]{}",
							 c) != NULL)
			return 0;
	}
	return 1;
}

static int item_matches(const char *item, const char *user)
{
	const char *at;

	if (item[0] != '@')
		return strcasecmp(item, user) == 0;
	at = strrchr(user, '@');
	return at != NULL && at != user && strcasecmp(at, item) == 0;
}

int ship_users_match(const struct ship_users *users, const char *user)
{
	size_t i;

	if (!ship_user_is_safe(user))
		return 0;
	for (i = 0; i < users->count; i++) {
		if (item_matches(users->items[i], user))
			return 1;
	}
	return 0;
}
