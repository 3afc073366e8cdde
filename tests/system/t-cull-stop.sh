#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-cull-stop.sh: crossing bstop. A client fills and holds objects until
# the cache answers ENOBUFS; then larderctl put is refused promptly (exit
# 4, no hang) because nothing can be culled; culling stays suspended (no
# spinning) until the client lets go; then culling frees space and puts
# succeed again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4 timeout
build_hold

mkfs_loop ext4 64M > "$T/mnt.path" || fail "mkfs"
mnt=$(cat "$T/mnt.path")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" \
    "brun 40%" "bcull 30%" "bstop 10%" "resume_thresholds - 5"
start_larderd "$T/conf"
V=test,stop
head -c 1048576 /dev/urandom > "$T/in"

keys=$(seq -f 'h%g' 1 70 | tr '\n' ' ')
mkfifo "$T/hold.in"
# shellcheck disable=SC2086
"$HOLD" "$SOCK" $V 1048576 $keys < "$T/hold.in" > "$T/hold.out" 2>&1 &
HPID=$!
exec 3> "$T/hold.in"
at_exit "kill $HPID"
wait_for 60 grep -q '^held' "$T/hold.out" || fail "holder: $(cat "$T/hold.out")"
held=$(sed -n 's/^held //p' "$T/hold.out")
[ "$held" -lt 70 ] || fail "70 MiB fitted in a 64 MiB filesystem"
ok "holder filled $held objects, then the cache said ENOBUFS"

timeout 10 "$LARDERCTL" -s "$SOCK" put $V new1 "$T/in" 2>/dev/null; rc=$?
[ $rc -eq 4 ] || fail "put while full and all held: exit $rc, not 4"
case $(status cull.allocate) in refused*bstop*) ;;
*) fail "allocate: $(status cull.allocate)" ;; esac
wait_for 10 sh -c "'$LARDERCTL' -s '$SOCK' status | grep -q 'cull.state *suspended'" ||
    fail "culling not suspended: $(status cull.state)"
p1=$(stat_of cull.passes)
sleep 2
p2=$(stat_of cull.passes)
[ "$p1" = "$p2" ] || fail "culling passes go on while suspended ($p1 -> $p2)"
ok "put refused promptly (exit 4); culling suspended, not spinning"

# accepted bytes are all there while held
echo check >&3
wait_for 30 grep -qE '^(ok|bad)' "$T/hold.out" || fail "holder did not answer"
grep -q '^ok$' "$T/hold.out" || fail "holder: $(cat "$T/hold.out")"

# the client lets go: releases resume culling, space comes back
exec 3>&-
wait $HPID || fail "holder exited $?"
wait_for 30 idle || fail "culling did not resume and finish: $(status cull.state)"
free=$(status cull.blocks_free | sed 's/%.*//')
[ "${free%.*}" -ge 40 ] || fail "free blocks $free% < brun after culling"
[ "$(stat_of cull.objects)" -gt 0 ] || fail "nothing culled"
case $(status cull.allocate) in yes) ;; *) fail "allocate: $(status cull.allocate)" ;; esac
ctl put $V new1 "$T/in" || fail "put refused after culling"
ok "released: culled $(stat_of cull.objects), free blocks $free%, put succeeds"
stop_larderd
