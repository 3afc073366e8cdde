# SPDX-License-Identifier: GPL-2.0-or-later
# fill-lib.sh: helpers for t-adv-fill.sh and t-adv-odirect.sh, sourced
# after lib.sh.
#   build_fill_client: compile fill-client.c against lib/liblarder.a into
#   $FILL_CLIENT (skip when no compiler); build_test_client: the same for
#   another client; fill_daemon FSTYPE: a daemon on a fresh loop-mounted
#   FSTYPE.

FILL_CLIENT=$T/fill-client

build_fill_client() {
	build_test_client fill-client.c "$FILL_CLIENT"
}

# build_test_client NAME.c OUT [CFLAGS...]: compile tests/system/NAME.c
# against lib/liblarder.a, as built (plain, ASan or TSan)
build_test_client() {
	need_cmd "${CC:-cc}"
	name=$1 out=$2; shift 2
	src=$(dirname "$0")/$name; [ -f "$src" ] || src=$LARDER_BUILD/tests/system/$name
	for san in "" "-fsanitize=address,undefined" "-fsanitize=thread"; do
		# shellcheck disable=SC2086
		"${CC:-cc}" -std=gnu11 -O1 $san -I"$LARDER_BUILD/include" "$@" \
		    -o "$out" "$src" "$LARDER_BUILD/lib/liblarder.a" \
		    -lpthread 2>/dev/null && return 0
	done
	fail "cannot build $name against lib/liblarder.a"
}

fill_daemon() {
	mkfs_loop "$1" 300M > "$T/mnt.$1" || fail "$1: mkfs"
	mkdir "$MNT/cache"
	write_conf "$T/$1.conf" "dir $MNT/cache" "socket $SOCK" \
	    "backend userspace"
	start_larderd "$T/$1.conf"
}
