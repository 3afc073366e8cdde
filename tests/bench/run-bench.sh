#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run-bench.sh: run the client benchmarks (bench_read, bench_acquire,
# bench_fill) against a real larderd on a loop-mounted filesystem, each
# with its plain-syscall baseline on the same filesystem in the same run.
# Prints every run and, per figure, the median and the spread (min..max)
# of the runs. Figures only: nothing here passes or fails on a timing.
#
#   sh tests/bench/run-bench.sh [-r RUNS] [-s SIZE_MIB] [-n ROUNDS]
#                               [-t ext4|xfs|both]
#                               [-b read,acquire,fill,fillstart,fillcopy]
#                               [-B] [-m] [-k]
#   -r RUNS    runs of each benchmark (default 3)
#   -s SIZE    object size in MiB for read and fill (default 1024)
#   -n ROUNDS  rounds of bench_acquire per run (default 20000)
#   -t FS      filesystem(s) to make (default ext4)
#   -b LIST    which benchmarks (default read,acquire,fill); fillcopy is
#              bench_fill with its larder buffer outside the area, so that
#              liblarder copies each call into it (fill: the bytes are in
#              the area, larder_fill_buffer); fillstart is bench_fill
#              with two 4 MiB parts of the area taking turns, the next
#              write started (larder_write_start) while the daemon still
#              writes the previous one
#   -B         buffered loop device (default: direct I/O loop device, so
#              the image file is not cached a second time in the page
#              cache and fdatasync reaches the disk below)
#   -m         image in memory (/dev/shm, buffered loop device): a "disk"
#              much faster than the CPU path, which shows what larder's
#              own work costs; needs 4 x SIZE + 1 GiB of free memory
#   -k         keep the daemon log (printed at the end)
#
# LARDER_BENCH_NICE=N runs larderd with `nice N' (larder.conf(5),
# PRIORITY; 0 keeps its threads at the script's nice), for comparisons.
#
# Root (loop devices, mount); exits 77 without it. Build first with
# `make bench`.
. "$(dirname "$0")/../system/lib.sh"
need_root
need_cmd losetup mkfs.ext4

RUNS=3 SIZE=1024 ROUNDS=20000 FSTYPES=ext4 WHICH=read,acquire,fill
DIO=on KEEPLOG=0 IMGDIR=$T
while getopts r:s:n:t:b:Bmk o; do
	case $o in
	r) RUNS=$OPTARG ;;
	s) SIZE=$OPTARG ;;
	n) ROUNDS=$OPTARG ;;
	t) FSTYPES=$OPTARG ;;
	b) WHICH=$OPTARG ;;
	B) DIO=off ;;
	m) DIO=off
	   IMGDIR=$(mktemp -d /dev/shm/larder-bench.XXXXXX) ||
	       fail "mktemp in /dev/shm"
	   at_exit "rm -rf '$IMGDIR'" ;;
	k) KEEPLOG=1 ;;
	*) echo "usage: $0 [-r RUNS] [-s SIZE_MIB] [-n ROUNDS]" \
	    "[-t ext4|xfs|both] [-b read,acquire,fill] [-B] [-m] [-k]" >&2
	   exit 2 ;;
	esac
done
[ "$FSTYPES" = both ] && FSTYPES="ext4 xfs"
BENCH=$LARDER_BUILD/tests/bench
for b in bench_read bench_acquire bench_fill; do
	[ -x "$BENCH/$b" ] || skip "$BENCH/$b not built (make bench)"
done
[ -x "$LARDERD" ] || skip "$LARDERD not built"

# image: the object read, the fill's object and plain file, and room so
# that the default cull thresholds (brun 10%) never start culling
IMG_MIB=$((SIZE * 4 + 1024))

# make_fs TYPE: a fresh image on its own loop device, mounted; sets MNT
make_fs() {
	_nfs=$((_nfs + 1))
	img=$IMGDIR/fs$_nfs.img
	MNT=$T/mnt$_nfs
	mkdir -p "$MNT"
	truncate -s "${IMG_MIB}M" "$img" || fail "truncate $img"
	dev=$(losetup --find --show --direct-io="$DIO" "$img") ||
	    fail "losetup $img"
	at_exit "losetup -d '$dev'"
	case $1 in
	# no lazy init: a background thread zeroing inode tables would
	# take disk bandwidth from the first runs
	ext4) mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dev" ;;
	xfs) need_cmd mkfs.xfs; mkfs.xfs -q -f "$dev" ;;
	*) fail "unknown filesystem $1" ;;
	esac >/dev/null 2>&1 || fail "mkfs.$1 $dev"
	mount "$dev" "$MNT" || fail "mount $dev"
	at_exit "fsfreeze -u '$MNT'; umount '$MNT' || umount -l '$MNT'"
}

# median_of LABEL: the median and spread of the numbers on stdin, one line
median_of() {
	sort -n | awk -v l="$1" '
		{ a[NR] = $1 }
		END {
			if (NR == 0) exit
			m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "  %s median %10.3f  spread %.3f .. %.3f  (%d runs)\n",
			    l, m, a[1], a[NR], NR
		}'
}

# values NAME KEY [PATTERN]: KEY's values on the RESULT lines of NAME in
# $T/results (those that also match PATTERN)
values() {
	grep "^RESULT $1 " "$T/results" | grep -e "${3:-.}" |
	    sed -n "s/.* $2=\([0-9.]*\).*/\1/p"
}

# summary NAME KEY...: median and min..max of KEY=value over the RESULT
# lines of NAME in $T/results
summary() {
	name=$1; shift
	for key; do
		values "$name" "$key" | median_of "$(printf '%-10s %-15s' "$name" "$key")"
	done
}

# by_order NAME KEY...: the same per order of the runs (order=0: larder
# first, 1: plain first). Whichever side runs second may find the disk
# below busier or quieter than the first did; on this kind of machine the
# durable fill ratio has been seen to differ by 1.3x between orders, so
# an odd number of runs leans towards order 0.
by_order() {
	name=$1; shift
	for key; do
		values "$name" "$key" " order=0\b" |
		    median_of "$(printf '%-10s %-15s' "$name" "$key") larder first:"
		values "$name" "$key" " order=1\b" |
		    median_of "$(printf '%-10s %-15s' "$name" "$key") plain first: "
	done
}

# bench NAME PROGRAM ARGS...: one run, its output kept in $T/results
bench() {
	name=$1 prog=$2; shift 2
	echo "--- $prog $*, run $r"
	"$BENCH/$prog" "$@" > "$T/out" 2>&1; rc=$?
	cat "$T/out"; cat "$T/out" >> "$T/results"
	[ $rc -eq 0 ] || fail "$prog exited with $rc"
}

has() { case ",$WHICH," in *",$1,"*) return 0 ;; esac; return 1; }

echo "larder benchmarks: $(uname -r), $(nproc) CPUs, $(date -u +%FT%TZ)"
echo "runs $RUNS, object ${SIZE} MiB, acquire rounds $ROUNDS," \
    "loop direct-io $DIO, images in $IMGDIR"
for fstype in $FSTYPES; do
	make_fs "$fstype"
	mkdir -p "$MNT/cache" "$MNT/plain"
	write_conf "$T/larder.conf" "dir $MNT/cache" "socket $SOCK" \
	    ${LARDER_BENCH_NICE:+"nice $LARDER_BENCH_NICE"}
	: > "$DAEMON_LOG"
	start_larderd "$T/larder.conf"
	: > "$T/results"
	echo
	echo "=== $fstype on $(findmnt -n -o SOURCE "$MNT") (${IMG_MIB} MiB image), larderd pid $DAEMON_PID"
	export LARDER_SOCKET="$SOCK" LARDER_PID="$DAEMON_PID" \
	    LARDER_BENCH_DIR="$MNT/plain" LARDER_CACHE_DIR="$MNT/cache"
	r=0
	while [ $r -lt "$RUNS" ]; do
		r=$((r + 1))
		has read && bench read bench_read "$SOCK" "$SIZE"
		has acquire && bench acquire bench_acquire "$SOCK" "$ROUNDS"
		has fill && bench fill bench_fill "$SOCK" "$SIZE" $((r % 2 == 0))
		has fillstart && bench fillstart bench_fill "$SOCK" "$SIZE" \
		    $((r % 2 == 0)) started
		has fillcopy && bench fillcopy bench_fill "$SOCK" "$SIZE" \
		    $((r % 2 == 0)) copy
	done
	echo
	echo "=== $fstype summary (ratios: larder vs plain syscalls, same run)"
	has read && summary read-warm ratio cpu_ratio larder_mbs base_mbs &&
	    summary read-cold ratio larder_mbs base_mbs
	has acquire && summary acquire ratio larder_us base_us ping_us noread_us \
	    old_us old_ratio cold_us ping_cold_us cold_ratio \
	    cpu_ratio larder_cpu_us base_cpu_us
	for f in fill fillstart fillcopy; do
		has $f && summary $f ratio ack_ratio larder_mbs base_mbs \
		    larder_ack_mbs base_ack_mbs enobufs &&
		    by_order $f ratio ack_ratio
	done
	echo "  targets: read >= 0.95; acquire <= 1, cold <= 1.5 x PING;" \
	    "fill durable >= 0.95, acknowledged (ack_ratio) >= 0.8 (issue 15)"
	ctl stats 2>/dev/null | grep -E '^(store|meta|freeze\.stalls)' |
	    sed 's/^/  larderd: /'
	stop_larderd
	[ "$KEEPLOG" = 1 ] && sed 's/^/  log: /' "$DAEMON_LOG"
done
exit 0
