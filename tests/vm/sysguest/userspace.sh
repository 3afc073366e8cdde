# SPDX-License-Identifier: GPL-2.0-or-later
# userspace.sh: full-system guest test of larder in userspace mode as a
# packaged service (sourced after common.sh; see t-sys-userspace.sh).
# The admin sets `backend userspace' in the shipped /etc/larder.conf and
# restarts the unit (no drop-in); then larderctl put/get and a liblarder
# program through the installed socket, culling on the small cache disk,
# no ENOSYS/EPERM in the journal, stop releases the claim.
CACHE=/var/cache/fscache
free_ge() { [ "$(free_pct)" -ge "$1" ]; }
status_has() { larderctl status 2>/dev/null | grep -qF -- "$1"; }
restarted_from() { [ "$(larderd_pid)" != "$1" ] && [ "$(larderd_pid)" != 0 ] && is_active; }
ctl_ok() { larderctl status >/dev/null 2>&1; }

dump_state() {
	say "---- larderctl status"; larderctl status 2>&1
	say "---- systemctl status larderd"; systemctl status --no-pager larderd.service 2>&1 | head -15
	say "---- journal of larderd (last 40)"; journal_larderd | tail -40
}

install_larder || { bad "install"; finish; }
# the admin's edit: backend userspace, however the shipped file says it
if grep -q '^backend ' /etc/larder.conf; then
	sed -i 's/^backend .*/backend userspace/' /etc/larder.conf
else
	echo 'backend userspace' >> /etc/larder.conf
fi
pid0=$(larderd_pid)
systemctl restart larderd.service
if wait_until 90 restarted_from "$pid0" && wait_until 60 ctl_ok; then
	ok "userspace: larderd active under the shipped unit after the restart, socket answers"
else
	bad "userspace: larderd not active (or its socket silent) 90 s after systemctl restart"
	dump_state
	finish
fi
if status_has kernel.state; then
	bad "userspace: larderctl status shows kernel mode with backend userspace"
fi
# the unit's Nice=-10 is the nice larder.conf asks by default: larderd
# runs its threads there and logs no "not applied" (its seccomp filter
# has no setpriority, so a mismatch would show as that line)
nice_of() { larderctl status | awk -v k="$1" '$1 == k { print $2 }'; }
if [ "$(nice_of nice.serving)" = -10 ] && [ "$(nice_of nice.started)" = -10 ] &&
   ! journal_larderd | grep -q 'not applied'; then
	ok "userspace: nice -10 from the unit, serving $(nice_of nice.serving), background $(nice_of nice.background), nothing refused"
else
	bad "userspace: nice: serving '$(nice_of nice.serving)', started '$(nice_of nice.started)', journal: $(journal_larderd | grep 'not applied')"
fi

# ---- larderctl put / get through the installed socket
head -c 300000 /dev/urandom > /tmp/obj
if larderctl put sys,vol obj1 /tmp/obj && larderctl get sys,vol obj1 > /tmp/obj.back &&
   cmp -s /tmp/obj /tmp/obj.back; then
	ok "userspace: larderctl put/get: 300000 bytes back right"
else
	bad "userspace: larderctl put/get"
fi
# an unprivileged user can not reach the 0660 root socket: it gets "no
# daemon"/refused, not a crash
if setpriv --reuid=65534 --regid=65534 --clear-groups larderctl get sys,vol obj1 > /dev/null 2>&1; then
	bad "userspace: nobody could read through the root-only socket"
else
	ok "userspace: the socket refuses nobody (exit $?)"
fi

# ---- a liblarder program (built on the host against the packaged library)
if out=$("$RUN/bin/lltest" k1 2>&1); then
	ok "userspace: liblarder program: $out"
else
	bad "userspace: liblarder program: $out"
fi

# ---- the object files are on disk, laid out like cachefiles
n=$(find "$CACHE/cache" -type f 2>/dev/null | wc -l)
if [ "$n" -ge 2 ]; then ok "userspace: $n object files under $CACHE/cache"; else bad "userspace: only $n object files under $CACHE/cache"; fi

# ---- culling on the small disk: put 1.5 times the disk in 2 MiB objects
bstop=$(sed -n 's/^bstop \([0-9]*\)%.*/\1/p' /etc/larder.conf)
bcull=$(sed -n 's/^bcull \([0-9]*\)%.*/\1/p' /etc/larder.conf)
: "${bstop:=1}" "${bcull:=5}"
size=$(( $(stat -f -c '%b * %S' "$CACHE") ))
obj=2097152
total=$(( size * 3 / 2 / obj + 1 ))
# one object in flight may take the disk that far below bstop
slack=$(( (obj * 100 + size - 1) / size ))
head -c $obj /dev/urandom > /tmp/big
say "cull: $total puts of 2 MiB into a cache disk of $((size >> 20)) MiB (bcull $bcull%, bstop $bstop%), free $(free_pct)%"
(
	m=100
	while :; do
		f=$(free_pct)
		[ "$f" -lt "$m" ] && { m=$f; echo "$m" > /run/cull.min; }
		sleep 0.2
	done
) 2>/dev/null &
sampler=$!
i=0 refused=0
while [ "$i" -lt "$total" ]; do
	larderctl put sys,cull "o$i" /tmp/big > /dev/null 2>&1 || refused=$((refused + 1))
	i=$((i + 1))
done
if wait_until 120 free_ge "$bcull"; then
	ok "cull: free space at or above bcull $bcull% after the puts ($(free_pct)%; $refused of $total puts refused)"
else
	bad "cull: free space $(free_pct)% below bcull $bcull% 120 s after the puts ($refused refused)"
	dump_state
fi
kill "$sampler"
min=$(cat /run/cull.min 2>/dev/null || echo 100)
if [ "$min" -ge $((bstop - slack)) ]; then
	ok "cull: free space never below bstop $bstop% less one object ($slack%): lowest $min%"
else
	bad "cull: free space fell to $min%, below bstop $bstop% less one object ($slack%)"
fi
if larderctl get sys,cull "o$((total - 1))" | cmp -s - /tmp/big; then
	ok "cull: the newest object is still cached and right"
else
	bad "cull: the newest object is gone or wrong"
fi
larderctl stats 2>&1 | grep -i cull | head -8

no_bad_errno "this boot"

# ---- remount,ro refused while running, works after stop
claim_held
systemctl stop larderd.service
claim_released
finish
