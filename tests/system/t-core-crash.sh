#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-core-crash.sh: kill -9 larderd at random points while a client stores,
# invalidates and reads objects (CORE_CRASH_ROUNDS rounds, default 200),
# restart it each time, and read every object back: every byte served must
# be the byte stored under the object's aux (core-client's aux names a
# version and its bytes are a pattern of key and version).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/core-lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs
build_core_client
rounds=${CORE_CRASH_ROUNDS:-200}
nkeys=40

crash_fs() {
	fstype=$1 n=$2
	mkfs_loop "$fstype" 300M > "$T/mnt.$fstype" || fail "$fstype: mkfs"
	mnt=$(cat "$T/mnt.$fstype")
	mkdir "$mnt/cache"
	write_conf "$T/$fstype.conf" "dir $mnt/cache" "socket $SOCK" "backend userspace"
	state=$T/state.$fstype
	r=0 seen=0
	while [ $r -lt "$n" ]; do
		r=$((r + 1))
		restart_larderd "$T/$fstype.conf"
		"$CORE_CLIENT" "$SOCK" work "$state" $nkeys $r 1000000 &
		cpid=$!
		# 0 to 0.39 s of work before the kill
		sleep "0.$(( $(od -An -N1 -tu1 /dev/urandom) % 4 ))$(( $(od -An -N1 -tu1 /dev/urandom) % 10 ))"
		kill -KILL "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
		wait "$cpid"; rc=$?
		[ $rc -ne 9 ] || fail "$fstype round $r: a client read wrong bytes"
		# 5: the kill came before the client could connect
		[ $rc -eq 0 ] || [ $rc -eq 5 ] ||
		    fail "$fstype round $r: core-client failed (exit $rc)"
		restart_larderd "$T/$fstype.conf"
		"$CORE_CLIENT" "$SOCK" verify "$state" $nkeys > "$T/verify" 2>&1 ||
		    { cat "$T/verify"; fail "$fstype round $r: wrong bytes served after the crash"; }
		nv=$(sed -n 's/^verified \([0-9]*\) objects.*/\1/p' "$T/verify")
		seen=$((seen + ${nv:-0}))
		kill -KILL "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_PID=
	done
	restart_larderd "$T/$fstype.conf"
	"$CORE_CLIENT" "$SOCK" verify "$state" $nkeys || fail "$fstype: final verify"
	stop_larderd
	# a test that never sees cached data after a crash proves nothing
	[ $seen -gt 0 ] || fail "$fstype: no object had data after any crash"
	ok "$fstype: $n crash rounds, every byte served matches its aux ($seen objects with data checked after crashes)"
}

# most rounds on ext4, a quarter on xfs
crash_fs ext4 $((rounds - rounds / 4))
crash_fs xfs $((rounds / 4))
