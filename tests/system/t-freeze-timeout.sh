#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-timeout.sh: `freeze --fs --timeout 2` and no thaw: larderd
# thaws the filesystem by itself and logs why; writing resumes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd fsfreeze mkfs.xfs

mkfs_mnt xfs 320M; mnt=$MNT
conf_for "$mnt" "freeze defer" "freeze_timeout 600"
start_larderd "$T/larder.conf"
pool_make
ctl put "$VOL" before "$T/pool/1" || fail "put before"
out=$(ctl freeze --fs --timeout 2 2>&1) || fail "freeze: exit $?: $out"
echo "freeze: $out"
fs_is_frozen "$mnt" || fail "not frozen after freeze --fs"
left=$(status_get freeze.time_left)
[ -n "$left" ] && [ "$left" -le 2 ] || fail "time left is '$left', not <= 2"
ctl put "$VOL" during "$T/pool/2"; rc=$?
[ $rc -eq 4 ] || fail "fill while frozen: exit $rc, not 4"
wait_log "thawed: time limit of 2 s reached" 15 || fail "no 'thawed: time limit of 2 s reached' in the log"
fs_takes_writes "$mnt" || fail "still frozen after the time limit"
grep -q "thawed on request" "$DAEMON_LOG" && fail "log says 'thawed on request'"
[ "$(status_get freeze.state)" = running ] || fail "not running after the time limit"
i=0
until ctl put "$VOL" after "$T/pool/3"; do
	i=$((i + 1)); [ $i -lt 20 ] || fail "fills do not work after the time limit"
	sleep 0.2
done
ctl get "$VOL" before | cmp -s - "$T/pool/1" || fail "object before the freeze changed"
ctl get "$VOL" after | cmp -s - "$T/pool/3" || fail "object after the freeze wrong"
out=$(ctl thaw 2>&1) || fail "thaw after time limit: exit $?"
echo "thaw after the limit: $out"
stop_larderd
ok "time limit thaw"
