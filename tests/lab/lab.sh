# shellcheck shell=bash
# The lab: a shore and a ship on loopback, built from the real Postfix,
# Dovecot and sshd in a fresh temporary directory, joined by the link
# emulator.  Sourced by integration tests, benchmarks and the demo; the
# contract (functions and variables) is tests/lab/README.md.
#
# Everything a lab starts lives in the private mount namespace that
# lab_init re-executes the sourcing script into, and is found again at
# teardown through that namespace: no process, port reservation or mount
# outlives the script.  Several labs run side by side: every port is
# chosen at run time and every daemon has its own directories.  The only
# global change is the system user vmail.
#
# Not done: TLS anywhere (loopback only), IPv6, a second ship's daemons
# (ship2.example users exist on shore only), DNS (all next hops are
# numeric).

# The caller's arguments, kept for the re-exec in lab_init.
LAB_ARGV=("$@")

: "${SHIPMAIL_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SHIPMAIL_BUILDDIR:=$SHIPMAIL_SRCDIR}"
export SHIPMAIL_SRCDIR SHIPMAIL_BUILDDIR

LAB_PORT_DIR=/tmp/shipmail-lab-ports
LAB_MODULE_DIR=/usr/lib/dovecot/modules
# The shipmail Dovecot modules the lab installs.  A sanitizer build's
# modules cannot be loaded by the system's Dovecot (they need libasan):
# its tests take a normal build's (scripts/test-all).
LAB_PLUGIN_DIR=${SHIPMAIL_PLUGIN_DIR:-$SHIPMAIL_BUILDDIR/dovecot-plugin/.libs}
LAB_LINKEMU=${LAB_LINKEMU:-$SHIPMAIL_BUILDDIR/tests/lab/shipmail-linkemu}
LAB_LINKPROBE=${LAB_LINKPROBE:-$SHIPMAIL_BUILDDIR/tests/lab/shipmail-linkprobe}
: "${LAB_LINK_OPTS:=--rate 2400 --delay 700}"

lab_log() {
	echo "lab: $*" >&2
}

lab_die() {
	lab_log "$*"
	return 1
}

# --- ports ------------------------------------------------------------

# A port is taken when something listens on it or another lab reserved
# it; reservations are files named by port, holding the owner's pid, so
# that two labs starting at the same moment do not pick the same port.
lab_port_free() {
	local port=$1 owner

	if [ -e "$LAB_PORT_DIR/$port" ]; then
		owner=$(cat "$LAB_PORT_DIR/$port" 2>/dev/null)
		[ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && return 1
		rm -f "$LAB_PORT_DIR/$port"
	fi
	[ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ]
}

# Prints a free 127.0.0.1 TCP port below the ephemeral range, reserved
# for this lab until it stops.
lab_port() {
	local port tries=0

	mkdir -p "$LAB_PORT_DIR" && chmod 1777 "$LAB_PORT_DIR" 2>/dev/null
	while [ "$tries" -lt 200 ]; do
		tries=$((tries + 1))
		port=$((20000 + RANDOM % 12000))
		lab_port_free "$port" || continue
		if (set -o noclobber; echo "$$" >"$LAB_PORT_DIR/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	lab_die "no free port found"
}

lab_release_ports() {
	local f

	for f in "$LAB_PORT_DIR"/*; do
		[ -f "$f" ] || continue
		[ "$(cat "$f" 2>/dev/null)" = "$$" ] && rm -f "$f"
	done
	return 0
}

# Waits up to SECS seconds until a command succeeds.
lab_wait_for() {
	local secs=$1 end
	shift

	end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -le "$end" ] || return 1
		sleep 0.1
	done
}

# Waits until PORT answers with a greeting that matches REGEX.
lab_wait_banner() {
	local port=$1 regex=$2 secs=${3:-20} end line fd

	end=$((SECONDS + secs))
	while [ "$SECONDS" -le "$end" ]; do
		# The group keeps the redirection of stderr from outliving exec.
		if { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
			line=
			read -r -t 5 -u "$fd" line
			exec {fd}>&-
			[[ $line =~ $regex ]] && return 0
		fi
		sleep 0.1
	done
	lab_die "nothing answering /$regex/ on port $port after ${secs}s"
}

# --- namespace, user, modules ------------------------------------------

lab_mount_ns() {
	readlink /proc/self/ns/mnt
}

# Re-executes the sourcing script in a private mount namespace, unless
# this process already did.  Code before lab_init runs twice.
lab_reexec() {
	if [ "${LAB_NS_PID:-}" = "$$" ]; then
		return 0
	fi
	[ -f "$0" ] || lab_die "lab_init must be called from a script file" || return 1
	export LAB_NS_PID=$$
	# In a chroot "/" is no mount point and cannot be made private: keep
	# the propagation as it is there; lab_modules refuses a shared one.
	if mountpoint -q /; then
		exec unshare -m --propagation private -- "$BASH" "$0" "${LAB_ARGV[@]}"
	fi
	exec unshare -m --propagation unchanged -- "$BASH" "$0" "${LAB_ARGV[@]}"
}

lab_vmail_locked() {
	case $(getent shadow vmail | cut -d: -f2) in
	'!'*) return 0 ;;
	*) return 1 ;;
	esac
}

# The mail user: Dovecot's mail_uid, and the account the ships' key logs
# in to.  sshd (without PAM) refuses a locked password ("!"); "*" allows
# keys and no password.  The forced command runs through the user's
# shell, so it must be a real one.
lab_vmail_user() {
	local shell

	if id vmail >/dev/null 2>&1 && ! lab_vmail_locked &&
		[ "$(getent passwd vmail | cut -d: -f7)" = /bin/sh ]; then
		return 0
	fi

	# A lab starting at the same moment does the same: one at a time.
	(
		flock 9
		id vmail >/dev/null 2>&1 ||
			useradd --system --user-group --shell /bin/sh \
				--home-dir /var/lib/vmail --create-home vmail
		shell=$(getent passwd vmail | cut -d: -f7)
		if [ "$shell" != /bin/sh ]; then
			lab_log "vmail had shell $shell; setting /bin/sh for the forced command"
			usermod -s /bin/sh vmail
		fi
		lab_vmail_locked && usermod -p '*' vmail
		true
	) 9>/tmp/shipmail-lab-user.lock
	id vmail >/dev/null 2>&1 || lab_die "cannot create the user vmail"
}

# Is this module built with ASan or UBSan?  Dovecot's processes could
# not load it (undefined __asan_* or __ubsan_* symbols).
lab_module_sanitized() {
	nm -D --undefined-only "$1" 2>/dev/null | grep -q ' __[a-z]*san_'
}

# Copies Dovecot's modules, adds the shipmail modules that are built, and
# mounts the copy over the system directory inside this namespace only.
lab_modules() {
	local so base dest

	cp -a "$LAB_MODULE_DIR" "$LAB/modules" || return 1
	for so in "$LAB_PLUGIN_DIR"/*.so; do
		[ -f "$so" ] || continue
		base=$(basename "$so")
		case $base in
		lib*_doveadm_*_plugin.so) dest=$LAB/modules/doveadm ;;
		lib*_plugin.so) dest=$LAB/modules ;;
		*) continue ;;
		esac
		if lab_module_sanitized "$so"; then
			lab_die "$so is built with sanitizers, Dovecot cannot load it: set SHIPMAIL_PLUGIN_DIR to a normal build's dovecot-plugin/.libs"
			return 1
		fi
		install -m 0644 "$so" "$dest/$base" || return 1
		lab_log "installed module $base"
	done
	# A shared mount would carry the bind mount out of this namespace.
	if [ "$(findmnt -no PROPAGATION -T "$LAB_MODULE_DIR" 2>/dev/null)" = shared ]; then
		lab_die "$LAB_MODULE_DIR is on a shared mount: the lab's modules would leak out of its namespace"
		return 1
	fi
	mount --bind "$LAB/modules" "$LAB_MODULE_DIR" ||
		lab_die "cannot bind-mount $LAB/modules over $LAB_MODULE_DIR"
}

# A value in single quotes, for sh.
lab_sh_quote() {
	local q="'\\''"
	printf "'%s'" "${1//\'/$q}"
}

# The lines of a helper wrapper that set the sanitizer options the lab
# started with (tests/runner points their log_path at a directory it
# reads after the test), and name them in DOVECOT_PRESERVE_ENVS:
# shipmail-shore re-executes itself through doveconf, which empties
# the environment otherwise.
lab_helper_env() {
	local var val keep=

	for var in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		val=${!var:-}
		[ -n "$val" ] || continue
		echo "$var=$(lab_sh_quote "$val"); export $var"
		keep+=" $var"
	done
	[ -n "$keep" ] || return 0
	keep="${DOVECOT_PRESERVE_ENVS:-}$keep"
	echo "DOVECOT_PRESERVE_ENVS=$(lab_sh_quote "${keep# }")"
	echo "export DOVECOT_PRESERVE_ENVS"
}

# The helpers run from copies in $LAB/bin/real, each through a wrapper
# of its name in $LAB/bin ($LAB_SHIPMAIL_SHORE, $LAB_SHIPMAIL_FETCH,
# $LAB_SHIPMAIL_OUTBOUND).  sshd (the forced command) and Postfix's
# spawn start them as vmail, who may not reach the build tree (a
# checkout under /root is mode 0700), with an environment of their own:
# the wrapper gives them the lab's sanitizer options, and runs them as
# "$LAB/bin/helper-run NAME PROGRAM ARGS..." when a test put such a
# program there (transfer-valgrind.test: valgrind).
lab_helpers() {
	local built name env

	env=$(lab_helper_env)
	mkdir -p "$LAB/bin/real" || return 1
	for built in shore-helper/shipmail-shore ship-fetch/shipmail-fetch \
		ship-fetch/shipmail-outbound shore-helper/shipmail-relay; do
		name=${built#*/}
		[ -x "$SHIPMAIL_BUILDDIR/$built" ] || continue
		install -m 0755 "$SHIPMAIL_BUILDDIR/$built" "$LAB/bin/real/" ||
			return 1
		cat >"$LAB/bin/$name" <<EOF || return 1
#!/bin/sh
# $name in the lab (tests/lab/lab.sh: lab_helpers)
$env
if [ -x $LAB/bin/helper-run ]; then
	exec $LAB/bin/helper-run $name $LAB/bin/real/$name "\$@"
fi
exec $LAB/bin/real/$name "\$@"
EOF
		chmod 0755 "$LAB/bin/$name" || return 1
	done
	LAB_SHIPMAIL_SHORE=$LAB/bin/shipmail-shore
	LAB_SHIPMAIL_FETCH=$LAB/bin/shipmail-fetch
	LAB_SHIPMAIL_OUTBOUND=$LAB/bin/shipmail-outbound
	LAB_SHIPMAIL_RELAY=$LAB/bin/shipmail-relay
	export LAB_SHIPMAIL_SHORE LAB_SHIPMAIL_FETCH LAB_SHIPMAIL_OUTBOUND \
		LAB_SHIPMAIL_RELAY
}

lab_init() {
	[ "$(id -u)" -eq 0 ] || lab_die "the lab needs root" || return 1
	lab_reexec || return 1

	LAB_NS=$(lab_mount_ns)
	LAB=$(mktemp -d /tmp/shipmail-lab.XXXXXX) || return 1
	chmod 0755 "$LAB"
	export LAB
	trap lab_stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# Postfix, Dovecot and sshd work as users of their own, who must
	# reach the lab's files: a directory above it that only root may
	# search (a chroot made by mktemp -d has "/" at 0700) makes them fail
	# in ways that do not say why.
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		test -x "$LAB" 2>/dev/null ||
		lab_die "an unprivileged user cannot reach $LAB: a directory" \
			"above it is not searchable ($(stat -c '%a %n' / /tmp | tr '\n' ' '))" ||
		return 1

	lab_vmail_user || return 1
	lab_guard
	lab_modules || return 1
	lab_helpers || return 1

	local site
	for site in shore ship; do
		mkdir -p "$LAB/$site/dovecot/run" "$LAB/$site/dovecot/state" \
			"$LAB/$site/mail" "$LAB/$site/postfix/etc" || return 1
		: >"$LAB/$site/dovecot/users"
		chown vmail:vmail "$LAB/$site/mail"
	done
	mkdir -p "$LAB/link" "$LAB/shore/sshd" "$LAB/ship/ssh"

	SHORE_SMTP_PORT=$(lab_port) && SHORE_LMTP_PORT=$(lab_port) &&
		SHORE_IMAP_PORT=$(lab_port) && SHORE_SSH_PORT=$(lab_port) &&
		SHIP_SMTP_PORT=$(lab_port) && SHIP_LMTP_PORT=$(lab_port) &&
		SHIP_IMAP_PORT=$(lab_port) && LINK_SSH_PORT=$(lab_port) &&
		LINK_SMTP_PORT=$(lab_port) && SHORE_RELAY_PORT=$(lab_port) ||
		return 1
	SHORE_DOVECOT_CONFIG=$LAB/shore/dovecot/dovecot.conf
	SHIP_DOVECOT_CONFIG=$LAB/ship/dovecot/dovecot.conf
	SHORE_LMTP_SOCKET=$LAB/shore/dovecot/run/lmtp
	SHIP_LMTP_SOCKET=$LAB/ship/dovecot/run/lmtp
	SHORE_POSTFIX_DIR=$LAB/shore/postfix/etc
	SHIP_POSTFIX_DIR=$LAB/ship/postfix/etc
	SHIP_SSH_KEY=$LAB/ship/ssh/id_ed25519
	SHIP_KNOWN_HOSTS=$LAB/ship/ssh/known_hosts
	SHORE_AUTHORIZED_KEYS=$LAB/shore/sshd/authorized_keys
	LINK_SSH_CTL=$LAB/link/SSH.ctl
	LINK_SMTP_CTL=$LAB/link/SMTP.ctl
	export SHORE_SMTP_PORT SHORE_LMTP_PORT SHORE_IMAP_PORT SHORE_SSH_PORT \
		SHIP_SMTP_PORT SHIP_LMTP_PORT SHIP_IMAP_PORT LINK_SSH_PORT \
		LINK_SMTP_PORT SHORE_DOVECOT_CONFIG SHIP_DOVECOT_CONFIG \
		SHORE_LMTP_SOCKET SHIP_LMTP_SOCKET SHORE_POSTFIX_DIR \
		SHIP_POSTFIX_DIR SHIP_SSH_KEY SHIP_KNOWN_HOSTS \
		SHORE_AUTHORIZED_KEYS LINK_SSH_CTL LINK_SMTP_CTL SHORE_RELAY_PORT
}

# A watcher that tears the lab down if this shell dies without running
# its EXIT trap (SIGKILL, e.g. from a test timeout).
lab_guard() {
	(
		trap - EXIT INT TERM
		LAB_GUARD_PID=$BASHPID
		while kill -0 "$$" 2>/dev/null; do
			sleep 1
		done
		[ -d "$LAB" ] || exit 0
		lab_log "the script died without teardown: cleaning up $LAB"
		lab_teardown
	) </dev/null >/dev/null &
	LAB_GUARD_PID=$!
}

# --- users ---------------------------------------------------------------

lab_user() {
	local site=$1 address=$2 password=${3:-secret}

	[ -n "${LAB:-}" ] || lab_die "lab_user before lab_init" || return 1
	case $site in shore | ship) ;; *) lab_die "unknown site: $site"; return 1 ;; esac
	case $address in *@*) ;; *) lab_die "not an address: $address"; return 1 ;; esac
	echo "$address:{PLAIN}$password::::::" >>"$LAB/$site/dovecot/users"
}

# --- Dovecot -------------------------------------------------------------

lab_dovecot_conf() {
	local site=$1 lmtp_port=$2 imap_port=$3 dir=$LAB/$1/dovecot extra=$4

	cat <<EOF
# Dovecot of the lab's $site (generated by tests/lab/lab.sh)
instance_name = shipmail-lab-$site-${LAB##*.}
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/log
info_log_path = $dir/log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_uid = vmail
mail_gid = vmail
first_valid_uid = $(id -u vmail)
first_valid_gid = $(id -g vmail)
mail_location = maildir:$LAB/$site/mail/%d/%n/Maildir
postmaster_address = postmaster@$site.example
lmtp_save_to_detail_mailbox = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/users
  default_fields = uid=vmail gid=vmail home=$LAB/$site/mail/%d/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp_port
  }
  unix_listener lmtp {
    mode = 0666
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
    user = vmail
    group = vmail
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
$extra
EOF
}

lab_start_dovecot() {
	local site=$1 lmtp_port=$2 imap_port=$3 extra=$4 conf=$LAB/$1/dovecot/dovecot.conf

	lab_dovecot_conf "$site" "$lmtp_port" "$imap_port" "$extra" >"$conf" || return 1
	dovecot -c "$conf" >>"$LAB/$site/dovecot/log" 2>&1 </dev/null ||
		lab_die "$site dovecot did not start: $(tail -n 5 "$LAB/$site/dovecot/log")" ||
		return 1
	lab_wait_banner "$imap_port" '^\* OK' || return 1
	lab_wait_banner "$lmtp_port" '^220 ' || return 1
}

lab_doveadm() {
	local site=$1
	shift
	doveadm -c "$LAB/$site/dovecot/dovecot.conf" "$@"
}

# --- Postfix -------------------------------------------------------------

lab_master_cf() {
	local smtp_port=$1 extra=$2

	# No chroot: the queue directories are the lab's, without /etc copies.
	cat <<EOF
127.0.0.1:$smtp_port inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
proxywrite unix - - n -    1 proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
$extra
EOF
}

lab_main_cf() {
	local site=$1 dir=$LAB/$1/postfix domain=shore.example

	[ "$site" = ship ] && domain=ship1.example

	cat <<EOF
# Postfix of the lab's $site (generated by tests/lab/lab.sh)
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $LAB
syslog_name = postfix-$site
myhostname = mx.$domain
mydomain = $domain
myorigin = $domain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtputf8_enable = no
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_recipient_maps =
delay_warning_time = 0
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
smtp_host_lookup = native
lmtp_host_lookup = native
smtp_tls_security_level = none
smtpd_tls_security_level = none
enable_long_queue_ids = yes
EOF
}

lab_start_postfix() {
	local site=$1 smtp_port=$2 routes=$3 main_extra=$4 master_extra=$5
	local etc=$LAB/$1/postfix/etc

	mkdir -p "$LAB/$site/postfix/queue" "$LAB/$site/postfix/data" || return 1
	chown postfix: "$LAB/$site/postfix/data"
	{
		lab_main_cf "$site"
		echo "$routes"
		echo "$main_extra"
	} >"$etc/main.cf"
	lab_master_cf "$smtp_port" "$master_extra" >"$etc/master.cf"

	# Map types that Debian builds as plugins are listed here.
	cp /etc/postfix/dynamicmaps.cf "$etc/" 2>/dev/null
	[ -d /etc/postfix/dynamicmaps.cf.d ] &&
		cp -a /etc/postfix/dynamicmaps.cf.d "$etc/"

	postfix -c "$etc" start >>"$LAB/$site/postfix/start.log" 2>&1 </dev/null ||
		lab_die "$site postfix did not start: $(tail -n 5 "$LAB/$site/postfix/start.log")" ||
		return 1
	lab_wait_banner "$smtp_port" '^220 ' || return 1
}

# Runs a Postfix command (postqueue, postsuper, sendmail, postconf, ...)
# against SITE's instance.
lab_postfix() {
	local site=$1 cmd=$2
	shift 2
	case $cmd in
	postfix | postconf | postsuper | postqueue | postcat | postmap)
		"$cmd" -c "$LAB/$site/postfix/etc" "$@" ;;
	*)
		MAIL_CONFIG=$LAB/$site/postfix/etc "$cmd" "$@" ;;
	esac
}

# Postfix's sendmail, run by vmail (shipmail-shore injecting the ship's
# outbound mail) with the lab's config directory, insists that the
# default main.cf lists that directory: give this lab's mount namespace
# a default that does.
lab_shore_sendmail() {
	local etc=$LAB/etc-postfix
	mkdir -p "$etc" || return 1
	if [ -d /etc/postfix ]; then
		cp -a /etc/postfix/. "$etc/" || return 1
	fi
	echo "alternate_config_directories = $SHORE_POSTFIX_DIR $SHIP_POSTFIX_DIR" \
		>>"$etc/main.cf"
	mkdir -p /etc/postfix && mount --bind "$etc" /etc/postfix
}

# --- sshd ----------------------------------------------------------------

# Writes the authorized_keys line of the ship's key with a forced command.
lab_shore_forced_command() {
	local cmd=$1 pub

	pub=$(cat "$SHIP_SSH_KEY.pub") || return 1
	cmd=${cmd//\\/\\\\}
	cmd=${cmd//\"/\\\"}
	echo "command=\"$cmd\",restrict $pub" >"$SHORE_AUTHORIZED_KEYS.new" &&
		mv "$SHORE_AUTHORIZED_KEYS.new" "$SHORE_AUTHORIZED_KEYS"
}

lab_sshd_config() {
	local dir=$LAB/shore/sshd

	cat <<EOF
# sshd of the lab's shore (generated by tests/lab/lab.sh)
ListenAddress 127.0.0.1:$SHORE_SSH_PORT
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
# Only the methods shipmail-fetch offers, as conf/sshd/sshd_config
# suggests for an sshd of the ships' own: a shorter KEXINIT per session.
KexAlgorithms curve25519-sha256,ecdh-sha2-nistp256
Ciphers aes128-ctr,aes256-ctr
MACs hmac-sha2-256
AuthorizedKeysFile $SHORE_AUTHORIZED_KEYS
AllowUsers vmail
StrictModes no
UsePAM no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowTcpForwarding no
AllowStreamLocalForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
PermitTTY no
PermitUserRC no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
LogLevel VERBOSE
EOF
}

lab_start_sshd() {
	local dir=$LAB/shore/sshd

	ssh-keygen -q -t ed25519 -N '' -C shore-lab -f "$dir/host_ed25519" </dev/null || return 1
	[ -f "$SHIP_SSH_KEY" ] ||
		ssh-keygen -q -t ed25519 -N '' -C ship1 -f "$SHIP_SSH_KEY" </dev/null || return 1
	lab_shore_forced_command "${LAB_SHORE_FORCED_COMMAND:-$LAB_SHIPMAIL_SHORE --ship ship1 -c $LAB/shipmail.conf}" ||
		return 1
	lab_sshd_config >"$dir/sshd_config"

	# sshd needs its privilege separation directory; Debian's unit makes it.
	mkdir -p /run/sshd
	/usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/log" </dev/null >/dev/null 2>&1 ||
		lab_die "sshd did not start: $(tail -n 5 "$dir/log")" || return 1
	lab_wait_banner "$SHORE_SSH_PORT" '^SSH-2\.0' || return 1
	lab_known_hosts "$SHORE_SSH_PORT"
}

# shipmail-relay in front of the shore's sshd, on $SHORE_RELAY_PORT: a
# link through it (LAB_SSH_TARGET) keeps its SSH session across cuts.
lab_start_relay() {
	local dir=$LAB/shore/relay

	mkdir -p "$dir"
	cat >"$dir/relay.conf" <<EOF || return 1
relay_listen = 127.0.0.1:$SHORE_RELAY_PORT
relay_sshd = 127.0.0.1:$SHORE_SSH_PORT
relay_hold = ${LAB_RELAY_HOLD:-10m}
${LAB_RELAY_CONF:-}
EOF
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$LAB_SHIPMAIL_RELAY" -c "$dir/relay.conf" \
		</dev/null >>"$dir/log" 2>&1 &
	echo $! >"$dir/relay.pid"
	lab_wait_for 10 lab_port_listening "$SHORE_RELAY_PORT" ||
		lab_die "shipmail-relay did not start: $(tail -n 5 "$dir/log")"
}

# Whether something listens on a port of 127.0.0.1.
lab_port_listening() {
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# Adds the shore's host key for a port on 127.0.0.1 to the ship's
# known_hosts.
lab_known_hosts() {
	local port=$1 key

	key=$(cut -d' ' -f1,2 "$LAB/shore/sshd/host_ed25519.pub") || return 1
	echo "[127.0.0.1]:$port $key" >>"$SHIP_KNOWN_HOSTS"
}

# --- the link emulator ---------------------------------------------------

# lab_link NAME TARGET_PORT [emulator options]
lab_link() {
	local name=$1 target=$2 port dir=$LAB/link
	shift 2

	[ -x "$LAB_LINKEMU" ] || lab_die "link emulator not built: $LAB_LINKEMU" || return 1
	# The default links use the ports lab_init reserved for them.
	case $name in
	SSH | SMTP) port=$(eval "echo \"\${LINK_${name}_PORT:-}\"") ;;
	*) port= ;;
	esac
	[ -n "$port" ] && [ ! -e "$dir/$name.pid" ] || port=$(lab_port) || return 1
	rm -f "$dir/$name.ctl"
	"$LAB_LINKEMU" --listen "$port" --target "$target" \
		--control "$dir/$name.ctl" --pidfile "$dir/$name.pid" \
		--stats "$dir/$name.stats" --name "$name" "$@" \
		</dev/null >>"$dir/$name.log" 2>&1 &
	lab_wait_for 10 test -S "$dir/$name.ctl" ||
		lab_die "link $name did not start: $(tail -n 5 "$dir/$name.log")" || return 1
	printf -v "LINK_${name}_PORT" '%s' "$port"
	printf -v "LINK_${name}_CTL" '%s' "$dir/$name.ctl"
	export "LINK_${name}_PORT" "LINK_${name}_CTL"
}

# lab_link_ctl NAME COMMAND [ARG...]: talks to a running emulator (stats,
# cut, blackhole on|off, rate UP DOWN, delay MS); prints its answer.
lab_link_ctl() {
	local name=$1
	shift
	"$LAB_LINKEMU" --control "$LAB/link/$name.ctl" --ctl "$@"
}

# lab_link_stat NAME KEY: one value from the emulator's statistics
# (up_bytes, down_bytes, connections, active, cuts, conns_cut, ...).
lab_link_stat() {
	lab_link_ctl "$1" stats | sed -n "s/^$2=//p"
}

# --- sites ---------------------------------------------------------------

lab_start_shore() {
	[ -n "${LAB:-}" ] || lab_die "lab_start_shore before lab_init" || return 1
	if [ ! -e "$LAB/shipmail.conf" ]; then
		printf '%s\n' "${LAB_SHIPMAIL_CONF:-}" >"$LAB/shipmail.conf"
	fi
	lab_start_dovecot shore "$SHORE_LMTP_PORT" "$SHORE_IMAP_PORT" \
		"${LAB_SHORE_DOVECOT_CONF:-}" || return 1
	lab_start_postfix shore "$SHORE_SMTP_PORT" \
		"default_transport = lmtp:inet:127.0.0.1:$SHORE_LMTP_PORT
relay_transport = lmtp:inet:127.0.0.1:$SHORE_LMTP_PORT" \
		"${LAB_SHORE_MAIN_CF:-}" "${LAB_SHORE_MASTER_CF:-}" || return 1
	lab_start_sshd || return 1
	lab_start_relay
}

lab_start_ship() {
	[ -n "${LAB:-}" ] || lab_die "lab_start_ship before lab_init" || return 1
	if [ ! -e "$LAB/shipmail.conf" ]; then
		printf '%s\n' "${LAB_SHIPMAIL_CONF:-}" >"$LAB/shipmail.conf"
	fi
	[ -f "$SHIP_SSH_KEY" ] ||
		ssh-keygen -q -t ed25519 -N '' -C ship1 -f "$SHIP_SSH_KEY" </dev/null || return 1

	# shellcheck disable=SC2086 # LAB_LINK_OPTS is a list of options
	lab_link SSH "${LAB_SSH_TARGET:-$SHORE_SSH_PORT}" $LAB_LINK_OPTS ||
		return 1
	# shellcheck disable=SC2086
	lab_link SMTP "$SHORE_SMTP_PORT" $LAB_LINK_OPTS || return 1
	[ -f "$LAB/shore/sshd/host_ed25519.pub" ] && lab_known_hosts "$LINK_SSH_PORT"

	lab_start_dovecot ship "$SHIP_LMTP_PORT" "$SHIP_IMAP_PORT" \
		"${LAB_SHIP_DOVECOT_CONF:-}" || return 1
	lab_start_postfix ship "$SHIP_SMTP_PORT" \
		"relayhost = [127.0.0.1]:$LINK_SMTP_PORT
transport_maps = inline:{ ship1.example=lmtp:inet:127.0.0.1:$SHIP_LMTP_PORT }" \
		"${LAB_SHIP_MAIN_CF:-}" "${LAB_SHIP_MASTER_CF:-}"
}

# --- mail ----------------------------------------------------------------

lab_smtp_send() {
	local port=$1 from=$2 to=$3 file=$4

	swaks --silent 2 --server 127.0.0.1 --port "$port" \
		--helo lab.example --from "$from" --to "$to" --data "@$file"
}

# Number of messages in USER's INBOX on SITE (0 when it has none yet).
lab_count_mail() {
	local site=$1 user=$2 out

	out=$(lab_doveadm "$site" mailbox status -u "$user" messages INBOX 2>/dev/null)
	if [[ $out =~ messages=([0-9]+) ]]; then
		echo "${BASH_REMATCH[1]}"
	else
		echo 0
	fi
}

lab_wait_mail() {
	local site=$1 user=$2 count=$3 secs=${4:-30} end

	end=$((SECONDS + secs))
	while [ "$(lab_count_mail "$site" "$user")" -lt "$count" ]; do
		[ "$SECONDS" -le "$end" ] ||
			lab_die "$user on $site has $(lab_count_mail "$site" "$user") messages, not $count, after ${secs}s" ||
			return 1
		sleep 0.2
	done
}

# --- teardown ------------------------------------------------------------

# Pids of every process in this lab's mount namespace except this shell.
lab_ns_pids() {
	local link pid

	for link in /proc/[0-9]*/ns/mnt; do
		pid=${link#/proc/}
		pid=${pid%%/*}
		[ "$pid" = "$$" ] && continue
		[ "$pid" = "$BASHPID" ] && continue
		[ "$pid" = "${LAB_GUARD_PID:-}" ] && continue
		[ "$(readlink "$link" 2>/dev/null)" = "$LAB_NS" ] && echo "$pid"
	done
}

lab_stop_daemons() {
	local site name pid

	for name in "$LAB"/link/*.pid; do
		[ -f "$name" ] || continue
		pid=$(cat "$name")
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for site in shore ship; do
		[ -f "$LAB/$site/postfix/etc/main.cf" ] &&
			postfix -c "$LAB/$site/postfix/etc" stop >/dev/null 2>&1
		[ -f "$LAB/$site/dovecot/run/master.pid" ] &&
			doveadm -c "$LAB/$site/dovecot/dovecot.conf" stop >/dev/null 2>&1
	done
	[ -f "$LAB/shore/sshd/sshd.pid" ] &&
		kill -TERM "$(cat "$LAB/shore/sshd/sshd.pid")" 2>/dev/null
	[ -f "$LAB/shore/relay/relay.pid" ] &&
		kill -TERM "$(cat "$LAB/shore/relay/relay.pid")" 2>/dev/null
	return 0
}

# Kills what the polite stops left behind: first TERM, then KILL.
lab_sweep() {
	local pids pid tries=0 cmd

	while :; do
		pids=$(lab_ns_pids)
		[ -n "$pids" ] || return 0
		tries=$((tries + 1))
		[ "$tries" -le 30 ] || break
		[ "$tries" -eq 10 ] && for pid in $pids; do
			cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
			lab_log "straggler pid=$pid: $cmd"
			kill -TERM "$pid" 2>/dev/null
		done
		[ "$tries" -eq 20 ] && for pid in $pids; do
			kill -KILL "$pid" 2>/dev/null
		done
		sleep 0.1
	done
	lab_log "processes left behind: $pids"
	return 1
}

lab_stop() {
	local rc=$?

	trap - EXIT INT TERM
	[ -n "${LAB:-}" ] && [ -d "$LAB" ] || return "$rc"

	# The guard first: the sweep would otherwise race its sleeps.
	if [ -n "${LAB_GUARD_PID:-}" ]; then
		kill "$LAB_GUARD_PID" 2>/dev/null
		wait "$LAB_GUARD_PID" 2>/dev/null
		LAB_GUARD_PID=
	fi
	lab_teardown || rc=1
	LAB=
	return "$rc"
}

lab_teardown() {
	local rc=0

	lab_stop_daemons
	lab_sweep || rc=1
	if mountpoint -q "$LAB_MODULE_DIR" 2>/dev/null; then
		umount "$LAB_MODULE_DIR" 2>/dev/null || umount -l "$LAB_MODULE_DIR"
	fi
	lab_release_ports
	if [ "${LAB_KEEP:-0}" = 1 ]; then
		lab_log "kept $LAB"
	else
		rm -rf "$LAB"
	fi
	return "$rc"
}
