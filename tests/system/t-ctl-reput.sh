# SPDX-License-Identifier: GPL-2.0-or-later
# t-ctl-reput: larderctl put over an existing object of the same size
# replaces its bytes (put stores what it is given).
. "$(dirname "$0")/lib.sh"
need_root
mkfs_loop ext4 64M > /dev/null
mkdir -p "$MNT/c"
write_conf "$T/c.conf" "dir $MNT/c" "socket $SOCK"
start_larderd "$T/c.conf"
printf 'aaaa' | ctl put v,one k || fail put1
[ "$(ctl get v,one k)" = aaaa ] || fail get1
printf 'bbbb' | ctl put v,one k || fail put2
[ "$(ctl get v,one k)" = bbbb ] || fail "re-put kept old bytes: $(ctl get v,one k)"
stop_larderd
ok reput
