# SPDX-License-Identifier: GPL-2.0-or-later
# rawproto.py: the wire bits the raw-protocol test peers share (lib/proto.h):
# the 16-byte header, a u16-length string, and how a peer gives up. Each
# peer numbers its own messages: msg() keeps the last sequence number in
# rawproto.seq.
import struct, sys

seq = 0


def fail(why, who='FAIL:'):
    print(who, why)
    sys.exit(1)


def msg(typ, body=b''):
    """A request of type typ with body, the next sequence number."""
    global seq
    seq += 1
    return struct.pack('<HHIIHH', 1, typ, 16 + len(body), seq, 0, 0) + body


def s16(b):
    return struct.pack('<H', len(b)) + b
