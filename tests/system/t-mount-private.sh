#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-mount-private.sh: larderd works on its private clone. A read-only bind
# mount of dir made by someone else, and then `umount -l` of the original
# mount point, do not stop it storing and serving objects; status and the
# log say what happened.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs findmnt

for fstype in ext4 xfs; do
	mkfs_mnt $fstype 320M; mnt=$MNT
	conf_for "$mnt"
	DAEMON_LOG=$T/larderd-$fstype.log
	start_larderd "$T/larder.conf"
	pool_make
	ctl put "$VOL" a "$T/pool/1" || fail "$fstype: put a"
	[ "$(status_get mount.fstype)" = $fstype ] || fail "$fstype: status mount.fstype"

	mount --bind -o ro "$mnt/cache" "$mnt/cache" || fail "bind ro"
	at_exit "umount -l '$mnt/cache'"
	touch "$mnt/cache/x" 2>/dev/null && fail "$fstype: the bind mount is not read-only"
	ctl put "$VOL" b "$T/pool/2" || fail "$fstype: put under a ro bind mount"
	ctl get "$VOL" b | cmp -s - "$T/pool/2" || fail "$fstype: get under a ro bind mount"
	ok "$fstype: ro bind mount over dir does not matter"

	umount -l "$mnt/cache"
	umount -l "$mnt" || fail "umount -l"
	findmnt "$mnt" >/dev/null && fail "$fstype: $mnt still mounted"
	wait_log "original mount point .* was unmounted" 10 || fail "$fstype: unmount not logged"
	case $(status_get mount.original) in unmounted*) ;; *) fail "$fstype: status does not say unmounted" ;; esac
	ctl put "$VOL" c "$T/pool/3" || fail "$fstype: put after umount -l"
	ctl get "$VOL" a | cmp -s - "$T/pool/1" || fail "$fstype: get a after umount -l"
	ctl get "$VOL" c | cmp -s - "$T/pool/3" || fail "$fstype: get c after umount -l"
	ok "$fstype: umount -l of the original mount point does not matter"
	stop_larderd
done
