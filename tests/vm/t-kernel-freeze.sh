#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-freeze: freeze with defer policy in kernel mode while a 9p
# reader runs: the cache is withdrawn, reads go on uncached, fsfreeze of
# the cache fs does not hang, caching resumes after thaw.
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
kvm_data 4 512
kvm_run kernel-freeze.sh
kvm_check $?
