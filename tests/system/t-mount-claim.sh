#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-mount-claim.sh: the write claim, on ext4 and xfs. While larderd runs,
# `mount -o remount,ro` of the backing filesystem fails (busy); after
# `larderctl suspend` it succeeds, reads go on and fills are refused;
# resume fails while the fs is read-only; after `remount,rw` and
# `larderctl resume` writing works again; after larderd stops the remount
# succeeds too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs

for fstype in ext4 xfs; do
	mkfs_mnt $fstype 320M; mnt=$MNT
	conf_for "$mnt"
	DAEMON_LOG=$T/larderd-$fstype.log
	start_larderd "$T/larder.conf"
	pool_make
	ctl put "$VOL" one "$T/pool/1" || fail "$fstype: put"
	[ "$(status_get mount.claim)" = held ] || fail "$fstype: status: claim not held"

	out=$(mount -o remount,ro "$mnt" 2>&1) && fail "$fstype: remount,ro succeeded while larderd runs"
	case $out in *busy*) ;; *) fail "$fstype: remount,ro failed, but not busy: $out" ;; esac
	ok "$fstype: remount,ro refused while running: $out"

	out=$(ctl suspend 2>&1) || fail "$fstype: suspend: exit $?: $out"
	echo "$fstype: suspend: $out"
	[ "$(status_get mount.claim)" = released ] || fail "$fstype: claim not released"
	[ "$(status_get freeze.state)" = suspended ] || fail "$fstype: state not suspended"
	mount -o remount,ro "$mnt" || fail "$fstype: remount,ro fails after suspend"
	ok "$fstype: remount,ro after suspend"
	ctl get "$VOL" one | cmp -s - "$T/pool/1" || fail "$fstype: read while suspended"
	ctl put "$VOL" two "$T/pool/2"; rc=$?
	[ $rc -eq 4 ] || fail "$fstype: fill while suspended: exit $rc, not 4"
	out=$(ctl resume 2>&1) && fail "$fstype: resume on a read-only fs succeeded: $out"
	echo "$fstype: resume while ro: $out"
	[ "$(status_get freeze.state)" = suspended ] || fail "$fstype: not suspended after failed resume"

	mount -o remount,rw "$mnt" || fail "$fstype: remount,rw"
	out=$(ctl resume 2>&1) || fail "$fstype: resume: exit $?: $out"
	echo "$fstype: resume: $out"
	[ "$(status_get mount.claim)" = held ] || fail "$fstype: claim not held after resume"
	i=0
	until ctl put "$VOL" two "$T/pool/2"; do
		i=$((i + 1)); [ $i -lt 20 ] || fail "$fstype: fills do not work after resume"
		sleep 0.2
	done
	ctl get "$VOL" two | cmp -s - "$T/pool/2" || fail "$fstype: object after resume"
	mount -o remount,ro "$mnt" 2>/dev/null && fail "$fstype: remount,ro succeeded after resume"

	# resume while someone else has the fs frozen: the claim waits for
	# the thaw off the main thread; larderd keeps answering meanwhile
	ctl suspend >/dev/null || fail "$fstype: second suspend"
	fsfreeze -f "$mnt" || fail "fsfreeze -f"
	# with larder.lock's dentry out of the cache, opening it for writing
	# waits for the thaw (on 6.1 even a cached one does)
	sync; echo 2 > /proc/sys/vm/drop_caches
	ctl resume > "$T/resume.out" 2>&1 &
	rp=$!
	# rounds of status and get while the resume waits: the fs stays frozen
	# until they are done, so a call that waited on it would never return
	# (each is bounded at 30 s; their times are printed, not asserted)
	r=0
	while [ $r -lt 5 ]; do
		s=$(now_ms)
		timeout 30 "$LARDERCTL" -s "$SOCK" status >/dev/null || fail "$fstype: status while resume waits on a frozen fs: no answer"
		timeout 30 "$LARDERCTL" -s "$SOCK" get "$VOL" one | cmp -s - "$T/pool/1" || fail "$fstype: read while resume waits"
		echo "$fstype: round $r: status and get answered in $(( $(now_ms) - s )) ms while the fs was frozen"
		r=$((r + 1))
	done
	fsfreeze -u "$mnt" || fail "fsfreeze -u"
	wait $rp || fail "$fstype: resume after the thaw: $(cat "$T/resume.out")"
	echo "$fstype: resume across a foreign freeze: $(cat "$T/resume.out")"
	ctl put "$VOL" three "$T/pool/3" || fail "$fstype: fill after resume across a freeze"

	stop_larderd
	mount -o remount,ro "$mnt" || fail "$fstype: remount,ro fails after larderd stopped"
	ok "$fstype: remount,ro after stop"
done
