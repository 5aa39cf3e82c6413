/*
 * Fuzz harness for the pending index encoding as a whole
 * (common/pending.h): what the plugin writes, doveadm and the shore
 * helper must read back.
 *
 * An entry is built from the input (numbers first, then NUL-separated
 * user, handle, mailbox, From and Subject), encoded as key and value,
 * and decoded again.  The decoded entry must equal the original as the
 * format documents it:
 *   - user, GUID and UID exactly (a user that is empty or longer than
 *     PENDING_USER_MAX must instead be refused by the key builder);
 *   - UIDVALIDITY and size exactly, a negative received time as 0,
 *     only the known flags;
 *   - the handle when it is well formed, else none;
 *   - each text field exactly when it is at most PENDING_TEXT_MAX
 *     bytes, else a prefix of at most that many bytes that ends on a
 *     UTF-8 character boundary, and that for valid UTF-8 loses no more
 *     than the character that did not fit.
 */
#include "common/pending.h"
#include "common/handle.h"
#include "fuzz-input.h"

static int
is_continuation(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static void
check_text(const char *orig, const char *got)
{
	size_t olen = strlen(orig), glen = strlen(got);

	FUZZ_CHECK(glen <= olen && memcmp(orig, got, glen) == 0);
	if (olen <= PENDING_TEXT_MAX) {
		FUZZ_CHECK(glen == olen);
		return;
	}
	FUZZ_CHECK(glen <= PENDING_TEXT_MAX);
	/* The first byte left out starts a character. */
	FUZZ_CHECK(glen == 0 || !is_continuation((unsigned char)orig[glen]));
	if (fuzz_utf8_valid(orig, olen))
		FUZZ_CHECK(glen + 3 >= PENDING_TEXT_MAX);
}

static void
check_key(const char *user, const char *guid, uint32_t uid)
{
	char key[PENDING_KEY_MAX], user_buf[PENDING_USER_MAX + 1];
	struct pending_entry e;
	const char *error = NULL;
	size_t ulen = strlen(user), len;

	len = pending_key_build(key, sizeof(key), user, guid, uid);
	if (ulen == 0 || ulen > PENDING_USER_MAX) {
		FUZZ_CHECK(len == 0);
		return;
	}
	FUZZ_CHECK(len > 0 && strlen(key) == len);
	memset(&e, 0, sizeof(e));
	FUZZ_CHECK(pending_key_parse(key, &e, user_buf, sizeof(user_buf),
				     &error) == 0);
	FUZZ_CHECK(strcmp(e.user, user) == 0);
	FUZZ_CHECK(strcmp(e.guid, guid) == 0);
	FUZZ_CHECK(e.uid == uid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	struct fuzz_input in = { data, size };
	struct pending_entry e, d;
	char guid[PENDING_GUID_LEN + 1], value[PENDING_VALUE_MAX + 1];
	char *user, *handle, *mailbox, *from, *subject;
	const char *error = NULL;
	uint32_t uid;
	size_t len;

	memset(&e, 0, sizeof(e));
	/* UIDVALIDITY and UID are never 0 in IMAP; sizes fit int64. */
	e.uidvalidity = (uint32_t)fuzz_uint(&in, 4);
	if (e.uidvalidity == 0)
		e.uidvalidity = 1;
	e.size = fuzz_uint(&in, 8) & INT64_MAX;
	e.received = (int64_t)fuzz_uint(&in, 8);
	e.flags = (unsigned int)fuzz_uint(&in, 4);
	uid = (uint32_t)fuzz_uint(&in, 4);
	if (uid == 0)
		uid = 1;
	for (size_t i = 0; i < PENDING_GUID_LEN; i += 2) {
		uint8_t b = fuzz_u8(&in);

		guid[i] = hex[b >> 4];
		guid[i + 1] = hex[b & 15];
	}
	guid[PENDING_GUID_LEN] = '\0';
	user = fuzz_string(&in);
	handle = fuzz_string(&in);
	mailbox = fuzz_string(&in);
	from = fuzz_string(&in);
	subject = fuzz_string(&in);
	e.handle = handle;
	e.mailbox = mailbox;
	e.from = from;
	e.subject = subject;

	check_key(user, guid, uid);

	len = pending_value_encode(&e, value, sizeof(value));
	FUZZ_CHECK(len <= PENDING_VALUE_MAX && strlen(value) == len);
	memset(&d, 0, sizeof(d));
	FUZZ_CHECK(pending_value_decode(value, &d, &error) == 0);
	FUZZ_CHECK(d.uidvalidity == e.uidvalidity && d.size == e.size);
	FUZZ_CHECK(d.received == (e.received < 0 ? 0 : e.received));
	FUZZ_CHECK(d.flags == (e.flags & (PENDING_FLAG_OVERSIZE |
					  PENDING_FLAG_REQUESTED)));
	if (handle_is_valid(handle, strlen(handle)))
		FUZZ_CHECK(strcmp(d.handle, handle) == 0);
	else
		FUZZ_CHECK(*d.handle == '\0');
	check_text(mailbox, d.mailbox);
	check_text(from, d.from);
	check_text(subject, d.subject);

	free(user);
	free(handle);
	free(mailbox);
	free(from);
	free(subject);
	return 0;
}
