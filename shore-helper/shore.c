/*
 * shipmail-shore: the shore end of the transfer, started by sshd as the
 * forced command of one ship's key:
 *
 *   command="shipmail-shore --ship NAME",restrict ssh-ed25519 AAAA...
 *
 * It speaks the protocol of doc/protocol.md on stdin and stdout for as
 * long as the session lasts: a greeting, HELLO (version and
 * compression), then any number of pipelined OFFER, FETCH, ACK,
 * REQUEST, HAVE, PUT, QUIT.  After HELLO each direction is one
 * compression stream: requests are decompressed as they come and fed
 * to a small push parser (lines, and after a PUT line its bytes);
 * replies are compressed and flushed whenever no request waits, so
 * that a pipelined batch costs one flush.
 *
 * It runs no shell: the one program it starts is shore_sendmail, with
 * an argument vector, to inject the ship's outbound mail.  It takes no
 * path from the peer, ignores SSH_ORIGINAL_COMMAND, and serves only the
 * users that shipmail.conf gives the ship (shore_ship_NAME).  Dovecot's
 * own options are not taken from the command line: shore_dovecot_config
 * in shipmail.conf names dovecot.conf when it is not the default one.
 *
 * Every refused request is logged once, in refuse(), with the ship, the
 * command and what it named, the peer's bytes made printable: an admin
 * sees a confused or hostile peer in the log, one line per request.
 * The log goes to shore_log, else to syslog (facility mail): never to
 * standard error, which sshd hands back to the peer.
 */
#include "lib.h"
#include "array.h"
#include "str.h"
#include "master-service.h"
#include "master-interface.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include "../common/config.h"
#include "proto.h"
#include "compress.h"
#include "ship-users.h"
#include "shore-store.h"
#include "shore-outbound.h"

#define SHORE_OUT_BUF	65536
/* Never more reply bytes than this between two flushes (zstd's
   largest block). */
#define SHORE_FLUSH_INPUT_MAX	(128 * 1024)
/* Nor more than this many times shore_flush_size: what compressed well
   (an HTML part that repeats the text before it) says nothing of what
   comes next (a base64 attachment), and a stretch taken on the strength
   of it would cross as one block many times the size wanted.  Even
   data that does not compress at all then makes at most this many
   flush sizes between two flushes. */
#define SHORE_FLUSH_STRETCH_MAX	4
/* A peer's string in a log line is cut to this. */
#define SHORE_LOG_FIELD_MAX	128

enum input_state {
	INPUT_LINE,
	INPUT_PUT,			/* the bytes of a PUT */
	INPUT_PUT_END,			/* the LF after them */
};

struct shore {
	const char *ship;
	struct store *store;
	struct ship_users *users;
	int compress_level;
	/* Flushes: flush_size is the wire bytes wanted between two,
	   flush_input the reply bytes taken before the next one, from
	   how well the last stretch compressed. */
	size_t flush_size, flush_input, in_since_flush, wire_since_flush;

	int hello_done, ending;
	struct compressor *out;
	struct decompressor *in_dec;

	/* Request reader */
	enum input_state in_state;
	char line[PROTO_LINE_MAX + 2];
	size_t line_len;
	uint64_t put_left;
	int put_code;			/* the PUT's error, once its bytes
					   are read */
	const char *put_error;
	char put_id[PROTO_ID_LEN + 1];

	unsigned char obuf[SHORE_OUT_BUF];
	size_t obuf_len;
	uint64_t offered, acked, requested, sent;
	char *dict_uri, *dovecot_config, *log_path;

	struct shore_outbound_settings ob_set;
	struct shore_outbound *outbound;
	char *outbound_dir;
};

static char *strdup_or_null(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

static int out_drain(struct shore *shore)
{
	size_t pos = 0;

	while (pos < shore->obuf_len) {
		ssize_t n = write(STDOUT_FILENO, shore->obuf + pos,
				  shore->obuf_len - pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		pos += (size_t)n;
	}
	shore->obuf_len = 0;
	return 0;
}

/* The compressor's sink: gather wire bytes, write in big pieces. */
static int out_sink(void *ctx, const void *data, size_t len)
{
	struct shore *shore = ctx;
	const unsigned char *p = data;

	shore->wire_since_flush += len;
	while (len > 0) {
		size_t n = sizeof(shore->obuf) - shore->obuf_len;

		if (n > len)
			n = len;
		memcpy(shore->obuf + shore->obuf_len, p, n);
		shore->obuf_len += n;
		p += n;
		len -= n;
		if (shore->obuf_len == sizeof(shore->obuf) &&
		    out_drain(shore) < 0)
			return -1;
	}
	return 0;
}

/*
 * After a flush that ended a full stretch (out_write's): take as many
 * reply bytes before the next one as, compressed as well as these were,
 * make flush_size wire bytes; at least flush_size of them, at most
 * SHORE_FLUSH_STRETCH_MAX times that.
 */
static void flush_adapt(struct shore *shore)
{
	size_t in = shore->in_since_flush, wire = shore->wire_since_flush;
	size_t most = shore->flush_size * SHORE_FLUSH_STRETCH_MAX;
	size_t next = wire == 0 ? most :
		(size_t)((uint64_t)shore->flush_size * in / wire);

	if (next < shore->flush_size)
		next = shore->flush_size;
	if (next > most)
		next = most;
	if (next > SHORE_FLUSH_INPUT_MAX)
		next = SHORE_FLUSH_INPUT_MAX;
	shore->flush_input = next;
}

static int out_flush(struct shore *shore)
{
	if (shore->out != NULL && compressor_flush(shore->out) < 0)
		return -1;
	/* A flush at the end of a batch, mid-stretch, teaches little. */
	if (shore->in_since_flush >= shore->flush_input)
		flush_adapt(shore);
	shore->in_since_flush = shore->wire_since_flush = 0;
	return out_drain(shore);
}

/*
 * Reply bytes: compressed once HELLO chose a method.  The ship decodes
 * only whole compressed blocks, so a cut wastes what crossed since the
 * last flush; without flushes zstd makes blocks of 128 KB.  The stream
 * is flushed about every flush_size wire bytes: a flush costs some 30
 * bytes, a cut on average half the distance between two.
 */
static int out_write(void *ctx, const void *data, size_t len)
{
	struct shore *shore = ctx;
	const unsigned char *p = data;

	if (shore->out == NULL)
		return out_sink(shore, data, len);
	while (len > 0) {
		size_t n = shore->flush_input - shore->in_since_flush;

		if (n > len)
			n = len;
		if (compressor_write(shore->out, p, n) < 0)
			return -1;
		shore->in_since_flush += n;
		p += n;
		len -= n;
		if (shore->in_since_flush >= shore->flush_input &&
		    out_flush(shore) < 0)
			return -1;
	}
	return 0;
}

static int reply_err(struct shore *shore, int code, const char *text)
{
	char line[PROTO_LINE_MAX + 2];
	size_t len = proto_format_err(line, sizeof(line),
				      (unsigned int)code, text);

	return out_write(shore, line, len);
}

static int reply_ok(struct shore *shore, const char *text)
{
	char line[PROTO_LINE_MAX + 2];
	size_t len = proto_format_ok(line, sizeof(line), text);

	return out_write(shore, line, len);
}

/* A peer's bytes for a log line: printable ASCII, no quotes, bounded. */
static const char *log_safe(const char *s, size_t len)
{
	string_t *str;
	size_t i;

	if (len > SHORE_LOG_FIELD_MAX)
		len = SHORE_LOG_FIELD_MAX;
	str = t_str_new(len + 1);
	for (i = 0; i < len && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		str_append_c(str, c < 0x20 || c >= 0x7f || c == '"' ?
			     '?' : (char)c);
	}
	return str_c(str);
}

/* The first word of a request line: its command, for the log. */
static const char *log_cmd(const char *line, size_t len)
{
	size_t n = 0;

	while (n < len && line[n] != ' ' && line[n] != '\t')
		n++;
	return n > 0 ? log_safe(line, n) : "?";
}

static const char *log_ref(const struct proto_msgref *ref)
{
	return t_strdup_printf("user=%s guid=%s uid=%u",
			       log_safe(ref->user, strlen(ref->user)),
			       ref->guid, ref->uid);
}

/*
 * Answer a request with ERR, and log it: the one place where refusals
 * are logged.  what: "key=value ..." naming the request's object, or "".
 * A peer that breaks the rules (400-403) is a warning: shipmail-fetch
 * never does.
 */
static int refuse(struct shore *shore, const char *cmd, const char *what,
		  int code, const char *text)
{
	const char *line = t_strdup_printf(
		"shipmail-shore: ship=%s refused cmd=%s%s%s code=%d: %s",
		shore->ship, cmd, *what != '\0' ? " " : "", what, code,
		log_safe(text, strlen(text)));

	if (code >= PROTO_ERR_SYNTAX && code <= PROTO_ERR_FORBIDDEN)
		i_warning("%s", line);
	else
		i_info("%s", line);
	return reply_err(shore, code, text);
}

static int input_sink(void *ctx, const void *data, size_t len);

static int handle_hello(struct shore *shore, const struct proto_request *req)
{
	char line[PROTO_LINE_MAX + 2];
	enum proto_compress method;
	size_t len;

	if (shore->hello_done)
		return refuse(shore, "HELLO", "", PROTO_ERR_SEQUENCE,
			      "HELLO twice");
	if (req->version != PROTO_VERSION)
		return refuse(shore, "HELLO", t_strdup_printf("version=%u",
			      req->version), PROTO_ERR_VERSION,
			      "protocol version 1 only");
	method = proto_compress_choose(compress_supported_mask(),
				       req->compress_mask);
	/* Not flushed here: a client may have sent its first batch right
	   behind HELLO, and the HELLO line then goes out with the batch's
	   replies, in one write and one SSH packet; shore_serve flushes
	   once no request waits. */
	len = proto_format_hello(line, sizeof(line), method);
	if (out_write(shore, line, len) < 0)
		return -1;

	/* From here on, every reply byte is compressed. */
	shore->out = compressor_new(method, shore->compress_level,
				    out_sink, shore);
	shore->in_dec = decompressor_new(method, input_sink, shore);
	if (shore->out == NULL || shore->in_dec == NULL) {
		i_error("shipmail-shore: cannot start %s compression",
			proto_compress_name(method));
		return -1;
	}
	shore->hello_done = 1;
	return 0;
}

struct offer_list {
	ARRAY(struct pending_entry) entries;
	pool_t pool;
};

static void offer_add(void *ctx, const struct pending_entry *entry)
{
	struct offer_list *list = ctx;
	struct pending_entry copy = *entry;

	copy.user = p_strdup(list->pool, entry->user);
	copy.handle = copy.mailbox = copy.from = copy.subject = "";
	array_push_back(&list->entries, &copy);
}

/* Oldest first; ties broken by user and UID so the order is stable. */
static int offer_cmp(const struct pending_entry *a,
		     const struct pending_entry *b)
{
	int ret;

	if (a->received != b->received)
		return a->received < b->received ? -1 : 1;
	if ((ret = strcmp(a->user, b->user)) != 0)
		return ret;
	if ((ret = strcmp(a->guid, b->guid)) != 0)
		return ret;
	return a->uid < b->uid ? -1 : (a->uid > b->uid ? 1 : 0);
}

static int offer_send(struct shore *shore, struct offer_list *list)
{
	const struct pending_entry *e;
	char line[PROTO_LINE_MAX + 2];
	size_t len;

	len = proto_format_offer(line, sizeof(line),
				 array_count(&list->entries));
	if (out_write(shore, line, len) < 0)
		return -1;
	array_foreach(&list->entries, e) {
		struct proto_msgref ref;

		i_zero(&ref);
		i_strocpy(ref.user, e->user, sizeof(ref.user));
		memcpy(ref.guid, e->guid, sizeof(ref.guid));
		ref.uidvalidity = e->uidvalidity;
		ref.uid = e->uid;
		len = proto_format_msg(line, sizeof(line), &ref, e->size,
				       e->received, e->flags);
		if (len == 0)
			continue;	/* cannot happen: keys were checked */
		if (out_write(shore, line, len) < 0)
			return -1;
	}
	return 0;
}

static int handle_offer(struct shore *shore)
{
	struct offer_list list;
	const char *error;
	int ret;

	i_zero(&list);
	list.pool = pool_alloconly_create("shipmail offer", 4096);
	p_array_init(&list.entries, list.pool, 64);
	ret = store_offer(shore->store, offer_add, &list, &error);
	if (ret != 0) {
		ret = refuse(shore, "OFFER", "", ret, error);
	} else {
		array_sort(&list.entries, offer_cmp);
		if (array_count(&list.entries) > PROTO_OFFER_MAX)
			array_delete(&list.entries, PROTO_OFFER_MAX,
				     array_count(&list.entries) -
				     PROTO_OFFER_MAX);
		shore->offered += array_count(&list.entries);
		ret = offer_send(shore, &list);
	}
	pool_unref(&list.pool);
	return ret;
}

static int handle_fetch(struct shore *shore, const struct proto_request *req)
{
	const char *error;
	int ret;

	ret = store_fetch(shore->store, req, out_write, shore, &error);
	if (ret > 0)
		return refuse(shore, "FETCH", log_ref(&req->ref), ret, error);
	return ret;
}

static int handle_ack(struct shore *shore, const struct proto_request *req)
{
	const char *text;
	int ret;

	ret = store_ack(shore->store, &req->ref, &text);
	if (ret != 0)
		return refuse(shore, "ACK", log_ref(&req->ref), ret, text);
	i_info("shipmail-shore: ship=%s acked %s", shore->ship,
	       log_ref(&req->ref));
	shore->acked++;
	return reply_ok(shore, text);
}

static int handle_request(struct shore *shore,
			  const struct proto_request *req)
{
	const char *text, *what;
	int ret;

	what = t_strdup_printf("user=%s handle=%s",
			       log_safe(req->ref.user, strlen(req->ref.user)),
			       req->handle);
	if (shore->store == NULL)
		return refuse(shore, "REQUEST", what, PROTO_ERR_UNKNOWN,
			      "not offered");
	ret = store_request(shore->store, req->ref.user, req->handle, &text);
	if (ret != 0)
		return refuse(shore, "REQUEST", what, ret, text);
	i_info("shipmail-shore: ship=%s request %s: %s", shore->ship, what,
	       text);
	shore->requested++;
	return reply_ok(shore, text);
}

static int handle_have(struct shore *shore, const struct proto_request *req)
{
	char line[PROTO_LINE_MAX + 2];
	const char *error, *what = t_strdup_printf("id=%s", req->id);
	uint64_t have;
	int sent, ret;

	if (shore->outbound == NULL)
		return refuse(shore, "HAVE", what, PROTO_ERR_UNKNOWN,
			      "outbound mail is not taken here");
	ret = shore_outbound_have(shore->outbound, req->id, &have, &sent,
				  &error);
	if (ret != 0)
		return refuse(shore, "HAVE", what, ret, error);
	return out_write(shore, line, proto_format_have(line, sizeof(line),
							req->id, have, sent));
}

/* A PUT line: its bytes follow, whatever the answer will be. */
static int handle_put(struct shore *shore, const struct proto_request *req)
{
	shore->put_code = 0;
	shore->put_error = NULL;
	memcpy(shore->put_id, req->id, sizeof(shore->put_id));
	if (shore->outbound == NULL) {
		shore->put_code = PROTO_ERR_UNKNOWN;
		shore->put_error = "outbound mail is not taken here";
	} else {
		shore->put_code = shore_outbound_put_begin(shore->outbound,
							   req,
							   &shore->put_error);
	}
	shore->put_left = req->length;
	shore->in_state = req->length > 0 ? INPUT_PUT : INPUT_PUT_END;
	return 0;
}

/* A piece is in: HAVE while the upload is not whole, then OK sent. */
static int put_done(struct shore *shore)
{
	char line[PROTO_LINE_MAX + 2];
	const char *text = shore->put_error;
	int code = shore->put_code, sent = 0;
	uint64_t have = 0;

	if (code == 0)
		code = shore_outbound_put_end(shore->outbound, &text, &have,
					      &sent);
	if (code != 0)
		return refuse(shore, "PUT", t_strdup_printf("id=%s",
			      shore->put_id), code, text);
	if (!sent)
		return out_write(shore, line, proto_format_have(
			line, sizeof(line), shore->put_id, have, 0));
	i_info("shipmail-shore: ship=%s upload id=%s: %s", shore->ship,
	       shore->put_id, text);
	shore->sent++;
	return reply_ok(shore, text);
}

static int is_put(const char *line, size_t len)
{
	return len >= 3 && memcmp(line, "PUT", 3) == 0 &&
		(len == 3 || line[3] == ' ');
}

/* One request line; -1 ends the session. */
static int handle_line(struct shore *shore, const char *line, size_t len)
{
	struct proto_request req;
	const char *error;
	int code;

	code = proto_request_parse(line, len, &req, &error);
	if (code != 0) {
		int ret = refuse(shore, log_cmd(line, len),
				 t_strdup_printf("line=\"%s\"",
						 log_safe(line, len)),
				 code, error);

		/* A PUT's bytes follow, but how many is not known: what
		   comes next cannot be read as requests. */
		return is_put(line, len) ? -1 : ret;
	}
	if (req.cmd == PROTO_CMD_HELLO)
		return handle_hello(shore, &req);
	if (req.cmd == PROTO_CMD_QUIT) {
		(void)reply_ok(shore, "bye");
		return -1;
	}
	if (!shore->hello_done)
		return refuse(shore, log_cmd(line, len), "",
			      PROTO_ERR_SEQUENCE, "HELLO first");

	switch (req.cmd) {
	case PROTO_CMD_OFFER:
		return handle_offer(shore);
	case PROTO_CMD_FETCH:
		return handle_fetch(shore, &req);
	case PROTO_CMD_ACK:
		return handle_ack(shore, &req);
	case PROTO_CMD_REQUEST:
		return handle_request(shore, &req);
	case PROTO_CMD_HAVE:
		return handle_have(shore, &req);
	case PROTO_CMD_PUT:
		return handle_put(shore, &req);
	default:
		return refuse(shore, "?", "", PROTO_ERR_UNKNOWN,
			      "unknown command");
	}
}

/*
 * Request bytes, decompressed.  Stops early (returning how much it
 * used) right after the line that started compression, so that the
 * caller sends the rest through the decompressor; -1 ends the session.
 */
static ssize_t input_bytes(struct shore *shore, const unsigned char *p,
			   size_t len)
{
	int was_plain = shore->in_dec == NULL;
	size_t pos = 0;

	while (pos < len && !shore->ending) {
		if (shore->in_state == INPUT_PUT) {
			size_t n = len - pos;

			if (n > shore->put_left)
				n = (size_t)shore->put_left;
			if (shore->put_code == 0)
				shore_outbound_put_data(shore->outbound,
							p + pos, n);
			shore->put_left -= n;
			pos += n;
			if (shore->put_left == 0)
				shore->in_state = INPUT_PUT_END;
		} else if (shore->in_state == INPUT_PUT_END) {
			int ret;

			if (p[pos++] != '\n') {
				T_BEGIN {
					(void)refuse(shore, "PUT",
						t_strdup_printf("id=%s",
							shore->put_id),
						PROTO_ERR_SYNTAX,
						"no LF after the PUT bytes");
				} T_END;
				return -1;
			}
			shore->in_state = INPUT_LINE;
			T_BEGIN {
				ret = put_done(shore);
			} T_END;
			if (ret < 0)
				return -1;
		} else if (p[pos] == '\n') {
			int ret;

			pos++;
			T_BEGIN {
				ret = handle_line(shore, shore->line,
						  shore->line_len);
			} T_END;
			shore->line_len = 0;
			if (ret < 0)
				return -1;
			if (was_plain && shore->in_dec != NULL)
				break;
		} else if (shore->line_len > PROTO_LINE_MAX) {
			/* No resynchronising inside an endless line: say
			   why, end. */
			T_BEGIN {
				(void)refuse(shore, log_cmd(shore->line,
					shore->line_len), "",
					PROTO_ERR_SYNTAX, "line too long");
			} T_END;
			return -1;
		} else {
			shore->line[shore->line_len++] = (char)p[pos++];
		}
	}
	return shore->ending ? -1 : (ssize_t)pos;
}

static int input_sink(void *ctx, const void *data, size_t len)
{
	struct shore *shore = ctx;

	if (input_bytes(shore, data, len) < 0) {
		shore->ending = 1;
		return -1;
	}
	return 0;
}

/* Bytes from stdin: plain until HELLO, then through the decompressor. */
static int input_raw(struct shore *shore, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t used;

		if (shore->in_dec != NULL) {
			if (decompressor_feed(shore->in_dec, p, len) < 0) {
				if (!shore->ending)
					i_error("shipmail-shore: ship=%s: "
						"corrupt request stream",
						shore->ship);
				return -1;
			}
			return 0;
		}
		used = input_bytes(shore, p, len);
		if (used < 0)
			return -1;
		p += used;
		len -= (size_t)used;
	}
	return 0;
}

static int input_waiting(void)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

static int shore_serve(struct shore *shore)
{
	unsigned char buf[16384];
	char line[PROTO_LINE_MAX + 2];
	unsigned int caps = PROTO_CAP_REQUEST |
		(shore->outbound != NULL ? PROTO_CAP_SEND : 0);
	size_t len = proto_format_greeting(line, sizeof(line),
					   compress_supported_mask(), caps);

	if (out_write(shore, line, len) < 0 || out_flush(shore) < 0)
		return -1;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (input_raw(shore, buf, (size_t)n) < 0)
			break;
		/* Flush once the pipelined batch is used up. */
		if (!input_waiting() && out_flush(shore) < 0)
			return -1;
	}
	if (shore->outbound != NULL)
		shore_outbound_put_abort(shore->outbound);
	(void)out_flush(shore);
	return 0;
}

/* The peer's address as sshd gives it, for the log; "-" when run
   without sshd. */
static const char *shore_client(void)
{
	const char *conn = getenv("SSH_CONNECTION");

	if (conn == NULL || *conn == '\0')
		return "-";
	return log_safe(conn, strcspn(conn, " "));
}

/* Dovecot empties the environment when it runs us again through
   doveconf: keep sshd's SSH_CONNECTION, for the log. */
static void shore_preserve_client_env(void)
{
	const char *old = getenv(DOVECOT_PRESERVE_ENVS_ENV);
	char list[1024];

	if (old == NULL || *old == '\0')
		old = "";
	else if (strstr(old, "SSH_CONNECTION") != NULL)
		return;
	if (snprintf(list, sizeof(list), "%s%sSSH_CONNECTION", old,
		     *old != '\0' ? " " : "") < (int)sizeof(list))
		setenv(DOVECOT_PRESERVE_ENVS_ENV, list, 1);
}

static void usage(void)
{
	fprintf(stderr, "usage: shipmail-shore --ship NAME "
		"[-c SHIPMAIL_CONF]\n");
	exit(EX_USAGE);
}

/* Our own options; Dovecot sees only what shipmail.conf adds. */
static void take_own_options(int argc, char **argv, const char **ship_r,
			     const char **config_r)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ship") == 0 && i + 1 < argc)
			*ship_r = argv[++i];
		else if ((strcmp(argv[i], "-c") == 0 ||
			  strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			*config_r = argv[++i];
		else
			usage();
	}
	if (*ship_r == NULL)
		usage();
}

static void config_die(const char *path, const char *error)
{
	fprintf(stderr, "shipmail-shore: %s: %s\n", path, error);
	exit(EX_CONFIG);
}

/* Read shipmail.conf before Dovecot starts: it may name dovecot.conf. */
static void shore_load_config(struct shore *shore, const char *path)
{
	char error[CONFIG_ERROR_MAX];
	struct config *cfg = config_load(path, error, sizeof(error));
	uint64_t level;

	if (cfg == NULL)
		config_die(path, error);
	shore->users = ship_users_load(cfg, shore->ship, error,
				       sizeof(error));
	if (shore->users == NULL)
		config_die(path, error);
	if (config_get_size(cfg, "shore_compress_level", 19, &level,
			    error, sizeof(error)) < 0 || level < 1 ||
	    level > 22)
		config_die(path, "shore_compress_level: want 1-22");
	shore->compress_level = (int)level;
	if (config_get_size(cfg, "shore_flush_size", 2048, &level,
			    error, sizeof(error)) < 0 || level < 512 ||
	    level > 64 * 1024)
		config_die(path, "shore_flush_size: want 512 to 64k");
	shore->flush_size = (size_t)level;
	shore->flush_input = shore->flush_size * SHORE_FLUSH_STRETCH_MAX;
	shore->outbound_dir = strdup_or_null(config_get(cfg,
		"shore_outbound_dir", "/var/spool/shipmail/shore"));
	shore->ob_set.dir = shore->outbound_dir;
	shore->ob_set.ship = shore->ship;
	shore->ob_set.users = shore->users;
	if (config_get_command(cfg, "shore_sendmail", "/usr/sbin/sendmail", 0,
			       &shore->ob_set.sendmail_argv,
			       &shore->ob_set.sendmail_argc, error,
			       sizeof(error)) < 0 ||
	    config_get_seconds(cfg, "shore_sendmail_timeout", 300,
			       &shore->ob_set.sendmail_timeout, error,
			       sizeof(error)) < 0 ||
	    config_get_size(cfg, "shore_outbound_max_size", 50 * 1024 * 1024,
			    &shore->ob_set.max_size, error,
			    sizeof(error)) < 0 ||
	    config_get_size(cfg, "shore_outbound_max_held",
			    200 * 1024 * 1024, &shore->ob_set.max_held, error,
			    sizeof(error)) < 0 ||
	    config_get_size(cfg, "shore_outbound_max_per_day", 1000,
			    &shore->ob_set.max_per_day, error,
			    sizeof(error)) < 0 ||
	    config_get_seconds(cfg, "shore_outbound_keep", 30 * 86400,
			       &shore->ob_set.keep, error,
			       sizeof(error)) < 0)
		config_die(path, error);
	if (shore->ob_set.keep < SHORE_OUTBOUND_DAY)
		config_die(path, "shore_outbound_keep: at least 1d (the "
			   "markers count a day's messages, and stop a "
			   "message being injected twice)");
	if (shore->ob_set.max_size > PROTO_MESSAGE_MAX)
		config_die(path, "shore_outbound_max_size: at most 2G");
	if (shore->ob_set.max_held < shore->ob_set.max_size)
		config_die(path, "shore_outbound_max_held: at least "
			   "shore_outbound_max_size");
	shore->dict_uri = strdup_or_null(config_get(cfg, "shore_dict", NULL));
	shore->dovecot_config = strdup_or_null(
		config_get(cfg, "shore_dovecot_config", NULL));
	shore->log_path = strdup_or_null(config_get(cfg, "shore_log", NULL));
	config_free(&cfg);
}

static void shore_free(struct shore *shore)
{
	shore_outbound_free(&shore->outbound);
	config_command_free(&shore->ob_set.sendmail_argv);
	free(shore->outbound_dir);
	decompressor_free(&shore->in_dec);
	compressor_free(&shore->out);
	if (shore->store != NULL)
		store_deinit(&shore->store);
	ship_users_free(&shore->users);
	free(shore->dict_uri);
	free(shore->dovecot_config);
	free(shore->log_path);
}

int main(int argc, char *argv[])
{
	const char *ship = NULL, *config = SHIPMAIL_CONFIG_DEFAULT;
	struct shore shore;
	int ret;

	take_own_options(argc, argv, &ship, &config);
	memset(&shore, 0, sizeof(shore));
	shore.ship = ship;
	shore_load_config(&shore, config);

	/* Dovecot may re-execute us through doveconf with this argv, so it
	   gets ours unchanged and is never asked to parse it; the path of
	   dovecot.conf goes through the environment instead. */
	if (shore.dovecot_config != NULL)
		setenv(MASTER_CONFIG_FILE_ENV, shore.dovecot_config, 1);
	shore_preserve_client_env();
	master_service = master_service_init("shipmail-shore",
		MASTER_SERVICE_FLAG_STANDALONE |
		MASTER_SERVICE_FLAG_DONT_SEND_STATS |
		MASTER_SERVICE_FLAG_NO_INIT_DATASTACK_FRAME,
		&argc, &argv, "");
	/* sshd gives our standard error to the peer: a log written there
	   would tell a hostile peer what we saw, and the shore nothing. */
	if (shore.log_path != NULL)
		i_set_failure_file(shore.log_path, "");
	else
		i_set_failure_syslog("shipmail-shore", LOG_NDELAY, LOG_MAIL);
	master_service_init_finish(master_service);

	shore.store = store_init(shore.users, shore.dict_uri);
	if (shore.store == NULL) {
		shore_free(&shore);
		i_fatal_status(EX_TEMPFAIL, "shipmail-shore: ship=%s: "
			       "cannot open the mail store", ship);
	}
	{
		char error[256];

		shore.outbound = shore_outbound_open(&shore.ob_set, error,
						     sizeof(error));
		if (shore.outbound == NULL)
			i_warning("shipmail-shore: ship=%s: outbound mail is "
				  "not taken: shore_outbound_dir: %s", ship,
				  error);
	}
	T_BEGIN {
		i_info("shipmail-shore: ship=%s session start client=%s",
		       ship, shore_client());
	} T_END;
	ret = shore_serve(&shore);
	i_info("shipmail-shore: ship=%s session end: offered=%llu "
	       "acked=%llu requested=%llu sent=%llu", ship,
	       (unsigned long long)shore.offered,
	       (unsigned long long)shore.acked,
	       (unsigned long long)shore.requested,
	       (unsigned long long)shore.sent);

	shore_free(&shore);
	master_service_deinit(&master_service);
	return ret < 0 ? EX_IOERR : 0;
}
