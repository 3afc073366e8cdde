#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-closes.sh: a file larderd lets go of while the filesystem is
# frozen is closed only after the thaw. The last close of a file may
# write (ext4 and xfs free an unlinked inode, xfs trims the blocks
# preallocated past the end), which on a frozen filesystem waits for the
# thaw; a freeze's "ready" promises that larderd writes nothing more.
# On ext4 and xfs: a client fills an object and holds it; `larderctl
# freeze --fs` (larderd freezes the filesystem itself); the client lets
# the object go, so its read-write file is to be closed. (The fill's
# coherency record keeps the file open too and is waited for before the
# freeze: held until the thaw, it would close the file only then.) While
# frozen, the close must be held (store.closes_held), not handed to the
# io thread (store.io_inflight 0), and the freeze must stay one larderd
# made, not a stall. After the thaw the held close is done (closes_held and
# io_inflight back to 0), and fills work again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
. "$(dirname "$0")/fill-lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs mkfifo
build_fill_client

# wait_status KEY VALUE WHAT: until `larderctl status` says KEY VALUE
# (VALUE "+": any number above 0), 10 s at most
wait_status() {
	i=0
	while :; do
		v=$(status_get "$1")
		case $2 in
		+) [ "${v:-0}" -gt 0 ] 2>/dev/null && return 0 ;;
		*) [ "$v" = "$2" ] && return 0 ;;
		esac
		i=$((i + 1))
		[ $i -lt 100 ] || fail "$3: $1 is '$v' after 10 s, not $2"
		sleep 0.1
	done
}

for fstype in ext4 xfs; do
	mkfs_mnt "$fstype" 300M; mnt=$MNT
	conf_for "$mnt" "freeze defer" "freeze_timeout 60"
	start_larderd "$T/larder.conf"
	rm -f "$T/hold"; mkfifo "$T/hold"
	"$FILL_CLIENT" "$SOCK" put "held-$fstype" 3000000 < "$T/hold" \
	    > "$T/put" 2>&1 &
	putpid=$!
	exec 3> "$T/hold"
	i=0
	until grep -q "3000000 bytes acknowledged" "$T/put"; do
		kill -0 $putpid 2>/dev/null || fail "$fstype: the fill failed: $(cat "$T/put")"
		i=$((i + 1)); [ $i -lt 200 ] || fail "$fstype: no fill within 20 s"
		sleep 0.1
	done
	# the fill's coherency record holds the file open until it is
	# done: were it still queued at the freeze, it would be held until
	# the thaw, and the file closed only then (nothing to hold)
	i=0
	until [ "$(ctl stats | awk '$1 == "meta.pending" { print $2 }')" = 0 ]; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "$fstype: meta.pending not 0 within 20 s"
		sleep 0.1
	done
	out=$(ctl freeze --fs 2>&1) || fail "$fstype: freeze --fs: exit $?: $out"
	fs_is_frozen "$mnt" || fail "$fstype: not frozen after freeze --fs"
	# the client lets go: larderd is to close the object's rw file
	exec 3>&-
	wait $putpid || fail "$fstype: the client failed: $(cat "$T/put")"
	wait_status store.closes_held + "$fstype: while frozen"
	[ "$(status_get store.io_inflight)" = 0 ] ||
		fail "$fstype: the io thread has work while frozen: io_inflight $(status_get store.io_inflight)"
	[ "$(status_get freeze.fs_frozen_by_larderd)" = yes ] ||
		fail "$fstype: freeze.fs_frozen_by_larderd '$(status_get freeze.fs_frozen_by_larderd)'"
	[ "$(status_get freeze.state)" != stalled ] || fail "$fstype: a stall while frozen"
	held=$(status_get store.closes_held)
	out=$(ctl thaw 2>&1) || fail "$fstype: thaw: exit $?: $out"
	wait_status store.closes_held 0 "$fstype: after the thaw"
	wait_status store.io_inflight 0 "$fstype: after the thaw"
	head -c 200000 /dev/urandom > "$T/blob"
	ctl put "$VOL" "after-$fstype" "$T/blob" > /dev/null || fail "$fstype: put after the thaw"
	ctl get "$VOL" "after-$fstype" > "$T/got" || fail "$fstype: get after the thaw"
	cmp -s "$T/got" "$T/blob" || fail "$fstype: wrong bytes after the thaw"
	stop_larderd
	umount "$mnt" || fail "$fstype: umount"
	ok "$fstype: $held close(s) held while frozen, done after the thaw"
done
