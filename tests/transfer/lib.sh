# shellcheck shell=bash
# Helpers for the transfer tests (tests/transfer-*.test).  Source after
# tests/lib.sh and tests/lab/lab.sh.
#
#   xt_start USER...      lab_init; USER on shore and ship (ship1 or ship2
#                         addresses); the shore's Dovecot with the shipmail
#                         plugin (the ship's too when XT_SHIP_PLUGIN is
#                         set: its plugin {} lines); shipmail.conf for
#                         both sides; both sites up, the link emulator at
#                         $XT_LINK_OPTS (default: fast, so that tests are
#                         quick); XT_RELAY=yes: through shipmail-relay
#   xt_mail USER N [SIZE] delivers N generated messages to USER on shore
#   xt_fetch [ARGS...]    runs shipmail-fetch with the lab's shipmail.conf;
#                         output in $LAB/fetch.out, exit code returned
#   xt_compare            every shore message is on the ship once, byte for
#                         byte (tests/transfer/mail.py compare)
#   xt_pending            the number of pending index entries on shore
#   xt_count SITE USER    messages in USER's INBOX on SITE

. "$SHIPMAIL_SRCDIR/tests/plugin/lab-conf.sh"

XT_FETCH=$SHIPMAIL_BUILDDIR/ship-fetch/shipmail-fetch
XT_MAIL=$SHIPMAIL_SRCDIR/tests/transfer/mail.py
XT_SEQ=0

xt_conf() {
	cat <<EOF2
# shore
shore_ship_ship1 = @ship1.example
shore_ship_ship2 = @ship2.example
shore_dovecot_config = $LAB/shore/dovecot/dovecot.conf
shore_log = $LAB/shore/shipmail-shore.log
shore_compress_level = ${XT_LEVEL:-19}
shore_outbound_dir = $LAB/shore/outbound
shore_sendmail = /usr/sbin/sendmail -C $LAB/shore/postfix/etc
# ship
outbound_spool_dir = $LAB/ship/outbound
fetch_doveadm = /usr/bin/doveadm -c $LAB/ship/dovecot/dovecot.conf
fetch_sendmail = /usr/sbin/sendmail -C $LAB/ship/postfix/etc
fetch_host = 127.0.0.1
fetch_port = $LINK_SSH_PORT
fetch_user = vmail
fetch_key = $SHIP_SSH_KEY
fetch_known_hosts = $SHIP_KNOWN_HOSTS
fetch_spool_dir = $LAB/ship/spool
fetch_lmtp = unix:$SHIP_LMTP_SOCKET
fetch_timeout = ${XT_TIMEOUT:-10s}
fetch_connect_timeout = ${XT_TIMEOUT:-10s}
fetch_keepalive = 2s
fetch_backoff = 1s
fetch_backoff_max = 2s
fetch_retries = ${XT_RETRIES:-10}
fetch_relay = ${XT_RELAY:-no}
${XT_CONF_EXTRA:-}
EOF2
}

xt_start() {
	local u
	# A test may have called lab_init itself, to prepare the lab.
	[ -n "${LAB:-}" ] || lab_init || exit 1
	for u in "$@"; do
		lab_user shore "$u" || exit 1
		lab_user ship "$u" || exit 1
	done
	LAB_SHORE_DOVECOT_CONF=$(shipmail_plugin_conf shore) || exit 1
	# The plugin on the ship too: the crew's requests for held mail.
	if [ -n "${XT_SHIP_PLUGIN:-}" ]; then
		LAB_SHIP_DOVECOT_CONF=$(SHIPMAIL_PLUGIN_EXTRA=$XT_SHIP_PLUGIN \
			shipmail_plugin_conf ship) || exit 1
		export LAB_SHIP_DOVECOT_CONF
	fi
	LAB_SHIPMAIL_CONF=$(xt_conf)
	LAB_LINK_OPTS=${XT_LINK_OPTS:---rate 0 --delay 5}
	export LAB_SHORE_DOVECOT_CONF LAB_SHIPMAIL_CONF LAB_LINK_OPTS
	# Through shipmail-relay: the SSH session outlives cuts.
	[ "${XT_RELAY:-no}" = yes ] && export LAB_SSH_TARGET=$SHORE_RELAY_PORT
	lab_start_shore || exit 1
	touch "$LAB/shore/shipmail-shore.log"
	chown vmail "$LAB/shore/shipmail-shore.log"
	mkdir -p "$LAB/shore/outbound"
	chown vmail "$LAB/shore/outbound"
	lab_shore_sendmail || exit 1
	lab_start_ship || exit 1
}

xt_mail() {
	local user=$1 n=$2 size=${3:-}
	local i file=$LAB/xt-msg
	for ((i = 0; i < n; i++)); do
		XT_SEQ=$((XT_SEQ + 1))
		python3 "$XT_MAIL" make "$XT_SEQ" \
			"${size:-$((2000 + (XT_SEQ * 7919) % 30000))}" \
			"$user" >"$file" || return 1
		python3 "$XT_MAIL" lmtp "$SHORE_LMTP_SOCKET" "$file" "$user" ||
			return 1
	done
}

xt_fetch() {
	"$XT_FETCH" -c "$LAB/shipmail.conf" "$@" >"$LAB/fetch.out" 2>&1
	local rc=$?
	cat "$LAB/fetch.out" >>"$LAB/fetch.log"
	return $rc
}

xt_compare() {
	python3 "$XT_MAIL" compare "$LAB/shore/mail" "$LAB/ship/mail"
}

xt_pending() {
	sqlite3 "$(shipmail_plugin_db shore)" \
		'select count(*) from shipmail_pending'
}

xt_count() {
	lab_doveadm "$1" -f flow mailbox status -u "$2" messages INBOX |
		sed 's/.*messages=//'
}

# xt_shore SHIP: runs shipmail-shore as sshd would (as vmail, the forced
# command's arguments), stdin and stdout passed through.
xt_shore() {
	setpriv --reuid=vmail --regid=vmail --init-groups \
		"$LAB_SHIPMAIL_SHORE" --ship "$1" \
		-c "$LAB/shipmail.conf"
}

# xt_ref USER UID: "<user> <guid> <uidvalidity> <uid>" of a pending
# message, as the protocol writes it (user names here need no escaping).
xt_ref() {
	sqlite3 "$(shipmail_plugin_db shore)" \
		"select username || ' ' || mailbox_guid || ' ' ||
		 substr(entry, 3, instr(substr(entry, 3), char(9)) - 1) ||
		 ' ' || uid from shipmail_pending
		 where username = '$1' and uid = $2"
}
