# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: the cache device misbehaves while larderd fills (dm-flakey), and
# comes back (tests/vm/t-flakey.sh). The cache filesystem (FS) lives on a
# device-mapper device over a loop device (a file on tmpfs) whose table is
# swapped live (load, suspend --nolockfs, resume) between linear and
# flakey with drop_writes or error_writes for WINDOW seconds. Judged, for
# each mode: every byte served before, during and after is right; what
# the disk claims is served; larderd keeps running (the same process) and
# answers status; after the device is back new fills are taken and
# claimed on disk; with error_writes, larderd notices (the meta thread's
# barrier fails: store.sync_failures grows and the claim is dropped).
# The filesystem is ext4 without a journal: with one, the first failed
# journal write aborts it and ext4 remounts read-only for good (seen on
# 6.1: "Aborting journal", "Remounting filesystem read-only"), and xfs
# shuts down on a failed log write: no daemon recovers from that without
# a remount. Without a journal a failed write costs only what was written.
# args (after the common ones): BINDIR PCCLIENT WINDOW
. "$1"; shift 4
BINDIR=$1 PCCLIENT=$2 WINDOW=$3
FS=ext4
PC=/pc
DM=flaky
S=$PC/s
NKEYS=16
export DM_DISABLE_UDEV=1
# the kernel's I/O error messages go to dmesg, not to the test's output
dmesg -n 1
modprobe loop; modprobe dm-flakey || die "no dm-flakey"; modprobe "$FS"
mkdir -p $PC
mount -t tmpfs -o size=600m tmpfs $PC || die "tmpfs"
cp "$PCCLIENT" $PC/pc-client
truncate -s 320M $PC/data.img
"$BINDIR"/mke2fs -q -t ext4 -O ^has_journal -E nodiscard $PC/data.img || die "mkfs ext4"
D=$(loop_attach $PC/data.img) || die "losetup"
SZ=$(blockdev --getsz "$D")
"$BINDIR"/dmsetup create $DM --table "0 $SZ linear $D 0" || die "dmsetup create"
# table TABLE: swap the device's table live, without freezing the fs
table() {
	"$BINDIR"/dmsetup load $DM --table "$1" &&
	"$BINDIR"/dmsetup suspend --nolockfs $DM &&
	"$BINDIR"/dmsetup resume $DM || die "cannot swap the table to '$1'"
}
mkdir -p $PC/mnt
mount -t "$FS" /dev/mapper/$DM $PC/mnt || die "mount"
mkdir $PC/mnt/cache
printf 'dir %s\nsocket %s\nbackend userspace\n' $PC/mnt/cache $S > $PC/conf
"$LARDERD" -n -s -f $PC/conf > $DLOG 2>&1 &
DPID=$!
i=0
until "$LARDERCTL" -s $S status > /dev/null 2>&1; do
	kill -0 $DPID 2>/dev/null || die "larderd exited at start"
	i=$((i + 1)); [ $i -lt 600 ] || die "larderd did not answer in 60 s"
	sleep 0.1
done
stat_of() { { "$LARDERCTL" -s $S status; "$LARDERCTL" -s $S stats; } | awk -v k="$1" '$1 == k {print $2}'; }
alive() { kill -0 $DPID 2>/dev/null || die "larderd died ($1)"; "$LARDERCTL" -s $S status > /dev/null || die "larderd does not answer status ($1)"; }
# work ID OPS WHAT: fills from client ID; every byte it reads back is checked
# (keys pc-0 .. pc-15; with BASE, pc-BASE .. pc-BASE+15)
work() { $PC/pc-client $S work "$1" $NKEYS "$1" "$2" ${4:-} > $PC/work.out 2>&1 || { cat $PC/work.out; die "client $1 ($3) failed"; }; }
# disk WHAT: what the disk claims now: "objects bytes"
disk() {
	$PC/pc-client - disk $PC/mnt/cache $NKEYS > $PC/disk.out 2>&1 || { cat $PC/disk.out; die "disk check ($1)"; }
	sed -n 's/^disk: \([0-9]*\) objects, \([0-9]*\) bytes.*/\1 \2/p' $PC/disk.out
}
# serve WHAT: everything the disk claims is served, every served byte right
serve() {
	$PC/pc-client $S serve $PC/mnt/cache $NKEYS > $PC/serve.out 2>&1 || { cat $PC/serve.out; die "serve check ($1)"; }
	sed -n 's/^serve: //p' $PC/serve.out
}
# settled: the meta queue is empty (what larderd will claim is claimed)
settled() {
	i=0
	while [ "$(stat_of store.meta_pending)/$(stat_of store.io_inflight)" != 0/0 ]; do
		i=$((i + 1)); [ $i -lt 300 ] || die "meta queue never empties"
		sleep 0.1
	done
}

id=1
work $id 20 "before"; id=$((id + 1))
settled
say "before: served $(serve before)"
base=0
for mode in drop_writes error_writes; do
	base=$((base + 100))
	f0=$(stat_of store.sync_failures); e0=$(stat_of store.errors)
	# what is good before the window: the window's fills go to keys of
	# their own (pc-100 .., pc-200 ..), so all of it must still be served
	# during it
	set -- $(disk "before $mode"); good=$1 goodb=$2
	table "0 $SZ flakey $D 0 0 3600 1 $mode"
	t0=$(now_ms)
	n=0
	# fills and reads while the device misbehaves, for WINDOW seconds
	while [ $(( $(now_ms) - t0 )) -lt $((WINDOW * 1000)) ] || [ $n -lt 2 ]; do
		work $id 6 "during $mode" $base; id=$((id + 1)); n=$((n + 1))
		alive "during $mode"
	done
	settled
	during=$(serve "during $mode")
	f1=$(stat_of store.sync_failures); e1=$(stat_of store.errors)
	table "0 $SZ linear $D 0"
	set -- $during
	# (serve fails if any range the disk claims is not served)
	[ "$1" -ge "$good" ] || die "$mode: $good objects were good before, only $during during"
	say "$mode: $n rounds of fills in $(( ($(now_ms) - t0) / 1000 )) s; served during: $during; store.sync_failures $f0 -> $f1, store.errors $e0 -> $e1"
	if [ $mode = error_writes ]; then
		[ "$f1" -gt "$f0" ] || die "error_writes: larderd did not notice (store.sync_failures $f0 -> $f1)"
		grep 'forgotten' $DLOG | head -2
	fi
	alive "after $mode"
	# back to normal: fills are taken and claimed on disk again
	work $id 20 "after $mode"; id=$((id + 1))
	settled
	after=$(serve "after $mode")
	set -- $(disk "after $mode")
	[ "${1:-0}" -gt 0 ] || die "after $mode: no object claims data on disk: $(cat $PC/disk.out)"
	say "$mode: good before: $good objects, $goodb bytes; after: served $after; on disk: $1 objects, $2 bytes claimed"
done
grep -i -E 'warn|error' $DLOG | grep -v ' 0 errors$' | sort | uniq -c | sort -rn | head -5
dmesg | grep -i -E 'ext4|xfs|jbd2' | grep -v -i 'mounted\|unmount' | tail -5
kill $DPID; wait $DPID; rc=$?; DPID=
[ $rc = 0 ] || die "larderd exited $rc on SIGTERM"
umount $PC/mnt || die "umount"
say "PASS"
