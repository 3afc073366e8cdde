#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-format.sh: larder's cachefiles codecs (lib/cfmt.c) against what the real
# kernel writes. Boots the VM (../shared/vm), lets the kernel's CacheFiles
# and cachefilesd fill a cache from a 9p share (cache=fscache, one mount
# with cachetag=mycache, one without), and checks, byte for byte, that the
# volume directories, every object's fan-out directory and cooked name,
# the modes, and the user.CacheFiles.cache xattrs of volumes and objects
# are what cfmt computes from the host's inode numbers, sizes and mtimes.
# In the guest, every name must also uncook, re-cook and hash back to its
# fan-out directory. A negative control proves the comparison can fail.
# Exit 0 pass, 1 fail, 77 skip (no VM harness, qemu or static libc).
set -u

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

top=${LARDER_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}
vmdir=$top/../shared/vm
[ -x "$vmdir/run-vm.sh" ] || vmdir=/work/shared/vm
[ -x "$vmdir/run-vm.sh" ] || skip "no VM harness (run-vm.sh) in $top/../shared/vm or /work/shared/vm"
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
mk sub/inner 12345
ln "$share/odd" "$share/odd-link"

# Expectations from the host's view of the share.
vol1="9p,hostshare,mycache"
vol2="9p,hostshare,"
{
	for v in "$vol1" "$vol2"; do
		"$tool" vol "$v" || exit 1
		find "$share" -type f -exec stat -c '%i %s %Y' {} + | sort -u |
		while read -r ino size mtime; do
			"$tool" obj9p "$v" "$ino" "$size" "$mtime" || exit 1
		done
	done
} > "$tmp/expected.raw" || fail "cfmt-tool could not compute expectations"
sort "$tmp/expected.raw" > "$tmp/expected"

cat > "$tmp/guest.sh" <<'EOF'
# guest side of t-format.sh: $1 is the cfmt-tool path
TOOL=$1
uname -r
cachefilesd -n -s -f /etc/cachefilesd.conf > /tmp/d.log 2>&1 &
DPID=$!
i=0
until grep -q ' A ' /proc/fs/fscache/caches 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "GUESTFAIL cache never became active"; cat /tmp/d.log; exit 1; }
	sleep 0.1
done
readall() {
	mkdir -p /mnt/s
	mount -t 9p -o "trans=virtio,version=9p2000.L,cache=fscache$1" "$VM_SHARE_TAG" /mnt/s ||
		{ echo "GUESTFAIL mount$1"; exit 1; }
	find /mnt/s -type f | while read -r f; do cat "$f" > /dev/null; done
	umount /mnt/s
}
readall ",cachetag=mycache"
readall ""
# closing /dev/cachefiles withdraws the cache: every object and volume
# xattr is committed before cachefilesd's exit completes
kill $DPID
wait $DPID
grep -E 'Cookies|Acquire|^IO' /proc/fs/fscache/stats
"$TOOL" dump "$VM_CACHE_DIR"
echo "GUESTDONE $?"
EOF

echo "--- running the guest"
VM_SHARE=$share "$vmdir/run-vm.sh" -f "$tool" "$tmp/guest.sh" "$tool" > "$tmp/vm.out" 2> "$tmp/vm.err" < /dev/null
rc=$?
cat "$tmp/vm.out"
if [ $rc -ne 0 ]; then
	cat "$tmp/vm.err"
	if [ $rc -eq 125 ] && grep -q -E 'cannot resolve the kernel|apt-get download .* failed|missing ' "$tmp/vm.err"; then
		skip "VM unavailable (run-vm.sh exit 125)"
	fi
	fail "run-vm.sh exit $rc"
fi
grep -q '^GUESTDONE' "$tmp/vm.out" || fail "the guest did not finish"
grep '^GUESTFAIL' "$tmp/vm.out" && fail "guest failure"

grep -E '^(VOL|OBJ) ' "$tmp/vm.out" | sort > "$tmp/actual"

# compare EXPECTED ACTUAL: 0 if identical
compare() {
	diff -u "$1" "$2" > "$tmp/diff" && return 0
	return 1
}

status=0
echo "--- expected (from the host's inodes, sizes, mtimes)"
cat "$tmp/expected"
if ! compare "$tmp/expected" "$tmp/actual"; then
	echo "FAIL: what the kernel wrote differs from what cfmt computes:"
	cat "$tmp/diff"
	status=1
fi
if grep '^BAD' "$tmp/vm.out"; then
	echo "FAIL: names on disk that cfmt cannot decode or place"
	status=1
fi
n=$(grep -c '^OBJ ' "$tmp/actual")
want=$(grep -c '^OBJ ' "$tmp/expected")
[ "$n" -eq "$want" ] && [ "$n" -ge 16 ] || { echo "FAIL: $n objects, expected $want"; status=1; }
[ "$(grep -c '^VOL ' "$tmp/actual")" -eq 2 ] || { echo "FAIL: expected 2 volumes"; status=1; }

# Negative control: a one-bit wrong expectation (mtime + 1 changes the
# aux, inode + 1 the name) must be caught by the same comparison.
for bump in mtime ino; do
	first=$(find "$share" -type f -name big -exec stat -c '%i %s %Y' {} +)
	set -- $first
	case $bump in
	mtime) wrong=$("$tool" obj9p "$vol1" "$1" "$2" $(($3 + 1))) ;;
	ino) wrong=$("$tool" obj9p "$vol1" $(($1 + 1)) "$2" "$3") ;;
	esac
	right=$("$tool" obj9p "$vol1" "$1" "$2" "$3")
	grep -v -F -x "$right" "$tmp/expected" > "$tmp/wrong.raw"
	echo "$wrong" >> "$tmp/wrong.raw"
	sort "$tmp/wrong.raw" > "$tmp/wrong"
	if compare "$tmp/wrong" "$tmp/actual"; then
		echo "FAIL: negative control ($bump + 1) was not detected"
		status=1
	else
		echo "negative control ($bump + 1) detected:"
		grep '^[-+]OBJ' "$tmp/diff"
	fi
done

[ $status -eq 0 ] && echo "PASS: $n objects and 2 volumes match byte for byte"
exit $status
