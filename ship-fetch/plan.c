/*
 * The run's order: see plan.h.  Quadratic in the number of users in the
 * worst case, which is a few dozen on a ship.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

static int item_cmp(const void *a, const void *b)
{
	const struct plan_item *x = a, *y = b;
	int ret;

	if (x->received != y->received)
		return x->received < y->received ? -1 : 1;
	if ((ret = strcmp(x->ref.user, y->ref.user)) != 0)
		return ret;
	return x->ref.uid < y->ref.uid ? -1 : (x->ref.uid > y->ref.uid);
}

static int wanted(const struct plan_item *item)
{
	return (item->flags & PENDING_FLAG_OVERSIZE) == 0 ||
		(item->flags & PENDING_FLAG_REQUESTED) != 0;
}

/* Round robin over users, each user's mail oldest first. */
static void interleave(struct plan_item *items, size_t count)
{
	struct plan_item *out = malloc(count * sizeof(*out));
	char *taken = calloc(count, 1);
	size_t done = 0, i, j;

	if (out == NULL || taken == NULL) {
		/* Without memory, oldest first overall is still correct. */
		free(out);
		free(taken);
		return;
	}
	while (done < count) {
		/* One round: the oldest untaken item of each user, users in
		   the order of their oldest untaken item. */
		size_t round_start = done;

		for (i = 0; i < count; i++) {
			int seen = 0;

			if (taken[i])
				continue;
			for (j = round_start; j < done && !seen; j++)
				seen = strcmp(out[j].ref.user,
					      items[i].ref.user) == 0;
			if (seen)
				continue;
			out[done++] = items[i];
			taken[i] = 1;
		}
	}
	memcpy(items, out, count * sizeof(*out));
	free(out);
	free(taken);
}

size_t plan_order(struct plan_item *items, size_t count, uint64_t max_bytes,
		  size_t *oversize_r, size_t *deferred_r)
{
	size_t kept = 0, i, take;
	uint64_t bytes = 0;

	/* Drop oversize mail nobody asked for, keeping the rest. */
	*oversize_r = 0;
	for (i = 0; i < count; i++) {
		if (wanted(&items[i]))
			items[kept++] = items[i];
		else
			(*oversize_r)++;
	}
	qsort(items, kept, sizeof(*items), item_cmp);
	interleave(items, kept);

	for (take = 0; take < kept; take++) {
		if (max_bytes > 0 && take > 0 &&
		    bytes + items[take].size > max_bytes)
			break;
		bytes += items[take].size;
	}
	*deferred_r = kept - take;
	return take;
}
