# SPDX-License-Identifier: GPL-2.0-or-later
# access-raw.py SOCK PHASE: the attacks of t-adv-access.sh, spoken as raw
# protocol so that every flag can be tried. Run as root: each connection is
# made with the credentials of the user it plays (setgroups, setegid,
# seteuid around connect(): the daemon takes SO_PEERCRED and SO_PEERGROUPS
# at connect), then root's are taken back.
#
#   none   the victim's volume v,victim (policy none): every try of the
#          attacker (a client_group member) is refused
#   read   (policy read) the attacker may read with the right aux and
#          list, and nothing else; a wrong aux gives a blind handle
#   fill   (policy fill) the attacker may also fill gaps and add objects,
#          never replace, invalidate, retire or drop what is there
#   own    the attacker in its own new volume may do everything
#   reload (CONF as a third argument) a reload without client_group keeps
#          the connected attacker a client and refuses a new connection
# Exit 0 when every case went as it should; 1 with "FAIL: ..." otherwise.
import os, socket, struct, sys

SOCK, PHASE = sys.argv[1], sys.argv[2]
ATTACKER = (64123, 64123, [65534])	# uid, gid, groups: client via a group
VICTIM = (64124, 65534, [])		# client via its primary gid
VOL = b'v,victim'

HELLO, PING, VOL_ACQ, VOL_REL, COOKIE_ACQ, COOKIE_REL, REFRESH, WRITE, \
    INVAL, LIST_VOL, LIST_OBJ, VOL_ACCESS, LIST_VOL_STATS, STATUS, DROP = \
    100, 101, 200, 201, 202, 203, 204, 205, 206, 210, 211, 212, 213, 300, 302
OK, EPERM, EBUSY, ESTALE = 0, 7, 9, 13
ANY = 1
RETIRE = 1
HAVE_FD, NEW, NO_CACHE = 1, 2, 4
seq = 0


def fail(why):
    print('FAIL:', why)
    sys.exit(1)


def conn(who):
    uid, gid, groups = who
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    os.setgroups(groups)
    os.setegid(gid)
    os.seteuid(uid)
    try:
        s.connect(SOCK)
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups([])
    s.settimeout(30)
    return s


def s16(b):
    return struct.pack('<H', len(b)) + b


def call(s, typ, body=b''):
    global seq
    seq += 1
    s.send(struct.pack('<HHIIHH', 1, typ, 16 + len(body), seq, 0, 0) + body)
    data, fds, _, _ = socket.recv_fds(s, 70000, 1)
    if not data:
        fail('type %d: connection closed' % typ)
    v, t, n, q, f, st = struct.unpack('<HHIIHH', data[:16])
    if q != seq or t != typ:
        fail('type %d: reply to %d/%d' % (typ, t, q))
    return st, data[16:], fds


def reason(body):
    if len(body) >= 2:
        n = struct.unpack('<H', body[:2])[0]
        return body[2:2 + n].decode('utf-8', 'replace')
    return ''


def expect(what, r, status):
    st, body, fds = r
    for fd in fds:
        os.close(fd)
    if st != status:
        fail('%s: status %d (%s), wanted %d' % (what, st, reason(body),
                                                status))
    print('ok: %s: status %d %s' % (what, st, reason(body)))
    return body


def vol_acquire(s, key, coh=b'', flags=0):
    return call(s, VOL_ACQ, struct.pack('<I', flags) + s16(key) + s16(coh))


def cookie(s, vid, key, aux=b'', size=0, flags=0):
    return call(s, COOKIE_ACQ, struct.pack('<IIQ', vid, flags, size) +
                s16(key) + s16(aux))


def state(body):
    cid, flags, gen, n, size = struct.unpack('<IIIIQ', body[:24])
    return cid, flags, n, size


def write(s, cid, off, data):
    return call(s, WRITE, struct.pack('<IIQQQ', cid, 0, off, len(data), 0) +
                data)


def list_objects(s, vol):
    return call(s, LIST_OBJ, struct.pack('<I', 0) + s16(vol))


def volumes(s):
    """the volume keys this peer is shown, by LIST_VOLUMES and by
    LIST_VOLUME_STATS (which must show the same ones)"""
    seen = []
    for typ, row in ((LIST_VOL, 16), (LIST_VOL_STATS, 40)):
        st, body, _ = call(s, typ, struct.pack('<I', 0))
        if st != OK:
            fail('list volumes (%d): status %d' % (typ, st))
        n = struct.unpack('<I', body[4:8])[0]
        off, keys = 8, []
        for i in range(n):
            k = struct.unpack('<H', body[off:off + 2])[0]
            keys.append(body[off + 2:off + 2 + k])
            off += 2 + k + row
        seen.append(keys)
    if seen[0] != seen[1]:
        fail('LIST_VOLUMES shows %r, LIST_VOLUME_STATS %r' % tuple(seen))
    return seen[0]


def objsize(s, vol, key):
    """the object's size, through the victim's own listing"""
    st, body, _ = list_objects(s, vol)
    if st != OK:
        fail('the owner cannot list %r: status %d' % (vol, st))
    n = struct.unpack('<I', body[4:8])[0]
    off = 8
    for i in range(n):
        nl = struct.unpack('<H', body[off:off + 2])[0]
        off += 2 + nl
        kl = struct.unpack('<H', body[off:off + 2])[0]
        k = body[off + 2:off + 2 + kl]
        off += 2 + kl
        size = struct.unpack('<Q', body[off:off + 8])[0]
        off += 8 + 8 + 8 + 4
        if k == key:
            return size
    fail('no object %r in %r' % (key, vol))


victim = conn(VICTIM)
size1 = objsize(victim, VOL, b'k1')
a = conn(ATTACKER)

if PHASE == 'none':
    if VOL in volumes(a):
        fail('the attacker sees %r in its volume listing' % VOL)
    print('ok: v,victim is not in the attacker\'s volume listing')
    expect('list the victim\'s objects', list_objects(a, VOL), EPERM)
    expect('acquire the victim\'s volume', vol_acquire(a, VOL), EPERM)
    expect('acquire it with ANY_COHERENCY',
           vol_acquire(a, VOL, flags=ANY), EPERM)
    expect('acquire it with other coherency (a wipe)',
           vol_acquire(a, VOL, b'wipe'), EPERM)
    expect('drop an object of it', call(a, DROP, s16(VOL) + s16(b'k1')),
           EPERM)
    expect('drop the whole volume', call(a, DROP, s16(VOL) + s16(b'')),
           EPERM)
    expect('set its policy', call(a, VOL_ACCESS, s16(VOL) +
                                  struct.pack('<II', 1, 3)), EPERM)
    expect('read its policy', call(a, VOL_ACCESS, s16(VOL) +
                                   struct.pack('<II', 0, 0)), EPERM)

elif PHASE in ('read', 'fill'):
    if VOL not in volumes(a):
        fail('the attacker does not see %r under policy %s' % (VOL, PHASE))
    st, body, _ = list_objects(a, VOL)
    if st != OK:
        fail('list under policy %s: status %d' % (PHASE, st))
    print('ok: policy %s: the attacker lists v,victim' % PHASE)
    expect('acquire it with ANY_COHERENCY',
           vol_acquire(a, VOL, flags=ANY), EPERM)
    expect('acquire it with other coherency (a wipe)',
           vol_acquire(a, VOL, b'wipe'), EPERM)
    body = expect('acquire it with its coherency', vol_acquire(a, VOL), OK)
    vid = struct.unpack('<I', body[:4])[0]
    # reading with the right aux is what the policy allows
    st, body, fds = cookie(a, vid, b'k1', b'', size1)
    if st != OK or not fds:
        fail('policy %s: read k1 with its aux: status %d, %d fds' %
             (PHASE, st, len(fds)))
    data = os.pread(fds[0], size1, 0)
    os.close(fds[0])
    if len(data) != size1:
        fail('policy %s: k1 read %d of %d bytes' % (PHASE, len(data), size1))
    cid = state(body)[0]
    print('ok: policy %s: the attacker reads k1 (%d bytes)' % (PHASE, size1))
    # poisoning: write over its bytes; under fill only gaps are filled,
    # and k1 has none
    r = write(a, cid, 0, b'X' * 4096)
    if PHASE == 'read':
        expect('write into k1', r, EPERM)
    else:
        expect('write over k1\'s cached bytes (taken as a no-op)', r, OK)
    expect('acquire k1 with ANY_AUX', cookie(a, vid, b'k1', flags=ANY),
           EPERM)
    expect('invalidate k1', call(a, INVAL, struct.pack('<IIQ', cid, 0, 10) +
                                 s16(b'evil')), EPERM)
    # drop and refill: retire, DROP
    expect('retire k1', call(a, COOKIE_REL, struct.pack('<II', cid,
                                                        RETIRE)), EPERM)
    expect('drop k1', call(a, DROP, s16(VOL) + s16(b'k1')), EPERM)
    # a wrong aux: a blind handle, k1 untouched
    st, body, fds = cookie(a, vid, b'k1', b'evil', 4096)
    for fd in fds:
        os.close(fd)
    c2, fl, n, _ = state(body) if st == OK else (0, 0, 0, 0)
    if st != OK or fds or n or not (fl & NO_CACHE):
        fail('policy %s: k1 with another aux: status %d, %d fds, %d '
             'extents, flags %#x' % (PHASE, st, len(fds), n, fl))
    print('ok: policy %s: k1 with another aux: a blind handle' % PHASE)
    expect('fill through the blind handle', write(a, c2, 0, b'Y' * 4096),
           EPERM if PHASE == 'read' else ESTALE)
    expect('retire through the blind handle',
           call(a, COOKIE_REL, struct.pack('<II', c2, RETIRE)), EPERM)
    # a new object: only fill may make one
    st, body, fds = cookie(a, vid, b'new-' + PHASE.encode(), b'x', 4096)
    for fd in fds:
        os.close(fd)
    c3 = state(body)[0]
    r = write(a, c3, 0, b'Z' * 4096)
    if PHASE == 'read':
        expect('fill a new object under policy read', r, EPERM)
    else:
        body = expect('fill a new object under policy fill', r, OK)
        if struct.unpack('<Q', body[:8])[0] != 4096:
            fail('fill of a new object under policy fill took %r' % body)
    expect('release the new object', call(a, COOKIE_REL,
                                          struct.pack('<II', c3, 0)), OK)
    expect('retire the volume', call(a, VOL_REL, struct.pack('<II', vid,
                                                             RETIRE)), EPERM)

elif PHASE == 'own':
    # the attacker's own volume: it is the owner there
    body = expect('make its own volume', vol_acquire(a, b'v,attacker', b'c'),
                  OK)
    vid = struct.unpack('<I', body[:4])[0]
    st, body, fds = cookie(a, vid, b'mine', b'a', 4096)
    for fd in fds:
        os.close(fd)
    cid = state(body)[0]
    body = expect('fill its own object', write(a, cid, 0, b'M' * 4096), OK)
    expect('its own volume with ANY_COHERENCY',
           vol_acquire(a, b'v,attacker', flags=ANY), OK)
    expect('set its own volume\'s policy',
           call(a, VOL_ACCESS, s16(b'v,attacker') + struct.pack('<II', 1, 2)),
           OK)
    # the victim now holds it too: the owner may not wipe it under them
    body = expect('the victim acquires it (policy read)',
                  vol_acquire(victim, b'v,attacker', b'c'), OK)
    expect('the owner changes its coherency while another user holds it',
           vol_acquire(a, b'v,attacker', b'other'), EBUSY)
    vv = struct.unpack('<I', body[:4])[0]
    expect('the victim releases it', call(victim, VOL_REL,
                                          struct.pack('<II', vv, 0)), OK)
    expect('the owner changes its coherency once alone',
           vol_acquire(a, b'v,attacker', b'other'), OK)
elif PHASE == 'reload':
    # membership is decided at connect: a reload that drops client_group
    # leaves connected peers as they were and refuses new ones
    conf = sys.argv[3]
    text = open(conf).read()
    expect('the attacker\'s ping before the reload', call(a, PING), OK)
    open(conf, 'w').write(text.replace('client_group nogroup\n', ''))
    r = conn((0, 0, []))
    expect('reload without client_group', call(r, 308), OK)
    expect('the connected attacker after the reload', call(a, PING), OK)
    body = expect('its own volume after the reload',
                  vol_acquire(a, b'v,attacker2', b'c'), OK)
    a2 = conn(ATTACKER)
    expect('a new connection of the attacker', call(a2, PING), EPERM)
    if a2.recv(100):
        fail('a refused peer was not hung up on')
    print('ok: the refused peer was hung up on')
    open(conf, 'w').write(text)
    expect('reload with client_group', call(r, 308), OK)
    a3 = conn(ATTACKER)
    expect('a new connection after client_group is back', call(a3, PING), OK)
else:
    fail('unknown phase ' + PHASE)

# the daemon still serves root
r = conn((0, 0, []))
expect('root\'s ping', call(r, PING), OK)
