# SPDX-License-Identifier: GPL-2.0-or-later
# diag.sh: not a test; prints how the guest booted (for debugging the
# harness: `sh tests/vm/sys-diag.sh').
say "uptime $(cut -d' ' -f1 /proc/uptime)"
systemd-analyze 2>&1
systemd-analyze blame 2>&1 | head -15
systemd-analyze critical-chain 2>&1 | head -30
systemctl --failed --no-pager 2>&1
systemctl status --no-pager dev-vdb.device 2>&1 | head
udevadm info /dev/vdb 2>&1 | head -30
findmnt -R / 2>&1 | head -30
journalctl -b --no-pager 2>&1 | grep -i -E 'vdb|udev|timed out' | head -30
finish
