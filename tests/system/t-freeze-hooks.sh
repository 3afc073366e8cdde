#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-freeze-hooks.sh: contrib/fsfreeze-hook.d/larder (qemu-guest-agent
# hook) and contrib/snapshot-freeze.sh against a real larderd: the hook
# defers and thaws, exits non-zero when larder refuses and 0 when no
# larderd runs; snapshot-freeze.sh runs its command with the filesystem
# frozen and always thaws: after success, after a failing command, and
# when it is killed with SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mf-lib.sh"
need_root
need_cmd fsfreeze mkfs.ext4

hook=$LARDER_BUILD/contrib/fsfreeze-hook.d/larder
snap=$LARDER_BUILD/contrib/snapshot-freeze.sh
# the scripts call larderctl with our socket
mkdir -p "$T/bin"
printf '#!/bin/sh\nexec "%s" -s "%s" "$@"\n' "$LARDERCTL" "$SOCK" > "$T/bin/larderctl"
chmod +x "$T/bin/larderctl"
export LARDERCTL="$T/bin/larderctl"

mkfs_mnt ext4 320M; mnt=$MNT
conf_for "$mnt" "freeze defer"
start_larderd "$T/larder.conf"

sh "$hook" freeze || fail "hook freeze: exit $?"
[ "$(status_get freeze.state)" = deferred ] || fail "hook freeze did not defer"
fs_is_frozen "$mnt" && fail "the hook froze the filesystem (the agent does that)"
sh "$hook" thaw || fail "hook thaw: exit $?"
[ "$(status_get freeze.state)" = running ] || fail "hook thaw did not resume"
sh "$hook" bogus 2>/dev/null && fail "hook accepted a bad argument"
ok "fsfreeze hook: freeze and thaw"

# snapshot command that checks the freeze from inside
cat > "$T/check-frozen" <<EOT
#!/bin/sh
if fsfreeze -f "$mnt" 2>/dev/null; then fsfreeze -u "$mnt"; exit 9; fi
exit \${1:-0}
EOT
chmod +x "$T/check-frozen"
sh "$snap" -t 30 -- "$T/check-frozen" || fail "snapshot-freeze.sh: exit $? (9: not frozen)"
fs_takes_writes "$mnt" || fail "frozen after snapshot-freeze.sh"
[ "$(status_get freeze.state)" = running ] || fail "not running after snapshot-freeze.sh"
sh "$snap" -t 30 -- "$T/check-frozen" 3; rc=$?
[ $rc -eq 3 ] || fail "snapshot-freeze.sh did not pass on the command's status: $rc"
fs_takes_writes "$mnt" || fail "frozen after a failing snapshot command"
ok "snapshot-freeze.sh: frozen during the command, thawed after, status passed on"

sh "$snap" -t 30 -- sleep 30 &
sp=$!
i=0
until [ "$(status_get freeze.fs_frozen_by_larderd)" = yes ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "snapshot-freeze.sh never froze"
	sleep 0.1
done
kill -TERM $sp
wait $sp
fs_takes_writes "$mnt" || fail "frozen after snapshot-freeze.sh was killed"
grep -q "thawed: time limit of 30 s" "$DAEMON_LOG" && fail "thawed by the time limit, not by the trap"
[ "$(status_get freeze.state)" = running ] || fail "not running after the kill"
ok "snapshot-freeze.sh: thaws when killed"
stop_larderd

conf_for "$mnt" "freeze refuse"
start_larderd "$T/larder.conf"
sh "$hook" freeze 2>/dev/null; rc=$?
[ $rc -ne 0 ] || fail "hook freeze exited 0 although larder refused"
sh "$snap" -- true 2>/dev/null; rc=$?
[ $rc -eq 4 ] || fail "snapshot-freeze.sh under refuse: exit $rc, not 4"
stop_larderd
sh "$hook" freeze 2>/dev/null || fail "hook freeze without larderd: exit $?, not 0"
ok "refusal is an error; no larderd is not"
