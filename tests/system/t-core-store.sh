#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-core-store.sh: the store on real ext4 and xfs: put/get round trips
# (inline and shared-memory fills), the kernel's on-disk format checked with
# getfattr, modes, fan-out and names, volume xattr, stale aux replaced,
# invalidate, listing, restart keeps objects, SIGTERM exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/core-lib.sh"
need_root
need_cmd getfattr python3 mkfs.ext4 mkfs.xfs
build_core_client

hex() { od -An -tx1 -v | tr -d ' \n'; }

one_fs() {
	fstype=$1
	# not $(mkfs_loop): its at_exit must run in this shell
	mkfs_loop "$fstype" 300M > "$T/mnt.$fstype" || fail "$fstype: mkfs"
	mnt=$(cat "$T/mnt.$fstype")
	dir=$mnt/cache
	mkdir "$dir"
	write_conf "$T/$fstype.conf" "dir $dir" "socket $SOCK" "backend userspace"
	start_larderd "$T/$fstype.conf"

	# round trips: empty-ish, small, several MiB (goes through shm)
	for size in 1 4096 100000 5000000; do
		head -c $size /dev/urandom > "$T/in"
		ctl put "test,$fstype" "obj$size" "$T/in" ||
		    fail "$fstype: put $size"
		ctl get "test,$fstype" "obj$size" > "$T/out" ||
		    fail "$fstype: get $size"
		cmp -s "$T/in" "$T/out" || fail "$fstype: get $size: bytes differ"
	done
	ok "$fstype: put/get round trips"

	# a missing object: exit 3
	ctl get "test,$fstype" nosuchkey > /dev/null 2>&1; rc=$?
	[ $rc -eq 3 ] || fail "$fstype: get of a missing object: exit $rc, not 3"

	# layout: fan-out and name as fs/netfs and cachefiles make them
	fan=$(fanout_of "test,$fstype" obj100000)
	f=$dir/cache/Itest,$fstype/$fan/Dobj100000
	i=0
	while [ ! -f "$f" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -f "$f" ] || fail "$fstype: object not at $f: $(find "$dir/cache" -name 'Dobj100000')"
	[ "$(stat -c %a "$f")" = 600 ] || fail "$fstype: object mode $(stat -c %a "$f")"
	for d in "$dir/cache" "$dir/graveyard" "$dir/cache/Itest,$fstype" \
	    "$dir/cache/Itest,$fstype/@00" "$dir/cache/Itest,$fstype/@ff"; do
		[ "$(stat -c %a "$d")" = 700 ] || fail "$fstype: $d mode $(stat -c %a "$d")"
	done
	n=$(find "$dir/cache/Itest,$fstype" -mindepth 1 -maxdepth 1 -type d | wc -l)
	[ "$n" = 256 ] || fail "$fstype: $n fan-out dirs, not 256"
	ok "$fstype: layout, modes, fan-out $fan"

	# xattrs: be64 size 100000 = 0x186a0, zero point 0, type 01,
	# content 02 (all), no aux (larderctl put); map: v1, 1 extent 0+100000
	x=$(getfattr --only-values -e hex -n user.CacheFiles.cache "$f" 2>/dev/null | hex)
	[ "$x" = 00000000000186a000000000000000000102 ] ||
	    fail "$fstype: object xattr $x"
	m=$(getfattr --only-values -n user.larder.map "$f" 2>/dev/null | hex)
	[ "$m" = 0100000000000001000000000000000000000000000186a0 ] ||
	    fail "$fstype: map xattr $m"
	v=$(getfattr --only-values -n user.CacheFiles.cache "$dir/cache/Itest,$fstype" 2>/dev/null | hex)
	[ "$v" = 00000000 ] || fail "$fstype: volume xattr $v"
	ok "$fstype: xattrs in the kernel's format"

	# aux data and stale aux: core-client's volume has coherency "c1"
	"$CORE_CLIENT" "$SOCK" put "aux,$fstype" key1 ver1 250000 || fail "$fstype: put aux"
	"$CORE_CLIENT" "$SOCK" check "aux,$fstype" key1 ver1 250000 || fail "$fstype: check aux"
	sleep 0.3	# the meta thread publishes within its batch time
	fan=$(fanout_of "aux,$fstype" key1)
	f=$dir/cache/Iaux,$fstype/$fan/Dkey1
	x=$(getfattr --only-values -n user.CacheFiles.cache "$f" 2>/dev/null | hex)
	# 250000 = 0x3d090, content 02, aux "ver1" = 76657231
	[ "$x" = 000000000003d0900000000000000000010276657231 ] ||
	    fail "$fstype: object xattr with aux: $x"
	v=$(getfattr --only-values -n user.CacheFiles.cache "$dir/cache/Iaux,$fstype" 2>/dev/null | hex)
	[ "$v" = 000000006331 ] || fail "$fstype: volume xattr with coherency: $v"
	"$CORE_CLIENT" "$SOCK" check "aux,$fstype" key1 ver2 250000; rc=$?
	[ $rc -eq 3 ] || fail "$fstype: stale aux served (exit $rc)"
	"$CORE_CLIENT" "$SOCK" check "aux,$fstype" key1 ver1 250000; rc=$?
	[ $rc -eq 3 ] || fail "$fstype: replaced object still served under old aux (exit $rc)"
	ok "$fstype: aux in the xattr, stale aux replaced"

	# two clients share an object; one invalidates: the other never reads
	# the new bytes under its old aux
	"$CORE_CLIENT" "$SOCK" share; rc=$?
	[ $rc -ne 9 ] || fail "$fstype: a shared object served bytes of another aux"
	[ $rc -eq 0 ] || fail "$fstype: share test failed (exit $rc)"
	ok "$fstype: shared object, invalidated by one holder"

	# listing
	ctl volumes | grep -q "test,$fstype" || fail "$fstype: volumes"
	ctl ls "test,$fstype" | grep -q Dobj4096 || fail "$fstype: ls"

	# invalidate (drop) one object
	ctl invalidate "test,$fstype" obj4096 > /dev/null || fail "$fstype: invalidate"
	ctl get "test,$fstype" obj4096 > /dev/null 2>&1; rc=$?
	[ $rc -eq 3 ] || fail "$fstype: dropped object still served (exit $rc)"
	ok "$fstype: invalidate"

	# strange entries where objects would be: a miss, never a crash, and
	# a fill replaces them
	vd=$dir/cache/Itest,$fstype
	ln -s /etc/passwd "$vd/$(fanout_of "test,$fstype" link1)/Dlink1"
	mkfifo "$vd/$(fanout_of "test,$fstype" fifo1)/Dfifo1"
	mkdir "$vd/$(fanout_of "test,$fstype" dir1)/Ddir1"
	for k in link1 fifo1 dir1; do
		timeout 10 "$LARDERCTL" -s "$SOCK" get "test,$fstype" $k > "$T/out" 2>/dev/null; rc=$?
		[ $rc -eq 3 ] || fail "$fstype: strange entry $k: get exit $rc"
	done
	for k in link1 fifo1; do
		ctl put "test,$fstype" $k "$T/in" || fail "$fstype: put over strange $k"
		ctl get "test,$fstype" $k > "$T/out" && cmp -s "$T/in" "$T/out" ||
		    fail "$fstype: get after put over strange $k"
	done
	[ "$(wc -c < /etc/passwd)" -gt 0 ] && ! cmp -s /etc/passwd "$T/in" ||
	    fail "$fstype: /etc/passwd touched"
	kill -0 "$DAEMON_PID" || fail "$fstype: strange entries killed larderd"
	ok "$fstype: strange entries are misses, replaced by fills"

	# last use goes back to disk as atime (the private mount is noatime)
	f=$dir/cache/Itest,$fstype/$(fanout_of "test,$fstype" obj100000)/Dobj100000
	touch -a -d 2000-01-01 "$f"
	before=$(date +%s)
	ctl get "test,$fstype" obj100000 > /dev/null || fail "$fstype: get for atime"

	# restart: what was stored is still there
	stop_larderd
	at=$(stat -c %X "$f")
	[ "$at" -ge "$before" ] || fail "$fstype: atime $at not written back (get at >= $before)"
	[ ! -e "$SOCK" ] || fail "$fstype: socket left behind after SIGTERM"
	start_larderd "$T/$fstype.conf"
	ctl get "test,$fstype" obj5000000 > "$T/out" || fail "$fstype: get after restart"
	[ "$(wc -c < "$T/out")" = 5000000 ] || fail "$fstype: size after restart"
	ctl ls "test,$fstype" | grep -q Dobj100000 || fail "$fstype: index after restart"
	stop_larderd
	ok "$fstype: restart keeps objects; SIGTERM exits 0"
}

one_fs ext4
one_fs xfs
