#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-defer.sh: `freeze defer` under load, on ext4 and xfs.
# `larderctl freeze --fs` answers ready and the filesystem is really frozen
# (by larderd: no fsfreeze -u needed); while it is, every read returns its
# bytes, fills are refused (exit 4) and no client call blocks on it (every
# client returns from its last call while it is still frozen); after
# `larderctl thaw` fills work again and every acknowledged object is
# intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd fsfreeze mkfs.ext4 mkfs.xfs

for fstype in ext4 xfs; do
	load_fs $fstype 4 "freeze_timeout 60"

	s=$(now_ms)
	out=$(ctl freeze --fs 2>&1) || fail "$fstype: freeze --fs: exit $?: $out"
	echo "$fstype: freeze --fs: $out ($(( $(now_ms) - s )) ms)"
	case $out in *ready*) ;; *) fail "$fstype: freeze did not say ready: $out" ;; esac
	phase frozen
	fs_is_frozen "$mnt" || fail "$fstype: filesystem not frozen after freeze --fs"
	st=$(status_get freeze.state)
	[ "$st" = deferred ] || fail "$fstype: freeze.state is '$st', not deferred"
	[ "$(status_get freeze.fs_frozen_by_larderd)" = yes ] || fail "$fstype: status does not say larderd froze the fs"
	[ -n "$(status_get freeze.by_pid)" ] || fail "$fstype: status does not say who asked"
	wait_count getok frozen 4 60 || fail "$fstype: no read succeeded while frozen"
	wait_count refused frozen 4 60 || fail "$fstype: no fill was refused while frozen"
	# every client returns while the filesystem is still frozen
	load_drain 60
	fs_is_frozen "$mnt" || fail "$fstype: filesystem thawed during the freeze"
	# a second freeze joins the first
	out=$(ctl freeze --fs 2>&1) || fail "$fstype: second freeze: exit $?: $out"
	case $out in *already*) ;; *) fail "$fstype: second freeze: $out" ;; esac
	phase thawing
	out=$(ctl thaw 2>&1) || fail "$fstype: thaw: exit $?: $out"
	echo "$fstype: thaw: $out"
	phase thawed
	fs_takes_writes "$mnt" || fail "$fstype: filesystem still frozen after thaw"
	[ "$(status_get freeze.state)" = running ] || fail "$fstype: not running after thaw"
	load_start 4
	wait_count putok thawed 4 60 || fail "$fstype: no fill worked after thaw"
	load_stop
	load_check
	echo "$fstype: while frozen: $(count getok frozen) reads ok, $(count refused frozen) fills refused, $(count putok frozen) acked; after thaw $(count putok thawed) fills ok"
	verify_acked
	grep -q "thawed on request" "$DAEMON_LOG" || fail "$fstype: log does not say 'thawed on request'"
	# thaw again: harmless, says so
	out=$(ctl thaw 2>&1) || fail "$fstype: second thaw: exit $?: $out"
	case $out in *"nothing to do"*) ;; *) fail "$fstype: second thaw: $out" ;; esac
	stop_larderd
	ok "$fstype: freeze defer under load"
done
