#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-fill-zcopy-hostile.sh: a hostile peer of zero-copy fills
# (zcopy-raw.py): bad shm offsets and lengths are refused, and a peer
# that scribbles over its area while the daemon writes from it, and
# reuses its bytes before the daemon lets them go, changes only its own
# object within its size, never another peer's (byte-exact on disk). On
# ext4 and xfs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fill-lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs python3

for fstype in ext4 xfs; do
	fill_daemon "$fstype"
	python3 "$(dirname "$0")/zcopy-raw.py" "$SOCK" "$MNT/cache" ||
	    fail "$fstype: hostile zero-copy peer"
	ctl status > /dev/null || fail "$fstype: no status after the peer"
	ok "$fstype: a hostile zero-copy peer changes only its own object"
	stop_larderd
done
