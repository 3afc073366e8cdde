# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: power cuts of a cache the kernel writes (tests/vm/t-powercut-kernel.sh).
# The cache filesystem (ext4) is on a dm-log-writes device over a loop
# device (a file on tmpfs), mounted at $C; larderd runs in kernel mode;
# 9p cache=fscache reads fill the cache, a file changes on the share
# between rounds (the kernel must find its object stale), and a
# neighbour fsyncs its own file on the same filesystem. Then the log is
# replayed to every flush/FUA/mark point (or a seeded sample) and
# powercut-kcheck.sh judges each state: fsck clean, larderd starts in
# kernel mode and binds, 9p reads through the cache give exactly the
# share's bytes, larderd is alive and stops cleanly. What the kernel's
# objects look like at each point is printed (cfmt-tool dump).
# args (after the common ones): BINDIR LWLOG CFMT KCHECK_SH POINTS SEED
. "$1"; COMMON=$1; shift 4
BINDIR=$1 LWLOG=$2 CFMT=$3 KCHECK=$4 POINTS=$5 SEED=$6
PC=/pc
DM=pclog
export DM_DISABLE_UDEV=1
modprobe loop; modprobe dm-log-writes || die "no dm-log-writes"
umount "$C" || die "umount $C"
mkdir -p $PC
mount -t tmpfs -o size=1200m tmpfs $PC || die "tmpfs"
truncate -s 320M $PC/data.img; truncate -s 600M $PC/log.img
"$BINDIR"/mke2fs -q -t ext4 -E nodiscard $PC/data.img || die "mkfs ext4"
"$LWLOG" copy $PC/data.img $PC/base.img || die "copy the new filesystem"
D=$(loop_attach $PC/data.img) && L=$(loop_attach $PC/log.img) || die "losetup"
"$BINDIR"/dmsetup create $DM --table "0 $(blockdev --getsz "$D") log-writes $D $L" || die "dmsetup create log-writes"
mount -t ext4 -o noinit_itable /dev/mapper/$DM "$C" || die "mount on log-writes"
mark() { "$BINDIR"/dmsetup message $DM 0 mark "$1" || die "mark $1"; }
mark start
kernel_conf /tmp/larder.conf
start_larderd /tmp/larder.conf
( while [ ! -f $PC/stop ]; do
	dd if=/dev/zero of="$C/other" bs=4k count=1 conv=fsync 2>/dev/null
	sleep 0.1
done ) &
OPID=$!
# the share's bytes, read without fscache (the second tag)
P=/mnt/plain
mkdir -p $P
mount -t 9p -o trans=virtio,version=9p2000.L "$VM_SHARE_TAG2" $P || die "plain 9p mount"
nocookies() {
	i=0
	until grep -q '^Cookies: n=0 ' /proc/fs/fscache/stats; do
		i=$((i + 1)); [ $i -lt 600 ] || die "cookies never went away"
		sleep 0.1
	done
}
# fsc_round N: read every file through fscache, wait for the kernel's
# cache writes and its commits (umount relinquishes every cookie)
fsc_round() {
	mount_share
	for f in $M/*; do cat "$f" > /dev/null || die "read $f"; done
	kf_settle 60 || die "cache writes never ended"
	umount_share
	nocookies
	mark "round-$1"
}
fsc_round 1
# a file changes on the share: its object is stale from now on
dd if=/dev/urandom of=$P/f001 bs=1k count=200 conv=notrunc 2>/dev/null || die "change f001"
touch -d '2021-01-01 00:00:00' $P/f002 || die "touch f002"
fsc_round 2
fsc_round 3
touch $PC/stop; wait $OPID
stop_daemon
umount "$C" || die "umount"
"$BINDIR"/dmsetup remove $DM || die "dmsetup remove"
losetup -d "$D"; losetup -d "$L"; rm -f $PC/data.img
(cd $P && md5sum f*) > $PC/ref.md5
umount $P
"$LWLOG" points $PC/log.img > $PC/points || die "lwlog points"
n=$(wc -l < $PC/points)
if [ "$POINTS" -gt 0 ] && [ "$n" -gt "$POINTS" ]; then
	{ tail -1 $PC/points; sed '$d' $PC/points | awk -v s="$SEED" 'BEGIN {srand(s)} {print rand(), $1}' | sort -n | head -$((POINTS - 1)) | cut -d' ' -f2; } | cut -d' ' -f1 | sort -n > $PC/list
else
	cut -d' ' -f1 $PC/points > $PC/list
fi
say "kernel: $n points ($(grep -c ' [FU]*M' $PC/points) marks); checking $(wc -l < $PC/list) (seed $SEED)"
t1=$(now_ms)
"$LWLOG" replay $PC/log.img $PC/base.img $PC/snap.img $PC/list \
    "sh $KCHECK $COMMON $LARDERD $LARDERCTL $NOCTL $BINDIR $CFMT" > $PC/replay.out 2>&1 ||
	{ tail -40 $PC/replay.out; die "a replayed power cut failed the check"; }
grep '^guest:' $PC/replay.out | sed 's/^guest: //' | awk '{print "guest:", $0}' | tail -${SHOW:-400}
checked=$(wc -l < $PC/tally)
[ "$checked" = "$(wc -l < $PC/list)" ] || die "$checked of $(wc -l < $PC/list) points checked"
fromcache=$(awk '/reads from the cache [1-9]/' $PC/replay.out | wc -l)
say "kernel: $checked points checked in $(( ($(now_ms) - t1) / 1000 )) s: fsck clean, larderd bound the cache at each, every 9p read through it gave the share's bytes ($fromcache points served reads from the cache)"
# the last point (always checked) has the objects of round 3
[ "$fromcache" -gt 0 ] || die "no replayed point served a read from the cache"
dmesg | grep -E 'BUG|Oops|WARNING' && die "the kernel complained"
say "kernel objects over all points (content byte of user.CacheFiles.cache: count): $(awk '{for (i = 3; i <= NF; i++) c[$i]++} END {for (k in c) printf "%s %d, ", k, c[k]}' $PC/tally)"
say "PASS"
