#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-cull-foreign.sh: a cache tree with foreign entries (a symlink, a FIFO,
# a stray file in a fan-out dir, a directory there, an unknown top-level
# name, an empty volume) starts, indexes the real objects, culls normally,
# and leaves the foreign entries alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4

mkfs_loop ext4 64M > "$T/mnt.path" || fail "mkfs"
mnt=$(cat "$T/mnt.path")
dir=$mnt/cache
mkdir "$dir"
write_conf "$T/conf" "dir $dir" "socket $SOCK"

# real objects first, through the daemon
start_larderd "$T/conf"
echo data > "$T/in"
for i in 1 2 3 4 5; do put_retry test,f k$i "$T/in"; done
ctl get test,f k5 > /dev/null || fail "get k5"
stop_larderd

V=$dir/cache/Itest,f
ln -s /etc/passwd "$V/@00/Dlink"
mkfifo "$V/@01/Dfifo"
echo junk > "$V/@02/stray file"
mkdir "$V/@03/Dsubdir"
echo junk > "$dir/cache/README"
mkdir "$dir/cache/Iempty,vol"
for i in $(seq 0 255); do mkdir "$dir/cache/Iempty,vol/@$(printf %02x "$i")"; done

start_larderd "$T/conf"
wait_for 20 sh -c "'$LARDERCTL' -s '$SOCK' status | grep -q 'scan.state *done'" ||
    fail "scan did not finish: $(status scan.state)"
[ "$(status cull.cache_objects)" = 5 ] ||
    fail "indexed $(status cull.cache_objects) objects, not 5"
[ "$(stat_of scan.foreign.symlink)" = 1 ] || fail "symlinks: $(stat_of scan.foreign.symlink)"
[ "$(stat_of scan.foreign.fifo)" = 1 ] || fail "fifos: $(stat_of scan.foreign.fifo)"
[ "$(stat_of scan.foreign.badkey)" = 1 ] || fail "bad names: $(stat_of scan.foreign.badkey)"
[ "$(stat_of scan.foreign.dir)" = 1 ] || fail "dirs: $(stat_of scan.foreign.dir)"
[ "$(stat_of scan.foreign.name)" = 1 ] || fail "unknown: $(stat_of scan.foreign.name)"
grep -q "foreign entry left alone: cache/Itest,f/@00/Dlink: symlink" "$DAEMON_LOG" ||
    fail "the symlink was not logged"
ok "started; 5 objects indexed, 5 foreign entries counted and logged"

for k in k1 k2 k3 k4 k5; do cached test,f $k || fail "$k not served"; done
ctl cull --bytes 1 > "$T/cull.out" || fail "larderctl cull: exit $?"
grep -q "culled 1 objects" "$T/cull.out" || fail "cull: $(cat "$T/cull.out")"
wait_for 20 sh -c "[ -z \"\$(ls -A '$dir/graveyard')\" ]" || fail "graveyard not reaped"
[ -L "$V/@00/Dlink" ] && [ -p "$V/@01/Dfifo" ] && [ -f "$V/@02/stray file" ] &&
    [ -d "$V/@03/Dsubdir" ] && [ -f "$dir/cache/README" ] ||
    fail "a foreign entry was touched"
ok "culled normally, foreign entries left alone"
stop_larderd
