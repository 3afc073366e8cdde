#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-flakey: the cache device drops writes, then fails them (dm-flakey
# drop_writes, error_writes) for a few seconds while larderd fills, then
# works again: larderd notices the failed barrier and drops the claim,
# keeps serving what is good, and takes and claims fills again afterwards
# without a restart (guest/flakey.sh; ext4 without a journal: why is
# there). LARDER_FLAKEY_WINDOW (seconds, 5).
# vm-suites: bookworm
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
command -v gcc >/dev/null 2>&1 || skip "gcc not installed"
for t in dmsetup mke2fs; do
	command -v $t >/dev/null 2>&1 || skip "$t missing (dmsetup, e2fsprogs)"
done
[ -f "$top/lib/liblarder.a" ] || make -C "$top" lib/liblarder.a >/dev/null 2>&1 || fail "cannot build lib/liblarder.a"
gcc -std=gnu11 -D_GNU_SOURCE -O2 -I"$top/include" -I"$top/lib" -o "$KVM_TMP/pc-client" \
    "$top/tests/vm/pc-client.c" "$top/lib/cfmt.c" "$top/lib/liblarder.a" -lpthread 2> "$KVM_TMP/gcc.log" ||
	{ cat "$KVM_TMP/gcc.log"; fail "cannot build pc-client"; }
mkdir "$KVM_TMP/bin"
for t in dmsetup mke2fs; do cp "$(command -v $t)" "$KVM_TMP/bin/"; done
KVM_EXTRA_FILES="$KVM_TMP/pc-client $(ls -d "$KVM_TMP"/bin/*)"
[ -f /etc/mke2fs.conf ] && KVM_EXTRA_FILES="$KVM_EXTRA_FILES /etc/mke2fs.conf"
kvm_run flakey.sh "$KVM_TMP/bin" "$KVM_TMP/pc-client" "${LARDER_FLAKEY_WINDOW:-5}"
kvm_check $?
