#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-caps: larderd in kernel mode under the systemd unit's
# CapabilityBoundingSet (started through setpriv --bounding-set, copied
# from the host): it keeps only CAP_SYS_ADMIN and CAP_DAC_OVERRIDE, and
# the 9p second read still comes from the cache (fscache IO rd grows).
# Then with CAP_SYS_ADMIN alone (what the unit had): nothing is cached,
# the failure this test guards against.
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
SETPRIV=$(command -v setpriv) || skip "setpriv missing (util-linux)"
[ "$SETPRIV" = /usr/bin/setpriv ] || skip "setpriv is not /usr/bin/setpriv"
KVM_EXTRA_FILES=$SETPRIV
kvm_data 6 512
UNIT_SET=-all,+sys_admin,+dac_override,+dac_read_search,+fowner,+chown
kvm_run kernel-caps.sh "$UNIT_SET" cache 0000000000200002
kvm_check $?
kvm_run kernel-caps.sh -all,+sys_admin nocache
kvm_check $?
