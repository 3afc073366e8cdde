# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: power cuts of larder's cache filesystem, replayed with
# dm-log-writes (tests/vm/t-powercut.sh). For each filesystem: make it on
# a loop device (a file on tmpfs), keep a copy, put a log-writes target
# over it, and let larderd (userspace mode) take fills, partial fills,
# invalidations and drops from CLIENTS clients; marks go into the log
# after every fill the daemon took and after every meta batch. Then the
# log is replayed onto the copy to every flush, FUA and mark entry (or a
# seeded sample of POINTS of them) and powercut-check.sh judges each
# state.
# args (after the common ones): BINDIR LWLOG PCCLIENT CHECK_SH FSLIST POINTS SEED
#   OPS NKEYS CLIENTS   (POINTS 0: every point)
. "$1"; COMMON=$1; shift 4
# the tools by path: busybox sh runs its own applets of the same names
# (mke2fs) whatever PATH says
BINDIR=$1; shift
LWLOG=$1 PCCLIENT=$2 CHECK=$3 FSLIST=$4 POINTS=$5 SEED=$6 OPS=$7 NKEYS=$8 CLIENTS=$9
PC=/pc
DM=pclog
export DM_DISABLE_UDEV=1
modprobe loop; modprobe dm-log-writes || die "no dm-log-writes"
mkdir -p $PC
mount -t tmpfs -o size=1400m tmpfs $PC || die "tmpfs"
cp "$PCCLIENT" $PC/pc-client
T0=$(now_ms)
total_points=0

# batch_marks: a mark in the log after every meta batch the daemon made
batch_marks() {
	last=0
	while [ ! -f $PC/stop ]; do
		b=$("$LARDERCTL" -s $PC/s stats 2>/dev/null | awk '$1 == "meta.batches" {print $2}')
		if [ -n "$b" ] && [ "$b" != "$last" ]; then
			"$BINDIR"/dmsetup message $DM 0 mark "batch-$b" || echo "mark batch-$b failed" >> $PC/err
			last=$b
		fi
		sleep 0.2
	done
}

one_fs() {
	fs=$1
	t0=$(now_ms)
	rm -f $PC/*.img $PC/stop $PC/err $PC/tally
	truncate -s 320M $PC/data.img; truncate -s 900M $PC/log.img
	modprobe "$fs"
	mopts=
	case $fs in
	ext4) "$BINDIR"/mke2fs -q -t ext4 -E nodiscard $PC/data.img || die "mkfs ext4"; mopts=-onoinit_itable ;;
	xfs) "$BINDIR"/mkfs.xfs -q -K $PC/data.img || die "mkfs xfs" ;;
	esac
	"$LWLOG" copy $PC/data.img $PC/base.img || die "copy the new filesystem"
	D=$(loop_attach $PC/data.img) && L=$(loop_attach $PC/log.img) || die "losetup"
	"$BINDIR"/dmsetup create $DM --table "0 $(blockdev --getsz "$D") log-writes $D $L" || die "dmsetup create log-writes"
	mkdir -p $PC/mnt
	mount -t "$fs" $mopts /dev/mapper/$DM $PC/mnt || die "mount $fs on log-writes"
	mkdir $PC/mnt/cache
	"$BINDIR"/dmsetup message $DM 0 mark start
	printf 'dir %s\nsocket %s\nbackend userspace\n' $PC/mnt/cache $PC/s > $PC/work.conf
	"$LARDERD" -n -s -f $PC/work.conf > $DLOG 2>&1 &
	DPID=$!
	i=0
	until "$LARDERCTL" -s $PC/s status > /dev/null 2>&1; do
		kill -0 $DPID 2>/dev/null || die "larderd exited at start"
		i=$((i + 1)); [ $i -lt 600 ] || die "larderd did not answer in 60 s"
		sleep 0.1
	done
	batch_marks &
	MPID=$!
	# another program on the same filesystem that fsyncs its own file:
	# each fsync commits the journal (log) with whatever metadata larderd
	# changed by then (its xattrs, links), but not larderd's data. So an
	# xattr that ran ahead of its data reaches the disk first, as it can
	# on a real system (without this, the filesystem itself writes data
	# before metadata at its periodic writeback and hides such a bug)
	( while [ ! -f $PC/stop ]; do
		dd if=/dev/zero of=$PC/mnt/other bs=4k count=1 conv=fsync 2>/dev/null
		sleep 0.1
	done ) &
	OPID=$!
	pids=
	c=1
	while [ $c -le "$CLIENTS" ]; do
		PC_MARK="$BINDIR/dmsetup message $DM 0 mark" $PC/pc-client $PC/s work $c "$NKEYS" $((SEED * 100 + c)) "$OPS" > $PC/client.$c 2>&1 &
		pids="$pids $!"
		c=$((c + 1))
	done
	c=1
	for p in $pids; do
		wait "$p" || { cat $PC/client.$c; die "$fs: client $c failed"; }
		c=$((c + 1))
	done
	touch $PC/stop; wait $MPID; wait $OPID
	"$LARDERCTL" -s $PC/s stats | grep -E '^meta\.(batches|fdatasyncs|syncfs|xattr_writes|links)' | tr -s ' ' | tr '\n' ' '; echo
	# no clean end: the daemon is killed, what it had not made durable
	# is what the last points show
	kill -9 $DPID; wait $DPID 2>/dev/null; DPID=
	umount $PC/mnt || die "umount"
	"$BINDIR"/dmsetup remove $DM || die "dmsetup remove"
	losetup -d "$D"; losetup -d "$L"
	rm -f $PC/data.img
	[ ! -s $PC/err ] || die "$(cat $PC/err)"
	"$LWLOG" points $PC/log.img > $PC/points || die "lwlog points"
	n=$(wc -l < $PC/points)
	fl=$(grep -c ' F' $PC/points); fua=$(grep -c ' [F]*U' $PC/points); mk=$(grep -c ' [FU]*M' $PC/points)
	if [ "$POINTS" -gt 0 ] && [ "$n" -gt "$POINTS" ]; then
		# a seeded sample, always with the last point
		{ tail -1 $PC/points; sed '$d' $PC/points | awk -v s="$SEED" 'BEGIN {srand(s)} {print rand(), $1}' | sort -n | head -$((POINTS - 1)) | cut -d' ' -f2; } | cut -d' ' -f1 | sort -n > $PC/list
	else
		cut -d' ' -f1 $PC/points > $PC/list
	fi
	say "$fs: log of $(sed -n 2p /proc/self/mounts >/dev/null; du -k $PC/log.img | cut -f1) KiB, $n points ($fl flush, $fua fua, $mk marks); checking $(wc -l < $PC/list) (seed $SEED); workload $(( ($(now_ms) - t0) / 1000 )) s"
	t1=$(now_ms)
	"$LWLOG" replay $PC/log.img $PC/base.img $PC/snap.img $PC/list \
	    "sh $CHECK $COMMON $LARDERD $LARDERCTL $NOCTL $BINDIR $fs $NKEYS" > $PC/replay.out 2>&1 ||
		{ tail -40 $PC/replay.out; die "$fs: a replayed power cut failed the check"; }
	checked=$(wc -l < $PC/tally)
	[ "$checked" = "$(wc -l < $PC/list)" ] || die "$fs: $checked of $(wc -l < $PC/list) points checked"
	grep -i 'larderd said' $PC/replay.out | head -5
	# a test that never saw claimed data proves nothing
	withdata=$(awk '$2 > 0' $PC/tally | wc -l)
	[ "$withdata" -gt 0 ] || die "$fs: no replayed point had an object claiming data"
	say "$fs: $checked points checked in $(( ($(now_ms) - t1) / 1000 )) s: fsck clean, larderd started and served at each; $withdata had claimed data (at most $(awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' $PC/tally) objects, $(awk 'BEGIN {m = 0} $3 > m {m = $3} END {print m}' $PC/tally) bytes claimed, $(awk '{s += $5} END {print s + 0}' $PC/tally) bytes served over all points), no wrong byte"
	total_points=$((total_points + checked))
	rm -f $PC/*.img
}

for fs in $FSLIST; do one_fs "$fs"; done
say "PASS: $total_points replay points checked in $(( ($(now_ms) - T0) / 1000 )) s"
