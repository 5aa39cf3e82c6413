/*
 * Parsing and formatting of the transfer protocol's lines.  See proto.h
 * and doc/protocol.md.  A line is split into at most PROTO_FIELDS_MAX
 * words on spaces and tabs; the last field of OK and ERR is free text.
 * Nothing here allocates: fields point into the caller's line, and
 * decoded values are copied into fixed-size members.
 */
#include "proto.h"

#include <stdio.h>
#include <string.h>

#define PROTO_FIELDS_MAX 10

struct fields {
	const char *start[PROTO_FIELDS_MAX];
	size_t len[PROTO_FIELDS_MAX];
	unsigned int count;
	const char *rest;		/* text after the first word */
	size_t rest_len;
};

static const char *const compress_names[PROTO_COMPRESS_COUNT] = {
	"none", "zlib", "zstd",
};

static const struct {
	const char *name;
	unsigned int cap;
} cap_names[] = {
	{ "send", PROTO_CAP_SEND },
	{ "request", PROTO_CAP_REQUEST },
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Split a line into words.  With text_after = 0, -1 when it has more
 * than PROTO_FIELDS_MAX words.  Otherwise splitting stops after that
 * many words: what follows is free text (f->rest and the end of the
 * line), however many words it has.
 */
static int split_fields(const char *line, size_t len, struct fields *f,
			unsigned int text_after)
{
	size_t i = 0;

	memset(f, 0, sizeof(*f));
	if (len > 0 && line[len - 1] == '\r')
		len--;

	while (i < len) {
		size_t start;

		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			break;
		if (text_after > 0 && f->count == text_after)
			break;
		if (f->count == PROTO_FIELDS_MAX)
			return -1;
		start = i;
		while (i < len && !is_blank(line[i]))
			i++;
		f->start[f->count] = line + start;
		f->len[f->count] = i - start;
		f->count++;
		if (f->count == 1) {
			size_t r = i;

			while (r < len && is_blank(line[r]))
				r++;
			f->rest = line + r;
			f->rest_len = len - r;
		}
	}
	return 0;
}

static int field_is(const struct fields *f, unsigned int i, const char *word)
{
	return f->len[i] == strlen(word) &&
		memcmp(f->start[i], word, f->len[i]) == 0;
}

/* A decimal number without sign or leading zeros, at most max. */
static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned int)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}

static int parse_u32_nonzero(const char *s, size_t len, uint32_t *v_r)
{
	uint64_t v;

	if (parse_u64(s, len, UINT32_MAX, &v) < 0 || v == 0)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

static int user_byte_is_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '@' || c == '.' || c == '_' ||
		c == '+' || c == '-';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t proto_user_encode(char *buf, size_t size, const char *user)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t len = strlen(user), pos = 0, i;

	if (len == 0 || len > PENDING_USER_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];

		if (pos + 4 > size)
			return 0;
		if (user_byte_is_plain(c)) {
			buf[pos++] = (char)c;
			continue;
		}
		buf[pos++] = '%';
		buf[pos++] = digits[c >> 4];
		buf[pos++] = digits[c & 0x0f];
	}
	buf[pos] = '\0';
	return pos;
}

/*
 * Decode a user name.  Only the canonical encoding is accepted (plain
 * bytes as themselves, others as %HH), so that one user has exactly one
 * spelling on the wire; %00 is refused.
 */
int proto_user_decode(const char *enc, size_t len, char *buf, size_t size)
{
	size_t i, pos = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)enc[i];

		if (pos + 1 >= size)
			return -1;
		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hex_digit(enc[i + 1]);
			lo = hex_digit(enc[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			if (c == '\0' || user_byte_is_plain(c))
				return -1;
			i += 2;
		} else if (!user_byte_is_plain(c)) {
			return -1;
		}
		buf[pos++] = (char)c;
	}
	if (pos == 0 || pos > PENDING_USER_MAX)
		return -1;
	buf[pos] = '\0';
	return 0;
}

const char *proto_compress_name(enum proto_compress c)
{
	if ((unsigned int)c >= PROTO_COMPRESS_COUNT)
		return NULL;
	return compress_names[c];
}

int proto_compress_parse(const char *name, size_t len,
			 enum proto_compress *c_r)
{
	unsigned int i;

	for (i = 0; i < PROTO_COMPRESS_COUNT; i++) {
		if (strlen(compress_names[i]) == len &&
		    memcmp(compress_names[i], name, len) == 0) {
			*c_r = (enum proto_compress)i;
			return 0;
		}
	}
	return -1;
}

enum proto_compress proto_compress_choose(unsigned int ours,
					  unsigned int theirs)
{
	unsigned int both = ours & theirs, i;

	for (i = PROTO_COMPRESS_COUNT; i-- > 1;) {
		if ((both & (1u << i)) != 0)
			return (enum proto_compress)i;
	}
	return PROTO_COMPRESS_NONE;
}

/* "zstd,zlib,none": unknown names are skipped, for later versions. */
static int parse_compress_list(const char *s, size_t len, unsigned int *mask)
{
	size_t i = 0;

	*mask = 0;
	while (i < len) {
		size_t start = i;
		enum proto_compress c;

		while (i < len && s[i] != ',')
			i++;
		if (i == start)
			return -1;
		if (proto_compress_parse(s + start, i - start, &c) == 0)
			*mask |= 1u << c;
		if (i < len)
			i++;
	}
	return len > 0 ? 0 : -1;
}

int proto_id_is_valid(const char *s, size_t len)
{
	size_t i;

	if (len != PROTO_ID_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static int copy_id(const struct fields *f, unsigned int i, char *id)
{
	if (!proto_id_is_valid(f->start[i], f->len[i]))
		return -1;
	memcpy(id, f->start[i], PROTO_ID_LEN);
	id[PROTO_ID_LEN] = '\0';
	return 0;
}

/* "send,request": unknown names are skipped, for later versions. */
static int parse_caps(const char *s, size_t len, unsigned int *caps_r)
{
	size_t i = 0, k;

	*caps_r = 0;
	while (i < len) {
		size_t start = i;

		while (i < len && s[i] != ',')
			i++;
		if (i == start)
			return -1;
		for (k = 0; k < sizeof(cap_names) / sizeof(cap_names[0]); k++) {
			if (strlen(cap_names[k].name) == i - start &&
			    memcmp(cap_names[k].name, s + start, i - start) == 0)
				*caps_r |= cap_names[k].cap;
		}
		if (i < len)
			i++;
	}
	return 0;
}

/* user guid uidvalidity uid, from fields[first..first+3]. */
static int parse_msgref(const struct fields *f, unsigned int first,
			struct proto_msgref *ref, const char **error_r)
{
	const char *g = f->start[first + 1];

	if (proto_user_decode(f->start[first], f->len[first], ref->user,
			      sizeof(ref->user)) < 0) {
		*error_r = "bad user name encoding";
		return -1;
	}
	if (f->len[first + 1] != PENDING_GUID_LEN) {
		*error_r = "bad mailbox GUID";
		return -1;
	}
	memcpy(ref->guid, g, PENDING_GUID_LEN);
	ref->guid[PENDING_GUID_LEN] = '\0';
	if (!pending_guid_is_valid(ref->guid)) {
		*error_r = "bad mailbox GUID";
		return -1;
	}
	if (parse_u32_nonzero(f->start[first + 2], f->len[first + 2],
			      &ref->uidvalidity) < 0 ||
	    parse_u32_nonzero(f->start[first + 3], f->len[first + 3],
			      &ref->uid) < 0) {
		*error_r = "bad UIDVALIDITY or UID";
		return -1;
	}
	return 0;
}

static int parse_hello(const struct fields *f, struct proto_request *req,
		       const char **error_r)
{
	uint64_t version;

	if (f->count != 3 || parse_u64(f->start[1], f->len[1], 1000,
				       &version) < 0 ||
	    parse_compress_list(f->start[2], f->len[2],
				&req->compress_mask) < 0) {
		*error_r = "usage: HELLO <version> <method>[,<method>...]";
		return PROTO_ERR_SYNTAX;
	}
	req->version = (unsigned int)version;
	return 0;
}

static int parse_fetch(const struct fields *f, struct proto_request *req,
		       const char **error_r)
{
	if (f->count != 6 && f->count != 7) {
		*error_r = "usage: FETCH <user> <guid> <uidvalidity> <uid> "
			"<offset> [<length>]";
		return PROTO_ERR_SYNTAX;
	}
	if (parse_msgref(f, 1, &req->ref, error_r) < 0)
		return PROTO_ERR_SYNTAX;
	if (parse_u64(f->start[5], f->len[5], PROTO_MESSAGE_MAX,
		      &req->offset) < 0) {
		*error_r = "bad offset";
		return PROTO_ERR_SYNTAX;
	}
	if (f->count == 7 &&
	    (parse_u64(f->start[6], f->len[6], PROTO_MESSAGE_MAX,
		       &req->length) < 0 || req->length == 0)) {
		*error_r = "bad length";
		return PROTO_ERR_SYNTAX;
	}
	return 0;
}

static int parse_ack(const struct fields *f, struct proto_request *req,
		     const char **error_r)
{
	if (f->count != 5) {
		*error_r = "usage: ACK <user> <guid> <uidvalidity> <uid>";
		return PROTO_ERR_SYNTAX;
	}
	if (parse_msgref(f, 1, &req->ref, error_r) < 0)
		return PROTO_ERR_SYNTAX;
	return 0;
}

static int parse_have(const struct fields *f, struct proto_request *req,
		      const char **error_r)
{
	if (f->count != 2 || copy_id(f, 1, req->id) < 0) {
		*error_r = "usage: HAVE <id>";
		return PROTO_ERR_SYNTAX;
	}
	return 0;
}

/* PUT <id> <size> <digest> <offset> <count>: a piece of an upload. */
static int parse_put(const struct fields *f, struct proto_request *req,
		     const char **error_r)
{
	if (f->count != 6 || copy_id(f, 1, req->id) < 0 ||
	    parse_u64(f->start[2], f->len[2], PROTO_MESSAGE_MAX,
		      &req->size) < 0 ||
	    f->len[3] != DIGEST_HEX_LEN ||
	    parse_u64(f->start[4], f->len[4], PROTO_MESSAGE_MAX,
		      &req->offset) < 0 ||
	    parse_u64(f->start[5], f->len[5], PROTO_MESSAGE_MAX,
		      &req->length) < 0) {
		*error_r = "usage: PUT <id> <size> <digest> <offset> <count>";
		return PROTO_ERR_SYNTAX;
	}
	memcpy(req->digest, f->start[3], DIGEST_HEX_LEN);
	req->digest[DIGEST_HEX_LEN] = '\0';
	if (!digest_hex_is_valid(req->digest)) {
		*error_r = "bad digest";
		return PROTO_ERR_SYNTAX;
	}
	if (req->offset > req->size ||
	    req->length > req->size - req->offset) {
		*error_r = "PUT: offset and count past the size";
		return PROTO_ERR_SYNTAX;
	}
	return 0;
}

static int parse_request_cmd(const struct fields *f,
			     struct proto_request *req, const char **error_r)
{
	if (f->count != 3) {
		*error_r = "usage: REQUEST <user> <handle>";
		return PROTO_ERR_SYNTAX;
	}
	if (proto_user_decode(f->start[1], f->len[1], req->ref.user,
			      sizeof(req->ref.user)) < 0) {
		*error_r = "bad user name encoding";
		return PROTO_ERR_SYNTAX;
	}
	if (!handle_is_valid(f->start[2], f->len[2])) {
		*error_r = "bad handle";
		return PROTO_ERR_SYNTAX;
	}
	memcpy(req->handle, f->start[2], SHIPMAIL_HANDLE_LEN);
	req->handle[SHIPMAIL_HANDLE_LEN] = '\0';
	return 0;
}

static int line_is_clean(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\n')
			return 0;
	}
	return 1;
}

int proto_request_parse(const char *line, size_t len,
			struct proto_request *req, const char **error_r)
{
	struct fields f;

	memset(req, 0, sizeof(*req));
	if (len > PROTO_LINE_MAX) {
		*error_r = "line too long";
		return PROTO_ERR_SYNTAX;
	}
	if (!line_is_clean(line, len) || split_fields(line, len, &f, 0) < 0 ||
	    f.count == 0) {
		*error_r = "malformed line";
		return PROTO_ERR_SYNTAX;
	}

	if (field_is(&f, 0, "HELLO")) {
		req->cmd = PROTO_CMD_HELLO;
		return parse_hello(&f, req, error_r);
	}
	if (field_is(&f, 0, "OFFER") || field_is(&f, 0, "QUIT")) {
		req->cmd = field_is(&f, 0, "OFFER") ?
			PROTO_CMD_OFFER : PROTO_CMD_QUIT;
		if (f.count != 1) {
			*error_r = "this command takes no arguments";
			return PROTO_ERR_SYNTAX;
		}
		return 0;
	}
	if (field_is(&f, 0, "FETCH")) {
		req->cmd = PROTO_CMD_FETCH;
		return parse_fetch(&f, req, error_r);
	}
	if (field_is(&f, 0, "ACK")) {
		req->cmd = PROTO_CMD_ACK;
		return parse_ack(&f, req, error_r);
	}
	if (field_is(&f, 0, "HAVE")) {
		req->cmd = PROTO_CMD_HAVE;
		return parse_have(&f, req, error_r);
	}
	if (field_is(&f, 0, "PUT")) {
		req->cmd = PROTO_CMD_PUT;
		return parse_put(&f, req, error_r);
	}
	if (field_is(&f, 0, "REQUEST")) {
		req->cmd = PROTO_CMD_REQUEST;
		return parse_request_cmd(&f, req, error_r);
	}
	*error_r = "unknown command";
	return PROTO_ERR_UNKNOWN;
}

/* Copy free text, replacing control bytes, cut to PROTO_TEXT_MAX. */
static void copy_text(char *dst, const char *src, size_t len)
{
	size_t i;

	if (len > PROTO_TEXT_MAX)
		len = PROTO_TEXT_MAX;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[len] = '\0';
}

static int parse_flags(const char *s, size_t len, unsigned int *flags_r)
{
	size_t i;

	*flags_r = 0;
	if (len == 1 && s[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == 'o')
			*flags_r |= PENDING_FLAG_OVERSIZE;
		else if (s[i] == 'r')
			*flags_r |= PENDING_FLAG_REQUESTED;
		else
			return -1;
	}
	return len > 0 ? 0 : -1;
}

static int parse_reply_msg(const struct fields *f, struct proto_reply *r,
			   const char **error_r)
{
	uint64_t received;

	if (f->count != 8) {
		*error_r = "MSG: wrong field count";
		return -1;
	}
	if (parse_msgref(f, 1, &r->ref, error_r) < 0)
		return -1;
	if (parse_u64(f->start[5], f->len[5], PROTO_MESSAGE_MAX,
		      &r->size) < 0 ||
	    parse_u64(f->start[6], f->len[6], INT64_MAX, &received) < 0 ||
	    parse_flags(f->start[7], f->len[7], &r->flags) < 0) {
		*error_r = "MSG: bad size, time or flags";
		return -1;
	}
	r->received = (int64_t)received;
	return 0;
}

static int parse_reply_data(const struct fields *f, struct proto_reply *r,
			    const char **error_r)
{
	if (f->count != 5 ||
	    parse_u64(f->start[1], f->len[1], PROTO_MESSAGE_MAX,
		      &r->size) < 0 ||
	    f->len[2] != DIGEST_HEX_LEN ||
	    parse_u64(f->start[3], f->len[3], PROTO_MESSAGE_MAX,
		      &r->offset) < 0 ||
	    parse_u64(f->start[4], f->len[4], PROTO_MESSAGE_MAX,
		      &r->data_len) < 0) {
		*error_r = "DATA: malformed";
		return -1;
	}
	memcpy(r->digest, f->start[2], DIGEST_HEX_LEN);
	r->digest[DIGEST_HEX_LEN] = '\0';
	if (!digest_hex_is_valid(r->digest) || r->offset > r->size ||
	    r->data_len > r->size - r->offset) {
		*error_r = "DATA: bad digest or range";
		return -1;
	}
	return 0;
}

static int parse_reply_version(const struct fields *f, struct proto_reply *r,
			       const char **error_r)
{
	uint64_t version;

	if (f->count < 3 || f->count > 4 ||
	    (f->count == 4 && r->type != PROTO_REPLY_GREETING) ||
	    parse_u64(f->start[1], f->len[1], 1000, &version) < 0) {
		*error_r = "greeting: malformed";
		return -1;
	}
	r->version = (unsigned int)version;
	if (r->type == PROTO_REPLY_GREETING) {
		if (parse_compress_list(f->start[2], f->len[2],
					&r->compress_mask) < 0 ||
		    (f->count == 4 &&
		     parse_caps(f->start[3], f->len[3], &r->caps) < 0)) {
			*error_r = "greeting: bad method or capability list";
			return -1;
		}
		return 0;
	}
	if (proto_compress_parse(f->start[2], f->len[2], &r->compress) < 0) {
		*error_r = "HELLO: unknown method";
		return -1;
	}
	return 0;
}

static int parse_reply_err(const struct fields *f, struct proto_reply *r,
			   const char **error_r)
{
	uint64_t code;

	if (f->count < 2 ||
	    parse_u64(f->start[1], f->len[1], 999, &code) < 0 || code < 100) {
		*error_r = "ERR: bad code";
		return -1;
	}
	r->code = (unsigned int)code;

	/* The text is everything after the code. */
	{
		const char *t = f->start[1] + f->len[1];
		const char *end = f->rest + f->rest_len;

		while (t < end && is_blank(*t))
			t++;
		copy_text(r->text, t, (size_t)(end - t));
	}
	return 0;
}

/* OK and ERR end in free text: after "OK", after "ERR <code>". */
static unsigned int reply_text_after(const char *line, size_t len)
{
	size_t i = 0, start;

	while (i < len && is_blank(line[i]))
		i++;
	start = i;
	while (i < len && !is_blank(line[i]))
		i++;
	if (i - start == 2 && memcmp(line + start, "OK", 2) == 0)
		return 1;
	if (i - start == 3 && memcmp(line + start, "ERR", 3) == 0)
		return 2;
	return 0;
}

int proto_reply_parse(const char *line, size_t len,
		      struct proto_reply *r, const char **error_r)
{
	struct fields f;

	memset(r, 0, sizeof(*r));
	if (len > PROTO_LINE_MAX || !line_is_clean(line, len) ||
	    split_fields(line, len, &f, reply_text_after(line, len)) < 0 ||
	    f.count == 0) {
		*error_r = "malformed reply line";
		return -1;
	}

	if (field_is(&f, 0, "SHIPMAIL") || field_is(&f, 0, "HELLO")) {
		r->type = field_is(&f, 0, "HELLO") ?
			PROTO_REPLY_HELLO : PROTO_REPLY_GREETING;
		return parse_reply_version(&f, r, error_r);
	}
	if (field_is(&f, 0, "OFFER")) {
		r->type = PROTO_REPLY_OFFER;
		if (f.count != 2 || parse_u64(f.start[1], f.len[1],
					      PROTO_OFFER_MAX, &r->count) < 0) {
			*error_r = "OFFER: bad count";
			return -1;
		}
		return 0;
	}
	if (field_is(&f, 0, "MSG")) {
		r->type = PROTO_REPLY_MSG;
		return parse_reply_msg(&f, r, error_r);
	}
	if (field_is(&f, 0, "DATA")) {
		r->type = PROTO_REPLY_DATA;
		return parse_reply_data(&f, r, error_r);
	}
	if (field_is(&f, 0, "HAVE")) {
		r->type = PROTO_REPLY_HAVE;
		if (f.count != 3 || copy_id(&f, 1, r->id) < 0) {
			*error_r = "HAVE: malformed";
			return -1;
		}
		if (field_is(&f, 2, "sent"))
			r->sent = 1;
		else if (parse_u64(f.start[2], f.len[2], PROTO_MESSAGE_MAX,
				   &r->offset) < 0) {
			*error_r = "HAVE: bad count";
			return -1;
		}
		return 0;
	}
	if (field_is(&f, 0, "OK")) {
		r->type = PROTO_REPLY_OK;
		copy_text(r->text, f.rest, f.rest_len);
		return 0;
	}
	if (field_is(&f, 0, "ERR")) {
		r->type = PROTO_REPLY_ERR;
		return parse_reply_err(&f, r, error_r);
	}
	*error_r = "unknown reply";
	return -1;
}

/* snprintf that returns 0 when the line did not fit. */
static size_t format_line(char *buf, size_t size, int ret)
{
	/* PROTO_LINE_MAX bounds the line without its LF, as the parser
	   sees it. */
	if (ret < 0 || (size_t)ret >= size || (size_t)ret > PROTO_LINE_MAX + 1)
		return 0;
	return (size_t)ret;
}

static size_t format_mask(char *buf, size_t size, unsigned int mask)
{
	size_t pos = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = PROTO_COMPRESS_COUNT; i-- > 0;) {
		int ret;

		if ((mask & (1u << i)) == 0)
			continue;
		ret = snprintf(buf + pos, size - pos, "%s%s",
			       pos > 0 ? "," : "", compress_names[i]);
		if (ret < 0 || (size_t)ret >= size - pos)
			return 0;
		pos += (size_t)ret;
	}
	return pos;
}

static size_t format_ref(char *buf, size_t size,
			 const struct proto_msgref *ref)
{
	char user[3 * PENDING_USER_MAX + 1];

	if (proto_user_encode(user, sizeof(user), ref->user) == 0 ||
	    !pending_guid_is_valid(ref->guid) ||
	    ref->uidvalidity == 0 || ref->uid == 0)
		return 0;
	return format_line(buf, size, snprintf(buf, size, "%s %s %u %u",
					       user, ref->guid,
					       ref->uidvalidity, ref->uid));
}

size_t proto_request_format(char *buf, size_t size,
			    const struct proto_request *req)
{
	char methods[32], ref[PROTO_LINE_MAX + 1];

	switch (req->cmd) {
	case PROTO_CMD_HELLO:
		if (format_mask(methods, sizeof(methods),
				req->compress_mask | 1u) == 0)
			return 0;
		return format_line(buf, size, snprintf(buf, size,
				"HELLO %u %s\n", req->version, methods));
	case PROTO_CMD_OFFER:
		return format_line(buf, size, snprintf(buf, size, "OFFER\n"));
	case PROTO_CMD_QUIT:
		return format_line(buf, size, snprintf(buf, size, "QUIT\n"));
	case PROTO_CMD_FETCH:
		if (format_ref(ref, sizeof(ref), &req->ref) == 0)
			return 0;
		if (req->length > 0)
			return format_line(buf, size, snprintf(buf, size,
				"FETCH %s %llu %llu\n", ref,
				(unsigned long long)req->offset,
				(unsigned long long)req->length));
		return format_line(buf, size, snprintf(buf, size,
				"FETCH %s %llu\n", ref,
				(unsigned long long)req->offset));
	case PROTO_CMD_ACK:
		if (format_ref(ref, sizeof(ref), &req->ref) == 0)
			return 0;
		return format_line(buf, size, snprintf(buf, size,
				"ACK %s\n", ref));
	case PROTO_CMD_HAVE:
		if (!proto_id_is_valid(req->id, strlen(req->id)))
			return 0;
		return format_line(buf, size, snprintf(buf, size,
				"HAVE %s\n", req->id));
	case PROTO_CMD_PUT:
		if (!proto_id_is_valid(req->id, strlen(req->id)) ||
		    !digest_hex_is_valid(req->digest) ||
		    req->size > PROTO_MESSAGE_MAX ||
		    req->offset > req->size ||
		    req->length > req->size - req->offset)
			return 0;
		return format_line(buf, size, snprintf(buf, size,
				"PUT %s %llu %s %llu %llu\n", req->id,
				(unsigned long long)req->size, req->digest,
				(unsigned long long)req->offset,
				(unsigned long long)req->length));
	case PROTO_CMD_REQUEST:
		if (proto_user_encode(ref, sizeof(ref), req->ref.user) == 0 ||
		    !handle_is_valid(req->handle, strlen(req->handle)))
			return 0;
		return format_line(buf, size, snprintf(buf, size,
				"REQUEST %s %s\n", ref, req->handle));
	}
	return 0;
}

size_t proto_format_greeting(char *buf, size_t size, unsigned int mask,
			     unsigned int caps)
{
	char methods[32], names[64] = "";
	size_t k, pos = 0;

	if (format_mask(methods, sizeof(methods), mask | 1u) == 0)
		return 0;
	for (k = 0; k < sizeof(cap_names) / sizeof(cap_names[0]); k++) {
		if ((caps & cap_names[k].cap) == 0)
			continue;
		pos += (size_t)snprintf(names + pos, sizeof(names) - pos,
					"%s%s", pos > 0 ? "," : "",
					cap_names[k].name);
	}
	return format_line(buf, size, snprintf(buf, size,
			"SHIPMAIL %u %s%s%s\n", PROTO_VERSION, methods,
			pos > 0 ? " " : "", names));
}

size_t proto_format_have(char *buf, size_t size, const char *id,
			 uint64_t have, int sent)
{
	if (!proto_id_is_valid(id, strlen(id)))
		return 0;
	if (sent)
		return format_line(buf, size, snprintf(buf, size,
				"HAVE %s sent\n", id));
	return format_line(buf, size, snprintf(buf, size, "HAVE %s %llu\n",
					       id, (unsigned long long)have));
}

size_t proto_format_hello(char *buf, size_t size, enum proto_compress c)
{
	const char *name = proto_compress_name(c);

	if (name == NULL)
		return 0;
	return format_line(buf, size, snprintf(buf, size, "HELLO %u %s\n",
					       PROTO_VERSION, name));
}

size_t proto_format_offer(char *buf, size_t size, uint64_t count)
{
	return format_line(buf, size, snprintf(buf, size, "OFFER %llu\n",
					       (unsigned long long)count));
}

size_t proto_format_msg(char *buf, size_t size,
			const struct proto_msgref *ref, uint64_t msg_size,
			int64_t received, unsigned int flags)
{
	char refs[PROTO_LINE_MAX + 1], fl[3] = "-";
	size_t n = 0;

	if (format_ref(refs, sizeof(refs), ref) == 0 || received < 0)
		return 0;
	if ((flags & PENDING_FLAG_OVERSIZE) != 0)
		fl[n++] = 'o';
	if ((flags & PENDING_FLAG_REQUESTED) != 0)
		fl[n++] = 'r';
	if (n > 0)
		fl[n] = '\0';
	return format_line(buf, size, snprintf(buf, size,
			"MSG %s %llu %lld %s\n", refs,
			(unsigned long long)msg_size, (long long)received, fl));
}

size_t proto_format_data(char *buf, size_t size, uint64_t msg_size,
			 const char *digest, uint64_t offset,
			 uint64_t data_len)
{
	if (!digest_hex_is_valid(digest))
		return 0;
	return format_line(buf, size, snprintf(buf, size,
			"DATA %llu %s %llu %llu\n",
			(unsigned long long)msg_size, digest,
			(unsigned long long)offset,
			(unsigned long long)data_len));
}

size_t proto_format_ok(char *buf, size_t size, const char *text)
{
	char clean[PROTO_TEXT_MAX + 1];

	copy_text(clean, text, strlen(text));
	return format_line(buf, size, snprintf(buf, size, "OK %s\n", clean));
}

size_t proto_format_err(char *buf, size_t size, unsigned int code,
			const char *text)
{
	char clean[PROTO_TEXT_MAX + 1];

	copy_text(clean, text, strlen(text));
	return format_line(buf, size, snprintf(buf, size, "ERR %u %s\n",
					       code, clean));
}

void proto_fuzz_one(const unsigned char *data, size_t size)
{
	struct proto_request req;
	struct proto_reply reply;
	const char *error;

	(void)proto_request_parse((const char *)data, size, &req, &error);
	(void)proto_reply_parse((const char *)data, size, &reply, &error);
}
