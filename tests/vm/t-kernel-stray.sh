#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-stray: symlinks, a FIFO, a device node and unknown files and
# dirs in the kernel's cache tree do not stop larderd, and it leaves them
# alone; cachefilesd's behaviour on the same tree is printed for comparison.
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
kvm_data 4 256
kvm_run kernel-stray.sh
kvm_check $?
