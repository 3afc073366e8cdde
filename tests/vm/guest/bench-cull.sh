# SPDX-License-Identifier: GPL-2.0-or-later
# Guest (tests/bench/bench-kernel-cull.sh): the same culling job for
# larderd and for the Debian cachefilesd, each starting on an identical
# copy of the disk: how long until free space is back above brun, and how
# much CPU the daemon used by then (both include each daemon's walk).
#   fill: the cache is filled below bcull once through 9p (larderd -N: no
#         culling, so the kernel stops at bstop), with the VM's own
#         cachefilesd.conf (brun 10%);
#   gen:  the host filled the disk with tests/bench/gen_tree; bcull is set
#         1% above the free space found and brun a tenth of the used space
#         above that, so each daemon walks the whole tree and culls about a
#         tenth of the objects.
. "$1"
mode=${5:-fill}
DLOG_LINES=40
say "cache fs: $(df -P "$C" | tail -1)"
if [ "$mode" = gen ]; then
	f=$(bfree_pct)
	step=$(((100 - f) / 10))
	[ "$step" -ge 1 ] || step=1
	brun=$((f + 1 + step))
	printf 'dir %s\ntag mycache\nbrun %d%%\nbcull %d%%\nbstop 1%%\n' \
	    "$C" "$brun" $((f + 1)) > /tmp/cfd.conf
	cp /tmp/cfd.conf /tmp/larder.conf
	echo "backend kernel" >> /tmp/larder.conf
	objs=$(find "$C/cache" -type f | wc -l)
	say "filled: $objs objects, free $f%, brun $brun%"
	limit=3600
else
	brun=10
	cp /etc/cachefilesd.conf /tmp/cfd.conf
	kernel_conf /tmp/larder.conf
	limit=300
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
fi

# keep the filled disk (tmpfs copy) so both daemons start from it
sync; umount "$C" || die "umount cache"
dd if=$VM_CACHE_DEV of=/tmp/disk.img bs=1M 2>/dev/null || die "save disk"

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
	# within 0.5% of brun: the kernel's threshold is in blocks of its own
	# statfs, df's percentage is rounded another way
	while [ "$(bfree_permille)" -lt $((brun * 10 - 5)) ]; do
		[ -n "$tb" ] || ! grep -q -E 'kernel: cache bound|Bound cache' $DLOG || tb=$(now_ms)
		if ! kill -0 $DPID 2>/dev/null; then
			wait $DPID; st=$?
			echo "RESULT $name died exit=$st after $(($(now_ms) - t0)) ms: $(tail -2 $DLOG | tr '\n' '|')"
			DPID=""
			umount "$C"
			return
		fi
		[ $(($(now_ms) - t0)) -lt $((limit * 1000)) ] || die "$name: free stayed below brun for $limit s"
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
# three times each, alternating, on the same restored disk. Without ASLR:
# cachefilesd 0.10.10 aborts at random when a heap pointer has bits 28-31
# equal to 6 (see kernel-9p.sh); with ASLR off its heap lies near
# 0x555555559000 and never does
echo 0 > /proc/sys/kernel/randomize_va_space
for round in 1 2 3; do
	measure larderd "$LARDERD" -n -s -f /tmp/larder.conf
	measure cachefilesd cachefilesd -n -s -f /tmp/cfd.conf
done
mount -t ext4 $VM_CACHE_DEV "$C"
say "PASS"
