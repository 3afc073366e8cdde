# SPDX-License-Identifier: GPL-2.0-or-later
# Guest: larderd in kernel mode started with its capability bounding set
# limited (setpriv --bounding-set BSET, e.g. the unit's
# CapabilityBoundingSet); 9p cache=fscache: the second read after umount +
# drop_caches must come from the cache (fscache IO rd grows), or, with
# EXPECT=nocache, must not (a bounding set too small for the kernel), or
# with EXPECT=report, only say what happened.
# Args: BSET [EXPECT [CAPEFF]] (CAPEFF: larderd's CapEff once bound, hex)
. "$1"
shift 4
BSET=$1
EXPECT=${2:-cache}
WANT_EFF=${3:-}
SETPRIV=/usr/bin/setpriv	# the host's, copied in (busybox may have its own)
[ -x "$SETPRIV" ] || die "no setpriv in the guest (KVM_EXTRA_FILES)"
kernel_conf /tmp/larder.conf
start_daemon "$SETPRIV" --bounding-set "$BSET" "$LARDERD" -n -s -d -f /tmp/larder.conf
wait_log 'kernel: cache bound' 30 || die "no 'kernel: cache bound' in the log"
say "bounding set $BSET: $(grep -m1 'capabilities:' $DLOG)"
eff=$(awk '/^CapEff/ {print $2}' /proc/$DPID/status)
bnd=$(awk '/^CapBnd/ {print $2}' /proc/$DPID/status)
say "larderd CapEff=$eff CapBnd=$bnd"
if [ -n "$WANT_EFF" ]; then
	# (the bounding set stays as given: dropping from it needs
	# CAP_SETPCAP, which a unit's bounding set does not have either)
	prm=$(awk '/^CapPrm/ {print $2}' /proc/$DPID/status)
	[ "$eff" = "$WANT_EFF" ] || die "CapEff $eff, not $WANT_EFF"
	[ "$prm" = "$WANT_EFF" ] || die "CapPrm $prm, not $WANT_EFF"
fi
if [ "$NOCTL" != 1 ]; then
	ctl status || die "larderctl status: $(cat /tmp/ctl.out)"
	say "$(grep -E '^caps\.' /tmp/ctl.out | tr -s ' ' | tr '\n' ';')"
fi
mount_share
readall > /tmp/sums.1 || die "first read"
umount_share; drop
rd0=$(io_rd); wr=$(io_wr)
say "after 1st pass: rd=$rd0 wr=$wr"
mount_share
readall > /tmp/sums.2 || die "second read"
umount_share
rd=$(io_rd)
say "after 2nd pass: rd=$rd"
cmp /tmp/sums.1 /tmp/sums.2 || die "data differs between the passes"
if [ "$EXPECT" = report ]; then
	say "with $BSET on $(uname -r): wr=$wr, second pass rd $rd0 -> $rd"
elif [ "$EXPECT" = cache ]; then
	[ "${wr:-0}" -gt 0 ] || die "nothing was written to the cache"
	[ "${rd:-0}" -gt "${rd0:-0}" ] || die "second pass not served from the cache"
else
	[ "${rd:-0}" -eq "${rd0:-0}" ] || die "served from the cache with $BSET"
	grep -q 'kernel mode without cap_dac_override' $DLOG ||
		die "no warning about the missing cap_dac_override"
	say "not cached with $BSET (as expected): $(dmesg | grep -i cachefiles | tail -3 | tr '\n' ';')"
fi
stop_daemon
say "PASS"
