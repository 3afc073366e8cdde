#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-mount-refuse.sh: larderd refuses, with the reason, a dir on tmpfs, on
# a read-only filesystem, a dir that is a file, and a dir that another
# larderd uses ("already in use by pid N").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd mkfs.ext4

# start_refused CONF PATTERN: larderd must exit non-zero saying PATTERN
start_refused() {
	out=$(timeout 20 "$LARDERD" -n -s -f "$1" 2>&1)
	rc=$?
	echo "$out" | tail -3
	[ $rc -ne 0 ] || fail "larderd started: $out"
	[ $rc -ne 124 ] || fail "larderd hung"
	echo "$out" | grep -q "$2" || fail "larderd's message lacks '$2': $out"
}

mkdir -p "$T/tmpfs"
mount -t tmpfs -o size=8m tmpfs "$T/tmpfs" || fail "mount tmpfs"
at_exit "umount -l '$T/tmpfs'"
mkdir "$T/tmpfs/cache"
write_conf "$T/tmpfs.conf" "dir $T/tmpfs/cache" "socket $T/tmpfs.sock"
start_refused "$T/tmpfs.conf" "tmpfs.*memory filesystem"
ok "tmpfs refused"

mkfs_mnt ext4 64M; mnt=$MNT
mkdir -p "$mnt/cache"
: > "$mnt/file"
write_conf "$T/file.conf" "dir $mnt/file" "socket $T/file.sock"
start_refused "$T/file.conf" "not a directory"
ok "a file as dir refused"

mount -o remount,ro "$mnt" || fail "remount,ro"
write_conf "$T/ro.conf" "dir $mnt/cache" "socket $T/ro.sock"
start_refused "$T/ro.conf" "read-only"
ok "read-only filesystem refused"
mount -o remount,rw "$mnt" || fail "remount,rw"

conf_for "$mnt"
start_larderd "$T/larder.conf"
write_conf "$T/second.conf" "dir $mnt/cache" "socket $T/second.sock"
start_refused "$T/second.conf" "already in use by pid $DAEMON_PID"
ok "second larderd refused"
ctl status >/dev/null || fail "the first larderd stopped answering"
stop_larderd
