#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-adv-stall.sh: a second, non-admin uid tries to stall larderd's main
# loop, and root's `larderctl status' must answer after each try (waited
# for with a bound):
#  - an fd on a FUSE file whose FLUSH never answers (for larderd; the
#    fuse-hang.c server answers everyone else) attached to PING, and
#    offered as HELLO's fill area (one fd, and two): the main loop never
#    close()s or fstat()s it (the old code did, and hung until the
#    watchdog);
#  - a map of 4,095 extents and 1-byte fills past it: every fill snapshots
#    the map, trimmed to 200 extents (the old trimming took ~190 ms a fill
#    at that size, minutes for the whole run);
#  - the volume's coherency flipped 300 times in a row.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 setpriv timeout "${CC:-cc}"
[ -c /dev/fuse ] || skip "no /dev/fuse"
UID2=4242
PY=$(command -v /usr/bin/python3 || command -v python3) || skip "needs python3"
mkfs_loop ext4 64M > /dev/null
mkdir -p "$MNT/c"
cp "$(dirname "$0")/adv-limits.py" "$T/adv.py"
"${CC:-cc}" -O1 -o "$T/fuse-hang" "$(dirname "$0")/fuse-hang.c" ||
    fail "cannot build fuse-hang.c"
write_conf "$T/c.conf" "dir $MNT/c" "socket $SOCK" "backend userspace" \
    "client_group nogroup"
start_larderd "$T/c.conf"
chmod 0666 "$SOCK"
chmod 0755 "$T"
adv() { setpriv --reuid=$UID2 --regid=$UID2 --groups=65534 "$PY" "$T/adv.py" "$SOCK" "$@"; }
status_in_time() {
	timeout 10 "$LARDERCTL" -s "$SOCK" status > /dev/null ||
	    fail "root's status did not answer within 10 s ($1)"
}
stat_of() { ctl --json stats | tr ',{}' '\n\n\n' | sed -n "s/^ *\"$1\": *//p"; }

mkdir "$T/fuse"
"$T/fuse-hang" "$T/fuse" "$DAEMON_PID" > "$T/fuse.out" 2>&1 &
FUSE_PID=$!
# the server first, then the mount: a hung request ends when it dies
at_exit "umount -l '$T/fuse'"
at_exit "kill -KILL $FUSE_PID"
i=0
until grep -q ready "$T/fuse.out"; do
	kill -0 $FUSE_PID 2>/dev/null || { cat "$T/fuse.out"; [ "$(wait $FUSE_PID; echo $?)" != 77 ] || skip "cannot mount FUSE"; fail "fuse-hang"; }
	i=$((i + 1)); [ $i -lt 100 ] || fail "FUSE not mounted within 10 s"
	sleep 0.1
done
[ "$(cat "$T/fuse/f")" = hello ] || fail "the FUSE file does not read back"

out=$(timeout 60 setpriv --reuid=$UID2 --regid=$UID2 --groups=65534 "$PY" "$T/adv.py" "$SOCK" fdping "$T/fuse/f") ||
    fail "PING with a FUSE fd: $out"
[ "$out" = 2 ] || fail "PING with a FUSE fd: status $out, expected 2 (EINVAL)"
status_in_time "a FUSE fd on PING"
ok "an fd on an unresponsive FUSE file attached to PING: refused, never closed by larderd"

out=$(timeout 60 setpriv --reuid=$UID2 --regid=$UID2 --groups=65534 "$PY" "$T/adv.py" "$SOCK" hellofd "$T/fuse/f") ||
    fail "HELLO with a FUSE fd: $out"
[ "$out" = "0 0" ] || fail "HELLO with a FUSE fd: '$out', expected status 0 and no area"
status_in_time "a FUSE fd on HELLO"
i=0	# the closer thread took it, and hangs in its FLUSH
until grep -q "hung flush" "$T/fuse.out"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "the FUSE fd was not closed within 10 s"
	sleep 0.1
done
[ "$(stat_of limits.fds_closing)" = 1 ] || fail "fds_closing: $(stat_of limits.fds_closing), expected 1 (the hung close)"
# two fds: refused, and both go to the closer thread (the old code
# closed the extra one on the loop, and hung there)
out=$(timeout 60 setpriv --reuid=$UID2 --regid=$UID2 --groups=65534 "$PY" "$T/adv.py" "$SOCK" hellofd "$T/fuse/f" 2) ||
    fail "HELLO with two FUSE fds: $out"
[ "$out" = "2 -1" ] || fail "HELLO with two FUSE fds: '$out', expected status 2 (EINVAL)"
status_in_time "two FUSE fds on HELLO"
i=0
until [ "$(stat_of limits.fds_closing)" = 3 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "fds_closing: $(stat_of limits.fds_closing), expected 3"
	sleep 0.1
done
ok "a FUSE fd offered with HELLO: closed on the closer thread, which hangs; the loop answers"

out=$(timeout 300 setpriv --reuid=$UID2 --regid=$UID2 --groups=65534 "$PY" "$T/adv.py" "$SOCK" extents 4095 200) ||
    fail "extents: $out"
# the 4,095 make the map; past its cap a 1-byte fill is the smallest
# extent, forgotten at once, so not acknowledged (any status but a hang)
set -- $out
[ "$1 $3" = "ok other" ] && [ "$2" -ge 4095 ] && [ $(($2 + $4)) = 4295 ] ||
    fail "4,095 extents and 200 fills: $out"
status_in_time "4,295 1-byte fills"
ok "a 4,095-extent map and 1-byte fills past it ($out): done, the daemon answers"

out=$(timeout 300 setpriv --reuid=$UID2 --regid=$UID2 --groups=65534 "$PY" "$T/adv.py" "$SOCK" flip 300) ||
    fail "flip: $out"
case $out in
"ok "*) ;;
*) fail "flip: $out" ;;
esac
status_in_time "300 coherency flips"
ok "300 coherency flips: $out (the rest: the volume was being remade)"

kill -KILL $FUSE_PID	# the hung close ends (ENOTCONN) before the stop
stop_larderd
