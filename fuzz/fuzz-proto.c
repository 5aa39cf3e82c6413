/*
 * Fuzz harness for the transfer protocol's lines (common/proto.h).
 *
 * The shore parses requests that come from a ship's key, the ship
 * parses replies that come over the link; either may be hostile or
 * damaged.  Any bytes (with their length, no terminating NUL) are
 * parsed as a request and as a reply.  A refused line must come with a
 * reason (and for a request, a protocol error code).  An accepted line
 * must hold only in-range values, and must survive a round trip: the
 * formatter writes it again (it must not refuse what the parser took)
 * and parsing that gives the same values.  User names on their own:
 * a decoded name encodes back and decodes to the same name.
 */
#include "common/proto.h"
#include "fuzz-input.h"

static int
refs_equal(const struct proto_msgref *a, const struct proto_msgref *b)
{
	return strcmp(a->user, b->user) == 0 &&
		strcmp(a->guid, b->guid) == 0 &&
		a->uidvalidity == b->uidvalidity && a->uid == b->uid;
}

static void
check_ref(const struct proto_msgref *ref)
{
	FUZZ_CHECK(ref->user[0] != '\0');
	FUZZ_CHECK(strlen(ref->user) <= PENDING_USER_MAX);
	FUZZ_CHECK(pending_guid_is_valid(ref->guid));
	FUZZ_CHECK(ref->uidvalidity != 0 && ref->uid != 0);
}

/* Parse a formatted line (with its LF) as a request. */
static void
reparse_request(const char *line, size_t len, struct proto_request *req)
{
	const char *error = NULL;

	FUZZ_CHECK(len > 0 && line[len - 1] == '\n');
	FUZZ_CHECK(proto_request_parse(line, len - 1, req, &error) == 0);
}

static void
check_request(const struct proto_request *req)
{
	char line[PROTO_LINE_MAX + 2];
	struct proto_request again;
	size_t len;

	if (req->cmd == PROTO_CMD_FETCH || req->cmd == PROTO_CMD_ACK)
		check_ref(&req->ref);
	if (req->cmd == PROTO_CMD_FETCH)
		FUZZ_CHECK(req->offset <= PROTO_MESSAGE_MAX &&
			   req->length <= PROTO_MESSAGE_MAX);

	len = proto_request_format(line, sizeof(line), req);
	reparse_request(line, len, &again);
	FUZZ_CHECK(again.cmd == req->cmd);
	switch (req->cmd) {
	case PROTO_CMD_HELLO:
		/* "none" is always offered. */
		FUZZ_CHECK(again.version == req->version);
		FUZZ_CHECK(again.compress_mask == (req->compress_mask | 1u));
		break;
	case PROTO_CMD_FETCH:
		FUZZ_CHECK(again.offset == req->offset &&
			   again.length == req->length);
		FUZZ_CHECK(refs_equal(&again.ref, &req->ref));
		break;
	case PROTO_CMD_ACK:
		FUZZ_CHECK(refs_equal(&again.ref, &req->ref));
		break;
	case PROTO_CMD_HAVE:
		FUZZ_CHECK(strcmp(again.id, req->id) == 0);
		break;
	case PROTO_CMD_PUT:
		FUZZ_CHECK(strcmp(again.id, req->id) == 0 &&
			   strcmp(again.digest, req->digest) == 0 &&
			   again.size == req->size &&
			   again.offset == req->offset &&
			   again.length == req->length);
		break;
	case PROTO_CMD_REQUEST:
		FUZZ_CHECK(strcmp(again.ref.user, req->ref.user) == 0 &&
			   strcmp(again.handle, req->handle) == 0);
		break;
	case PROTO_CMD_OFFER:
	case PROTO_CMD_QUIT:
		break;
	}
}

/* Format a parsed reply again; 0 when this reply has no formatter
   that would write the same values. */
static size_t
format_reply(char *buf, size_t size, const struct proto_reply *r)
{
	switch (r->type) {
	case PROTO_REPLY_GREETING:
		if (r->version != PROTO_VERSION)
			return 0;
		return proto_format_greeting(buf, size, r->compress_mask,
					     r->caps);
	case PROTO_REPLY_HELLO:
		if (r->version != PROTO_VERSION)
			return 0;
		return proto_format_hello(buf, size, r->compress);
	case PROTO_REPLY_OFFER:
		return proto_format_offer(buf, size, r->count);
	case PROTO_REPLY_MSG:
		return proto_format_msg(buf, size, &r->ref, r->size,
					r->received, r->flags);
	case PROTO_REPLY_DATA:
		return proto_format_data(buf, size, r->size, r->digest,
					 r->offset, r->data_len);
	case PROTO_REPLY_OK:
		return proto_format_ok(buf, size, r->text);
	case PROTO_REPLY_ERR:
		return proto_format_err(buf, size, r->code, r->text);
	case PROTO_REPLY_HAVE:
		return proto_format_have(buf, size, r->id, r->offset,
					 r->sent);
	}
	return 0;
}

static void
check_reply(const struct proto_reply *r)
{
	char line[PROTO_LINE_MAX + 2];
	struct proto_reply again;
	const char *error = NULL;
	size_t len;

	FUZZ_CHECK(strlen(r->text) <= PROTO_TEXT_MAX);
	for (const char *p = r->text; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	switch (r->type) {
	case PROTO_REPLY_MSG:
		check_ref(&r->ref);
		FUZZ_CHECK(r->size <= PROTO_MESSAGE_MAX && r->received >= 0);
		break;
	case PROTO_REPLY_DATA:
		FUZZ_CHECK(r->offset <= r->size &&
			   r->data_len <= r->size - r->offset);
		break;
	case PROTO_REPLY_OFFER:
		FUZZ_CHECK(r->count <= PROTO_OFFER_MAX);
		break;
	case PROTO_REPLY_ERR:
		FUZZ_CHECK(r->code >= 100 && r->code <= 999);
		break;
	default:
		break;
	}

	len = format_reply(line, sizeof(line), r);
	if (len == 0 && (r->type == PROTO_REPLY_GREETING ||
			 r->type == PROTO_REPLY_HELLO))
		return;
	FUZZ_CHECK(len > 0 && line[len - 1] == '\n');
	FUZZ_CHECK(proto_reply_parse(line, len - 1, &again, &error) == 0);
	FUZZ_CHECK(again.type == r->type);
	FUZZ_CHECK(again.version == r->version);
	FUZZ_CHECK(again.compress == r->compress);
	FUZZ_CHECK(again.count == r->count && again.size == r->size);
	FUZZ_CHECK(again.received == r->received && again.flags == r->flags);
	FUZZ_CHECK(again.offset == r->offset &&
		   again.data_len == r->data_len);
	FUZZ_CHECK(again.code == r->code);
	FUZZ_CHECK(strcmp(again.digest, r->digest) == 0);
	FUZZ_CHECK(strcmp(again.text, r->text) == 0);
	if (r->type == PROTO_REPLY_MSG)
		FUZZ_CHECK(refs_equal(&again.ref, &r->ref));
	if (r->type == PROTO_REPLY_GREETING)
		FUZZ_CHECK(again.compress_mask == (r->compress_mask | 1u) &&
			   again.caps == r->caps);
	FUZZ_CHECK(strcmp(again.id, r->id) == 0 && again.sent == r->sent);
}

static void
check_user(const char *enc, size_t len)
{
	char user[PENDING_USER_MAX + 1], again[PENDING_USER_MAX + 1];
	char wire[3 * PENDING_USER_MAX + 1];
	size_t n;

	if (proto_user_decode(enc, len, user, sizeof(user)) < 0)
		return;
	FUZZ_CHECK(user[0] != '\0' && strlen(user) <= PENDING_USER_MAX);
	n = proto_user_encode(wire, sizeof(wire), user);
	FUZZ_CHECK(n > 0 && strlen(wire) == n);
	FUZZ_CHECK(proto_user_decode(wire, n, again, sizeof(again)) == 0);
	FUZZ_CHECK(strcmp(user, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact copy with no NUL after it: the parsers take a length. */
	char *line = malloc(size > 0 ? size : 1);
	struct proto_request req;
	struct proto_reply reply;
	const char *error = NULL;
	int ret;

	if (line == NULL)
		abort();
	if (size > 0)
		memcpy(line, data, size);

	ret = proto_request_parse(line, size, &req, &error);
	if (ret == 0)
		check_request(&req);
	else
		FUZZ_CHECK(ret >= 400 && ret <= 599 && error != NULL);

	error = NULL;
	if (proto_reply_parse(line, size, &reply, &error) == 0)
		check_reply(&reply);
	else
		FUZZ_CHECK(error != NULL);

	check_user(line, size);
	free(line);
	return 0;
}
