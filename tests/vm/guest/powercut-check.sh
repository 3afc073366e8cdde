# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: one replay point of tests/vm/t-powercut.sh, run by `lwlog replay'
# with LW_INDEX and LW_MARK set, on the image $PC/snap.img that holds the
# cache filesystem as a power cut at that point would have left it.
#   1. mount it (the journal or log is replayed), unmount, and the
#      filesystem checker must find it clean;
#   2. every byte an object's xattrs claim is on disk and right
#      (pc-client disk);
#   3. larderd starts on it, and serves every claimed range, and every
#      byte it serves is right (pc-client serve); it stops cleanly.
# One line per point is appended to $PC/tally: index objects claimed-bytes
# served-objects served-bytes.
# args: COMMON_SH LARDERD LARDERCTL NOCTL BINDIR FS NKEYS
. "$1"; shift 4
BINDIR=$1 FS=$2 NKEYS=$3
PC=/pc
K=$PC/chk
S=$PC/chk.sock
at="point $LW_INDEX${LW_MARK:+ (mark $LW_MARK)}"
DLOG=$PC/chk.log
mkdir -p $K
dev=$(loop_attach $PC/snap.img) || die "$at: losetup"
mnt_opts=
[ "$FS" = ext4 ] && mnt_opts=-onoinit_itable
mount -t "$FS" $mnt_opts "$dev" $K || die "$at: the filesystem does not mount"
umount $K || die "$at: umount"
case $FS in
ext4) "$BINDIR"/e2fsck -fn "$dev" > $PC/fsck.out 2>&1 ;;
xfs) "$BINDIR"/xfs_repair -n "$dev" > $PC/fsck.out 2>&1 ;;
esac
rc=$?
[ $rc = 0 ] || { cat $PC/fsck.out; die "$at: fsck of $FS says $rc"; }
mount -t "$FS" $mnt_opts "$dev" $K || die "$at: the filesystem does not mount again"
# the cache directory is made right after the mount: an early point may
# not have it yet (the admin's part, not larderd's)
mkdir -p $K/cache
/pc/pc-client - disk $K/cache "$NKEYS" > $PC/disk.out 2>&1 ||
	{ cat $PC/disk.out; die "$at: the disk claims bytes it does not hold"; }
printf 'dir %s\nsocket %s\nbackend userspace\n' $K/cache $S > $PC/chk.conf
"$LARDERD" -n -s -f $PC/chk.conf > $DLOG 2>&1 &
DPID=$!
i=0
until "$LARDERCTL" -s $S status > /dev/null 2>&1; do
	kill -0 $DPID 2>/dev/null || { DPID=; die "$at: larderd exited at start"; }
	i=$((i + 1)); [ $i -lt 600 ] || die "$at: larderd did not answer in 60 s"
	sleep 0.1
done
/pc/pc-client $S serve $K/cache "$NKEYS" > $PC/serve.out 2>&1 ||
	{ cat $PC/serve.out; die "$at: larderd served wrong bytes or not what the disk claims"; }
kill $DPID
wait $DPID; rc=$?
DPID=
[ $rc = 0 ] || die "$at: larderd exited $rc on SIGTERM"
# what larderd complained about (not judged: a cache may drop what it
# finds; the tally shows what it kept)
grep -v ' 0 errors$' $DLOG | grep -i -E 'warn|error|fail|stale|bad' > $PC/said && say "$at: larderd said: $(head -3 $PC/said | tr '\n' ' ')"
umount $K || die "$at: umount after larderd"
losetup -d "$dev"
d=$(sed -n 's/^disk: \([0-9]*\) objects, \([0-9]*\) bytes.*/\1 \2/p' $PC/disk.out)
s=$(sed -n 's/^serve: \([0-9]*\) objects, \([0-9]*\) bytes.*/\1 \2/p' $PC/serve.out)
echo "$LW_INDEX $d $s" >> $PC/tally
exit 0
