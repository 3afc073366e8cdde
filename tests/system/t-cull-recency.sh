#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-cull-recency.sh: least recently used means least recently used
# (issue 12). On a 96 MiB ext4 with brun 40% bcull 30% bstop 10%, put 90
# objects of 1 MiB and, after every put from the 4th on, get k0, k1 and
# k2. The whole run takes seconds, so a clock in whole seconds sees every
# use at the same few instants; the index must still order them. Then:
#  - k0..k2 are all still cached, objects were culled, and every culled
#    never-read object was put before every surviving one;
#  - the atimes on disk (written back at stop) keep that order to the
#    nanosecond: k3 < k4 < ... < k89 < k0 < k1 < k2 among the survivors;
#  - after a restart (order from those atimes), a cull of a few objects
#    takes the oldest survivors, not k0..k2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4 stat
mkfs_loop ext4 96M > "$T/mnt" || fail "mkfs"
mnt=$(cat "$T/mnt")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" "backend userspace" \
    "brun 40%" "bcull 30%" "bstop 10%"
start_larderd "$T/conf" ${REC_DEBUG:+-d}
head -c 1048576 /dev/urandom > "$T/in"
N=90
n=0
while [ $n -lt $N ]; do
	put_retry test,rec "k$n" "$T/in"
	if [ $n -ge 3 ]; then
		for k in k0 k1 k2; do
			ctl get test,rec $k > "$T/out" ||
			    fail "after put k$n: $k is gone (exit $?)"
		done
	fi
	n=$((n + 1))
done
# settled: idle, and free space at or above bcull, so no pass can start
# any more (the culler looks within KICK_MS of a fill: idle alone, right
# after the last put, came before it had looked, and the pass it started
# then went by the uses of the checks below; seen in a CI rehearsal)
free_pct() { stat -f -c '%a %b' "$mnt" | awk '{printf "%d\n", $1 * 100 / $2}'; }
settled() { idle && [ "$(free_pct)" -ge 30 ]; }
wait_for 60 settled || fail "culling did not settle: $(status cull.state), free $(free_pct)%"
ok "k0, k1, k2 (read after every put) survived every cull"

# which never-read objects survived: all culled ones must be older
first=-1 n=3 culled=0
while [ $n -lt $N ]; do
	if cached test,rec "k$n"; then
		[ $first -ge 0 ] || first=$n
	else
		culled=$((culled + 1))
		[ $first -lt 0 ] || fail "k$n culled but older k$first kept"
	fi
	n=$((n + 1))
done
[ $culled -gt 0 ] || fail "nothing was culled"
[ $first -ge 0 ] || fail "every never-read object was culled"
ok "the $culled culled objects were the oldest never-read (k3..k$((first - 1)))"

# the gets in the loop above used k$first.. again: use k0..k2 after them,
# in order, then stop (the daemon writes back every atime on the way out)
for k in k0 k1 k2; do ctl get test,rec $k > /dev/null || fail "get $k"; done
stop_larderd
atime() {
	f=$(find "$mnt/cache" -name "D$1" -type f)
	[ -n "$f" ] || fail "no file for $1"
	stat -c '%.9X' "$f" | tr -d .
}
prev=0
for k in $(seq $first $((N - 1)) | sed 's/^/k/') k0 k1 k2; do
	a=$(atime $k)
	[ "$a" -gt "$prev" ] || fail "atime of $k ($a) not after the one before ($prev)"
	prev=$a
done
ok "atimes on disk keep the order of use, to the nanosecond"

# restart: the order comes from those atimes; cull 3 objects' worth
start_larderd "$T/conf" ${REC_DEBUG:+-d}
ctl cull --bytes $((3 * 1048576)) > /dev/null || fail "cull --bytes"
wait_for 60 idle || fail "culling did not settle after the restart"
for k in k0 k1 k2; do
	cached test,rec $k || fail "after a restart, $k (used last) was culled"
done
cached test,rec "k$first" && fail "after a restart, k$first (the oldest) was kept"
stop_larderd
ok "after a restart the oldest go first and k0..k2 stay"
