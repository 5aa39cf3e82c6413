#ifndef SHIPMAIL_CONFIG_H
#define SHIPMAIL_CONFIG_H

/*
 * The shipmail configuration file: Postfix-style "name = value" lines.
 *
 * One file (by default /etc/shipmail/shipmail.conf) is shared by every
 * shipmail program; each reads the names it knows.  The syntax follows
 * Postfix's main.cf: a line "name = value"; whitespace around the name
 * and the value is dropped; "#" starts a comment when it is the first
 * non-blank character of a line; a line that starts with whitespace
 * continues the value of the line before it.  A name given twice keeps
 * its last value.  There is no $name expansion.
 *
 * Values are read with typed getters that turn a bad value into an
 * error message naming the file, the line and the parameter.
 */

#include <stddef.h>
#include <stdint.h>

#define SHIPMAIL_CONFIG_DEFAULT "/etc/shipmail/shipmail.conf"
#define CONFIG_ERROR_MAX 512

struct config;

/* Read and parse a file.  NULL with error set on failure. */
struct config *config_load(const char *path, char *error, size_t error_size);

/* Parse a buffer; origin names it in messages.  NULL on syntax error. */
struct config *config_parse(const char *buf, size_t len, const char *origin,
			    char *error, size_t error_size);

void config_free(struct config **cfg);

/* The raw value of name, or def when it is not set. */
const char *config_get(const struct config *cfg, const char *name,
		       const char *def);

/* Typed getters: 0 on success (def when unset), -1 with error set. */
int config_get_size(const struct config *cfg, const char *name, uint64_t def,
		    uint64_t *value_r, char *error, size_t error_size);
int config_get_seconds(const struct config *cfg, const char *name,
		       unsigned int def, unsigned int *value_r,
		       char *error, size_t error_size);
int config_get_bool(const struct config *cfg, const char *name, int def,
		    int *value_r, char *error, size_t error_size);

/*
 * Iterate over every parameter in file order; a name given twice is seen
 * once, with its last value.  *iter starts at 0.  Returns 0 at the end.
 */
int config_next(const struct config *cfg, size_t *iter,
		const char **name_r, const char **value_r);

/* Where name was last set ("file:line"), for messages; NULL if unset. */
const char *config_origin(const struct config *cfg, const char *name);

/*
 * Sizes: a decimal number with an optional unit k, M or G (powers of
 * 1024, either case) and an optional trailing "B": 50k, 200k, 2M, 1500.
 */
int size_parse(const char *str, uint64_t *bytes_r);

/* Durations: a number with an optional unit s, m, h or d (default s). */
int seconds_parse(const char *str, unsigned int *seconds_r);

/* Split a list on commas and whitespace (Postfix style); calls fn for
   each non-empty item.  Returns the number of items. */
size_t config_list_foreach(const char *list,
			   void (*fn)(const char *item, size_t len, void *ctx),
			   void *ctx);

/*
 * A command line to run without a shell: the value split on blanks
 * (arguments may hold commas), the program an absolute path.  *argv_r
 * is a malloc'ed NULL-terminated array with room for extra more
 * pointers after the words (for the caller's own arguments); free it
 * with config_command_free.  0, or -1 with error set.
 */
int config_get_command(const struct config *cfg, const char *name,
		       const char *def, size_t extra, char ***argv_r,
		       size_t *argc_r, char *error, size_t error_size);
void config_command_free(char ***argv);

#endif
