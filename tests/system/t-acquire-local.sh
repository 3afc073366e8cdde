#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-acquire-local.sh: a warm re-acquire is served by liblarder without a
# round trip (the daemon's store.acquires stays, the client's count
# moves), its use still reaches the daemon's recency; an invalidation,
# a cull, a drop and a retire by another connection send the next acquire
# to the daemon, which never reads the old bytes; a hostile peer cannot
# write its generation table and its forged batches change nothing
# (acq-client.c, acq-raw.py).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 "${CC:-cc}"
src=$(dirname "$0")
# as the library was built: plain, ASan or TSan (the CI passes)
built=
for san in "" "-fsanitize=address,undefined" "-fsanitize=thread"; do
	# shellcheck disable=SC2086
	"${CC:-cc}" -std=gnu11 -O1 $san -I"$LARDER_BUILD/include" \
	    -I"$LARDER_BUILD/lib" -o "$T/acq-client" "$src/acq-client.c" \
	    "$LARDER_BUILD/lib/liblarder.a" -lpthread 2>/dev/null &&
	    built=1 && break
done
[ -n "$built" ] || fail "cannot build acq-client.c against lib/liblarder.a"
mkfs_loop ext4 64M > "$T/mnt" || fail "mkfs"
mnt=$(cat "$T/mnt")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" "backend userspace"
start_larderd "$T/conf"
"$T/acq-client" "$SOCK" "python3 $src/acq-raw.py $SOCK" > "$T/out" 2>&1
rc=$?
cat "$T/out"
[ $rc -eq 0 ] || fail "acq-client exited $rc"
grep -q '^ok: a hostile peer changed nothing' "$T/out" || fail "no hostile run"
ig=$(ctl stats | awk '$1 == "store.parked_ignored" { print $2 }')
[ "${ig:-0}" -gt 0 ] || fail "store.parked_ignored did not count the forged entries"
ok "store.parked_ignored $ig"
stop_larderd
ok "done"
