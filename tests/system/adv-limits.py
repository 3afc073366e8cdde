# SPDX-License-Identifier: GPL-2.0-or-later
# adv-limits.py SOCK MODE [ARGS]: a hostile peer for t-adv-limits.sh and
# t-adv-stall.sh, speaking raw SOCK_SEQPACKET (run as a non-admin uid).
#   conns N       open N connections, PING each: print "accepted A
#                 refused R", then hold them until stdin ends
#   flood N       connect N times without waiting for the daemon (stops
#                 when the backlog is full), print "accepted N refused 0",
#                 hold them until stdin ends
#   cookies N     one volume, then N cookie acquires of distinct keys
#                 (pipelined): print "ok A refused R other O", then PING
#   volumes N     N volume acquires: print "ok A refused R other O"
#   mkvols N P    make volumes P0..P(N-1), relinquishing each handle at
#                 once: print "ok A refused R other O"
#   pinned SIZE   one cookie of SIZE bytes: print its status
#   fdping PATH   PING with an fd of PATH attached (not HELLO): print the
#                 status; then a plain PING must answer "pong"
#   hellofd PATH [N]  HELLO offering N fds (default 1) of PATH as its
#                 fill area: print the status and the area size the daemon
#                 took (-1: none, refused); then PING
#   extents N M   one cookie, N 1-byte fills 2 bytes apart (N extents),
#                 then M more beyond them (pipelined): print "ok A other
#                 O", then PING
#   idle          two connections, one holding a volume: wait (at most
#                 60 s) until the daemon closes the other; print "closed",
#                 then the holder must still answer PING
#   flip N        acquire one volume with N different coherency data,
#                 relinquishing each time: print "ok A other O"
import os, socket, struct, sys, time

SOCK, MODE = sys.argv[1], sys.argv[2]
VERSION = 1
HELLO, PING, VOL_ACQ, VOL_REL, COOKIE_ACQ, WRITE = 100, 101, 200, 201, 202, 205
OK, EINVAL, EREFUSED = 0, 2, 8
seq = 0


def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(SOCK)
    s.settimeout(60)
    return s


def msg(typ, body=b''):
    global seq
    seq += 1
    return struct.pack('<HHIIHH', VERSION, typ, 16 + len(body), seq, 0, 0) + body


def s16(b):
    return struct.pack('<H', len(b)) + b


def reply(s):
    r = s.recv(70000)
    if not r:
        return None
    st = struct.unpack('<HHIIHH', r[:16])[5]
    return st, r[16:]


def fail(why):
    print('FAIL:', why)
    sys.exit(1)


def ping(s):
    s.send(msg(PING))
    r = reply(s)
    return r is not None and r[0] == OK and b'pong' in r[1]


def vol_acquire(s, key=b'test,limits', coh=b''):
    s.send(msg(VOL_ACQ, struct.pack('<I', 0) + s16(key) + s16(coh)))
    r = reply(s)
    if r is None:
        fail('volume acquire: connection closed')
    if r[0] != OK:
        return r[0], 0
    return OK, struct.unpack('<I', r[1][:4])[0]


def count(statuses):
    ok = sum(1 for x in statuses if x == OK)
    ref = sum(1 for x in statuses if x == EREFUSED)
    return ok, ref, len(statuses) - ok - ref


if MODE == 'conns':
    n = int(sys.argv[3])
    held, refused = [], 0
    for i in range(n):
        try:
            s = conn()
            if ping(s):
                held.append(s)
                continue
        except OSError:
            pass
        refused += 1
    print('accepted %d refused %d' % (len(held), refused), flush=True)
    sys.stdin.read()
elif MODE == 'flood':
    # connect without waiting for an accept (the daemon may not be
    # accepting): stop at the first connect the backlog refuses
    held = []
    for i in range(int(sys.argv[3])):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.setblocking(False)
        try:
            s.connect(SOCK)
        except OSError:
            s.close()
            break
        held.append(s)
    print('accepted %d refused 0' % len(held), flush=True)
    sys.stdin.read()
elif MODE == 'cookies':
    n = int(sys.argv[3])
    s = conn()
    st, vid = vol_acquire(s)
    if st != OK:
        fail('volume acquire: status %d' % st)
    statuses, i, batch = [], 0, 32
    while i < n:
        k = min(batch, n - i)
        for j in range(k):	# one message per packet
            s.send(msg(COOKIE_ACQ, struct.pack('<IIQ', vid, 0, 10) +
                       s16(b'c%d' % (i + j)) + s16(b'aux')))
        for j in range(k):
            r = reply(s)
            if r is None:
                fail('cookie %d: connection closed' % (i + j))
            statuses.append(r[0])
        i += k
    print('ok %d refused %d other %d' % count(statuses), flush=True)
    if not ping(s):
        fail('no pong after the cookies')
elif MODE == 'volumes':
    n = int(sys.argv[3])
    s = conn()
    print('ok %d refused %d other %d' % count(
        [vol_acquire(s, b'test,lim%d' % i)[0] for i in range(n)]))
elif MODE == 'mkvols':
    s = conn()
    statuses = []
    for i in range(int(sys.argv[3])):
        st, vid = vol_acquire(s, sys.argv[4].encode() + b'%d' % i)
        statuses.append(st)
        if st == OK:
            s.send(msg(VOL_REL, struct.pack('<II', vid, 0)))
            reply(s)
    print('ok %d refused %d other %d' % count(statuses))
elif MODE == 'pinned':
    s = conn()
    st, vid = vol_acquire(s)
    s.send(msg(COOKIE_ACQ, struct.pack('<IIQ', vid, 0, int(sys.argv[3])) +
               s16(b'big') + s16(b'')))
    print(reply(s)[0])
elif MODE == 'fdping':
    s = conn()
    fd = os.open(sys.argv[3], os.O_RDONLY)
    socket.send_fds(s, [msg(PING)], [fd])
    os.close(fd)
    r = reply(s)
    print(r and r[0], flush=True)
    if not ping(s):
        fail('no pong after the PING with an fd')
elif MODE == 'hellofd':
    s = conn()
    nfd = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    fds = [os.open(sys.argv[3], os.O_RDONLY) for i in range(nfd)]
    socket.send_fds(s, [msg(HELLO, struct.pack('<IQ', 1, 5))], fds)
    r = reply(s)
    area = struct.unpack('<Q', r[1][8:16])[0] if r and r[0] == OK else -1
    print(r and r[0], area, flush=True)
    if not ping(s):
        fail('no pong after a HELLO with a file that is no memfd')
    os._exit(0)	# never close fd here: its FLUSH may not answer
elif MODE == 'extents':
    n, m = int(sys.argv[3]), int(sys.argv[4])
    s = conn()
    st, vid = vol_acquire(s)
    s.send(msg(COOKIE_ACQ, struct.pack('<IIQ', vid, 0, 4 * (n + m) + 16) +
               s16(b'extents') + s16(b'')))
    r = reply(s)
    if r is None or r[0] != OK:
        fail('cookie: %r' % (r and r[0]))
    cid = struct.unpack('<I', r[1][:4])[0]
    offs = [2 * i for i in range(n)] + [2 * n + 4 * i for i in range(m)]
    statuses, i, batch = [], 0, 32
    while i < len(offs):
        k = min(batch, len(offs) - i)
        for j in range(k):
            s.send(msg(WRITE, struct.pack('<IIQQQ', cid, 0, offs[i + j], 1,
                                          0) + b'x'))
        for j in range(k):
            r = reply(s)
            if r is None:
                fail('fill %d: connection closed' % (i + j))
            statuses.append(r[0])
        i += k
    ok, ref, other = count(statuses)
    print('ok %d other %d' % (ok, ref + other), flush=True)
    if not ping(s):
        fail('no pong after the fills')
elif MODE == 'idle':
    holder, idle = conn(), conn()
    if vol_acquire(holder)[0] != OK or not ping(idle):
        fail('setup')
    idle.settimeout(60)
    try:
        gone = idle.recv(100) == b''
    except socket.timeout:
        gone = False
    except OSError:
        gone = True
    if not gone:
        fail('the idle connection was not closed within 60 s')
    print('closed', flush=True)
    if not ping(holder):
        fail('the connection holding a volume was closed too')
elif MODE == 'flip':
    n = int(sys.argv[3])
    s = conn()
    statuses = []
    for i in range(n):
        st, vid = vol_acquire(s, b'test,flip', b'coh%d' % i)
        statuses.append(st)
        if st == OK:
            s.send(msg(VOL_REL, struct.pack('<II', vid, 0)))
            reply(s)
    ok, ref, other = count(statuses)
    print('ok %d other %d' % (ok, ref + other))
else:
    fail('unknown mode ' + MODE)
