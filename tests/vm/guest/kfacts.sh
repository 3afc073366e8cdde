# SPDX-License-Identifier: GPL-2.0-or-later
# kfacts.sh: what differs between kernel versions, in one place. Sourced
# by the guest scripts (busybox sh) through common.sh, and by t-format's
# guest. Each fact says the kernels it was seen on (Debian packages,
# Dec 2026): 6.1.0-57 (bookworm), 6.12.117 (trixie), 7.2.13 (sid).

# kf_cache_writes: "STARTED ENDED FAILED", the netfs writes to the cache.
#   6.1:        /proc/fs/fscache/stats "RdHelp : WR=3 ws=3 wf=0": ws counts
#               the writes that succeeded, wf those that failed (WR = ws + wf
#               once all ended)
#   6.12, 7.2:  netfs moved out of fscache: "CaWrOps: WR=51 ws=51 wf=7" in
#               /proc/fs/netfs/stats (also printed at the top of
#               /proc/fs/fscache/stats; no RdHelp lines): ws counts every
#               write that ended, failed ones included (seen: 51 51 7 with
#               nothing in flight, the failures ENOSPC near bstop)
#   Printed as 6.12 counts them: ENDED includes FAILED.
kf_cache_writes() {
	sed -n -e 's/^RdHelp : WR=\([0-9]*\) ws=\([0-9]*\) wf=\([0-9]*\).*/\1 \2 \3 61/p' \
	       -e 's/^CaWrOps: WR=\([0-9]*\) ws=\([0-9]*\) wf=\([0-9]*\).*/\1 \2 \3 612/p' \
		/proc/fs/fscache/stats | head -1 | awk '{print $1, ($4 == 61) ? $2 + $3 : $2, $3}'
}

# kf_object_mode: the mode the kernel gives the data objects it creates
#   6.1:        0000 (cachefiles makes them with vfs_tmpfile(..., S_IFREG,
#               ...): no permission bits; only a DAC-capable daemon can
#               open them)
#   6.12, 7.2:  0600
#   Kernels between 6.1 and 6.12 were not seen here: they are taken as 6.12.
kf_object_mode() {
	case $(uname -r) in
	[1-5].*|6.[0-9].*|6.1[01].*) echo 0000 ;;
	*) echo 0600 ;;
	esac
}

# kf_cache_reads: reads served by the cache, "IO : rd=N" (all three; 6.12
# and 7.2 add "mis=N" to the line)
kf_cache_reads() {
	awk '/^IO/ {for (i = 1; i <= NF; i++) if ($i ~ /^rd=/) {sub("rd=", "", $i); print $i}}' /proc/fs/fscache/stats
}

# kf_writes_settled: true when every cache write that started has ended
kf_writes_settled() {
	# shellcheck disable=SC2046
	set -- $(kf_cache_writes)
	[ $# -eq 3 ] || { echo "kfacts: no cache-write counters in /proc/fs/fscache/stats ($(uname -r))" >&2; return 2; }
	[ "$1" -eq "$2" ]
}

# kf_settle SECONDS: wait until the cache writes in flight have ended
kf_settle() {
	kf_i=0
	while :; do
		kf_writes_settled
		case $? in 0) return 0 ;; 2) return 2 ;; esac
		kf_i=$((kf_i + 1))
		[ $kf_i -lt $(($1 * 10)) ] || return 1
		sleep 0.1
	done
}

# Culling (seen on all three): the kernel culls on larderd's word only;
# once in the cull zone (free < bcull) larderd culls oldest atime first
# until free >= brun and stops there, so a test can expect an oldest-first
# prefix of the objects, never a whole set. On 6.1 a 3 MiB 9p file read
# with cat was written to the cache in one go (RdHelp WR=1 per file);
# 6.12 and 7.2 write it in several pieces (CaWrOps WR grows by more than 1)
# and later, after the read returned: wait with kf_settle, not a fixed
# delay.
