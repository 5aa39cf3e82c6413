#ifndef SHIPMAIL_POLICY_H
#define SHIPMAIL_POLICY_H

/*
 * The milter's configuration turned into a policy: who is on the ship,
 * which size limit applies to a recipient (shore) or a sender (ship),
 * what to do with oversize mail, and what to do when something fails.
 *
 * Limits are looked up by exact address first, then by domain, then by
 * parent domain for entries written ".example.com"; a limit of 0 means
 * "no limit".  Addresses are compared without case.
 *
 * This file knows nothing of libmilter: the milter and the unit tests
 * both load a policy from a struct config.
 */

#include <stdint.h>
#include <stddef.h>

struct config;

enum milter_role { ROLE_SHORE, ROLE_SHIP };
enum outbound_action { OUTBOUND_REJECT, OUTBOUND_HOLD };
enum fail_action { FAIL_ACCEPT, FAIL_TEMPFAIL };

struct limit_entry {
	char *key;		/* lower case address, domain or .domain */
	uint64_t size;
};

struct limit_table {
	struct limit_entry *entries;
	size_t count;
};

struct policy {
	enum milter_role role;
	char *socket;

	struct limit_table ship;	/* ship_domains + ship_recipients */
	uint64_t inbound_limit;
	struct limit_table inbound;
	uint64_t outbound_limit;
	struct limit_table outbound;
	enum outbound_action outbound_action;

	char **notice_argv;		/* recipient appended at run time */
	size_t notice_argc;
	char *notice_from;		/* header form: "Name <addr>" */
	char *notice_from_addr;		/* lower case address part */
	unsigned int notice_timeout;
	enum fail_action notice_failure;
	char *request_folder;
	unsigned int link_bps;		/* 0: no transfer time estimate */

	enum fail_action error_action;
};

#define MILTER_SOCKET_DEFAULT	"inet:8894@127.0.0.1"
#define MILTER_NOTICE_COMMAND_DEFAULT "/usr/sbin/sendmail -i -f <> --"

/*
 * Read every milter parameter of cfg into policy.  Returns 0, or -1 with
 * a message naming the file (path), line and parameter.  Unknown names that
 * start with "milter_" are errors, so that a typo does not silently
 * leave a default in force.
 */
int policy_load(struct policy *policy, const struct config *cfg,
		const char *path, char *error, size_t error_size);
void policy_free(struct policy *policy);

/* Non-zero when the address's mailbox is on the ship. */
int policy_is_ship_address(const struct policy *policy, const char *addr);

/* Shore: the limit for a recipient; 0 when it is not limited (not on the
   ship, or limit 0). */
uint64_t policy_inbound_limit(const struct policy *policy, const char *rcpt);

/* Ship: the sending limit for an envelope sender; 0 for none. */
uint64_t policy_outbound_limit(const struct policy *policy,
			       const char *sender);

/* Lower-case copy of the address inside an envelope argument: drops
   angle brackets, a source route and surrounding blanks.  "" for <>. */
char *policy_address(const char *arg);

#endif
