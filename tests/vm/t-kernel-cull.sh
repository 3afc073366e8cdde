#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-cull: a 64 MiB cache disk and 72 MiB of data read in three
# sets: larderd culls the kernel's cache, oldest set first, back out of the
# cull zone, and the newest set stays cached and is served from the cache.
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
kvm_data 24 3072
VM_CACHE_SIZE=${VM_CACHE_SIZE:-64M} kvm_run kernel-cull.sh 8
kvm_check $?
