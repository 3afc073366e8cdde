# SPDX-License-Identifier: GPL-2.0-or-later
# core-raw.py SOCK: speak raw SOCK_SEQPACKET to larderd with hostile input
# (t-core-badinput.sh). Every case checks the daemon answers or hangs up as
# it should, and that a well-behaved connection is still served after it.
import os, socket, struct, sys, time

SOCK = sys.argv[1]
VERSION = 1
HELLO, PING, VOL_ACQ, COOKIE_ACQ, WRITE, STATUS = 100, 101, 200, 202, 205, 300
OK, EINVAL, EPROTO, ENOENT, EPERM = 0, 2, 3, 4, 7
seq = 0

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(SOCK)
    s.settimeout(10)
    return s

def msg(typ, body=b'', version=VERSION, flags=0, status=0, length=None):
    global seq
    seq += 1
    n = 16 + len(body) if length is None else length
    return struct.pack('<HHIIHH', version, typ, n, seq, flags, status) + body

def s16(b):
    return struct.pack('<H', len(b)) + b

def reply(s):
    r = s.recv(70000)
    if not r:
        return None
    v, t, n, q, f, st = struct.unpack('<HHIIHH', r[:16])
    assert f & 1, 'reply flag not set'
    return st, r[16:]

def fail(why):
    print('FAIL:', why)
    sys.exit(1)

def healthy(what):
    s = conn()
    s.send(msg(PING))
    r = reply(s)
    if not r or r[0] != OK:
        fail('after %s: ping answered %r' % (what, r))
    s.close()

def expect(s, data, status, what):
    s.send(data)
    r = reply(s)
    if r is None or r[0] != status:
        fail('%s: got %r, wanted status %d' % (what, r and r[0], status))
    healthy(what)

s = conn()
# a header alone that lies about its length, a wrong version, a short
# message, a reply flag in a request, a nonzero status: EPROTO
expect(s, msg(PING, length=100), EPROTO, 'length mismatch')
expect(s, msg(PING, version=2), EPROTO, 'wrong version')
expect(s, msg(PING, flags=1), EPROTO, 'reply flag in a request')
s.send(b'\x01\x00\x65')
r = reply(s)
if r is not None and r[0] != EPROTO:
    fail('3-byte message: %r' % (r,))
healthy('short message')
s.close()

s = conn()
expect(s, msg(999), EINVAL, 'unknown type')
expect(s, msg(VOL_ACQ, b'\x00'), EPROTO, 'truncated volume acquire')
# bad volume keys: too long, '/', '..', '.', NUL, empty
for key in [b'a' * 255, b'a/b', b'..', b'.', b'a\x00b', b'', b'\x01x']:
    expect(s, msg(VOL_ACQ, struct.pack('<I', 0) + s16(key) + s16(b'')),
           EINVAL, 'volume key %r' % key[:20])
# a good volume, then bad cookie keys: too long (256), empty
s.send(msg(VOL_ACQ, struct.pack('<I', 0) + s16(b'test,raw') + s16(b'')))
st, body = reply(s)
if st != OK:
    fail('good volume refused: %d' % st)
vid = struct.unpack('<I', body[:4])[0]
for key in [b'k' * 256, b'']:
    expect(s, msg(COOKIE_ACQ, struct.pack('<IIQ', vid, 0, 10) + s16(key) +
                  s16(b'')), EINVAL, 'cookie key length %d' % len(key))
# keys with '/', '..' and NUL are fine as cookie keys: they are cooked
for key in [b'../../etc/passwd', b'a/b', b'..', b'x\x00y']:
    s.send(msg(COOKIE_ACQ, struct.pack('<IIQ', vid, 0, 10) + s16(key) +
               s16(b'')))
    st, body = reply(s)
    if st != OK:
        fail('cookie key %r: status %d' % (key, st))
# a cookie of another volume id, a write to no cookie, a write past the end
expect(s, msg(COOKIE_ACQ, struct.pack('<IIQ', 999, 0, 10) + s16(b'k') +
              s16(b'')), ENOENT, 'unknown volume id')
expect(s, msg(WRITE, struct.pack('<IIQQQ', 999, 0, 0, 1, 0) + b'x'), ENOENT,
       'write to unknown cookie')
s.send(msg(COOKIE_ACQ, struct.pack('<IIQ', vid, 0, 10) + s16(b'w') + s16(b'')))
st, body = reply(s)
cid = struct.unpack('<I', body[:4])[0]
expect(s, msg(WRITE, struct.pack('<IIQQQ', cid, 0, 5, 10, 0) + b'x' * 10),
       EINVAL, 'write past the object size')
expect(s, msg(WRITE, struct.pack('<IIQQQ', cid, 0, 0, 10, 0) + b'x' * 3),
       EPROTO, 'write shorter than it says')
expect(s, msg(WRITE, struct.pack('<IIQQQ', cid, 1, 0, 10, 0)),
       EINVAL, 'shm write without an area')
s.close()

# garbage over and over: the daemon hangs up
s = conn()
closed = False
for i in range(50):
    try:
        s.send(b'garbage!' * 3)
        if reply(s) is None:
            closed = True
            break
    except (BrokenPipeError, ConnectionResetError):
        closed = True
        break
if not closed:
    fail('a peer sending only garbage was not disconnected')
healthy('garbage peer')

# a peer that disconnects in the middle of its requests
s = conn()
s.send(msg(VOL_ACQ, struct.pack('<I', 0) + s16(b'test,raw') + s16(b'')))
s.send(msg(COOKIE_ACQ, struct.pack('<IIQ', 1, 0, 1 << 20) + s16(b'mid') + s16(b'')))
s.send(msg(WRITE, struct.pack('<IIQQQ', 1, 0, 0, 60000, 0) + b'y' * 60000))
s.close()
healthy('disconnect mid-transfer')

# a flooding peer that never reads its replies: others are still served,
# and the flooder is disconnected
f = conn()
f.setblocking(False)
sent = 0
for i in range(200000):
    try:
        f.send(msg(PING))
        sent += 1
    except BlockingIOError:
        time.sleep(0.001)
        continue
    except (BrokenPipeError, ConnectionResetError):
        break
    if i % 1000 == 0:
        healthy('flood')
healthy('flood')
gone = False
f.setblocking(True)
f.settimeout(10)
try:
    while True:
        if not f.recv(70000):
            gone = True
            break
except (ConnectionResetError, socket.timeout):
    gone = True
if not gone:
    fail('flooding peer not disconnected')
print('ok: raw protocol abuse handled; %d pings flooded' % sent)
