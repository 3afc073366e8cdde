#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-core-frozen.sh: nobody tells larderd the cache filesystem is frozen
# (fsfreeze -f behind its back). No client call may block: reads of cached
# objects are served, a fill answers (ENOBUFS, exit 4), a miss is a miss,
# status answers; after the thaw, fills work again; and SIGTERM while
# frozen still ends the daemon.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd fsfreeze mkfs.ext4 timeout
mkfs_loop ext4 128M > "$T/mnt" || fail "mkfs"
mnt=$(cat "$T/mnt")
mkdir "$mnt/cache"
write_conf "$T/conf" "dir $mnt/cache" "socket $SOCK" "backend userspace"
start_larderd "$T/conf"
head -c 2000000 /dev/urandom > "$T/in"
ctl put test,frozen cached "$T/in" || fail "put"
# published: the meta thread wrote its record (the next batch, ~20 ms)
wait_meta_empty

fsfreeze -f "$mnt" || fail "fsfreeze -f"
at_exit "fsfreeze -u '$mnt'"
# every call gets an answer within a bound; none waits for the thaw
timeout 15 "$LARDERCTL" -s "$SOCK" get test,frozen cached > "$T/out"; rc=$?
[ $rc -ne 124 ] || fail "get blocked on the frozen filesystem"
[ $rc -eq 0 ] && cmp -s "$T/in" "$T/out" || fail "get while frozen: exit $rc"
timeout 15 "$LARDERCTL" -s "$SOCK" put test,frozen new "$T/in"; rc=$?
[ $rc -ne 124 ] || fail "put blocked on the frozen filesystem"
[ $rc -eq 4 ] || fail "put while frozen: exit $rc, not 4 (refused)"
timeout 15 "$LARDERCTL" -s "$SOCK" put test,frozen new2 "$T/in"; rc=$?
[ $rc -eq 4 ] || fail "second put while frozen: exit $rc"
timeout 15 "$LARDERCTL" -s "$SOCK" get test,frozen missing > /dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "get of a missing object while frozen: exit $rc"
timeout 15 "$LARDERCTL" -s "$SOCK" get test,frozen new > /dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "get of the refused fill while frozen: exit $rc"
timeout 15 "$LARDERCTL" -s "$SOCK" status > /dev/null || fail "status while frozen"
timeout 15 "$LARDERCTL" -s "$SOCK" volumes > /dev/null || fail "volumes while frozen"
ok "frozen behind larderd's back: reads served, fills refused, nothing blocks"

fsfreeze -u "$mnt" || fail "fsfreeze -u"
i=0
until ctl put test,frozen after "$T/in" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "fills do not resume after the thaw"
	sleep 0.2
done
ctl get test,frozen after > "$T/out" && cmp -s "$T/in" "$T/out" || fail "get after thaw"
ok "after the thaw fills work again"

# SIGTERM while frozen: the daemon still ends (it gives up flushing after
# 20 s; its threads leave once the filesystem is thawed)
fsfreeze -f "$mnt" || fail "fsfreeze -f (2)"
timeout 15 "$LARDERCTL" -s "$SOCK" put test,frozen stuck "$T/in" > /dev/null 2>&1
kill -TERM "$DAEMON_PID"
i=0
until grep -q "exiting without flushing" "$DAEMON_LOG" ||
    ! kill -0 "$DAEMON_PID" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 400 ] || fail "larderd did not give up within 40s while frozen"
	sleep 0.1
done
[ ! -e "$SOCK" ] || fail "socket left while stopping frozen"
fsfreeze -u "$mnt"
wait "$DAEMON_PID"; rc=$?
DAEMON_PID=
[ $rc -eq 0 ] || fail "SIGTERM while frozen: exit $rc"
ok "SIGTERM while frozen: gave up flushing, socket removed, exit 0"
