# Helpers for the benchmarks that compare shipmail with a rival over the
# lab's link (bench/transfer, bench/outbound).  Sourced, not run.

# calc EXPR [PLACES]: EXPR evaluated by awk, printed to PLACES (2).
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

# ok COND: "ok" when the awk condition holds, else "short".
ok() { awk "BEGIN { exit !($1) }" && echo ok || echo short; }

# floor NAME EXPR OP TARGET [PLACES [UNIT [AND]]]: one floor line, the
# value printed to PLACES (3) but judged as measured, not as rounded;
# AND, when given, must hold too.
floor() {
	echo "floor $1: $(calc "$2" "${5:-3}")${6:-} (needs $3 $4${6:-})" \
		"$(ok "($2) $3 $4${7:+ && $7}")"
}
