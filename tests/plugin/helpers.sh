# shellcheck shell=bash
# Helpers shared by the plugin's integration tests (tests/plugin-*.test).
# Source after tests/lib.sh and tests/lab/lab.sh.
#
#   pt_start [CONF...]        lab_init (unless PT_LAB_READY is set), users
#                             alice bob carol dave erin
#                             @ship1.example, the shore's Dovecot with the
#                             plugin (extra dovecot.conf text appended)
#   pt_msg FILE SUBJECT [SIZE] [HEADER]  writes a test message
#   pt_lmtp FILE RCPT...      delivers FILE over LMTP to the shore
#   pt_imap USER COMMAND...   IMAP commands as USER (tests/plugin/mail.py)
#   pt_pending [ARGS...]      doveadm -f tab shipmail pending ARGS (-A if none)
#   pt_rows                   rows in the SQLite index
#   pt_uids USER [MAILBOX]    the pending UIDs of USER, sorted, one line
#   pt_field USER MBOX UID F  one column of a pending row
#   pt_is_soon WHAT WANT CMD  t_is, waiting up to 10 s for CMD to print WANT

. "$SHIPMAIL_SRCDIR/tests/plugin/lab-conf.sh"

PT_MAIL=$SHIPMAIL_SRCDIR/tests/plugin/mail.py

pt_start() {
	# A test that needed the lab earlier (for a port) has set PT_LAB_READY.
	[ -n "${PT_LAB_READY:-}" ] || lab_init || exit 1
	local u
	for u in alice bob carol dave erin; do
		lab_user shore "$u@ship1.example" || exit 1
	done
	LAB_SHORE_DOVECOT_CONF="$(shipmail_plugin_conf shore)
$*" || exit 1
	export LAB_SHORE_DOVECOT_CONF
	lab_start_shore || exit 1
}

pt_msg() {
	local file=$1 subject=$2 size=${3:-0} header=${4:-}

	{
		printf 'From: =?UTF-8?Q?J=C3=BCrgen_Sender?= <sender@shore.example>\r\n'
		printf 'To: crew@ship1.example\r\n'
		printf 'Subject: %s\r\n' "$subject"
		printf 'Message-ID: <%s.%s@shore.example>\r\n' "$RANDOM$RANDOM" "$$"
		[ -n "$header" ] && printf '%s\r\n' "$header"
		printf '\r\nHello ship.\r\n'
		if [ "$size" -gt 0 ]; then
			head -c "$size" /dev/zero | tr '\0' 'x' | fold -w 76 |
				sed 's/$/\r/'
		fi
	} >"$file"
}

pt_lmtp() {
	local file=$1 rcpts
	shift
	rcpts=$(IFS=,; echo "$*")
	python3 "$PT_MAIL" lmtp "$SHORE_LMTP_PORT" sender@shore.example \
		"$rcpts" "$file"
}

pt_imap() {
	local user=$1
	shift
	python3 "$PT_MAIL" imap "$SHORE_IMAP_PORT" "$user" secret "$@"
}

pt_pending() {
	[ $# -gt 0 ] || set -- -A
	lab_doveadm shore -f tab shipmail pending "$@"
}

pt_rows() {
	sqlite3 "$(shipmail_plugin_db shore)" 'SELECT count(*) FROM shipmail_pending'
}

# The UIDs pending for USER (in MAILBOX if given), as "1 2 3".
pt_uids() {
	local user=$1 mailbox=${2:-}

	pt_pending -u "$user" | awk -F '\t' -v m="$mailbox" \
		'NR > 1 && (m == "" || $2 == m) { print $4 }' | sort -n |
		tr '\n' ' ' | sed 's/ $//'
}

# pt_is_soon "what" WANT command...: passes when the command prints WANT
# within 10 s (the plugin writes asynchronously), else shows the last.
pt_is_soon() {
	local what=$1 want=$2 got end
	shift 2
	end=$((SECONDS + 10))
	while got=$("$@" 2>&1); [ "$got" != "$want" ] && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.1
	done
	t_is "$what" "$got" "$want"
}

# One field of USER's pending row with UID in MAILBOX (tab output column
# names: mailbox uidvalidity uid size received flags handle from subject).
pt_field() {
	local user=$1 mailbox=$2 uid=$3 field=$4

	pt_pending -u "$user" | awk -F '\t' -v m="$mailbox" -v u="$uid" -v f="$field" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$2 == m && $4 == u { print $col[f] }'
}
