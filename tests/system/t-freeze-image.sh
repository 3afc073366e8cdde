#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-image.sh: what a snapshot taken while larderd has the cache
# filesystem frozen holds, on ext4 and xfs. Under load, `larderctl freeze
# --fs` answers ready and freezes; the image file under the loop device is
# copied while frozen (what a snapshot of the disk would hold), then
# thawed. A larderd started on the copy must serve every object the
# clients had acknowledged before the freeze either whole and right, or
# as a miss (the freeze holds back the coherency records not yet written:
# larderd(8), "A freeze ends with one syncfs"); never a wrong byte, never
# an error; and after that mount the copy must check clean (e2fsck -fn,
# xfs_repair -n).
# The live cache keeps every acknowledged object (verify_acked after the
# thaw, when the held records are written).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd fsfreeze mkfs.ext4 mkfs.xfs e2fsck xfs_repair

SOCK0=$SOCK
for fstype in ext4 xfs; do
	SOCK=$SOCK0
	load_fs $fstype 8 "freeze_timeout 60"
	img=$T/fs$_nfs.img
	out=$(ctl freeze --fs 2>&1) || fail "$fstype: freeze --fs: exit $?: $out"
	case $out in *ready*) ;; *) fail "$fstype: freeze did not say ready: $out" ;; esac
	phase frozen
	fs_is_frozen "$mnt" || fail "$fstype: not frozen after freeze --fs"
	# the acknowledgements made before the freeze (a put acknowledged
	# after it went to the copy no more than to the disk: none is)
	cat "$T"/acked.* > "$T/acked-before"
	held=$(ctl stats | awk '$1 == "meta.held" { print $2 }')
	cp --sparse=always "$img" "$T/frozen.img" || fail "$fstype: copy the frozen image"
	fs_is_frozen "$mnt" || fail "$fstype: thawed while it was copied"
	ctl thaw >/dev/null || fail "$fstype: thaw"
	phase after
	load_drain 60
	load_check
	verify_acked
	stop_larderd
	echo "$fstype: $(wc -l < "$T/acked-before") objects acknowledged before the freeze; $held coherency records held by it"

	fmnt=$T/frozen-$fstype
	mkdir -p "$fmnt"
	case $fstype in
	ext4) mount -o loop "$T/frozen.img" "$fmnt" ;;
	xfs) mount -o loop,nouuid "$T/frozen.img" "$fmnt" ;;
	esac || fail "$fstype: mount the frozen image"
	at_exit "umount -l '$fmnt'"
	SOCK=$T/frozen-$fstype.sock
	write_conf "$T/frozen.conf" "dir $fmnt/cache" "socket $SOCK"
	DAEMON_LOG=$T/larderd-frozen-$fstype.log
	start_larderd "$T/frozen.conf"
	hits=0 misses=0
	while read -r k p; do
		ctl get "$VOL" "$k" > "$T/v" 2> "$T/verr"
		case $? in
		0) cmp -s "$T/v" "$T/pool/$p" || fail "$fstype: frozen image: object $k: wrong bytes"
		   hits=$((hits + 1)) ;;
		3) misses=$((misses + 1)) ;;
		*) fail "$fstype: frozen image: get $k: $(cat "$T/verr")" ;;
		esac
	done < "$T/acked-before"
	[ $hits -gt 0 ] || fail "$fstype: the frozen image serves none of the objects acknowledged before the freeze"
	stop_larderd
	umount "$fmnt" || fail "$fstype: umount the frozen image"
	# checked after it was mounted, as a restored snapshot is: the files
	# open but unlinked at the freeze (a snapshot of any live filesystem
	# has them) are freed by the mount, as after a crash
	case $fstype in
	ext4) e2fsck -fn "$T/frozen.img" > "$T/fsck" 2>&1 ;;
	xfs) xfs_repair -n -f "$T/frozen.img" > "$T/fsck" 2>&1 ;;
	esac || { cat "$T/fsck"; fail "$fstype: the frozen image does not check clean after its mount"; }
	rm -f "$T/frozen.img"
	ok "$fstype: the image frozen by larderd checks clean; of the objects acknowledged before the freeze it serves $hits whole, $misses as misses, none wrong"
done
