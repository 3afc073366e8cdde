#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-cycles.sh: 100 freeze/thaw cycles (every other one with --fs)
# under load: every cycle answers, nothing acknowledged is lost, larderd
# exits cleanly (CI runs this under ASan too: leaks fail there).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd fsfreeze mkfs.ext4

mkfs_mnt ext4 320M; mnt=$MNT
conf_for "$mnt" "freeze defer"
start_larderd "$T/larder.conf"
phase load
load_start 4
i=0
while [ $i -lt 100 ]; do
	fs=
	[ $((i % 2)) -eq 0 ] && fs=--fs
	out=$(ctl freeze $fs 2>&1) || fail "cycle $i: freeze $fs: exit $?: $out"
	case $out in *ready*) ;; *) fail "cycle $i: freeze: $out" ;; esac
	out=$(ctl thaw 2>&1) || fail "cycle $i: thaw: exit $?: $out"
	i=$((i + 1))
done
phase after
fs_takes_writes "$mnt" || fail "frozen after the cycles"
wait_count putok after 4 60 || fail "no fill after the cycles"
load_stop
load_check
n=$(count putok after); [ "$n" -gt 0 ] || fail "no fill after the cycles"
verify_acked
n=$(grep -c "thawed on request" "$DAEMON_LOG")
[ "$n" -ge 50 ] || fail "only $n thaws of the filesystem logged"
stop_larderd
if grep -q "ERROR: AddressSanitizer\|LeakSanitizer" "$DAEMON_LOG"; then
	fail "sanitizer report in the log"
fi
ok "100 freeze/thaw cycles"
