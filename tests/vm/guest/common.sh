# SPDX-License-Identifier: GPL-2.0-or-later
# common.sh: sourced by the guest scripts of tests/vm/t-kernel-*.sh inside
# the VM (busybox sh). Arguments of every guest script:
#   COMMON_SH LARDERD LARDERCTL NOCTL [test args...]
# (the guest script does `. "$1"; shift 4` to get at its own arguments)
# kfacts.sh: the kernel facts that differ by version (next to this file)
. "${1%/*}/kfacts.sh"
LARDERD=$2
LARDERCTL=$3
NOCTL=$4
C=$VM_CACHE_DIR
M=/mnt/share
OPTS=trans=virtio,version=9p2000.L,cache=fscache,cachetag=mycache
DLOG=/tmp/daemon.log
DPID=""
mkdir -p $M

say() { echo "guest: $*"; }

# die MSG: show what we know and fail
die() {
	echo "FAIL: $*"
	echo "--- daemon log:"; tail -${DLOG_LINES:-60} $DLOG 2>/dev/null
	echo "--- dmesg:"; dmesg | grep -i -E 'cachefiles|fscache|larder' | tail -15
	echo "--- /proc/fs/fscache/caches:"; cat /proc/fs/fscache/caches 2>/dev/null
	echo "--- cache fs: $(df -P "$C" | tail -1); graveyard: $(ls "$C/graveyard" 2>/dev/null | wc -l) entries"
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null && [ "$NOCTL" != 1 ]; then
		echo "--- larderctl status and stats (kernel, cull):"
		{ timeout 10 "$LARDERCTL" status; timeout 10 "$LARDERCTL" stats; } 2>&1 | grep -E '^(kernel|cull|scan)\.' | tr -s ' ' | tr '\n' ';'
		echo
	fi
	exit 1
}

# kernel_conf OUT: the VM's /etc/cachefilesd.conf as is, plus backend kernel
kernel_conf() {
	cp /etc/cachefilesd.conf "$1"
	echo "backend kernel" >> "$1"
}

cache_active() { grep -q ' A ' /proc/fs/fscache/caches 2>/dev/null; }

# wait_active SECONDS: until the kernel has an active cache
wait_active() {
	i=0
	until cache_active; do
		i=$((i + 1))
		[ $i -lt $(($1 * 10)) ] || return 1
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.1
	done
}

# start_daemon CMD...: start a cache daemon in the background, wait for the cache
start_daemon() {
	"$@" > $DLOG 2>&1 &
	DPID=$!
	wait_active 60 || die "cache never became active ($*)"
}

# wait_log PATTERN SECONDS: until the daemon log has PATTERN
wait_log() {
	i=0
	until grep -q "$1" $DLOG; do
		i=$((i + 1))
		[ $i -lt $(($2 * 10)) ] || return 1
		sleep 0.1
	done
}

start_larderd() {
	start_daemon "$LARDERD" -n -s -d -f "$1"
	wait_log 'kernel: cache bound' 30 || die "no 'kernel: cache bound' in the log"
}

# where the daemon's threads are (state, wait channel, kernel stack):
# what a stop that takes too long is waiting for
daemon_where() {
	for t in /proc/"$1"/task/*; do
		[ -r "$t/stat" ] || continue
		echo "  task ${t##*/} $(cut -d' ' -f2,3 "$t/stat") wchan $(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/    /' "$t/stack" 2>/dev/null | head -12
	done
}

stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill "$DPID" 2>/dev/null
	i=0
	while kill -0 "$DPID" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1))
		# a slow stop says where it is, every 10 s
		[ $((i % 100)) -eq 0 ] && kill -0 "$DPID" 2>/dev/null && {
			say "daemon $DPID still stopping after $((i / 10)) s:"
			daemon_where "$DPID"
		}
	done
	if kill -0 "$DPID" 2>/dev/null; then
		kill -9 "$DPID"
		NOCTL=1 die "daemon did not stop on SIGTERM within 30 s"
	fi
	wait "$DPID" 2>/dev/null
	DPID=""
}

mount_share() { mount -t 9p -o $OPTS "$VM_SHARE_TAG" $M || die "mount 9p"; }
umount_share() { umount $M || die "umount 9p"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# loop_attach FILE: a free loop device backed by FILE, its path on stdout
# (busybox losetup has no --show)
loop_attach() { la_d=$(losetup -f) && losetup "$la_d" "$1" && echo "$la_d"; }

# reads served by the cache (kfacts.sh)
io_rd() { kf_cache_reads; }
io_wr() { awk '/^IO/ {for (i = 1; i <= NF; i++) if ($i ~ /^wr=/) {sub("wr=", "", $i); print $i}}' /proc/fs/fscache/stats; }

# readall: md5 of every file in the share (into /tmp/sums.N)
readall() {
	for f in $M/*; do [ -f "$f" ] && md5sum "$f"; done
}

# available blocks of the cache fs in percent (f_bavail / f_blocks: what
# the kernel compares with brun/bcull/bstop)
bfree_pct() { df -P "$C" | awk 'NR==2 {printf "%d\n", $4 * 100 / $2}'; }
bfree_permille() { df -P "$C" | awk 'NR==2 {printf "%d\n", $4 * 1000 / $2}'; }

# cpu_ms PID: user+system CPU time of PID in ms; now_ms: uptime in ms
cpu_ms() { awk -v hz=100 '{print ($14 + $15) * 1000 / hz}' /proc/$1/stat; }
now_ms() { awk '{printf "%d\n", $1 * 1000}' /proc/uptime; }

# ctl ARGS...: larderctl, output in /tmp/ctl.out; status as larderctl's
ctl() { "$LARDERCTL" "$@" > /tmp/ctl.out 2>&1; }

# objname FILE: the kernel's object name for a 9p file. Its key is the
# 8-byte little-endian qid.path (9p's inode number is qid.path + 2,
# v9fs_qid2ino), cooked by cachefiles_cook_key: two 32-bit words in hex,
# read big-endian (S) if that is no longer than little-endian (T), a zero
# word written as nothing: e.g. T<low>,<high> or S<bswap low>,<bswap high>
hexlen() { v=$1; n=0; while [ "$v" -gt 0 ]; do v=$((v >> 4)); n=$((n + 1)); done; echo $n; }
bswap() { v=$1; echo $(( ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | ((v >> 24) & 0xff) )); }
hx() { [ "$1" -eq 0 ] || printf %x "$1"; }
objname() {
	p=$(($(stat -c %i "$1") - 2))
	lo=$((p & 0xffffffff)); hi=$(((p >> 32) & 0xffffffff))
	blo=$(bswap $lo); bhi=$(bswap $hi)
	le=$((2 + $(hexlen $lo) + $(hexlen $hi)))
	be=$((2 + $(hexlen $blo) + $(hexlen $bhi)))
	if [ $be -le $le ]; then echo "S$(hx $blo),$(hx $bhi)"; else echo "T$(hx $lo),$(hx $hi)"; fi
}

# A background reader counts its passes in /tmp/reader.n (kernel-freeze,
# kernel-freezefs), written with count_to. passes: how many so far;
# wait_passes N SECONDS: until it has made N more
# count_to FILE N: FILE says N, replaced whole (a reader of FILE never sees
# it empty, as it could between the truncation and the write of `echo >')
count_to() { echo "$2" > "$1.new" && mv "$1.new" "$1"; }
passes() { cat /tmp/reader.n; }
wait_passes() {
	wp_to=$(($(passes) + $1)) wp_i=0
	while [ "$(passes)" -lt $wp_to ]; do
		wp_i=$((wp_i + 1))
		[ $wp_i -lt $(($2 * 10)) ] || return 1
		sleep 0.1
	done
}

# The share's test files f000, f001, ... (kernel-cull, kernel-recency).
# fname N: the path of file N; read_range FIRST LAST [pace]: read files
# FIRST..LAST on the mounted share, keeping each one's object name in
# /tmp/name.N; with pace, after each file wait for the kernel's cache
# writes (6.12+ write after the read returned) and, whenever free space is
# in the cull zone (< bcull 7%), until the culler has brought it back to
# brun 10% (bounded; counted in $waits)
fname() { echo "$M/f$(printf %03d "$1")"; }
waits=0
read_range() {
	i=$1
	while [ "$i" -le "$2" ]; do
		cat "$(fname $i)" > /dev/null || die "read $(fname $i)"
		objname "$(fname $i)" > /tmp/name.$i
		i=$((i + 1))
		[ "${3:-}" = pace ] || continue
		# the kernel writes the cache after the read returned (6.12+)
		kf_settle 60 || die "cache writes never ended: $(kf_cache_writes)"
		sync
		if [ "$(bfree_pct)" -lt 7 ]; then
			t=0
			while [ "$(bfree_pct)" -lt 10 ] && [ $t -lt 600 ]; do sleep 0.1; t=$((t + 1)); done
			[ $t -lt 600 ] || die "free space stuck at $(bfree_pct)% after $(fname $((i - 1)))"
			waits=$((waits + 1))
		fi
		kill -0 "$DPID" || die "larderd died"
	done
}

# replay_list POINTS SEED POINTSFILE: the entry numbers to replay (lwlog
# points' first column), sorted: all of them, or with POINTS > 0 and more
# points than that, a sample seeded with SEED that always has the last one
replay_list() {
	_rl_n=$(wc -l < "$3")
	if [ "$1" -gt 0 ] && [ "$_rl_n" -gt "$1" ]; then
		{ tail -1 "$3"; sed '$d' "$3" | awk -v s="$2" 'BEGIN {srand(s)} {print rand(), $1}' | sort -n | head -$(($1 - 1)) | cut -d' ' -f2; } | cut -d' ' -f1 | sort -n
	else
		cut -d' ' -f1 "$3"
	fi
}
