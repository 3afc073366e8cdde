#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-sys-kernel: larder in kernel mode as an admin meets it: a whole Debian
# 12 system under qemu (systemd as PID 1, the stock 6.1 kernel), the larder
# packages built from this tree installed with dpkg, the shipped unit and
# /etc/larder.conf untouched, no drop-in. Two boots (the guest reboots
# itself): NFS 4.2 fsc over loopback and 9p cache=fscache second reads
# from the cache, remount,ro refused, reload, restart, the watchdog, a
# snapshot freeze through qemu-guest-agent driven from here, the cache
# surviving a reboot, culling on a small cache disk, stop releasing the
# claim. See sysguest/kernel.sh for each check.
. "$(dirname "$0")/sys-lib.sh"
sys_find
sys_packages
sys_data 6 512
(cd "$SYS_DATA" && for f in f*; do echo "$(cksum < "$f") $f"; done) > "$SYS_SHARE/data.sums"
SYS_CACHE_SIZE=${SYS_CACHE_SIZE:-64M}
sys_run kernel.sh
rc=$?
[ "$rc" = 0 ] || fail "guest test failed (status $rc)"
echo "PASS"
