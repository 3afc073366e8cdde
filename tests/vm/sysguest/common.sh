# SPDX-License-Identifier: GPL-2.0-or-later
# common.sh: sourced (bash) by every full-system guest test before the
# test itself (sys-lib.sh writes guest.sh to do that). Runs in the guest
# as root under larder-test.service, output on /dev/ttyS1.
#
#   ok MSG / bad MSG          one check passed / failed (bad counts; the
#                             test goes on; finish() exits 1 if any)
#   wait_until SECS CMD...    poll CMD until it succeeds, at most SECS
#   phase / set_phase N       the test's phase, kept on the root disk so
#                             a reboot (exit 100) continues where it was
#   install_larder            install this run's packages (dpkg -i of the
#                             .debs, or the make-install tree plus what
#                             the package's postinst would do)
#   io_rd                     reads served by the cache so far (fscache
#                             stats `IO rd=')
#   host_qga JSON             send JSON to this guest's qemu-guest-agent
#                             through the host (sys-agent.pl)
#   journal_larderd           the journal of larderd.service this boot
RUN=/run/larder-test
STATE=/var/lib/larder-test
mkdir -p "$STATE"
nbad=0
T0=$(date +%s)

say() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
ok() { say "ok   $*"; }
bad() { say "FAIL $*"; nbad=$((nbad + 1)); }
finish() {
	if [ "$nbad" -gt 0 ]; then
		say "$nbad check(s) failed"
		exit 1
	fi
	exit 0
}

wait_until() {
	local secs=$1 end
	shift
	end=$(( $(date +%s) + secs ))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
	return 0
}

phase() { cat "$STATE/phase" 2>/dev/null || echo 1; }
set_phase() { echo "$1" > "$STATE/phase"; sync; }

install_larder() {
	local t=$(date +%s)
	if ls "$RUN"/pkgs/*.deb >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive dpkg -i "$RUN"/pkgs/*.deb > "$STATE/dpkg.log" 2>&1 || {
			cat "$STATE/dpkg.log"; return 1; }
		say "installed $(cd "$RUN/pkgs" && ls *.deb | tr '\n' ' ')($(( $(date +%s) - t )) s)"
	else
		# what a package would do: files, unit enabled and started
		tar xf "$RUN/pkgs/larder-tree.tar" -C / --keep-directory-symlink --no-same-owner || return 1
		ldconfig
		systemctl daemon-reload
		systemctl enable larderd.service 2>&1
		systemctl start larderd.service
		say "installed the make-install tree (no .debs yet) ($(( $(date +%s) - t )) s)"
	fi
}

io_rd() { sed -n 's/^IO *: *rd=\([0-9]*\).*/\1/p' /proc/fs/fscache/stats; }
io_wr() { sed -n 's/^IO *: *rd=[0-9]* *wr=\([0-9]*\).*/\1/p' /proc/fs/fscache/stats; }

exec 3<> /dev/virtio-ports/org.larder.ctl
host_qga() {
	local r
	echo "qga $1" >&3
	IFS= read -t 180 -r r <&3 || { echo "err no reply from the host agent"; return 1; }
	echo "$r"
	case $r in "ok "*'"return"'*) return 0 ;; esac
	return 1
}

journal_larderd() { journalctl -b -u larderd.service --no-pager -o short-monotonic 2>/dev/null; }

# larderd's main pid, 0 when not running
larderd_pid() { systemctl show -P MainPID larderd.service; }
is_active() { [ "$(systemctl is-active larderd.service)" = active ]; }
# kernel mode: a cache is bound and active in /proc/fs/fscache/caches (6.1:
# a line per cache, state column S = A when active)
cache_active() { awk 'NR > 2 && $6 == "A" { f = 1 } END { exit !f }' /proc/fs/fscache/caches; }

# the cache filesystem's free space in percent (what df shows as available)
free_pct() { stat -f -c '%a %b' "$CACHE" | awk '{ printf "%d", $1 * 100 / $2 }'; }

# no_bad_errno WHAT: the journal of larderd has no ENOSYS or EPERM (the
# openat2 refusal and the capabilities the unit must let through)
no_bad_errno() {
	local hits
	hits=$(journal_larderd | grep -E 'Function not implemented|Operation not permitted|ENOSYS|EPERM')
	if [ -n "$hits" ]; then
		bad "journal of larderd has ENOSYS/EPERM ($1):"
		echo "$hits" | head -20
	else
		ok "journal of larderd: no ENOSYS or EPERM ($1)"
	fi
}

# claim_held: remount,ro of the cache filesystem is refused (larderd holds
# write access); claim_released (after systemctl stop): it works again
claim_held() {
	if mount -o remount,ro "$CACHE" 2>/dev/null; then
		bad "mount -o remount,ro $CACHE worked while larderd runs"
		mount -o remount,rw "$CACHE"
	else
		ok "mount -o remount,ro $CACHE refused while larderd runs"
	fi
}
claim_released() {
	if mount -o remount,ro "$CACHE"; then
		ok "systemctl stop: remount,ro of $CACHE works"
		mount -o remount,rw "$CACHE"
	else
		bad "systemctl stop: remount,ro of $CACHE still refused"
		grep -F " $CACHE " /proc/self/mountinfo
		fuser -vm "$CACHE" 2>&1 | head
	fi
}
