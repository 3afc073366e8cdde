#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-beneath-noopenat2.sh: larderd (userspace mode) under a real seccomp
# filter that answers openat2() with ENOSYS, as systemd's
# RestrictSUIDSGID=yes does (noopenat2.c): the startup scan finds what an
# earlier run cached, the graveyard left by a crash is reaped (following no
# symlink), filling past bcull culls back to the thresholds, and nothing in
# the log says ENOSYS. Then once more with EPERM, as other profiles answer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4

NOA=$LARDER_BUILD/tests/system/noopenat2
if [ ! -x "$NOA" ]; then
	need_cmd "${CC:-cc}"
	NOA=$T/noopenat2
	"${CC:-cc}" -std=gnu11 -O1 -o "$NOA" "$(dirname "$0")/noopenat2.c" ||
	    fail "cannot build noopenat2.c"
fi
"$NOA" sh -c 'exit 0' || skip "cannot install a seccomp filter here"
# the daemon, exec'd under the filter (same pid)
mkwrap() {
	printf '#!/bin/sh\nexec %s %s %s "$@"\n' "$NOA" "$1" \
	    "$LARDER_BUILD/daemon/larderd" > "$T/larderd-filtered"
	chmod +x "$T/larderd-filtered"
	LARDERD=$T/larderd-filtered
}

mkfs_loop ext4 64M > "$T/mnt.path" || fail "mkfs"
mnt=$(cat "$T/mnt.path")
dir=$mnt/cache
mkdir -p "$dir" "$mnt/outside"
echo precious > "$mnt/outside/file"
write_conf "$T/conf" "dir $dir" "socket $SOCK" "backend userspace" \
    "brun 40%" "bcull 30%" "bstop 10%"
V=test,noopenat2
head -c 1048576 /dev/urandom > "$T/in"

mkwrap "-e 38"	# ENOSYS
start_larderd "$T/conf"
grep -q 'openat2 is refused here' "$DAEMON_LOG" ||
    fail "larderd did not see the filter"
for i in 1 2 3 4 5; do put_retry $V s$i "$T/in"; done
wait_for 20 sh -c "'$LARDERCTL' -s '$SOCK' status | grep -q 'cull.cache_objects *5\$'" ||
    fail "s1..s5 not in the index: $(status cull.cache_objects)"
stop_larderd
ok "first run under the filter: 5 objects cached"

# what a crash between the rename into graveyard/ and the unlink leaves
mkdir -p "$dir/graveyard/V1.2/@00" "$dir/graveyard/V1.2/@01"
echo y > "$dir/graveyard/V1.2/@00/Dobject"
ln -s "$mnt/outside" "$dir/graveyard/V1.2/@01/link"
ln -s "$mnt/outside/file" "$dir/graveyard/toplink"
head -c 100000 /dev/urandom > "$dir/graveyard/c1.2.3"

: > "$DAEMON_LOG"
start_larderd "$T/conf"
wait_for 20 sh -c "'$LARDERCTL' -s '$SOCK' status | grep -q 'cull.cache_objects *5\$'" ||
    fail "startup scan: cull.cache_objects $(status cull.cache_objects), not 5"
wait_for 20 sh -c "[ -z \"\$(ls -A '$dir/graveyard')\" ]" ||
    fail "graveyard not reaped: $(ls -A "$dir/graveyard")"
[ "$(cat "$mnt/outside/file")" = precious ] || fail "a symlink was followed"
[ -e "$mnt/outside" ] || fail "outside/ removed through a symlink"
for i in 1 2 3 4 5; do
	ctl get $V s$i > "$T/out" || fail "get s$i"
	cmp -s "$T/in" "$T/out" || fail "s$i: wrong bytes"
done
ok "restart under the filter: startup scan found 5 objects, graveyard reaped ($(stat_of reap.objects) entries), symlink targets intact"

n=0
while [ "$(stat_of cull.objects)" = 0 ]; do
	n=$((n + 1))
	[ $n -le 60 ] || fail "no culling after 60 MiB: $(status cull.state)"
	put_retry $V c$n "$T/in"
done
wait_for 30 idle || fail "culling did not finish: $(status cull.state)"
culled=$(stat_of cull.objects)
grep -q 'done culling: free blocks [0-9.]*% >= brun 40%' "$DAEMON_LOG" ||
    fail "no 'done culling ... >= brun 40%' in the log"
free=$(status cull.blocks_free | sed 's/%.*//')
[ "${free%.*}" -ge 30 ] || fail "free blocks $free% < bcull 30% after culling"
[ "$(stat_of reap.objects)" -ge "$culled" ] || fail "reaped fewer than culled"
[ "$(stat_of cull.errors)" = 0 ] || fail "cull.errors $(stat_of cull.errors)"
[ "$(stat_of reap.errors)" = 0 ] || fail "reap.errors $(stat_of reap.errors)"
ok "culling under the filter: $n objects put, $culled culled, $free% free"
stop_larderd
if grep -qiE 'Function not implemented|ENOSYS' "$DAEMON_LOG"; then
	fail "ENOSYS in the log: $(grep -iE 'Function not implemented|ENOSYS' "$DAEMON_LOG" | head -3)"
fi

# EPERM, as some container profiles answer
mkwrap "-e 1"
: > "$DAEMON_LOG"
start_larderd "$T/conf"
grep -q 'openat2 is refused here' "$DAEMON_LOG" ||
    fail "larderd did not see the EPERM filter"
ctl get $V c$n > "$T/out" || fail "get c$n under EPERM"
cmp -s "$T/in" "$T/out" || fail "c$n: wrong bytes"
put_retry $V e1 "$T/in"
ctl get $V e1 > "$T/out" && cmp -s "$T/in" "$T/out" || fail "e1 under EPERM"
ctl cull --bytes 1 > /dev/null || fail "larderctl cull under EPERM"
wait_for 20 idle || fail "cull under EPERM did not finish"
[ "$(stat_of cull.errors)" = 0 ] || fail "cull.errors under EPERM"
stop_larderd
if grep -qE 'Operation not permitted' "$DAEMON_LOG"; then
	fail "EPERM in the log: $(grep 'Operation not permitted' "$DAEMON_LOG" | head -3)"
fi
ok "under an EPERM filter: served, filled, culled"
