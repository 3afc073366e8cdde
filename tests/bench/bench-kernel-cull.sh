#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-kernel-cull: culling the real kernel cache (VM): larderd kernel mode
# against the Debian cachefilesd on the same filled disk, side by side:
# seconds from daemon start until free space is back above brun, and the
# daemon's CPU time until then (both include each daemon's startup scan).
# usage: bench-kernel-cull.sh [FILES [KIB]]   (default 2600 files of 20 KiB
# on a 64 MiB cache disk, 3 alternating rounds; about 5-8 minutes under
# TCG). Timings under TCG follow the host's load: compare within one run.
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
echo "host load average (noisy hosts make TCG timings noisy): $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %10s %10s %10s %8s %s\n' daemon "to brun s" "to bind s" "cpu ms" "free" "objects left"
grep '^RESULT [a-z]* died' "$KVM_TMP/out" | sed 's/^RESULT /DIED: /'
grep '^RESULT' "$KVM_TMP/out" | grep -v ' died ' | while read -r _ name fb secs bsecs cpu left _ of; do
	printf '%-12s %10s %10s %10s %8s %s\n' "$name" "${secs#secs=}" "${bsecs#bound_secs=}" \
	    "${cpu#cpu_ms=}" "${fb#free_before=}" "${left#objects_left=} of $of"
done
# median of the rounds per daemon, and the ratios
med() { sort -n | awk '{v[NR] = $1} END {if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { grep "^RESULT $1 " "$KVM_TMP/out" | grep -v ' died ' | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ls=$(field larderd secs | med); cs=$(field cachefilesd secs | med)
lc=$(field larderd cpu_ms | med); cc=$(field cachefilesd cpu_ms | med)
if [ -n "$ls" ] && [ -n "$cs" ]; then
	echo "median: larderd $ls s, $lc ms cpu; cachefilesd $cs s, $cc ms cpu"
	awk -v ls="$ls" -v cs="$cs" -v lc="$lc" -v cc="$cc" 'BEGIN {
		printf "ratio larderd/cachefilesd: time %.2f, cpu %s\n", (cs > 0 ? ls / cs : 0),
		    (cc > 0 ? sprintf("%.2f", lc / cc) : "n/a") }'
fi
exit 0
