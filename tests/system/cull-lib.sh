# SPDX-License-Identifier: GPL-2.0-or-later
# cull-lib.sh: helpers for the t-cull-* tests, sourced after lib.sh.
#   build_hold: compile cull-hold.c against lib/liblarder.a into $HOLD;
#   status KEY / stat_of KEY: one value of `larderctl status` / `stats`;
#   wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds (fails
#   the test after SECONDS: a hang, not a timing assertion);
#   put_retry VOL KEY FILE: put, retrying while the cache refuses (exit 4).

HOLD=$T/cull-hold

build_hold() {
	need_cmd "${CC:-cc}"
	# the build's sanitizer flags: an ASan/TSan liblarder.a needs them
	san=$(sed -n 's/^SAN = //p' "$LARDER_BUILD/Makefile" 2>/dev/null)
	# shellcheck disable=SC2086
	"${CC:-cc}" -std=gnu11 -O1 $san -I"$LARDER_BUILD/include" -o "$HOLD" \
	    "$(dirname "$0")/cull-hold.c" "$LARDER_BUILD/lib/liblarder.a" \
	    -lpthread || fail "cannot build cull-hold.c"
}

status() { ctl status | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }'; }
stat_of() { ctl stats | awk -v k="$1" '$1 == k { print $2; exit }'; }

wait_for() {
	secs=$1; shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt $((secs * 10)) ] || return 1
		sleep 0.1
	done
}

put_retry() {
	i=0
	while :; do
		ctl put "$1" "$2" "$3" 2>/dev/null && return 0
		rc=$?
		[ $rc -eq 4 ] || fail "put $2: exit $rc"
		i=$((i + 1)); [ $i -lt 300 ] || fail "put $2: refused for 30 s"
		sleep 0.1
	done
}

# cached VOL KEY: 0 if larderctl get finds it, 1 if not cached (exit 3)
cached() {
	ctl get "$1" "$2" > /dev/null 2>&1; rc=$?
	case $rc in
	0) return 0 ;;
	3) return 1 ;;
	*) fail "get $2: exit $rc" ;;
	esac
}

# idle: culling has stopped and the graveyard is empty
idle() {
	case $(status cull.state) in idle*) ;; *) return 1 ;; esac
	[ "$(status cull.graveyard_bytes)" = 0 ]
}
