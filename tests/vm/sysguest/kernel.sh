# SPDX-License-Identifier: GPL-2.0-or-later
# kernel.sh: full-system guest test of larder in kernel mode as packaged
# (sourced after common.sh by guest.sh; see tests/vm/t-sys-kernel.sh).
# The shipped unit and the shipped /etc/larder.conf, no drop-in.
#
# Boot 1: install; bound; NFS 4.2 fsc and 9p cache=fscache second reads
#         from the cache; remount,ro refused; reload; restart with an NFS
#         reader running (the fd store keeps the cache bound); watchdog
#         (SIGSTOP); a freeze through the host's qemu-guest-agent with
#         readers of the NFS mount; files cached for the reboot; exit 100.
# Boot 2: bound at boot; the first reads after boot come from the cache;
#         culling on the small cache disk keeps free space; no ENOSYS or
#         EPERM in the journal; stop releases the claim (remount,ro).
CACHE=/var/cache/fscache
NFS=/mnt/nfs
P9=/mnt/9p

# free blocks in percent as the kernel and larder count them: available
# blocks over all blocks (statvfs f_bavail / f_blocks)
bound() { is_active && cache_active; }
free_ge() { [ "$(free_pct)" -ge "$1" ]; }
status_has() { larderctl status 2>/dev/null | grep -qF -- "$1"; }
restarted_from() { [ "$(larderd_pid)" != "$1" ] && [ "$(larderd_pid)" != 0 ] && is_active; }
count() { cat /run/reader.count 2>/dev/null || echo 0; }
count_ge() { [ "$(count)" -ge "$1" ]; }

nfs_mount() {
	mkdir -p "$NFS"
	wait_until 60 mount -t nfs4 -o fsc,vers=4.2 127.0.0.1:/ "$NFS"
}
nfs_remount() {
	umount "$NFS" || return 1
	echo 3 > /proc/sys/vm/drop_caches
	nfs_mount
}
# sums DIR GLOB: "cksum name" lines of the files
sums() { (cd "$1" && for f in $2; do echo "$(cksum < "$f") $f"; done); }

# second_read NAME DIR GLOB REMOUNT-FN: read, remount, read again: the
# second pass must be served by the cache and give the same bytes as the
# server's files (SRCSUMS)
second_read() {
	local name=$1 dir=$2 glob=$3 remount=$4 srcsums=$5 r0 r1 s1 s2
	s1=$(sums "$dir" "$glob")
	[ "$s1" = "$srcsums" ] || { bad "$name: first read: bytes differ from the server's"; return 1; }
	$remount || { bad "$name: remount failed"; return 1; }
	r0=$(io_rd)
	s2=$(sums "$dir" "$glob")
	r1=$(io_rd)
	[ "$s2" = "$srcsums" ] || { bad "$name: second read: bytes differ from the server's"; return 1; }
	if [ "$r1" -gt "$r0" ]; then
		ok "$name: second read from the cache (fscache IO rd $r0 -> $r1), bytes right"
	else
		bad "$name: second read not from the cache (fscache IO rd $r0 -> $r1)"
		grep -E '^(IO|Cookies|Acquire|Relinqs) ' /proc/fs/fscache/stats
		return 1
	fi
}

# mkfiles PREFIX COUNT KB: files in the NFS export
mkfiles() {
	local i=0
	while [ "$i" -lt "$2" ]; do
		head -c "$(( $3 * 1024 ))" /dev/urandom > "/srv/export/$1$(printf %03d "$i")"
		i=$((i + 1))
	done
}


dump_state() {
	say "---- larderctl status"; larderctl status 2>&1
	say "---- systemctl status larderd"; systemctl status --no-pager larderd.service 2>&1 | head -15
	say "---- journal of larderd (last 40)"; journal_larderd | tail -40
	say "---- /proc/fs/fscache/caches"; cat /proc/fs/fscache/caches
}

boot1() {
	install_larder || { bad "install"; dump_state; finish; }
	if [ -n "${LARDER_SYS_BACKEND:-}" ]; then
		say "NOTE: LARDER_SYS_BACKEND=$LARDER_SYS_BACKEND: /etc/larder.conf edited, not the shipped one"
		sed -i '/^backend /d' /etc/larder.conf
		echo "backend $LARDER_SYS_BACKEND" >> /etc/larder.conf
		bad "not the shipped config (LARDER_SYS_BACKEND set): this run cannot pass"
		systemctl restart larderd.service
	fi
	if wait_until 90 bound; then
		ok "larderd active under the shipped unit and config, cache bound ($(larderctl status | grep -m1 'kernel.state' | tr -s ' '))"
		n=$(systemctl show -P NRestarts larderd.service)
		[ "$n" = 0 ] || [ -n "${LARDER_SYS_BACKEND:-}" ] ||
			bad "larderd bound only after $n restart(s) of the unit"
	else
		bad "larderd not active and bound 90 s after the install"
		dump_state
		finish
	fi
	grep -Eq '^(backend|#backend)' /etc/larder.conf && say "shipped config: $(grep -E '^backend' /etc/larder.conf || echo 'backend not set')"
	if [ "${LARDER_SYS_NOHOOK:-0}" = 1 ]; then
		# for working on the tests: the freeze check alone, without
		# larder's hook, to see what the readers do then
		bad "LARDER_SYS_NOHOOK=1: freeze check only, without larder's hook: this run cannot pass"
		exportfs -ra
		freeze_test
		finish
	fi

	# ---- NFS 4.2 fsc over loopback
	mkfiles n 8 512
	srcn=$(sums /srv/export 'n*')
	exportfs -ra
	if nfs_mount; then
		second_read "NFS 4.2 fsc" "$NFS" 'n*' nfs_remount "$srcn"
	else
		bad "cannot mount NFS 4.2 with fsc from 127.0.0.1"
	fi

	# ---- 9p cache=fscache (the host's data share)
	p9_mount() { mkdir -p "$P9"; mount -t 9p -o trans=virtio,version=9p2000.L,cache=fscache data "$P9"; }
	p9_remount() { umount "$P9" && echo 3 > /proc/sys/vm/drop_caches && p9_mount; }
	if p9_mount; then
		second_read "9p cache=fscache" "$P9" 'f*' p9_remount "$(cat "$RUN/data.sums")"
		umount "$P9"
	else
		bad "cannot mount 9p with cache=fscache"
	fi

	# ---- the claim: remount,ro of the cache fs refused while larderd runs
	claim_held

	# ---- reload applies a changed threshold
	sed -i -e 's/^brun .*/brun 20%/' -e 's/^bcull .*/bcull 15%/' -e 's/^bstop .*/bstop 5%/' /etc/larder.conf
	grep -q '^bcull 15%' /etc/larder.conf || printf 'brun 20%%\nbcull 15%%\nbstop 5%%\n' >> /etc/larder.conf
	systemctl reload larderd.service
	if wait_until 20 status_has 'bcull 15%'; then
		ok "systemctl reload: bcull 15% in larderctl status"
	else
		bad "systemctl reload: bcull 15% not in larderctl status"
		larderctl status | grep -i cull
	fi

	# ---- restart keeps the cache (fd store): an NFS reader of cached
	# files runs through it
	restart_keeps_cache

	# ---- restart comes back bound and caching
	umount "$NFS"
	if is_active && bound; then
		mkfiles r 4 512
		srcr=$(sums /srv/export 'r*')
		echo 3 > /proc/sys/vm/drop_caches
		if nfs_mount; then
			second_read "after systemctl restart: NFS" "$NFS" 'r*' nfs_remount "$srcr"
			umount "$NFS"
		else
			bad "NFS mount after restart"
		fi
	else
		bad "after systemctl restart: not active and bound"
		dump_state
	fi

	# ---- the watchdog: a stopped larderd is restarted by systemd
	pid0=$(larderd_pid) n0=$(systemctl show -P NRestarts larderd.service)
	kill -STOP "$pid0"
	if wait_until 150 restarted_from "$pid0" && wait_until 60 bound; then
		ok "watchdog: SIGSTOPped larderd ($pid0) replaced by $(larderd_pid), restarts $n0 -> $(systemctl show -P NRestarts larderd.service)"
		journal_larderd | grep -i -m1 watchdog
	else
		bad "watchdog: SIGSTOPped larderd not restarted in 150 s"
		kill -CONT "$pid0" 2>/dev/null
		dump_state
	fi

	freeze_test

	# ---- for the reboot: files cached now
	mkfiles p 6 512
	sums /srv/export 'p*' > "$STATE/p.sums"
	echo 3 > /proc/sys/vm/drop_caches
	if nfs_mount; then
		second_read "before reboot: NFS" "$NFS" 'p*' nfs_remount "$(cat "$STATE/p.sums")"
		umount "$NFS"
	fi
	echo "$nbad" > "$STATE/nbad"
	set_phase 2
	say "rebooting"
	exit 100
}

# dmesg lines of CacheFiles binding or withdrawing a cache
registrations() { dmesg | grep -c 'CacheFiles: File cache on .* registered'; }
withdrawals() { dmesg | grep -c 'CacheFiles: File cache on .* unregistering'; }
rcount() { cat /run/rr.count 2>/dev/null || echo 0; }
rcount_ge() { [ "$(rcount)" -ge "$1" ]; }

# systemctl restart with an NFS reader looping over the cached n* files
# (each pass drops the page cache, so every pass reads through fscache):
# the new larderd adopts the bound /dev/cachefiles from the fd store, the
# kernel never withdraws the cache (no unregistering, no new registration
# in dmesg, a cache active in /proc/fs/fscache/caches at every sample)
# and the reader's reads keep coming from the cache (IO rd grows)
restart_keeps_cache() {
	local pid0 reader sampler t0 reg0 unreg0 r0 r1 c1 j
	mountpoint -q "$NFS" || nfs_mount || { bad "restart: NFS mount"; return; }
	rm -f /run/rr.count /run/rr.gone
	(
		n=0
		while :; do
			for f in "$NFS"/n*; do cat "$f" > /dev/null || exit 1; done
			echo 1 > /proc/sys/vm/drop_caches
			n=$((n + 1)); echo "$n" > /run/rr.tmp; mv /run/rr.tmp /run/rr.count
		done
	) &
	reader=$!
	( while :; do cache_active || echo gone >> /run/rr.gone; sleep 0.1; done ) &
	sampler=$!
	if ! wait_until 60 rcount_ge 1; then
		bad "restart: the NFS reader does not read"
		kill "$reader" "$sampler"; return
	fi
	reg0=$(registrations) unreg0=$(withdrawals) r0=$(io_rd) pid0=$(larderd_pid)
	t0=$(date +%s%N)
	systemctl restart larderd.service
	if wait_until 90 restarted_from "$pid0" && wait_until 90 bound; then
		say "restart: larderd $pid0 -> $(larderd_pid), active in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	else
		bad "restart: not active and bound again in 90 s"
		dump_state
	fi
	c1=$(rcount)
	wait_until 60 rcount_ge $((c1 + 2)) ||
		bad "restart: the NFS reader stopped ($c1 -> $(rcount) passes)"
	kill "$reader" "$sampler" 2>/dev/null
	wait "$reader" "$sampler" 2>/dev/null
	r1=$(io_rd)
	if [ "$(withdrawals)" = "$unreg0" ] && [ "$(registrations)" = "$reg0" ] &&
	    [ ! -s /run/rr.gone ]; then
		ok "restart: the kernel never saw the cache go away (no unregistering or new registration in dmesg, cache active in every sample)"
	else
		bad "restart: cache withdrawn: unregistering $unreg0 -> $(withdrawals), registered $reg0 -> $(registrations), $(wc -l < /run/rr.gone 2>/dev/null || echo 0) samples without an active cache"
		dmesg | grep CacheFiles | tail -5
	fi
	if [ "$r1" -gt "$r0" ]; then
		ok "restart: the reader's objects kept being read from the cache (IO rd $r0 -> $r1, $(rcount) passes)"
	else
		bad "restart: no reads from the cache across the restart (IO rd $r0 -> $r1)"
	fi
	j=$(journal_larderd | grep 'handover: adopted from systemd' | tail -1)
	case $j in
	*cachefiles*claim*|*claim*cachefiles*)
		case $j in *control*) ok "restart: the new larderd adopted its fds: ${j#*larderd*: }" ;;
		*) bad "restart: control socket not adopted: $j" ;; esac ;;
	*) bad "restart: the new larderd did not adopt the cache: '$j'"
		journal_larderd | grep -i -e handover -e adopt | tail -8 ;;
	esac
	journal_larderd | grep -q 'kernel: adopted the bound cache' ||
		bad "restart: no 'kernel: adopted the bound cache' in the journal"
	# how the handover went, with the journal's monotonic times
	journal_larderd | grep -e 'stopping' -e 'handover' -e 'adopted' \
	    -e 'Stopped\|Started\|Starting' | tail -12 |
		while IFS= read -r l; do say "  $l"; done
	claim_held
}

freeze_test() {
	local c0 c1 c2 r q hook=/etc/qemu/fsfreeze-hook.d/larder
	# the admin's step: the packaged hook linked into the agent's hook dir
	local src
	src=$(ls /usr/share/larder/fsfreeze-hook.d/larder 2>/dev/null)
	if [ "${LARDER_SYS_NOHOOK:-0}" = 1 ]; then
		rm -f "$hook"
	elif [ -z "$src" ]; then
		bad "freeze: no /usr/share/larder/fsfreeze-hook.d/larder in the package"
	else
		ln -sf "$src" "$hook"
	fi
	if ! wait_until 60 systemctl -q is-active qemu-guest-agent.service; then
		bad "freeze: qemu-guest-agent not active"
		systemctl status --no-pager qemu-guest-agent.service | head
		return
	fi
	# 200 small files: the reader's first pass over them runs into the
	# freeze, so reads while frozen are misses whose data the kernel would
	# like to write to the (frozen) cache
	mkfiles z 200 64
	nfs_mount || { bad "freeze: NFS mount"; return; }
	# the reader: reads every z file, drops the page cache, again; counts
	# files read in /run (tmpfs: not frozen)
	(
		n=0
		while :; do
			for f in "$NFS"/z*; do
				cat "$f" > /dev/null || exit 1
				n=$((n + 1))
				echo "$n" > /run/reader.count
			done
			echo 1 > /proc/sys/vm/drop_caches
		done
	) &
	reader=$!
	if ! wait_until 60 count_ge 20; then
		bad "freeze: the reader does not read ($(count) files in 60 s) before any freeze"
		kill "$reader"; umount "$NFS"; return
	fi
	w0=$(io_wr)
	r=$(host_qga '{"execute":"guest-fsfreeze-freeze"}')
	q=$(host_qga '{"execute":"guest-fsfreeze-status"}')
	case $r in
	*'"return"'*) ok "freeze: guest-fsfreeze-freeze through qemu-guest-agent: $r; status $q" ;;
	*) bad "freeze: guest-fsfreeze-freeze failed: $r" ;;
	esac
	c1=$(count)
	# readers never block: 40 more files (first reads) while frozen
	if wait_until 60 count_ge $((c1 + 40)); then
		ok "freeze: the NFS reader went on while frozen ($c1 -> $(count) files)"
	else
		bad "freeze: the NFS reader blocked while frozen ($c1 -> $(count) files in 60 s)"
		ps -eo pid,stat,wchan:32,cmd | awk '$2 ~ /D/'
	fi
	larderctl status 2>&1 | grep -i freeze
	r=$(host_qga '{"execute":"guest-fsfreeze-thaw"}')
	case $r in
	*'"return"'*) ok "freeze: guest-fsfreeze-thaw: $r" ;;
	*) bad "freeze: guest-fsfreeze-thaw failed: $r" ;;
	esac
	c2=$(count)
	wait_until 60 count_ge $((c2 + 40)) ||
		bad "freeze: the reader stopped after the thaw"
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
	say "hook log: $(tail -4 /var/log/qga-fsfreeze-hook.log 2>/dev/null | tr '\n' '|')"
	# caching resumes after the thaw: new files, second read from the cache
	umount "$NFS"
	mkfiles t 4 512
	echo 3 > /proc/sys/vm/drop_caches
	if nfs_mount; then
		second_read "freeze: after the thaw" "$NFS" 't*' nfs_remount "$(sums /srv/export 't*')"
		umount "$NFS"
	fi
}

boot2() {
	nbad=$(cat "$STATE/nbad" 2>/dev/null || echo 0)
	say "second boot (after reboot); $nbad failure(s) carried over"
	if wait_until 90 bound; then
		n=$(systemctl show -P NRestarts larderd.service)
		if [ "$n" = 0 ]; then
			ok "after reboot: larderd started at boot and bound on its first start"
		else
			bad "after reboot: larderd bound only after $n restart(s)"
			journal_larderd | head -20
		fi
	else
		bad "after reboot: larderd not active and bound"
		dump_state
		finish
	fi
	# first reads after boot come from the cache
	if nfs_mount; then
		r0=$(io_rd)
		s=$(sums "$NFS" 'p*')
		r1=$(io_rd)
		[ "$s" = "$(cat "$STATE/p.sums")" ] || bad "after reboot: bytes differ"
		if [ "$r1" -gt "$r0" ]; then
			ok "after reboot: first reads from the cache (IO rd $r0 -> $r1), bytes right"
		else
			bad "after reboot: first reads not from the cache (IO rd $r0 -> $r1)"
		fi
	else
		bad "after reboot: NFS mount"
	fi

	cull_test
	no_bad_errno "both boots' larderd; this boot's journal"

	# ---- stop releases the claim
	umount "$NFS" 2>/dev/null
	systemctl stop larderd.service
	claim_released
	finish
}

cull_test() {
	local blocks size total i min bstop bcull slack
	bstop=$(sed -n 's/^bstop \([0-9]*\)%.*/\1/p' /etc/larder.conf)
	bcull=$(sed -n 's/^bcull \([0-9]*\)%.*/\1/p' /etc/larder.conf)
	size=$(( $(stat -f -c '%b * %S' "$CACHE") ))
	# 1.5 times the cache disk, in 4 MiB files (the same random 4 MiB, a
	# different file each time: the cache keys by file)
	total=$(( size * 3 / 2 / 4194304 + 1 ))
	head -c 4194304 /dev/urandom > /srv/export/.c
	i=0
	while [ "$i" -lt "$total" ]; do cp /srv/export/.c "/srv/export/c$(printf %03d "$i")"; i=$((i + 1)); done
	rm /srv/export/.c
	say "cull: reading $total x 4 MiB through NFS into a cache disk of $((size >> 20)) MiB (bcull $bcull%, bstop $bstop%), free now $(free_pct)%"
	(
		m=100
		while :; do
			f=$(free_pct)
			[ "$f" -lt "$m" ] && { m=$f; echo "$m" > /run/cull.min; }
			sleep 0.2
		done
	) 2>/dev/null &
	sampler=$!
	for f in "$NFS"/c*; do cat "$f" > /dev/null; done
	umount "$NFS"
	sync
	if wait_until 120 free_ge "$bcull"; then
		ok "cull: free space back at or above bcull $bcull% ($(free_pct)%)"
	else
		bad "cull: free space $(free_pct)% below bcull $bcull% 120 s after the reads"
		dump_state
	fi
	kill "$sampler"
	min=$(cat /run/cull.min 2>/dev/null || echo 100)
	# The kernel checks bstop before it writes, so the writes it already
	# admitted can take the disk below it: one 4 MiB object is 7% of this
	# disk (seen on 6.1 in a CI rehearsal: lowest 4% with bstop 5%)
	slack=$(( (4194304 * 100 + size - 1) / size ))
	if [ "$min" -ge $((bstop - slack)) ]; then
		ok "cull: free space never below bstop $bstop% less one object ($slack%): lowest $min%"
	else
		bad "cull: free space fell to $min%, below bstop $bstop% less one object ($slack%)"
	fi
	larderctl stats 2>&1 | grep -i -E 'cull' | head -8
	nfs_mount
}

case $(phase) in
1) boot1 ;;
2) boot2 ;;
*) bad "unknown phase $(phase)"; finish ;;
esac
