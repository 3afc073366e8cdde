#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-adv-eio.sh: a durability barrier that fails drops the claim on the
# bytes. The cache is ext4 on a loop device whose image lives on a tmpfs
# with room for 1 MiB more once the daemon is up: a fill of 4 MiB (one request) is taken
# (into the page cache), then writeback fails for real (ENOSPC, then EIO
# from fdatasync). After that no connection may be told those bytes are
# cached (the daemon once only logged the failure and went on claiming
# them). The fill is acknowledged, or refused when the barrier fails
# first (a fill written before a failed barrier claims nothing): either
# way no byte may be claimed after. The daemon keeps answering and stops
# cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fill-lib.sh"
need_root
need_cmd mkfs.ext4
build_fill_client

top=$T/tmpfs mnt=$T/mnt size=4194304
mkdir "$top" "$mnt"
mount -t tmpfs -o size=64M tmpfs "$top" || skip "cannot mount a tmpfs"
at_exit "umount -l '$top'"
truncate -s 64M "$top/img"
mkfs.ext4 -q -F "$top/img" >/dev/null 2>&1 || fail "mkfs.ext4"
mount -o loop "$top/img" "$mnt" || skip "cannot loop-mount"
at_exit "umount -l '$mnt'"
mkdir "$mnt/cache"
write_conf "$T/eio.conf" "dir $mnt/cache" "socket $SOCK" "backend userspace"
start_larderd "$T/eio.conf"
sync -f "$mnt"
used=$(du -k "$top/img" | cut -f1)
mount -o remount,size=$((used + 1024))k "$top" || fail "remount the tmpfs"

# the filler holds the object (in memory, with its map) throughout
mkfifo "$T/hold"
"$FILL_CLIENT" "$SOCK" put victim $size < "$T/hold" > "$T/put" 2>&1 &
putpid=$!
exec 3> "$T/hold"
at_exit "kill $putpid"
i=0
while ! grep -q acknowledged "$T/put"; do
	kill -0 $putpid 2>/dev/null || fail "the fill was refused: $(cat "$T/put")"
	i=$((i + 1)); [ $i -lt 200 ] || fail "no fill within 20 s"
	sleep 0.1
done
errors() { ctl stats | awk '$1 == "store.errors" { print $2 }'; }
i=0
while [ "$(errors)" = 0 ]; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "no failed barrier within 20 s"
	sleep 0.1
done
ok "$(cat "$T/put"); the barrier failed: $(grep -m1 'meta: ' "$DAEMON_LOG")"
"$FILL_CLIENT" "$SOCK" claimed victim $size || fail "bytes claimed after a failed barrier"
stat_of() { ctl stats | awk -v k="$1" '$1 == k { print $2 }'; }
# a barrier that failed under a claim forgets the data and says so (the
# message has its own rate limit: a failed volume record in the same
# second once hid it); a fill refused before any barrier claimed nothing
if [ "$(stat_of store.sync_failures)" != 0 ]; then
	grep -q "its data is forgotten" "$DAEMON_LOG" ||
		fail "the daemon forgot data but did not say so"
else
	grep -q "then refused" "$T/put" ||
		fail "no data forgotten, yet the fill was not refused: $(cat "$T/put")"
fi
ok "a new connection is told none of the bytes are cached (store.sync_failures $(stat_of store.sync_failures))"
# a filesystem that fails every barrier from now on (ext4 aborts its
# journal when its writes fail) must not keep the meta thread busy: the
# record that forgets the data claims nothing and needs no barrier (it
# once failed, forgot, queued a new record, failed again, forever)
i=0
until [ "$(stat_of meta.pending)" = 0 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the meta queue never drained after the failure: $(stat_of store.sync_failures) sync failures so far"
	sleep 0.1
done
ok "meta queue drained after the failure; store.sync_failures $(stat_of store.sync_failures), meta.fdatasyncs $(stat_of meta.fdatasyncs)"
exec 3>&-
wait $putpid || fail "the filler failed: $(cat "$T/put")"
ctl status > /dev/null || fail "status after the failure"
stop_larderd
ok "the daemon stopped cleanly"
