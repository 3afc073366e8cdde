# SPDX-License-Identifier: GPL-2.0-or-later
# zcopy-raw.py SOCK CACHEDIR: a hostile peer of zero-copy fills
# (t-fill-zcopy-hostile.sh), in raw SOCK_SEQPACKET. Bad shm offsets and
# lengths (past the area, wrapping around, past the object) are refused
# with EINVAL; a peer that scribbles over its area while its fills are
# written from it, and sends fills from the same bytes again without
# waiting for the daemon to let them go, changes only its own object,
# never past its size, and never another peer's object, which an honest
# peer fills meanwhile: its file on disk must be byte-exact. The daemon
# must answer a ping afterwards.
import fcntl, hashlib, mmap, os, random, socket, struct, sys, threading, time
from rawproto import fail, msg, s16

SOCK, CACHE = sys.argv[1], sys.argv[2]
HELLO, PING, VOL_ACQ, COOKIE_ACQ, WRITE = 100, 101, 200, 202, 205
OK, EINVAL = 0, 2
HELLO_SHM, FEATURE_ZCOPY = 1, 4
WRITE_SHM, WRITE_ZCOPY = 1, 2
AREA = 1 << 20
CHUNK = 64 * 1024


def reply(s):
    r = s.recv(70000)
    if not r:
        fail('daemon hung up')
    v, t, n, q, f, st = struct.unpack('<HHIIHH', r[:16])
    return st, r[16:]

def call(s, typ, body):
    s.send(msg(typ, body))
    return reply(s)

def peer(key, size):
    """A connection with a sealed 1 MiB area, a volume and a cookie."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(SOCK)
    s.settimeout(60)
    fd = os.memfd_create('hostile', os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, AREA)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
    area = mmap.mmap(fd, AREA)
    socket.send_fds(s, [msg(HELLO, struct.pack('<IQ', HELLO_SHM, AREA))], [fd])
    os.close(fd)
    st, body = reply(s)
    ver, inl, acc, pid, feat = struct.unpack('<IIQII', body[:24])
    if st != OK or acc != AREA or not feat & FEATURE_ZCOPY:
        fail('hello: status %d, area %d, features %#x' % (st, acc, feat))
    st, body = call(s, VOL_ACQ, struct.pack('<I', 0) + s16(b'test,hostile') + s16(b''))
    if st != OK:
        fail('volume: %d' % st)
    vid = struct.unpack('<I', body[:4])[0]
    st, body = call(s, COOKIE_ACQ, struct.pack('<IIQ', vid, 0, size) + s16(key) + s16(b'a'))
    if st != OK:
        fail('cookie: %d' % st)
    return s, area, struct.unpack('<I', body[:4])[0]

def write(cid, off, n, shm_off, flags=WRITE_SHM | WRITE_ZCOPY):
    return msg(WRITE, struct.pack('<IIQQQ', cid, flags, off, n, shm_off))

# bad offsets and lengths: refused, nothing read
HSIZE = 2 << 20
h, harea, hid = peer(b'hostile', HSIZE)
for what, off, n, shm_off in [
        ('shm offset past the area', 0, 1, AREA),
        ('shm range past the area', 0, 2, AREA - 1),
        ('shm offset wrapping around', 0, 8192, (1 << 64) - 4096),
        ('length past the area', 0, AREA + 1, 0),
        ('range past the object', HSIZE - 10, 20, 0),
        ('offset wrapping around', (1 << 64) - 10, 20, 0)]:
    h.send(write(hid, off, n, shm_off))
    st, body = reply(h)
    if st != EINVAL:
        fail('%s: status %d, wanted EINVAL' % (what, st))

# an honest peer fills its object from its area, one chunk at a time
GSIZE = 3 << 20
g, garea, gid = peer(b'honest', GSIZE)
rnd = random.Random(7)
gdata = bytes(rnd.getrandbits(8) for _ in range(GSIZE))
stop = False

def scribble():
    r = random.Random(9)
    while not stop:
        at = r.randrange(0, AREA - 4096)
        harea[at:at + 4096] = r.randbytes(4096)

t = threading.Thread(target=scribble)
t.start()
# the hostile peer: fills from the same 64 KiB of its area, back to back,
# never waiting for the daemon to let them go, while scribbling on it
sent = 0
for off in range(0, HSIZE, CHUNK):
    h.send(write(hid, off, CHUNK, 0))
    sent += 1
# (every other chunk as an older client would: copied by the daemon, no
# busy mask; the rest zero-copy: the mask says nothing is held any more)
for i, off in enumerate(range(0, GSIZE, CHUNK)):
    garea[0:CHUNK] = gdata[off:off + CHUNK]
    zc = i % 2 == 0
    st, body = call(g, WRITE, struct.pack('<IIQQQ', gid, WRITE_SHM |
                    (WRITE_ZCOPY if zc else 0), off, CHUNK, 0))
    if st != OK or struct.unpack('<Q', body[:8])[0] != CHUNK:
        fail('honest fill at %d: status %d' % (off, st))
    if len(body) != (16 if zc else 8):
        fail('honest fill at %d: %d bytes of reply' % (off, len(body)))
    if zc and struct.unpack('<Q', body[8:16])[0] != 0:
        fail('honest fill at %d: slots still busy after it was done' % off)
answered = 0
while answered < sent:
    st, body = reply(h)
    answered += 1
stop = True
t.join()
g.send(msg(PING))
if reply(g)[0] != OK:
    fail('no ping after the hostile fills')

# on disk: the honest object byte-exact; no object past its size
want = hashlib.sha256(gdata).hexdigest()
found = {}
deadline = time.time() + 60
while time.time() < deadline:
    found = {}
    for d, _, files in os.walk(CACHE):
        if '/@' not in d:
            continue  # objects only: cache/I<volume>/@xx/<key>
        for f in files:
            p = os.path.join(d, f)
            found[p] = os.path.getsize(p)
    if GSIZE in found.values() and HSIZE in found.values():
        break
    time.sleep(0.1)
for p, n in found.items():
    if n > max(GSIZE, HSIZE) or n not in (GSIZE, HSIZE):
        fail('%s: %d bytes' % (p, n))
    if n == GSIZE:
        with open(p, 'rb') as f:
            if hashlib.sha256(f.read()).hexdigest() != want:
                fail('the honest object %s is not what it filled' % p)
if GSIZE not in found.values():
    fail('the honest object is not on disk')
print('ok: %d hostile fills answered; bad offsets refused; the honest '
      'object is byte-exact' % sent)
