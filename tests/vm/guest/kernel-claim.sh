# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: while larderd runs in kernel mode, `mount -o remount,ro` of the
# cache filesystem fails (the write claim on the private mount), and a
# read-only bind mount of the cache dir does not affect the cache. After
# larderd stops, the same remount succeeds (so it was the claim).
. "$1"
kernel_conf /tmp/larder.conf
start_larderd /tmp/larder.conf

# 1. remount read-only must fail while larderd runs
if mount -o remount,ro "$C" 2>/tmp/remount.err; then
	grep " $C " /proc/mounts
	die "remount,ro of the cache fs succeeded while larderd runs"
fi
say "remount,ro refused: $(cat /tmp/remount.err)"
grep " $C " /proc/mounts | grep -q ' rw[, ]' || die "cache fs is not rw any more"

# 2. a read-only bind mount of the cache dir: the cache goes on caching
mkdir -p /mnt/robind
mount -o bind "$C" /mnt/robind || die "bind mount"
mount -o remount,bind,ro /mnt/robind || die "remount,bind,ro"
grep ' /mnt/robind ' /proc/mounts
touch /mnt/robind/x 2>/dev/null && die "the ro bind mount is writable"
wr0=$(io_wr)
mount_share
readall > /tmp/sums.1 || die "read"
umount_share; drop
wr=$(io_wr)
say "cache writes with the ro bind mount: $wr0 -> $wr"
[ "$wr" -gt "$wr0" ] || die "nothing cached while the ro bind mount exists"
cache_active || die "cache not active any more"
mount_share
rd0=$(io_rd)
readall > /tmp/sums.2 || die "read 2"
umount_share
rd=$(io_rd)
[ "$rd" -gt "$rd0" ] || die "second read not from the cache"
cmp /tmp/sums.1 /tmp/sums.2 || die "data differs"
umount /mnt/robind

# 3. the private mount is invisible here: the kernel's dir is not in our
# mount table
grep -q '/run/larder/cache\.' /proc/mounts && die "private mount visible in the init namespace"
if [ "$NOCTL" != 1 ]; then
	ctl status || die "larderctl status: $(cat /tmp/ctl.out)"
	grep -q 'mount.claim.*held' /tmp/ctl.out || die "status: claim not held: $(cat /tmp/ctl.out)"
fi

# 4. without larderd, the remount works: the claim was what refused it
stop_daemon
mount -o remount,ro "$C" || die "remount,ro fails even without larderd"
mount -o remount,rw "$C" || die "remount,rw"
say "PASS"
