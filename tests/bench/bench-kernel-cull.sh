#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-kernel-cull: culling the real kernel cache (VM): larderd kernel mode
# against the Debian cachefilesd on the same filled disk, side by side:
# seconds from daemon start until free space is back above brun, and the
# daemon's CPU time until then (both include each daemon's startup scan).
# usage: bench-kernel-cull.sh [FILES [KIB]]   (default 2600 files of 20 KiB
# on a 64 MiB cache disk, filled through 9p in the VM; about 5-8 minutes)
#        bench-kernel-cull.sh -g OBJECTS        (a disk the host fills with
# tests/bench/gen_tree: OBJECTS objects of 1..1024 bytes on 1 KiB blocks;
# the daemons must cull about a tenth of them; 100000 objects take about
# 20-40 minutes). 3 alternating rounds under TCG: timings follow the
# host's load, so compare within one run.
. "$(dirname "$0")/../vm/kernel-lib.sh"
kvm_find
if [ "${1:-}" = -g ]; then
	[ "$(id -u)" = 0 ] || skip "-g needs root (a loop mount to fill the disk)"
	n=${2:?usage: bench-kernel-cull.sh -g OBJECTS}
	gen=$top/tests/bench/gen_tree
	[ -x "$gen" ] || make -C "$top" tests/bench/gen_tree >/dev/null || fail "cannot build gen_tree"
	img=$KVM_TMP/cache.img
	mkdir -p "$KVM_TMP/mnt"
	# 1 KiB per object and an inode each, plus room; the guest keeps a
	# copy of the disk in RAM (tmpfs: half the memory)
	truncate -s $((n * 3 / 2048 + 64))M "$img"
	mkfs.ext4 -q -F -b 1024 -N $((n + n / 4 + 4096)) "$img" || fail "mkfs"
	mount -o loop "$img" "$KVM_TMP/mnt" || fail "loop mount"
	"$gen" "$KVM_TMP/mnt" "$n" 4 1024 > /dev/null || { umount "$KVM_TMP/mnt"; fail "gen_tree"; }
	umount "$KVM_TMP/mnt" || fail "umount"
	echo "bench-kernel-cull: $n objects made by gen_tree, cache disk $(du -h --apparent-size "$img" | cut -f1)"
	VM_CACHE_IMG=$img VM_MEM=${VM_MEM:-$((n * 3 / 1024 / 1024 + 2))G} \
	    VM_TIMEOUT=${VM_TIMEOUT:-14400} kvm_run bench-cull.sh gen
else
	nfiles=${1:-2600}
	kib=${2:-20}
	echo "bench-kernel-cull: $nfiles files of $kib KiB, cache disk ${VM_CACHE_SIZE:-64M}"
	kvm_data "$nfiles" "$kib"
	VM_TIMEOUT=${VM_TIMEOUT:-900} VM_CACHE_SIZE=${VM_CACHE_SIZE:-64M} kvm_run bench-cull.sh
fi
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
field() { grep "^RESULT $1 " "$KVM_TMP/out" | grep -v ' died ' | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ls=$(field larderd secs | kvm_median); cs=$(field cachefilesd secs | kvm_median)
lc=$(field larderd cpu_ms | kvm_median); cc=$(field cachefilesd cpu_ms | kvm_median)
if [ -n "$ls" ] && [ -n "$cs" ]; then
	echo "median: larderd $ls s, $lc ms cpu; cachefilesd $cs s, $cc ms cpu"
	awk -v ls="$ls" -v cs="$cs" -v lc="$lc" -v cc="$cc" 'BEGIN {
		printf "ratio larderd/cachefilesd: time %.2f, cpu %s\n", (cs > 0 ? ls / cs : 0),
		    (cc > 0 ? sprintf("%.2f", lc / cc) : "n/a") }'
fi
exit 0
