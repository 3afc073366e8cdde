#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-kernel-cull: culling the real kernel cache (VM): larderd kernel mode
# against the Debian cachefilesd on the same filled disk, side by side:
# seconds from daemon start until free space is back above brun, and the
# daemon's CPU time until then (both include each daemon's startup scan).
# usage: bench-kernel-cull.sh [FILES [KIB]]   (default 2600 files of 20 KiB
# on a 64 MiB cache disk; about 2-4 minutes under TCG)
. "$(dirname "$0")/../vm/kernel-lib.sh"
kvm_find
nfiles=${1:-2600}
kib=${2:-20}
echo "bench-kernel-cull: $nfiles files of $kib KiB, cache disk ${VM_CACHE_SIZE:-64M}"
kvm_data "$nfiles" "$kib"
VM_TIMEOUT=${VM_TIMEOUT:-900} VM_CACHE_SIZE=${VM_CACHE_SIZE:-64M} kvm_run bench-cull.sh
rc=$?
if [ "$rc" -ne 0 ]; then
	kvm_check "$rc"
fi
grep -E '^guest: (cache fs|filled)' "$KVM_TMP/out"
printf '%-12s %12s %14s %10s %s\n' daemon "to brun (s)" "cpu (ms)" "free" "objects left"
grep '^RESULT' "$KVM_TMP/out" | while read -r _ name fb secs cpu left _ of; do
	printf '%-12s %12s %14s %10s %s\n' "$name" "${secs#secs=}" "${cpu#cpu_ms=}" "${fb#free_before=}" "${left#objects_left=} of $of"
done
l=$(grep '^RESULT larderd' "$KVM_TMP/out" | sed 's/.*cpu_ms=\([0-9.]*\).*/\1/')
c=$(grep '^RESULT cachefilesd' "$KVM_TMP/out" | sed 's/.*cpu_ms=\([0-9.]*\).*/\1/')
ls=$(grep '^RESULT larderd' "$KVM_TMP/out" | sed 's/.*secs=\([0-9.]*\).*/\1/')
cs=$(grep '^RESULT cachefilesd' "$KVM_TMP/out" | sed 's/.*secs=\([0-9.]*\).*/\1/')
[ -n "$l" ] && [ -n "$c" ] && awk -v l="$l" -v c="$c" -v ls="$ls" -v cs="$cs" 'BEGIN {
	printf "ratio larderd/cachefilesd: time %.2f, cpu %s\n", (cs > 0 ? ls / cs : 0),
	    (c > 0 ? sprintf("%.2f", l / c) : "n/a (cachefilesd cpu 0)") }'
exit 0
