#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run-tests.sh [unit|system|vm|all]: run larder's tests and print a final
# "N passed, N failed, N skipped" line; exit 1 if anything failed.
#
# unit:   every tests/unit/check_* binary (Check); each check counts.
# system: every tests/system/t-*.sh (root, loop devices); exit 0 pass,
#         77 skip, anything else fail. A skip counts as a failure when
#         LARDER_REQUIRE_ROOT=1.
# vm:     every tests/vm/t-*.sh (boots a Debian kernel under qemu with the
#         project's harness, tests/vm/run-vm.sh), once per Debian suite in
#         LARDER_VM_SUITES (default "bookworm trixie sid": kernels 6.1,
#         6.12 and Debian's newest), then the full-system tests
#         tests/vm/t-sys-*.sh once (a whole Debian 12, kernel 6.1); a skip
#         counts as a failure when LARDER_REQUIRE_VM=1. A test whose
#         header has a line "# vm-suites: SUITE..." runs only on those
#         suites (a costly test that says the same on every kernel).
# LARDER_TESTS_EXCLUDE="t-a.sh t-b.sh" leaves those scripts out.
# Logs of failed tests are kept in tests/log/.
set -u
top=${LARDER_BUILD:-$(cd "$(dirname "$0")/.." && pwd)}
export LARDER_BUILD=$top
what=${1:-all}
pass=0 fail=0 skip=0
logdir=$top/tests/log
mkdir -p "$logdir"
timeout=${LARDER_TEST_TIMEOUT:-900}

note() { printf '%-8s %s\n' "$1" "$2"; }

run_unit() {
	for t in "$top"/tests/unit/check_*; do
		case $t in *.c) continue ;; esac
		[ -x "$t" ] || continue
		name=${t##*/}
		log=$logdir/$name.log
		CK_FORK=yes timeout "$timeout" "$t" > "$log" 2>&1
		rc=$?
		sum=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -1)
		if [ -z "$sum" ]; then
			note FAIL "$name (no Check summary, exit $rc)"
			fail=$((fail + 1))
			continue
		fi
		n=$(echo "$sum" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		f=$(echo "$sum" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
		e=$(echo "$sum" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		bad=$((f + e))
		pass=$((pass + n - bad))
		fail=$((fail + bad))
		if [ "$bad" -gt 0 ] || [ "$rc" -ne 0 ]; then
			note FAIL "$name: $sum"
			grep -E ':[EF]:' "$log" | head -20
			[ "$bad" -gt 0 ] || fail=$((fail + 1))
		else
			note ok "$name: $n checks"
			rm -f "$log"
		fi
	done
}

# run_scripts DIR REQUIRE-VAR [TAG [WHICH]]: TAG names the run (the VM
# suite); WHICH: all (default), sys (only t-sys-*.sh), nosys (all others)
run_scripts() {
	dir=$1 req=$2 tag=${3:-} which=${4:-all}
	for t in "$top"/tests/"$dir"/t-*.sh; do
		[ -f "$t" ] || continue
		# LARDER_TESTS_EXCLUDE: file names not run at all (CI's sanitizer
		# passes leave out the tests that never start larderd)
		case " ${LARDER_TESTS_EXCLUDE:-} " in *" ${t##*/} "*) continue ;; esac
		case $which in
		sys) case ${t##*/} in t-sys-*) ;; *) continue ;; esac ;;
		nosys) case ${t##*/} in t-sys-*) continue ;; esac ;;
		esac
		# "# vm-suites: bookworm": the suites a VM test runs on
		suites=$(sed -n 's/^# vm-suites: *//p' "$t" | head -1)
		if [ -n "$tag" ] && [ -n "$suites" ]; then
			case " $suites " in *" $tag "*) ;; *) continue ;; esac
		fi
		name=$dir/${t##*/}${tag:+ [$tag]}
		log=$logdir/${dir}-${t##*/}${tag:+-$tag}.log
		start=$(date +%s)
		timeout -k 10 "$timeout" sh "$t" > "$log" 2>&1 < /dev/null
		rc=$?
		secs=$(( $(date +%s) - start ))
		case $rc in
		0) note ok "$name (${secs}s)"; pass=$((pass + 1)); rm -f "$log" ;;
		77)
			why=$(grep -m1 '^SKIP' "$log" || echo SKIP)
			if [ "$(eval echo "\${$req:-0}")" = 1 ]; then
				note FAIL "$name: skipped but $req=1: $why"
				fail=$((fail + 1))
			else
				note skip "$name: $why"
				skip=$((skip + 1))
			fi ;;
		*)
			note FAIL "$name (exit $rc, ${secs}s; log $log)"
			tail -25 "$log" | sed 's/^/    | /'
			fail=$((fail + 1)) ;;
		esac
	done
}

run_vm() {
	for suite in ${LARDER_VM_SUITES:-bookworm trixie sid}; do
		export VM_SUITE="$suite"
		run_scripts vm LARDER_REQUIRE_VM "$suite" nosys
	done
	# the full-system tests (t-sys-*.sh) boot a whole Debian 12 once; the
	# first one also builds its rootfs (debootstrap): a longer time limit
	unset VM_SUITE
	t0=$timeout
	timeout=${LARDER_SYS_TEST_TIMEOUT:-1800}
	run_scripts vm LARDER_REQUIRE_VM "" sys
	timeout=$t0
}

case $what in
unit) run_unit ;;
system) run_scripts system LARDER_REQUIRE_ROOT ;;
vm) run_vm ;;
all) run_unit; run_scripts system LARDER_REQUIRE_ROOT; run_vm ;;
*) echo "usage: $0 [unit|system|vm|all]" >&2; exit 2 ;;
esac

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
