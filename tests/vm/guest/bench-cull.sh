# SPDX-License-Identifier: GPL-2.0-or-later
# Guest (tests/bench/bench-kernel-cull.sh): the same culling job for
# larderd and for the Debian cachefilesd. The cache is filled below bcull
# once (larderd -N: no culling, so the kernel stops at bstop), the disk is
# saved, and each daemon then starts on an identical copy: how long until
# free space is back above brun, and how much CPU the daemon used by then.
. "$1"
DLOG_LINES=40
kernel_conf /tmp/larder.conf
say "cache fs: $(df -P "$C" | tail -1)"

# fill, in batches (umount commits the objects)
start_daemon "$LARDERD" -n -s -N -f /tmp/larder.conf
wait_log 'kernel: cache bound' 30 || die "larderd did not bind"
mount_share; total=$(ls $M | wc -l); umount_share
batch=500
n=0
while [ $n -lt $total ]; do
	mount_share
	ls $M | sed -n "$((n + 1)),$((n + batch))p" | while read -r f; do cat "$M/$f"; done > /dev/null
	umount_share
	n=$((n + batch))
done
drop
objs=$(find "$C/cache" -type f | wc -l)
say "filled: $objs objects, free $(bfree_pct)%"
stop_daemon
[ "$(bfree_pct)" -lt 7 ] || die "the fill did not reach the cull zone (free $(bfree_pct)%)"

# keep the filled disk (tmpfs copy) so both daemons start from it
sync; umount "$C" || die "umount cache"
dd if=$VM_CACHE_DEV of=/tmp/disk.img bs=1M 2>/dev/null || die "save disk"

# cpu_ms PID: user+system CPU time of PID in ms
cpu_ms() { awk -v hz=100 '{print ($14 + $15) * 1000 / hz}' /proc/$1/stat; }
now_ms() { awk '{printf "%d\n", $1 * 1000}' /proc/uptime; }

# measure NAME CMD...: restore the disk, start CMD, wait for free >= brun
measure() {
	name=$1; shift
	dd if=/tmp/disk.img of=$VM_CACHE_DEV bs=1M 2>/dev/null || die "restore disk"
	mount -t ext4 $VM_CACHE_DEV "$C" || die "mount cache"
	drop
	f0=$(bfree_pct)
	t0=$(now_ms)
	"$@" > $DLOG 2>&1 &
	DPID=$!
	tb=""
	while [ "$(bfree_pct)" -lt 10 ]; do
		[ -n "$tb" ] || ! grep -q -E 'kernel: cache bound|Bound cache' $DLOG || tb=$(now_ms)
		if ! kill -0 $DPID 2>/dev/null; then
			wait $DPID; st=$?
			echo "RESULT $name died exit=$st after $(($(now_ms) - t0)) ms: $(tail -2 $DLOG | tr '\n' '|')"
			DPID=""
			umount "$C"
			return
		fi
		[ $(($(now_ms) - t0)) -lt 300000 ] || die "$name: free stayed below brun for 300 s"
		sleep 0.1
	done
	t1=$(now_ms)
	cpu=$(cpu_ms $DPID)
	left=$(find "$C/cache" -type f | wc -l)
	stop_daemon
	umount "$C"
	[ -n "$tb" ] || tb=$t1
	echo "RESULT $name free_before=${f0}% secs=$(awk "BEGIN {printf \"%.2f\", ($t1 - $t0) / 1000}") bound_secs=$(awk "BEGIN {printf \"%.2f\", ($tb - $t0) / 1000}") cpu_ms=$cpu objects_left=$left of $objs"
}
# three times each, alternating, on the same restored disk
for round in 1 2 3; do
	measure larderd "$LARDERD" -n -s -f /tmp/larder.conf
	measure cachefilesd cachefilesd -n -s -f /etc/cachefilesd.conf
done
mount -t ext4 $VM_CACHE_DEV "$C"
say "PASS"
