# SPDX-License-Identifier: GPL-2.0-or-later
# vm-kernel.sh: sourced (bash) by tests/vm/run-vm.sh and the full-system
# harness. Fetches a stock Debian kernel for a suite once and keeps it
# under the work dir; nothing is installed on the host.
#
#   vmk_get SUITE   SUITE: "" or bookworm (the host's own apt lists: 6.1),
#                   trixie (6.12), sid (Debian's newest), or any suite name.
#   sets VMK_WORK   the work dir (~/.cache/larder-vm[-SUITE])
#        VMK_ROOT   the unpacked packages (lib/modules/<ver>/...)
#        VMK_VER    the kernel release (uname -r in the guest)
#        VMK_IMAGE  what qemu -kernel boots: the ELF vmlinux taken out of
#                   the bzImage when that works (the PVH entry skips the
#                   decompressor: about half the boot time under TCG), else
#                   the bzImage
#
# What newer suites changed, and how it is handled here (seen Dec 2026):
# - merged /usr: trixie's packages have only usr/lib/modules; lib/ becomes
#   a link to usr/lib in VMK_ROOT;
# - the kernel image is split: linux-image-<ver> depends on
#   linux-binary-<ver> (vmlinuz in usr/lib/modules/<ver>/), with the
#   modules in linux-modules-<ver> and modules.builtin in linux-base-<ver>
#   (sid, 7.x); all of them are unpacked;
# - bookworm compresses the bzImage payload with xz, later suites with
#   zstd: both are looked for.
# Errors go to stderr and return 1.

vmk_die() { echo "vm-kernel: $*" >&2; return 1; }

# vmk_mirror: the Debian mirror of the host's apt sources
vmk_mirror() {
	local uri
	uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $1; exit}')
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list.d/*.list 2>/dev/null)
	[ -n "$uri" ] && echo "$uri"
}

# vmk_apt_opts SUITE: apt options for a private list dir of SUITE (in VMK_APT)
vmk_apt_opts() {
	local a=$VMK_WORK/apt uri
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
	uri=$(vmk_mirror) || { vmk_die "no Debian mirror in the host's apt sources"; return 1; }
	echo "deb $uri $1 main" > "$a/sources.list"
	# Check-Valid-Until=false: sid's Release file is valid for a week, and a
	# mirror snapshot older than that would refuse it (seen in a minbase
	# chroot: "Release file ... is expired"); the signature is still checked,
	# and this only fetches a kernel for a test VM
	VMK_APT=(-o APT::Sandbox::User=root -o Acquire::Check-Valid-Until=false
		-o "Dir::Etc::sourcelist=$a/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache")
	if [ ! -e "$a/lists/.updated" ] || [ -n "$(find "$a/lists/.updated" -mtime +6 2>/dev/null)" ]; then
		apt-get "${VMK_APT[@]}" update -qq >&2 || { vmk_die "apt-get update of $1 failed"; return 1; }
		touch "$a/lists/.updated"
	fi
}

# vmk_fetch SUITE: download and unpack the kernel packages into VMK_ROOT
vmk_fetch() {
	local suite=$1 pkg bin p deb
	VMK_APT=()
	if [ -n "$suite" ]; then
		vmk_apt_opts "$suite" || return 1
	fi
	pkg=$(apt-cache "${VMK_APT[@]}" depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$pkg" ] && [ ${#VMK_APT[@]} -eq 0 ]; then
		apt-get update -qq >&2 || true
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || { vmk_die "cannot resolve linux-image-amd64 for suite '${suite:-host}'"; return 1; }
	local pkgs=$pkg
	for bin in $(apt-cache "${VMK_APT[@]}" depends "$pkg" 2>/dev/null | awk '/Depends: linux-binary-/ {print $2}'); do
		pkgs="$pkgs $bin"
		for p in "linux-modules-${bin#linux-binary-}" "linux-base-${bin#linux-binary-}"; do
			apt-cache "${VMK_APT[@]}" show "$p" >/dev/null 2>&1 && pkgs="$pkgs $p"
		done
	done
	echo "vm-kernel: downloading $pkgs" >&2
	mkdir -p "$VMK_WORK/debs"
	# shellcheck disable=SC2086
	(cd "$VMK_WORK/debs" && apt-get "${VMK_APT[@]}" download $pkgs >&2) ||
		{ vmk_die "apt-get download $pkgs failed"; return 1; }
	rm -rf "$VMK_ROOT.tmp" && mkdir -p "$VMK_ROOT.tmp"
	for p in $pkgs; do
		deb=$(ls -t "$VMK_WORK/debs/${p}"_*.deb 2>/dev/null | head -1)
		[ -n "$deb" ] || { vmk_die "no .deb for $p"; return 1; }
		dpkg-deb -x "$deb" "$VMK_ROOT.tmp" || { vmk_die "cannot unpack $deb"; return 1; }
	done
	[ -e "$VMK_ROOT.tmp/lib" ] || ln -s usr/lib "$VMK_ROOT.tmp/lib"
	rm -rf "$VMK_ROOT" && mv "$VMK_ROOT.tmp" "$VMK_ROOT"
}

# vmk_vmlinux BZIMAGE OUT: the ELF kernel inside a bzImage (xz or zstd payload)
vmk_vmlinux() {
	local z=$1 out=$2 off unz
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$z" 2>/dev/null | head -1 | cut -d: -f1)
	unz="xz -dc --single-stream"
	if [ -z "$off" ]; then
		off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$z" 2>/dev/null | head -1 | cut -d: -f1)
		unz="zstd -dcq"
	fi
	[ -n "$off" ] || return 1
	command -v "${unz%% *}" >/dev/null || return 1
	# trailing data after the payload makes the decompressor complain: the
	# ELF magic decides
	# shellcheck disable=SC2086
	tail -c +$((off + 1)) "$z" | $unz > "$out.tmp" 2>/dev/null
	if [ "$(head -c 4 "$out.tmp" | tail -c 3)" = ELF ]; then
		mv "$out.tmp" "$out"
	else
		rm -f "$out.tmp"
		return 1
	fi
}

vmk_get() {
	local suite=${1:-} z
	# the host's own suite is the host's own apt lists
	[ "$suite" != "$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")" ] || suite=""
	VMK_WORK=${VM_WORK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/larder-vm${suite:+-$suite}}
	VMK_ROOT=$VMK_WORK/kernel
	mkdir -p "$VMK_WORK" || { vmk_die "cannot make $VMK_WORK"; return 1; }
	z=$(ls "$VMK_ROOT"/boot/vmlinuz-* "$VMK_ROOT"/usr/lib/modules/*/vmlinuz 2>/dev/null | head -1)
	if [ -z "$z" ]; then
		vmk_fetch "$suite" || return 1
		z=$(ls "$VMK_ROOT"/boot/vmlinuz-* "$VMK_ROOT"/usr/lib/modules/*/vmlinuz 2>/dev/null | head -1)
		[ -n "$z" ] || { vmk_die "no vmlinuz in the kernel packages"; return 1; }
	fi
	case $z in
	*/boot/vmlinuz-*) VMK_VER=${z##*/vmlinuz-} ;;
	*) VMK_VER=$(basename "$(dirname "$z")") ;;
	esac
	[ -f "$VMK_ROOT/lib/modules/$VMK_VER/modules.dep" ] || depmod -b "$VMK_ROOT" "$VMK_VER" ||
		{ vmk_die "depmod failed for $VMK_VER"; return 1; }
	VMK_IMAGE=$z
	if [ "${VM_PVH:-1}" = 1 ]; then
		[ -s "$VMK_WORK/vmlinux-$VMK_VER" ] || vmk_vmlinux "$z" "$VMK_WORK/vmlinux-$VMK_VER" ||
			echo "vm-kernel: cannot extract vmlinux from $z; booting the bzImage" >&2
		[ -s "$VMK_WORK/vmlinux-$VMK_VER" ] && VMK_IMAGE=$VMK_WORK/vmlinux-$VMK_VER
	fi
	return 0
}
