#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-kernel-freezefs: `larderctl freeze --fs` and an unannounced fsfreeze of
# the cache filesystem under 9p fscache readers that keep creating cache
# objects (kernel mode; guest/kernel-freezefs.sh says what is judged).
. "$(dirname "$0")/kernel-lib.sh"
kvm_find
kvm_data 6 256
kvm_run kernel-freezefs.sh 20
kvm_check $?
