#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-restart-reexec.sh: `larderd -R' / SIGUSR2 re-executes larderd with its
# fds (handover.h), in userspace mode on loop-mounted ext4, with `freeze
# refuse' (so larderd has dropped CAP_SYS_ADMIN and could not clone the
# mount again: the private clone itself must come across):
#   - the pid stays, the new image logs what it adopted (control, claim,
#     tree), status says the claim is held;
#   - a reader that loops over cached objects (a new connection each time,
#     trying again when its connection was closed under it) never gets a
#     wrong byte and keeps getting the right ones after the re-exec;
#   - `mount -o remount,ro' of the backing filesystem, tried over and over
#     from before the signal until the new larderd answers, never succeeds
#     (the claim is held throughout);
#   - fds handed over that are not what they say (a read-only file as the
#     claim, /dev/null as the socket, a wrong dir as the clone, an unknown
#     name) are closed with a log line and larderd starts as usual.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4

mkfs_loop ext4 64M > /dev/null || fail "mkfs"
cache=$MNT/cache
mkdir -m 0700 "$cache"
conf=$T/larder.conf
write_conf "$conf" "dir $cache" "socket $SOCK" "backend userspace" \
	"freeze refuse"

# hostile fds first: a larderd given junk under the known names starts
# as usual, saying what it closed
mkdir "$T/otherdir"
: > "$T/ro"
LARDER_FDS="claim=7:control=8:tree=9:junk=6" \
	start_larderd "$conf" 7< "$T/ro" 8< /dev/null 9< "$T/otherdir" 6< /dev/null
for w in "claim (fd 7): not a regular file\|claim (fd 7): not open for writing" \
    "socket (fd 8): not a socket" "clone (fd 9): not this cache dir" \
    "named 'junk' is nothing larderd hands over"; do
	grep -q "$w" "$DAEMON_LOG" || fail "no log line '$w': $(cat "$DAEMON_LOG")"
done
[ "$(ctl status | awk '$1 == "mount.claim" { print $2 }')" = held ] ||
	fail "claim not held after rejecting the handed-over one"
grep -q "handover: adopted from re-exec: nothing" "$DAEMON_LOG" ||
	fail "rejected fds counted as adopted: $(grep 'handover: adopted' "$DAEMON_LOG")"
ok "hostile handed-over fds closed with a log line, normal start"

# objects to read
i=0
while [ $i -lt 8 ]; do
	head -c $((4096 * (i + 1))) /dev/urandom > "$T/obj$i"
	ctl put vol,x "k$i" "$T/obj$i" || fail "put k$i"
	i=$((i + 1))
done
pid0=$DAEMON_PID

# the reader: every pass reads all 8; a get that fails (its connection
# closed at the switch) is tried again, a wrong byte is counted
cat > "$T/reader.sh" <<'RDEOF'
T=$1; ctl() { "$LARDERCTL" -s "$SOCK" "$@"; }
n=0; bad=0; retries=0
while [ ! -e "$T/stop" ]; do
	i=0
	while [ $i -lt 8 ]; do
		if ctl get vol,x "k$i" > "$T/r.out" 2> /dev/null; then
			cmp -s "$T/r.out" "$T/obj$i" || bad=$((bad + 1))
			i=$((i + 1))
		else
			retries=$((retries + 1))
			[ $retries -lt 1000 ] || break 2
		fi
	done
	n=$((n + 1))
	echo "$n $bad $retries" > "$T/reader.tmp" && mv "$T/reader.tmp" "$T/reader"
done
RDEOF
LARDERCTL=$LARDERCTL SOCK=$SOCK sh "$T/reader.sh" "$T" &
rpid=$!
at_exit "touch '$T/stop'; wait $rpid 2>/dev/null"
passes() { [ -s "$T/reader" ] && cut -d' ' -f1 "$T/reader" || echo 0; }
wait_passes() {
	w=$(( $(passes) + $1 )); k=0
	while [ "$(passes)" -lt $w ]; do
		k=$((k + 1)); [ $k -lt 600 ] || fail "reader stuck at $(passes) passes ($(cat "$T/reader"))"
		sleep 0.1
	done
}
wait_passes 2

# remount,ro over and over until the new larderd answers
cat > "$T/remount.sh" <<'RMEOF'
while [ ! -e "$1/rm.stop" ]; do
	if mount -o remount,ro "$2" 2> /dev/null; then
		echo succeeded >> "$1/rm.bad"
		mount -o remount,rw "$2"
	fi
	echo x >> "$1/rm.tries"
done
RMEOF
sh "$T/remount.sh" "$T" "$MNT" &
mpid=$!
at_exit "touch '$T/rm.stop'; wait $mpid 2>/dev/null"
k=0; while [ ! -s "$T/rm.tries" ]; do k=$((k + 1)); [ $k -lt 300 ] || fail "remount loop"; sleep 0.1; done

adopted() { [ "$(grep -c 'handover: adopted from re-exec' "$DAEMON_LOG")" -ge "$1" ]; }
answers() { ctl status 2> /dev/null | awk '$1 == "larderd.state" { print $2 }' | grep -qx running; }
"$LARDERD" -R -f "$conf" > "$T/R.out" 2>&1 || fail "larderd -R: $(cat "$T/R.out")"
grep -q "pid $pid0 re-executes" "$T/R.out" || fail "larderd -R said: $(cat "$T/R.out")"
k=0
until adopted 1 && answers; do
	kill -0 "$pid0" 2> /dev/null || fail "larderd gone during the re-exec"
	k=$((k + 1)); [ $k -lt 300 ] || fail "no adopting larderd after 30 s: $(tail -20 "$DAEMON_LOG")"
	sleep 0.1
done
touch "$T/rm.stop"; wait $mpid
tries=$(wc -l < "$T/rm.tries")
[ ! -e "$T/rm.bad" ] || fail "remount,ro succeeded during the re-exec ($(wc -l < "$T/rm.bad") of $tries)"
for w in control claim tree; do
	grep 'handover: adopted from re-exec' "$DAEMON_LOG" | tail -1 | grep -qw $w ||
		fail "$w not adopted: $(grep 'handover: adopted' "$DAEMON_LOG")"
done
[ "$(ctl status | awk '$1 == "larderd.pid" { print $2 }')" = "$pid0" ] || fail "pid changed"
[ "$(ctl status | awk '$1 == "mount.claim" { print $2 }')" = held ] || fail "claim not held"
ok "larderd -R: same pid, control claim tree adopted, remount,ro refused all through ($tries tries)"

p0=$(passes)
wait_passes 3
touch "$T/stop"; wait $rpid
read n bad retries < "$T/reader"
[ "$bad" = 0 ] || fail "reader: $bad wrong reads"
[ "$n" -gt "$p0" ] || fail "reader: no pass after the re-exec"
ok "reader: $n passes, no wrong byte, $retries retried gets"

# a second one by signal; fills work after it
kill -USR2 "$pid0"
k=0
until adopted 2 && answers; do
	k=$((k + 1)); [ $k -lt 300 ] || fail "no second re-exec: $(tail -20 "$DAEMON_LOG")"
	sleep 0.1
done
head -c 10000 /dev/urandom > "$T/new"
ctl put vol,x new "$T/new" || fail "put after the second re-exec"
ctl get vol,x new | cmp -s - "$T/new" || fail "get after the second re-exec"
ctl get vol,x k3 | cmp -s - "$T/obj3" || fail "old object after the second re-exec"
# the nice larderd was started with (0) comes across the re-execs: the
# main thread keeps the serving nice, the background threads do not
st=$(ctl status | awk '$1 ~ /^nice\./ { print $1, $2 }')
for kv in "nice.serving -10" "nice.started 0" "nice.background 0"; do
	echo "$st" | grep -qx "$kv" || fail "after two re-execs: not '$kv': $st"
done
ok "SIGUSR2: re-exec again, fills and reads work; nice -10, background 0 as at the start"

stop_larderd
mount -o remount,ro "$MNT" || fail "remount,ro after the stop"
mount -o remount,rw "$MNT"
[ ! -e "$SOCK" ] || fail "socket left after a plain stop"
ok "a plain stop gives the claim and the socket back"
[ -z "${SHOW_LOG:-}" ] || cat "$DAEMON_LOG"
