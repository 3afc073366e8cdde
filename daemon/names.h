/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * names.h: finding the names of nameless index entries (index.h,
 * index_add_ino) again, by reading their fan-out directories on a worker
 * thread, never on the main thread (names.c).
 *
 * A name is taken only when both the directory entry's inode (low 32
 * bits) and its name's hash match what the index kept
 * (index_resolve_dir): a hash collision or a file replaced under the same
 * name (another inode) never gives another object's name. An entry whose
 * file is gone from its directory is dropped from the index.
 *
 * Two users: the culler (cull.c) resolves its victims on its own workers
 * with names_resolve_in; the listing (store_ops.c, LIST_OBJECTS) asks
 * names_resolve to name a page's entries before it answers.
 */
#ifndef LARDER_NAMES_H
#define LARDER_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "index.h"

/* the most ids one names_resolve call takes */
#define NAMES_MAX	256

/*
 * Any thread (a worker: it reads a whole directory): resolve the wants
 * w[0..n) (index_resolve_dir) in <fd>/<prefix>I<vkey>/@<fanout> (fd: the
 * cache dir with prefix "cache/", or cache/ itself with prefix ""; never
 * following a symlink). Returns how many were found, -ESTALE if that
 * directory is gone, or another -errno if it could not be read (some may
 * have been found).
 */
ssize_t names_resolve_in(int fd, const char *prefix, const char *vkey,
    uint8_t fanout, struct index_want *w, size_t n);

/*
 * Main thread: find the names of the nameless entries among ids[0..n)
 * (cachefd: the cache/ directory)
 * (n <= NAMES_MAX; named ones are skipped) on the names worker, one read
 * per fan-out directory. Back on the main thread, each entry still the
 * same (volume, hash and inode) is named (index_add with its name), each
 * whose file is gone from a directory read whole is dropped (index_del),
 * unless it is pinned or being culled; then done(arg) runs. 0 (done will
 * run), or -errno (it will not).
 */
int names_resolve(int cachefd, const uint32_t *ids, size_t n,
    void (*done)(void *arg), void *arg);

/* Stop the names worker (waits for the job in flight: shutdown only). */
void names_fini(void);

#endif
