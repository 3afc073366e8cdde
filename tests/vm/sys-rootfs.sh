#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# sys-rootfs.sh: build (once) what the full-system VM tests boot, and print
# the directory that holds it:
#
#   rootfs.img   a Debian 12 (bookworm) system, debootstrap minbase plus
#                systemd as PID 1, nfs-kernel-server, qemu-guest-agent and
#                what the tests use, with the stock kernel's modules; an
#                ext4 image used read-only as the backing file of a qcow2
#                overlay per run
#   vmlinux      the stock Debian kernel (ELF, booted through PVH: under
#                TCG it skips the decompression) or vmlinuz if that fails
#   initrd       a busybox initramfs: loads crc32c/virtio/ext4, mounts
#                /dev/vda read-only and switch_roots to systemd
#
# Everything lives in $XDG_CACHE_HOME/larder-sys (~/.cache/larder-sys) and
# is rebuilt when this file (the recipe), sysguest/runner.sh or the kernel
# package changes: the stamp is their cksum plus the kernel package name.
#
# Needs root (debootstrap, mkfs.ext4 -d keeps ownership), debootstrap,
# busybox-static, e2fsprogs, kmod, cpio, xz-utils, apt-get; network to the
# host's Debian mirror. About 3-4 minutes on these machines.
#
# Environment: LARDER_SYS_CACHE (default $XDG_CACHE_HOME/larder-sys),
# LARDER_SYS_MIRROR (default: the host's apt sources), LARDER_SYS_SUITE
# (default bookworm).
set -eu

suite=${LARDER_SYS_SUITE:-bookworm}
cache=${LARDER_SYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/larder-sys}
cache=$cache/$suite
self=$0

die() { echo "sys-rootfs: $*" >&2; exit 1; }
log() { echo "sys-rootfs: $*" >&2; }

# Packages of the guest beyond minbase. liburing2 libcap2 libmount1 are
# larder's run-time libraries (the .debs depend on them).
PKGS="systemd-sysv udev kmod dbus nfs-kernel-server nfs-common qemu-guest-agent
attr e2fsprogs procps psmisc util-linux mount liburing2 libcap2 libmount1
libattr1 findutils"

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap)"
for t in debootstrap mkfs.ext4 depmod modprobe cpio gzip xz apt-get apt-cache dpkg-deb; do
	command -v "$t" >/dev/null || die "missing $t (contrib/install-deps --sys)"
done
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx switch_root ||
	die "missing a static busybox (apt-get install busybox-static)"

mirror=${LARDER_SYS_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	[ -n "$mirror" ] || mirror=$(awk '$1=="deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

# the kernel: what linux-image-amd64 of the host's apt lists depends on
# (bookworm: 6.1); the host is Debian 12, like the guest
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$kpkg" ]; then
	apt-get update -qq >&2 || true
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$kpkg" ] || die "cannot resolve the kernel package of linux-image-amd64"
kver=${kpkg#linux-image-}

runner=$(dirname "$self")/sysguest/runner.sh
[ -f "$runner" ] || die "no $runner"
stamp=$({ cat "$self" "$runner"; echo "$kpkg $suite $PKGS"; } | cksum | cut -d' ' -f1)
if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$stamp" ] &&
   [ -f "$cache/rootfs.img" ] && [ -f "$cache/initrd" ] && [ -f "$cache/kernel" ]; then
	echo "$cache"
	exit 0
fi

t0=$(date +%s)
mkdir -p "$cache"
rm -f "$cache/stamp"
work=$cache/build
# debootstrap mounts proc and sys in the target: never rm -rf through them
unmount_work() {
	awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m"; done
}
unmount_work
rm -rf "$work"
mkdir -p "$work"
trap 'unmount_work; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP
root=$work/root

# ---- the kernel package, downloaded (not installed) -------------------------
log "downloading $kpkg"
(cd "$work" && apt-get -o APT::Sandbox::User=root download "$kpkg" >&2) || die "apt-get download $kpkg failed"
kdeb=$(ls "$work"/"$kpkg"_*.deb | head -1)

# ---- debootstrap ------------------------------------------------------------
log "debootstrap $suite from $mirror (a few minutes)"
inc=$(echo $PKGS | tr ' ' ,)
debootstrap --variant=minbase --include="$inc" "$suite" "$root" "$mirror" \
	> "$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

# modules (and /boot/vmlinuz) from the kernel package; /lib is a symlink
# in a merged-/usr root: keep it
dpkg-deb --fsys-tarfile "$kdeb" | tar xf - -C "$root" --keep-directory-symlink
depmod -b "$root" "$kver"
vmlinuz=$root/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || die "no $vmlinuz in $kpkg"

# ---- system configuration, what an admin would write --------------------------
echo larder-sys > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tlarder-sys\n::1\tlocalhost\n' > "$root/etc/hosts"
cat > "$root/etc/fstab" <<'FSTAB'
/dev/vda	/	ext4	defaults	0	1
# the cache disk: small and separate, so culling and remount,ro are real;
# not nofail: local-fs.target (which larderd.service is after) waits for it
/dev/vdb	/var/cache/fscache	ext4	defaults	0	2
FSTAB
mkdir -p "$root/var/cache/fscache" "$root/srv/export"
# an NFS server exporting to itself over loopback
echo '/srv/export *(rw,no_root_squash,fsid=0,insecure,no_subtree_check)' > "$root/etc/exports"
# root without a password on the console, for debugging by hand
sed -i 's/^root:[^:]*:/root::/' "$root/etc/shadow"
# the machine id is made at first boot of each run
: > "$root/etc/machine-id"
# a journal that stays in memory (the rootfs is a throwaway overlay anyway;
# the reboot test reads the journal of the current boot only)
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' > "$root/etc/systemd/journald.conf.d/larder-test.conf"
# nothing the tests do not need: no timers, no network waits
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
	e2scrub_reap.service systemd-timesyncd.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# qemu-guest-agent with its fsfreeze hook enabled, the way Debian's
# package documents it: qemu-ga reads /etc/qemu/qemu-ga.conf, and
# `fsfreeze-hook' there (or -F) makes it run /etc/qemu/fsfreeze-hook,
# which runs every executable in /etc/qemu/fsfreeze-hook.d. The larder
# hook itself comes with the larder package and is linked in by the test.
mkdir -p "$root/etc/qemu/fsfreeze-hook.d"
printf '[general]\nfsfreeze-hook=/etc/qemu/fsfreeze-hook\n' > "$root/etc/qemu/qemu-ga.conf"

# the test runner: a oneshot after multi-user.target that mounts the
# per-run 9p share `larderrun' and runs its guest.sh (see sys-lib.sh)
install -m 755 "$runner" "$root/usr/local/sbin/larder-test-runner"
cat > "$root/etc/systemd/system/larder-test.service" <<'UNIT'
[Unit]
Description=larder full-system test runner
After=multi-user.target
ConditionKernelCommandLine=larder.test=1

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/larder-test-runner
StandardInput=null
StandardOutput=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/larder-test.service \
	"$root/etc/systemd/system/multi-user.target.wants/larder-test.service"

chroot "$root" apt-get clean
rm -rf "$root/var/lib/apt/lists"/*_Packages "$root/var/cache/apt"/*.bin

# ---- the image ---------------------------------------------------------------
log "mkfs.ext4 -d (3 GiB sparse)"
rm -f "$work/rootfs.img"
truncate -s 3G "$work/rootfs.img"
mkfs.ext4 -q -F -L larder-root -d "$root" "$work/rootfs.img" || die "mkfs.ext4 -d failed"

# ---- the kernel: the ELF vmlinux for a PVH boot, else the bzImage ------------
kern=$work/kernel
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1 || true)
if [ -n "$off" ] && { tail -c +$((off + 1)) "$vmlinuz" | xz -dc --single-stream > "$kern" 2>/dev/null || true; } &&
   [ "$(head -c 4 "$kern" | tail -c 3)" = ELF ]; then
	log "booting the extracted ELF vmlinux (PVH)"
else
	cp "$vmlinuz" "$kern"
fi

# ---- the initramfs -----------------------------------------------------------
ird=$work/initrd.d
mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/newroot" "$ird/lib/modules/$kver"
cp /bin/busybox "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
md=$root/lib/modules/$kver
for m in crc32c_generic virtio_pci virtio_blk ext4; do
	modprobe -d "$root" -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'
done | awk '!seen[$0]++' > "$work/mods"
: > "$ird/modules"
while read -r ko; do
	cp "$ko" "$ird/lib/modules/$kver/"
	echo "${ko##*/}" >> "$ird/modules"
done < "$work/mods"
cat > "$ird/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules); do insmod /lib/modules/*/"$m" 2>/dev/null; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
mount -t ext4 -o ro /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; exec sh; }
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /sbin/init
INIT
chmod 755 "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd"

mv "$work/rootfs.img" "$work/initrd" "$work/kernel" "$cache/"
echo "$kver" > "$cache/kver"
echo "$stamp" > "$cache/stamp"
log "built in $(( $(date +%s) - t0 )) s: $(du -sh --apparent-size "$cache/rootfs.img" | cut -f1) image, kernel $kver"
echo "$cache"
