# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: larderd in kernel mode with the VM's own cachefilesd.conf (plus
# `backend kernel`); 9p cache=fscache; the second read after umount +
# drop_caches must come from the cache (fscache IO rd > 0).
. "$1"
kernel_conf /tmp/larder.conf
start_larderd /tmp/larder.conf
say "cache: $(grep ' A ' /proc/fs/fscache/caches)"
# the kernel works on the private mount, not on $C
[ -f "$C/larder.lock" ] || die "no write claim file in $C"
mount_share
readall > /tmp/sums.1 || die "first read"
umount_share; drop
rd0=$(io_rd); wr=$(io_wr)
say "after 1st pass: rd=$rd0 wr=$wr"
[ "${wr:-0}" -gt 0 ] || die "nothing was written to the cache"
nobj=$(find "$C/cache" -type f | wc -l)
say "objects in the cache: $nobj"
[ "$nobj" -gt 0 ] || die "no objects in $C/cache"
mount_share
readall > /tmp/sums.2 || die "second read"
umount_share
rd=$(io_rd)
say "after 2nd pass: rd=$rd"
cmp /tmp/sums.1 /tmp/sums.2 || die "data differs between the passes"
[ "${rd:-0}" -gt "${rd0:-0}" ] || die "second pass not served from the cache"
# larderctl talks to it in kernel mode
if [ "$NOCTL" != 1 ]; then
	ctl status || die "larderctl status: $(cat /tmp/ctl.out)"
	grep -q 'kernel.state.*bound' /tmp/ctl.out || die "status shows no bound kernel cache: $(cat /tmp/ctl.out)"
	grep -q 'kernel.brun_blocks' /tmp/ctl.out || die "status shows no kernel thresholds"
	ctl stats || die "larderctl stats: $(cat /tmp/ctl.out)"
	say "larderctl status and stats: ok"
fi
stop_daemon
cache_active && die "cache still active after larderd stopped"
grep -E 'kernel:' $DLOG | head -5
say "PASS"
