#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-drop.sh: a `freeze defer` drops the fills it finds queued
# instead of waiting for them, and a dropped fill is a miss, never a wrong
# byte. On a loop-mounted ext4, 48 puts of 2 MiB start at once; once
# larderd has taken some of them, `larderctl freeze` must answer ready
# and every put must return while frozen: exit 0 (acknowledged) or 4
# (ENOBUFS). After thaw, every acknowledged object reads back intact;
# every refused one reads as a miss (get exits 3; ls shows fewer bytes
# on disk than its size) or intact, never other bytes (a fill whose write
# had started is finished; its answer may have been ENOBUFS all the same
# when the write took longer than the time a fill's answer may take, or
# stalled: its bytes then count). A put again of each
# refused object then succeeds and reads back intact. At least one fill
# must have been dropped (store.dropped_fills; 0 on a larderd that drains
# every fill before ready, as before issue 15): up to 8 rounds are tried
# for that, since under load the io thread may have taken every fill
# before the freeze comes (the filesystem is mounted sync, so that its
# writes are slow enough for fills to queue, and each round asks for the
# freeze once a fill waits behind the one being written, if one does
# within 10 s: under TSan the clients came so slowly that 5 rounds of
# "4 fills started" never found one queued). No timing is asserted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd mkfs.ext4 cmp

nput=48
mkfs_mnt ext4 600M; mnt=$MNT
# synchronous writes: each fill's write takes a while, so fills queue
# behind it and a freeze finds some still queued even when the clients
# come slowly (sanitizer builds) and the io thread would else keep up
mount -o remount,sync "$mnt" || fail "remount sync"
conf_for "$mnt" "freeze defer" "freeze_timeout 60"
start_larderd "$T/larder.conf"
for b in 0 1 2 3; do
	head -c $((2 * 1024 * 1024 - b * 4097)) /dev/urandom > "$T/blob.$b"
done

stat_get() { ctl stats | awk -v k="$1" '$1 == k { print $2; exit }'; }

# wait_fills_started N: until larderd has started N more fills than
# $fills0 (bounded: 60 s)
wait_fills_started() {
	i=0
	while [ "$(( $(stat_get store.fills) - fills0 ))" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || return 1
		sleep 0.1
	done
}

# wait_queued: until a fill waits behind the one the io thread writes
# (store.io_inflight >= 2), or 10 s went by (the round may then drop
# nothing, and the next one tries again)
wait_queued() {
	i=0
	while [ "$(status_get store.io_inflight)" -lt 2 ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || return 0
		sleep 0.05
	done
}

# put_all R: $nput puts in the background, exit codes in $T/rc.rR-K
put_all() {
	PUTPIDS=""
	k=0
	while [ $k -lt $nput ]; do
		( ctl put "$VOL" "r$1-$k" "$T/blob.$((k % 4))" \
			> /dev/null 2> "$T/err.r$1-$k"; echo $? > "$T/rc.r$1-$k" ) &
		PUTPIDS="$PUTPIDS $!"
		k=$((k + 1))
	done
}

# disk_bytes KEY: the bytes ls shows on disk for an object (what its map
# holds); 0 when ls does not list it
disk_bytes() { ctl ls "$VOL" | awk -v k="$1" 'NR > 1 && $NF == k { d = $2 } END { print d + 0 }'; }

acked=0 missed=0 kept=0 r=0 dropped=0
while [ $r -lt 8 ] && [ "$dropped" -eq 0 ]; do
	r=$((r + 1))
	fills0=$(stat_get store.fills)
	put_all $r
	wait_fills_started 4 || fail "round $r: larderd started no fills"
	wait_queued
	out=$(ctl freeze 2>&1) || fail "round $r: freeze: exit $?: $out"
	case $out in *ready*) ;; *) fail "round $r: freeze did not say ready: $out" ;; esac
	# every put returns while larderd is frozen: none waits for the thaw
	for p in $PUTPIDS; do wait "$p"; done
	# (deferred; or, when a write stalled under load, the state that
	# says so: either way not yet running)
	st=$(status_get freeze.state)
	[ -n "$st" ] && [ "$st" != running ] || fail "round $r: freeze.state '$st' when the puts returned"
	out=$(ctl thaw 2>&1) || fail "round $r: thaw: exit $?: $out"
	k=0
	while [ $k -lt $nput ]; do
		key=r$r-$k blob=$T/blob.$((k % 4))
		rc=$(cat "$T/rc.$key")
		case $rc in
		0)	ctl get "$VOL" "$key" > "$T/got" 2> "$T/gerr" ||
				fail "$key: acknowledged, get exit $?: $(cat "$T/gerr")"
			cmp -s "$T/got" "$blob" || fail "$key: acknowledged, wrong bytes"
			acked=$((acked + 1)) ;;
		4)	ctl get "$VOL" "$key" > "$T/got" 2> "$T/gerr"
			grc=$?
			if [ $grc -eq 3 ]; then
				[ ! -s "$T/got" ] || fail "$key: a miss that wrote bytes"
				db=$(disk_bytes "$key")
				[ "$db" -lt "$(stat -c %s "$blob")" ] ||
					fail "$key: get misses but ls shows '$db' bytes on disk"
				missed=$((missed + 1))
			elif [ $grc -eq 0 ]; then
				# a write the kernel had taken, kept: its bytes
				cmp -s "$T/got" "$blob" || fail "$key: refused, then served wrong bytes"
				kept=$((kept + 1))
			else
				fail "$key: refused, then get exit $grc: $(cat "$T/gerr")"
			fi
			# a refill after the thaw fills the range
			ctl put "$VOL" "$key" "$blob" > /dev/null 2> "$T/perr" ||
				fail "$key: put again after thaw: exit $?: $(cat "$T/perr")"
			ctl get "$VOL" "$key" > "$T/got" 2> "$T/gerr" ||
				fail "$key: put again, get exit $?: $(cat "$T/gerr")"
			cmp -s "$T/got" "$blob" || fail "$key: put again, wrong bytes" ;;
		*)	fail "$key: put exit $rc: $(cat "$T/err.$key")" ;;
		esac
		k=$((k + 1))
	done
	dropped=$(stat_get store.dropped_fills)
	echo "round $r: $acked acknowledged, $missed refused and missing, $kept refused but kept so far; store.dropped_fills ${dropped:-absent}"
	dropped=${dropped:-0}
done
[ "$dropped" -gt 0 ] || fail "no fill was dropped by a freeze in $r rounds (store.dropped_fills 0 or absent): the freeze waited for every fill"
[ "$missed" -gt 0 ] || fail "no refused put read as a miss"
grep -q "fills dropped" "$DAEMON_LOG" || fail "the log does not say fills were dropped"
stop_larderd
ok "freeze dropped $dropped queued fills: each a miss, refilled after thaw"
