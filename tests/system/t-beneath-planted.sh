#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-beneath-planted.sh: what someone planted in the cache tree is never
# followed or opened: a fan-out directory replaced by a symlink to outside
# the cache (holding a copy of the object), a FIFO and a device node where
# objects were. larderd serves none of them, writes nothing outside, opens
# neither node (inotify IN_OPEN, and a writer waiting on the FIFO), and
# keeps serving every other object. Also: a cache dir writable by others
# or owned by another user, and a larder.lock that is a FIFO, are refused
# at start with what to do.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4 python3 mknod

mkfs_loop ext4 64M > "$T/mnt.path" || fail "mkfs"
mnt=$(cat "$T/mnt.path")
dir=$mnt/cache
mkdir -p "$dir" "$mnt/outside"
write_conf "$T/conf" "dir $dir" "socket $SOCK" "backend userspace"
head -c 200000 /dev/urandom > "$T/in"
head -c 200000 /dev/urandom > "$T/other"

start_larderd "$T/conf"
ctl put test,mid m "$T/in" || fail "put m"
ctl put test,fifo f "$T/in" || fail "put f"
ctl put test,dev d "$T/in" || fail "put d"
for i in 1 2 3; do ctl put test,ok o$i "$T/in" || fail "put o$i"; done
stop_larderd

# @xx of test,mid moved outside the cache, a symlink in its place
mobj=$(find "$dir/cache/Itest,mid" -type f)
[ -n "$mobj" ] || fail "no object file for m"
fan=$(dirname "$mobj")
mv "$fan" "$mnt/outside/"
ln -s "$mnt/outside/$(basename "$fan")" "$fan"
before=$(cd "$mnt/outside" && find . | sort | md5sum)
# a FIFO and a device node in place of f and d
fobj=$(find "$dir/cache/Itest,fifo" -type f)
dobj=$(find "$dir/cache/Itest,dev" -type f)
[ -n "$fobj" ] && [ -n "$dobj" ] || fail "no object files for f and d"
rm "$fobj" "$dobj"
mkfifo -m 0600 "$fobj"
mknod -m 0600 "$dobj" c 1 3
ok "planted: $(basename "$fan") of test,mid -> outside, FIFO $(basename "$fobj"), device node $(basename "$dobj")"

# watch the nodes: a writer blocked on the FIFO until a reader opens it,
# and inotify for any open of either
( exec 3> "$fobj"; echo opened > "$T/fifo-opened" ) &
WPID=$!
at_exit "kill $WPID"
: > "$T/sentinel"
python3 "$(dirname "$0")/opens.py" "$T/opens" "$T/sentinel" "$fobj" "$dobj" \
    > "$T/opens.status" 2>&1 &
OPID=$!
at_exit "kill $OPID"
wait_for 20 grep -qE '^(ready|opath-notifies)' "$T/opens.status" ||
    fail "opens.py: $(cat "$T/opens.status")"
inotify=1
grep -q '^ready' "$T/opens.status" || inotify=0

start_larderd "$T/conf"
for k in "test,mid m" "test,fifo f" "test,dev d"; do
	# shellcheck disable=SC2086
	set -- $k
	ctl get "$1" "$2" > "$T/out" 2>/dev/null; rc=$?
	[ $rc -ne 0 ] || fail "$1 $2 was served (rc 0, $(wc -c < "$T/out") bytes)"
done
# filling m again must not land outside the cache
ctl put test,mid m "$T/other" > /dev/null 2>&1
ctl put test,fifo f "$T/other" > /dev/null 2>&1
ctl put test,dev d "$T/other" > /dev/null 2>&1
for i in 1 2 3; do
	ctl get test,ok o$i > "$T/out" || fail "get o$i"
	cmp -s "$T/in" "$T/out" || fail "o$i: wrong bytes"
done
ctl put test,ok n1 "$T/other" || fail "put n1"
ctl get test,ok n1 > "$T/out" && cmp -s "$T/other" "$T/out" || fail "get n1"
kill -0 "$DAEMON_PID" || fail "larderd died"
ok "other objects served, a new one filled"

after=$(cd "$mnt/outside" && find . | sort | md5sum)
[ "$before" = "$after" ] || fail "something changed outside the cache: $(find "$mnt/outside")"
cmp -s "$T/in" "$mnt/outside/$(basename "$fan")/$(basename "$mobj")" ||
    fail "the object outside the cache was changed"
[ -L "$fan" ] || fail "the symlink was replaced"
ok "nothing followed the symlink: outside unchanged"

[ ! -e "$T/fifo-opened" ] || fail "larderd opened the FIFO"
if [ $inotify = 1 ]; then
	cat "$T/sentinel" > /dev/null
	wait_for 20 grep -q '^sentinel' "$T/opens" || fail "opens.py stopped"
	! grep -q '^open' "$T/opens" || fail "opened: $(grep '^open' "$T/opens")"
	ok "neither the FIFO nor the device node was opened (inotify)"
else
	ok "the FIFO was not opened (this kernel reports O_PATH opens to inotify: device node not checked)"
fi
stop_larderd
kill "$WPID" 2>/dev/null

# start refuses a cache dir others may write to, or that another user owns
chmod 0777 "$dir"
"$LARDERD" -n -s -f "$T/conf" > "$T/start.out" 2>&1 && fail "started with mode 0777"
grep -q 'writable by others (mode 0777): chmod go-w' "$T/start.out" ||
    fail "mode 0777: $(cat "$T/start.out")"
chmod 0775 "$dir"
"$LARDERD" -n -s -f "$T/conf" > "$T/start.out" 2>&1 && fail "started with mode 0775"
grep -q 'writable by its group (mode 0775): chmod go-w' "$T/start.out" ||
    fail "mode 0775: $(cat "$T/start.out")"
chmod 0755 "$dir"
chown 1 "$dir"
"$LARDERD" -n -s -f "$T/conf" > "$T/start.out" 2>&1 && fail "started with owner uid 1"
grep -q 'owned by uid 1, not by larderd.s uid 0: chown 0' "$T/start.out" ||
    fail "owner 1: $(cat "$T/start.out")"
chown 0 "$dir"
ok "refused: $(tail -1 "$T/start.out")"

# a larder.lock that is a FIFO is not opened: refused with what to do
rm "$dir/larder.lock"
mkfifo -m 0600 "$dir/larder.lock"
rm -f "$T/fifo-opened"
( exec 3> "$dir/larder.lock"; echo opened > "$T/fifo-opened" ) &
WPID=$!
"$LARDERD" -n -s -f "$T/conf" > "$T/start.out" 2>&1 && fail "started with a FIFO as larder.lock"
grep -q 'larder.lock is not a regular file: remove it' "$T/start.out" ||
    fail "FIFO larder.lock: $(cat "$T/start.out")"
[ ! -e "$T/fifo-opened" ] || fail "larderd opened larder.lock, a FIFO"
kill "$WPID" 2>/dev/null
rm "$dir/larder.lock"
start_larderd "$T/conf"
ctl get test,ok o1 > "$T/out" && cmp -s "$T/in" "$T/out" || fail "o1 after restart"
stop_larderd
ok "FIFO larder.lock refused, not opened; removed, larderd starts"
