#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-powercut: power cuts of larder's cache filesystem (ext4 and xfs),
# proven the way filesystems prove it: every write, flush and FUA larderd
# caused is logged with dm-log-writes in the VM, the log is replayed to
# each flush/FUA/mark entry, and at each: fsck is clean, no xattr claims a
# byte that is not on disk and right, larderd starts and serves every
# claimed range and nothing wrong (guest/powercut.sh, powercut-check.sh).
# LARDER_POWERCUT_POINTS: replay points per filesystem, a seeded sample
# (0: all of them; default 12: about 1.5 min for both filesystems under
# TCG, 5 min on a loaded host); LARDER_POWERCUT_SEED (default the day of
# the year: fixed within a day, different across days; printed);
# LARDER_POWERCUT_OPS per client (12; 3 clients); LARDER_POWERCUT_FS
# ("ext4 xfs"). `make check-long' checks every point (about 300).
# vm-suites: bookworm
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
command -v gcc >/dev/null 2>&1 || skip "gcc not installed"
for t in dmsetup e2fsck mke2fs mkfs.xfs xfs_repair; do
	command -v $t >/dev/null 2>&1 || skip "$t missing (dmsetup, e2fsprogs, xfsprogs)"
done
[ -f "$top/lib/liblarder.a" ] || make -C "$top" lib/liblarder.a >/dev/null 2>&1 || fail "cannot build lib/liblarder.a"
src=$top/tests/vm
gcc -std=gnu11 -O2 -static -o "$KVM_TMP/lwlog" "$src/lwlog.c" 2> "$KVM_TMP/gcc.log" ||
	{ cat "$KVM_TMP/gcc.log"; skip "cannot build a static lwlog (libc6-dev)"; }
gcc -std=gnu11 -D_GNU_SOURCE -O2 -I"$top/include" -I"$top/lib" -o "$KVM_TMP/pc-client" \
    "$src/pc-client.c" "$top/lib/cfmt.c" "$top/lib/liblarder.a" -lpthread 2> "$KVM_TMP/gcc.log" ||
	{ cat "$KVM_TMP/gcc.log"; fail "cannot build pc-client"; }
points=${LARDER_POWERCUT_POINTS:-12}
seed=${LARDER_POWERCUT_SEED:-$(date +%j | sed 's/^0*//')}
ops=${LARDER_POWERCUT_OPS:-12}
echo "powercut: seed $seed, points $points per filesystem (0: all), $ops ops per client"
# the tools go into one directory the guest puts first in its PATH
# (busybox has applets of the same names)
mkdir "$KVM_TMP/bin"
for t in dmsetup e2fsck mke2fs mkfs.xfs xfs_repair; do cp "$(command -v $t)" "$KVM_TMP/bin/"; done
KVM_EXTRA_FILES="$KVM_TMP/lwlog $KVM_TMP/pc-client $kvm_guestdir/powercut-check.sh $(ls -d "$KVM_TMP"/bin/*)"
[ -f /etc/mke2fs.conf ] && KVM_EXTRA_FILES="$KVM_EXTRA_FILES /etc/mke2fs.conf"
# every point: up to 10 s each on a loaded host
[ "$points" = 0 ] && VM_TIMEOUT=${VM_TIMEOUT:-10800}
export VM_MEM="${VM_MEM:-2G}" VM_TIMEOUT="${VM_TIMEOUT:-1200}"
kvm_run powercut.sh "$KVM_TMP/bin" "$KVM_TMP/lwlog" "$KVM_TMP/pc-client" "$(readlink -f "$kvm_guestdir/powercut-check.sh")" \
    "${LARDER_POWERCUT_FS:-ext4 xfs}" "$points" "$seed" "$ops" 16 3
kvm_check $?
