#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-recency: kernel mode keeps what was used last (issue 12). A
# 64 MiB cache disk; sets A, B, C of 6 files of 3 MiB read as A, A again,
# B, A again, then C: the culler must take B (used longest ago) and keep A
# (used last), which needs every kernel read to move the atime larderd
# culls by (strictatime on its private clone) and larderd to look at it.
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
kvm_data 18 3072
VM_CACHE_SIZE=${VM_CACHE_SIZE:-64M} kvm_run kernel-recency.sh 6
kvm_check $?
