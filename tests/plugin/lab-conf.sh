# shellcheck shell=bash
# Dovecot configuration that turns the shipmail plugin and its pending
# index on in a lab site.  Source it after tests/lab/lab.sh, call it
# after lab_init and before the site starts:
#
#   . "$SHIPMAIL_SRCDIR/tests/plugin/lab-conf.sh"
#   lab_init
#   LAB_SHORE_DOVECOT_CONF=$(shipmail_plugin_conf shore) || exit 1
#   lab_start_shore
#
# shipmail_plugin_conf SITE
#   prints the dovecot.conf text (mail_plugins, plugin {}, dict {},
#   service dict) and creates the site's SQLite database with the schema
#   of conf/dovecot/.  The index is then the dict "proxy::shipmail";
#   doveadm and any lib-storage program using the site's dovecot.conf
#   reach it through the dict service's socket in the site's base_dir.
# shipmail_plugin_db SITE
#   prints the path of that SQLite database (for tests that inspect it
#   or damage it on purpose).
#
# Optional variables, read when shipmail_plugin_conf runs:
#   SHIPMAIL_PLUGIN_MAX_SIZE   shipmail_max_size (default 1M)
#   SHIPMAIL_PLUGIN_MAILBOXES  shipmail_mailboxes (default INBOX)
#   SHIPMAIL_PLUGIN_DICT       shipmail_dict instead of the SQLite one,
#                              e.g. file:$LAB/shore/pending.dict
#   SHIPMAIL_PLUGIN_EXTRA      more lines for the plugin {} section

shipmail_plugin_db() {
	echo "$LAB/$1/shipmail/pending.db"
}

# Makes the SQLite database and the dict map that points at it; both
# belong to vmail, the user the dict service runs as in the lab.
shipmail_plugin_sqlite() {
	local site=$1 dir=$LAB/$1/shipmail
	local db map=$dir/dict-sql.conf.ext

	db=$(shipmail_plugin_db "$site")
	mkdir -p "$dir" || return 1
	if [ ! -f "$db" ]; then
		sqlite3 "$db" <"$SHIPMAIL_SRCDIR/conf/dovecot/shipmail-schema.sql" ||
			return 1
		# One fsync per commit instead of several (kept in the file).
		sqlite3 "$db" 'PRAGMA journal_mode=WAL;' >/dev/null || return 1
	fi
	sed "s|^connect = .*|connect = $db|" \
		"$SHIPMAIL_SRCDIR/conf/dovecot/shipmail-dict-sql.conf.ext" >"$map" ||
		return 1
	chown -R vmail:vmail "$dir"
}

shipmail_plugin_conf() {
	local site=$1 dict=${SHIPMAIL_PLUGIN_DICT:-proxy::shipmail}

	[ -n "${LAB:-}" ] || { echo "shipmail_plugin_conf: run lab_init first" >&2; return 1; }
	case $site in shore | ship) ;; *) echo "shipmail_plugin_conf: unknown site: $site" >&2; return 1 ;; esac
	shipmail_plugin_sqlite "$site" || {
		echo "shipmail_plugin_conf: cannot create the SQLite index" >&2
		return 1
	}

	cat <<EOF
# shipmail pending index (tests/plugin/lab-conf.sh)
mail_plugins = \$mail_plugins notify shipmail
plugin {
  shipmail_dict = $dict
  shipmail_mailboxes = ${SHIPMAIL_PLUGIN_MAILBOXES:-INBOX}
  shipmail_max_size = ${SHIPMAIL_PLUGIN_MAX_SIZE:-1M}
  shipmail_keyword = "\$Shipped"
${SHIPMAIL_PLUGIN_EXTRA:-}
}
dict {
  shipmail = sqlite:$LAB/$site/shipmail/dict-sql.conf.ext
}
service dict {
  user = vmail
  unix_listener dict {
    mode = 0660
    user = vmail
    group = vmail
  }
}
EOF
}
