# SPDX-License-Identifier: GPL-2.0-or-later
# lib.sh: shared helpers for system tests; source it first.
#   need_root; mkfs_loop ext4 64M (mount point in $MNT); write_conf FILE LINE...;
#   start_larderd CONF [ARGS]; ctl ARGS; stop_larderd; skip/fail/ok
# Everything made here is torn down at exit, in reverse order; the daemon
# log is printed only when the test fails. A sanitizer report from any
# program the test runs (larderd, larderctl, clients) fails the test: each
# report goes to $T/san.<pid> (log_path), printed at exit.
set -u
: "${LARDER_BUILD:=$(cd "$(dirname "$0")/../.." && pwd)}"
LARDERD=$LARDER_BUILD/daemon/larderd
LARDERCTL=$LARDER_BUILD/daemon/larderctl
T=$(mktemp -d /tmp/larder-test.XXXXXX)
SOCK=$T/larder.sock
DAEMON_PID=
DAEMON_LOG=$T/larderd.log
_cleanups=""
for _v in ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS LSAN_OPTIONS; do
	eval "export $_v=\"\${$_v:+\$$_v:}log_path=$T/san\""
done

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_cmd() { for c; do command -v "$c" >/dev/null 2>&1 || skip "needs $c"; done; }

# at_exit CMD: run CMD at exit (last registered runs first)
at_exit() { _cleanups="$1
$_cleanups"; }
_run_cleanups() {
	rc=$?
	set +e
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		i=0	# a sanitized daemon's leak check at exit takes a moment
		while kill -0 "$DAEMON_PID" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	san=$(ls "$T"/san.* 2>/dev/null)
	[ -z "$san" ] || rc=1
	[ -f "$DAEMON_LOG" ] && grep -qE 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$DAEMON_LOG" && rc=1
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -f "$DAEMON_LOG" ]; then
		echo "--- larderd log (last 60 lines):"; tail -60 "$DAEMON_LOG"
	fi
	for f in $san; do
		echo "FAIL: sanitizer report $f:"; sed -n '1,/^SUMMARY/p' "$f" | head -80
	done
	printf '%s\n' "$_cleanups" | while IFS= read -r c; do [ -n "$c" ] && eval "$c" >/dev/null 2>&1; done
	rm -rf "$T"
	exit $rc
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

# mkfs_loop TYPE SIZE [MKFS-OPTIONS...]: make and loop-mount a filesystem;
# its mount point is left in $MNT and also printed. Call it in this shell
# (`mkfs_loop ext4 64M > "$T/mnt"` is fine), never inside $(...): a
# subshell would lose its unmount at exit and its image counter.
_nfs=0
mkfs_loop() {
	type=$1 size=$2; shift 2
	_nfs=$((_nfs + 1))
	img=$T/fs$_nfs.img mnt=$T/mnt$_nfs
	mkdir -p "$mnt"
	truncate -s "$size" "$img" || return 1
	case $type in
	ext4) mkfs.ext4 -q -F "$@" "$img" ;;
	xfs) mkfs.xfs -q -f "$@" "$img" ;;
	*) echo "mkfs_loop: unknown type $type" >&2; return 1 ;;
	esac >/dev/null 2>&1 || { echo "mkfs.$type failed" >&2; return 1; }
	mount -o loop "$img" "$mnt" || return 1
	at_exit "fsfreeze -u '$mnt'; umount -l '$mnt'"
	MNT=$mnt
	echo "$mnt"
}

# write_conf FILE LINE...: a config file with one line per argument
write_conf() {
	f=$1; shift
	: > "$f"
	for l; do printf '%s\n' "$l" >> "$f"; done
}

# start_larderd CONF [EXTRA-ARGS...]: start in the foreground (background
# job), wait until the socket answers status
start_larderd() {
	conf=$1; shift
	"$LARDERD" -n -s -f "$conf" "$@" >> "$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	i=0
	while ! "$LARDERCTL" -s "$SOCK" status >/dev/null 2>&1; do
		kill -0 "$DAEMON_PID" 2>/dev/null || { DAEMON_PID=; fail "larderd exited at start"; }
		i=$((i + 1)); [ $i -lt 200 ] || fail "larderd did not answer within 20s"
		sleep 0.1
	done
}

# stop_larderd: SIGTERM and wait; fails if it does not exit 0 within 20s
stop_larderd() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID"
	i=0
	while kill -0 "$DAEMON_PID" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "larderd did not stop within 20s"
		sleep 0.1
	done
	wait "$DAEMON_PID"; rc=$?
	DAEMON_PID=
	[ $rc -eq 0 ] || fail "larderd exited with status $rc"
}

ctl() { "$LARDERCTL" -s "$SOCK" "$@"; }

# wait_meta_empty: until the meta queue is empty (every record written),
# at most 20 s
wait_meta_empty() {
	_i=0
	while [ "$(ctl status | awk '$1 == "store.meta_pending" {print $2}')" != 0 ]; do
		_i=$((_i + 1)); [ $_i -lt 200 ] || fail "the meta queue did not empty in 20 s"
		sleep 0.1
	done
}
