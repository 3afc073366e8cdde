# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: least recently used means least recently used in kernel mode
# (issue 12). A 64 MiB cache disk and three sets of files: A read (the
# kernel fills the cache), A read again (from the cache), B read, A read
# again (from the cache: now the most recently used), then C, which does
# not fit. larderd must cull B, the set used longest ago, and keep A.
# With relatime on the mount the kernel reads through, A's last read does
# not move its atime (it is already newer than its mtime), so A looks
# older than B and goes first. No sleeps between the sets: atimes are
# fine-grained enough (the kernel's clock tick) for reads in a row.
# args (after the common ones): PER: files per set (3 MiB each) in the
# share, named f000.. (set A first)
. "$1"; shift 4
PER=${1:-6}
N=$((PER * 3))
DLOG_LINES=200
kernel_conf /tmp/larder.conf
start_larderd /tmp/larder.conf
grep "private clone" $DLOG
say "cache fs: $(df -P "$C" | tail -1)"

objpath() { find "$C/cache" -type f -name "$1" 2>/dev/null; }

# readset FIRST LAST [pace]: read_range (common.sh) on a fresh mount,
# counting the reads served by the cache
readset() {
	mount_share
	rd0=$(io_rd)
	read_range "$@"
	rd=$(io_rd)
	umount_share; drop
	say "read f$(printf %03d $1)..f$(printf %03d $2): $((rd - rd0)) reads from the cache, free $(bfree_pct)%"
}
# atimes FIRST LAST: the objects' atimes, to the nanosecond
atimes() {
	i=$1; out=""
	while [ "$i" -le "$2" ]; do
		f=$(objpath "$(cat /tmp/name.$i)")
		out="$out $(stat -c %x "$f" 2>/dev/null | cut -d' ' -f2)"
		i=$((i + 1))
	done
	echo "$out"
}
A1=$((PER - 1)); B0=$PER; B1=$((2 * PER - 1)); C0=$((2 * PER))
readset 0 $A1				# A: fills the cache
readset 0 $A1				# A again: from the cache
say "A atimes after its 2nd read:$(atimes 0 $A1)"
readset $B0 $B1				# B
say "B atimes:$(atimes $B0 $B1)"
readset 0 $A1				# A again: the most recently used now
say "A atimes after its 3rd read:$(atimes 0 $A1)"
[ "$(io_rd)" -gt 0 ] || die "nothing was read from the cache"
readset $C0 $((N - 1)) pace		# C: more than fits
say "$waits waits for the culler"
t=0
while [ "$(bfree_pct)" -lt 7 ]; do
	t=$((t + 1))
	[ $t -lt 600 ] || die "free space stayed at $(bfree_pct)% (< bcull 7%) for 60 s"
	sleep 0.1
done
kill -0 "$DPID" || die "larderd died"

st=""; i=0
while [ $i -lt $N ]; do
	if [ -n "$(objpath "$(cat /tmp/name.$i)")" ]; then st="${st}1"; else st="${st}0"; fi
	i=$((i + 1))
done
A=$(echo "$st" | cut -c1-$PER); B=$(echo "$st" | cut -c$((PER + 1))-$((2 * PER))); Cs=$(echo "$st" | cut -c$((2 * PER + 1))-)
say "kept (1) per file: A=$A B=$B C=$Cs"
if [ "$NOCTL" != 1 ]; then
	ctl stats && grep -E 'cull\.(objects|used_since)' /tmp/ctl.out
	ctl status && grep -E 'mount\.atime' /tmp/ctl.out
fi
case $st in *0*) ;; *) die "nothing was culled" ;; esac
case $B in *1*) case $A in *0*) die "A (used last) culled while B (used longest ago) was kept: A=$A B=$B" ;; esac ;; esac
case $A in *0*) die "A, the most recently used set, lost objects: A=$A" ;; esac
case $B in *1*) case $Cs in *0*) die "C culled before B: B=$B C=$Cs" ;; esac ;; esac
case $B in *0*) ;; *) die "B (used longest ago) did not go first: B=$B" ;; esac
stop_daemon
say "PASS"
