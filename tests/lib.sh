# Helpers for integration tests written in bash; source it first.
#
#   t_ok "what is checked" command args...   passes when the command does
#   t_not "what is checked" command args...  passes when the command fails
#   t_is "what is checked" GOT WANT          passes when GOT equals WANT
#   t_like "what is checked" GOT REGEX       passes when GOT matches REGEX
#   t_skip "what" "why"                      counted as skipped
#   t_diag "text"                            a comment line in the log
#   t_done                                   prints the plan; exit status
#
# Output is TAP, counted by tests/runner.  A failing check prints what it
# got, so that the log explains the failure without rerunning the test.

: "${SHIPMAIL_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${SHIPMAIL_BUILDDIR:=$SHIPMAIL_SRCDIR}"
export SHIPMAIL_SRCDIR SHIPMAIL_BUILDDIR

t_count=0
t_failed=0

t_result() {
	t_count=$((t_count + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $t_count - $2"
	else
		t_failed=$((t_failed + 1))
		echo "not ok $t_count - $2"
	fi
}

t_ok() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	t_result "$rc" "$what"
	[ "$rc" -eq 0 ] || { echo "# command: $*"; echo "$out" | sed 's/^/#   /' | tail -n 20; }
	return "$rc"
}

t_not() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		t_result 0 "$what"
		return 0
	fi
	t_result 1 "$what"
	echo "# command unexpectedly succeeded: $*"
	echo "$out" | sed 's/^/#   /' | tail -n 20
	return 1
}

t_is() {
	if [ "$2" = "$3" ]; then
		t_result 0 "$1"
		return 0
	fi
	t_result 1 "$1"
	echo "# got:  $(printf '%s' "$2" | head -c 2000)"
	echo "# want: $(printf '%s' "$3" | head -c 2000)"
	return 1
}

t_like() {
	if [[ $2 =~ $3 ]]; then
		t_result 0 "$1"
		return 0
	fi
	t_result 1 "$1"
	echo "# got:  $(printf '%s' "$2" | head -c 2000)"
	echo "# want a match of: $3"
	return 1
}

t_skip() {
	t_count=$((t_count + 1))
	echo "ok $t_count - $1 # SKIP $2"
}

t_diag() {
	echo "# $*"
}

t_done() {
	echo "1..$t_count"
	[ "$t_failed" -eq 0 ]
}

# Wait until a command succeeds, up to a number of seconds (decimals ok).
t_wait_for() {
	local secs=$1 end
	shift
	end=$(( $(date +%s%N) + ${secs%.*} * 1000000000 ))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
