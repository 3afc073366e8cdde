#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-caps: larderd in kernel mode under the systemd unit's
# CapabilityBoundingSet (started through setpriv --bounding-set, copied
# from the host): it keeps only CAP_SYS_ADMIN and CAP_DAC_OVERRIDE, and
# the 9p second read still comes from the cache (fscache IO rd grows).
# Then with CAP_SYS_ADMIN alone (what the unit had): on 6.1 nothing is
# cached, the failure this test guards against (newer kernels: reported).
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
SETPRIV=$(command -v setpriv) || skip "setpriv missing (util-linux)"
[ "$SETPRIV" = /usr/bin/setpriv ] || skip "setpriv is not /usr/bin/setpriv"
KVM_EXTRA_FILES=$SETPRIV
kvm_data 6 512
UNIT_SET=-all,+sys_admin,+dac_override,+dac_read_search,+fowner,+chown
kvm_run kernel-caps.sh "$UNIT_SET" cache 0000000000200002
kvm_check $?
# 6.1 (bookworm) needs CAP_DAC_OVERRIDE for its xattrs on mode-0000
# objects; 6.12 (trixie) was seen caching without it: only reported there
case ${VM_SUITE:-bookworm} in
bookworm) expect=nocache ;;
*) expect=report ;;
esac
kvm_run kernel-caps.sh -all,+sys_admin $expect
kvm_check $?
