/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * limit.h: what one peer uid may hold (limit.c), so that no user can
 * take the daemon for itself: connections, cookies, volume handles and
 * the bytes of the objects it holds (a held object is never culled), plus
 * the connection slots kept for admins, the idle timeout, the listener's
 * back-off at the fd limit, and a thread that closes fds the main thread
 * must not close itself. Main thread only, but limit_close_fd's thread.
 *
 * Admins (root, admin_group) are exempt from the per-uid limits: the
 * caller says whether a peer counts (limited) when it takes something,
 * and gives the same flag back when it lets go, so a reload that changes
 * admin_group never unbalances the counts.
 */
#ifndef LARDER_LIMIT_H
#define LARDER_LIMIT_H

#include <stdint.h>
#include <sys/types.h>

struct conf;

/* Take the limits of c; the percentage of uid_max_pinned is of the
 * filesystem of fsfd (-1: no percentage limit). At start and reload. */
void limit_configure(const struct conf *c, int fsfd);
/* Register the stats (limits.*). Once, after control_open. */
void limit_init(void);
/* Let the closer thread finish (shutdown). */
void limit_fini(void);

/* A new connection of uid; total is the number connected before it, max
 * the number of slots. 0 (counted), or -EUSERS (past the per-uid limit)
 * or -EMFILE (only admin slots left); admins only get -EMFILE when every
 * slot is taken. */
int limit_conn_add(uid_t uid, int admin, unsigned total, unsigned max);
void limit_conn_del(uid_t uid, int admin);

/* A cookie of bytes (the object's size) or a volume handle for uid:
 * 0 (counted) or -ECANCELED (a limit says no; refused by policy). */
int limit_cookie_add(uid_t uid, int limited, uint64_t bytes);
void limit_cookie_del(uid_t uid, int limited, uint64_t bytes);
int limit_volume_add(uid_t uid, int limited);
void limit_volume_del(uid_t uid, int limited);

/* uid makes a volume's directories (257 of them, until the volume is
 * dropped): 0 (counted) or -ECANCELED past uid_max_volumes volumes made
 * and still there (counted since the start). */
int limit_volume_create(uid_t uid, int limited);
/* a volume uid made is gone (retired or dropped) */
void limit_volume_gone(uid_t uid);

/* idle_timeout in ms (0: never) */
uint64_t limit_idle_ms(void);
void limit_idle_closed(void);

/* accept4 failed with err: how long to stop polling the listener (ms:
 * 100, doubling to 2000 while failures go on), 0 when err is not about
 * a lack of fds or memory. Logs once per run of failures (a run ends
 * after 10 s without one). */
uint64_t limit_accept_failed(int err);
/* a connection was accepted again after a back-off */
void limit_accept_ok(void);

/* Close fd on the closer thread: a passed fd may be on a filesystem
 * whose close waits (a FUSE file's FLUSH that never answers). */
void limit_close_fd(int fd);

#endif
