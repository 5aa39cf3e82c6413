# shellcheck shell=bash
# Demo step: mail for a ship user arrives on shore.  The shore's Postfix
# runs shipmail-milter, the shore's Dovecot the shipmail plugin: a small
# message is indexed as pending; a message over the ship's limit is kept
# on shore with a handle, and the recipient gets a short notice instead.
# doveadm shipmail pending -A then lists everything that waits.

demo_step held_on_shore \
	"Mail for the ship waits on shore; an oversize one is held with a notice" \
	"milter/shipmail-milter dovecot-plugin/.libs/lib20_shipmail_plugin.so"

. "$SHIPMAIL_SRCDIR/tests/plugin/lab-conf.sh"

held_on_shore_setup() {
	local port

	lab_user shore alice@ship1.example
	lab_user ship alice@ship1.example
	# The plugin marks as oversize what is over the milter's limit.
	LAB_SHORE_DOVECOT_CONF=$(SHIPMAIL_PLUGIN_MAX_SIZE=20k shipmail_plugin_conf shore) ||
		return 1

	port=$(lab_port) || return 1
	cat >"$LAB/milter-shore.conf" <<CONF
milter_role = shore
milter_socket = inet:$port@127.0.0.1
ship_domains = ship1.example
milter_inbound_limit = 20k
milter_notice_command = /usr/sbin/sendmail -C $SHORE_POSTFIX_DIR -i -f <> --
milter_notice_from = Ship mail <postmaster@shore.example>
CONF
	"$SHIPMAIL_BUILDDIR/milter/shipmail-milter" -f -c "$LAB/milter-shore.conf" \
		>>"$LAB/milter-shore.log" 2>&1 </dev/null &
	LAB_SHORE_MAIN_CF="smtpd_milters = inet:127.0.0.1:$port
non_smtpd_milters = inet:127.0.0.1:$port
milter_default_action = tempfail"
}

# A message of about SIZE bytes of text, with a subject.
held_on_shore_message() {
	local subject=$1 size=$2
	printf 'From: Polar Institute <ops@institute.example>\nTo: alice@ship1.example\nSubject: %s\nDate: %s\nMessage-ID: <%s.%s@institute.example>\n\n' \
		"$subject" "$(date -R)" "$RANDOM" "$$"
	base64 -w 76 </dev/urandom | head -c "$size"
	echo
}

held_on_shore_run() {
	local small=$LAB/demo-small.eml big=$LAB/demo-big.eml

	held_on_shore_message "Weather routing for Thursday" 3000 >"$small"
	held_on_shore_message "Survey data, full resolution" 24000 >"$big"
	demo_say "shore Postfix with shipmail-milter: limit for ship1.example is 20k"
	lab_smtp_send "$SHORE_SMTP_PORT" ops@institute.example alice@ship1.example "$small" ||
		demo_fail "the shore refused the small mail" || return 1
	lab_smtp_send "$SHORE_SMTP_PORT" ops@institute.example alice@ship1.example "$big" ||
		demo_fail "the shore refused the large mail" || return 1
	demo_say "sent $(stat -c %s "$small") and $(stat -c %s "$big") bytes to alice@ship1.example"

	# Two messages and one notice.
	lab_wait_mail shore alice@ship1.example 3 120 ||
		demo_fail "alice's shore mailbox did not get 2 messages and a notice" || return 1
	demo_say "the large one stays on shore with $(lab_doveadm shore fetch -u alice@ship1.example \
		hdr.x-shipmail-handle mailbox INBOX header X-Shipmail-Handle "" 2>/dev/null |
		sed -n 's/^hdr.x-shipmail-handle: */X-Shipmail-Handle: /p' | head -n 1)"
	demo_say "alice's notice, as she will read it on the ship:"
	lab_doveadm shore fetch -u alice@ship1.example body mailbox INBOX \
		header X-Shipmail-Notice "" 2>/dev/null | sed -n '2,14p' | sed 's/^/      | /'
	demo_say "doveadm shipmail pending -A (one look at the index, all users):"
	lab_doveadm shore shipmail pending -A 2>&1 | sed 's/^/      /'
	[ "$(lab_doveadm shore -f tab shipmail pending -A --oversize 2>/dev/null |
		tail -n +2 | grep -c .)" -eq 1 ] ||
		demo_fail "the index does not show the oversize message" || return 1
}
