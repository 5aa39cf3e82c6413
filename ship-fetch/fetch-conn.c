/*
 * One SSH session of shipmail-fetch, from the shore's greeting to QUIT.
 *
 * Requests go out in batches: the acks left from earlier sessions and
 * OFFER together, then up to `pipeline` FETCH requests, each answer
 * making room for the next, with the ACK of every delivered message
 * riding along.  Replies come back in request order; a FIFO of what was
 * asked says how to read each one.  Reply bytes are decompressed and fed
 * through a small push parser: lines up to PROTO_LINE_MAX, and after a
 * DATA line exactly its byte count, written straight to the spool file.
 *
 * Every message is verified (size and SHA-256 of the whole spool file)
 * before LMTP; the journal gets its D line, fsynced, before the ACK is
 * sent.  Any link failure just ends the session: what was written
 * stays in the spool and the next session asks only for the rest.
 *
 * When the shore takes them (its greeting says so), the first batch
 * also carries the crew's requests for held mail (REQUEST: answered
 * before OFFER, so a released message is in this very offer) and a
 * HAVE for each message of the outbound spool.  Each HAVE answer says
 * where that upload resumes; the upload then goes in PUT pieces of
 * fetch_send_piece bytes, at most UPLOAD_PIECES in flight, so that
 * FETCH requests still get through between pieces and neither side
 * ever has much unread.  A message leaves the outbound spool only when
 * the shore said it was injected ("OK sent", or "HAVE <id> sent" after
 * a lost reply).
 */
#include "fetch.h"
#include "spool.h"
#include "outbox.h"
#include "lmtp.h"
#include "compress.h"
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONN_SYNC_EVERY	(256 * 1024)
/* PUT pieces in flight, and raw bytes between flushes inside one. */
#define UPLOAD_PIECES	2
#define UPLOAD_FLUSH	4096
/* Seconds a spool file that nobody offers stays, should it be new. */
#define SPOOL_STALE_AGE	3600
/* Seconds between two looks for a delivery of unknown outcome. */
#define LOOKUP_SETTLE	2

enum expect_type {
	EXPECT_OFFER,
	EXPECT_FETCH,
	EXPECT_ACK,
	EXPECT_QUIT,
	EXPECT_REQUEST,
	EXPECT_HAVE,
	EXPECT_PUT,
};

struct expect {
	enum expect_type type;
	size_t item;			/* FETCH, REQUEST, HAVE, PUT: index */
	struct proto_msgref ref;	/* ACK */
	uint64_t end;			/* PUT: offset after the piece */
};

enum upload_state {
	UPLOAD_ASKED,			/* HAVE sent */
	UPLOAD_READY,			/* pieces to send */
	UPLOAD_DONE,			/* sent, failed or left for later */
};

struct upload {
	struct outbox_item item;
	char digest[DIGEST_HEX_LEN + 1];
	uint64_t size;
	uint64_t next;			/* the next piece starts here */
	unsigned int pieces;		/* in flight */
	enum upload_state state;
	int retried;			/* once after a digest mismatch */
	int failed;			/* an error was seen: ignore the rest */
};

enum reader_state {
	READ_LINE,
	READ_DATA,
	READ_DATA_END,			/* the LF after the bytes */
};

enum item_state {
	ITEM_WAITING,
	ITEM_ASKED,
	ITEM_DONE,
};

struct item {
	struct plan_item plan;
	enum item_state state;
	uint64_t offset;		/* asked from here */
	int retried;			/* once after a digest mismatch */
};

struct conn {
	struct fetch_run *run;
	struct session *s;
	struct decompressor *dec;
	int result_exit;		/* for CONN_FATAL */
	int fatal, done, progress;

	/* Reply reader */
	enum reader_state rd;
	char line[PROTO_LINE_MAX + 1];
	size_t line_len;
	int line_overflow;
	uint64_t data_left;

	/* What was asked, in order */
	struct expect *queue;
	size_t q_head, q_tail, q_alloc;

	/* The offer, then the plan */
	uint64_t offer_left;
	int offer_done, quit_sent;
	struct item *items;
	size_t item_count, planned, next_ask, in_flight, finished;

	/* The message being received */
	size_t cur;
	struct proto_reply data;
	int spool_fd;
	uint64_t since_sync;

	/* Requests waiting to go out together */
	char out[8192];
	size_t out_len;
	struct compressor *enc;		/* after HELLO: all we send */
	int enc_pending;		/* written to enc, not flushed */
	unsigned int caps;		/* the shore's greeting */

	/* The outbound spool's messages, smallest first */
	struct upload *ups;
	size_t up_count, up_cur;
	unsigned int up_pieces;
};

static void conn_fatal(struct conn *c, int code, const char *what,
		       const char *detail);

/* --- requests ------------------------------------------------------- */

/* The compressor's sink: bytes for the link. */
static int enc_sink(void *ctx, const void *data, size_t len)
{
	struct conn *c = ctx;

	return session_write(c->s, data, len);
}

/* Bytes into the compression stream; they leave at the next flush. */
static int conn_compress(struct conn *c, const void *data, size_t len)
{
	c->enc_pending = 1;
	return compressor_write(c->enc, data, len);
}

/* Buffered lines out, through the compression stream once it runs. */
static int conn_write_out(struct conn *c)
{
	size_t len = c->out_len;

	c->out_len = 0;
	if (len == 0)
		return 0;
	if (c->enc == NULL)
		return session_write(c->s, c->out, len);
	return conn_compress(c, c->out, len);
}

/* Everything written so far onto the link.  The stream may hold bytes
   that went in without a line of c->out (the end of a PUT): a reply
   that waits for them would otherwise never come. */
static int conn_flush(struct conn *c)
{
	if (conn_write_out(c) < 0)
		return -1;
	if (c->enc == NULL || !c->enc_pending)
		return 0;
	c->enc_pending = 0;
	return compressor_flush(c->enc);
}

static int conn_expect(struct conn *c, const struct expect *e)
{
	if (c->q_tail == c->q_alloc) {
		size_t alloc = c->q_alloc == 0 ? 64 : c->q_alloc * 2;
		struct expect *grown = realloc(c->queue,
					       alloc * sizeof(*grown));

		if (grown == NULL)
			return -1;
		c->queue = grown;
		c->q_alloc = alloc;
	}
	c->queue[c->q_tail++] = *e;
	return 0;
}

/* Queue a request line and what its reply will be. */
static int conn_send(struct conn *c, const struct proto_request *req,
		     const struct expect *e)
{
	char line[PROTO_LINE_MAX + 2];
	size_t len = proto_request_format(line, sizeof(line), req);

	if (len == 0)
		return -1;
	if (c->out_len + len > sizeof(c->out) && conn_write_out(c) < 0)
		return -1;
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
	return conn_expect(c, e);
}

static int conn_send_ack(struct conn *c, const struct proto_msgref *ref)
{
	struct proto_request req = { .cmd = PROTO_CMD_ACK, .ref = *ref };
	struct expect e = { .type = EXPECT_ACK, .ref = *ref };

	return conn_send(c, &req, &e);
}

static int conn_send_fetch(struct conn *c, size_t i)
{
	struct item *it = &c->items[i];
	struct proto_request req = { .cmd = PROTO_CMD_FETCH,
				     .ref = it->plan.ref };
	struct expect e = { .type = EXPECT_FETCH, .item = i };

	it->offset = spool_have(c->run->spool, &it->plan.ref);
	req.offset = it->offset;
	it->state = ITEM_ASKED;
	c->in_flight++;
	return conn_send(c, &req, &e);
}

/* --- uploads -------------------------------------------------------- */

static int uploads_busy(const struct conn *c)
{
	size_t i;

	for (i = 0; i < c->up_count; i++) {
		if (c->ups[i].state != UPLOAD_DONE || c->ups[i].pieces > 0)
			return 1;
	}
	return 0;
}

/* One PUT line and its bytes, read from the outbound spool file. */
static int upload_piece(struct conn *c, size_t i)
{
	struct upload *u = &c->ups[i];
	struct proto_request req = { .cmd = PROTO_CMD_PUT };
	struct expect e = { .type = EXPECT_PUT, .item = i };
	unsigned char buf[UPLOAD_FLUSH];
	uint64_t left = u->size - u->next;
	off_t pos = (off_t)u->next;
	int fd, ret = 0;

	if (left > c->run->set->send_piece)
		left = c->run->set->send_piece;
	memcpy(req.id, u->item.id, sizeof(req.id));
	memcpy(req.digest, u->digest, sizeof(req.digest));
	req.size = u->size;
	req.offset = u->next;
	req.length = left;
	e.end = u->next + left;

	fd = outbox_item_open(c->run->outbox, u->item.id);
	if (fd < 0) {
		fetch_log(c->run, "outbound id=%s: %s; left for later",
			  u->item.id, strerror(errno));
		u->state = UPLOAD_DONE;
		return 0;
	}
	if (conn_send(c, &req, &e) < 0 || conn_write_out(c) < 0)
		ret = -1;
	while (ret == 0 && left > 0) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t n = pread(fd, buf, want, pos);

		if (n <= 0) {
			/* The file changed under us: the shore's digest
			   check drops the upload. */
			memset(buf, 0, want);
			n = (ssize_t)want;
		}
		if (conn_compress(c, buf, (size_t)n) < 0 ||
		    conn_flush(c) < 0)
			ret = -1;
		pos += n;
		left -= (uint64_t)n;
		c->run->bytes_sent += (uint64_t)n;
		fetch_progress(c->run, u->item.id, (uint64_t)pos, u->size,
			       c->run->sent + 1, (unsigned int)c->up_count);
	}
	close(fd);
	/* The shore answers a piece only after its closing LF; conn_flush
	   sends it before the next read. */
	if (ret == 0 && conn_compress(c, "\n", 1) < 0)
		ret = -1;
	u->next = e.end;
	u->pieces++;
	c->up_pieces++;
	if (u->next == u->size)
		u->state = UPLOAD_DONE;	/* its last reply decides */
	return ret;
}

/* Keep UPLOAD_PIECES pieces in flight, one message after another. */
static int upload_refill(struct conn *c)
{
	while (c->up_pieces < UPLOAD_PIECES && c->up_cur < c->up_count) {
		struct upload *u = &c->ups[c->up_cur];

		if (u->state == UPLOAD_ASKED)
			break;		/* its HAVE is not answered yet */
		if (u->state == UPLOAD_DONE) {
			c->up_cur++;
			continue;
		}
		if (upload_piece(c, c->up_cur) < 0)
			return -1;
	}
	return 0;
}

static void upload_sent(struct conn *c, struct upload *u, const char *how)
{
	if (outbox_item_remove(c->run->outbox, u->item.id) < 0)
		fetch_log(c->run, "outbound id=%s: sent, but cannot remove "
			  "it from the spool: %s", u->item.id,
			  strerror(errno));
	c->run->sent++;
	c->progress = 1;
	fetch_log(c->run, "sent id=%s size=%llu%s", u->item.id,
		  (unsigned long long)u->size, how);
}

static int on_have_reply(struct conn *c, size_t i,
			 const struct proto_reply *r)
{
	struct upload *u = &c->ups[i];

	if (r->type == PROTO_REPLY_ERR) {
		fetch_log(c->run, "outbound id=%s not taken now: %u %s",
			  u->item.id, r->code, r->text);
		c->run->temp_failures++;
		u->state = UPLOAD_DONE;
		return 0;
	}
	if (r->type != PROTO_REPLY_HAVE || strcmp(r->id, u->item.id) != 0) {
		conn_fatal(c, EX_PROTOCOL, "protocol error", "bad HAVE reply");
		return -1;
	}
	if (r->sent) {
		upload_sent(c, u, " (by an earlier session)");
		u->state = UPLOAD_DONE;
		return 0;
	}
	/* More than the whole file: not our bytes; start again. */
	u->next = r->offset <= u->size ? r->offset : 0;
	u->state = UPLOAD_READY;
	if (u->next > 0)
		fetch_log(c->run, "outbound id=%s resumes at %llu of %llu",
			  u->item.id, (unsigned long long)u->next,
			  (unsigned long long)u->size);
	return 0;
}

static int on_put_reply(struct conn *c, const struct expect *e,
			const struct proto_reply *r)
{
	struct upload *u = &c->ups[e->item];

	u->pieces--;
	c->up_pieces--;
	if (r->type == PROTO_REPLY_HAVE && !r->sent &&
	    strcmp(r->id, u->item.id) == 0 && r->offset == e->end &&
	    e->end < u->size) {
		c->progress = 1;
		return 0;
	}
	if (r->type == PROTO_REPLY_OK && e->end == u->size) {
		upload_sent(c, u, "");
		return 0;
	}
	if (r->type != PROTO_REPLY_ERR) {
		conn_fatal(c, EX_PROTOCOL, "protocol error", "bad PUT reply");
		return -1;
	}
	if (u->failed)
		return 0;		/* a later piece of a failed upload */
	fetch_log(c->run, "outbound id=%s: %u %s", u->item.id, r->code,
		  r->text);
	if (r->code == PROTO_ERR_DIGEST && !u->retried && u->pieces == 0) {
		u->retried = 1;
		u->next = 0;
		u->state = UPLOAD_READY;
		if (c->up_cur > e->item)
			c->up_cur = e->item;
		return 0;
	}
	if (r->code == PROTO_ERR_REFUSED) {
		c->run->perm_failures++;
		fetch_return_upload(c->run, u->item.id, r->code, r->text);
	} else {
		c->run->temp_failures++;
	}
	u->state = UPLOAD_DONE;
	u->failed = 1;
	return 0;
}

/*
 * HAVE for each spooled message, smallest first, within the budget:
 * fetch_send_max_bytes counts what earlier sessions of this run sent
 * and what this one plans, and lets the first message through even
 * when it alone is larger.
 */
static int uploads_start(struct conn *c)
{
	struct fetch_run *run = c->run;
	struct outbox_item *items = NULL;
	size_t count = 0, i;
	uint64_t planned = run->bytes_sent;

	if (run->outbox == NULL)
		return 0;
	if (outbox_list(run->outbox, &items, &count) < 0) {
		fetch_log(run, "outbound spool: %s", strerror(errno));
		return 0;
	}
	if (count > 0 && (c->caps & PROTO_CAP_SEND) == 0) {
		/* Said each session: the mail waits, and an admin should
		   know why. */
		fetch_log(run, "outbound: %zu message(s) wait, but the shore "
			  "takes no outbound mail (shore_outbound_dir)",
			  count);
		run->temp_failures++;
		count = 0;
	}
	c->ups = calloc(count + 1, sizeof(*c->ups));
	if (c->ups == NULL) {
		free(items);
		return -1;
	}
	for (i = 0; i < count; i++) {
		struct upload *u = &c->ups[c->up_count];
		struct proto_request req = { .cmd = PROTO_CMD_HAVE };
		struct expect e = { .type = EXPECT_HAVE, .item = c->up_count };

		if (run->set->send_max_bytes > 0 && planned > 0 &&
		    planned + items[i].size > run->set->send_max_bytes)
			break;
		u->item = items[i];
		if (outbox_item_digest(run->outbox, u->item.id, u->digest,
				       &u->size) < 0 ||
		    u->size > PROTO_MESSAGE_MAX)
			continue;	/* gone meanwhile, or absurd */
		memcpy(req.id, u->item.id, sizeof(req.id));
		if (conn_send(c, &req, &e) < 0) {
			free(items);
			return -1;
		}
		planned += u->size;
		c->up_count++;
	}
	free(items);
	return 0;
}

/* --- requests for held mail ----------------------------------------- */

static int requests_start(struct conn *c)
{
	struct fetch_run *run = c->run;
	size_t i;

	if ((c->caps & PROTO_CAP_REQUEST) == 0)
		return 0;
	for (i = 0; i < run->request_count; i++) {
		struct proto_request req = { .cmd = PROTO_CMD_REQUEST };
		struct expect e = { .type = EXPECT_REQUEST, .item = i };

		if (run->requests[i].done)
			continue;
		fetch_unmap_user(run->set, run->requests[i].user, req.ref.user,
				 sizeof(req.ref.user));
		memcpy(req.handle, run->requests[i].handle,
		       sizeof(req.handle));
		if (conn_send(c, &req, &e) < 0)
			return -1;
	}
	return 0;
}

static int on_request_reply(struct conn *c, size_t i,
			    const struct proto_reply *r)
{
	struct fetch_request *req = &c->run->requests[i];

	if (r->type != PROTO_REPLY_OK && r->type != PROTO_REPLY_ERR) {
		conn_fatal(c, EX_PROTOCOL, "protocol error",
			   "bad REQUEST reply");
		return -1;
	}
	if (r->type == PROTO_REPLY_ERR && r->code == PROTO_ERR_TEMP) {
		fetch_log(c->run, "request user=%s handle=%s: %u %s (asked "
			  "again next time)", req->user, req->handle, r->code,
			  r->text);
		c->run->temp_failures++;
		return 0;
	}
	/* Released, or refused for good (unknown handle, not this ship):
	   either way the request has had its answer. */
	fetch_log(c->run, "request user=%s handle=%s: %s%s", req->user,
		  req->handle, r->type == PROTO_REPLY_OK ? "" : "refused: ",
		  r->text);
	if (r->type == PROTO_REPLY_OK)
		c->run->requested++;
	fetch_request_done(c->run, req);
	return 0;
}

/* Keep the pipeline full; QUIT once everything is answered. */
static int conn_refill(struct conn *c)
{
	const struct fetch_settings *set = c->run->set;
	struct fetch_run *run = c->run;

	while (c->offer_done && c->next_ask < c->planned &&
	       c->in_flight < set->pipeline) {
		if (run->deadline != 0 && time(NULL) >= run->deadline) {
			run->deferred +=
				(unsigned int)(c->planned - c->next_ask);
			c->planned = c->next_ask;
			break;
		}
		if (conn_send_fetch(c, c->next_ask++) < 0)
			return -1;
	}
	if (!run->dry_run && upload_refill(c) < 0)
		return -1;
	/* The FETCH whose bytes are still arriving has left the queue
	   already: in_flight counts it until its ACK is queued. */
	if (c->offer_done && !c->quit_sent && c->next_ask >= c->planned &&
	    c->q_head == c->q_tail && c->in_flight == 0 &&
	    c->rd == READ_LINE && !uploads_busy(c)) {
		struct proto_request req = { .cmd = PROTO_CMD_QUIT };
		struct expect e = { .type = EXPECT_QUIT };

		c->quit_sent = 1;
		return conn_send(c, &req, &e);
	}
	return 0;
}

/* --- the offer ------------------------------------------------------ */

static void conn_fatal(struct conn *c, int code, const char *what,
		       const char *detail)
{
	fetch_log(c->run, "%s: %s", what, detail);
	c->fatal = 1;
	c->result_exit = code;
}

static int offer_add(struct conn *c, const struct proto_reply *r)
{
	struct item *it = &c->items[c->item_count++];

	memset(it, 0, sizeof(*it));
	it->plan.ref = r->ref;
	it->plan.size = r->size;
	it->plan.received = r->received;
	it->plan.flags = r->flags;
	return 0;
}

static void dry_run_print(struct conn *c, size_t oversize)
{
	size_t i;

	printf("# %zu to fetch in this order, %u deferred by the budget, "
	       "%zu oversize not requested\n", c->planned, c->run->deferred,
	       oversize);
	for (i = 0; i < c->planned; i++) {
		const struct plan_item *p = &c->items[i].plan;

		printf("%s %s %u %u %llu %lld %s%s have=%llu\n", p->ref.user,
		       p->ref.guid, p->ref.uidvalidity, p->ref.uid,
		       (unsigned long long)p->size, (long long)p->received,
		       (p->flags & PENDING_FLAG_OVERSIZE) ? "o" : "",
		       (p->flags & PENDING_FLAG_REQUESTED) ? "r" : "-",
		       (unsigned long long)spool_have(c->run->spool,
						      &p->ref));
	}
	fflush(stdout);
}

/* Remove what the journal already knows; ack what was delivered. */
static int offer_filter(struct conn *c)
{
	size_t i, kept = 0;

	for (i = 0; i < c->item_count; i++) {
		const struct proto_msgref *ref = &c->items[i].plan.ref;

		switch (spool_state(c->run->spool, ref)) {
		case SPOOL_NONE:
		case SPOOL_DELIVERING:
			/* Delivering: deliver() looks first. */
			c->items[kept++] = c->items[i];
			break;
		case SPOOL_DELIVERED:
			/* Its ack went at the session start, before the
			   OFFER, and its file with it: offered all the
			   same, the shore did not take that ack. */
			spool_remove(c->run->spool, ref);
			break;
		case SPOOL_ACKED:
			/* Acked, yet offered: the index missed it. */
			spool_remove(c->run->spool, ref);
			if (!c->run->dry_run && conn_send_ack(c, ref) < 0)
				return -1;
			break;
		case SPOOL_FAILED:
			break;
		}
	}
	c->item_count = kept;
	return 0;
}

/*
 * Once a run, with the shore's whole offer in hand: spool files of
 * messages it no longer offers, that the journal does not hold, go.
 * An offer at PROTO_OFFER_MAX may be cut short, and proves nothing.
 */
static void offer_sweep(struct conn *c)
{
	struct fetch_run *run = c->run;
	struct proto_msgref *refs;
	size_t i, removed;

	if (run->dry_run || run->swept || c->item_count >= PROTO_OFFER_MAX)
		return;
	run->swept = 1;
	refs = calloc(c->item_count + 1, sizeof(*refs));
	if (refs == NULL)
		return;
	for (i = 0; i < c->item_count; i++)
		refs[i] = c->items[i].plan.ref;
	removed = spool_sweep(run->spool, refs, c->item_count,
			      SPOOL_STALE_AGE);
	free(refs);
	if (removed > 0)
		fetch_log(run, "spool: removed %zu partial message file(s) "
			  "that the shore no longer offers", removed);
}

static int offer_complete(struct conn *c)
{
	struct fetch_run *run = c->run;
	const struct fetch_settings *set = run->set;
	struct plan_item *plans;
	size_t oversize, deferred, i;
	uint64_t budget = 0;

	offer_sweep(c);
	if (offer_filter(c) < 0)
		return -1;
	if (set->max_bytes > 0) {
		budget = set->max_bytes > run->bytes_planned ?
			set->max_bytes - run->bytes_planned : 1;
	}

	/* plan_order works on plan_items: sort a copy, then rebuild. */
	plans = calloc(c->item_count + 1, sizeof(*plans));
	if (plans == NULL)
		return -1;
	for (i = 0; i < c->item_count; i++)
		plans[i] = c->items[i].plan;
	c->planned = plan_order(plans, c->item_count, budget, &oversize,
				&deferred);
	for (i = 0; i < c->planned; i++) {
		memset(&c->items[i], 0, sizeof(c->items[i]));
		c->items[i].plan = plans[i];
		run->bytes_planned += plans[i].size;
	}
	free(plans);
	run->deferred = (unsigned int)deferred;
	run->oversize = (unsigned int)oversize;
	c->offer_done = 1;

	if (run->dry_run) {
		dry_run_print(c, oversize);
		c->planned = 0;
	} else if (c->planned > 0 || deferred > 0 || oversize > 0) {
		fetch_log(run, "offer: fetching=%zu deferred=%zu "
			  "oversize_waiting=%zu", c->planned, deferred,
			  oversize);
	}
	return 0;
}

static int on_offer_line(struct conn *c, const struct proto_reply *r)
{
	if (r->type == PROTO_REPLY_ERR) {
		fetch_log(c->run, "offer refused: %u %s", r->code, r->text);
		c->run->temp_failures++;
		c->offer_done = 1;
		return 0;
	}
	if (r->type != PROTO_REPLY_OFFER) {
		conn_fatal(c, EX_PROTOCOL, "protocol error", "no OFFER");
		return -1;
	}
	c->items = calloc(r->count + 1, sizeof(*c->items));
	if (c->items == NULL)
		return -1;
	c->offer_left = r->count;
	return c->offer_left == 0 ? offer_complete(c) : 0;
}

static int on_msg_line(struct conn *c, const struct proto_reply *r)
{
	if (r->type != PROTO_REPLY_MSG) {
		conn_fatal(c, EX_PROTOCOL, "protocol error",
			   "short offer");
		return -1;
	}
	offer_add(c, r);
	if (--c->offer_left == 0)
		return offer_complete(c);
	return 0;
}

/* --- one message ---------------------------------------------------- */

static void item_finish(struct conn *c, size_t i)
{
	c->items[i].state = ITEM_DONE;
	c->in_flight--;
	c->finished++;
}

/*
 * A delivery whose outcome a dead run never learnt: look in the
 * ship's mailboxes for the trace header.  1 when it is there, 0 when
 * not, -1 when nobody can tell (the message waits for another run).
 *
 * The LMTP server of a run that was killed after the final dot may
 * still be storing the message: "not there" is believed only when a
 * second look, LOOKUP_SETTLE seconds later, says it too.
 * XXX a save that takes longer than that (a ship's disk that hangs)
 * still ends up in the mailbox twice.
 */
static int delivered_before(struct conn *c, const struct proto_msgref *ref,
			    const char *rcpt, const char *ref_value)
{
	char error[256];
	int ret = fetch_find_delivered(c->run->set, rcpt, ref_value, error,
				       sizeof(error));

	if (ret == 0) {
		sleep(LOOKUP_SETTLE);
		ret = fetch_find_delivered(c->run->set, rcpt, ref_value,
					   error, sizeof(error));
	}

	if (ret < 0) {
		fetch_log(c->run, "deferred user=%s uid=%u rcpt=%s: an "
			  "earlier delivery may have gone through and "
			  "cannot be checked: %s (kept in the spool)",
			  ref->user, ref->uid, rcpt, error);
		c->run->temp_failures++;
	} else if (ret > 0) {
		fetch_log(c->run, "found user=%s uid=%u rcpt=%s: delivered "
			  "by an earlier run", ref->user, ref->uid, rcpt);
	}
	return ret;
}

static int deliver(struct conn *c, struct item *it, const char *digest)
{
	struct fetch_run *run = c->run;
	const struct proto_msgref *ref = &it->plan.ref;
	char path[4096], rcpt[PENDING_USER_MAX + 1], error[512];
	char trace[128], *ref_value;
	enum lmtp_result ret = LMTP_OK;
	int found = 0;

	spool_path(run->spool, ref, path, sizeof(path));
	fetch_map_user(run->set, ref->user, rcpt, sizeof(rcpt));
	/* Closed by brackets: the lookup matches substrings, and
	   "G.V.1" would also be found in "G.V.17". */
	snprintf(trace, sizeof(trace), "%s: <%s.%u.%u>", FETCH_TRACE_HEADER,
		 ref->guid, ref->uidvalidity, ref->uid);
	ref_value = trace + strlen(FETCH_TRACE_HEADER) + 2;

	if (spool_state(run->spool, ref) == SPOOL_DELIVERING) {
		found = delivered_before(c, ref, rcpt, ref_value);
		if (found < 0)
			return 0;
	}
	if (!found) {
		/* Durable before LMTP: a run that dies in the middle leaves
		   this line to say "look before delivering again". */
		if (spool_record(run->spool, ref, SPOOL_DELIVERING,
				 digest) < 0)
			goto journal_failed;
		ret = lmtp_deliver(run->set->lmtp, rcpt, path, trace,
				   run->set->lmtp_timeout, error,
				   sizeof(error));
	}
	if (ret == LMTP_TEMPFAIL) {
		fetch_log(run, "deferred user=%s uid=%u rcpt=%s: %s "
			  "(kept in the spool)", ref->user, ref->uid, rcpt,
			  error);
		run->temp_failures++;
		return spool_record(run->spool, ref, SPOOL_NONE, digest) < 0 ?
			-1 : 0;
	}
	if (ret == LMTP_UNKNOWN) {
		fetch_log(run, "deferred user=%s uid=%u rcpt=%s: %s (kept in "
			  "the spool; the next run looks whether it arrived)",
			  ref->user, ref->uid, rcpt, error);
		run->temp_failures++;
		return 0;
	}
	if (ret == LMTP_PERMFAIL) {
		fetch_log(run, "REFUSED user=%s uid=%u rcpt=%s: %s (held in "
			  "%s; not acknowledged)", ref->user, ref->uid, rcpt,
			  error, path);
		run->perm_failures++;
		if (spool_record(run->spool, ref, SPOOL_FAILED, digest) < 0)
			return -1;
		return 0;
	}

	/* Durable before the ack leaves: this line is what prevents a
	   second delivery if the ack is lost. */
	if (spool_record(run->spool, ref, SPOOL_DELIVERED, digest) < 0)
		goto journal_failed;
	spool_remove(run->spool, ref);
	run->delivered++;
	fetch_log(run, "delivered user=%s uid=%u rcpt=%s size=%llu "
		  "received_now=%llu", ref->user, ref->uid, rcpt,
		  (unsigned long long)c->data.size,
		  (unsigned long long)(c->data.size - it->offset));
	return conn_send_ack(c, ref);

journal_failed:
	fetch_log(run, "journal write failed: %s", strerror(errno));
	c->fatal = 1;
	c->result_exit = EX_IOERR;
	return -1;
}

/* The bytes are all in: verify, deliver, ack. */
static int message_complete(struct conn *c)
{
	struct item *it = &c->items[c->cur];
	char digest[DIGEST_HEX_LEN + 1];
	uint64_t size = 0;
	int ret;

	ret = fsync(c->spool_fd);
	close(c->spool_fd);
	c->spool_fd = -1;
	if (ret < 0 || spool_digest(c->run->spool, &it->plan.ref, digest,
				    &size) < 0) {
		conn_fatal(c, EX_IOERR, "spool write failed",
			   strerror(errno));
		return -1;
	}
	if (size != c->data.size || strcmp(digest, c->data.digest) != 0) {
		/* Whatever went wrong, the bytes are not the shore's. */
		fetch_log(c->run, "digest mismatch user=%s uid=%u: got "
			  "%llu bytes, want %llu; fetching again",
			  it->plan.ref.user, it->plan.ref.uid,
			  (unsigned long long)size,
			  (unsigned long long)c->data.size);
		spool_remove(c->run->spool, &it->plan.ref);
		if (!it->retried) {
			it->retried = 1;
			c->in_flight--;
			return conn_send_fetch(c, c->cur);
		}
		c->run->temp_failures++;
		item_finish(c, c->cur);
		return 0;
	}
	item_finish(c, c->cur);
	return deliver(c, it, digest);
}

static int on_fetch_error(struct conn *c, size_t i,
			  const struct proto_reply *r)
{
	struct item *it = &c->items[i];

	fetch_log(c->run, "not fetched user=%s uid=%u: %u %s",
		  it->plan.ref.user, it->plan.ref.uid, r->code, r->text);
	/* Our partial file no longer fits the shore's message. */
	if (r->code == PROTO_ERR_RANGE || r->code == PROTO_ERR_CHANGED)
		spool_remove(c->run->spool, &it->plan.ref);
	if (r->code == PROTO_ERR_TEMP)
		c->run->temp_failures++;
	item_finish(c, i);
	return 0;
}

static int on_data_line(struct conn *c, size_t i, const struct proto_reply *r)
{
	struct item *it = &c->items[i];

	if (r->type == PROTO_REPLY_ERR)
		return on_fetch_error(c, i, r);
	if (r->type != PROTO_REPLY_DATA || r->offset != it->offset ||
	    r->offset + r->data_len != r->size) {
		conn_fatal(c, EX_PROTOCOL, "protocol error",
			   "DATA does not answer the FETCH");
		return -1;
	}
	c->spool_fd = spool_append_open(c->run->spool, &it->plan.ref,
					r->offset);
	if (c->spool_fd < 0) {
		conn_fatal(c, EX_CANTCREAT, "spool", strerror(errno));
		return -1;
	}
	c->cur = i;
	c->data = *r;
	c->data_left = r->data_len;
	c->since_sync = 0;
	c->rd = c->data_left > 0 ? READ_DATA : READ_DATA_END;
	return 0;
}

static int data_bytes(struct conn *c, const unsigned char *p, size_t len)
{
	struct item *it = &c->items[c->cur];
	size_t pos = 0;

	while (pos < len) {
		ssize_t n = write(c->spool_fd, p + pos, len - pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			conn_fatal(c, EX_IOERR, "spool write",
				   strerror(errno));
			return -1;
		}
		pos += (size_t)n;
	}
	c->data_left -= len;
	c->since_sync += len;
	c->run->bytes_received += len;
	c->progress = 1;

	/* Bytes on disk are bytes the next session need not ask for. */
	if (c->since_sync >= CONN_SYNC_EVERY) {
		(void)fdatasync(c->spool_fd);
		c->since_sync = 0;
	}
	fetch_progress(c->run, it->plan.ref.user,
		       c->data.size - c->data_left, c->data.size,
		       (unsigned int)c->finished + 1,
		       (unsigned int)c->planned);
	if (c->data_left == 0)
		c->rd = READ_DATA_END;
	return 0;
}

/* --- replies -------------------------------------------------------- */

static int on_ack_reply(struct conn *c, const struct expect *e,
			const struct proto_reply *r)
{
	if (r->type == PROTO_REPLY_OK) {
		c->run->acked++;
		c->progress = 1;
		return spool_record(c->run->spool, &e->ref, SPOOL_ACKED,
				    NULL) < 0 ? -1 : 0;
	}
	if (r->type == PROTO_REPLY_ERR) {
		/* Kept as delivered: the next session asks again. */
		fetch_log(c->run, "ack refused user=%s uid=%u: %u %s",
			  e->ref.user, e->ref.uid, r->code, r->text);
		c->run->temp_failures++;
		return 0;
	}
	conn_fatal(c, EX_PROTOCOL, "protocol error", "bad ACK reply");
	return -1;
}

static int on_line(struct conn *c, const char *line, size_t len)
{
	struct proto_reply r;
	struct expect e;
	const char *error;

	if (proto_reply_parse(line, len, &r, &error) < 0) {
		conn_fatal(c, EX_PROTOCOL, "protocol error", error);
		return -1;
	}
	if (c->offer_left > 0)
		return on_msg_line(c, &r);
	if (c->q_head == c->q_tail) {
		conn_fatal(c, EX_PROTOCOL, "protocol error",
			   "reply nobody asked for");
		return -1;
	}
	e = c->queue[c->q_head++];
	switch (e.type) {
	case EXPECT_OFFER:
		return on_offer_line(c, &r);
	case EXPECT_FETCH:
		return on_data_line(c, e.item, &r);
	case EXPECT_ACK:
		return on_ack_reply(c, &e, &r);
	case EXPECT_QUIT:
		c->done = 1;
		return 0;
	case EXPECT_REQUEST:
		return on_request_reply(c, e.item, &r);
	case EXPECT_HAVE:
		return on_have_reply(c, e.item, &r);
	case EXPECT_PUT:
		return on_put_reply(c, &e, &r);
	}
	return -1;
}

/* The decompressor's sink: the push parser. */
static int reader_feed(void *ctx, const void *data, size_t len)
{
	struct conn *c = ctx;
	const unsigned char *p = data;

	while (len > 0 && !c->fatal) {
		if (c->rd == READ_DATA) {
			size_t n = len < c->data_left ? len :
				(size_t)c->data_left;

			if (data_bytes(c, p, n) < 0)
				return -1;
			p += n;
			len -= n;
		} else if (c->rd == READ_DATA_END) {
			if (*p != '\n') {
				conn_fatal(c, EX_PROTOCOL, "protocol error",
					   "no LF after the bytes");
				return -1;
			}
			p++;
			len--;
			c->rd = READ_LINE;
			if (message_complete(c) < 0)
				return -1;
		} else if (*p == '\n') {
			p++;
			len--;
			if (c->line_overflow) {
				conn_fatal(c, EX_PROTOCOL, "protocol error",
					   "reply line too long");
				return -1;
			}
			if (on_line(c, c->line, c->line_len) < 0)
				return -1;
			c->line_len = 0;
		} else {
			if (c->line_len < PROTO_LINE_MAX)
				c->line[c->line_len++] = (char)*p;
			else
				c->line_overflow = 1;
			p++;
			len--;
		}
	}
	return c->fatal ? -1 : 0;
}

/* --- the session ---------------------------------------------------- */

static int conn_start_batch(struct conn *c);

/*
 * Read plain lines until the HELLO reply; the rest is compressed.  The
 * greeting lists the shore's methods and the shore takes the best that
 * both have, so the first batch of requests goes right behind HELLO,
 * compressed with that method, instead of a round trip later.
 */
static int conn_hello(struct conn *c, unsigned char *buf, size_t *len_r,
		      size_t *used_r)
{
	struct proto_request req = { .cmd = PROTO_CMD_HELLO,
				     .version = PROTO_VERSION };
	enum proto_compress method = PROTO_COMPRESS_NONE;
	size_t len = 0, start = 0;
	int lines = 0;

	req.compress_mask = c->run->set->compress_mask &
		compress_supported_mask();
	for (;;) {
		unsigned char *lf = memchr(buf + start, '\n', len - start);
		struct proto_reply r;
		const char *error;

		if (lf == NULL) {
			ssize_t n;

			if (len == PROTO_LINE_MAX * 2)
				return -1;
			n = session_read(c->s, buf + len,
					 PROTO_LINE_MAX * 2 - len);
			if (n <= 0)
				return -1;
			len += (size_t)n;
			continue;
		}
		if (proto_reply_parse((char *)buf + start,
				      (size_t)(lf - buf) - start, &r,
				      &error) < 0) {
			conn_fatal(c, EX_PROTOCOL, "shore greeting", error);
			return -1;
		}
		start = (size_t)(lf - buf) + 1;
		if (lines++ == 0) {
			char line[64];
			size_t n;

			if (r.type != PROTO_REPLY_GREETING ||
			    r.version != PROTO_VERSION) {
				conn_fatal(c, EX_PROTOCOL, "shore greeting",
					   "another protocol or version");
				return -1;
			}
			c->caps = r.caps;
			n = proto_request_format(line, sizeof(line), &req);
			if (session_write(c->s, line, n) < 0)
				return -1;
			method = proto_compress_choose(r.compress_mask,
						       req.compress_mask);
			c->enc = compressor_new(method,
						c->run->set->compress_level,
						enc_sink, c);
			if (c->enc == NULL || conn_start_batch(c) < 0)
				return -1;
			continue;
		}
		if (r.type != PROTO_REPLY_HELLO) {
			conn_fatal(c, EX_PROTOCOL, "HELLO refused",
				   r.type == PROTO_REPLY_ERR ? r.text : "?");
			return -1;
		}
		if (r.compress != method) {
			conn_fatal(c, EX_PROTOCOL, "HELLO", "the shore chose "
				   "a compression method its greeting did "
				   "not put first");
			return -1;
		}
		c->dec = decompressor_new(r.compress, reader_feed, c);
		if (c->dec == NULL)
			return -1;
		*len_r = len;
		*used_r = start;
		return 0;
	}
}

/* Acks left over from earlier sessions, the crew's requests, a HAVE
   for each outbound message, then OFFER: one batch. */
static int conn_start_batch(struct conn *c)
{
	struct proto_request req = { .cmd = PROTO_CMD_OFFER };
	struct expect e = { .type = EXPECT_OFFER };
	const struct proto_msgref *ref;
	size_t i;

	for (i = 0; !c->run->dry_run &&
	     (ref = spool_unacked(c->run->spool, i)) != NULL; i++) {
		/* A run killed between the journal's D line and the
		   removal leaves the file; the shore, acked first, will
		   not offer the message again to clean it then. */
		spool_remove(c->run->spool, ref);
		if (conn_send_ack(c, ref) < 0)
			return -1;
	}
	if (!c->run->dry_run &&
	    (requests_start(c) < 0 || uploads_start(c) < 0))
		return -1;
	if (conn_send(c, &req, &e) < 0)
		return -1;
	return conn_flush(c);
}

/*
 * fetch_max_time is a hard limit: with many requests in flight, waiting
 * for their replies could take the run far past it.  The session just
 * ends; the message being received keeps what arrived (synced as it
 * goes), a delivered message's ACK goes again from the journal, and
 * every upload resumes where the shore's part ends: the next run loses
 * only the bytes that were on the link.
 */
static int conn_out_of_time(struct conn *c)
{
	struct fetch_run *run = c->run;

	if (run->deadline == 0 || time(NULL) < run->deadline)
		return 0;
	if (c->planned > c->finished)
		run->deferred += (unsigned int)(c->planned - c->finished);
	fetch_log(run, "fetch_max_time is used up: the session ends here, "
		  "what is left goes in the next run");
	return 1;
}

static enum conn_result conn_loop(struct conn *c, unsigned char *buf,
				  size_t len, size_t used)
{
	if (decompressor_feed(c->dec, buf + used, len - used) < 0)
		goto fail;
	for (;;) {
		ssize_t n;

		if (conn_refill(c) < 0 || conn_flush(c) < 0)
			goto fail;
		if (c->done)
			return CONN_DONE;
		if (conn_out_of_time(c))
			return CONN_DONE;
		n = session_read(c->s, buf, PROTO_LINE_MAX * 2);
		if (n <= 0) {
			fetch_log(c->run, "link: %s", n == 0 ?
				  "shore closed the session" :
				  session_last_error(c->s));
			return CONN_LINK;
		}
		if (decompressor_feed(c->dec, buf, (size_t)n) < 0)
			goto fail;
	}
fail:
	if (c->fatal)
		return CONN_FATAL;
	if (c->dec != NULL && !c->fatal) {
		/* A write failure or corrupt stream: a link problem. */
		fetch_log(c->run, "link: %s",
			  session_last_error(c->s)[0] != '\0' ?
			  session_last_error(c->s) : "session ended");
	}
	return CONN_LINK;
}

static void conn_free(struct conn *c)
{
	if (c->spool_fd >= 0) {
		/* Keep the partial message for the next session. */
		(void)fdatasync(c->spool_fd);
		close(c->spool_fd);
	}
	decompressor_free(&c->dec);
	compressor_free(&c->enc);
	/* Only a session whose QUIT was answered ends politely. */
	if (c->done)
		session_close(&c->s);
	else
		session_abort(&c->s);
	free(c->queue);
	free(c->items);
	free(c->ups);
}

static int session_error_exit(enum session_error err)
{
	switch (err) {
	case SESSION_ERR_HOSTKEY:
	case SESSION_ERR_UNKNOWN_HOST:
		return EX_NOPERM;
	case SESSION_ERR_AUTH:
		return EX_UNAVAILABLE;
	default:
		return EX_SOFTWARE;
	}
}

enum conn_result fetch_conn_run(struct fetch_run *run, int *progress_r,
				int *exit_r)
{
	unsigned char buf[PROTO_LINE_MAX * 2];
	struct conn c;
	enum session_error err;
	enum conn_result ret;
	char error[512];
	size_t len = 0, used = 0;

	memset(&c, 0, sizeof(c));
	c.run = run;
	c.spool_fd = -1;
	*progress_r = 0;
	c.s = session_open(&run->set->ssh, &err, error, sizeof(error));
	if (c.s == NULL) {
		fetch_log(run, "connect: %s", error);
		if (err == SESSION_ERR_LINK)
			return CONN_LINK;
		*exit_r = session_error_exit(err);
		return CONN_FATAL;
	}
	if (conn_hello(&c, buf, &len, &used) < 0) {
		ret = c.fatal ? CONN_FATAL : CONN_LINK;
		if (!c.fatal && session_last_error(c.s)[0] != '\0')
			fetch_log(run, "link: %s", session_last_error(c.s));
		else if (!c.fatal)
			fetch_log(run, "link: the shore ended the session before "
				  "its greeting (does the forced command run? "
				  "see sshd's and shipmail-shore's logs)");
	} else {
		ret = conn_loop(&c, buf, len, used);
	}
	*progress_r = c.progress;
	*exit_r = c.result_exit;
	conn_free(&c);
	return ret;
}
