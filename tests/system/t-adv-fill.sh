#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-adv-fill.sh: a fill never acknowledges bytes the daemon does not have.
# (1) 100 cached 4 KiB pages with 4 KiB holes, then one larder_write of the
# whole 1 MiB: it must answer 1 MiB and every page must read back right,
# in this connection and a new one (the daemon once filled only the first
# 64 holes and answered the whole length: 92 pages then missed). (2) a map
# at its limit of extents forgets the byte a fill brings: that fill must
# not be acknowledged (4,095 fills to get there: 90 s on this 2-core
# machine, most of it the daemon trimming the map it writes to disk, so
# only with LARDER_TEST_LONG=1, on ext4). On ext4 and xfs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fill-lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs
build_fill_client

for fstype in ext4 xfs; do
	fill_daemon "$fstype"
	"$FILL_CLIENT" "$SOCK" sparse > "$T/out" 2>&1; rc=$?
	cat "$T/out"
	[ $rc -eq 0 ] || fail "$fstype: sparse fill (exit $rc)"
	ok "$fstype: a fill over 101 holes keeps every byte it acknowledges"
	if [ "${LARDER_TEST_LONG:-0}" = 1 ] && [ "$fstype" = ext4 ]; then
		"$FILL_CLIENT" "$SOCK" full > "$T/out" 2>&1; rc=$?
		cat "$T/out"
		[ $rc -eq 0 ] || fail "$fstype: fill into a full map (exit $rc)"
		ok "$fstype: a fill the map cannot keep is not acknowledged"
	fi
	stop_larderd
done
