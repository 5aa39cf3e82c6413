/*
 * shipmail-shore: the shore end of the transfer, started by sshd as the
 * forced command of one ship's key:
 *
 *   command="shipmail-shore --ship NAME",restrict ssh-ed25519 AAAA...
 *
 * It speaks the protocol of doc/protocol.md on stdin and stdout for as
 * long as the session lasts: a greeting, HELLO (version and
 * compression), then any number of pipelined OFFER, FETCH, ACK, QUIT.
 * Requests are read uncompressed; after HELLO every reply byte goes
 * through one compression stream, flushed whenever no request waits,
 * so that a pipelined batch costs one flush.
 *
 * It never runs anything, takes no path from the peer, ignores
 * SSH_ORIGINAL_COMMAND, and serves only the users that shipmail.conf
 * gives the ship (shore_ship_NAME).  Dovecot's own options are not
 * taken from the command line: shore_dovecot_config in shipmail.conf
 * names dovecot.conf when it is not the default one.
 */
#include "lib.h"
#include "array.h"
#include "master-service.h"
#include "master-interface.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "../common/config.h"
#include "proto.h"
#include "compress.h"
#include "ship-users.h"
#include "shore-store.h"

#define SHORE_OUT_BUF	65536

struct shore {
	const char *ship;
	struct store *store;
	struct ship_users *users;
	int compress_level;
	size_t flush_size, since_flush;

	int hello_done;
	struct compressor *out;

	unsigned char in[PROTO_LINE_MAX + 2];
	size_t in_len;

	unsigned char obuf[SHORE_OUT_BUF];
	size_t obuf_len;
	uint64_t offered, acked;
	char *dict_uri, *dovecot_config, *log_path;
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

static int out_flush(struct shore *shore)
{
	shore->since_flush = 0;
	if (shore->out != NULL && compressor_flush(shore->out) < 0)
		return -1;
	return out_drain(shore);
}

/*
 * Reply bytes: compressed once HELLO chose a method.  The stream is
 * also flushed every flush_size bytes: the ship can decode only whole
 * compressed blocks, so a cut loses what was sent since the last flush,
 * and without these flushes zstd makes blocks of 128 KB.
 */
static int out_write(void *ctx, const void *data, size_t len)
{
	struct shore *shore = ctx;
	const unsigned char *p = data;

	if (shore->out == NULL)
		return out_sink(shore, data, len);
	while (len > 0) {
		size_t n = shore->flush_size - shore->since_flush;

		if (n > len)
			n = len;
		if (compressor_write(shore->out, p, n) < 0)
			return -1;
		shore->since_flush += n;
		p += n;
		len -= n;
		if (shore->since_flush >= shore->flush_size &&
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

static int handle_hello(struct shore *shore, const struct proto_request *req)
{
	char line[PROTO_LINE_MAX + 2];
	enum proto_compress method;
	size_t len;

	if (shore->hello_done)
		return reply_err(shore, PROTO_ERR_SEQUENCE, "HELLO twice");
	if (req->version != PROTO_VERSION)
		return reply_err(shore, PROTO_ERR_VERSION,
				 "protocol version 1 only");
	method = proto_compress_choose(compress_supported_mask(),
				       req->compress_mask);
	len = proto_format_hello(line, sizeof(line), method);
	if (out_write(shore, line, len) < 0 || out_flush(shore) < 0)
		return -1;

	/* From here on, every reply byte is compressed. */
	shore->out = compressor_new(method, shore->compress_level,
				    out_sink, shore);
	if (shore->out == NULL) {
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
		ret = reply_err(shore, ret, error);
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
	if (ret > 0) {
		i_info("shipmail-shore: ship=%s fetch user=%s uid=%u: %s",
		       shore->ship, req->ref.user, req->ref.uid, error);
		return reply_err(shore, ret, error);
	}
	return ret;
}

static int handle_ack(struct shore *shore, const struct proto_request *req)
{
	const char *text;
	int ret;

	ret = store_ack(shore->store, &req->ref, &text);
	if (ret != 0)
		return reply_err(shore, ret, text);
	i_info("shipmail-shore: ship=%s acked user=%s guid=%s uid=%u",
	       shore->ship, req->ref.user, req->ref.guid, req->ref.uid);
	shore->acked++;
	return reply_ok(shore, text);
}

/* One request line; -1 ends the session. */
static int handle_line(struct shore *shore, const char *line, size_t len)
{
	struct proto_request req;
	const char *error;
	int code;

	code = proto_request_parse(line, len, &req, &error);
	if (code != 0)
		return reply_err(shore, code, error);
	if (req.cmd == PROTO_CMD_HELLO)
		return handle_hello(shore, &req);
	if (req.cmd == PROTO_CMD_QUIT) {
		(void)reply_ok(shore, "bye");
		return -1;
	}
	if (!shore->hello_done)
		return reply_err(shore, PROTO_ERR_SEQUENCE, "HELLO first");

	switch (req.cmd) {
	case PROTO_CMD_OFFER:
		return handle_offer(shore);
	case PROTO_CMD_FETCH:
		return handle_fetch(shore, &req);
	case PROTO_CMD_ACK:
		return handle_ack(shore, &req);
	default:
		return reply_err(shore, PROTO_ERR_UNKNOWN, "unknown command");
	}
}

static int input_waiting(void)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* Handle every complete line in the buffer; keep the rest. */
static int handle_buffered(struct shore *shore)
{
	unsigned char *lf;
	size_t pos = 0, i;

	while ((lf = memchr(shore->in + pos, '\n',
			    shore->in_len - pos)) != NULL) {
		size_t len = (size_t)(lf - (shore->in + pos));
		int ret;

		T_BEGIN {
			ret = handle_line(shore,
					  (const char *)shore->in + pos, len);
		} T_END;
		if (ret < 0)
			return -1;
		pos += len + 1;
	}

	/* The rest (less than a line) to the front.  A byte loop: valgrind
	   3.19 takes a fortified memmove for an overlapping memcpy. */
	for (i = pos; i < shore->in_len; i++)
		shore->in[i - pos] = shore->in[i];
	shore->in_len -= pos;
	if (shore->in_len > PROTO_LINE_MAX) {
		/* No resynchronising inside an endless line: say why, end. */
		(void)reply_err(shore, PROTO_ERR_SYNTAX, "line too long");
		return -1;
	}
	return 0;
}

static int shore_serve(struct shore *shore)
{
	char line[PROTO_LINE_MAX + 2];
	size_t len = proto_format_greeting(line, sizeof(line),
					   compress_supported_mask());

	if (out_write(shore, line, len) < 0 || out_flush(shore) < 0)
		return -1;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, shore->in + shore->in_len,
				 sizeof(shore->in) - shore->in_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		shore->in_len += (size_t)n;
		if (handle_buffered(shore) < 0)
			break;
		/* Flush once the pipelined batch is used up. */
		if (!input_waiting() && out_flush(shore) < 0)
			return -1;
	}
	(void)out_flush(shore);
	return 0;
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
	if (config_get_size(cfg, "shore_flush_size", 8192, &level,
			    error, sizeof(error)) < 0 || level < 512 ||
	    level > 1024 * 1024)
		config_die(path, "shore_flush_size: want 512 to 1M");
	shore->flush_size = (size_t)level;
	shore->dict_uri = strdup_or_null(config_get(cfg, "shore_dict", NULL));
	shore->dovecot_config = strdup_or_null(
		config_get(cfg, "shore_dovecot_config", NULL));
	shore->log_path = strdup_or_null(config_get(cfg, "shore_log", NULL));
	config_free(&cfg);
}

static void shore_free(struct shore *shore)
{
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
	master_service = master_service_init("shipmail-shore",
		MASTER_SERVICE_FLAG_STANDALONE |
		MASTER_SERVICE_FLAG_DONT_SEND_STATS |
		MASTER_SERVICE_FLAG_NO_INIT_DATASTACK_FRAME,
		&argc, &argv, "");
	if (shore.log_path != NULL)
		i_set_failure_file(shore.log_path, "");
	master_service_init_finish(master_service);

	shore.store = store_init(shore.users, shore.dict_uri);
	if (shore.store == NULL) {
		shore_free(&shore);
		i_fatal_status(EX_TEMPFAIL, "shipmail-shore: ship=%s: "
			       "cannot open the mail store", ship);
	}
	i_info("shipmail-shore: ship=%s session start", ship);
	ret = shore_serve(&shore);
	i_info("shipmail-shore: ship=%s session end: offered=%llu "
	       "acked=%llu", ship, (unsigned long long)shore.offered,
	       (unsigned long long)shore.acked);

	shore_free(&shore);
	master_service_deinit(&master_service);
	return ret < 0 ? EX_IOERR : 0;
}
