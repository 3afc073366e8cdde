# SPDX-License-Identifier: GPL-2.0-or-later
# mf-lib.sh: load and checks for the mount and freeze system tests; source
# it after lib.sh.
#
#   mkfs_mnt TYPE SIZE        mkfs_loop, mount point in $MNT, and its
#                             unmount registered in this shell (mkfs_loop
#                             run as $(...) registers it in a subshell,
#                             where it is lost, with its image count)
#   pool_make                 16 files of different sizes in $T/pool
#   load_start N              N background clients, each filling new
#                             objects (larderctl put) and reading back
#                             earlier ones (larderctl get), every call timed
#   phase NAME                label the calls that start from now on
#   wait_count KIND PHASE N [SECS]
#                             wait until N calls of KIND (putok, refused,
#                             getok) that started in PHASE have completed
#   load_drain [SECS]         stop the clients and wait, at most SECS (60),
#                             until each has returned from its last call
#   load_stop                 stop the clients and wait for them
#   load_check                fail on a read that gave wrong bytes or an
#                             unexpected exit code; print the slowest calls
#   verify_acked              every acknowledged object reads back intact
#   fs_is_frozen MNT          0 if MNT's filesystem is frozen (fsfreeze -f
#                             answers EBUSY; never blocks)
#   fs_takes_writes MNT       0 if a write on MNT completes within 5 s
#   status_get KEY            a value from `larderctl status`
#   wait_log PATTERN [SECS]   wait until the daemon log has PATTERN
#
# "No client call blocks on a frozen filesystem" is checked by order, not
# by the clock: the tests keep the filesystem frozen until every client has
# returned from its last call (load_drain). A call that blocked on the
# frozen filesystem could only return after the thaw, so the drain would
# never end. Call times are printed (load_check), never asserted: under
# load a call that blocks on nothing can still take a second.

VOL=freeze,test
NPOOL=16
LOADERS=""
LOAD_ROUND=0

now_ms() { date +%s%3N; }

mkfs_mnt() {
	MNT=$(mkfs_loop "$@") || fail "mkfs_loop $*"
	_nfs=$((_nfs + 1))	# the subshell's count is lost too
	at_exit "fsfreeze -u '$MNT'; umount -l '$MNT'"
}

pool_make() {
	mkdir -p "$T/pool"
	i=0
	while [ $i -lt $NPOOL ]; do
		head -c $(( (i + 1) * 12289 + i * i * 997 )) /dev/urandom > "$T/pool/$i"
		i=$((i + 1))
	done
}

phase() { echo "$1" > "$T/phase.tmp"; mv "$T/phase.tmp" "$T/phase"; }

# one client: put a new object, then get an earlier one, until $T/stop
_load_worker() {
	id=$1 j=0
	acked=$T/acked.$id
	: > "$acked"
	while [ ! -e "$T/stop" ]; do
		j=$((j + 1))
		p=$((j % NPOOL))
		key=c$id-$j
		ph=$(cat "$T/phase" 2>/dev/null)
		echo "put $key (phase $ph)" > "$T/inflight.$id"
		s=$(now_ms)
		"$LARDERCTL" -s "$SOCK" put "$VOL" "$key" "$T/pool/$p" \
			> /dev/null 2>> "$T/err.$id"
		rc=$?
		d=$(( $(now_ms) - s ))
		echo "$d put $key (phase $ph, exit $rc)" >> "$T/times.$id"
		case $rc in
		0) echo "$key $p" >> "$acked"; echo "$ph" >> "$T/putok.$id" ;;
		4) echo "$ph" >> "$T/refused.$id" ;;
		*) echo "put $key: exit $rc (phase $ph)" >> "$T/bad.$id" ;;
		esac
		n=$(wc -l < "$acked")
		[ "$n" -gt 0 ] || continue
		line=$(sed -n "$(( (j * 7) % n + 1 ))p" "$acked")
		k=${line% *} kp=${line#* }
		echo "get $k (phase $ph)" > "$T/inflight.$id"
		s=$(now_ms)
		"$LARDERCTL" -s "$SOCK" get "$VOL" "$k" > "$T/got.$id" 2>> "$T/err.$id"
		rc=$?
		d=$(( $(now_ms) - s ))
		echo "$d get $k (phase $ph, exit $rc)" >> "$T/times.$id"
		if [ $rc -ne 0 ]; then
			echo "get $k: exit $rc (phase $ph)" >> "$T/bad.$id"
		elif ! cmp -s "$T/got.$id" "$T/pool/$kp"; then
			echo "get $k: wrong bytes (phase $ph)" >> "$T/bad.$id"
		else
			echo "$ph" >> "$T/getok.$id"
		fi
	done
	rm -f "$T/inflight.$id"
	: > "$T/done.$id"
}

load_start() {
	rm -f "$T/stop"
	[ -d "$T/pool" ] || pool_make
	[ -e "$T/phase" ] || phase start
	# each round of clients has its own ids: a second round after a
	# thaw keeps the first round's acknowledged objects for verify_acked
	LOAD_ROUND=$((LOAD_ROUND + 1))
	LOAD_IDS=""
	i=0
	while [ $i -lt "$1" ]; do
		rm -f "$T/done.$LOAD_ROUND-$i"
		_load_worker "$LOAD_ROUND-$i" &
		LOADERS="$LOADERS $!"
		LOAD_IDS="$LOAD_IDS $LOAD_ROUND-$i"
		i=$((i + 1))
	done
	at_exit "touch '$T/stop'"
}

load_stop() {
	touch "$T/stop"
	for p in $LOADERS; do wait "$p"; done
	LOADERS=""
}

# load_drain [SECS]: see the note at the top. A worker that has exited
# leaves $T/done.ID (kill -0 would also succeed on a zombie).
load_drain() {
	touch "$T/stop"
	i=0
	for id in $LOAD_IDS; do
		while [ ! -e "$T/done.$id" ]; do
			i=$((i + 1))
			if [ $i -ge $(( ${1:-60} * 10 )) ]; then
				fail "a client call did not return within ${1:-60} s: $(cat "$T/inflight.$id" 2>/dev/null)"
			fi
			sleep 0.1
		done
	done
	for p in $LOADERS; do wait "$p"; done
	LOADERS=""
}

wait_count() {
	i=0
	while [ "$(count "$1" "$2")" -lt "$3" ]; do
		i=$((i + 1))
		[ $i -lt $(( ${4:-60} * 10 )) ] || return 1
		sleep 0.1
	done
}

# count NAME PHASE: calls of a kind (putok, refused, getok) in a phase
count() { cat "$T"/"$1".* 2>/dev/null | grep -cx "$2"; }

load_check() {
	if cat "$T"/times.* 2>/dev/null | sort -rn | head -3 > "$T/slowest" && [ -s "$T/slowest" ]; then
		echo "slowest client calls (ms; printed, not asserted):"
		sed 's/^/  /' "$T/slowest"
	fi
	if cat "$T"/bad.* > "$T/bad" 2>/dev/null && [ -s "$T/bad" ]; then
		head -20 "$T/bad"; cat "$T"/err.* 2>/dev/null | sort | uniq -c | head -20
		fail "$(wc -l < "$T/bad") client calls failed"
	fi
}

verify_acked() {
	cat "$T"/acked.* > "$T/acked"
	n=0
	while read -r k p; do
		"$LARDERCTL" -s "$SOCK" get "$VOL" "$k" > "$T/v" 2> "$T/verr" ||
			fail "acknowledged object $k: get exit $?: $(cat "$T/verr")"
		cmp -s "$T/v" "$T/pool/$p" || fail "acknowledged object $k: wrong bytes"
		n=$((n + 1))
	done < "$T/acked"
	[ $n -gt 0 ] || fail "no object was acknowledged at all"
	ok "all $n acknowledged objects intact"
}

fs_is_frozen() {
	# FIFREEZE on a frozen filesystem fails at once with EBUSY; on one
	# that is not frozen it freezes it: undo that at once
	if fsfreeze -f "$1" 2>/dev/null; then
		fsfreeze -u "$1"
		return 1
	fi
	return 0
}

fs_takes_writes() {
	( : > "$1/.probe.$$" && rm -f "$1/.probe.$$" ) &
	pw=$!
	i=0
	while kill -0 $pw 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || return 1	# still blocked: frozen
		sleep 0.1
	done
	wait $pw
}

status_get() { "$LARDERCTL" -s "$SOCK" status | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }'; }

wait_log() {
	i=0
	while ! grep -q "$1" "$DAEMON_LOG"; do
		i=$((i + 1))
		[ $i -lt $(( ${2:-10} * 10 )) ] || return 1
		sleep 0.1
	done
}

# load_fs FSTYPE PUTS [CONF-LINE...]: a fresh loop-mounted FSTYPE (320M,
# its mount point in $mnt) with larderd on it in `freeze defer' (its log
# $T/larderd-FSTYPE.log) and 4 clients putting and getting in phase
# "before"; returns once PUTS of their fills were acknowledged
load_fs() {
	fstype=$1 puts=$2; shift 2
	mkfs_mnt "$fstype" 320M; mnt=$MNT
	conf_for "$mnt" "freeze defer" "$@"
	rm -f "$T"/acked.* "$T"/putok.* "$T"/getok.* "$T"/refused.* "$T"/times.* "$T"/done.* "$T"/bad.*
	DAEMON_LOG=$T/larderd-$fstype.log
	start_larderd "$T/larder.conf"
	phase before
	load_start 4
	wait_count putok before "$puts" 60 || fail "$fstype: fewer than $puts fills completed before the freeze"
}

# conf_for MNT [LINE...]: the config of a test on MNT
conf_for() {
	m=$1; shift
	mkdir -p "$m/cache"
	write_conf "$T/larder.conf" "dir $m/cache" "socket $SOCK" "$@"
}
