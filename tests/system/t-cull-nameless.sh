#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-cull-nameless.sh: the daemon's scan indexes objects nameless (name
# hash and inode, issue 15); names come back by readdir on a worker. Put
# 30 objects of 64 KiB, stop, give them atimes k0 (oldest) .. k29, start
# again (the scan reads those atimes), then replace k0's file by another
# one under the same name (another inode, same old atime) and cull about
# four objects' worth:
#  - k0's new file is not culled (its inode is not the indexed one), k1..k3
#    are culled by name, k5..k29 stay;
#  - larderctl ls lists the names of what stays, and not the culled ones.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4 touch find cmp
mkfs_loop ext4 64M > "$T/mnt" || fail "mkfs"
mnt=$(cat "$T/mnt")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" "backend userspace"
start_larderd "$T/conf"
head -c 65536 /dev/urandom > "$T/in"
N=30
for n in $(seq 0 $((N - 1))); do
	ctl put test,nl "k$n" "$T/in" || fail "put k$n"
done
stop_larderd

file_of() {
	f=$(find "$mnt/cache" -name "D$1" -type f)
	[ -n "$f" ] || return 1
	echo "$f"
}
base=$(($(date +%s) - 86400))
for n in $(seq 0 $((N - 1))); do
	f=$(file_of "k$n") || fail "no file for k$n"
	touch -a -d "@$((base + n))" "$f" || fail "touch k$n"
done

scanned() { [ "$(status scan.state)" = done ]; }
start_larderd "$T/conf"
wait_for 60 scanned || fail "the scan did not end"
# another file under k0's name: a new inode, the same old atime
k0=$(file_of k0) || fail "no file for k0"
echo "not the cached object" > "$T/new"
cp "$T/new" "$k0.tmp" && mv "$k0.tmp" "$k0" || fail "replace k0"
touch -a -d "@$base" "$k0"

# (the answer comes when the victims are out of the cache dir)
ctl cull --bytes $((4 * 65536)) > "$T/cull" || fail "cull --bytes"
cmp -s "$T/new" "$k0" || fail "k0's replacement was culled or changed"
for n in 1 2 3; do
	file_of "k$n" > /dev/null && fail "k$n (among the oldest) was kept"
done
for n in $(seq 5 $((N - 1))); do
	file_of "k$n" > /dev/null || fail "k$n (newer) was culled"
done
[ "$(stat_of cull.gone)" -ge 1 ] || fail "k0 not counted as gone"
wait_for 60 idle || fail "culling did not settle"
ok "the oldest were culled by name; a file replaced under k0's name was not"

ctl ls test,nl > "$T/ls" 2>&1 || fail "larderctl ls: $(cat "$T/ls")"
for n in $(seq 5 $((N - 1))); do
	grep -qw "Dk$n" "$T/ls" || fail "ls does not list Dk$n: $(cat "$T/ls")"
done
for n in 0 1 2 3; do
	grep -qw "Dk$n" "$T/ls" && fail "ls lists Dk$n (culled or dropped)"
done
ok "larderctl ls lists the names of the nameless entries"
stop_larderd
