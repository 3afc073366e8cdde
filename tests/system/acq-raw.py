# SPDX-License-Identifier: GPL-2.0-or-later
# acq-raw.py SOCK: a hostile peer of the generation table (GENTAB) and
# COOKIE_PARKED (t-acquire-local.sh, run by acq-client.c while another
# connection has a parked cookie). It checks the table cannot be written
# through the fd it gets, that forged, short, oversized and flooding
# batches are ignored (the connection still answers, its own handle is
# untouched), and that a good batch does what proto.h says.
import mmap, os, random, socket, struct, sys
import rawproto
from rawproto import msg, s16


def fail(why):
    rawproto.fail(why, 'FAIL: acq-raw:')

SOCK = sys.argv[1]
HELLO, PING, GENTAB, VOL_ACQ, COOKIE_ACQ, REFRESH, PARKED = \
    100, 101, 102, 200, 202, 204, 207
OK, ENOENT, EBUSY = 0, 4, 9
PARK, USE, RELEASE = 1, 2, 3


def call(s, typ, body=b''):
    s.send(msg(typ, body))
    data, fds, _, _ = socket.recv_fds(s, 70000, 1)
    if not data:
        fail('hung up on type %d' % typ)
    _, t, _, q, f, st = struct.unpack('<HHIIHH', data[:16])
    if t != typ or q != rawproto.seq or not f & 1:
        fail('type %d: answered type %d seq %d (a batch answered?)' %
             (typ, t, q))
    return st, data[16:], fds


def batch(entries, count=None):
    n = len(entries) if count is None else count
    return msg(PARKED, struct.pack('<I', n) + b''.join(
        struct.pack('<IIIQ', *e) for e in entries))


def healthy(s, what):
    st, _, _ = call(s, PING)
    if st != OK:
        fail('after %s: ping status %d' % (what, st))


def must_fail(fn, what):
    try:
        fn()
    except OSError:
        return
    fail('the table could be written: ' + what)


def check_readonly(fd, size):
    must_fail(lambda: mmap.mmap(fd, size, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE), 'mmap')
    must_fail(lambda: os.write(fd, b'x'), 'write')
    try:
        rw = os.open('/proc/self/fd/%d' % fd, os.O_RDWR)
    except OSError:
        return
    must_fail(lambda: os.pwrite(rw, b'x', 0), 'pwrite after reopen')
    must_fail(lambda: mmap.mmap(rw, size, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE),
              'mmap after reopen')
    os.close(rw)


s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(SOCK)
s.settimeout(20)
# a batch before anything else: no table, ignored
s.send(batch([(1, USE, 0, 0)]))
healthy(s, 'a batch before GENTAB')
st, body, _ = call(s, HELLO, struct.pack('<IQ', 0, 0))
if st != OK or len(body) < 24 or not struct.unpack('<I', body[20:24])[0] & 2:
    fail('HELLO does not announce GENTAB')
st, body, fds = call(s, GENTAB)
if st != OK or len(fds) != 1:
    fail('GENTAB: status %d, %d fds' % (st, len(fds)))
slots = struct.unpack('<I', body[:4])[0]
gfd = fds[0]
if os.fstat(gfd).st_size < slots * 8:
    fail('table smaller than announced')
check_readonly(gfd, slots * 8)
tab = mmap.mmap(gfd, slots * 8, mmap.MAP_SHARED, mmap.PROT_READ)
st, _, fds = call(s, GENTAB)
if st != EBUSY:
    fail('a second GENTAB: status %d' % st)
print('ok: the generation table is read-only to its client')

st, body, _ = call(s, VOL_ACQ, struct.pack('<I', 0) + s16(b'test,acq') +
                   s16(b''))
if st != OK:
    fail('volume: %d' % st)
vid = struct.unpack('<I', body[:4])[0]
st, body, fds = call(s, COOKIE_ACQ, struct.pack('<IIQ', vid, 0, 8192) +
                     s16(b'obj') + s16(b'a1'))
for f in fds:
    os.close(f)
if st != OK:
    fail('cookie: %d' % st)
cid, _, _, nr = struct.unpack('<IIII', body[:16])
slot, gen = struct.unpack('<IQ', body[24 + 16 * nr:36 + 16 * nr])
if slot >= slots:
    fail('no slot: %#x' % slot)


def slot_gen():
    return struct.unpack('<Q', tab[slot * 8:slot * 8 + 8])[0]


if slot_gen() != gen:
    fail('the table does not hold the reply generation')

# forged entries: other ids, slots, generations, ops; short and oversized
forged = [(cid, USE, slot, gen), (cid, RELEASE, slot, gen),  # not parked
          (cid, PARK, slot ^ 1, gen), (cid, PARK, 0xffffffff, gen),
          (cid, 0, slot, gen), (cid, 99, slot, gen),
          (0, PARK, slot, gen), (cid + 1, PARK, slot, gen),
          (0xffffffff, USE, 0, 0)]
for e in forged:
    s.send(batch([e]))
s.send(batch([], count=0))
s.send(batch([(cid, PARK, slot, gen)], count=5000))
s.send(msg(PARKED, struct.pack('<I', 3) +
           struct.pack('<IIIQ', cid, PARK, slot, gen)[:13]))
rnd = random.Random(15)
for _ in range(200):
    s.send(batch([(rnd.randrange(1 << 32), rnd.randrange(5),
                   rnd.randrange(1 << 32), rnd.randrange(1 << 64))
                  for _ in range(400)]))
healthy(s, 'forged batches')
if slot_gen() != gen:
    fail('forged entries moved the generation')
st, _, fds = call(s, REFRESH, struct.pack('<II', cid, 0))
for f in fds:
    os.close(f)
if st != OK:
    fail('forged entries took the handle: refresh status %d' % st)
print('ok: forged, short and flooding batches changed nothing')

# a good batch: park, then the handle is only a parked one; a release
# with another generation is ignored, with the right one it goes
s.send(batch([(cid, PARK, slot, gen)]))
st, _, _ = call(s, REFRESH, struct.pack('<II', cid, 0))
if st != ENOENT:
    fail('a parked handle answered refresh: %d' % st)
s.send(batch([(cid, RELEASE, slot, gen + 1), (cid, USE, slot, gen)]))
healthy(s, 'use of a parked handle')
if slot_gen() != gen:
    fail('a release with another generation was applied')
s.send(batch([(cid, RELEASE, slot, gen)]))
healthy(s, 'release')
if slot_gen() == gen:
    fail('a release did not bump the generation')
print('ok: park, use and release did what they say')
s.close()
