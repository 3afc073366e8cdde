#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-format.sh: larder's cachefiles codecs (lib/cfmt.c) against what the real
# kernel writes. Boots the VM (tests/vm/run-vm.sh), lets the kernel's CacheFiles
# and cachefilesd fill a cache from a 9p share (cache=fscache, one mount
# with cachetag=mycache, one without), and checks, byte for byte, that the
# volume directories, every object's fan-out directory and cooked name,
# the modes, and the user.CacheFiles.cache xattrs of volumes and objects
# are what cfmt computes from the host's inode numbers, sizes and mtimes.
# In the guest, every name must also uncook, re-cook and hash back to its
# fan-out directory.
# Staleness: between two passes over the mycache volume one file's mtime is
# changed (through a mount without fscache), which changes only its aux
# (qid.version). The kernel must replace exactly that object (new inode)
# and reuse the others, which is what cfmt_obj_usable says of the old bytes.
# Negative controls prove the comparison can fail.
# Exit 0 pass, 1 fail, 77 skip (no VM harness, qemu or static libc).
set -u

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

top=${LARDER_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}
vmdir=$top/tests/vm
[ -f "$vmdir/run-vm.sh" ] || fail "no VM harness at $vmdir/run-vm.sh"
command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "qemu-system-x86_64 not installed"
command -v gcc >/dev/null 2>&1 || skip "gcc not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t-format.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT INT TERM
tool=$tmp/cfmt-tool
gcc -std=gnu11 -D_GNU_SOURCE -O2 -static -I"$top/lib" -o "$tool" \
	"$top/tests/vm/cfmt-tool.c" "$top/lib/cfmt.c" 2> "$tmp/gcc.log" ||
	{ cat "$tmp/gcc.log"; skip "cannot build a static cfmt-tool (libc6-dev static libs?)"; }

# The share: files of known sizes, one in a subdirectory, one hard link
# (one inode: one object), and a directory (directories get no cookie).
# "touched" gets a new mtime from the guest between the two passes.
share=$tmp/share
mkdir -p "$share/sub"
mk() { head -c "$2" /dev/urandom > "$share/$1"; }
mk one 1
mk six 6
mk p4095 4095
mk p4096 4096
mk p4097 4097
mk odd 65539
mk big 3000000
mk touched 5000
mk sub/inner 12345
ln "$share/odd" "$share/odd-link"
nfiles=9

vol1="9p,hostshare,mycache"
vol2="9p,hostshare,"

# expect VOLKEY...: sorted VOL/OBJ lines for the share as it is now
expect() {
	for v in "$@"; do
		"$tool" vol "$v" || return 1
		find "$share" -type f -exec stat -c '%i %s %Y' {} + | sort -u |
		while read -r ino size mtime; do
			"$tool" obj9p "$v" "$ino" "$size" "$mtime" || exit 1
		done || return 1
	done | sort
}
expect "$vol1" > "$tmp/expected1" || fail "cfmt-tool could not compute expectations"
set -- $(stat -c '%i %s %Y' "$share/touched")
t_ino=$1 t_size=$2 t_mtime0=$3
t_obj0=$("$tool" obj9p "$vol1" "$t_ino" "$t_size" "$t_mtime0")
t_path=$(echo "$t_obj0" | cut -d' ' -f2)

cat > "$tmp/guest.sh" <<'EOF'
# guest side of t-format.sh: $1 is the cfmt-tool path, $2 kfacts.sh
TOOL=$1
. "$2"
echo "OBJMODE $(kf_object_mode)"
uname -r
# -N: no culling. Debian's cachefilesd 0.10.10 aborts (SIGABRT, exit 134,
# nothing logged) in its cull-table code about once in 20 runs on 6.12
# (seen twice in 42 runs of this test, 2026-12-06); without culling it
# never scans. This test needs the kernel's objects, not culling.
cachefilesd -N -n -s -f /etc/cachefilesd.conf > /tmp/d.log 2>&1 &
DPID=$!
i=0
until grep -q ' A ' /proc/fs/fscache/caches 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "GUESTFAIL cache never became active"; cat /tmp/d.log; exit 1; }
	sleep 0.1
done
# Writes to the cache are asynchronous: wait until every one has ended
# ("RdHelp : WR=n ws=n wf=n"). Debian's 6.1.192 oopses in p9_fid_destroy
# (netfs_rreq_write_to_cache_work) when a umount races a cache write.
settle() {
	kf_settle 60
	case $? in
	0) ;;
	2) echo "GUESTFAIL no cache-write counters in /proc/fs/fscache/stats"; exit 1 ;;
	*) echo "GUESTFAIL cache writes never ended: $(kf_cache_writes)"; exit 1 ;;
	esac
}
# After umount every cookie is relinquished; an object is committed (xattr
# set, tmpfile linked) before its cookie is freed: wait for "Cookies: n=0".
nocookies() {
	i=0
	until grep -q '^Cookies: n=0 ' /proc/fs/fscache/stats; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "GUESTFAIL cookies never went away"; exit 1; }
		sleep 0.1
	done
}
readall() {
	mkdir -p /mnt/s
	mount -t 9p -o "trans=virtio,version=9p2000.L,cache=fscache$1" "$VM_SHARE_TAG" /mnt/s ||
		{ echo "GUESTFAIL mount$1"; exit 1; }
	find /mnt/s -type f | while read -r f; do cat "$f" > /dev/null; done
	settle
	umount /mnt/s
	nocookies
}
readall ",cachetag=mycache"
"$TOOL" dump "$VM_CACHE_DIR" | sed 's/^/P1 /'
kill -0 $DPID 2>/dev/null || { wait $DPID; echo "GUESTFAIL cachefilesd exited after the first pass (status $?):"; cat /tmp/d.log; dmesg | tail -20; exit 1; }
# a new mtime for one file, through a mount that does not use the cache
mount -t 9p -o trans=virtio,version=9p2000.L "$VM_SHARE_TAG" /mnt/s || { echo "GUESTFAIL plain mount"; exit 1; }
touch -d '2020-01-02 03:04:05' /mnt/s/touched || { echo "GUESTFAIL touch"; exit 1; }
umount /mnt/s
readall ",cachetag=mycache"
"$TOOL" dump "$VM_CACHE_DIR" | sed 's/^/P2 /'
readall ""
# cachefilesd must have served all three passes
kill -0 $DPID 2>/dev/null || { wait $DPID; echo "GUESTFAIL cachefilesd exited early (status $?):"; cat /tmp/d.log; dmesg | tail -20; exit 1; }
# closing /dev/cachefiles withdraws the cache: every object and volume
# xattr is committed before cachefilesd's exit completes
kill $DPID
wait $DPID
grep -E 'Cookies|Acquire|^IO|RdHelp : WR|CaWrOps' /proc/fs/fscache/stats
dmesg | grep -E 'WARNING|BUG|Oops|cachefiles|CacheFiles' || true
"$TOOL" dump "$VM_CACHE_DIR"
echo "GUESTDONE $?"
EOF

kfacts=$(readlink -f "$top/tests/vm/guest/kfacts.sh")
echo "--- running the guest"
VM_SHARE=$share VM_TIMEOUT=${VM_TIMEOUT:-300} VM_LOG=$tmp/console.log \
	bash "$vmdir/run-vm.sh" -f "$tool" -f "$kfacts" "$tmp/guest.sh" "$tool" "$kfacts" > "$tmp/vm.out" 2> "$tmp/vm.err" < /dev/null
rc=$?
cat "$tmp/vm.out"
if [ $rc -ne 0 ]; then
	cat "$tmp/vm.err"
	echo "--- guest kernel trouble, if any:"
	grep -a -A12 -E 'WARNING|BUG|Oops|general protection|panic' "$tmp/console.log" | head -80
	if [ $rc -eq 125 ] && grep -q -E 'cannot resolve the kernel|apt-get download .* failed|missing ' "$tmp/vm.err"; then
		skip "VM unavailable (run-vm.sh exit 125)"
	fi
	fail "run-vm.sh exit $rc"
fi
grep -q '^GUESTDONE' "$tmp/vm.out" || fail "the guest did not finish"
grep '^GUESTFAIL' "$tmp/vm.out" && fail "guest failure"

# cfmt-tool writes objects with mode 0000 (what 6.1 makes); the mode this
# kernel gives its objects comes from kfacts.sh (kf_object_mode)
objmode=$(sed -n 's/^OBJMODE \([0-7]\{4\}\)$/\1/p' "$tmp/vm.out")
[ -n "$objmode" ] || fail "the guest did not say its object mode"
kmode() { sed "s/^\(OBJ [^ ]*\) 0000 /\1 $objmode /"; }
kmode < "$tmp/expected1" > "$tmp/expected1.k" && mv "$tmp/expected1.k" "$tmp/expected1"

# compare EXPECTED ACTUAL: 0 if identical
compare() {
	diff -u "$1" "$2" > "$tmp/diff" && return 0
	return 1
}

status=0
bad() { echo "FAIL: $*"; status=1; }

# 1. after the first pass: the mycache volume, as the host saw the share
grep -E '^P1 (VOL|OBJ) ' "$tmp/vm.out" | cut -c4- | sort > "$tmp/actual1"
if ! compare "$tmp/expected1" "$tmp/actual1"; then
	bad "after the first pass, the kernel wrote something else:"
	cat "$tmp/diff"
fi

# 2. the end state, as the host sees the share now (touched has its new mtime)
t_mtime1=$(stat -c %Y "$share/touched")
[ "$t_mtime1" != "$t_mtime0" ] || bad "the guest's touch did not change the host mtime"
{ expect "$vol1" "$vol2" || echo BAD; } | kmode > "$tmp/expected"
grep -q '^BAD' "$tmp/expected" && fail "cfmt-tool could not compute expectations"
grep -E '^(VOL|OBJ) ' "$tmp/vm.out" | sort > "$tmp/actual"
echo "--- expected at the end (from the host's inodes, sizes, mtimes)"
cat "$tmp/expected"
if ! compare "$tmp/expected" "$tmp/actual"; then
	bad "what the kernel wrote differs from what cfmt computes:"
	cat "$tmp/diff"
fi
grep -E '^(P1 |P2 )?BAD' "$tmp/vm.out" && bad "names on disk that cfmt cannot decode or place"
n=$(grep -c '^OBJ ' "$tmp/actual")
[ "$n" -eq $((2 * nfiles)) ] || bad "$n objects, expected $((2 * nfiles))"
[ "$(grep -c '^VOL ' "$tmp/actual")" -eq 2 ] || bad "expected 2 volumes"

# 3. staleness: between P1 and P2 the kernel replaced the touched object
# (new inode) and kept every other one; cfmt_obj_usable must judge the P1
# bytes the same way against the files as they were for the second pass.
[ "$(grep -c '^P1 OBJ ' "$tmp/vm.out")" -eq $nfiles ] || bad "P1: expected $nfiles objects"
grep '^P1 OBJ ' "$tmp/vm.out" | while read -r _ _ path _ xattr; do
	ino1=$(awk -v p="$path" '$1 == "P1" && $2 == "INO" && $3 == p {print $4}' "$tmp/vm.out")
	ino2=$(awk -v p="$path" '$1 == "P2" && $2 == "INO" && $3 == p {print $4}' "$tmp/vm.out")
	[ -n "$ino1" ] && [ -n "$ino2" ] || { echo "FAIL: $path: no inode in P1 or P2"; exit 1; }
	# the file this object caches: the expectation line with its path
	line=$(grep -F " $path " "$tmp/expected")
	f=$(find "$share" -type f -exec stat -c '%i %s %Y' {} + | sort -u | while read -r i s m; do
		[ "$("$tool" obj9p "$vol1" "$i" "$s" "$m" | cut -d' ' -f2)" = "$path" ] && echo "$s $m"
	done)
	[ -n "$line" ] && [ -n "$f" ] || { echo "FAIL: $path: which file is it?"; exit 1; }
	usable=$("$tool" usable9p "$xattr" $f)
	if [ "$path" = "$t_path" ]; then
		[ "$ino1" != "$ino2" ] || { echo "FAIL: $path: the kernel kept the stale object"; exit 1; }
		[ "$usable" = 0 ] || { echo "FAIL: $path: cfmt_obj_usable accepts what the kernel found stale"; exit 1; }
		echo "stale: $path replaced by the kernel (inode $ino1 -> $ino2), cfmt_obj_usable says 0"
	else
		[ "$ino1" = "$ino2" ] || { echo "FAIL: $path: the kernel replaced a good object"; exit 1; }
		[ "$usable" = 1 ] || { echo "FAIL: $path: cfmt_obj_usable rejects what the kernel reused"; exit 1; }
	fi
done || status=1
grep -q -F "P2 OBJ $t_path " "$tmp/vm.out" || bad "P2: no object for the touched file"

# Negative controls: a one-bit wrong expectation (mtime + 1 changes the
# aux, inode + 1 the name) must be caught by the same comparison.
set -- $(stat -c '%i %s %Y' "$share/big")
for bump in mtime ino; do
	case $bump in
	mtime) wrong=$("$tool" obj9p "$vol1" "$1" "$2" $(($3 + 1))) ;;
	ino) wrong=$("$tool" obj9p "$vol1" $(($1 + 1)) "$2" "$3") ;;
	esac
	right=$("$tool" obj9p "$vol1" "$1" "$2" "$3" | kmode)
	{ grep -v -F -x "$right" "$tmp/expected"; echo "$wrong" | kmode; } | sort > "$tmp/wrong"
	if compare "$tmp/wrong" "$tmp/actual"; then
		bad "negative control ($bump + 1) was not detected"
	else
		echo "negative control ($bump + 1) detected:"
		grep '^[-+]OBJ' "$tmp/diff"
	fi
done
# and the staleness rule must be able to say "usable" for the new bytes
new=$(grep -F "OBJ $t_path " "$tmp/actual" | cut -d' ' -f4)
[ "$("$tool" usable9p "$new" "$t_size" "$t_mtime1")" = 1 ] || bad "the kernel's new object for $t_path is not usable to cfmt"

[ $status -eq 0 ] && echo "PASS: $n objects and 2 volumes match byte for byte; staleness agrees"
exit $status
