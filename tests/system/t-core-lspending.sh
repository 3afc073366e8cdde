#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-core-lspending.sh: `larderctl ls VOLUME` shows an object as soon as
# `larderctl get` serves it, before the meta thread has published it. To
# make "before" last, larder.new/ (where the meta thread links new objects
# before renaming them into place) is removed under the running daemon,
# which keeps its fd: every link fails from then on, nothing more is
# published. A raw client fills an object and holds it; while it does,
# get serves the bytes and ls must list the object (the old code listed
# only what the index had, so nothing).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
mkfs_loop ext4 64M > /dev/null
dir=$MNT/cache
mkdir "$dir"
write_conf "$T/c.conf" "dir $dir" "socket $SOCK" "backend userspace"
start_larderd "$T/c.conf"
V=test,lspending

# a published object first: the volume is there
printf 'first' > "$T/in"
ctl put "$V" first "$T/in" || fail "put first"
i=0
until [ -n "$(find "$dir/cache" -name Dfirst)" ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "first object never published"
	sleep 0.1
done
ctl ls "$V" | grep -q Dfirst || fail "a published object is not listed"
ok "a published object is listed"

[ -d "$dir/larder.new" ] || fail "no $dir/larder.new"
rmdir "$dir/larder.new" || fail "rmdir larder.new"

cat > "$T/holder.py" <<'PY'
import os, socket, struct, sys, time
SOCK, V, OUT, RELEASE = sys.argv[1:5]
seq = 0
def call(s, typ, body=b''):
    global seq
    seq += 1
    s.send(struct.pack('<HHIIHH', 1, typ, 16 + len(body), seq, 0, 0) + body)
    data = s.recv(70000)
    v, t, n, q, f, st = struct.unpack('<HHIIHH', data[:16])
    if st != 0:
        print('type %d: status %d' % (typ, st)); sys.exit(1)
    return data[16:]
def s16(b):
    return struct.pack('<H', len(b)) + b
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(SOCK)
s.settimeout(30)
vid = struct.unpack('<I', call(s, 200, struct.pack('<I', 1) +
                                s16(V.encode()) + s16(b''))[:4])[0]
cid = struct.unpack('<I', call(s, 202, struct.pack('<IIQ', vid, 0, 5) +
                                s16(b'held') + s16(b''))[:4])[0]
have = struct.unpack('<Q', call(s, 205, struct.pack('<IIQQQ', cid, 0, 0, 5,
                                                     0) + b'hello'))[0]
if have != 5:
    print('fill kept %d bytes' % have); sys.exit(1)
open(OUT, 'w').write('filled\n')
for i in range(600):            # hold it until the test is done
    if os.path.exists(RELEASE):
        break
    time.sleep(0.1)
PY
python3 "$T/holder.py" "$SOCK" "$V" "$T/holder.out" "$T/release" \
    > "$T/holder.log" 2>&1 &
HOLDER=$!
at_exit "touch '$T/release'; wait $HOLDER"
i=0
until [ -s "$T/holder.out" ]; do
	kill -0 $HOLDER 2>/dev/null || fail "holder: $(cat "$T/holder.log")"
	i=$((i + 1)); [ $i -lt 300 ] || fail "holder did not fill in 30 s"
	sleep 0.1
done

ctl get "$V" held > "$T/out" || fail "get of the held object"
[ "$(cat "$T/out")" = hello ] || fail "get served '$(cat "$T/out")'"
[ -z "$(find "$dir/cache" -name Dheld)" ] ||
    fail "the object was published: the test proves nothing"
ctl ls "$V" > "$T/ls" || fail "ls"
grep -q Dheld "$T/ls" || fail "ls does not show what get serves: $(cat "$T/ls")"
grep -q Dfirst "$T/ls" || fail "ls lost the published object: $(cat "$T/ls")"
ok "ls shows an object get serves before it is published"

touch "$T/release"
wait $HOLDER || fail "holder: $(cat "$T/holder.log")"
stop_larderd
