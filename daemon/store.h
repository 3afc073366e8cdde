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

/* rootfd: the cache dir on the private mount (mount_root_fd()). Makes
 * cache/ and graveyard/ if needed, registers the 200s handlers. */
int store_init(const struct conf *c, int rootfd);
void store_fini(void);		/* flushes the meta queue, writes atimes back */

/*
 * Quiesce for freeze or suspend: stop starting writes (the caller has
 * already made freeze_writes_ok() return 0), wait for the writes in flight,
 * flush the meta queue (every pending xattr, map, link and atime record),
 * then syncfs. With STORE_QUIESCE_CLOSE (suspend) also close every write
 * fd the store holds. Calls done(arg, err) on the main thread when finished.
 * Never blocks the main thread.
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
