# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: a small cache disk and more data than fits. Three sets of files
# are read one after the other (A, then B, then C; the 9p share is
# unmounted between sets so that the kernel commits the objects). C does
# not fit: larderd must cull, oldest first (A before B, B before C), back
# above brun, while C keeps being cached. Culling rightly stops at brun,
# so what goes is an oldest-first prefix, not necessarily all of A
# (kfacts.sh).
# args (after the common ones): PER_SET: files per set (3 MiB each) in the
# share, named f000.. (set A first)
. "$1"; shift 4
PER=${1:-8}
N=$((PER * 3))
DLOG_LINES=200
kernel_conf /tmp/larder.conf
start_larderd /tmp/larder.conf
say "cache fs: $(df -P "$C" | tail -1)"

present() { [ -n "$(find "$C/cache" -type f -name "$1" 2>/dev/null)" ]; }

# readset FIRST LAST [pace]: read_range (common.sh) on a fresh mount
readset() {
	mount_share
	read_range "$@"
	umount_share; drop
	say "read f$(printf %03d $1)..f$(printf %03d $2): free $(bfree_pct)%, objects $(find "$C/cache" -type f | wc -l)"
	find "$C/cache" -type f -exec stat -c "%X %Y %n" {} + | sed "s|$C/cache/[^/]*/||" | sort | tr "\n" " "; echo
}
# later_than_cache: wait until the clock is past every atime in the cache,
# so the next set's uses are later than anything before (atimes are in
# whole seconds in the listing, and two sets must not share one)
later_than_cache() {
	newest=$(find "$C/cache" -type f -exec stat -c %X {} + | sort -n | tail -1)
	t=0
	while [ "$(date +%s)" -le "${newest:-0}" ]; do
		t=$((t + 1))
		[ $t -lt 50 ] || die "the clock does not move past $newest"
		sleep 0.1
	done
}
readset 0 $((PER - 1))
later_than_cache
readset $PER $((2 * PER - 1))
later_than_cache
readset $((2 * PER)) $((N - 1)) pace
say "$waits waits for the culler"

# the kernel's cull zone is below bcull; once culling starts it goes on
# until brun: wait until we are out of the zone and the daemon is idle
t=0
while [ "$(bfree_pct)" -lt 7 ]; do
	t=$((t + 1))
	[ $t -lt 60 ] || die "free space stayed at $(bfree_pct)% (< bcull 7%) for 60 s"
	sleep 1
done
kill -0 "$DPID" || die "larderd died"
say "free $(bfree_pct)%"

# what is left, per set
st=""; i=0
while [ $i -lt $N ]; do
	if present "$(cat /tmp/name.$i)"; then st="${st}1"; else st="${st}0"; fi
	i=$((i + 1))
done
A=$(echo "$st" | cut -c1-$PER); B=$(echo "$st" | cut -c$((PER + 1))-$((2 * PER))); Cs=$(echo "$st" | cut -c$((2 * PER + 1))-)
say "kept (1) per file: A=$A B=$B C=$Cs"
case $st in *0*) ;; *) die "nothing was culled" ;; esac
# oldest first: no B object culled while an A object is left, no C
# object culled while a B object is left
case $A in *1*) case $B in *0*) die "B culled before A" ;; esac ;; esac
case $B in *1*) case $Cs in *0*) die "C culled before B" ;; esac ;; esac
case $A in *0*) ;; *) die "A (oldest) not culled first: A=$A" ;; esac
# reads keep being cached: the newest set is in the cache...
case $Cs in *0*) die "newest set C not all cached: $Cs" ;; esac
# ...and served from it
mount_share
rd0=$(io_rd)
cat "$(fname $((N - 1)))" "$(fname $((N - 2)))" > /dev/null
umount_share
rd=$(io_rd)
say "reads from the cache for the two newest: $rd0 -> $rd"
[ "$rd" -gt "$rd0" ] || die "newest files not served from the cache after culling"
if [ "$NOCTL" != 1 ]; then
	ctl stats || die "larderctl stats: $(cat /tmp/ctl.out)"
	grep -E 'kernel.culled' /tmp/ctl.out || die "no kernel.culled in stats"
	ctl status || die "larderctl status"
	grep -E 'kernel.culling' /tmp/ctl.out
fi
stop_daemon
say "PASS"
