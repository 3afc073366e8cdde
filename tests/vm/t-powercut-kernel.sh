#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-powercut-kernel: power cuts of a cache the kernel writes (larderd in
# kernel mode, 9p cache=fscache reads, a file changed between rounds),
# replayed with dm-log-writes like t-powercut: at each replayed state fsck
# is clean, larderd starts and binds, the 9p reads through the cache give
# the share's bytes, and what the kernel's objects look like is printed
# (guest/powercut-kernel.sh, powercut-kcheck.sh).
# LARDER_POWERCUT_POINTS (a seeded sample; 0: all; default 8),
# LARDER_POWERCUT_SEED (default the day of the year; printed).
# vm-suites: bookworm
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
command -v gcc >/dev/null 2>&1 || skip "gcc not installed"
for t in dmsetup e2fsck mke2fs; do
	command -v $t >/dev/null 2>&1 || skip "$t missing (dmsetup, e2fsprogs)"
done
gcc -std=gnu11 -O2 -static -o "$KVM_TMP/lwlog" "$top/tests/vm/lwlog.c" 2> "$KVM_TMP/gcc.log" &&
gcc -std=gnu11 -D_GNU_SOURCE -O2 -static -I"$top/lib" -o "$KVM_TMP/cfmt-tool" \
    "$top/tests/vm/cfmt-tool.c" "$top/lib/cfmt.c" 2>> "$KVM_TMP/gcc.log" ||
	{ cat "$KVM_TMP/gcc.log"; skip "cannot build static helpers (libc6-dev)"; }
points=${LARDER_POWERCUT_POINTS:-8}
seed=${LARDER_POWERCUT_SEED:-$(date +%j | sed 's/^0*//')}
echo "powercut-kernel: seed $seed, points $points (0: all)"
mkdir "$KVM_TMP/bin"
for t in dmsetup e2fsck mke2fs; do cp "$(command -v $t)" "$KVM_TMP/bin/"; done
KVM_EXTRA_FILES="$KVM_TMP/lwlog $KVM_TMP/cfmt-tool $kvm_guestdir/powercut-kcheck.sh $(ls -d "$KVM_TMP"/bin/*)"
[ -f /etc/mke2fs.conf ] && KVM_EXTRA_FILES="$KVM_EXTRA_FILES /etc/mke2fs.conf"
kvm_data 6 256
[ "$points" = 0 ] && VM_TIMEOUT=${VM_TIMEOUT:-7200}
export VM_MEM="${VM_MEM:-2G}" VM_TIMEOUT="${VM_TIMEOUT:-900}"
kvm_run powercut-kernel.sh "$KVM_TMP/bin" "$KVM_TMP/lwlog" "$KVM_TMP/cfmt-tool" \
    "$(readlink -f "$kvm_guestdir/powercut-kcheck.sh")" "$points" "$seed"
kvm_check $?
