#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-freeze.sh [ROUNDS]: time from `larderctl freeze` to "ready" with 64
# fills in flight, against a plain `sync -f` (syncfs) of the same
# filesystem with the same 64 fills in flight, in the same run, on a
# loop-mounted ext4. Prints each round and the ratio of the medians
# (freeze / sync). Root; exits 77 without it.
#
# The freeze drops the fills still queued (answered ENOBUFS: a miss),
# waits only for the writes already handed to the kernel, flushes
# larderd's coherency queue and syncs, so a ratio near 1 means the
# handshake costs little beyond the sync any freeze needs anyway. The
# fills dropped in all rounds (store.dropped_fills) are printed at the end.
# Each side starts after an untimed sync -f; the order alternates by round.
. "$(dirname "$0")/../system/lib.sh"
. "$(dirname "$0")/../system/mf-lib.sh"
need_root
need_cmd mkfs.ext4

rounds=${1:-5}
fills=64
mkfs_mnt ext4 3G; mnt=$MNT
conf_for "$mnt" "freeze defer"
start_larderd "$T/larder.conf"
head -c $((4 * 1024 * 1024)) /dev/urandom > "$T/blob"

# start_fills TAG: 64 puts in the background; waits until larderd has
# fills in flight (or they are done)
start_fills() {
	FILLPIDS=""
	k=0
	while [ $k -lt $fills ]; do
		ctl put "$VOL" "$1-$k" "$T/blob" >/dev/null 2>&1 &
		FILLPIDS="$FILLPIDS $!"
		k=$((k + 1))
	done
	sleep 0.05
}
wait_fills() { for p in $FILLPIDS; do wait "$p"; done; }

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

: > "$T/tf"; : > "$T/ts"
# Each side starts on a clean filesystem (an untimed sync -f first, so
# neither pays for the writeback of the other's fills) and the order
# alternates by round.
time_freeze() {
	sync -f "$mnt"
	start_fills f$1
	s=$(date +%s%N)
	ctl freeze >/dev/null || fail "freeze"
	e=$(date +%s%N)
	ctl thaw >/dev/null || fail "thaw"
	wait_fills
	tf=$(( (e - s) / 1000 ))
}
time_sync() {
	sync -f "$mnt"
	start_fills s$1
	s=$(date +%s%N)
	sync -f "$mnt" || fail "sync -f"
	e=$(date +%s%N)
	wait_fills
	ts=$(( (e - s) / 1000 ))
}
r=0
while [ $r -lt "$rounds" ]; do
	if [ $((r % 2)) -eq 0 ]; then
		time_freeze $r; time_sync $r; first=freeze
	else
		time_sync $r; time_freeze $r; first=sync
	fi
	echo "round $r ($first first): freeze to ready ${tf} us, sync -f ${ts} us"
	echo $tf >> "$T/tf"; echo $ts >> "$T/ts"
	ctl invalidate "$VOL" >/dev/null 2>&1
	r=$((r + 1))
done
mf=$(median < "$T/tf"); ms=$(median < "$T/ts")
awk -v f="$mf" -v s="$ms" 'BEGIN { printf "freeze-to-ready with %d fills in flight: median %d us; sync -f: median %d us; ratio %.2f\n", '"$fills"', f, s, (s > 0 ? f / s : 0) }'
# larderd's own account of each freeze's quiesce (store_quiesce.c)
grep -E "quiesced in|freeze: (asked|ready)" "$DAEMON_LOG" >&2; grep -o 'quiesced in .*' "$DAEMON_LOG" | tr -d '(),' | awk '
	{ t[NR] = $3; w[NR] = $8; m[NR] = $13; n = NR }
	function med(a,   i, j, x, b) { for (i = 1; i <= n; i++) b[i] = a[i]
		for (i = 2; i <= n; i++) { x = b[i]; for (j = i - 1; j > 0 && b[j] > x; j--) b[j + 1] = b[j]; b[j + 1] = x }
		return b[int((n + 1) / 2)] }
	END { if (n) printf "larderd quiesce (medians of %d): %d ms, of which writes in flight %d ms, meta flush and syncs %d ms\n", n, med(t), med(w), med(m) }'
echo "fills dropped by the freezes: $(ctl stats | awk '$1 == "store.dropped_fills" { print $2 }')"
stop_larderd
