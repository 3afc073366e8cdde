# SPDX-License-Identifier: GPL-2.0-or-later
# core-lib.sh: helpers for the t-core-* tests, sourced after lib.sh.
#   build_core_client: compile core-client.c against lib/liblarder.a into
#   $CORE_CLIENT (skip when no compiler); fanout_of VOLKEY KEY: the fan-out
#   directory (@xx) fs/netfs would pick, computed here independently of
#   lib/cfmt.c; restart_larderd CONF: start again after a kill.

CORE_CLIENT=$T/core-client

build_core_client() {
	need_cmd "${CC:-cc}"
	src=$(dirname "$0")/core-client.c
	for san in "" "-fsanitize=address,undefined" "-fsanitize=thread"; do
		# shellcheck disable=SC2086
		"${CC:-cc}" -std=gnu11 -O1 $san -I"$LARDER_BUILD/include" \
		    -o "$CORE_CLIENT" "$src" "$LARDER_BUILD/lib/liblarder.a" \
		    -lpthread 2>/dev/null && return 0
	done
	fail "cannot build core-client.c against lib/liblarder.a"
}

# The fscache hash (CACHEFILES-FORMAT.md), in python3, for the fan-out.
fanout_of() {
	python3 - "$1" "$2" <<'PY'
import sys
def rol(v, n): return ((v << n) | (v >> (32 - n))) & 0xffffffff
def h(v): return (v * 0x61C88647) & 0xffffffff
def fhash(salt, data):
    x, y = 0, salt
    for i in range(0, len(data), 4):
        a = int.from_bytes(data[i:i+4], 'little')
        x ^= a; y ^= x; x = rol(x, 7); x = (x + y) & 0xffffffff
        y = rol(y, 20); y = (y * 9) & 0xffffffff
    return h(y ^ h(x))
vk = sys.argv[1].encode(); k = sys.argv[2].encode()
vb = bytearray((1 + len(vk) + 1 + 3) // 4 * 4); vb[0] = len(vk); vb[1:1+len(vk)] = vk
vh = fhash(0, bytes(vb))
kb = k + b'\0' * ((4 - len(k) % 4) % 4)
print('@%02x' % (fhash(vh, kb) & 0xff))
PY
}

restart_larderd() {
	DAEMON_PID=
	start_larderd "$@"
}
