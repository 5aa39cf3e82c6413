# shellcheck shell=bash
# Demo step: mail sent to the shore's Postfix lands in the shore's
# Dovecot over LMTP.

demo_step shore_delivery "Mail sent on shore lands in the shore's Dovecot" ""

shore_delivery_setup() {
	lab_user shore alice@shore.example
}

shore_delivery_run() {
	local msg=$LAB/demo-shore.eml subject

	printf 'From: carol@example.org\nTo: alice@shore.example\nSubject: Welcome ashore\n\nA first mail, delivered on shore.\n' >"$msg"
	demo_say "carol@example.org -> alice@shore.example, by SMTP to the shore's Postfix"
	lab_smtp_send "$SHORE_SMTP_PORT" carol@example.org alice@shore.example "$msg" ||
		demo_fail "the shore's Postfix refused the mail" || return 1
	lab_wait_mail shore alice@shore.example 1 30 ||
		demo_fail "the mail did not reach alice's INBOX" || return 1
	subject=$(lab_doveadm shore fetch -u alice@shore.example hdr.subject mailbox INBOX)
	demo_say "Postfix: $(grep -o 'to=<alice@shore.example>, relay=[^ ,]*' "$LAB/shore/postfix/maillog" | head -n 1) (LMTP)"
	demo_say "Dovecot: alice@shore.example has $(lab_count_mail shore alice@shore.example) message: ${subject#hdr.subject: }"
}
