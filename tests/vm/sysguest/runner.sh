#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# larder-test-runner: baked into the full-system rootfs by
# tests/vm/sys-rootfs.sh and run by larder-test.service (a oneshot after
# multi-user.target, only when the kernel command line has larder.test=1).
#
# It mounts the per-run 9p share `larderrun' (made by sys-lib.sh on the
# host: guest.sh, the larder packages, helpers), runs guest.sh (bash) with its
# output on the second serial port (/dev/ttyS1, a file on the host), and
# then:
#   guest.sh exits 100  -> reboot (the script keeps its phase on the disk)
#   anything else       -> print @@SYS_EXIT=<status>@@ and power off
out=/dev/ttyS1
stty -F "$out" raw -echo 115200 2>/dev/null
mkdir -p /run/larder-test
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro larderrun /run/larder-test; then
	echo "runner: cannot mount the 9p share larderrun" > "$out"
	echo "@@SYS_EXIT=125@@" > "$out"
	systemctl poweroff --no-block
	exit 0
fi
echo "@@SYS_BOOT@@ $(cat /proc/sys/kernel/random/boot_id) uptime $(cut -d' ' -f1 /proc/uptime)" > "$out"
cd /run/larder-test || exit 1
bash /run/larder-test/guest.sh > "$out" 2>&1 < /dev/null
rc=$?
if [ "$rc" = 100 ]; then
	echo "@@SYS_REBOOT@@" > "$out"
	sync
	systemctl reboot --no-block
	exit 0
fi
echo "@@SYS_EXIT=$rc@@" > "$out"
sync
systemctl poweroff --no-block
