#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-unannounced.sh: someone runs `fsfreeze -f` under load without
# asking larder. No client call blocks on the frozen filesystem (every
# client returns from its last call while it is still frozen), reads
# succeed, fills answer ENOBUFS (larderctl put exits 4), the stall is logged
# and shown; after `fsfreeze -u` everything resumes without a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd fsfreeze mkfs.ext4 mkfs.xfs

for fstype in ext4 xfs; do
	load_fs $fstype 4
	pid=$DAEMON_PID
	fsfreeze -f "$mnt" || fail "fsfreeze -f"
	phase frozen
	wait_log "writes stalled" 60 || fail "$fstype: stall not logged"
	# the state is "stalled" while a write is stuck; between one stuck
	# write completing and the next sticking it may read "running"
	i=0
	until [ "$(status_get freeze.state)" = stalled ]; do
		i=$((i + 1)); [ $i -lt 300 ] || fail "$fstype: state never showed stalled"
		sleep 0.1
	done
	phase stalled
	wait_count getok stalled 4 60 || fail "$fstype: no read succeeded while frozen"
	wait_count refused stalled 4 60 || fail "$fstype: no fill refused while frozen"
	# every client returns while the filesystem is still frozen
	load_drain 60
	fs_is_frozen "$mnt" || fail "$fstype: the filesystem was thawed during the drain"
	fsfreeze -u "$mnt" || fail "fsfreeze -u"
	phase thawed
	load_start 4
	wait_log "writes flow again" 60 || fail "$fstype: recovery not logged"
	wait_count putok thawed 4 60 || fail "$fstype: fills did not resume"
	load_stop
	load_check
	kill -0 "$pid" || fail "$fstype: larderd died"
	[ "$(status_get freeze.state)" = running ] || fail "$fstype: not running after fsfreeze -u"
	echo "$fstype: while frozen: $(count getok stalled) reads ok, $(count refused stalled) fills refused; after: $(count putok thawed) fills ok"
	verify_acked
	stop_larderd
	ok "$fstype: unannounced freeze"
done
