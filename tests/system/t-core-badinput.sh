#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-core-badinput.sh: malformed, truncated and wrong-version messages,
# over-long keys and keys with '/', '..' or NUL, a peer sending garbage, a
# flooding peer, a peer that disconnects mid-transfer: each gets an error
# or a closed connection, and the daemon keeps serving everyone else.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd python3 mkfs.ext4
mkfs_loop ext4 128M > "$T/mnt" || fail "mkfs"
mnt=$(cat "$T/mnt")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" "backend userspace"
start_larderd "$T/conf"
python3 "$(dirname "$0")/core-raw.py" "$SOCK" || fail "core-raw.py"
# nothing outside cache/ and graveyard/ was made by the hostile keys
[ -z "$(find "$mnt" -name passwd)" ] || fail "a key escaped the cache"
echo hello > "$T/in"
ctl put test,after k "$T/in" || fail "put after the abuse"
ctl get test,after k > "$T/out" && cmp -s "$T/in" "$T/out" || fail "get after the abuse"
kill -0 "$DAEMON_PID" || fail "larderd died"
stop_larderd
ok "bad input: daemon kept serving"
