#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-unannounced.sh: someone runs `fsfreeze -f` under load without
# asking larder. No client call blocks more than a second, reads succeed,
# fills answer ENOBUFS (larderctl put exits 4), the stall is logged and
# shown; after `fsfreeze -u` everything resumes without a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd fsfreeze mkfs.ext4 mkfs.xfs

for fstype in ext4 xfs; do
	mkfs_mnt $fstype 320M; mnt=$MNT
	conf_for "$mnt" "freeze defer"
	rm -f "$T"/acked.* "$T"/putok.* "$T"/getok.* "$T"/refused.* "$T"/slow.* "$T"/bad.*
	DAEMON_LOG=$T/larderd-$fstype.log
	start_larderd "$T/larder.conf"
	pid=$DAEMON_PID
	phase before
	load_start 4
	sleep 2
	fsfreeze -f "$mnt" || fail "fsfreeze -f"
	phase frozen
	wait_log "writes stalled" 10 || fail "$fstype: stall not logged"
	# the state is "stalled" while a write is stuck; between one stuck
	# write completing and the next sticking it may read "running"
	i=0
	until [ "$(status_get freeze.state)" = stalled ]; do
		i=$((i + 1)); [ $i -lt 50 ] || fail "$fstype: state never showed stalled"
		sleep 0.1
	done
	phase stalled
	sleep 3
	fsfreeze -u "$mnt" || fail "fsfreeze -u"
	phase thawed
	wait_log "writes flow again" 10 || fail "$fstype: recovery not logged"
	sleep 2
	load_stop
	load_check
	kill -0 "$pid" || fail "$fstype: larderd died"
	[ "$(status_get freeze.state)" = running ] || fail "$fstype: not running after fsfreeze -u"
	n=$(count getok stalled); [ "$n" -gt 0 ] || fail "$fstype: no read succeeded while frozen"
	n=$(count refused stalled); [ "$n" -gt 0 ] || fail "$fstype: no fill refused while frozen"
	n=$(count putok thawed); [ "$n" -gt 0 ] || fail "$fstype: fills did not resume"
	echo "$fstype: while frozen: $(count getok stalled) reads ok, $(count refused stalled) fills refused; after: $(count putok thawed) fills ok"
	verify_acked
	stop_larderd
	ok "$fstype: unannounced freeze"
done
