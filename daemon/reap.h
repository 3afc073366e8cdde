/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reap.h: the graveyard reaper (reap.c).
 *
 * Whatever is renamed into <rootfd>/graveyard/ is unlinked by one worker
 * thread, "larder-reap": plain files, symlinks (never followed) and whole
 * directories (a volume moved there), depth first. cull.c is the client:
 * its cull jobs rename victims there, and it counts their bytes as free
 * space "pending" until the reaper says they are unlinked.
 *
 * Names in graveyard/:
 *   - inotify tells the main thread each name that arrives by rename
 *     (IN_MOVED_TO); the next reap unlinks those names, no readdir. A name
 *     that starts with '.' is not taken: it is a cull job's directory
 *     (".c<pid>.<seq>") still being filled, published by renaming it to
 *     the name without the dot.
 *   - A full reap reads graveyard/ whole: at start (what a crash left),
 *     after an inotify overflow, and every time when there is no inotify.
 *     It leaves alone entries younger than REAP_MIN_AGE (and looks again
 *     a little later), and, while pass_running() says so, ".c*" entries.
 *
 * Threads: every function here and both callbacks run on the main thread.
 * The worker gets a job with the root fd and the names it owns from then
 * on; it never touches the state in reap.c.
 */
#ifndef LARDER_REAP_H
#define LARDER_REAP_H

#include <stdint.h>

/*
 * Start the reaper on rootfd (borrowed: the caller keeps it open until
 * reap_fini) and queue a full reap. Without inotify on graveyard/ it logs
 * a warning once and works anyway: each reap reads graveyard/ whole, and
 * whoever moves something there must reap_kick().
 *
 * reaped(objects, bytes, all) is called after every reap with what it
 * unlinked (bytes: st_blocks of what it removed, as space that comes
 * back). all: a full reap, and no kick came while it ran: nothing moved
 * into graveyard/ before it began is left but entries too young to take.
 * It is not called from reap_fini.
 *
 * pass_running() is asked as each reap job is made: 1 while cull jobs may
 * still rename into their ".c*" directories; that job leaves them alone.
 * Either callback may be NULL.
 *
 * Returns 0 or -errno (the worker thread could not be started).
 */
int reap_init(int rootfd,
    void (*reaped)(uint64_t objects, uint64_t bytes, int all),
    int (*pass_running)(void));
/* Let the reap in flight finish (without a reaped() call), stop the
 * worker, the inotify watch and the timer. Blocks: shutdown only. */
void reap_fini(void);

/* Reap what has arrived. Cheap: a no-op when inotify saw nothing new;
 * while a reap runs it only makes that one go again once it is done. */
void reap_kick(void);
/* 1 while a reap job is queued or running. */
int reap_busy(void);
/* 1 if inotify watches graveyard/; 0 if every reap reads it whole, and a
 * move into it is only reaped after a reap_kick(). */
int reap_watching(void);
/* The "reap.*" counters in their order (objects, bytes, errors), through
 * put (cull.c's stats provider uses it). */
void reap_stats(void (*put)(void *arg, const char *key, uint64_t v),
    void *arg);

#endif
