#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-adv-access.sh: the access model (larder.conf(5), ACCESS) against a
# second, non-admin user. With client_group nogroup and admin_group staff:
#   - uid 64125 (in neither) cannot connect: the socket (0660, group
#     nogroup) refuses it, and so does larderd itself when the socket is
#     opened wide (exit 4, a message naming client_group);
#   - uid 64126 (staff as a supplementary group, not in nogroup) connects
#     through the socket's ACL and is an admin (cull works);
#   - uid 64124 (the victim, nogroup as primary group) caches in its own
#     volume v,victim with larderctl put;
#   - uid 64123 (the attacker, nogroup as a supplementary group) tries to
#     poison, wipe and list it (access-raw.py): under policy none every
#     try is refused, under read it may read and list, under fill also add
#     bytes and objects, and never replace, invalidate, retire or drop;
#     in its own volume it may do everything but wipe it under another
#     user;
#   - the victim's bytes are unchanged throughout (sha256 through larderd
#     and of the file on disk), and root's `larderctl status` answers;
#   - a reload without client_group refuses new connections of the
#     attacker, and keeps the one it has;
#   - the owner record: user.larder.owner beside user.CacheFiles.cache,
#     and a garbled one makes the volume root's, policy none, after a
#     restart; none at all makes it root's under volume_access.
# larder before the access model refuses this config (no client_group);
# without that line, a peer that can connect got every one of these.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd setpriv python3 getfattr setfattr sha256sum mkfs.ext4
getent group nogroup >/dev/null && getent group staff >/dev/null ||
	skip "needs the groups nogroup and staff"
[ "$(getent group nogroup | cut -d: -f3)" = 65534 ] || skip "nogroup is not 65534"

mkfs_loop ext4 64M > /dev/null
mkdir -p "$MNT/c"
write_conf "$T/c.conf" "dir $MNT/c" "socket $SOCK" "backend userspace" \
    "client_group nogroup" "admin_group staff"
start_larderd "$T/c.conf"
chmod 0755 "$T"
attacker() { setpriv --reuid=64123 --regid=64123 --groups=65534 "$LARDERCTL" -s "$SOCK" "$@"; }
victim() { setpriv --reuid=64124 --regid=65534 --clear-groups "$LARDERCTL" -s "$SOCK" "$@"; }
outsider() { setpriv --reuid=64125 --regid=64125 --clear-groups "$LARDERCTL" -s "$SOCK" "$@"; }
staffer() { setpriv --reuid=64126 --regid=64126 --groups=50 "$LARDERCTL" -s "$SOCK" "$@"; }
root_ok() { ctl status > /dev/null || fail "root's status did not answer ($1)"; }

# the socket: group client_group, 0660
[ "$(stat -c '%a %G' "$SOCK")" = "660 nogroup" ] ||
	fail "socket is $(stat -c '%a %G' "$SOCK"), expected 660 nogroup"

# 1. who may connect
outsider status > "$T/out" 2>&1; rc=$?
[ $rc -eq 4 ] || fail "outsider's status: exit $rc, expected 4: $(cat "$T/out")"
grep -q "client_group" "$T/out" || fail "outsider: no clear message: $(cat "$T/out")"
chmod 0666 "$SOCK"	# the daemon refuses it too, not only the socket
outsider status > "$T/out" 2>&1; rc=$?
[ $rc -eq 4 ] || fail "outsider through a 0666 socket: exit $rc: $(cat "$T/out")"
grep -q "client_group" "$T/out" || fail "outsider: no clear message: $(cat "$T/out")"
grep -q "uid 64125 .*refused" "$DAEMON_LOG" || fail "larderd did not log the refusal"
chmod 0660 "$SOCK"
ok "a user in neither group is refused, by the socket and by larderd"
staffer cull > "$T/out" 2>&1 || fail "admin_group member (supplementary): cull: $(cat "$T/out")"
attacker cull > "$T/out" 2>&1; rc=$?
[ $rc -eq 4 ] || fail "client's cull: exit $rc, expected 4"
ok "admin_group by a supplementary group is an admin (through the ACL); a client is not"

# 2. the victim caches in its own volume
head -c 200000 /dev/urandom > "$T/k1"
head -c 5000 /dev/urandom > "$T/k2"
victim put v,victim k1 "$T/k1" || fail "victim: put k1"
victim put v,victim k2 "$T/k2" || fail "victim: put k2"
victim get v,victim k1 | cmp -s - "$T/k1" || fail "victim: get k1"
victim ls v,victim > /dev/null || fail "victim: ls its own volume"
victim access v,victim > "$T/out" || fail "victim: access"
grep -q "^owner 64124 access none (default)" "$T/out" ||
	fail "victim's volume: $(cat "$T/out")"
vdir=$MNT/c/cache/Iv,victim
# the volume's xattrs are the meta thread's (its next batch, up to 20 ms)
wait_meta_empty
getfattr --absolute-names -e hex -n user.larder.owner "$vdir" 2>/dev/null |
	grep -q "=0x010000000000fa7c" || fail "owner record: $(getfattr -d -e hex -m - "$vdir" 2>&1)"
getfattr --absolute-names -e hex -n user.CacheFiles.cache "$vdir" 2>/dev/null |
	grep -q "=0x00000000$" || fail "volume xattr is not the kernel's: $(getfattr -d -e hex -m - "$vdir" 2>&1)"
ok "a client_group member caches in its own volume, recorded as its owner"
sums() {
	for k in k1 k2; do
		ctl get v,victim $k | sha256sum
		find "$vdir" -name "D$k" -type f -exec sha256sum {} + | cut -d' ' -f1
	done
}
sums > "$T/sums.before"
[ "$(wc -l < "$T/sums.before")" -eq 4 ] || fail "cannot checksum: $(cat "$T/sums.before")"
unchanged() {
	sums > "$T/sums.now"
	cmp -s "$T/sums.before" "$T/sums.now" || fail "the victim's bytes changed ($1)"
	root_ok "$1"
}

# 3. the attacker, with larderctl
for c in "get v,victim k1" "put v,victim k1 $T/k2" "ls v,victim" \
    "invalidate v,victim k1" "invalidate v,victim" "access v,victim fill"; do
	# shellcheck disable=SC2086
	attacker $c < /dev/null > "$T/out" 2>&1; rc=$?
	[ $rc -eq 4 ] || fail "attacker: larderctl $c: exit $rc, expected 4: $(cat "$T/out")"
done
attacker volumes > "$T/out" 2>&1 || fail "attacker: volumes"
! grep -q "v,victim" "$T/out" || fail "attacker lists v,victim"
unchanged "larderctl attacks"
ok "larderctl get/put/ls/invalidate/access of another's volume: refused"

# 4. the attacker, raw, under each policy
for phase in none read fill; do
	[ $phase = none ] || victim access v,victim $phase > /dev/null ||
		fail "victim: access $phase"
	python3 "$(dirname "$0")/access-raw.py" "$SOCK" $phase > "$T/out" 2>&1; rc=$?
	[ $rc -eq 0 ] || { cat "$T/out"; fail "attacks under policy $phase"; }
	grep -c '^ok' "$T/out" | sed "s/^/policy $phase: checks passed: /"
	unchanged "policy $phase"
done
ok "poisoning, wiping, dropping and listing under none/read/fill: refused as the policy says"
python3 "$(dirname "$0")/access-raw.py" "$SOCK" own > "$T/out" 2>&1 ||
	{ cat "$T/out"; fail "the attacker in its own volume"; }
unchanged "own volume"
ok "in its own volume a client may do everything but wipe it under another user"
python3 "$(dirname "$0")/access-raw.py" "$SOCK" reload "$T/c.conf" > "$T/out" 2>&1 ||
	{ cat "$T/out"; fail "reload"; }
ok "a reload changes who may connect, not the rights of connected peers"

# 5. an admin may still do anything; a garbled owner record is root's
ctl access v,victim none > /dev/null || fail "root: access"
stop_larderd
setfattr -n user.larder.owner -v 0x01030000000000 "$vdir" || fail "setfattr"
start_larderd "$T/c.conf"
victim ls v,victim > "$T/out" 2>&1; rc=$?
[ $rc -eq 4 ] || fail "a garbled record still lets its old owner in: exit $rc"
ctl access v,victim > "$T/out" || fail "root: access after a garbled record"
grep -q "^owner 0 access none (bad record" "$T/out" || fail "garbled record: $(cat "$T/out")"
grep -q "does not decode" "$DAEMON_LOG" || fail "no log of the garbled record"
unchanged "garbled owner record"
stop_larderd
ok "a garbled owner record gives the volume to root, policy none"

# 6. no owner record (a volume of an older larder or of the kernel): root's,
# under volume_access
setfattr -x user.larder.owner "$vdir" || fail "setfattr -x"
write_conf "$T/c.conf" "dir $MNT/c" "socket $SOCK" "backend userspace" \
    "client_group nogroup" "admin_group staff" "volume_access read"
start_larderd "$T/c.conf"
ctl access v,victim > "$T/out" || fail "root: access of a volume without a record"
grep -q "^owner 0 access read (default) (no record: root's)" "$T/out" ||
	fail "no record: $(cat "$T/out")"
attacker ls v,victim > /dev/null || fail "volume_access read: ls refused"
attacker get v,victim k1 > /dev/null 2>&1; rc=$?
[ $rc -eq 4 ] || fail "volume_access read: get (ANY_AUX) gave exit $rc"
unchanged "no owner record"
stop_larderd
ok "a volume without an owner record is root's, under volume_access"
