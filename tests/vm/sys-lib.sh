# SPDX-License-Identifier: GPL-2.0-or-later
# sys-lib.sh: sourced by tests/vm/t-sys-*.sh (host side). Boots a whole
# Debian 12 system (systemd as PID 1, the stock kernel) under qemu with
# the larder packages built from this tree, and runs a guest script from
# tests/vm/sysguest/ as a oneshot unit after multi-user.target.
#
#   sys_find                 skip unless root + qemu + the tools; build or
#                            reuse the rootfs (tests/vm/sys-rootfs.sh)
#   sys_packages             the larder packages: deb/*.deb from `make deb`
#                            when the tree has that target, else a
#                            `make install DESTDIR=` tree (prefix /usr)
#                            as a tarball, cached by source checksum in
#                            ~/.cache/larder-sys/pkgs
#   sys_data NAME COUNT KB   COUNT random files of KB KiB in the 9p data
#                            share (tag `data', mounted by the guest with
#                            cache=fscache)
#   sys_run SCRIPT [ARGS]    boot, run sysguest/SCRIPT (bash) until it
#                            powers off (exit 100 = reboot and run it
#                            again: it keeps its phase on the disk);
#                            returns its exit status (124 timeout, 125
#                            harness/boot failure)
#
# What the guest gets (see sysguest/common.sh): the 9p share `larderrun'
# (read-only, this run's files) at /run/larder-test, the 9p share `data',
# /dev/vdb (an empty ext4 of $SYS_CACHE_SIZE, mounted at
# /var/cache/fscache by fstab), /dev/ttyS1 for its output (a file here),
# and /dev/virtio-ports/org.larder.ctl to ask the host for things
# (sys-agent.pl: e.g. a guest-fsfreeze-freeze sent to its real
# qemu-guest-agent on /dev/virtio-ports/org.qemu.guest_agent.0).
#
# Environment: SYS_MEM (1536M), SYS_SMP (2), SYS_TIMEOUT (seconds for the
# whole qemu run, 1800), SYS_CACHE_SIZE (256M), LARDER_VM_KEEP=1 keeps the
# run dir, SYS_VERBOSE=1 prints the console log too.
# LARDER_SYS_BACKEND=kernel|auto|userspace: for working on the tests only,
# t-sys-kernel.sh sets that backend in /etc/larder.conf after the install
# and restarts (it says so loudly; the real test uses the shipped file).
# LARDER_SYS_NOHOOK=1: t-sys-kernel.sh runs only the freeze check, without
# larder's fsfreeze hook (what the readers do then); such a run fails.

top=${LARDER_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}
sys_dir=$top/tests/vm
[ -f "$sys_dir/sys-rootfs.sh" ] || sys_dir=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
sys_t() { date +%s; }

sys_find() {
	[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, mkfs.ext4 -d)"
	for t in qemu-system-x86_64 qemu-img debootstrap mkfs.ext4 perl; do
		command -v "$t" >/dev/null 2>&1 || skip "$t missing (contrib/install-deps --sys)"
	done
	SYS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/larder-sys.XXXXXX")
	trap 'sys_cleanup' EXIT
	SYS_SHARE=$SYS_TMP/share
	SYS_DATA=$SYS_TMP/data
	mkdir -p "$SYS_SHARE" "$SYS_DATA"
	t=$(sys_t)
	# one build at a time: two tests started together wait for one rootfs
	lockdir=${LARDER_SYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/larder-sys}
	mkdir -p "$lockdir"
	SYS_IMG=$(flock "$lockdir/.lock" sh "$sys_dir/sys-rootfs.sh") ||
		fail "cannot build the rootfs (tests/vm/sys-rootfs.sh)"
	echo "rootfs: $SYS_IMG ($(( $(sys_t) - t )) s)"
}

sys_cleanup() {
	[ -n "${SYS_AGENT_PID:-}" ] && kill "$SYS_AGENT_PID" 2>/dev/null
	if [ "${LARDER_VM_KEEP:-0}" = 1 ]; then
		echo "kept $SYS_TMP"
	else
		rm -rf "$SYS_TMP"
	fi
}

# the source files the packages are built from, for the cache key
sys_srcsum() {
	(cd "$top" && find configure Makefile.in daemon lib include man contrib \
		-type f \( -name '*.[ch]' -o -name '*.in' -o -name '*.[358]' -o -path 'contrib/*' -o -name configure \) \
		! -name '*.o' 2>/dev/null | LC_ALL=C sort | xargs cat | cksum | cut -d' ' -f1)
}

sys_packages() {
	t=$(sys_t)
	pkgcache=${LARDER_SYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/larder-sys}/pkgs
	mkdir -p "$pkgcache"
	mkdir -p "$SYS_SHARE/pkgs"
	if make -C "$top" -n deb >/dev/null 2>&1; then
		make -C "$top" deb > "$SYS_TMP/make-deb.log" 2>&1 || {
			tail -30 "$SYS_TMP/make-deb.log"; fail "make deb failed"; }
		ls "$top"/deb/*.deb >/dev/null 2>&1 || fail "make deb left no deb/*.deb"
		cp "$top"/deb/*.deb "$SYS_SHARE/pkgs/"
		SYS_PKG_KIND=deb
	else
		sum=$(sys_srcsum)
		if [ ! -f "$pkgcache/tree-$sum.tar" ]; then
			b=$SYS_TMP/build
			mkdir -p "$b/src"
			(cd "$top" && tar cf - configure Makefile.in daemon lib include man contrib) | tar xf - -C "$b/src"
			(cd "$b/src" && find . -name '*.o' -delete &&
			 ./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var > ../configure.log 2>&1 &&
			 make -j2 > ../make.log 2>&1 &&
			 make install DESTDIR="$b/dest" > ../install.log 2>&1) || {
				tail -30 "$b"/*.log; fail "cannot build and install larder for the guest"; }
			(cd "$b/dest" && tar cf "$pkgcache/tree-$sum.tar.tmp" .) &&
				mv "$pkgcache/tree-$sum.tar.tmp" "$pkgcache/tree-$sum.tar"
			rm -rf "$b"
		fi
		cp "$pkgcache/tree-$sum.tar" "$SYS_SHARE/pkgs/larder-tree.tar"
		SYS_PKG_KIND=tree
	fi
	echo "packages: $SYS_PKG_KIND ($(ls "$SYS_SHARE/pkgs" | tr '\n' ' ')) ($(( $(sys_t) - t )) s)"
}

# sys_liblarder_prog SRC: compile a liblarder client on the host against
# the headers and shared library of the packages, into the share as
# bin/<name>; the guest runs it with the installed liblarder.so
sys_liblarder_prog() {
	src=$1 name=$(basename "$1" .c)
	d=$SYS_TMP/ll
	mkdir -p "$d" "$SYS_SHARE/bin"
	if [ "$SYS_PKG_KIND" = deb ]; then
		for p in "$SYS_SHARE"/pkgs/*.deb; do dpkg-deb -x "$p" "$d"; done
	else
		tar xf "$SYS_SHARE/pkgs/larder-tree.tar" -C "$d"
	fi
	inc=$(dirname "$(find "$d" -name larder.h -path '*larder/larder.h' | head -1)")
	so=$(find "$d" -name 'liblarder.so*' | head -1)
	[ -n "$inc" ] && [ -n "$so" ] || fail "the packages have no larder/larder.h or liblarder.so"
	libdir=$(dirname "$so")
	[ -e "$libdir/liblarder.so" ] || ln -s "$(basename "$so")" "$libdir/liblarder.so"
	${CC:-cc} -O2 -Wall -I"$(dirname "$inc")" -o "$SYS_SHARE/bin/$name" "$src" -L"$libdir" -llarder ||
		fail "cannot compile $src against the packaged liblarder"
}

# sys_data COUNT KB: files f000.. in the 9p data share
sys_data() {
	i=0
	while [ "$i" -lt "$1" ]; do
		head -c "$(( $2 * 1024 ))" /dev/urandom > "$SYS_DATA/f$(printf %03d "$i")"
		i=$((i + 1))
	done
}

sys_run() {
	g=$1; shift
	[ -f "$sys_dir/sysguest/$g" ] || fail "no guest script sysguest/$g"
	cp "$sys_dir/sysguest/common.sh" "$SYS_SHARE/common.sh"
	cp "$sys_dir/sysguest/$g" "$SYS_SHARE/guest-test.sh"
	{
		echo '#!/bin/bash'
		printf 'set --'; for a in "$@"; do printf " '%s'" "$a"; done; echo
		# settings for the guest, from the environment here
		printf "LARDER_SYS_BACKEND='%s'\n" "${LARDER_SYS_BACKEND:-}"
		printf "LARDER_SYS_NOHOOK='%s'\n" "${LARDER_SYS_NOHOOK:-0}"
		echo '. /run/larder-test/common.sh'
		echo '. /run/larder-test/guest-test.sh'
	} > "$SYS_SHARE/guest.sh"
	qemu-img create -q -f qcow2 -F raw -b "$SYS_IMG/rootfs.img" "$SYS_TMP/root.qcow2" ||
		fail "qemu-img create failed"
	truncate -s "${SYS_CACHE_SIZE:-256M}" "$SYS_TMP/cache.img"
	mkfs.ext4 -q -F -L larder-cache "$SYS_TMP/cache.img" || fail "mkfs.ext4 cache disk"
	out=$SYS_TMP/out console=$SYS_TMP/console
	: > "$out"
	perl "$sys_dir/sys-agent.pl" "$SYS_TMP/ctl.sock" "$SYS_TMP/qga.sock" > "$SYS_TMP/agent.log" 2>&1 &
	SYS_AGENT_PID=$!
	t=$(sys_t)
	timeout -k 5 "${SYS_TIMEOUT:-1800}" qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu max -machine pc \
		-m "${SYS_MEM:-1536M}" -smp "${SYS_SMP:-2}" \
		-display none -monitor none -nodefaults -net none \
		-kernel "$SYS_IMG/kernel" -initrd "$SYS_IMG/initrd" \
		-append "console=ttyS0 panic=-1 mitigations=off quiet systemd.show_status=error larder.test=1" \
		-serial "file:$console" -serial "file:$out" \
		-drive "file=$SYS_TMP/root.qcow2,if=virtio,format=qcow2,cache=unsafe" \
		-drive "file=$SYS_TMP/cache.img,if=virtio,format=raw,cache=unsafe" \
		-virtfs "local,path=$SYS_SHARE,mount_tag=larderrun,security_model=none,readonly=on,id=run" \
		-virtfs "local,path=$SYS_DATA,mount_tag=data,security_model=none,id=data" \
		-device virtio-serial-pci,id=vser \
		-chardev "socket,id=qga,path=$SYS_TMP/qga.sock,server=on,wait=off" \
		-device virtserialport,chardev=qga,name=org.qemu.guest_agent.0 \
		-chardev "socket,id=ctl,path=$SYS_TMP/ctl.sock,server=on,wait=off" \
		-device virtserialport,chardev=ctl,name=org.larder.ctl \
		-device virtio-rng-pci \
		< /dev/null > "$SYS_TMP/qemu.log" 2>&1
	qrc=$?
	secs=$(( $(sys_t) - t ))
	wait "$SYS_AGENT_PID" 2>/dev/null
	SYS_AGENT_PID=
	tr -d '\r' < "$out" > "$out.txt"
	cat "$out.txt"
	status=$(grep -a -o '@@SYS_EXIT=[0-9]*@@' "$out.txt" | tail -1 | tr -dc 0-9)
	boots=$(grep -c '@@SYS_BOOT@@' "$out.txt")
	echo "qemu: ${secs} s, $boots boot(s), qemu exit $qrc, guest status ${status:-none}"
	if [ -z "$status" ] || [ "$status" != 0 ] || [ "${SYS_VERBOSE:-0}" = 1 ]; then
		echo "---- agent log"
		cat "$SYS_TMP/agent.log"
		echo "---- qemu"
		cat "$SYS_TMP/qemu.log"
		echo "---- console (last 80 lines)"
		tr -d '\r' < "$console" | tail -80
	fi
	[ -n "$status" ] && return "$status"
	[ "$qrc" = 124 ] && return 124
	return 125
}
