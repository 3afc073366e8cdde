#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run-cull-bench: rounds of bench_cull on one tree, topped up by gen_tree
# before each round (bench_cull deletes 2 x PERCENT of it), and the median.
#   run-cull-bench.sh DIR [ROUNDS [OBJECTS [PERCENT]]]   (default 5 1000000 10)
# DIR as for gen_tree and bench_cull (see README-cull.md: an ext4 loop image
# with enough inodes). Each round prints its figures and the load average;
# even rounds cull first (bench_cull -o), odd ones run the plain loop first.
# BENCH_CULL_FLAGS (e.g. -N) is passed on to bench_cull.
set -e
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: run-cull-bench.sh DIR [ROUNDS [OBJECTS [PERCENT]]]}
rounds=${2:-5}
n=${3:-1000000}
pct=${4:-10}
for p in gen_tree bench_cull; do
	[ -x "$here/$p" ] || make -C "$here/../.." "tests/bench/$p" >/dev/null
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
r=1
while [ "$r" -le "$rounds" ]; do
	"$here/gen_tree" "$dir" "$n" 4 4096 > /dev/null
	o=; [ $((r % 2)) -eq 0 ] && o=-o
	# shellcheck disable=SC2086
	"$here/bench_cull" $o ${BENCH_CULL_FLAGS:-} -p "$pct" "$dir" \
	    2>/dev/null > "$out.r"
	u=$(sed -n 's/.*plain loop: \([0-9.]*\) s/\1/p' "$out.r")
	c=$(sed -n 's/^cull .*: \([0-9.]*\) s$/\1/p' "$out.r")
	ra=$(sed -n 's/^ratio //p' "$out.r")
	[ -n "$ra" ] || { cat "$out.r"; echo "round $r: no ratio"; exit 1; }
	echo "round $r: unlink loop $u s, cull $c s, ratio $ra${o:+ (cull first)} (load $(cut -d' ' -f1 /proc/loadavg))"
	echo "$ra" >> "$out"
	r=$((r + 1))
done
rm -f "$out.r"
sort -n "$out" | awk '{v[NR] = $1} END {
	m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "cull %s%% vs unlink loop: median ratio %.2f of %d rounds (min %.2f, max %.2f)\n", "'"$pct"'", m, NR, v[1], v[NR] }'
