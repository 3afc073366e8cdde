#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-adv-handles.sh: an acquire that fails after the object was taken off
# the idle list puts it back. A client holds 65,536 cookies (a full table
# of handles), then acquires an object that sits idle on disk: the acquire
# fails, and the daemon must not keep the object's file open (the object
# once leaked there, with its fd, out of every list).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fill-lib.sh"
need_root
need_cmd mkfs.ext4
build_fill_client

fill_daemon ext4
# fds of the daemon on the object's file
held() { ls -l "/proc/$DAEMON_PID/fd" 2>/dev/null | grep -c '/Didle1$'; }
"$FILL_CLIENT" "$SOCK" put idle1 4096 < /dev/null > /dev/null || fail "fill"
i=0	# published at its name, and idle (no fd open)
until [ -n "$(find "$MNT/cache" -name Didle1)" ] && [ "$(held)" = 0 ]; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "the object did not go idle within 20 s"
	sleep 0.1
done
"$FILL_CLIENT" "$SOCK" handles idle1 65536 || fail "the acquire past a full table did not fail"
i=0
until [ "$(held)" = 0 ]; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "the daemon still holds the object's file: leaked"
	sleep 0.1
done
ok "a failed acquire puts the idle object back"
ctl status > /dev/null || fail "status"
stop_larderd
