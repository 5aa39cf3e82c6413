# shellcheck shell=bash
# Demo step: a ship user's mail crosses the emulated link to a shore
# mailbox, through the ship's Postfix relaying to the shore's.

demo_step ship_to_shore "A ship user's mail crosses the link to a shore mailbox" ""

ship_to_shore_setup() {
	lab_user ship bob@ship1.example
	lab_user shore bob@ship1.example
	lab_user shore harbour@shore.example
}

ship_to_shore_run() {
	local msg=$LAB/demo-ship.eml before_up before_down

	printf 'From: bob@ship1.example\nTo: harbour@shore.example\nSubject: ETA Thursday 06:00\n\nArriving Thursday at 06:00 local time. Pilot requested.\n-- bob, ship1\n' >"$msg"
	before_up=$(lab_link_stat SMTP up_bytes)
	before_down=$(lab_link_stat SMTP down_bytes)
	demo_say "bob@ship1.example -> harbour@shore.example, by SMTP to the ship's Postfix ($(stat -c %s "$msg") bytes)"
	lab_smtp_send "$SHIP_SMTP_PORT" bob@ship1.example harbour@shore.example "$msg" ||
		demo_fail "the ship's Postfix refused the mail" || return 1
	demo_say "the ship's Postfix relays it over the link to the shore's Postfix ..."
	demo_time lab_wait_mail shore harbour@shore.example 1 180 ||
		demo_fail "the mail did not reach the shore in 180 s" || return 1
	demo_say "arrived on shore after $demo_secs s"
	demo_say "link SMTP: up $(( $(lab_link_stat SMTP up_bytes) - before_up )) bytes, down $(( $(lab_link_stat SMTP down_bytes) - before_down )) bytes"
	demo_say "Dovecot on shore: harbour@shore.example has $(lab_count_mail shore harbour@shore.example) message"
}
