#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-metrics.sh: metrics for Prometheus and the live view, on a real daemon
# on loop-mounted ext4:
#   - `larderctl stats --prometheus` and the metrics_file larderd writes
#     are read by a real parser (python3-prometheus-client): HELP and TYPE
#     for every family, larder_ prefix, counters named _total, values that
#     match what was done (objects, fills, per-volume series, a volume key
#     with a quote and a backslash), state gauges that follow a freeze;
#   - past METRICS_MAX_VOLUMES (100) volumes, the rest are summed into
#     larder_volumes_other_* and counted in larder_volumes_omitted;
#   - with the metrics file's own filesystem frozen (fsfreeze), larderd
#     keeps answering and counts skipped writes; after the thaw it writes
#     again;
#   - a reload with another metrics_file removes the old file, writes the
#     new one; a stop removes it;
#   - histograms (acquire, read, fill, cull pass) parse as histograms
#     (cumulative buckets, +Inf = _count), per-volume hits, misses and
#     fills are there, and a get and a put move them by exactly what they
#     did; a cull moves the cull pass count;
#   - every family is typed: a stats key metrics.c does not map (exported
#     untyped) fails the test;
#   - `larderctl top -n 3 1` prints a header and 3 lines, --json 2 objects.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze
PY=/usr/bin/python3
$PY -c 'import prometheus_client.parser' 2>/dev/null ||
	skip "needs python3-prometheus-client (contrib/install-deps --all)"

mkfs_loop ext4 300M > /dev/null || fail "mkfs cache fs"
cache=$MNT/cache
mkdir "$cache"
mkfs_loop ext4 16M > /dev/null || fail "mkfs metrics fs"
mdir=$MNT/prom
mkdir "$mdir"
prom=$mdir/larder.prom
conf=$T/larder.conf
write_conf "$conf" "dir $cache" "socket $SOCK" "backend userspace" \
	"metrics_file $prom" "metrics_interval 1"
start_larderd "$conf"

# wait_for SECONDS CMD...: until CMD succeeds, at most SECONDS
# (its own variable names: callers' loops use i and n)
wait_for() {
	_wf_n=$(($1 * 10)); shift
	_wf_i=0
	until "$@"; do
		_wf_i=$((_wf_i + 1)); [ $_wf_i -lt $_wf_n ] || return 1
		sleep 0.1
	done
}

# check FILE [NAME=VALUE | NAME{label=value}=VALUE]...: parse FILE with
# prometheus_client and check the rules and the given samples
cat > "$T/check.py" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding='utf-8').read()
fams = list(text_string_to_metric_families(text))
errs = []
samples = {}
names = set()
for f in fams:
    if f.name in names:
        errs.append('family %s twice' % f.name)
    names.add(f.name)
    if not f.name.startswith('larder_'):
        errs.append('%s: no larder_ prefix' % f.name)
    if not f.documentation:
        errs.append('%s: no HELP' % f.name)
    if f.type not in ('counter', 'gauge', 'histogram', 'unknown'):
        errs.append('%s: type %s' % (f.name, f.type))
    if f.type == 'histogram':
        if not f.name.endswith('_seconds'):
            errs.append('histogram %s: no unit (_seconds)' % f.name)
        b = [(float(s.labels['le']), s.value) for s in f.samples
             if s.name == f.name + '_bucket']
        cnt = [s.value for s in f.samples if s.name == f.name + '_count']
        sm = [s.value for s in f.samples if s.name == f.name + '_sum']
        if len(b) < 2 or b[-1][0] != float('inf') or len(cnt) != 1 or len(sm) != 1:
            errs.append('histogram %s: not buckets + Inf + _sum + _count' % f.name)
        elif [x[0] for x in b] != sorted(x[0] for x in b) or \
                any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)) or \
                b[-1][1] != cnt[0] or sm[0] < 0:
            errs.append('histogram %s: buckets not cumulative or +Inf != count' % f.name)
    if f.type == 'unknown':
        errs.append('%s: untyped (a stats key metrics.c does not map)' % f.name)
    for s in f.samples:
        if f.type == 'counter' and not s.name.endswith('_total'):
            errs.append('counter sample %s without _total' % s.name)
        key = s.name + ''.join('{%s=%s}' % kv for kv in sorted(s.labels.items()))
        if key in samples:
            errs.append('sample %s twice' % key)
        samples[key] = s.value
for t in ('HELP', 'TYPE'):
    declared = [l.split()[2] for l in text.splitlines() if l.startswith('# ' + t + ' ')]
    if len(declared) != len(fams):
        errs.append('%d %s lines for %d families' % (len(declared), t, len(fams)))
for want in sys.argv[2:]:
    key, op, val = want.rpartition('=')[0], '=', want.rpartition('=')[2]
    if val.startswith('>'):
        op, val = '>=', val[1:]
    if key not in samples:
        errs.append('no sample %s' % key)
    elif op == '=' and samples[key] != float(val):
        errs.append('%s = %s, not %s' % (key, samples[key], val))
    elif op == '>=' and samples[key] < float(val):
        errs.append('%s = %s, not >= %s' % (key, samples[key], val))
for e in errs:
    print('MISMATCH: ' + e)
sys.exit(1 if errs else 0)
EOF
check() { $PY "$T/check.py" "$@"; }
# ctl_prom OUT CHECKS...: stats --prometheus into OUT, checked (quietly:
# new objects are indexed when the meta thread has linked them, so callers
# wait for this with wait_for)
ctl_prom() {
	out=$1; shift
	ctl stats --prometheus > "$out" && check "$out" "$@" > "$out.check"
}
# series FILE FAMILY: how many samples of FAMILY
series() { grep -c "^$2{" "$1"; }

# objects in three volumes, one key with a quote and a backslash
printf 'one' | ctl put 'q"uo\te' k1 || fail "put 1"
printf 'two' | ctl put 'a,b' k1 || fail "put 2"
printf 'three' | ctl put 'a,b' k2 || fail "put 3"
ctl get 'a,b' k2 > /dev/null || fail "get"
wait_for 20 ctl_prom "$T/ctl.prom" larder_objects=3 'larder_fills_total=>3' \
	'larder_volume_objects{volume=q"uo\te}=1' \
	'larder_volume_objects{volume=a,b}=2' larder_volumes=2 \
	larder_volumes_omitted=0 larder_bound=1 larder_frozen=0 \
	larder_stalled=0 larder_suspended=0 larder_write_claim_held=1 \
	'larder_hits_total=>1' ||
	fail "stats --prometheus: $(cat "$T/ctl.prom.check" "$T/ctl.prom")"
grep -q '^larder_volume_bytes{volume="q\\"uo\\\\te"} ' "$T/ctl.prom" ||
	fail "label not escaped as the format says: $(grep volume_bytes "$T/ctl.prom")"
ok "stats --prometheus parses, values and escaping right"

# histograms and per-volume counters: there, and moving by what is done
# val FILE SAMPLE: the value of one sample (as check.py spells it)
val() {
	$PY - "$1" "$2" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        k = s.name + ''.join('{%s=%s}' % kv for kv in sorted(s.labels.items()))
        if k == sys.argv[2]:
            print(int(s.value))
            sys.exit(0)
sys.exit(1)
PYEOF
}
for h in acquire read fill cull_pass; do
	grep -q "^# TYPE larder_${h}_duration_seconds histogram\$" "$T/ctl.prom" ||
		fail "no histogram larder_${h}_duration_seconds"
done
grep -q '^larder_acquire_duration_seconds_bucket{le="0.00005"} ' "$T/ctl.prom" ||
	fail "acquire buckets: $(grep acquire_duration "$T/ctl.prom")"
ctl_prom "$T/h0.prom" 'larder_acquire_duration_seconds_count=>4' \
	'larder_fill_duration_seconds_count=>3' \
	'larder_volume_fills_total{volume=a,b}=>2' \
	'larder_volume_fills_total{volume=q"uo\te}=>1' \
	'larder_volume_hits_total{volume=a,b}=>1' \
	'larder_volume_misses_total{volume=a,b}=>2' ||
	fail "histograms, volume counters: $(cat "$T/h0.prom.check"; grep -e _duration_ -e volume_ "$T/h0.prom")"
a0=$(val "$T/h0.prom" larder_acquire_duration_seconds_count) || fail "no acquire count"
f0=$(val "$T/h0.prom" larder_fill_duration_seconds_count) || fail "no fill count"
vh0=$(val "$T/h0.prom" 'larder_volume_hits_total{volume=a,b}') || fail "no a,b hits"
vm0=$(val "$T/h0.prom" 'larder_volume_misses_total{volume=a,b}') || fail "no a,b misses"
qf0=$(val "$T/h0.prom" 'larder_volume_fills_total{volume=q"uo\te}') || fail "no fills"
# one get of a cached object: one acquire, one hit in a,b, no fill
ctl get 'a,b' k1 > /dev/null || fail "get a,b k1"
# one put of a new object in q"uo\te: one acquire, a miss there, a fill
printf 'five' | ctl put 'q"uo\te' k5 || fail "put k5"
ctl stats --prometheus > "$T/h1.prom" || fail "stats --prometheus"
check "$T/h1.prom" > "$T/h1.check" || fail "h1: $(cat "$T/h1.check")"
a1=$(val "$T/h1.prom" larder_acquire_duration_seconds_count)
f1=$(val "$T/h1.prom" larder_fill_duration_seconds_count)
vh1=$(val "$T/h1.prom" 'larder_volume_hits_total{volume=a,b}')
vm1=$(val "$T/h1.prom" 'larder_volume_misses_total{volume=a,b}')
qf1=$(val "$T/h1.prom" 'larder_volume_fills_total{volume=q"uo\te}')
[ "$a1" = $((a0 + 2)) ] || fail "acquires $a0 -> $a1, not +2"
[ "$f1" = $((f0 + 1)) ] || fail "fills $f0 -> $f1, not +1"
[ "$vh1" = $((vh0 + 1)) ] && [ "$vm1" = "$vm0" ] ||
	fail "a,b hits $vh0 -> $vh1 (+1?), misses $vm0 -> $vm1 (=?)"
[ "$qf1" = $((qf0 + 1)) ] || fail "q\"uo fills $qf0 -> $qf1, not +1"
ok "histograms (acquire $a1, fill $f1) and volume counters move by what was done"

# the file larderd writes: there, parsed, and rewritten
wait_for 20 test -f "$prom" || fail "no $prom after 20 s"
[ "$(stat -c %a "$prom")" = 644 ] || fail "$prom mode $(stat -c %a "$prom")"
wait_for 20 check "$prom" larder_objects=4 \
	'larder_volume_objects{volume=a,b}=2' \
	'larder_metrics_file_writes_total=>0' > "$T/prom.check" ||
	fail "$prom: $(cat "$T/prom.check" "$prom")"
w0=$(grep '^larder_metrics_file_writes_total ' "$prom" | cut -d' ' -f2)
newer() {
	w=$(grep '^larder_metrics_file_writes_total ' "$prom" 2>/dev/null | cut -d' ' -f2)
	[ -n "$w" ] && [ "$w" -gt "$1" ]
}
wait_for 20 newer "$w0" || fail "$prom not rewritten within 20 s"
ls "$mdir" | grep -v '^larder.prom$' | grep -q . &&
	fail "left in $mdir: $(ls "$mdir")"
ok "metrics_file written (mode 644), parsed, rewritten"

# state gauges follow a freeze
ctl freeze > /dev/null || fail "freeze"
ctl stats --prometheus > "$T/f.prom" || fail "stats while frozen"
check "$T/f.prom" larder_frozen=1 || fail "larder_frozen not 1 in a freeze"
ctl thaw > /dev/null || fail "thaw"
ctl stats --prometheus > "$T/t.prom" || fail "stats after thaw"
check "$T/t.prom" larder_frozen=0 'larder_freezes_total=>1' ||
	fail "after the thaw"
ok "larder_frozen follows freeze/thaw"

# the metrics file's filesystem frozen: larderd keeps serving, skips
fsfreeze -f "$MNT" || fail "fsfreeze -f $MNT"
at_exit "fsfreeze -u '$MNT'"
skipped() {
	s=$(ctl stats | awk '$1 == "metrics.skipped" { print $2 }')
	[ -n "$s" ] && [ "$s" -ge 2 ]
}
wait_for 30 skipped || { fsfreeze -u "$MNT"; fail "no skipped writes while $MNT is frozen"; }
ctl status > /dev/null || { fsfreeze -u "$MNT"; fail "status while the metrics fs is frozen"; }
printf 'four' | ctl put 'a,b' k4 || { fsfreeze -u "$MNT"; fail "put while the metrics fs is frozen"; }
fsfreeze -u "$MNT" || fail "fsfreeze -u"
wait_for 20 check "$prom" larder_objects=5 > /dev/null ||
	fail "$prom not written after the thaw: $(cat "$prom")"
ok "metrics fs frozen: served, writes skipped ($(ctl stats | awk '$1 == "metrics.skipped" { print $2 }')), resumed after the thaw"

# the label bound: 110 volumes, the 100 largest get series
i=0
while [ $i -lt 108 ]; do
	# ENOBUFS (exit 4) is a cache's right: try again, for a while
	put_bulk() { printf 'x' | ctl put "bulk$i" k 2> "$T/put.err"; [ $? != 4 ]; }
	wait_for 20 put_bulk || fail "put bulk$i: $(cat "$T/put.err")"
	[ ! -s "$T/put.err" ] || fail "put bulk$i: $(cat "$T/put.err")"
	i=$((i + 1))
done
wait_for 20 ctl_prom "$T/b.prom" larder_objects=113 larder_volumes=110 larder_volumes_omitted=10 \
	larder_volumes_other_objects=10 'larder_volume_objects{volume=a,b}=3' ||
	fail "label bound: $(cat "$T/b.prom.check")"
[ "$(series "$T/b.prom" larder_volume_objects)" = 100 ] ||
	fail "$(series "$T/b.prom" larder_volume_objects) volume series, not 100"
ok "110 volumes: 100 series, 10 summed"

# reload to another file: the old one goes, the new one comes
prom2=$mdir/larder2.prom
write_conf "$conf" "dir $cache" "socket $SOCK" "backend userspace" \
	"metrics_file $prom2" "metrics_interval 2"
ctl reload > /dev/null || fail "reload"
wait_for 20 test -f "$prom2" || fail "no $prom2 after the reload"
wait_for 20 test ! -e "$prom" || fail "$prom still there after the reload"
check "$prom2" larder_volumes=110 || fail "$prom2"
ok "reload: new metrics_file written, old one removed"

# top: header + 3 lines; JSON: 2 objects
ctl top -n 3 1 > "$T/top" || fail "top -n 3 1"
[ "$(wc -l < "$T/top")" = 4 ] || fail "top: $(cat "$T/top")"
head -1 "$T/top" | grep -q 'HIT%.*OBJECTS.*CULLS/s.*FREEZE' ||
	fail "top header: $(head -1 "$T/top")"
tail -1 "$T/top" | awk '$7 == 113 && $10 == "running" { ok = 1 } END { exit !ok }' ||
	fail "top line (objects 113, running): $(tail -1 "$T/top")"
ctl --json top -n 2 1 > "$T/top.json" || fail "top --json"
$PY -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, lines
for l in lines:
    d = json.loads(l)
    assert d["objects"] == 113 and d["freeze"] == "running", d
' "$T/top.json" || fail "top --json: $(cat "$T/top.json")"
ctl top -n 0 > /dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "top -n 0: exit $rc, not 2"
ok "top: header and lines, --json, usage"

# a cull pass is timed
c0=$(ctl stats --prometheus | grep '^larder_cull_pass_duration_seconds_count ' | cut -d' ' -f2)
ctl cull --bytes 1 > /dev/null || fail "cull --bytes 1"
ctl stats --prometheus > "$T/c.prom" || fail "stats after the cull"
c1=$(val "$T/c.prom" larder_cull_pass_duration_seconds_count)
[ -n "$c0" ] && [ -n "$c1" ] && [ "$c1" -gt "$c0" ] ||
	fail "cull pass histogram count $c0 -> $c1 after a cull"
ok "cull pass histogram: count $c0 -> $c1"

stop_larderd
[ ! -e "$prom2" ] || fail "$prom2 left after the stop"
ok "stop removes the metrics file"
