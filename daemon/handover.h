/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * handover.h: restarts that keep the cache (handover.c).
 *
 * A larderd that stops to be replaced hands its live fds to its successor,
 * which adopts them instead of making new ones:
 *   "control"     the listening control socket: clients that reconnect
 *                 meet the successor, connects made meanwhile wait in its
 *                 backlog;
 *   "claim"       the write claim (mount.h): the O_RDWR, flock()ed
 *                 larder.lock, opened on the private clone; it pins that
 *                 mount and its writer count, so `mount -o remount,ro' of
 *                 the backing filesystem keeps failing throughout;
 *   "tree"        userspace mode: the open_tree fd of the private detached
 *                 clone itself (a successor whose capabilities were
 *                 dropped could not make a new one);
 *   "cachefiles"  kernel mode: the bound /dev/cachefiles: while any fd of
 *                 it is open the kernel keeps the cache bound and serving.
 *
 * Two ways across:
 *   - systemd (LARDER_FDSTORE=1 in the environment, as the shipped unit
 *     sets, or $FDSTORE > 0 from systemd 254 on): at stop the fds go to
 *     the service's fd store (sd_notify FDSTORE=1 + FDNAME=, SCM_RIGHTS,
 *     then a BARRIER=1 so they are in before larderd exits); the next
 *     start gets them in LISTEN_FDS/LISTEN_FDNAMES and at once asks
 *     systemd to drop its copies (FDSTOREREMOVE=1), so that a later
 *     suspend, freeze withdraw or plain stop gives them back for real.
 *   - re-exec (SIGUSR2, or `larderd -R'): larderd stops as for SIGTERM,
 *     clears close-on-exec on those fds and execs its own path again
 *     (the binary installed there now) with LARDER_FDS=name=N:name=N.
 *
 * Every fd that comes in is hostile until checked: each adopter checks
 * its own (type, identity, state) and a rejected or unknown fd is closed
 * with a log line; larderd then makes a new one as at a cold start.
 */
#ifndef LARDER_HANDOVER_H
#define LARDER_HANDOVER_H

#define HANDOVER_ENV	"LARDER_FDS"

#define HO_CONTROL	"control"
#define HO_CLAIM	"claim"
#define HO_TREE		"tree"
#define HO_CACHEFILES	"cachefiles"

/* At start, before anything opens an fd: take what the predecessor left
 * (LISTEN_FDS for our pid, else LARDER_FDS) and clear those variables.
 * Returns how many fds came in. */
int handover_collect(void);
/* Where they came from: "systemd", "re-exec" or NULL. */
const char *handover_source(void);
/* The fd handed over under name (and no longer ours to track), or -1. */
int handover_take(const char *name);
/* An adopter did not take the fd of name after all (it closed it). */
void handover_rejected(const char *name);
/* After the adopters ran: close what nobody took (logged), tell systemd
 * to drop its copies, log what was adopted. */
void handover_finish(void);

/* Whether a stop hands over to systemd's fd store (see above). */
int handover_fdstore_wanted(void);
/* At a stop that hands over, before the handover_give()s: to systemd's
 * fd store (1), or kept for the re-exec (0; also under systemd, which
 * then keeps the same main pid). */
void handover_begin(int to_systemd);
/* Give fd under name at stop (see handover_begin); -1 does nothing. */
void handover_give(const char *name, int fd);
/* After handover_give()s to systemd: wait (bounded) until systemd has
 * processed them. 0, or -errno (then they may be lost). */
int handover_systemd_barrier(void);
/* Re-exec path (absolute) with argv and LARDER_FDS for the given fds;
 * returns only on failure (-errno). */
int handover_exec(const char *path, char **argv);

/* sd_notify with an optional fd (SCM_RIGHTS); 0 or -errno. */
int handover_notify(const char *msg, int fd);

#endif
