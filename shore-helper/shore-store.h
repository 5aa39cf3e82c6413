#ifndef SHIPMAIL_SHORE_STORE_H
#define SHIPMAIL_SHORE_STORE_H

/*
 * shipmail-shore's side of Dovecot: the pending index (a Dovecot dict,
 * named by the shipmail_dict plugin setting) and the mailboxes (through
 * lib-storage, with the user's own settings and plugins).  The protocol
 * loop in shore.c calls these and never sees a Dovecot type.
 *
 * Errors come back as an enum proto_code with a text for the peer; the
 * text never carries internal details (those are logged here, once).
 */

#include <stdint.h>

#include "proto.h"

struct ship_users;
struct store;

/* Called for each part of a reply; returns 0, or -1 when writing failed. */
typedef int store_write_fn(void *ctx, const void *data, size_t len);

/* Called for each pending entry of the ship's users. */
typedef void store_offer_fn(void *ctx, const struct pending_entry *entry);

/*
 * Set up lib-storage and open the dict.  dict_uri overrides Dovecot's
 * shipmail_dict setting when not NULL.  Returns NULL after logging why.
 */
struct store *store_init(const struct ship_users *users,
			 const char *dict_uri);
void store_deinit(struct store **store);

/* Every pending entry of the ship's users, in dict order. */
int store_offer(struct store *store, store_offer_fn *fn, void *ctx,
		const char **error_r);

/*
 * Serve a FETCH: check the entry, open the message, write the DATA line
 * and the bytes from offset through write_fn.  Returns 0, or an error
 * code with *error_r for an ERR reply (nothing written yet), or -1 when
 * writing failed after the DATA line (the session must end).
 */
int store_fetch(struct store *store, const struct proto_request *req,
		store_write_fn *write_fn, void *ctx, const char **error_r);

/*
 * Serve a REQUEST from the ship: the held message of user with this
 * handle is released for the next OFFER (its entry gets the requested
 * flag).  0 with *text_r, or a code: 404 when no pending message of
 * the user has the handle.
 */
int store_request(struct store *store, const char *user, const char *handle,
		  const char **text_r);

/* Serve an ACK: shipped keyword set, index entry gone.  0 or a code. */
int store_ack(struct store *store, const struct proto_msgref *ref,
	      const char **text_r);

#endif
