# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: one replay point of tests/vm/t-powercut-kernel.sh (run by
# `lwlog replay' with LW_INDEX and LW_MARK set) on /pc/snap.img: mount,
# unmount, fsck must be clean; what the kernel's objects look like is
# printed; larderd starts in kernel mode and binds; every file read
# through 9p fscache has the share's bytes (/pc/ref.md5); larderd is alive
# and stops on SIGTERM. Appends "index objects content..." to /pc/tally.
# args: COMMON_SH LARDERD LARDERCTL NOCTL BINDIR CFMT
. "$1"; shift 4
BINDIR=$1 CFMT=$2
PC=/pc
at="point $LW_INDEX${LW_MARK:+ (mark $LW_MARK)}"
dev=$(loop_attach $PC/snap.img) || die "$at: losetup"
mount -t ext4 -o noinit_itable "$dev" "$C" || die "$at: does not mount"
umount "$C" || die "$at: umount"
"$BINDIR"/e2fsck -fn "$dev" > $PC/fsck.out 2>&1 || { cat $PC/fsck.out; die "$at: fsck is not clean"; }
mount -t ext4 -o noinit_itable "$dev" "$C" || die "$at: does not mount again"
# the objects as the power cut left them: content byte of each xattr
# (hex digits 35-36 of the dump's xattr), "none" when it has no xattr
"$CFMT" dump "$C" > $PC/dump.out 2>&1
objs=$(grep -c '^OBJ' $PC/dump.out)
contents=$(awk '$1 == "OBJ" {x = $4; print (x ~ /^none/) ? "noxattr" : "c" substr(x, 35, 2)}' $PC/dump.out | tr '\n' ' ')
grep '^BAD' $PC/dump.out && die "$at: cfmt-tool finds a bad name"
kernel_conf /tmp/larder.conf
start_larderd /tmp/larder.conf
rd0=$(io_rd)
mount_share
(cd $M && md5sum f*) > $PC/got.md5 || die "$at: a read through the cache failed"
kf_settle 60 || die "$at: cache writes never ended"
umount_share
i=0
until grep -q '^Cookies: n=0 ' /proc/fs/fscache/stats; do
	i=$((i + 1)); [ $i -lt 600 ] || die "$at: cookies never went away"
	sleep 0.1
done
cmp -s $PC/ref.md5 $PC/got.md5 || { diff $PC/ref.md5 $PC/got.md5; die "$at: 9p reads through the cache differ from the share"; }
kill -0 "$DPID" 2>/dev/null || die "$at: larderd died"
stop_daemon
umount "$C" || die "$at: umount after"
losetup -d "$dev"
say "$at: $objs objects: ${contents:-none}; reads from the cache $(( $(io_rd) - rd0 ))"
echo "$LW_INDEX $objs $contents" >> $PC/tally
exit 0
