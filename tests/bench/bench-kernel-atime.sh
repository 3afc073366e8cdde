#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-kernel-atime: what strictatime on larderd's private clone (kernel
# mode, issue 12) costs the kernel's reads of cached objects, in the VM:
# reads of FILES files of KIB KiB through 9p + fscache, served from the
# cache, with the clone strictatime vs relatime, alternating in one run.
# usage: bench-kernel-atime.sh [FILES [KIB [ROUNDS]]]  (default 300 files
# of 32 KiB, 4 rounds; about 2-4 minutes under TCG). Prints the median
# read time per mode, the median time of the sync after each pass, and
# the ratios strictatime/relatime. TCG timings follow the host's load:
# compare within one run.
. "$(dirname "$0")/../vm/kernel-lib.sh"
kvm_find
nfiles=${1:-300}
kib=${2:-32}
rounds=${3:-4}
echo "bench-kernel-atime: $nfiles files of $kib KiB, $rounds rounds, cache disk ${VM_CACHE_SIZE:-64M}"
kvm_data "$nfiles" "$kib"
VM_TIMEOUT=${VM_TIMEOUT:-900} VM_CACHE_SIZE=${VM_CACHE_SIZE:-64M} kvm_run bench-atime.sh "$rounds"
rc=$?
[ "$rc" -eq 0 ] || kvm_check "$rc"
grep '^RESULT' "$KVM_TMP/out"
echo "host load average (noisy hosts make TCG timings noisy): $(cut -d' ' -f1-3 /proc/loadavg)"
field() { grep "^RESULT atime mode=$1 " "$KVM_TMP/out" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
sr=$(field strictatime read_ms | kvm_median); rr=$(field relatime read_ms | kvm_median)
ss=$(field strictatime sync_ms | kvm_median); rs=$(field relatime sync_ms | kvm_median)
sm=$(field strictatime atimes_moved | kvm_median); rm=$(field relatime atimes_moved | kvm_median)
echo "median read ms: strictatime $sr, relatime $rr; sync after: strictatime $ss, relatime $rs"
echo "median atimes moved per pass: strictatime $sm, relatime $rm"
# per round, the two passes ran back to back: their ratio is less exposed
# to the host's load drifting over the run
r=0
: > "$KVM_TMP/ratios"
while [ $r -lt "$rounds" ]; do
	s=$(grep "^RESULT atime mode=strictatime round=$r " "$KVM_TMP/out" | tr ' ' '\n' | sed -n 's/^read_ms=//p')
	l=$(grep "^RESULT atime mode=relatime round=$r " "$KVM_TMP/out" | tr ' ' '\n' | sed -n 's/^read_ms=//p')
	[ -n "$s" ] && [ -n "$l" ] && awk -v s="$s" -v l="$l" 'BEGIN { if (l > 0) printf "%.3f\n", s / l }' >> "$KVM_TMP/ratios"
	r=$((r + 1))
done
echo "per-round read ratios strictatime/relatime: $(tr '\n' ' ' < "$KVM_TMP/ratios")(median $(kvm_median < "$KVM_TMP/ratios"))"
awk -v sr="$sr" -v rr="$rr" -v ss="$ss" -v rs="$rs" 'BEGIN {
	printf "ratio strictatime/relatime: read %.3f, read + sync %.3f\n",
	    (rr > 0 ? sr / rr : 0), (rr + rs > 0 ? (sr + ss) / (rr + rs) : 0) }'
