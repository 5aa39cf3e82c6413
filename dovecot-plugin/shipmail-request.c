/*
 * Requests for held mail made by the crew through IMAP (see
 * shipmail-request.h).
 *
 * What counts as asking: a message saved or copied (IMAP APPEND, COPY,
 * MOVE) into the request mailbox, or an existing message that gains the
 * request keyword.  The message must carry a well-formed handle in its
 * X-Shipmail-Notice header; anything else is logged and left alone.
 * Deliveries (LMTP, LDA) and replication are not the crew asking and
 * are not looked at.  Requests are written when the mail transaction
 * commits, so a rolled back MOVE asks for nothing.
 *
 * Each queued request counts against the user's limit for the UTC day;
 * asking again for a handle that is still queued is neither a new
 * request nor counted.  Over the limit, the request is not queued and
 * one reply per transaction lands in the user's INBOX, listing what was
 * refused.
 *
 * Not done: taking the notice out of the request mailbox, or the
 * keyword off it, does not withdraw a request.
 * XXX the counter is read and then written, not incremented in the
 * database: two sessions of one user asking in the same instant can
 * both pass the limit's last place.
 */
#include "lib.h"
#include "array.h"
#include "ioloop.h"
/* istream.h declares a callback without a prototype. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "istream.h"
#pragma GCC diagnostic pop
#include "str.h"
#include "str-sanitize.h"
#include "hostpid.h"
#include "guid.h"
#include "dict.h"
#include "message-date.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-storage-private.h"
#include "notify-plugin.h"
#include "common/request.h"
#include "milter/notice.h"
#include "shipmail-settings.h"
#include "shipmail-text.h"
#include "shipmail-request.h"

/* A notice the crew asked for in this transaction. */
struct shipmail_ask {
	const char *handle;
	const char *subject;
	enum request_origin origin;
};

struct shipmail_request_txn {
	pool_t pool;
	struct mail_user *user;
	const struct shipmail_settings *set;
	struct dict *dict;
	/* Saves and copies into this transaction's mailbox are requests. */
	bool into_request_mailbox;
	ARRAY(struct shipmail_ask) asks;
};

/* What one commit did with its asks. */
struct shipmail_request_outcome {
	unsigned int count;	/* today's count, after this commit */
	string_t *queued;	/* handles, comma-separated */
	ARRAY(const struct shipmail_ask *) refused;
};

static struct notify_context *shipmail_request_notify_ctx;

static void *
shipmail_request_begin(struct mailbox_transaction_context *t)
{
	struct mail_namespace *ns = mailbox_get_namespace(t->box);
	const struct shipmail_settings *set;
	struct shipmail_request_txn *txn;
	struct dict *dict;
	pool_t pool;

	/* Deliveries and replicas are not the crew asking. */
	if ((t->flags & MAILBOX_TRANSACTION_FLAG_SYNC) != 0 ||
	    (t->box->flags & MAILBOX_FLAG_POST_SESSION) != 0)
		return NULL;
	if (ns->type != MAIL_NAMESPACE_TYPE_PRIVATE ||
	    !shipmail_user_lookup(ns->user, &set, &dict))
		return NULL;

	pool = pool_alloconly_create("shipmail request txn", 512);
	txn = p_new(pool, struct shipmail_request_txn, 1);
	txn->pool = pool;
	txn->user = ns->user;
	txn->set = set;
	txn->dict = dict;
	txn->into_request_mailbox =
		strcmp(mailbox_get_vname(t->box), set->request_mailbox) == 0;
	p_array_init(&txn->asks, pool, 2);
	return txn;
}

/* Read the notice's handle from mail and keep it as an ask; a message
   that is no notice, or has a malformed handle, is logged and left. */
static void
shipmail_request_ask(struct shipmail_request_txn *txn, struct mail *mail,
		     enum request_origin origin)
{
	struct shipmail_ask *ask;
	const char *value, *handle, *subject;
	int ret;

	ret = mail_get_first_header(mail, SHIPMAIL_NOTICE_HEADER, &value);
	if (ret < 0) {
		e_error(txn->user->event, "shipmail: request not read: %s: %s",
			mailbox_get_vname(mail->box),
			mailbox_get_last_internal_error(mail->box, NULL));
		return;
	}
	if (ret == 0) {
		e_info(txn->user->event, "shipmail: request ignored: "
		       "mailbox=%s uid=%u: not a notice (no %s header)",
		       mailbox_get_vname(mail->box), mail->uid,
		       SHIPMAIL_NOTICE_HEADER);
		return;
	}
	handle = shipmail_text_handle(value);
	if (handle == NULL) {
		e_info(txn->user->event, "shipmail: request ignored: "
		       "mailbox=%s uid=%u: malformed handle '%s'",
		       mailbox_get_vname(mail->box), mail->uid,
		       str_sanitize(value, 64));
		return;
	}
	if (mail_get_first_header_utf8(mail, "Subject", &subject) <= 0)
		subject = "";

	ask = array_append_space(&txn->asks);
	ask->handle = p_strdup(txn->pool, handle);
	ask->subject = p_strdup(txn->pool, shipmail_text_one_line(subject));
	ask->origin = origin;
}

static void shipmail_request_save(void *_txn, struct mail *mail)
{
	struct shipmail_request_txn *txn = _txn;

	if (txn != NULL && txn->into_request_mailbox) T_BEGIN {
		shipmail_request_ask(txn, mail, REQUEST_ORIGIN_FOLDER);
	} T_END;
}

static void
shipmail_request_copy(void *_txn, struct mail *src,
		      struct mail *dst ATTR_UNUSED)
{
	struct shipmail_request_txn *txn = _txn;

	/* The source is a complete message; the copy may still be in
	   the making. */
	if (txn != NULL && txn->into_request_mailbox) T_BEGIN {
		shipmail_request_ask(txn, src, REQUEST_ORIGIN_FOLDER);
	} T_END;
}

static void
shipmail_request_keywords(void *_txn, struct mail *mail,
			  const char *const *old_keywords)
{
	struct shipmail_request_txn *txn = _txn;
	const char *keyword;

	if (txn == NULL || mail->uid == 0)
		return;
	keyword = txn->set->request_keyword;
	if (shipmail_keywords_have(old_keywords, keyword) ||
	    !shipmail_keywords_have(mail_get_keywords(mail), keyword))
		return;
	T_BEGIN {
		shipmail_request_ask(txn, mail, REQUEST_ORIGIN_KEYWORD);
	} T_END;
}

/* --- the reply to a refused request ------------------------------- */

static const char *shipmail_request_reply_text(struct mail_user *user,
		const struct shipmail_settings *set,
		const struct shipmail_request_outcome *outcome)
{
	const struct shipmail_ask *const *askp;
	const char *domain = strchr(user->username, '@');
	string_t *text = t_str_new(1024);
	guid_128_t id;

	domain = domain != NULL ? domain + 1 : my_hostname;
	str_printfa(text, "From: Ship mail system <postmaster@%s>\n", domain);
	str_printfa(text, "To: <%s>\n", user->username);
	str_append(text, "Subject: Request for held mail not sent: "
		   "daily limit reached\n");
	str_printfa(text, "Date: %s\n", message_date_create(ioloop_time));
	guid_128_generate(id);
	str_printfa(text, "Message-ID: <shipmail.%s@%s>\n",
		    guid_128_to_string(id), my_hostname);
	str_append(text, "Auto-Submitted: auto-replied\n"
		   "MIME-Version: 1.0\n"
		   "Content-Type: text/plain; charset=utf-8\n"
		   "Content-Transfer-Encoding: 8bit\n\n");
	str_printfa(text, "You can ask for %u held messages a day (UTC), and "
		    "today's requests\nare used up.  These were NOT "
		    "requested:\n\n", set->request_daily_limit);
	array_foreach(&outcome->refused, askp) {
		str_printfa(text, "  - %s\n    (handle %s)\n",
			    (*askp)->subject[0] != '\0' ?
			    (*askp)->subject : "(no subject)", (*askp)->handle);
	}
	str_append(text, "\nAsk again tomorrow by moving the notice into "
		   "the request folder\nor flagging it once more, or ask the "
		   "ship's mail administrator.\n");
	return str_c(text);
}

/* Stream text into the transaction t.  0, or -1 (the error is the
   mailbox's). */
static int shipmail_request_save_text(struct mailbox_transaction_context *t,
				      const char *text)
{
	struct mail_save_context *save = mailbox_save_alloc(t);
	struct istream *input;
	int ret = 0;

	input = i_stream_create_from_data(text, strlen(text));
	if (mailbox_save_begin(&save, input) < 0) {
		i_stream_unref(&input);
		return -1;
	}
	do {
		if (mailbox_save_continue(save) < 0) {
			ret = -1;
			break;
		}
	} while (i_stream_read(input) > 0);
	if (ret < 0)
		mailbox_save_cancel(&save);
	else if (mailbox_save_finish(&save) < 0)
		ret = -1;
	i_stream_unref(&input);
	return ret;
}

/* Put the reply into the user's INBOX; a failure is logged. */
static void shipmail_request_reply(struct mail_user *user, const char *text)
{
	struct mail_namespace *ns = mail_namespace_find_inbox(user->namespaces);
	struct mailbox_transaction_context *t;
	struct mailbox *box;
	int ret = -1;

	box = mailbox_alloc(ns->list, "INBOX", 0);
	if (mailbox_open(box) == 0) {
		t = mailbox_transaction_begin(box,
			MAILBOX_TRANSACTION_FLAG_EXTERNAL,
			"shipmail request reply");
		if (shipmail_request_save_text(t, text) < 0)
			mailbox_transaction_rollback(&t);
		else
			ret = mailbox_transaction_commit(&t);
	}
	if (ret < 0) {
		e_error(user->event, "shipmail: request reply not saved "
			"in INBOX: %s",
			mailbox_get_last_internal_error(box, NULL));
	}
	mailbox_free(&box);
}

/* --- queueing ------------------------------------------------------ */

/* Filled by the commit callback, which may run in another data stack
   frame: hence a copy of the error. */
struct shipmail_request_commit {
	int ret;
	char error[256];
};

static void
shipmail_request_committed(const struct dict_commit_result *result,
			   struct shipmail_request_commit *commit)
{
	commit->ret = result->ret == DICT_COMMIT_RET_OK ? 0 : -1;
	i_strocpy(commit->error, result->error != NULL ? result->error :
		  "unknown error", sizeof(commit->error));
}

/* Today's count of the user's requests.  0, or -1 with *error_r. */
static int
shipmail_request_count_read(struct shipmail_request_txn *txn,
			    const char *key, unsigned int *count_r,
			    const char **error_r)
{
	const char *value;
	int ret;

	ret = dict_lookup(txn->dict, mail_user_get_dict_op_settings(txn->user),
			  pool_datastack_create(), key, &value, error_r);
	if (ret <= 0) {
		*count_r = 0;
		return ret;
	}
	/* A damaged counter must not lock the user out for the day. */
	if (request_count_decode(value, request_day(ioloop_time), count_r,
				 error_r) < 0) {
		e_warning(txn->user->event, "shipmail: request counter %s: %s: "
			  "counting from 0", key, *error_r);
		*count_r = 0;
	}
	return 0;
}

/* 1 when a request for handle is already queued, 0 not, -1 error. */
static int
shipmail_request_queued(struct shipmail_request_txn *txn, const char *key,
			const char **error_r)
{
	const char *value;

	return dict_lookup(txn->dict,
			   mail_user_get_dict_op_settings(txn->user),
			   pool_datastack_create(), key, &value, error_r);
}

/* Decide one ask: queue it into dt, refuse it, or skip it.  0, or -1
   when the index could not be read. */
static int
shipmail_request_decide(struct shipmail_request_txn *txn,
			struct dict_transaction_context *dt,
			const struct shipmail_ask *ask,
			struct shipmail_request_outcome *outcome,
			const char **error_r)
{
	char key[REQUEST_KEY_MAX], value[REQUEST_VALUE_MAX];
	struct request_entry entry;
	unsigned int limit = txn->set->request_daily_limit;
	int ret;

	if (request_key_build(key, sizeof(key), txn->user->username,
			      ask->handle) == 0) {
		*error_r = "user name too long for a key";
		return -1;
	}
	if ((ret = shipmail_request_queued(txn, key, error_r)) < 0)
		return -1;
	if (ret > 0) {
		e_info(txn->user->event, "shipmail: request already queued: "
		       "handle=%s", ask->handle);
		return 0;
	}
	if (limit > 0 && outcome->count >= limit) {
		e_warning(txn->user->event, "shipmail: request refused: "
			  "handle=%s: daily limit %u reached", ask->handle,
			  limit);
		array_push_back(&outcome->refused, &ask);
		return 0;
	}

	i_zero(&entry);
	entry.requested = ioloop_time;
	entry.origin = ask->origin;
	(void)request_value_encode(&entry, value, sizeof(value));
	dict_set(dt, key, value);
	outcome->count++;
	if (str_len(outcome->queued) > 0)
		str_append_c(outcome->queued, ',');
	str_append(outcome->queued, ask->handle);
	return 0;
}

/* Write the queued requests and the new count, and wait for them. */
static int
shipmail_request_write(struct shipmail_request_txn *txn,
		       struct dict_transaction_context **dt,
		       const char *count_key,
		       const struct shipmail_request_outcome *outcome,
		       const char **error_r)
{
	struct shipmail_request_commit commit = {
		.ret = -1, .error = "the commit did not finish"
	};
	char value[REQUEST_VALUE_MAX];

	(void)request_count_encode(request_day(ioloop_time), outcome->count,
				   value, sizeof(value));
	dict_set(*dt, count_key, value);
	/* Asynchronous and then waited for: a synchronous commit crashes
	   Dovecot 2.3's redis dict. */
	dict_transaction_commit_async(dt, shipmail_request_committed, &commit);
	dict_wait(txn->dict);
	*error_r = t_strdup(commit.error);
	return commit.ret;
}

static int
shipmail_request_queue(struct shipmail_request_txn *txn,
		       struct shipmail_request_outcome *outcome,
		       const char **error_r)
{
	char count_key[REQUEST_KEY_MAX];
	struct dict_transaction_context *dt;
	const struct shipmail_ask *ask;
	int ret = 0;

	if (request_count_key_build(count_key, sizeof(count_key),
				    txn->user->username) == 0) {
		*error_r = "user name too long for a key";
		return -1;
	}
	/* Earlier writes of this process (other sessions) come first. */
	dict_wait(txn->dict);
	if (shipmail_request_count_read(txn, count_key, &outcome->count,
					error_r) < 0)
		return -1;

	dt = dict_transaction_begin(txn->dict,
				    mail_user_get_dict_op_settings(txn->user));
	array_foreach(&txn->asks, ask) {
		if ((ret = shipmail_request_decide(txn, dt, ask, outcome,
						   error_r)) < 0)
			break;
	}
	if (ret < 0 || str_len(outcome->queued) == 0) {
		dict_transaction_rollback(&dt);
		return ret;
	}
	return shipmail_request_write(txn, &dt, count_key, outcome, error_r);
}

/* Drop asks for a handle asked for earlier in the same transaction. */
static void shipmail_request_dedup(struct shipmail_request_txn *txn)
{
	struct shipmail_ask *asks;
	unsigned int i, j, count;

	asks = array_get_modifiable(&txn->asks, &count);
	for (i = count; i > 1; i--) {
		for (j = 0; j < i - 1; j++) {
			if (strcmp(asks[j].handle, asks[i - 1].handle) == 0) {
				array_delete(&txn->asks, i - 1, 1);
				break;
			}
		}
	}
}

static void shipmail_request_commit_asks(struct shipmail_request_txn *txn)
{
	struct shipmail_request_outcome outcome;
	/* dict_lookup() looks at *error_r even when it succeeds. */
	const char *error = NULL;

	i_zero(&outcome);
	outcome.queued = t_str_new(64);
	t_array_init(&outcome.refused, 4);
	shipmail_request_dedup(txn);
	if (shipmail_request_queue(txn, &outcome, &error) < 0) {
		e_error(txn->user->event, "shipmail: request not queued: %s "
			"(ask again)", error);
		return;
	}
	if (str_len(outcome.queued) > 0) {
		e_info(txn->user->event, "shipmail: request queued: "
		       "handles=%s today=%u", str_c(outcome.queued),
		       outcome.count);
	}
	if (array_count(&outcome.refused) > 0) {
		shipmail_request_reply(txn->user,
			shipmail_request_reply_text(txn->user, txn->set,
						    &outcome));
	}
}

static void
shipmail_request_commit(void *_txn, struct mail_transaction_commit_changes
			*changes ATTR_UNUSED)
{
	struct shipmail_request_txn *txn = _txn;

	if (txn == NULL)
		return;
	if (array_count(&txn->asks) > 0) T_BEGIN {
		shipmail_request_commit_asks(txn);
	} T_END;
	pool_unref(&txn->pool);
}

static void shipmail_request_rollback(void *_txn)
{
	struct shipmail_request_txn *txn = _txn;

	if (txn != NULL)
		pool_unref(&txn->pool);
}

static const struct notify_vfuncs shipmail_request_vfuncs = {
	.mail_transaction_begin = shipmail_request_begin,
	.mail_save = shipmail_request_save,
	.mail_copy = shipmail_request_copy,
	.mail_update_keywords = shipmail_request_keywords,
	.mail_transaction_commit = shipmail_request_commit,
	.mail_transaction_rollback = shipmail_request_rollback,
};

void shipmail_request_init(void)
{
	shipmail_request_notify_ctx = notify_register(&shipmail_request_vfuncs);
}

void shipmail_request_deinit(void)
{
	notify_unregister(shipmail_request_notify_ctx);
}
