#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-cull-space.sh: a 64 MiB ext4 filled through the client API past bcull:
# larderd culls back above brun, oldest first; objects read recently
# survive; objects a client holds are never culled and every byte the
# client wrote to them and was accepted reads back while they are held.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4
build_hold

mkfs_loop ext4 64M > "$T/mnt.path" || fail "mkfs"
mnt=$(cat "$T/mnt.path")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" \
    "brun 40%" "bcull 30%" "bstop 10%"
start_larderd "$T/conf"
V=test,cull
head -c 1048576 /dev/urandom > "$T/in"

# the oldest objects of all, held by a client for the whole test
mkfifo "$T/hold.in"
"$HOLD" "$SOCK" $V 1048576 held1 held2 < "$T/hold.in" > "$T/hold.out" 2>&1 &
HPID=$!
exec 3> "$T/hold.in"
at_exit "kill $HPID"
wait_for 20 grep -q '^held 2$' "$T/hold.out" || fail "holder: $(cat "$T/hold.out")"
sleep 1.1		# last use has a resolution of one second

for i in 1 2 3 4 5 6 7 8; do put_retry $V a$i "$T/in"; done
sleep 1.1
for i in 1 2 3 4 5 6 7 8; do put_retry $V b$i "$T/in"; done
sleep 1.1
# read a1..a3: now they are newer than every b
for i in 1 2 3; do ctl get $V a$i > /dev/null || fail "get a$i"; done
sleep 1.1

# fill until the first culling pass has run, then let it finish
n=0
while [ "$(stat_of cull.objects)" = 0 ]; do
	n=$((n + 1))
	[ $n -le 60 ] || fail "no culling after 60 MiB: $(status cull.state)"
	put_retry $V c$n "$T/in"
done
wait_for 30 idle || fail "culling did not finish: $(status cull.state)"
culled=$(stat_of cull.objects)
# culling stopped at brun (a fill still landing after that may take a
# little of it again: hysteresis keeps it idle above bcull)
done=$(sed -n 's/.*done culling: free blocks \([0-9.]*\)% >= brun 40%.*/\1/p' "$DAEMON_LOG" | head -1)
[ -n "$done" ] || fail "no 'done culling ... >= brun 40%' in the log"
free=$(status cull.blocks_free | sed 's/%.*//')
ok "filled $n objects past bcull; culled $culled; stopped at $done% free, now $free%"
[ "${free%.*}" -ge 30 ] || fail "free blocks $free% < bcull 30% after culling"

# oldest first: a4..a8 went, then (if more was needed) b's; a1..a3 (read),
# the c's and the held objects stayed
echo check >&3
wait_for 20 grep -qE '^(ok|bad)' "$T/hold.out" || fail "holder did not answer"
grep -q '^ok$' "$T/hold.out" || fail "holder: $(cat "$T/hold.out")"
ok "held objects intact, every accepted byte reads back"
gone=0
for k in a4 a5 a6 a7 a8; do
	if cached $V $k; then fail "$k (oldest, unread) survived culling"; fi
	gone=$((gone + 1))
done
for k in a1 a2 a3; do cached $V $k || fail "$k (read recently) was culled"; done
i=1
while [ $i -le $n ]; do
	cached $V c$i || fail "c$i (newest) was culled"
	i=$((i + 1))
done
bgone=0
for i in 1 2 3 4 5 6 7 8; do cached $V b$i || bgone=$((bgone + 1)); done
[ $((gone + bgone)) -eq "$culled" ] ||
    fail "culled $culled but $gone a's and $bgone b's are gone"
[ "$(stat_of cull.skipped_in_use)" = 0 ] || true
[ "$(stat_of reap.objects)" -ge "$culled" ] || fail "reaped fewer than culled"
[ -z "$(ls -A "$mnt/cache/graveyard")" ] || fail "graveyard not empty"
ok "oldest first: a4..a8 and $bgone b's culled; a1..a3, c's and held kept"

exec 3>&-
wait $HPID || fail "holder exited $?"
stop_larderd
