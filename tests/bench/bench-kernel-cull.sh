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
# mean of the rounds per daemon, and the ratios
grep '^RESULT' "$KVM_TMP/out" | awk '
	{ n[$2]++; for (i = 3; i <= NF; i++) { split($i, kv, "=");
	  if (kv[1] == "secs") s[$2] += kv[2]; if (kv[1] == "cpu_ms") c[$2] += kv[2]; } }
	END {
		if (!n["larderd"] || !n["cachefilesd"]) exit
		ls = s["larderd"] / n["larderd"]; cs = s["cachefilesd"] / n["cachefilesd"]
		lc = c["larderd"] / n["larderd"]; cc = c["cachefilesd"] / n["cachefilesd"]
		printf "mean of %d rounds: larderd %.2f s %.0f ms cpu; cachefilesd %.2f s %.0f ms cpu\n", n["larderd"], ls, lc, cs, cc
		printf "ratio larderd/cachefilesd: time %.2f, cpu %s\n", (cs > 0 ? ls / cs : 0), (cc > 0 ? sprintf("%.2f", lc / cc) : "n/a")
	}'
exit 0
