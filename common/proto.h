#ifndef SHIPMAIL_PROTO_H
#define SHIPMAIL_PROTO_H

/*
 * The shipmail transfer protocol's lines: parsing and formatting of the
 * requests shipmail-fetch sends and the replies shipmail-shore gives.
 * doc/protocol.md is the description; this file is its only parser.
 *
 * Everything here works on one line at a time, without the LF, and
 * never trusts the peer: every number is range-checked, every user name
 * percent-decoded and bounded, every GUID checked.  A parse failure
 * gives the error code the shore replies with and a text saying why.
 * The message bytes that follow a DATA line and the compression of the
 * stream are not handled here.
 */

#include <stddef.h>
#include <stdint.h>

#include "pending.h"
#include "digest.h"
#include "handle.h"

#define PROTO_VERSION		1
/* Longest line either side may send, without its LF. */
#define PROTO_LINE_MAX		1024
/* Largest message either side accepts. */
#define PROTO_MESSAGE_MAX	((uint64_t)1 << 31)
/* Most entries in one offer. */
#define PROTO_OFFER_MAX		100000
/* An ERR text is cut to this many bytes. */
#define PROTO_TEXT_MAX		200
/* An outbound message's id: lower-case hex, chosen by the ship. */
#define PROTO_ID_LEN		32

/* What the shore offers beyond fetching, named in its greeting. */
enum proto_capability {
	PROTO_CAP_SEND		= 1 << 0,	/* HAVE, PUT: outbound mail */
	PROTO_CAP_REQUEST	= 1 << 1,	/* REQUEST: ask for held mail */
};

/* Error codes (doc/protocol.md). */
enum proto_code {
	PROTO_ERR_SYNTAX = 400,		/* malformed request */
	PROTO_ERR_UNKNOWN = 401,	/* unknown command */
	PROTO_ERR_SEQUENCE = 402,	/* command not valid now */
	PROTO_ERR_FORBIDDEN = 403,	/* user not of this ship */
	PROTO_ERR_NOT_FOUND = 404,	/* not pending, no such message */
	PROTO_ERR_VERSION = 405,	/* protocol version not spoken */
	PROTO_ERR_CHANGED = 409,	/* UIDVALIDITY differs */
	PROTO_ERR_OVERSIZE = 413,	/* oversize and not requested */
	PROTO_ERR_RANGE = 416,		/* offset or length too far */
	PROTO_ERR_DIGEST = 422,		/* uploaded bytes do not match */
	PROTO_ERR_TEMP = 451,		/* shore trouble: try later */
	PROTO_ERR_INTERNAL = 500,	/* bug or unexpected failure */
	PROTO_ERR_REFUSED = 554,	/* upload refused for good */
};

/* Compression methods, in order of preference (best last). */
enum proto_compress {
	PROTO_COMPRESS_NONE	= 0,
	PROTO_COMPRESS_ZLIB	= 1,
	PROTO_COMPRESS_ZSTD	= 2,
};
#define PROTO_COMPRESS_COUNT	3

enum proto_command {
	PROTO_CMD_HELLO,
	PROTO_CMD_OFFER,
	PROTO_CMD_FETCH,
	PROTO_CMD_ACK,
	PROTO_CMD_QUIT,
	PROTO_CMD_HAVE,
	PROTO_CMD_PUT,
	PROTO_CMD_REQUEST,
};

/* One message on shore: whose, which mailbox, which UID. */
struct proto_msgref {
	char user[PENDING_USER_MAX + 1];
	char guid[PENDING_GUID_LEN + 1];
	uint32_t uidvalidity;
	uint32_t uid;
};

struct proto_request {
	enum proto_command cmd;

	/* HELLO */
	unsigned int version;
	unsigned int compress_mask;	/* 1 << enum proto_compress */

	/* FETCH, ACK; REQUEST uses ref.user only */
	struct proto_msgref ref;

	/* FETCH: length 0 means "to the end"; PUT: offset and count */
	uint64_t offset;
	uint64_t length;

	/* HAVE, PUT: the outbound message and, for PUT, its whole size
	   and digest */
	char id[PROTO_ID_LEN + 1];
	uint64_t size;
	char digest[DIGEST_HEX_LEN + 1];

	/* REQUEST */
	char handle[SHIPMAIL_HANDLE_LEN + 1];
};

enum proto_reply_type {
	PROTO_REPLY_GREETING,	/* SHIPMAIL <version> <methods> */
	PROTO_REPLY_HELLO,	/* HELLO <version> <method> */
	PROTO_REPLY_OFFER,	/* OFFER <count> */
	PROTO_REPLY_MSG,	/* MSG <ref> <size> <received> <flags> */
	PROTO_REPLY_DATA,	/* DATA <size> <digest> <offset> <count> */
	PROTO_REPLY_OK,		/* OK <text> */
	PROTO_REPLY_ERR,	/* ERR <code> <text> */
	PROTO_REPLY_HAVE,	/* HAVE <id> <bytes> | HAVE <id> sent */
};

struct proto_reply {
	enum proto_reply_type type;

	/* GREETING, HELLO */
	unsigned int version;
	unsigned int compress_mask;	/* GREETING: offered methods */
	unsigned int caps;		/* GREETING: enum proto_capability */
	enum proto_compress compress;	/* HELLO: the chosen one */

	/* OFFER */
	uint64_t count;

	/* MSG */
	struct proto_msgref ref;
	uint64_t size;			/* MSG, DATA: whole message */
	int64_t received;
	unsigned int flags;		/* enum pending_flags */

	/* DATA; HAVE: offset is the bytes the shore holds */
	char digest[DIGEST_HEX_LEN + 1];
	uint64_t offset;
	uint64_t data_len;

	/* HAVE */
	char id[PROTO_ID_LEN + 1];
	int sent;			/* injected on shore already */

	/* ERR */
	unsigned int code;
	char text[PROTO_TEXT_MAX + 1];	/* ERR, OK */
};

/*
 * Parse one request line (without LF; a trailing CR is ignored).
 * Returns 0, or an enum proto_code with *error_r set to a reason.
 */
int proto_request_parse(const char *line, size_t len,
			struct proto_request *req, const char **error_r);

/* Parse one reply line.  Returns 0, or -1 with *error_r set. */
int proto_reply_parse(const char *line, size_t len,
		      struct proto_reply *reply, const char **error_r);

/*
 * Formatters: write a line with its LF into buf, NUL-terminated.
 * Return the length, or 0 when buf is too small or a field invalid.
 */
size_t proto_request_format(char *buf, size_t size,
			    const struct proto_request *req);
size_t proto_format_greeting(char *buf, size_t size, unsigned int mask,
			     unsigned int caps);
size_t proto_format_hello(char *buf, size_t size, enum proto_compress c);
size_t proto_format_offer(char *buf, size_t size, uint64_t count);
size_t proto_format_msg(char *buf, size_t size,
			const struct proto_msgref *ref, uint64_t msg_size,
			int64_t received, unsigned int flags);
size_t proto_format_data(char *buf, size_t size, uint64_t msg_size,
			 const char *digest, uint64_t offset,
			 uint64_t data_len);
size_t proto_format_have(char *buf, size_t size, const char *id,
			 uint64_t have, int sent);
size_t proto_format_ok(char *buf, size_t size, const char *text);
size_t proto_format_err(char *buf, size_t size, unsigned int code,
			const char *text);

/* A user name on the wire: percent-encoded as in pending keys. */
size_t proto_user_encode(char *buf, size_t size, const char *user);
int proto_user_decode(const char *enc, size_t len, char *buf, size_t size);

/* 1 when s (len bytes) is a well-formed outbound message id. */
int proto_id_is_valid(const char *s, size_t len);

/* "zstd", "zlib", "none"; NULL for an unknown value. */
const char *proto_compress_name(enum proto_compress c);
int proto_compress_parse(const char *name, size_t len,
			 enum proto_compress *c_r);
/* The best method in both masks (none is always possible). */
enum proto_compress proto_compress_choose(unsigned int ours,
					  unsigned int theirs);

/* Parse arbitrary bytes as a request and as a reply (fuzzing). */
void proto_fuzz_one(const unsigned char *data, size_t size);

#endif
