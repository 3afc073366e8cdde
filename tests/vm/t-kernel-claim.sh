#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-claim: in kernel mode the write claim on the private mount makes
# `mount -o remount,ro` of the cache fs fail, and a read-only bind mount of
# the cache dir changes nothing for the cache.
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
kvm_data 4 256
kvm_run kernel-claim.sh
kvm_check $?
