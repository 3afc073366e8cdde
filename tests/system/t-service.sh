#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-service.sh: contrib/larderd.service passes `systemd-analyze verify'
# (with @sbindir@ pointing at the built larderd), its offline security
# exposure is at most 2.0, and it has what both modes need with no
# drop-in. PID 1 need not be systemd: all of it is offline (that the unit
# really runs is tested in a VM, tests/vm).
. "$(dirname "$0")/lib.sh"
need_cmd systemd-analyze

unit=$LARDER_BUILD/contrib/larderd.service
[ -f "$unit" ] || fail "no $unit"
[ -x "$LARDERD" ] || fail "no built larderd at $LARDERD"

mkdir -p "$T/unit"
u=$T/unit/larderd.service
sed -e "s|@sbindir@|$LARDER_BUILD/daemon|g" -e "s|@sysconfdir@|$T|g" \
	"$unit" > "$u"
grep -q '@[a-z]*@' "$u" && fail "unsubstituted @...@ left in the unit"
grep -q '^Type=notify$' "$u" || fail "not Type=notify"
grep -q '^WatchdogSec=' "$u" || fail "no WatchdogSec"
grep -q '^ExecStartPre=.*larderd -t ' "$u" || fail "no ExecStartPre check"

# Documentation=man:...: verify runs man(1) for each, and fails where no
# man is installed (a minbase system): check them only when man is there
man=--man=no
if command -v man >/dev/null 2>&1; then
	man=--man=yes
	mkdir -p "$T/man/man5" "$T/man/man8"
	cp "$LARDER_BUILD"/man/*.5 "$T/man/man5/"
	cp "$LARDER_BUILD"/man/*.8 "$T/man/man8/"
	export MANPATH="$T/man"
fi
out=$(systemd-analyze verify $man "$u" 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "systemd-analyze verify exited $rc: $out"
# verify prints nothing for a clean unit; anything it says is a finding
[ -z "$out" ] || fail "systemd-analyze verify: $out"
ok "systemd-analyze verify $man: clean"

out=$(systemd-analyze security --offline=true "$u" 2>&1)
line=$(printf '%s\n' "$out" | grep 'Overall exposure level')
[ -n "$line" ] || fail "no exposure line in: $out"
score=$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+\.[0-9]+).*/\1/')
case $score in
[0-9]*.[0-9]*) ;;
*) fail "cannot parse the exposure from: $line" ;;
esac
echo "$line"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' ||
	fail "exposure $score is above 2.0"
# systemd's own comparison (tenths, the shown figure rounded up)
systemd-analyze security --offline=true --threshold=20 "$u" >/dev/null 2>&1 ||
	fail "systemd-analyze security --threshold=20 fails"
ok "systemd-analyze security --offline=true: exposure $score <= 2.0"

# what the unit must have to work as shipped (issue 10): cachefiles loaded
# before the start, the capabilities kernel mode needs, its namespace
grep -q '^Wants=.*modprobe@cachefiles.service' "$u" || fail "no Wants=modprobe@cachefiles"
grep -q '^After=.*modprobe@cachefiles.service' "$u" || fail "no After=modprobe@cachefiles"
bset=$(sed -n 's/^CapabilityBoundingSet=//p' "$u")
for c in CAP_SYS_ADMIN CAP_DAC_OVERRIDE CAP_CHOWN; do
	printf '%s\n' "$bset" | grep -qw "$c" || fail "$c not in CapabilityBoundingSet"
done
# and no more than any configuration needs (larder.conf(5), PRIVILEGES)
[ "$(printf '%s\n' "$bset" | wc -w)" -eq 3 ] || fail "CapabilityBoundingSet has more than SYS_ADMIN, DAC_OVERRIDE and CHOWN: $bset"
grep -q '^RestrictNamespaces=mnt$' "$u" || fail "kernel mode's mount namespace not allowed"
grep -q '^CacheDirectory=fscache$' "$u" || fail "no CacheDirectory=fscache"
ok "modprobe@cachefiles, capabilities, RestrictNamespaces=mnt, CacheDirectory"

# every other program the unit runs is in an Essential package, so it is
# there on a minbase system (/bin/kill, from procps, is not)
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $(sed -n 's/^Exec[A-Za-z]*=[-+!@:]*\([^ ]*\).*/\1/p' "$u" | sort -u); do
		case $p in "$LARDER_BUILD"/daemon/*) continue ;; esac
		pkg=$(dpkg -S "$p" 2>/dev/null | grep -v '^diversion' | sed -n '1s/:.*//p')
		[ -n "$pkg" ] || fail "the unit runs $p, which no package has"
		[ "$(dpkg-query -W -f='${Essential}' "$pkg")" = yes ] ||
			fail "the unit runs $p, from $pkg, which is not Essential"
	done
	ok "the unit runs only larderd and programs of Essential packages"
fi
