#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-adv-odirect.sh: every client gets its own open file description of an
# object. One client sets O_DIRECT (fcntl F_SETFL) on the fd the daemon
# passed it; another client, acquiring the object after that, still reads
# at unaligned offsets and gets the right bytes. (When all clients shared
# the daemon's open file, the second read failed with EINVAL.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fill-lib.sh"
need_root
need_cmd mkfs.ext4
build_fill_client

fill_daemon ext4
"$FILL_CLIENT" "$SOCK" odirect > "$T/out" 2>&1; rc=$?
cat "$T/out"
[ $rc -eq 0 ] || fail "a client's O_DIRECT broke another client's reads (exit $rc)"
ok "O_DIRECT on one client's fd leaves the others' reads alone"
stop_larderd
