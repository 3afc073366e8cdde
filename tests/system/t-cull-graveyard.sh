#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-cull-graveyard.sh: a crash between the rename into graveyard/ and the
# unlink (simulated by placing entries there before the start): the next
# start reaps them all, whole volumes included, and follows no symlink.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4

mkfs_loop ext4 64M > "$T/mnt.path" || fail "mkfs"
mnt=$(cat "$T/mnt.path")
dir=$mnt/cache
mkdir -p "$dir/graveyard" "$dir/cache" "$mnt/outside"
echo precious > "$mnt/outside/file"
head -c 3000000 /dev/urandom > "$dir/graveyard/c1.2.3"
echo x > "$dir/graveyard/Ca.b.c"
mkdir -p "$dir/graveyard/V1.2/@00" "$dir/graveyard/V1.2/@01"
echo y > "$dir/graveyard/V1.2/@00/Dobject"
ln -s "$mnt/outside" "$dir/graveyard/V1.2/@01/link"
ln -s "$mnt/outside/file" "$dir/graveyard/toplink"
mkfifo "$dir/graveyard/fifo"
chmod -R go-rwx "$dir"

write_conf "$T/conf" "dir $dir" "socket $SOCK"
start_larderd "$T/conf"
wait_for 20 sh -c "[ -z \"\$(ls -A '$dir/graveyard')\" ]" ||
    fail "graveyard not reaped: $(ls -A "$dir/graveyard")"
[ "$(cat "$mnt/outside/file")" = precious ] || fail "a symlink was followed"
[ "$(stat_of reap.objects)" -ge 6 ] || fail "reap.objects $(stat_of reap.objects)"
[ "$(stat_of reap.bytes)" -ge 3000000 ] || fail "reap.bytes $(stat_of reap.bytes)"
[ "$(stat_of reap.errors)" = 0 ] || fail "reap.errors $(stat_of reap.errors)"
ok "leftovers reaped at start ($(stat_of reap.objects) entries, $(stat_of reap.bytes) bytes); symlink targets intact"

# and it still works: put, cull on demand, reaped again
echo data > "$T/in"
ctl put test,g k1 "$T/in" || fail "put"
# published (linked, indexed) and released
wait_for 20 sh -c "'$LARDERCTL' -s '$SOCK' status | grep -q 'cull.cache_objects *1\$'" ||
    fail "k1 not in the index"
wait_for 20 sh -c "'$LARDERCTL' -s '$SOCK' stats | grep -q 'cull.pinned_objects *0\$'" ||
    fail "k1 still held"
ctl cull --bytes 1 > "$T/cull.out" || fail "larderctl cull: exit $?"
wait_for 20 sh -c "[ -z \"\$(ls -A '$dir/graveyard')\" ]" || fail "graveyard not reaped after cull"
if cached test,g k1; then fail "k1 not culled by larderctl cull --bytes 1"; fi
ok "larderctl cull: $(cat "$T/cull.out")"
stop_larderd
