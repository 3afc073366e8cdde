#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-fill-zcopy.sh: fills written straight from the client's shared area
# (PROTO_WRITE_ZCOPY), several chunks in flight in different regions of it.
# (1) pipe: a 24 MiB object in one larder_write and another in writes of
# odd sizes at odd offsets land byte-exact: the sha256 of each, read back
# through a new connection and from the cache's files on disk, is the
# source's; and liblarder had two or more chunks in flight (exit 8 if not:
# a client that waits for each reply). (2) stuck: under fsfreeze a fill A
# answers ENOBUFS while its write still waits for the filesystem, and its
# region of the area stays held; a second write B (other bytes, another
# range) must not go into A's region: after thaw every page of A's range
# holds A's bytes or zeros, never B's (a client that reused the region
# would have the late write carry B's bytes); with A over the whole area
# B must go inline. (3) area: the caller's own area (larder_fill_buffer):
# writes from it land byte-exact, pipelined; a buffer outside it goes
# inline and leaves it alone. (4) area-stuck: a write from the caller's
# area answered ENOBUFS under fsfreeze, whose bytes the caller then
# changes, is never claimed when the daemon writes it late (exit 9 if it
# is: the cache would serve the changed bytes). (5) started: writes
# started with larder_write_start from parts of the area that take
# turns, waited for with larder_write_wait, land byte-exact, with other
# calls taking their answers on the way; the errors (EINVAL, ENOENT,
# EBUSY); relinquish and invalidate with writes started; and (4) again
# with A started (exit 9 if the changed bytes are claimed). On ext4. No
# timing asserted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fill-lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze sha256sum "${CC:-cc}"

ZC=$T/zcopy-client
build_test_client zcopy-client.c "$ZC" -I"$LARDER_BUILD/lib"

fill_daemon ext4
size=$((24 * 1024 * 1024))
"$ZC" "$SOCK" pipe $size "$T/src" "$T/out1" "$T/out2" > "$T/out" 2>&1; rc=$?
cat "$T/out"
[ $rc -eq 0 ] || fail "pipelined fills (exit $rc)"
want=$(sha256sum < "$T/src")
for f in out1 out2; do
	[ "$(sha256sum < "$T/$f")" = "$want" ] || fail "$f: sha256 differs"
done
# the two objects' files on disk (the only ones of that size): the
# meta thread links a new object's file at its name soon after its fill
i=0
while [ "$(find "$MNT/cache" -type f -size ${size}c | wc -l)" -lt 2 ]; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "objects not on disk after 60 s"
	sleep 0.1
done
for f in $(find "$MNT/cache" -type f -size ${size}c); do
	[ "$(sha256sum < "$f")" = "$want" ] || fail "$f: sha256 differs"
done
ok "pipelined zero-copy fills land byte-exact (read back and on disk)"

# A of 1 MiB: one region held, B goes to another; A of the whole area:
# every region held, B goes inline
for kib in 1024 4096; do
	"$ZC" "$SOCK" stuck "$MNT" $kib > "$T/out" 2>&1; rc=$?
	cat "$T/out"
	[ $rc -eq 0 ] || fail "stuck fill of $kib KiB: its region (exit $rc)"
	ok "a stuck fill's region ($kib KiB) is not reused before the" \
	    "daemon lets it go"
done
# the caller's area: 48 MiB in writes of the whole (16 MiB) area
"$ZC" "$SOCK" area $((48 * 1024 * 1024)) > "$T/out" 2>&1; rc=$?
cat "$T/out"
[ $rc -eq 0 ] || fail "writes from the caller's area (exit $rc)"
ok "writes from the caller's area land byte-exact, pipelined; other" \
    "buffers go inline and leave the area alone"
"$ZC" "$SOCK" area-stuck "$MNT" > "$T/out" 2>&1; rc=$?
cat "$T/out"
[ $rc -eq 0 ] || fail "a late write from the caller's area (exit $rc)"
ctl stats | grep -q '^store.late_unclaimed[ =:]*[1-9]' ||
    fail "store.late_unclaimed did not count the late write"
ok "a write from the caller's area answered ENOBUFS, its bytes changed" \
    "since, is not claimed when written late"

# started writes, waited for later
"$ZC" "$SOCK" started $((48 * 1024 * 1024)) > "$T/out" 2>&1; rc=$?
cat "$T/out"
[ $rc -eq 0 ] || fail "writes started and waited for (exit $rc)"
ok "writes started from parts of the area taking turns land byte-exact;" \
    "errors, relinquish and invalidate with writes started"
before=$(ctl stats | sed -n 's/^store.late_unclaimed[ =:]*//p')
"$ZC" "$SOCK" area-stuck "$MNT" started > "$T/out" 2>&1; rc=$?
cat "$T/out"
[ $rc -eq 0 ] || fail "a late started write from the caller's area (exit $rc)"
after=$(ctl stats | sed -n 's/^store.late_unclaimed[ =:]*//p')
[ "${after:-0}" -gt "${before:-0}" ] ||
    fail "store.late_unclaimed did not count the late started write" \
    "($before, then $after)"
ok "a started write answered ENOBUFS, its bytes changed since, is not" \
    "claimed when written late"
stop_larderd
