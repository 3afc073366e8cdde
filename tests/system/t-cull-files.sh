#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-cull-files.sh: the file-count thresholds, on an ext4 made with few
# inodes: filled past fcull with small objects, larderd culls back above
# frun, oldest first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4

# a volume alone takes 257 inodes (its directory and 256 fan-out dirs)
mkfs_loop ext4 64M -N 640 > "$T/mnt.path" || fail "mkfs"
mnt=$(cat "$T/mnt.path")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" \
    "brun 10%" "bcull 7%" "bstop 3%" "frun 30%" "fcull 25%" "fstop 10%"
start_larderd "$T/conf"
V=test,files
echo small > "$T/in"

put_retry $V first "$T/in"	# makes the volume
for i in $(seq 1 20); do put_retry $V old$i "$T/in"; done
sleep 1.1			# last use has a resolution of one second
n=0
while [ "$(stat_of cull.objects)" = 0 ]; do
	n=$((n + 1))
	[ $n -le 600 ] || fail "no culling after 600 objects: $(status cull.state)"
	put_retry $V new$n "$T/in"
done
wait_for 30 idle || fail "culling did not finish: $(status cull.state)"
culled=$(stat_of cull.objects)
grep -q 'done culling: .*free files [0-9.]*% >= frun 30%' "$DAEMON_LOG" ||
    fail "no 'done culling ... >= frun 30%' in the log"
free=$(status cull.files_free | sed 's/%.*//')
ok "$n objects past fcull; culled $culled; free files now $free%"
[ "${free%.*}" -ge 25 ] || fail "free files $free% < fcull 25% after culling"
[ "$culled" -ge 21 ] || fail "culled only $culled: expected the 21 old first"
for k in first $(seq -f 'old%g' 1 20); do
	if cached $V "$k"; then fail "$k (oldest) survived"; fi
done
i=$n
while [ $i -gt $((n - 10)) ]; do
	cached $V new$i || fail "new$i (newest) was culled"
	i=$((i - 1))
done
ok "oldest first by file count"
stop_larderd
