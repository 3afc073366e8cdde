/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.h: the on-disk cache: volumes, objects, fills, invalidation
 * (store.c, store_ops.c, store_fill.c; store_int.h between them), with
 * meta.c (coherency thread) and io.c (fills via liburing).
 *
 * Only the functions other modules call are listed here; the cache
 * operations of the protocol are registered with control.c by store_init.
 */
#ifndef LARDER_STORE_H
#define LARDER_STORE_H

#include <stdint.h>

struct conf;

/*
 * meta.c publishes a new object by linking its tmpfile as
 * <dir>/larder.new/STORE_LINK_PREFIX<pid>.<n> and renaming that over the
 * final name at once; store_init empties larder.new/ at start (what a crash
 * left there was never published). Nothing is staged in graveyard/, so
 * the reaper never sees these names.
 */
#define STORE_LINK_PREFIX	"Lnew."

/* rootfd: the cache dir on the private mount (mount_root_fd()). Makes
 * cache/ and graveyard/ if needed, registers the 200s handlers. Starts
 * only the store: main.c's list starts index and io before it, meta
 * (store_dirs) and the startup scan (store_scan_done) after it. */
int store_init(const struct conf *c, int rootfd);
/* Flushes the meta queue, writes atimes back; stops scan, meta, io and the
 * index itself, in the order its drain needs (their own fini are then
 * no-ops). */
void store_fini(void);
/* cache/ and larder.new/, open from store_init to store_fini: meta_init's
 * cachefd and stagefd. */
void store_dirs(int *cachefd, int *stagefd);
/* scan_start's done() for the startup scan: logs what it found and kicks
 * the culler. Main thread. */
void store_scan_done(void *arg, int err);

/*
 * Quiesce (store_quiesce.c), for a freeze or a suspend (through the
 * freeze backend store_init registers) and for main.c's stop: close the
 * write gate's GATE_QUIESCE (no new write starts), wait for the writes in
 * flight, flush the meta queue (every pending xattr, map, link and atime
 * record), then syncfs. With STORE_QUIESCE_CLOSE (suspend) also close
 * every write fd the store holds. Calls done(arg, err) on the main thread
 * when finished (-EBUSY at once if a quiesce runs). The gate stays closed
 * until store_unquiesce. Never blocks the main thread.
 */
#define STORE_QUIESCE_CLOSE	0x0001
void store_quiesce(unsigned flags, void (*done)(void *arg, int err),
    void *arg);
/* Writing may start again (after thaw or resume; reopens write fds lazily). */
void store_unquiesce(void);

/* Age in ms of the oldest write or meta record in flight (0 if none): a
 * large value means the filesystem is frozen under us. */
uint64_t store_oldest_write_ms(void);

/* The config's volume_access (enum conf_access), at start and on reload. */
void store_set_access(int dflt);

/* larderctl invalidate VOLUME [KEY]: drop an object or a whole volume. */
int store_drop(const char *volume_key, const uint8_t *key, size_t key_len);

#endif
