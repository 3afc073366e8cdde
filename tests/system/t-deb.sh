#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-deb.sh: `make deb' builds larder, liblarder0 and liblarder-dev into
# deb/, and they hold what they must: files, the conffile, the unit (with
# the paths substituted, enabled and started by the maintainer scripts),
# Depends, Conflicts/Replaces/Provides cachefilesd, the SONAME and its
# symbols file; lintian reports no error; and their paths are those of
# `./configure --prefix=/usr --sysconfdir=/etc && make install' (libdir
# aside: Debian's is multiarch).
# `make deb' takes one to two minutes on a busy 2-core machine and is
# skipped by make when no source changed since the last one. That the
# packages install and run under systemd is tested in a VM (tests/vm).
. "$(dirname "$0")/lib.sh"
need_cmd dpkg-buildpackage dh lintian dpkg-deb objdump

top=$LARDER_BUILD
[ -f "$top/Makefile" ] || fail "no Makefile in $top (run ./configure)"
V=$(sed -n 's/^VERSION = //p' "$top/Makefile")
[ -n "$V" ] || fail "no VERSION in $top/Makefile"
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)

make -C "$top" deb > "$T/make-deb.log" 2>&1 ||
	{ tail -40 "$T/make-deb.log"; fail "make deb failed"; }
ok "make deb"

# the three packages, nothing else
for p in larder liblarder0 liblarder-dev; do
	[ -f "$top/deb/${p}_${V}_$ARCH.deb" ] || fail "no deb/${p}_${V}_$ARCH.deb"
done
n=$(ls "$top"/deb/*.deb | wc -l)
[ "$n" -eq 3 ] || fail "deb/ has $n packages, not 3: $(ls "$top"/deb/)"
ok "deb/ has larder, liblarder0, liblarder-dev $V"

# unpack each: $T/<pkg>/ (files) and $T/<pkg>/DEBIAN (control files)
for p in larder liblarder0 liblarder-dev; do
	dpkg-deb -R "$top/deb/${p}_${V}_$ARCH.deb" "$T/$p" || fail "dpkg-deb -R $p"
done
field() { sed -n "s/^$2: //p" "$T/$1/DEBIAN/control"; }
has_files() {	# has_files PKG PATH...
	p=$1; shift
	for f; do [ -e "$T/$p/$f" ] || [ -L "$T/$p/$f" ] || fail "$p lacks /$f"; done
}

# larder
has_files larder usr/sbin/larderd usr/sbin/larderctl etc/larder.conf \
	lib/systemd/system/larderd.service \
	usr/share/larder/fsfreeze-hook.d/larder usr/share/larder/snapshot-freeze.sh \
	usr/share/man/man8/larderd.8.gz usr/share/man/man8/larderctl.8.gz \
	usr/share/man/man5/larder.conf.5.gz usr/share/doc/larder/copyright
[ "$(cat "$T/larder/DEBIAN/conffiles")" = /etc/larder.conf ] ||
	fail "conffiles is not just /etc/larder.conf: $(cat "$T/larder/DEBIAN/conffiles")"
cmp -s "$T/larder/etc/larder.conf" "$top/contrib/larder.conf" ||
	fail "the packaged larder.conf is not contrib/larder.conf"
# a drop-in for cachefilesd's default config (larder.conf(5), FILES)
grep -qx 'backend auto' "$T/larder/etc/larder.conf" || fail "larder.conf is not backend auto"
grep -qx 'dir /var/cache/fscache' "$T/larder/etc/larder.conf" || fail "larder.conf's dir is not /var/cache/fscache"
u=$T/larder/lib/systemd/system/larderd.service
grep -q '@[a-z]*@' "$u" && fail "unsubstituted @...@ in the packaged unit"
grep -q '^ExecStart=/usr/sbin/larderd .*-f /etc/larder.conf$' "$u" ||
	fail "packaged unit does not run /usr/sbin/larderd -f /etc/larder.conf"
"$T/larder/usr/sbin/larderd" -h 2>&1 | grep -q '\[/etc/larder.conf' ||
	fail "packaged larderd does not read /etc/larder.conf by default"
for f in Conflicts Replaces Provides; do
	field larder $f | tr ',' '\n' | grep -qx ' *cachefilesd *' ||
		fail "larder's $f has no cachefilesd: $(field larder $f)"
done
# kmod: modprobe@cachefiles.service runs modprobe (without it kernel mode
# would silently not be there)
for d in kmod libc6 libmount1 libcap2 liburing2; do
	field larder Depends | tr ',' '\n' | grep -q "^ *$d\( \|\$\)" || fail "larder does not depend on $d: $(field larder Depends)"
done
grep -q "deb-systemd-helper enable 'larderd.service'" "$T/larder/DEBIAN/postinst" ||
	fail "postinst does not enable larderd.service"
grep -q "deb-systemd-invoke \$_dh_action 'larderd.service'" "$T/larder/DEBIAN/postinst" ||
	fail "postinst does not start larderd.service"
ok "larder: files, conffile, unit paths, Conflicts/Replaces/Provides cachefilesd, Depends, enabled and started"

# liblarder0
lib=usr/lib/$MA/liblarder.so.0
has_files liblarder0 "$lib" usr/share/doc/liblarder0/copyright
so=$(objdump -p "$T/liblarder0/$lib" | awk '$1 == "SONAME" { print $2 }')
[ "$so" = liblarder.so.0 ] || fail "SONAME is '$so', not liblarder.so.0"
[ -f "$T/liblarder0/DEBIAN/symbols" ] || fail "liblarder0 has no symbols file"
[ -f "$T/liblarder0/DEBIAN/shlibs" ] || fail "liblarder0 has no shlibs file"
# every larder_* the library exports is in the symbols file, and back
nm -D --defined-only "$T/liblarder0/$lib" | awk '$3 ~ /^larder_/ { sub(/@.*/, "", $3); print $3 }' |
	sort > "$T/exported"
sed -n 's/^ \(larder_[a-z0-9_]*\)@.*/\1/p' "$T/liblarder0/DEBIAN/symbols" | sort > "$T/listed"
[ -s "$T/exported" ] || fail "liblarder.so.0 exports no larder_ function"
cmp -s "$T/exported" "$T/listed" ||
	fail "exports and liblarder0.symbols differ: $(diff "$T/exported" "$T/listed" | grep '^[<>]' | tr '\n' ' ')"
[ "$(field liblarder0 Multi-Arch)" = same ] || fail "liblarder0 is not Multi-Arch: same"
ok "liblarder0: $lib, SONAME $so, symbols ($(wc -l < "$T/exported") functions) and shlibs"

# liblarder-dev
has_files liblarder-dev usr/include/larder/larder.h usr/lib/$MA/liblarder.a \
	usr/lib/$MA/pkgconfig/liblarder.pc usr/share/man/man3/liblarder.3.gz
[ "$(readlink "$T/liblarder-dev/usr/lib/$MA/liblarder.so")" = liblarder.so.0 ] ||
	fail "liblarder-dev's liblarder.so is not a link to liblarder.so.0"
grep -qx "libdir=/usr/lib/$MA" "$T/liblarder-dev/usr/lib/$MA/pkgconfig/liblarder.pc" ||
	fail "liblarder.pc's libdir is not /usr/lib/$MA"
grep -qx "Version: $V" "$T/liblarder-dev/usr/lib/$MA/pkgconfig/liblarder.pc" ||
	fail "liblarder.pc's Version is not $V"
field liblarder-dev Depends | grep -q "liblarder0 (= $V)" ||
	fail "liblarder-dev does not depend on liblarder0 (= $V): $(field liblarder-dev Depends)"
ok "liblarder-dev: header, .a, .so link, liblarder.pc, liblarder(3), Depends liblarder0 (= $V)"

# lintian: no error; the warnings are printed
lintian "$top"/deb/*.deb > "$T/lintian" 2>&1
grep -v 'running with root privileges' "$T/lintian" | sed 's/^/  lintian: /'
e=$(grep -c '^E: ' "$T/lintian")
[ "$e" -eq 0 ] || fail "lintian: $e errors"
ok "lintian: 0 errors, $(grep -c '^W: ' "$T/lintian") warnings"

# the same paths as `./configure --prefix=/usr --sysconfdir=/etc &&
# make install' (the installed list, from this tree's built files)
make -s -C "$top" install DESTDIR="$T/inst" prefix=/usr exec_prefix=/usr \
	sbindir=/usr/sbin bindir=/usr/bin libdir=/usr/lib includedir=/usr/include \
	mandir=/usr/share/man sysconfdir=/etc \
	systemdsystemunitdir="$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)" \
	> "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; }
(cd "$T/inst" && find . ! -type d | sed 's|^\.||' | sort) > "$T/by-install"
for p in larder liblarder0 liblarder-dev; do
	(cd "$T/$p" && find . ! -type d ! -path './DEBIAN/*' | sed 's|^\.||')
done | grep -v '^/usr/share/doc/' | sed -e 's/\.gz$//' -e "s|^/usr/lib/$MA/|/usr/lib/|" |
	sort > "$T/by-deb"
cmp -s "$T/by-install" "$T/by-deb" ||
	fail "make install and the packages differ (< install, > deb): $(diff "$T/by-install" "$T/by-deb" | grep '^[<>]' | tr '\n' ' ')"
ok "make install with --prefix=/usr --sysconfdir=/etc installs the packages' $(wc -l < "$T/by-deb") files"
