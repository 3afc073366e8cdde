#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-prio.sh: larderd's threads run at the nice larder.conf says (prio.h):
# those on a client's path (main, io, meta, copy, freeze, claim, close) at
# `nice' (default -10), the background ones (cull, scan, reaper, names,
# metrics writer) at the nice larderd was started with, or at `nice' if
# that is higher. Read from /proc per thread (Linux keeps nice per
# thread), and from `larderctl status'. Without CAP_SYS_NICE the nice is
# not applied, the log says what to do, and larderd serves as before. A
# reload that changes nice says it needs a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd mkfs.ext4 setpriv nice

mkfs_mnt ext4 64M; mnt=$MNT

# thread_nices: "comm nice" per thread of the daemon; the main thread
# (tid = pid) is called main
thread_nices() {
	for t in /proc/"$DAEMON_PID"/task/*; do
		tid=${t##*/}
		st=$(cat "$t/stat" 2>/dev/null) || continue
		# fields after the last ')': state is 3, nice is 19
		n=$(printf '%s\n' "${st##*) }" | awk '{ print $17 }')
		c=$(cat "$t/comm" 2>/dev/null) || continue
		[ "$tid" = "$DAEMON_PID" ] && c=main
		echo "$c $n"
	done
}

# check_nices SERVING BACKGROUND: every known thread at the right nice;
# main, io, meta, cull and reap must be there
check_nices() {
	thread_nices > "$T/nices"
	cat "$T/nices"
	for need in main larder-io larder-meta larder-cull larder-reap; do
		grep -q "^$need " "$T/nices" || fail "no thread $need"
	done
	while read -r c n; do
		case $c in
		main|larder-io|larder-meta|larder-copy|larder-freeze|\
		larder-claim|larder-close)
			[ "$n" = "$1" ] || fail "$c at nice $n, not $1" ;;
		larder-cull|larder-scan|larder-reap|larder-names|larder-metrics)
			[ "$n" = "$2" ] || fail "$c at nice $n, not $2" ;;
		esac
	done < "$T/nices"
	[ "$(status_get nice.serving)" = "$1" ] ||
	    fail "status nice.serving: $(status_get nice.serving), not $1"
	[ "$(status_get nice.background)" = "$2" ] ||
	    fail "status nice.background: $(status_get nice.background), not $2"
}

# a wrapper that starts larderd the way $1 says (exec keeps the pid)
real_larderd=$LARDERD
wrap() {
	printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$1" "$real_larderd" > "$T/wrap"
	chmod 755 "$T/wrap"
}

# 1. defaults, started at nice 0; a listing makes the names thread
conf_for "$mnt" "metrics_file $T/metrics.prom"
start_larderd "$T/larder.conf"
echo hello > "$T/blob"
ctl put "$VOL" k1 "$T/blob" >/dev/null || fail "put"
ctl ls "$VOL" >/dev/null || fail "ls"
check_nices -10 0
[ "$(status_get conf.nice)" = -10 ] || fail "conf.nice: $(status_get conf.nice)"
# a reload that changes nice keeps it and says so
conf_for "$mnt" "metrics_file $T/metrics.prom" "nice 0"
ctl reload >/dev/null || fail "reload"
wait_log "nice changed: needs a restart; keeping -10" || fail "no restart note"
check_nices -10 0
stop_larderd
ok "defaults: serving -10, background 0"

# 2. started at nice 3: background stays at 3; nice 5 puts everyone at 5
wrap "nice -n 3"; LARDERD=$T/wrap
conf_for "$mnt"
start_larderd "$T/larder.conf"
check_nices -10 3
[ "$(status_get nice.started)" = 3 ] || fail "nice.started: $(status_get nice.started)"
stop_larderd
conf_for "$mnt" "nice 5"
start_larderd "$T/larder.conf"
check_nices 5 5
stop_larderd
ok "started at nice 3: background 3; nice 5: all 5"

# 3. without CAP_SYS_NICE: not applied, said, and larderd serves
wrap "setpriv --bounding-set -sys_nice --inh-caps -sys_nice"
conf_for "$mnt"
: > "$DAEMON_LOG"
start_larderd "$T/larder.conf"
wait_log "nice -10 not applied" || fail "no log line about the nice"
grep "nice -10 not applied" "$DAEMON_LOG"
check_nices 0 0
ctl put "$VOL" k2 "$T/blob" >/dev/null || fail "put without CAP_SYS_NICE"
[ "$(ctl get "$VOL" k2)" = hello ] || fail "get without CAP_SYS_NICE"
stop_larderd
LARDERD=$real_larderd
ok "without CAP_SYS_NICE: runs at 0, says how to fix it, serves"
