#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-core-check.sh: `larderd -t` checks what a start would check, not only
# the syntax: a dir that is missing, not a directory, writable by others
# or owned by another user; a socket whose directory cannot be made; and
# each time the start itself fails on the same thing. (The kernel device
# checks are in t-mount-chroot.sh, where /dev/cachefiles is surely absent.)
. "$(dirname "$0")/lib.sh"
need_root

mkdir -m 0700 "$T/cache"
good() {
	write_conf "$T/c.conf" "dir $1" "socket $2" "backend userspace"
	out=$("$LARDERD" -t -f "$T/c.conf") || fail "-t refused dir $1 socket $2: $out"
	[ "$out" = "configuration OK" ] || fail "-t said: $out"
}
# bad DIR SOCKET PATTERN: -t exits 1 saying PATTERN, and so does a start
bad() {
	write_conf "$T/c.conf" "dir $1" "socket $2" "backend userspace"
	out=$("$LARDERD" -t -f "$T/c.conf" 2>&1); rc=$?
	[ $rc -eq 1 ] || fail "-t on $1 / $2: exit $rc: $out"
	echo "$out" | grep -q "$3" || fail "-t on $1 / $2 said: $out"
	echo "$out" | grep -q "configuration OK" && fail "-t said OK: $out"
	case $3 in socket*) return ;; esac	# a start fails there later
	"$LARDERD" -n -s -f "$T/c.conf" > "$T/start.out" 2>&1 &&
	    fail "started with $1 / $2"
	grep -q "$3" "$T/start.out" || fail "start on $1 / $2 said: $(cat "$T/start.out")"
}

good "$T/cache" "$T/run/larder.sock"
ok "-t: a good dir and a socket directory to be made"
bad "$T/none" "$SOCK" "cache dir $T/none does not exist: create it"
: > "$T/file"
bad "$T/file" "$SOCK" "cache dir $T/file is not a directory"
chmod 0777 "$T/cache"
bad "$T/cache" "$SOCK" "writable by others (mode 0777): chmod go-w $T/cache"
chmod 0770 "$T/cache"
bad "$T/cache" "$SOCK" "writable by its group (mode 0770): chmod go-w"
chmod 0700 "$T/cache"
chown 1 "$T/cache"
bad "$T/cache" "$SOCK" "owned by uid 1, not by larderd's uid 0: chown 0 $T/cache"
chown 0 "$T/cache"
ok "-t and a start refuse a missing dir, a file, modes 0777 and 0770, another owner"
bad "$T/cache" "$T/file/larder.sock" "socket $T/file/larder.sock: $T/file is not a directory"
bad "$T/cache" "$T/$(printf '%0120d' 0)/larder.sock" "too long"
ok "-t refuses a socket under a file, and a socket path too long"
good "$T/cache" "$SOCK"
