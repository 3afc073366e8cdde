# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: freezes of the cache filesystem under 9p fscache readers, in
# kernel mode. Each pass of the reader creates a new file in the share
# (through a second mount without fscache) and reads every file through
# the fscache mount, so the kernel keeps creating and writing cache
# objects while the freezes happen.
#  1. `larderctl freeze --fs`: larderd withdraws the cache, freezes the
#     filesystem itself, the reader keeps reading right bytes, thaw
#     rebinds the cache and reads come from it again. Judged.
#  2. An unannounced `fsfreeze -f` of the cache filesystem: what the
#     reader and larderd do within WINDOW seconds is printed ("MEASURE"
#     lines); judged only where larderd promises something (it keeps
#     answering larderctl; after the thaw the reader goes on and the
#     cache is bound and serving).
# args (after the common ones): WINDOW (seconds, default 20)
. "$1"; shift 4
WINDOW=${1:-20}
DLOG_LINES=80
[ "$NOCTL" != 1 ] || { echo "SKIP: needs larderctl"; exit 77; }
kernel_conf /tmp/larder.conf
printf 'freeze defer\nfreeze_timeout 120\n' >> /tmp/larder.conf
start_larderd /tmp/larder.conf
mount_share
W=/mnt/w
mkdir -p $W
mount -t 9p -o trans=virtio,version=9p2000.L "$VM_SHARE_TAG" $W || die "mount 9p without fscache"
readall > /dev/null || die "first read"

rm -f /tmp/stop /tmp/reader.err; echo 0 > /tmp/reader.n
(
	n=0
	while [ ! -f /tmp/stop ]; do
		dd if=/dev/urandom of=$W/new.$n bs=64k count=1 2>/dev/null
		rm -f $W/new.$((n - 3))
		echo 1 > /proc/sys/vm/drop_caches
		for f in $W/*; do
			[ -f "$f" ] || continue
			a=$(md5sum < "$f") b=$(md5sum < "$M/${f##*/}" 2>/tmp/reader.last) ||
				echo "pass $n: read error on ${f##*/}: $(cat /tmp/reader.last)" >> /tmp/reader.err
			[ "$a" = "$b" ] || echo "pass $n: wrong data in ${f##*/}" >> /tmp/reader.err
		done
		n=$((n + 1)); echo $n > /tmp/reader.n
	done
) &
RPID=$!
passes() { cat /tmp/reader.n; }
wait_passes() {
	wp_to=$(($(passes) + $1)) wp_i=0
	while [ "$(passes)" -lt $wp_to ]; do
		wp_i=$((wp_i + 1))
		[ $wp_i -lt $(($2 * 10)) ] || return 1
		sleep 0.1
	done
}
wait_passes 2 60 || die "the reader does not read"
reader_ok() { [ ! -s /tmp/reader.err ] || die "reader: $(head -3 /tmp/reader.err)"; }

# ---- 1. larderctl freeze --fs ----
ctl freeze --fs --timeout 120 || die "larderctl freeze --fs: $(cat /tmp/ctl.out)"
say "freeze --fs: $(cat /tmp/ctl.out)"
ctl status || die "larderctl status while frozen"
grep -q 'freeze.fs.*frozen' /tmp/ctl.out || die "status does not say the fs is frozen: $(grep freeze /tmp/ctl.out | tr '\n' ' ')"
cache_active && die "the cache is still bound while larderd froze its filesystem"
p0=$(passes); rd0=$(io_rd)
wait_passes 3 120 || die "the reader blocked while larderd had the cache fs frozen (passes $p0 -> $(passes))"
say "reader passes while frozen by larderd: $p0 -> $(passes), cache reads $rd0 -> $(io_rd)"
reader_ok
ctl thaw || die "larderctl thaw: $(cat /tmp/ctl.out)"
wait_active 60 || die "cache not bound again after thaw"
rd0=$(io_rd)
wait_passes 2 120 || die "the reader stopped after the thaw"
[ "$(io_rd)" -gt "$rd0" ] || die "no reads from the cache after the thaw ($rd0 -> $(io_rd))"
reader_ok
say "after thaw: bound, cache reads $rd0 -> $(io_rd)"

# ---- 2. an unannounced fsfreeze ----
wait_passes 1 60 || die "the reader stopped"
p0=$(passes); rd0=$(io_rd); t0=$(now_ms)
fsfreeze -f "$C" || die "fsfreeze -f"
say "MEASURE $(uname -r): cache fs frozen behind larderd's back"
i=0 first=""
while [ $i -lt $((WINDOW * 10)) ]; do
	[ -n "$first" ] || [ "$(passes)" -lt $((p0 + 2)) ] || first=$(( $(now_ms) - t0 ))
	sleep 0.1; i=$((i + 1))
done
p1=$(passes)
timeout 5 "$LARDERCTL" status > /tmp/ctl.out 2>&1 || die "larderctl status did not answer within 5 s while the fs was frozen"
say "MEASURE $(uname -r): reader passes in ${WINDOW} s frozen: $p0 -> $p1 (2 passes after ${first:-never} ms); cache reads $rd0 -> $(io_rd); kernel.state $(sed -n 's/^kernel.state *//p' /tmp/ctl.out); freeze.state $(sed -n 's/^freeze.state *//p' /tmp/ctl.out)"
say "MEASURE $(uname -r): larderd said: $(grep -i -E 'stall|frozen|withdr' $DLOG | tail -3 | tr '\n' '|')"
blocked=$(for p in /proc/[0-9]*; do s=$(sed -n 's/^State:\t\(.\).*/\1/p' $p/status 2>/dev/null); [ "$s" = D ] && echo "$(cat $p/comm 2>/dev/null)"; done | sort | uniq -c | tr '\n' ' ')
say "MEASURE $(uname -r): tasks in D state: ${blocked:-none}"
fsfreeze -u "$C" || die "fsfreeze -u"
kill -0 "$DPID" || die "larderd died"
wait_active 120 || die "cache not bound after the unannounced freeze ended"
wait_passes 2 120 || die "the reader did not go on after the thaw"
rd0=$(io_rd)
wait_passes 2 120 || die "the reader stopped"
[ "$(io_rd)" -gt "$rd0" ] || die "no reads from the cache after the unannounced freeze"
reader_ok
touch /tmp/stop; wait $RPID
reader_ok
say "reader: $(passes) passes, no errors"
stop_daemon
say "PASS"
