# SPDX-License-Identifier: GPL-2.0-or-later
# t-ctl-perm: without client_group a peer that is neither root nor in
# admin_group is refused (exit 4), even through a socket opened wide; a
# client_group member may store, read and invalidate one object in its own
# volume, but not drop a volume, cull or freeze (exit 4, "permission
# denied"), and the daemon keeps serving.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd setpriv
mkfs_loop ext4 64M > /dev/null
mkdir -p "$MNT/c"
write_conf "$T/c.conf" "dir $MNT/c" "socket $SOCK"
start_larderd "$T/c.conf"
chmod 0666 "$SOCK"	# let an unprivileged peer connect at all
chmod 0755 "$T"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$LARDERCTL" -s "$SOCK" "$@"; }
as_nobody status > "$T/out" 2>&1; rc=$?
[ $rc -eq 4 ] || fail "nobody without client_group: exit $rc, expected 4"
grep -q "client_group" "$T/out" || fail "no refusal message: $(cat "$T/out")"
stop_larderd
getent group nogroup > /dev/null || skip "needs the group nogroup"
write_conf "$T/c.conf" "dir $MNT/c" "socket $SOCK" "client_group nogroup"
start_larderd "$T/c.conf"

printf 'data' | as_nobody put v,perm k || fail "put as nobody"
[ "$(as_nobody get v,perm k)" = data ] || fail "get as nobody"
as_nobody invalidate v,perm k || fail "invalidate of one object as nobody: exit $?"
as_nobody get v,perm k >/dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "object still there after invalidate (get exit $rc)"
printf 'data' | ctl put v,perm k2 || fail "put as root"
as_nobody invalidate v,perm > "$T/out" 2>&1; rc=$?
[ $rc -eq 4 ] || fail "volume drop as nobody: exit $rc, expected 4"
grep -q "admin_group" "$T/out" || fail "no permission message: $(cat "$T/out")"
as_nobody cull > /dev/null 2>&1; rc=$?
[ $rc -eq 4 ] || fail "cull as nobody: exit $rc, expected 4"
[ "$(ctl get v,perm k2)" = data ] || fail "volume was dropped by a refused request"
ctl invalidate v,perm || fail "volume drop as root"
stop_larderd
ok "object invalidate open to the volume's owner, volume drop and cull admin-only"
