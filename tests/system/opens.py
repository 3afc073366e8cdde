#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# opens.py OUT SENTINEL PATH...: log every open of the PATHs (inotify
# IN_OPEN) to OUT, one "open PATH" line each, and "sentinel" when SENTINEL
# is opened (the caller opens it to know earlier events are in OUT).
# Prints "ready" once watching, or "opath-notifies" and exits 3 if this
# kernel reports O_PATH opens (before 6.5), which this check cannot tell
# from real opens.
import ctypes
import os
import struct
import sys

IN_OPEN = 0x20
libc = ctypes.CDLL(None, use_errno=True)
out, sentinel, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
fd = libc.inotify_init1(os.O_CLOEXEC)
if fd < 0:
    sys.exit("inotify_init1 failed")
names = {}
for p in [sentinel] + paths:
    wd = libc.inotify_add_watch(fd, p.encode(), IN_OPEN)
    if wd < 0:
        sys.exit("inotify_add_watch %s failed" % p)
    names[wd] = p


def events():
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        wd, mask, _, ln = struct.unpack_from("iIII", buf, i)
        i += 16 + ln
        if mask & IN_OPEN:  # not IN_IGNORED when a node is replaced
            yield names[wd]


# an O_PATH open of the first path, then a real open of the sentinel: in
# order, so whatever came before the sentinel's event came from O_PATH
os.close(os.open(paths[0], os.O_PATH))
os.close(os.open(sentinel, os.O_RDONLY))
seen = []
while sentinel not in seen:
    seen.extend(events())
if seen[0] != sentinel:
    print("opath-notifies", flush=True)
    sys.exit(3)
print("ready", flush=True)
with open(out, "a") as f:
    while True:
        for p in events():
            f.write("sentinel\n" if p == sentinel else "open %s\n" % p)
            f.flush()
