#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-mount-chroot.sh: larderd chrooted into a directory that is not a mount
# point, inside a loop-mounted ext4, with /proc mounted there: the mount
# holding its cache dir is above its root, so not in its mountinfo. It
# starts anyway (the clone is of the dir itself), says so in status,
# serves, culls and reaps; `larderd -t` in the chroot agrees.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cull-lib.sh"
need_root
need_cmd mkfs.ext4 chroot ldd

mkfs_loop ext4 64M > "$T/mnt.path" || fail "mkfs"
mnt=$(cat "$T/mnt.path")
root=$mnt/root
mkdir -p "$root/proc" "$root/cache" "$root/run" "$root/etc" "$root/sbin"
cp "$LARDER_BUILD/daemon/larderd" "$root/sbin/larderd"
# its shared libraries (and the sanitizer runtime of a sanitized build)
for lib in $(ldd "$LARDER_BUILD/daemon/larderd" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p'); do
	cp --parents -L "$lib" "$root" || fail "copy $lib"
done
mount -t proc proc "$root/proc" || skip "cannot mount /proc in the chroot"
at_exit "umount -l '$root/proc'"
mountpoint -q "$root" && fail "the chroot root is a mount point"
write_conf "$root/etc/larder.conf" "dir /cache" "socket /run/larder.sock" \
    "backend userspace" "brun 40%" "bcull 30%" "bstop 10%"
SOCK=$root/run/larder.sock
printf '#!/bin/sh\nexec chroot %s /sbin/larderd "$@"\n' "$root" > "$T/chrooted"
chmod +x "$T/chrooted"
LARDERD=$T/chrooted
"$LARDERD" -t -f /etc/larder.conf > "$T/t.out" 2>&1 ||
    fail "larderd -t in the chroot: $(cat "$T/t.out")"
ok "larderd -t in the chroot: $(tr '\n' ' ' < "$T/t.out")"
# no /dev/cachefiles in the chroot: backend kernel is refused with the
# hint, backend auto says it would use userspace mode
write_conf "$root/etc/k.conf" "dir /cache" "socket /run/larder.sock" "backend kernel"
"$LARDERD" -t -f /etc/k.conf > "$T/t.out" 2>&1 && fail "-t passed backend kernel without /dev/cachefiles"
grep -q '/dev/cachefiles: No such file or directory: load the cachefiles module (modprobe cachefiles)' "$T/t.out" ||
    fail "-t backend kernel: $(cat "$T/t.out")"
write_conf "$root/etc/a.conf" "dir /cache" "socket /run/larder.sock" "backend auto"
"$LARDERD" -t -f /etc/a.conf > "$T/t.out" 2>&1 || fail "-t backend auto: $(cat "$T/t.out")"
grep -q 'backend auto: a start would use userspace mode (/dev/cachefiles: No such file' "$T/t.out" ||
    fail "-t backend auto: $(cat "$T/t.out")"
ok "larderd -t without /dev/cachefiles: backend kernel refused with the hint, auto says userspace"

start_larderd /etc/larder.conf
status mount.original | grep -q 'not visible from this root' ||
    fail "mount.original: $(status mount.original)"
[ "$(status mount.fstype)" = ext4 ] || fail "mount.fstype: $(status mount.fstype)"
ok "started in the chroot: $(status mount.fstype), $(status mount.source), original $(status mount.original)"
head -c 1048576 /dev/urandom > "$T/in"
for i in 1 2 3; do put_retry test,chroot k$i "$T/in"; done
for i in 1 2 3; do
	ctl get test,chroot k$i > "$T/out" && cmp -s "$T/in" "$T/out" ||
	    fail "k$i: not served or wrong bytes"
done
# published (linked and indexed: the meta thread's next batch) and
# released; a cull before that finds nothing to cull
wait_for 20 sh -c "'$LARDERCTL' -s '$SOCK' status | grep -q 'cull.cache_objects *3\$'" ||
    fail "the objects are not in the index: $(status cull.cache_objects)"
wait_for 20 sh -c "'$LARDERCTL' -s '$SOCK' stats | grep -q 'cull.pinned_objects *0\$'" ||
    fail "objects still held"
ctl cull --bytes 1 > /dev/null || fail "larderctl cull"
wait_for 20 idle || fail "cull did not finish: $(status cull.state)"
[ "$(stat_of cull.objects)" -ge 1 ] || fail "nothing culled"
culled=$(stat_of cull.objects)
wait_for 20 sh -c "[ -z \"\$(ls -A '$root/cache/graveyard')\" ]" ||
    fail "graveyard not reaped"
stop_larderd
ok "served 3 objects, culled $culled and reaped in the chroot"
