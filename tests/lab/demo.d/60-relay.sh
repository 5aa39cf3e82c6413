# shellcheck shell=bash
# Demo step: through shipmail-relay, in front of the shore's sshd, a cut
# of the link is a pause and not a new SSH session.  shipmail-fetch
# (fetch_relay = yes) connects to the relay; after each cut it connects
# again, names its stream, and both sides resend only what the other
# lacks: the same SSH session carries the message to the end.

demo_step relay \
	"Through shipmail-relay a cut is a pause: one SSH session across cuts" \
	"shore-helper/shipmail-relay ship-fetch/shipmail-fetch shore-helper/shipmail-shore"

relay_sessions() {
	grep -c 'Accepted publickey' "$LAB/shore/sshd/log"
}

# Cut the RELAY link each time it has carried another BYTES downstream,
# TIMES times.
relay_cut_every() {
	local bytes=$1 times=$2 start i
	start=$(lab_link_stat RELAY down_bytes)
	for ((i = 0; i < 2400 && times > 0; i++)); do
		if [ $(( $(lab_link_stat RELAY down_bytes) - start )) -ge "$bytes" ]; then
			lab_link_ctl RELAY cut >/dev/null
			start=$(lab_link_stat RELAY down_bytes)
			times=$((times - 1))
		fi
		sleep 0.25
	done
}

relay_run() {
	local before cutter msg=$LAB/relay-demo.eml

	# shellcheck disable=SC2086 # LAB_LINK_OPTS is a list of options
	lab_link RELAY "$SHORE_RELAY_PORT" $LAB_LINK_OPTS ||
		demo_fail "no link to the relay" || return 1
	lab_known_hosts "$LINK_RELAY_PORT"
	sed -e "s/^fetch_port = .*/fetch_port = $LINK_RELAY_PORT/" \
		"$LAB/shipmail.conf" >"$LAB/relay.conf"
	echo "fetch_relay = yes" >>"$LAB/relay.conf"

	python3 "$SHIPMAIL_SRCDIR/tests/transfer/mail.py" make 4242 14000 \
		alice@ship1.example >"$msg" &&
		python3 "$SHIPMAIL_SRCDIR/tests/transfer/mail.py" lmtp \
			"$SHORE_LMTP_SOCKET" "$msg" alice@ship1.example ||
		demo_fail "could not deliver a message on shore" || return 1
	demo_say "a 14 KB message for alice@ship1.example waits on shore"
	demo_say "shipmail-fetch through shipmail-relay; the link is cut after every 2000 bytes, twice"
	before=$(relay_sessions)
	relay_cut_every 2000 2 &
	cutter=$!
	demo_time "$SHIPMAIL_BUILDDIR/ship-fetch/shipmail-fetch" \
		-c "$LAB/relay.conf" >"$LAB/demo-relay.log" 2>&1
	local rc=$?
	kill "$cutter" 2>/dev/null
	wait "$cutter" 2>/dev/null
	sed 's/^/      | /' "$LAB/demo-relay.log"
	[ "$rc" -eq 0 ] || demo_fail "shipmail-fetch failed (exit $rc)" || return 1
	demo_say "done in $demo_secs s; link cuts: $(lab_link_stat RELAY cuts); SSH sessions: $(( $(relay_sessions) - before ))"
	grep -q 'relay: resumed' "$LAB/demo-relay.log" ||
		demo_fail "no cut was resumed" || return 1
	[ "$(( $(relay_sessions) - before ))" -eq 1 ] ||
		demo_fail "the cuts started new SSH sessions" || return 1
	demo_say "the relay's log:"
	sed 's/^/      /' "$LAB/shore/relay/log" | tail -n 6
	[ "$(lab_count_mail ship alice@ship1.example)" -eq 4 ] ||
		demo_fail "alice@ship1.example does not have 4 messages on the ship" || return 1
	demo_say "on the ship, alice@ship1.example now has 4 messages"
}
