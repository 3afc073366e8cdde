#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-core-daemon.sh: larderd's flags and life: -t on good and bad configs,
# -v, -h, a stale socket is replaced, a second larderd on a live socket is
# refused, SIGHUP and `larderctl reload` with a bad config keep the old one
# and with a good one swap it in, sd_notify READY/STATUS/WATCHDOG/STOPPING
# on an abstract NOTIFY_SOCKET, SIGTERM exits 0 and removes the socket.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd python3 mkfs.ext4
mkfs_loop ext4 128M > "$T/mnt" || fail "mkfs"
mnt=$(cat "$T/mnt")
mkdir "$mnt/cache"

# -t
write_conf "$T/good.conf" "dir $mnt/cache" "socket $SOCK" "backend userspace" "brun 10%" \
    "bcull 7%" "bstop 3%"
out=$("$LARDERD" -t -f "$T/good.conf") || fail "-t rejected a good config"
[ "$out" = "configuration OK" ] || fail "-t said: $out"
write_conf "$T/bad.conf" "dir $mnt/cache" "brun 5%" "bcull 7%" "nosuch 1"
out=$("$LARDERD" -t -f "$T/bad.conf"); rc=$?
[ $rc -eq 1 ] || fail "-t on a bad config: exit $rc"
echo "$out" | grep -q "bad.conf:4" || fail "-t does not name line 4: $out"
[ "$(echo "$out" | grep -c .)" -ge 2 ] || fail "-t reported one error only: $out"
"$LARDERD" -v | grep -q "^larderd " || fail "-v"
"$LARDERD" -h | grep -q -- "-N" || fail "-h"
"$LARDERD" -x > /dev/null 2>&1; [ $? -eq 2 ] || fail "bad flag: not exit 2"
ok "flags: -t, -v, -h"

# a stale socket (nobody listening) is replaced
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])" "$SOCK"
[ -S "$SOCK" ] || fail "could not make a stale socket"

# systemd notification on an abstract socket
python3 - "$T/notify.log" > /dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\0larder-test-notify-%d' % __import__('os').getppid())
s.settimeout(30)
with open(sys.argv[1], 'w') as f:
    f.write('bound\n'); f.flush()
    try:
        while True:
            m = s.recv(4096).decode()
            f.write(m.replace('\n', ' ') + '\n'); f.flush()
            if 'STOPPING=1' in m:
                break
    except socket.timeout:
        pass
PY
npid=$!
i=0
while ! grep -q bound "$T/notify.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "notify listener did not start"; sleep 0.1
done
NOTIFY_SOCKET=@larder-test-notify-$$ WATCHDOG_USEC=200000 \
    start_larderd "$T/good.conf"
ok "stale socket replaced"

# a second larderd on the same socket is refused with a clear message
"$LARDERD" -n -s -f "$T/good.conf" > "$T/second.log" 2>&1; rc=$?
[ $rc -ne 0 ] || fail "a second larderd started"
grep -q "another larderd" "$T/second.log" || grep -q "in use" "$T/second.log" ||
    fail "second larderd: $(cat "$T/second.log")"
ctl status > /dev/null || fail "the first larderd stopped answering"
ok "second larderd refused: $(head -1 "$T/second.log")"

# reload: bad config keeps the old one (SIGHUP and larderctl reload)
ctl status | grep -q "10% 7% 3%" || fail "config not in force"
cp "$T/good.conf" "$T/keep.conf"
write_conf "$T/good.conf" "dir $mnt/cache" "socket $SOCK" "backend userspace" "brun 10%" \
    "bcull 70%" "bstop 3%"
kill -HUP "$DAEMON_PID"
# wait until larderd has read the bad config and said it keeps the old
i=0
until grep -q "reload: .*keeping the config in" "$DAEMON_LOG"; do
	kill -0 "$DAEMON_PID" || fail "SIGHUP with a bad config killed larderd"
	i=$((i + 1)); [ $i -lt 100 ] || fail "SIGHUP with a bad config: no word in the log"; sleep 0.1
done
kill -0 "$DAEMON_PID" || fail "SIGHUP with a bad config killed larderd"
ctl status | grep -q "10% 7% 3%" || fail "bad config swapped in by SIGHUP"
ctl reload > /dev/null 2>&1; rc=$?
[ $rc -ne 0 ] || fail "larderctl reload of a bad config succeeded"
ctl status | grep -q "10% 7% 3%" || fail "bad config swapped in by reload"
write_conf "$T/good.conf" "dir $mnt/cache" "socket $SOCK" "backend userspace" "brun 20%" \
    "bcull 7%" "bstop 3%"
kill -HUP "$DAEMON_PID"
i=0
until ctl status | grep -q "20% 7% 3%"; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "good config not swapped in by SIGHUP"; sleep 0.1
done
write_conf "$T/good.conf" "dir $mnt/cache" "socket $SOCK" "backend userspace" "brun 30%" \
    "bcull 7%" "bstop 3%"
ctl reload > /dev/null || fail "larderctl reload of a good config"
ctl status | grep -q "30% 7% 3%" || fail "good config not swapped in by reload"
ok "reload: bad config kept out, good config swapped in"

# a watchdog ping before the stop (WATCHDOG_USEC is 0.2 s here)
i=0
until grep -q "WATCHDOG=1" "$T/notify.log"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no WATCHDOG=1 within 10 s"; sleep 0.1
done
stop_larderd
[ ! -e "$SOCK" ] || fail "socket left after SIGTERM"
wait "$npid" 2>/dev/null
grep -q "READY=1" "$T/notify.log" || fail "no READY=1: $(cat "$T/notify.log")"
grep -q "STATUS=" "$T/notify.log" || fail "no STATUS="
grep -q "WATCHDOG=1" "$T/notify.log" || fail "no WATCHDOG=1"
grep -q "STOPPING=1" "$T/notify.log" || fail "no STOPPING=1"
ok "SIGTERM: exit 0, socket removed; sd_notify READY, STATUS, WATCHDOG, STOPPING"
