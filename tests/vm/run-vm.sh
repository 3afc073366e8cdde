#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run-vm.sh: larder's own VM harness. Boots a stock Debian kernel (which
# has CacheFiles, FS-Cache, 9p, NFS and device-mapper as modules) under qemu
# with a small busybox initramfs, runs one guest script in it, and exits
# with the guest script's status.
#
# usage: tests/vm/run-vm.sh [-f HOSTFILE]... GUEST_SCRIPT [ARGS...]
#   -f HOSTFILE   copy HOSTFILE (and the libraries ldd lists for it) into the
#                 guest at the same absolute path; repeatable
#   GUEST_SCRIPT  run in the guest as `sh /test.sh ARGS...' (busybox sh)
#   -h            this text
#
# Exit status: the guest script's; 124 the VM timed out; 125 the harness
# or the boot failed (no status line from the guest).
#
# The guest has: busybox; the modules in VM_MODULES loaded and those in
# VM_EXTRA_MODULES ready for modprobe; the Debian cachefilesd with
# /etc/cachefilesd.conf when the host has it (for comparisons); an empty
# ext4 disk (/dev/vda, VM_CACHE_SIZE) mounted at VM_CACHE_DIR; the host
# directory VM_SHARE exported over 9p as tag VM_SHARE_TAG (not mounted),
# and a second time as tag VM_SHARE_TAG2 (a virtio 9p tag serves one mount
# at a time: a test that wants the share with and without fscache mounts
# one of each).
# Its environment: VM_KVER, VM_SUITE, VM_CACHE_DIR, VM_CACHE_DEV,
# VM_SHARE_TAG, VM_SHARE_TAG2.
#
# Settings (environment):
#   VM_SUITE        kernel by Debian suite: empty or bookworm 6.1, trixie
#                   6.12, sid the newest (tests/vm/vm-kernel.sh)
#   VM_WORK_DIR     kernel and initramfs cache (~/.cache/larder-vm[-SUITE])
#   VM_MEM, VM_SMP  guest memory (1G) and CPUs (2)
#   VM_TIMEOUT      seconds for the whole run (600)
#   VM_BOOT_TIMEOUT seconds for the guest to reach its test script (180);
#                   a boot that hangs before it is killed and booted again
#   VM_SHARE        host dir exported over 9p ($PWD); VM_SHARE_TAG (hostshare),
#                   VM_SHARE_TAG2 (hostshare2)
#   VM_CACHE_IMG    a disk image to use (kept); empty: a new one per run
#   VM_CACHE_SIZE   size of a new disk (512M); VM_CACHE_FS ext4 or xfs
#   VM_CACHE_DIR    where the guest mounts it (/var/cache/fscache)
#   VM_MODULES      loaded at boot; VM_EXTRA_MODULES only put in the initramfs
#   VM_APPEND       extra kernel command line
#   VM_LOG          keep the console log there; VM_VERBOSE=1 prints all of it
#
# Under TCG (no usable /dev/kvm here) a boot + short test + power-off takes
# 5-20 s. The first run of a suite downloads its kernel with
# `apt-get download' (nothing is installed) and builds the initramfs.
# Host packages: qemu-system-x86 busybox-static kmod cpio gzip xz-utils
# zstd e2fsprogs (xfsprogs for VM_CACHE_FS=xfs), and cachefilesd optionally.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/vm-kernel.sh
. "$here/vm-kernel.sh"

VM_SUITE=${VM_SUITE:-}
VM_MEM=${VM_MEM:-1G}
VM_SMP=${VM_SMP:-2}
VM_TIMEOUT=${VM_TIMEOUT:-600}
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-180}
VM_SHARE=${VM_SHARE:-$PWD}
VM_SHARE_TAG=${VM_SHARE_TAG:-hostshare}
VM_SHARE_TAG2=${VM_SHARE_TAG2:-hostshare2}
VM_CACHE_IMG=${VM_CACHE_IMG:-}
VM_CACHE_SIZE=${VM_CACHE_SIZE:-512M}
VM_CACHE_FS=${VM_CACHE_FS:-ext4}
VM_CACHE_DIR=${VM_CACHE_DIR:-/var/cache/fscache}
VM_MODULES=${VM_MODULES:-virtio_pci virtio_blk 9pnet_virtio 9p ext4 cachefiles}
VM_EXTRA_MODULES=${VM_EXTRA_MODULES:-nfs nfsv3 nfsv4 nfsd loop xfs dm-flakey dm-log-writes}
VM_CACHEFILESD=${VM_CACHEFILESD:-/usr/sbin/cachefilesd}
VM_BUSYBOX=${VM_BUSYBOX:-/bin/busybox}
VM_APPEND=${VM_APPEND:-}
VM_VERBOSE=${VM_VERBOSE:-0}
VM_LOG=${VM_LOG:-}

die() { echo "run-vm: $*" >&2; exit 125; }
say() { echo "run-vm: $*" >&2; }

files=()
while getopts "f:h" o; do
	case $o in
	f) files+=("$OPTARG") ;;
	h) sed -n '3,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) exit 125 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || die "usage: $0 [-f HOSTFILE]... GUEST_SCRIPT [ARGS...] (-h for help)"
script=$1; shift
[ -r "$script" ] || die "cannot read $script"
[ -d "$VM_SHARE" ] || die "VM_SHARE=$VM_SHARE is not a directory"
for t in qemu-system-x86_64 cpio gzip modprobe depmod dpkg-deb apt-get ldd "mkfs.$VM_CACHE_FS"; do
	command -v "$t" >/dev/null || die "$t is missing (contrib/install-deps --vm)"
done
[ -x "$VM_BUSYBOX" ] || die "$VM_BUSYBOX is missing (apt-get install busybox-static)"

t0=$(date +%s.%N)
vmk_get "$VM_SUITE" || die "no kernel for suite '${VM_SUITE:-host}'"
KVER=$VMK_VER

tmp=""
trap 'rm -rf ${tmp:+"$tmp"}' EXIT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/larder-vm.XXXXXX")

# libs_of FILE: FILE's shared libraries (and the loader), one a line
libs_of() { ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true; }

# put FILE ROOT: FILE at the same path under ROOT, with its libraries
put() {
	local f=$1 root=$2 l
	mkdir -p "$root$(dirname "$f")"
	cp -L "$f" "$root$f"
	for l in $(libs_of "$f"); do
		[ -e "$l" ] || continue
		mkdir -p "$root$(dirname "$l")"
		[ -e "$root$l" ] || cp -L "$l" "$root$l"
	done
}

# ---- the base initramfs: rebuilt when anything it is made of changes ----
base=$VMK_WORK/initramfs-$KVER.cpio.gz
sum=$( { cat "${BASH_SOURCE[0]}"; echo "$VM_MODULES|$VM_EXTRA_MODULES|$VM_CACHE_DIR|$VM_SHARE_TAG|$VM_SHARE_TAG2|$VM_CACHE_FS";
	for f in "$VM_BUSYBOX" "$VM_CACHEFILESD"; do [ -e "$f" ] && cksum < "$f"; done; } | cksum | cut -d' ' -f1)
if [ ! -s "$base" ] || [ "$(cat "$base.sum" 2>/dev/null)" != "$sum" ]; then
	say "building the initramfs for $KVER"
	r=$tmp/base
	mkdir -p "$r"/bin "$r"/sbin "$r"/usr/bin "$r"/usr/sbin "$r"/etc "$r"/proc "$r"/sys "$r"/dev \
		"$r"/tmp "$r"/run "$r"/root "$r"/var/cache "$r/lib/modules/$KVER"
	cp "$VM_BUSYBOX" "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	md=$VMK_ROOT/lib/modules/$KVER
	# a module built into a newer kernel (virtio_pci on 6.12) shows as
	# "builtin NAME": nothing to copy
	for m in $VM_MODULES $VM_EXTRA_MODULES; do
		modprobe -d "$VMK_ROOT" -S "$KVER" --show-depends "$m" > "$tmp/deps" 2>/dev/null ||
			die "no module $m in $KVER"
		awk '$1 == "insmod" {print $2}' "$tmp/deps"
	done | sort -u | while read -r ko; do
		rel=${ko#"$md"/}
		mkdir -p "$r/lib/modules/$KVER/$(dirname "$rel")"
		cp "$ko" "$r/lib/modules/$KVER/$rel"
	done
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -e "$md/$f" ] && cp "$md/$f" "$r/lib/modules/$KVER/"
	done
	depmod -b "$r" "$KVER"
	if [ -x "$VM_CACHEFILESD" ]; then
		put "$VM_CACHEFILESD" "$r"
		printf '%s\n' "dir $VM_CACHE_DIR" "tag mycache" "brun 10%" "bcull 7%" "bstop 3%" \
			"frun 10%" "fcull 7%" "fstop 3%" > "$r/etc/cachefilesd.conf"
	fi
	# the guest's watchdog: a test that still runs shortly before the host
	# kills qemu says where every task waits, so a hang in the guest shows
	# as stacks; a console that stays silent means the guest made no
	# progress at all (TCG)
	cat > "$r/vm-stuck.sh" <<'EOF'
echo "init: the test still runs after $1 s; its tasks:"
for p in /proc/[0-9]*; do
	c=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | cut -c1-80)
	[ -n "$c" ] || continue	# a kernel thread
	[ "${p#/proc/}" = $$ ] && continue
	echo "  $(cut -d' ' -f1-3 "$p/stat" 2>/dev/null) wchan $(cat "$p/wchan" 2>/dev/null): $c"
	for t in "$p"/task/*; do
		echo "    task ${t##*/} $(cut -d' ' -f3 "$t/stat" 2>/dev/null) wchan $(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/      /' "$t/stack" 2>/dev/null | head -10
	done
done
echo "init: blocked tasks (sysrq w):"
dmesg -c > /dev/null
echo w > /proc/sysrq-trigger 2>/dev/null
sleep 1
dmesg | head -150
EOF
	echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
	echo 'root:x:0:' > "$r/etc/group"
	cat > "$r/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
ln -s /run /var/run
ip link set lo up
hostname vm
for m in $VM_MODULES; do modprobe \$m || echo "init: modprobe \$m failed"; done
export VM_KVER=$KVER VM_SUITE=${VM_SUITE:-bookworm} VM_CACHE_DIR=$VM_CACHE_DIR VM_CACHE_DEV=/dev/vda VM_SHARE_TAG=$VM_SHARE_TAG VM_SHARE_TAG2=$VM_SHARE_TAG2
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 200 ]; do sleep 0.05; i=\$((i + 1)); done
mkdir -p $VM_CACHE_DIR
fs=\$(cat /etc/vm-cache-fs 2>/dev/null || echo ext4)
modprobe \$fs 2>/dev/null
mount -t \$fs /dev/vda $VM_CACHE_DIR || echo "init: cannot mount /dev/vda (\$fs)"
echo "@@VM_BEGIN@@"
t=\$(cat /etc/vm-timeout 2>/dev/null || echo 600)
t=\$((t > 90 ? t - 45 : t / 2))
( sleep \$t; /bin/sh /vm-stuck.sh \$t ) &
cd /
eval "set -- \$(cat /test.args)"
/bin/sh /test.sh "\$@"
rc=\$?
echo "@@VM_EXIT_STATUS=\$rc@@"
sync
poweroff -f
EOF
	chmod 755 "$r/init"
	(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) > "$base.tmp"
	mv "$base.tmp" "$base"
	echo "$sum" > "$base.sum"
	rm -rf "$r"
fi

# ---- this run: the script, its arguments and the host files ----
s=$tmp/stage
mkdir -p "$s/etc"
cp "$script" "$s/test.sh"
q=""
for a in "$@"; do q="$q '${a//\'/\'\\\'\'}'"; done
printf '%s\n' "$q" > "$s/test.args"
echo "$VM_CACHE_FS" > "$s/etc/vm-cache-fs"
echo "$VM_TIMEOUT" > "$s/etc/vm-timeout"
for f in ${files[@]+"${files[@]}"}; do
	[ -e "$f" ] || die "no such file: $f"
	put "$(readlink -f "$f")" "$s"
done
(cd "$s" && find . | cpio -o -H newc --quiet | gzip -1) > "$tmp/run.cpio.gz"
# the kernel unpacks concatenated archives in order: this run's files last
cat "$base" "$tmp/run.cpio.gz" > "$tmp/initrd"

disk=$VM_CACHE_IMG
if [ -z "$disk" ]; then disk=$tmp/cache.img; fi
make_disk() {
	truncate -s "$VM_CACHE_SIZE" "$disk"
	case $VM_CACHE_FS in
	xfs) mkfs.xfs -q -f "$disk" ;;
	*) mkfs.ext4 -q -F "$disk" ;;
	esac
}
[ -f "$disk" ] || make_disk

log=${VM_LOG:-$tmp/console.log}
quiet=quiet
[ "$VM_VERBOSE" = 1 ] && quiet=""
# A boot that dies or hangs before the guest script began is booted again
# (at most 3 boots): seen with Debian's 7.2.13 under TCG, an oops in
# set_next_task_fair about a second into the boot, once in some tens of
# boots, and (2026-12-06, CI rehearsal) a boot that printed nothing for
# 300 s. Nothing of the test has run then, so nothing is hidden; the
# guest script's own failures are not retried, but for one after a
# guest kernel oops (below). The serial console
# goes to a file, not to a pipe: with `-serial stdio` into a pipe, Debian
# 12's qemu (7.2) under TCG sometimes stopped sending the guest's tty
# output for good (the guest's printk, which polls the UART, still came
# through; its shell then blocked writing to the console): t-kernel-9p
# hung so in 3 runs of 6 on 2026-12-06. The watchdog reads the file.
#
# A test that fails after the guest kernel hit a BUG or an oops while it
# ran is run once more, on a new disk (only when the disk is this run's
# own, not VM_CACHE_IMG): Debian's 6.12.117 hit "kernel BUG at
# fs/netfs/read_collect.c:319" ("Can't donate prior to front") in a 9p
# read served by the kernel's own cachefiles under cachefilesd, in
# t-format, where no larder code runs, once in some tens of runs
# (2026-12-07), and the test then hung. The first run's output and the
# oops go to stderr, so a caller that parses stdout sees one run; a test
# that passes, or fails again, is not retried.
boot=1 oops_retry=0
# the guest script's output (everything on the console, with VM_VERBOSE)
guest_output() {
	if [ "$VM_VERBOSE" = 1 ]; then cat "$log"; else
		awk '/@@VM_BEGIN@@/ {on = 1; next}
		     /@@VM_EXIT_STATUS=/ {sub(/@@VM_EXIT_STATUS=.*/, ""); if (on && $0 != "") print; on = 0; next}
		     on {print}' "$log"
	fi
}
# the first BUG or oops line the guest kernel printed after the test began
oops_line() {
	awk '/@@VM_BEGIN@@/ {on = 1} on' "$log" |
	    grep -a -m1 -E 'kernel BUG at|Oops: |general protection fault|BUG: unable to handle' | cut -c1-120
}
while :; do
	rm -f "$tmp/qemu.pid" "$tmp/boot-hung"
	: > "$log"
	# the boot watchdog: no @@VM_BEGIN@@ within VM_BOOT_TIMEOUT s
	(
		i=0
		while [ $i -lt "$VM_BOOT_TIMEOUT" ]; do
			sleep 1
			grep -q -a '@@VM_BEGIN@@' "$tmp/console" 2>/dev/null && exit 0
			i=$((i + 1))
		done
		: > "$tmp/boot-hung"
		[ -f "$tmp/qemu.pid" ] && kill "$(cat "$tmp/qemu.pid")" 2>/dev/null
	) &
	wd=$!
	set +e
	: > "$tmp/console"
	timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max \
		-pidfile "$tmp/qemu.pid" \
		-machine pc -m "$VM_MEM" -smp "$VM_SMP" \
		-display none -monitor none -serial "file:$tmp/console" \
		-no-reboot -nodefaults -net none \
		-kernel "$VMK_IMAGE" -initrd "$tmp/initrd" \
		-append "console=ttyS0 panic=-1 edd=off mitigations=off $quiet $VM_APPEND" \
		-drive "file=$disk,if=virtio,format=raw,cache=unsafe" \
		-virtfs "local,path=$VM_SHARE,mount_tag=$VM_SHARE_TAG,security_model=none,id=share0" \
		-virtfs "local,path=$VM_SHARE,mount_tag=$VM_SHARE_TAG2,security_model=none,id=share1" \
		< /dev/null > "$tmp/qemu.out" 2>&1
	qrc=$?
	{ tr -d '\r' < "$tmp/console"; cat "$tmp/qemu.out"; } > "$log"
	kill $wd 2>/dev/null; wait $wd 2>/dev/null
	status=$(grep -a -o '@@VM_EXIT_STATUS=[0-9]*@@' "$log" | tail -1 | tr -dc 0-9 || true)
	retry=0
	oops=""
	if [ "${status:-x}" != 0 ] && [ $oops_retry = 0 ] && [ -z "$VM_CACHE_IMG" ]; then
		oops=$(oops_line)
		[ -z "$oops" ] || retry=1
	fi
	if [ $retry = 1 ]; then guest_output >&2; else guest_output; fi
	set -e
	say "$KVER (${VM_SUITE:-host}): $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s, qemu exit $qrc"
	if [ $retry = 1 ]; then
		say "the guest kernel hit a BUG or an oops during the test (status ${status:-none}): $oops"
		say "running the test once more on a new disk (its output above went to stderr)"
		oops_retry=1
		make_disk
		t0=$(date +%s.%N)
		continue
	fi
	[ -z "$status" ] || exit "$status"
	if [ "$qrc" = 124 ]; then
		say "timed out after $VM_TIMEOUT s; the last console lines:"
		tail -20 "$log" >&2
		exit 124
	fi
	if [ $boot -lt 3 ] && ! grep -q -a '@@VM_BEGIN@@' "$log"; then
		if [ -e "$tmp/boot-hung" ]; then
			say "the guest did not reach the test in $VM_BOOT_TIMEOUT s (boot $boot); its last console lines:"
			tail -5 "$log" >&2
			say "booting again"
		else
			say "the guest died before the test began (boot $boot): $(grep -a -m1 -E 'BUG|Oops|RIP:|panic' "$log" | cut -c1-120); booting again"
		fi
		boot=$((boot + 1))
		continue
	fi
	break
done
say "no exit status from the guest; the last console lines:"
tail -30 "$log" >&2
exit 125
