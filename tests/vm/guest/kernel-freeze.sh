# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: `freeze defer` in kernel mode while a 9p reader runs. larderctl
# freeze withdraws the cache (the netfs goes on uncached), fsfreeze of the
# cache filesystem does not hang, the reader keeps reading the right
# bytes, and after fsfreeze -u + larderctl thaw the cache is bound again
# and serves reads.
. "$1"
DLOG_LINES=80
[ "$NOCTL" != 1 ] || { echo "SKIP: needs larderctl"; exit 77; }
kernel_conf /tmp/larder.conf
echo "freeze defer" >> /tmp/larder.conf
start_larderd /tmp/larder.conf
mount_share
readall > /tmp/sums.ref || die "first read"

# the reader: whole passes over the share, page cache dropped each time
rm -f /tmp/stop /tmp/reader.err; echo 0 > /tmp/reader.n
(
	n=0
	while [ ! -f /tmp/stop ]; do
		echo 1 > /proc/sys/vm/drop_caches
		readall > /tmp/sums.r 2>/tmp/reader.last || echo "read error: $(cat /tmp/reader.last)" >> /tmp/reader.err
		cmp -s /tmp/sums.r /tmp/sums.ref || echo "pass $n: wrong data" >> /tmp/reader.err
		n=$((n + 1)); count_to /tmp/reader.n $n
	done
) &
RPID=$!
wait_passes 1 60 || die "the reader does not read (no pass in 60 s)"

ctl freeze || die "larderctl freeze: $(cat /tmp/ctl.out)"
say "freeze: $(cat /tmp/ctl.out)"
i=0; while cache_active && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
cache_active && die "cache still active after larderctl freeze (defer withdraws it)"
say "cache withdrawn: $(tail -1 /proc/fs/fscache/caches)"
timeout 60 fsfreeze --freeze "$C" || die "fsfreeze --freeze of the cache fs hung or failed"
say "cache fs frozen"
p0=$(passes); rd0=$(io_rd)
wait_passes 2 60 || die "reads stopped while the cache fs was frozen (passes $p0 -> $(passes) in 60 s)"
p1=$(passes); rd1=$(io_rd)
say "reader passes while frozen: $p0 -> $p1 (cache reads $rd0 -> $rd1)"
[ "$rd1" -eq "$rd0" ] || die "the cache was read while withdrawn"
[ ! -s /tmp/reader.err ] || die "reader: $(head -3 /tmp/reader.err)"
ctl status && grep -E 'kernel.state|freeze.state' /tmp/ctl.out
grep -q 'kernel.state.*withdrawn' /tmp/ctl.out || die "status does not say withdrawn"
kill -0 "$DPID" || die "larderd died"
timeout 60 fsfreeze --unfreeze "$C" || die "fsfreeze --unfreeze"
ctl thaw || die "larderctl thaw: $(cat /tmp/ctl.out)"
say "thaw: $(cat /tmp/ctl.out)"
wait_active 30 || die "cache not bound again after thaw"
wait_log 'bound again' 30 || die "no rebind in the log"
touch /tmp/stop; wait $RPID
[ ! -s /tmp/reader.err ] || die "reader: $(head -3 /tmp/reader.err)"
say "reader: $(passes) passes, no errors"
# caching resumes: a fresh mount reads from the rebound cache. The
# cache writes of the reads before the freeze may have been in flight
# when the freeze withdrew the cache (the kernel drops them: seen on
# 6.12, the objects then hold no data), so the first read after thaw may
# be a fill: read once, wait for the cache writes it started, read again.
umount_share; drop
rd0=$(io_rd)
for round in 1 2; do
	mount_share
	readall > /tmp/sums.after || die "read $round after thaw"
	umount_share
	cmp /tmp/sums.ref /tmp/sums.after || die "data differs after thaw (read $round)"
	kf_settle 60 || die "cache writes never ended: $(kf_cache_writes)"
	drop
done
rd=$(io_rd)
say "cache reads after thaw (two fresh mounts): $rd0 -> $rd"
[ "$rd" -gt "$rd0" ] || die "not served from the cache after thaw"
ctl stats && grep -E 'kernel.withdrawals|kernel.rebinds' /tmp/ctl.out
stop_daemon
say "PASS"
