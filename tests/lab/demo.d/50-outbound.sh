# shellcheck shell=bash
# Demo step: a crew member's reply goes ashore in the fetch session, not
# by SMTP.  The ship's Postfix hands it to shipmail-outbound (its spawn
# service, an LMTP server) which keeps it in the outbound spool; the
# next shipmail-fetch uploads it over the same SSH session that brings
# the ship's mail, and shipmail-shore injects it into the shore's
# Postfix, which delivers it.

demo_step outbound \
	"A crew member's reply goes ashore in the fetch session, not by SMTP" \
	"ship-fetch/shipmail-outbound ship-fetch/shipmail-fetch shore-helper/shipmail-shore"

outbound_setup() {
	mkdir -p "$LAB/ship/outbound" "$LAB/shore/outbound"
	chown vmail "$LAB/ship/outbound" "$LAB/shore/outbound"
	# Step to_the_ship wrote the transfer's names; these are the
	# outbound ones, for both sites.
	LAB_SHIPMAIL_CONF="${LAB_SHIPMAIL_CONF:-}
outbound_spool_dir = $LAB/ship/outbound
shore_outbound_dir = $LAB/shore/outbound
shore_sendmail = /usr/sbin/sendmail -C $SHORE_POSTFIX_DIR"
	LAB_SHIP_MASTER_CF="shipmail unix - n n - - spawn
  user=vmail argv=$LAB_SHIPMAIL_OUTBOUND -c $LAB/shipmail.conf"
	export LAB_SHIP_MASTER_CF
	lab_user ship carol@ship1.example
	lab_user shore carol@ship1.example
	lab_user shore agent@shore.example
}

outbound_run() {
	local msg=$LAB/demo-reply.eml before_up smtp_before

	lab_shore_sendmail || demo_fail "the shore's sendmail" || return 1
	demo_say "the ship's Postfix now sends mail for the shore to shipmail-outbound:"
	demo_say "  master.cf: shipmail unix - n n - - spawn user=vmail argv=shipmail-outbound"
	demo_say "  main.cf:   default_transport = lmtp:unix:private/shipmail"
	lab_postfix ship postconf -e "default_transport = lmtp:unix:private/shipmail"
	lab_postfix ship postfix reload >/dev/null 2>&1

	printf 'From: carol@ship1.example\nTo: agent@shore.example\nSubject: Re: bunkers at Ushuaia\n\nConfirmed: 180 t of MGO on arrival, berth 3.\n-- carol, ship1\n' >"$msg"
	smtp_before=$(lab_link_stat SMTP up_bytes)
	lab_smtp_send "$SHIP_SMTP_PORT" carol@ship1.example agent@shore.example "$msg" ||
		demo_fail "the ship's Postfix refused the mail" || return 1
	lab_wait_for 30 outbound_spooled ||
		demo_fail "the reply did not reach the outbound spool" || return 1
	demo_say "carol's reply is in the outbound spool: $(ls "$LAB/ship/outbound/new")"

	before_up=$(lab_link_stat SSH up_bytes)
	demo_say "shipmail-fetch: the same SSH session takes it ashore"
	demo_time to_the_ship_fetch ||
		demo_fail "shipmail-fetch failed (exit $?)" || return 1
	demo_say "done in $demo_secs s, $(( $(lab_link_stat SSH up_bytes) - before_up )) bytes up the link"
	lab_wait_mail shore agent@shore.example 1 60 ||
		demo_fail "the reply did not reach agent@shore.example" || return 1
	demo_say "the shore's Postfix delivered it: agent@shore.example has $(lab_count_mail shore agent@shore.example) message"
	[ "$(lab_link_stat SMTP up_bytes)" = "$smtp_before" ] ||
		demo_fail "the reply went by SMTP" || return 1
	demo_say "nothing crossed the link by SMTP"
}

outbound_spooled() {
	[ -n "$(ls -A "$LAB/ship/outbound/new" 2>/dev/null)" ]
}
