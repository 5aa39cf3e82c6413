/*
 * The doveadm shipmail plugin's entry points and the few helpers its
 * commands share (see doveadm-shipmail.h for the commands).
 */
#include "lib.h"
#include "str.h"
#include "common/pending.h"
#include "doveadm-shipmail.h"

#include <time.h>

const char *doveadm_shipmail_plugin_version = DOVECOT_ABI_VERSION;

const char *doveadm_shipmail_time(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm *tm = gmtime(&tt);
	char buf[32];

	if (tm == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", tm) == 0)
		return dec2str(t);
	return t_strdup(buf);
}

const char *doveadm_shipmail_flags(unsigned int flags)
{
	string_t *str = t_str_new(32);

	if ((flags & PENDING_FLAG_OVERSIZE) != 0)
		str_append(str, "oversize");
	if ((flags & PENDING_FLAG_REQUESTED) != 0) {
		if (str_len(str) > 0)
			str_append_c(str, ',');
		str_append(str, "requested");
	}
	return str_c(str);
}

void doveadm_shipmail_plugin_init(struct module *module ATTR_UNUSED)
{
	doveadm_shipmail_register_pending();
	doveadm_shipmail_register_mail_commands();
	doveadm_shipmail_register_requests();
}

void doveadm_shipmail_plugin_deinit(void)
{
}
