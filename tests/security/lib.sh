# shellcheck shell=bash
# Helpers for the security tests (tests/security-*.test): a program's
# syslog, seen without a syslog daemon.  Source after tests/lab/lab.sh,
# call after lab_init.
#
#   sec_syslog_start      a syslog socket at $LAB/dev/log; each datagram
#                         becomes one line of $SEC_SYSLOG ("<PRI>..."),
#                         for up to 300 s or until sec_syslog_stop
#   sec_with_dev CMD...   runs CMD with $LAB/dev as its /dev (null, zero,
#                         random and urandom bound from the real one), in
#                         a mount namespace of its own: its syslog(3)
#                         reaches the socket above, nothing else changes
#   "$SEC_WITH_DEV" "$LAB/dev" CMD... &
#                         the same as a program, for the background: $!
#                         is then CMD's pid.  The lab's teardown does not
#                         see processes in another mount namespace: the
#                         test must stop it.
#   sec_syslog_stop

SEC_SYSLOG_PID=
SEC_WITH_DEV=$SHIPMAIL_SRCDIR/tests/security/with-dev

sec_syslog_start() {
	local dev=$LAB/dev n
	SEC_SYSLOG=$LAB/syslog.out
	mkdir -p "$dev" || return 1
	for n in null zero random urandom; do
		touch "$dev/$n" || return 1
	done
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(300)
with open(sys.argv[2], "ab", buffering=0) as out:
    try:
        while True:
            out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
    except socket.timeout:
        pass
' "$dev/log" "$SEC_SYSLOG" </dev/null &
	SEC_SYSLOG_PID=$!
	lab_wait_for 10 test -S "$dev/log" || return 1
	chmod 666 "$dev/log"
}

# A program, not a function: started with & it is the command's own
# process, which $! names.
sec_with_dev() {
	"$SEC_WITH_DEV" "$LAB/dev" "$@"
}

sec_syslog_stop() {
	[ -n "$SEC_SYSLOG_PID" ] || return 0
	kill "$SEC_SYSLOG_PID" 2>/dev/null
	wait "$SEC_SYSLOG_PID" 2>/dev/null
	SEC_SYSLOG_PID=
}
