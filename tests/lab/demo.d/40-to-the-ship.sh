# shellcheck shell=bash
# Demo step: shipmail-fetch on the ship opens one SSH session through the
# emulated link to shipmail-shore, fetches what waits for the ship's users
# (not the held message), delivers it into the ship's Dovecot over LMTP
# and acknowledges it.  Then the held message is asked for on shore, and
# fetched while the link is cut in the middle: the transfer resumes at
# the byte where it stopped.

demo_step to_the_ship \
	"shipmail-fetch brings the mail to the ship; a held message, asked for, survives a cut" \
	"ship-fetch/shipmail-fetch shore-helper/shipmail-shore milter/shipmail-milter"

to_the_ship_setup() {
	LAB_SHIPMAIL_CONF="shore_ship_ship1 = @ship1.example
shore_dovecot_config = $LAB/shore/dovecot/dovecot.conf
shore_log = $LAB/shore/shipmail-shore.log
fetch_host = 127.0.0.1
fetch_port = $LINK_SSH_PORT
fetch_user = vmail
fetch_key = $SHIP_SSH_KEY
fetch_known_hosts = $SHIP_KNOWN_HOSTS
fetch_spool_dir = $LAB/ship/spool
fetch_lmtp = unix:$SHIP_LMTP_SOCKET
fetch_timeout = 30s
fetch_keepalive = 5s
fetch_backoff = 2s
fetch_backoff_max = 4s"
}

to_the_ship_fetch() {
	"$SHIPMAIL_BUILDDIR/ship-fetch/shipmail-fetch" -c "$LAB/shipmail.conf" "$@" \
		>"$LAB/demo-fetch.log" 2>&1
	local rc=$?
	sed 's/^/      | /' "$LAB/demo-fetch.log"
	return "$rc"
}

# Cut the SSH link once the session has carried BYTES downstream.
to_the_ship_cut_after() {
	local bytes=$1 start=$(lab_link_stat SSH down_bytes) i
	for ((i = 0; i < 1200; i++)); do
		if [ $(( $(lab_link_stat SSH down_bytes) - start )) -ge "$bytes" ]; then
			lab_link_ctl SSH cut >/dev/null
			return 0
		fi
		sleep 0.25
	done
}

to_the_ship_run() {
	local handle before cutter

	touch "$LAB/shore/shipmail-shore.log"
	chown vmail "$LAB/shore/shipmail-shore.log"
	demo_say "what the ship would fetch (shipmail-fetch --dry-run):"
	to_the_ship_fetch --dry-run ||
		demo_fail "shipmail-fetch --dry-run failed" || return 1

	before=$(lab_link_stat SSH down_bytes)
	demo_say "shipmail-fetch: one SSH session over the link, pipelined, compressed"
	demo_time to_the_ship_fetch ||
		demo_fail "shipmail-fetch failed (exit $?)" || return 1
	demo_say "done in $demo_secs s, $(( $(lab_link_stat SSH down_bytes) - before )) bytes down the link"
	demo_say "on the ship, alice@ship1.example has $(lab_count_mail ship alice@ship1.example) messages (the small one and the notice)"
	[ "$(lab_count_mail ship alice@ship1.example)" -eq 2 ] ||
		demo_fail "the ship did not get exactly 2 messages" || return 1
	demo_say "still pending on shore:"
	lab_doveadm shore shipmail pending -A 2>&1 | sed 's/^/      /'

	handle=$(lab_doveadm shore -f tab shipmail pending -u alice@ship1.example --oversize 2>/dev/null |
		tail -n +2 | tr '\t' '\n' | grep -xE '[a-z2-7]{20}' | head -n 1)
	[ -n "$handle" ] || demo_fail "no held message to ask for" || return 1
	demo_say "alice asks for it: doveadm shipmail request -u alice@ship1.example $handle"
	lab_doveadm shore shipmail request -u alice@ship1.example "$handle" ||
		demo_fail "the request failed" || return 1

	demo_say "shipmail-fetch again; the link will be cut after 15000 bytes"
	to_the_ship_cut_after 15000 &
	cutter=$!
	before=$(lab_link_stat SSH down_bytes)
	demo_time to_the_ship_fetch
	wait "$cutter"
	demo_say "done in $demo_secs s, $(( $(lab_link_stat SSH down_bytes) - before )) bytes down, link cuts so far: $(lab_link_stat SSH cuts)"
	[ "$(lab_count_mail ship alice@ship1.example)" -eq 3 ] ||
		demo_fail "the held message did not reach the ship" || return 1
	demo_say "on the ship, alice@ship1.example now has 3 messages; nothing waits on shore:"
	lab_doveadm shore shipmail pending -u alice@ship1.example 2>&1 | sed 's/^/      /'
}
