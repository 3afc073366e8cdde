# SPDX-License-Identifier: GPL-2.0-or-later
# Guest of tests/bench/bench-kernel-atime.sh: what strictatime on larderd's
# private clone costs the kernel's read path. The share's files are read
# once (the kernel fills the cache) and once more; then ROUNDS rounds,
# each one pass with the clone strictatime (larderd's setting) and one with
# it remounted relatime (nsenter into larderd's mount namespace: the clone
# only), in alternating order. A pass: mount the share, read every file
# (from the cache: the page cache is dropped before), unmount. Printed per
# pass: the read time, the time of the sync after it (atime updates are
# inode writes: the journal takes them there), and how many atimes moved.
# args (after the common ones): ROUNDS
. "$1"; shift 4
ROUNDS=${1:-4}
kernel_conf /tmp/larder.conf
start_larderd /tmp/larder.conf
P=$(sed -n 's/.*private clone.* at \([^ ]*\).*/\1/p' $DLOG | head -1)
[ -n "$P" ] || die "no private clone path in the log"
say "clone at $P"
setmode() {
	nsenter -t "$DPID" -m mount -o "remount,bind,$1" "$P" || die "remount $1"
}
stamp() { find "$C/cache" -type f -exec stat -c '%n %x' {} + | sort > "$1"; }
pass() {
	mount_share
	rd0=$(io_rd)
	t0=$(now_ms)
	for f in $M/*; do cat "$f" > /dev/null; done
	t1=$(now_ms)
	rd=$(io_rd)
	umount_share
	sync
	t2=$(now_ms)
	echo 3 > /proc/sys/vm/drop_caches
	echo "$((t1 - t0)) $((t2 - t1)) $((rd - rd0))"
}
pass > /dev/null	# fill
pass > /dev/null	# atime now newer than mtime: relatime stops moving it
n=$(find "$C/cache" -type f | wc -l)
say "$n objects cached, $(ls $M | wc -l) files"
r=0
while [ $r -lt "$ROUNDS" ]; do
	if [ $((r % 2)) -eq 0 ]; then order="strictatime relatime"; else order="relatime strictatime"; fi
	for mode in $order; do
		setmode $mode
		stamp /tmp/before
		set -- $(pass)
		stamp /tmp/after
		moved=$(diff /tmp/before /tmp/after | grep -c '^+[^+]')
		echo "RESULT atime mode=$mode round=$r read_ms=$1 sync_ms=$2 cache_reads=$3 atimes_moved=$moved"
	done
	r=$((r + 1))
done
setmode strictatime
stop_daemon
say "PASS"
