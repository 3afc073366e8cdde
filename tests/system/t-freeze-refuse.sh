#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-refuse.sh: `freeze refuse`: `larderctl freeze --fs` exits 4 with
# the reason, the filesystem is not frozen, fills and reads go on, thaw
# after the refusal is harmless, nothing is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd fsfreeze mkfs.ext4

mkfs_mnt ext4 320M; mnt=$MNT
conf_for "$mnt" "freeze refuse"
start_larderd "$T/larder.conf"
phase before
load_start 3
wait_count putok before 2 60 || fail "no fill completed before the freeze"
out=$(ctl freeze --fs 2>&1)
rc=$?
echo "freeze --fs: exit $rc: $out"
[ $rc -eq 4 ] || fail "freeze under refuse: exit $rc, not 4"
case $out in *refuse*) ;; *) fail "no reason given: $out" ;; esac
phase refused
fs_takes_writes "$mnt" || fail "filesystem frozen although larder refused"
[ "$(status_get freeze.state)" = running ] || fail "state changed after a refused freeze"
wait_count putok refused 4 60 || fail "no fill worked after the refused freeze"
out=$(ctl thaw 2>&1) || fail "thaw after a refused freeze: exit $?: $out"
case $out in *refused*) ;; *) fail "thaw after refusal did not say so: $out" ;; esac
load_stop
load_check
n=$(count putok refused); [ "$n" -gt 0 ] || fail "no fill worked after the refused freeze"
verify_acked
stop_larderd
ok "freeze refuse"
