#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-9p: larderd in kernel mode is a drop-in cachefilesd: with the
# VM's cachefilesd.conf (+ backend kernel) a 9p cache=fscache mount is
# cached, and the second read after umount + drop_caches comes from the
# cache.
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
kvm_data 6 512
kvm_run kernel-9p.sh
kvm_check $?
