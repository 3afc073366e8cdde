# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: freezes of the cache filesystem under 9p fscache readers, in
# kernel mode. A writer adds a file to the share through the fscache mount
# after each pass of the reader; the reader only reads, through the same
# mount (page cache dropped before each pass), every file whose bytes are
# known, and checks them. So the kernel keeps creating and writing cache
# objects while the freezes happen.
#  1. `larderctl freeze --fs`: larderd withdraws the cache, freezes the
#     filesystem itself, the reader keeps reading right bytes, thaw
#     rebinds the cache and reads come from it again. Judged.
#  2. An unannounced `fsfreeze --freeze` of the cache filesystem: what the
#     reader, the writer and larderd do is printed ("MEASURE" lines), then
#     what a withdrawal of the cache (larderctl freeze) changes while the
#     filesystem stays frozen. Judged where larderd promises something:
#     it notices (its write probe waits: "writes stalled", freeze.state
#     stalled), keeps answering larderctl, answers a freeze at once, and
#     after the thaw the reader goes on and the cache is bound and serving
#     again. Whether the reader itself goes on while frozen is measured
#     and printed, not judged: that is the kernel's doing (larderd(8)).
# args (after the common ones): WINDOW (seconds, default 20)
. "$1"; shift 4
WINDOW=${1:-20}
DLOG_LINES=80
[ "$NOCTL" != 1 ] || { echo "SKIP: needs larderctl"; exit 77; }
kernel_conf /tmp/larder.conf
printf 'freeze defer\nfreeze_timeout 120\n' >> /tmp/larder.conf
start_larderd /tmp/larder.conf
mount_share
mkdir -p /tmp/ref
for f in $M/*; do cp "$f" /tmp/ref/ || die "first read"; done

rm -f /tmp/stop /tmp/reader.err; echo 0 > /tmp/reader.n; echo 0 > /tmp/writer.n
# the reader: only reads
(
	n=0
	while [ ! -f /tmp/stop ]; do
		echo 1 > /proc/sys/vm/drop_caches
		for f in /tmp/ref/*; do
			b=$(md5sum < "$M/${f##*/}" 2>/tmp/reader.last) ||
				echo "pass $n: read error on ${f##*/}: $(cat /tmp/reader.last)" >> /tmp/reader.err
			[ "$(md5sum < "$f")" = "$b" ] || echo "pass $n: wrong data in ${f##*/}" >> /tmp/reader.err
		done
		n=$((n + 1)); count_to /tmp/reader.n $n
	done
) &
RPID=$!
# the writer: a new 64 KiB file for each pass of the reader, known to the
# reader once it is whole
(
	n=0
	while [ ! -f /tmp/stop ]; do
		if [ "$(passes)" -le $n ]; then sleep 0.1; continue; fi
		dd if=/dev/urandom of=/tmp/new.$n bs=64k count=1 2>/dev/null
		cp /tmp/new.$n $M/new.$n || echo "writer $n: cannot write new.$n" >> /tmp/reader.err
		mv /tmp/new.$n /tmp/ref/new.$n
		n=$((n + 1)); count_to /tmp/writer.n $n
	done
) &
WPID=$!
writes() { cat /tmp/writer.n; }
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
K=$(uname -r)
# dstate: the commands of the tasks in uninterruptible sleep, counted
dstate() {
	for p in /proc/[0-9]*; do
		[ "$(sed -n 's/^State:.\(.\).*/\1/p' $p/status 2>/dev/null)" = D ] && sed 's/[0-9:/]*+/+/; s/kworker\/.*+/kworker+/' $p/comm
	done 2>/dev/null | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep = ", "}'
}
# watch SECONDS WHAT: reader and writer progress over SECONDS, printed
watch() {
	p0=$(passes); w0=$(writes); rd0=$(io_rd)
	i=0
	while [ $i -lt $(($1 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	say "MEASURE $K: $2: in $1 s reader passes $p0 -> $(passes), writer files $w0 -> $(writes), cache reads $rd0 -> $(io_rd); D state: $(dstate)"
}
fsfreeze --freeze "$C" || die "fsfreeze --freeze"
t0=$(now_ms)
# larderd notices (its write probe waits): judged, within 30 s
wait_log 'writes stalled' 30 || die "larderd did not notice the freeze in 30 s"
say "larderd noticed in $(( $(now_ms) - t0 )) ms: $(grep 'writes stalled' $DLOG | tail -1)"
watch "$WINDOW" "unannounced freeze, cache bound"
t0=$(now_ms)
timeout 60 "$LARDERCTL" status > /tmp/ctl.out 2>&1 || die "larderctl status did not answer within 60 s while the fs was frozen"
say "MEASURE $K: larderctl status answered in $(( $(now_ms) - t0 )) ms: kernel.state $(sed -n 's/^kernel.state *//p' /tmp/ctl.out), freeze.state $(sed -n 's/^freeze.state *//p' /tmp/ctl.out)"
grep -q '^freeze.state *stalled' /tmp/ctl.out || die "status does not say stalled: $(grep '^freeze.state' /tmp/ctl.out)"
# a freeze asked now is ready at once (the fs is frozen already); its
# withdrawal of the cache waits for the thaw
t0=$(now_ms)
timeout 30 "$LARDERCTL" freeze > /tmp/ctl.out 2>&1 || die "larderctl freeze during the stall: $(cat /tmp/ctl.out)"
say "MEASURE $K: larderctl freeze answered in $(( $(now_ms) - t0 )) ms: $(head -1 /tmp/ctl.out); /proc/fs/fscache/caches: $(tail -1 /proc/fs/fscache/caches | tr -s ' ')"
watch "$WINDOW" "unannounced freeze, after the withdrawal"
timeout 60 fsfreeze --unfreeze "$C" || die "fsfreeze --unfreeze"
kill -0 "$DPID" || die "larderd died"
ctl thaw || say "larderctl thaw: $(cat /tmp/ctl.out)"
wait_active 120 || die "cache not bound after the unannounced freeze ended"
wait_passes 2 120 || die "the reader did not go on after the thaw"
rd0=$(io_rd)
wait_passes 2 120 || die "the reader stopped"
[ "$(io_rd)" -gt "$rd0" ] || die "no reads from the cache after the unannounced freeze"
reader_ok
touch /tmp/stop; wait $RPID; wait $WPID
reader_ok
say "reader: $(passes) passes, no errors"
stop_daemon
say "PASS"
