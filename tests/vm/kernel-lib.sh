# SPDX-License-Identifier: GPL-2.0-or-later
# kernel-lib.sh: sourced by tests/vm/t-kernel-*.sh and
# tests/bench/bench-kernel-cull.sh (host side). Finds the project's VM
# harness (tests/vm/run-vm.sh) and larderd, makes a 9p share with test data, boots the VM with a guest
# script from tests/vm/guest/ and prints the guest's output; on failure
# it prints the whole guest log.
#
# Environment: LARDER_BUILD (top of the build tree), LARDERD / LARDERCTL
# (binaries to copy into the guest; default the built ones), VM_* (passed
# to run-vm.sh), LARDER_VM_KEEP=1 keeps the temp dir, LARDER_VM_NOCTL=1
# skips the larderctl checks (only for a daemon built without control.c).

top=${LARDER_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}
kvm_guestdir=$top/tests/vm/guest
[ -d "$kvm_guestdir" ] || kvm_guestdir=$(cd "$(dirname "$0")/../vm/guest" 2>/dev/null && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

kvm_find() {
	RUNVM=$top/tests/vm/run-vm.sh
	[ -f "$RUNVM" ] || RUNVM=$(cd "$(dirname "$0")" && pwd)/run-vm.sh
	[ -f "$RUNVM" ] || fail "no VM harness at $RUNVM"
	command -v qemu-system-x86_64 >/dev/null 2>&1 ||
		skip "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
	command -v bash >/dev/null 2>&1 || skip "bash missing (run-vm.sh needs it)"
	LARDERD=${LARDERD:-$top/daemon/larderd}
	LARDERCTL=${LARDERCTL:-$top/daemon/larderctl}
	if [ ! -x "$LARDERD" ] || [ ! -x "$LARDERCTL" ]; then
		make -C "$top" daemon/larderd daemon/larderctl >/dev/null 2>&1 ||
			fail "cannot build daemon/larderd and daemon/larderctl"
	fi
	[ -x "$LARDERD" ] || fail "no larderd at $LARDERD"
	# a placeholder daemon cannot run kernel mode: say so plainly
	if "$LARDERD" -h 2>&1 | grep -q 'not implemented yet'; then
		fail "$LARDERD is the placeholder main.c (core not merged)"
	fi
	KVM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/larder-vmtest.XXXXXX")
	trap 'kvm_cleanup' EXIT
	KVM_SHARE=$KVM_TMP/share
	mkdir -p "$KVM_SHARE"
}

kvm_cleanup() {
	if [ "${LARDER_VM_KEEP:-0}" = 1 ]; then
		echo "kept $KVM_TMP"
	else
		rm -rf "$KVM_TMP"
	fi
}

# kvm_data COUNT SIZE_KB: COUNT files of SIZE_KB KiB of random data in the share
kvm_data() {
	i=0
	while [ "$i" -lt "$1" ]; do
		head -c "$(( $2 * 1024 ))" /dev/urandom > "$KVM_SHARE/f$(printf %03d "$i")"
		i=$((i + 1))
	done
}

# kvm_run GUEST_SCRIPT [ARGS...]: boot the VM, run it, print its output;
# returns the guest script's status. The guest log is in $KVM_TMP/out.
kvm_run() {
	g=$1; shift
	files="-f $LARDERD -f $LARDERCTL -f $kvm_guestdir/common.sh -f $kvm_guestdir/kfacts.sh"
	for x in $KVM_EXTRA_FILES; do files="$files -f $x"; done
	# shellcheck disable=SC2086
	VM_SHARE=$KVM_SHARE VM_TIMEOUT=${VM_TIMEOUT:-300} \
	    bash "$RUNVM" $files "$kvm_guestdir/$g" "$(readlink -f "$kvm_guestdir/common.sh")" \
	    "$(readlink -f "$LARDERD")" "$(readlink -f "$LARDERCTL")" \
	    "${LARDER_VM_NOCTL:-0}" "$@" \
	    > "$KVM_TMP/out" 2>&1
	rc=$?
	return $rc
}

# kvm_check RC: print the output; on failure the whole log and fail
kvm_check() {
	rc=$1
	if [ "$rc" -eq 0 ]; then
		cat "$KVM_TMP/out"
		return 0
	fi
	echo "---- guest log (exit $rc) ----"
	cat "$KVM_TMP/out"
	echo "---- end of guest log ----"
	case $rc in
	124) fail "the VM timed out" ;;
	125) fail "the VM did not boot or the harness failed" ;;
	*) fail "guest script failed (exit $rc)" ;;
	esac
}

# kvm_median: the median of the numbers on stdin, one per line
kvm_median() {
	sort -n | awk '{v[NR] = $1} END {if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
