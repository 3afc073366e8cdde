#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-core-cull.sh: the store and the culler together: filling a small cache
# past bcull culls the least recently used objects, and their space really
# comes back (the store keeps recently used objects open while idle and
# must let culled ones go); what is still served is intact.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 df
mkfs_loop ext4 100M > "$T/mnt" || fail "mkfs"
mnt=$(cat "$T/mnt")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" "backend userspace" "brun 50%" \
    "bcull 40%" "bstop 10%"
start_larderd "$T/conf"
head -c 4000000 /dev/urandom > "$T/in"
i=0
while [ $i -lt 25 ]; do
	i=$((i + 1))
	ctl put test,cull "k$i" "$T/in" 2>/dev/null
	ctl get test,cull "k$i" > /dev/null 2>&1	# used: held open while idle
done
# culling ends at brun 50% free; allow the sweep and the reaper to finish
n=0
while :; do
	used=$(df --output=pcent "$mnt" | tail -1 | tr -dc 0-9)
	[ "$used" -le 60 ] && break
	n=$((n + 1)); [ $n -lt 100 ] || fail "space not given back: ${used}% used"
	sleep 0.2
done
ok "space of culled objects given back (${used}% used)"
served=0 missing=0
i=0
while [ $i -lt 25 ]; do
	i=$((i + 1))
	if ctl get test,cull "k$i" > "$T/out" 2>/dev/null; then
		cmp -s "$T/in" "$T/out" || fail "k$i: wrong bytes after culling"
		served=$((served + 1))
	else
		missing=$((missing + 1))
	fi
done
[ $missing -gt 0 ] || fail "nothing was culled"
[ $served -gt 0 ] || fail "everything was culled"
stop_larderd
ok "after culling: $served objects intact, $missing culled"
