#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# snapshot-freeze.sh: take a snapshot of the filesystem that holds larder's
# cache with the filesystem frozen, and always thaw it afterwards.
#
#   snapshot-freeze.sh [-t SECONDS] -- SNAPSHOT-COMMAND [ARGS...]
#
# e.g. snapshot-freeze.sh -t 30 -- lvcreate -s -n cache-snap -L 1G vg/cache
#
# larderctl freeze --fs asks larderd to stop writing, drain, flush and then
# freeze the filesystem itself (FIFREEZE on its private mount), with a time
# limit after which larderd thaws on its own even if this script is killed
# with SIGKILL. The traps thaw on every other way out. Run it as a oneshot
# unit if you like:
#
#   [Service]
#   Type=oneshot
#   ExecStart=/usr/share/larder/snapshot-freeze.sh -t 30 -- /usr/local/sbin/take-snapshot
#
# Exit status: the snapshot command's, or larderctl's when the freeze fails
# (4 when larderd refuses: `freeze refuse' in larder.conf).

LARDERCTL=${LARDERCTL:-larderctl}
timeout=30

while getopts t: opt; do
	case $opt in
	t) timeout=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS] -- COMMAND [ARGS...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "usage: $0 [-t SECONDS] -- COMMAND [ARGS...]" >&2; exit 2; }

frozen=0
cmd=
thaw() {
	if [ "$frozen" = 1 ]; then
		frozen=0
		"$LARDERCTL" thaw || echo "$0: larderctl thaw failed; larderd thaws by itself after ${timeout}s" >&2
	fi
}
# on a signal: stop the snapshot command too, then thaw
stop() { [ -n "$cmd" ] && kill "$cmd" 2>/dev/null; thaw; exit "$1"; }
trap 'thaw' EXIT
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP

frozen=1	# set first: a freeze that answers late must still be undone
"$LARDERCTL" freeze --fs --timeout "$timeout"
rc=$?
if [ $rc -ne 0 ]; then
	echo "$0: larderctl freeze failed (exit $rc); no snapshot taken" >&2
	thaw
	exit $rc
fi

# in the background and waited for, so that a signal is acted on at once
# (a shell runs its traps only after a foreground command returns)
"$@" &
cmd=$!
wait "$cmd"
rc=$?
cmd=
thaw
exit $rc
