#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-sys-userspace: larder in userspace mode as a packaged service: a whole
# Debian 12 system under qemu, the packages built from this tree, the admin
# sets `backend userspace' in /etc/larder.conf and restarts the unit;
# larderctl put/get and a liblarder program (built here against the
# packaged liblarder, run there with the installed shared library) through
# the installed socket; culling on a small cache disk; stop releases the
# claim. See sysguest/userspace.sh.
. "$(dirname "$0")/sys-lib.sh"
sys_find
sys_packages
sys_liblarder_prog "$sys_dir/sysguest/lltest.c"
SYS_CACHE_SIZE=${SYS_CACHE_SIZE:-128M}
sys_run userspace.sh
rc=$?
[ "$rc" = 0 ] || fail "guest test failed (status $rc)"
echo "PASS"
