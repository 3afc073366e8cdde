/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cull.h: space watch, thresholds and culling (cull.c). The rename
 * backend that moves victims into graveyard/ is bury.c (bury.h); the
 * reaper that unlinks what it moved there is reap.c (reap.h).
 *
 * cachefilesd's semantics: below bcull or fcull free, start culling; keep
 * culling until both brun and frun are met; below bstop or fstop refuse new
 * objects and fills (ENOBUFS) until culling frees space. max_size and
 * max_files cap the cache itself. nocull and -N disable culling.
 */
#ifndef LARDER_CULL_H
#define LARDER_CULL_H

#include <stdint.h>

struct conf;

/*
 * The cull backend: how victims are removed. A pass hands them over in
 * batches (jobs of up to a few hundred victims); each batch runs on one of
 * cull.c's worker threads, and the backend owns the batch (and nothing
 * else that another worker can see) until it returns.
 *
 *   CULL_RENAME_TO_GRAVEYARD  userspace mode, the culler's own backend
 *                             (bury.h): rename each victim into
 *                             graveyard/, where the reaper (reap.h)
 *                             unlinks it; its bytes count as free space
 *                             pending until then.
 *   CULL_KERNEL               the callback removes each victim itself
 *                             (kernel mode: `inuse NAME`, `cull NAME` on
 *                             /dev/cachefiles after fchdir); nothing goes
 *                             through graveyard/.
 *
 * cull_batch(v, n, arg) is called with n >= 1 victims and sets v[i].res
 * for each: 0 (culled), -EBUSY (in use: skip), -ENOENT/-ESTALE (already
 * gone), CULL_USED_SINCE, or another -errno. v[i].last_use is the index's
 * last use of the object (ns since the epoch); a backend that can see a
 * newer use (kernel mode: the atime, which the kernel moves) leaves the
 * object alone, sets v[i].last_use to that use and answers
 * CULL_USED_SINCE: the index learns it, and the object is culled in its
 * turn, not before (the index only ever has a lower bound of the kernel's
 * last use, so checking each victim keeps the order exact). The strings
 * are valid until the callback returns.
 */
#define CULL_USED_SINCE	1

enum cull_backend {
	CULL_RENAME_TO_GRAVEYARD,
	CULL_KERNEL,
};

struct cull_victim {
	const char *volume_key;	/* cache/I<volume_key>/@<fanout>/<name> */
	const char *name;
	uint16_t vol;		/* the index's volume id (a key for caches) */
	uint8_t fanout;
	int64_t last_use;	/* in: the index's; out: see CULL_USED_SINCE */
	uint64_t bytes;		/* in: the index's (its blocks on disk) */
	int res;		/* out */
	int unlinked;		/* out, bury.c: unlinked in place (its space
				   is free now), not renamed into graveyard/ */
};

struct cull_ops {
	enum cull_backend kind;
	/* CULL_KERNEL only (CULL_RENAME_TO_GRAVEYARD is bury.c's) */
	void (*cull_batch)(struct cull_victim *v, unsigned n, void *arg);
	void *arg;
	int serial;	/* 1: one batch at a time */
};

/* Start watching (timers on the main loop, cull workers) and the reaper
 * (reap_init). rootfd: the cache dir on the private mount. ops NULL (or
 * kind CULL_RENAME_TO_GRAVEYARD, with no cull_batch): rename into
 * <rootfd>/graveyard/ (never following a symlink). The reaper empties
 * graveyard/ at once (what a crash left) and after every pass. Returns 0,
 * -EINVAL (a CULL_KERNEL ops without cull_batch, or a rename ops with
 * one) or another -errno. */
int cull_init(const struct conf *c, int rootfd, int nocull,
    const struct cull_ops *ops);
void cull_fini(void);
/*
 * Tell fn(arg, id) about each object the culler removed, on the main
 * thread, just before index_del(id) (index_vol/index_name still work).
 * The store must close every fd it keeps on that object there: an unlinked
 * file that is still open frees no space, and the culler would go on
 * culling for space that never comes back. (As a safety net, a culling
 * episode whose reaped bytes do not come back as free space is suspended
 * with a warning.)
 */
void cull_on_culled(void (*fn)(void *arg, uint32_t id), void *arg);
/* Tell fn(arg, id) about each object the culler picks, on the main thread,
 * before it is marked INDEX_CULLING and handed to a job (the store bumps
 * the generations of the clients that park it, first). */
void cull_on_victim(void (*fn)(void *arg, uint32_t id), void *arg);
/* A new config (thresholds, caps, nocull) */
void cull_reconfigure(const struct conf *c);

/* 0 while below bstop/fstop or over a cap: fills answer ENOBUFS. The
 * culler says so through the write gate (gate.h): it closes GATE_FULL
 * then, and this is gate_ok(GATE_FULL). Culling itself never waits on the
 * gate. */
int cull_can_allocate(void);
/* The cache grew (or the kernel says so): re-check soon (cheap: coalesced
 * into one statfs per 100 ms). */
void cull_kick(void);
/*
 * Kernel mode: the kernel released objects/bytes (its freleased and
 * breleased). Userspace mode needs no call: index_unpin counts releases.
 * Releases are what ends a suspension (resume_thresholds): when a pass
 * finds nothing it may cull (all pinned or in use), passes stop until
 * resume_files objects or resume_blocks blocks were released, or the
 * filesystem gained that many free files/blocks; with both '-', until the
 * first release or any free space gained. It also ends when the index
 * holds more unpinned objects than at suspension (a scan or rescan found
 * them). A manual cull always tries.
 */
void cull_released(uint64_t objects, uint64_t bytes);
/* larderctl cull: mode/value as in proto.h; done(arg, objects, bytes,
 * err) is called on the main thread when the pass ends. */
int cull_request(uint32_t mode, uint64_t value,
    void (*done)(void *arg, uint64_t objects, uint64_t bytes, int err),
    void *arg);

#endif
