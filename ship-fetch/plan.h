#ifndef SHIPMAIL_PLAN_H
#define SHIPMAIL_PLAN_H

/*
 * Which offered messages one run fetches, and in what order: oldest
 * first within each user, users taken in turn (round robin, the user
 * with the oldest mail first), so that one user's flood does not starve
 * the others; oversize mail only once requested on shore; the run stops
 * adding messages once the byte budget is used (but always takes at
 * least one, so that a message larger than the budget still moves).
 */

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct plan_item {
	struct proto_msgref ref;
	uint64_t size;
	int64_t received;
	unsigned int flags;
};

/*
 * Reorder items[0..count) in place into the run's order and return how
 * many of them the run takes.  Skipped oversize items are counted in
 * *oversize_r, items left for the budget in *deferred_r.
 */
size_t plan_order(struct plan_item *items, size_t count, uint64_t max_bytes,
		  size_t *oversize_r, size_t *deferred_r);

#endif
