/*
 * Fuzz harness for pending index keys (common/pending.h).
 *
 * Keys come back from a dict iteration, and the dict may hold keys that
 * other programs wrote.  Any bytes (up to the first NUL) are parsed as
 * a key.  A refused key must come with a reason.  For an accepted one:
 *   - the user is non-empty, at most PENDING_USER_MAX bytes, and was
 *     decoded into the caller's buffer, which it fits with its NUL
 *     (one byte less must be refused, never overrun);
 *   - the GUID is 32 lower-case hex digits and the UID not 0;
 *   - building the key again from (user, GUID, UID) works, fits
 *     PENDING_KEY_MAX, starts with the user's prefix, and parses back
 *     to the same user, GUID and UID.
 */
#include "common/pending.h"
#include "fuzz-input.h"

/* Parse key with a user buffer of exactly size bytes. */
static int
parse_with(const char *key, size_t size, struct pending_entry *entry,
	   char **user_buf_r)
{
	const char *error = NULL;
	int ret;

	*user_buf_r = malloc(size > 0 ? size : 1);
	if (*user_buf_r == NULL)
		abort();
	memset(entry, 0, sizeof(*entry));
	ret = pending_key_parse(key, entry, *user_buf_r, size, &error);
	FUZZ_CHECK(ret == 0 || (ret == -1 && error != NULL));
	return ret;
}

static void
check_rebuild(const struct pending_entry *entry)
{
	char key[PENDING_KEY_MAX], prefix[PENDING_KEY_MAX];
	struct pending_entry again;
	char *user_buf;
	size_t len, plen;

	len = pending_key_build(key, sizeof(key), entry->user, entry->guid,
				entry->uid);
	FUZZ_CHECK(len > 0 && len < sizeof(key) && strlen(key) == len);
	plen = pending_key_user_prefix(prefix, sizeof(prefix), entry->user);
	FUZZ_CHECK(plen > 0 && strncmp(key, prefix, plen) == 0);
	FUZZ_CHECK(strncmp(key, PENDING_DICT_PREFIX,
			   sizeof(PENDING_DICT_PREFIX) - 1) == 0);

	FUZZ_CHECK(parse_with(key, PENDING_USER_MAX + 1, &again,
			      &user_buf) == 0);
	FUZZ_CHECK(strcmp(again.user, entry->user) == 0);
	FUZZ_CHECK(strcmp(again.guid, entry->guid) == 0);
	FUZZ_CHECK(again.uid == entry->uid);
	free(user_buf);

	/* A buffer one byte short of the key is refused, not overrun. */
	FUZZ_CHECK(pending_key_build(key, len, entry->user, entry->guid,
				     entry->uid) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *key = fuzz_dup(data, size);
	struct pending_entry entry, small;
	char *user_buf, *small_buf;
	size_t user_len;

	if (parse_with(key, PENDING_USER_MAX + 1, &entry, &user_buf) < 0) {
		free(user_buf);
		free(key);
		return 0;
	}

	FUZZ_CHECK(entry.user == user_buf);
	user_len = strlen(entry.user);
	FUZZ_CHECK(user_len > 0 && user_len <= PENDING_USER_MAX);
	FUZZ_CHECK(pending_guid_is_valid(entry.guid));
	FUZZ_CHECK(entry.uid != 0);

	/* The user needs user_len + 1 bytes: exactly that works. */
	FUZZ_CHECK(parse_with(key, user_len, &small, &small_buf) < 0);
	free(small_buf);
	FUZZ_CHECK(parse_with(key, user_len + 1, &small, &small_buf) == 0);
	FUZZ_CHECK(strcmp(small.user, entry.user) == 0);
	free(small_buf);

	check_rebuild(&entry);
	free(user_buf);
	free(key);
	return 0;
}
