/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bury.h: the culler's rename backend (bury.c), CULL_RENAME_TO_GRAVEYARD
 * in cull.h: a batch of victims is renamed into graveyard/, where the
 * reaper (reap.h) unlinks it. (cachefiles calls moving an object into its
 * graveyard "burying" it.)
 *
 * Threads: bury_batch runs on a cull worker with one struct bury_job,
 * which the main thread filled in and does not touch until the batch is
 * back; the cache it points to is lent to that job alone (bury_cache_lend
 * on the main thread when the job is submitted, bury_cache_return when
 * its result is). Every other function here is for the main thread. No
 * worker sees another's state: nothing is shared outside the work queue's
 * lock.
 */
#ifndef LARDER_BURY_H
#define LARDER_BURY_H

#include <stddef.h>
#include <stdint.h>

#include "cull.h"

/*
 * Fan-out directory fds (slot vol * 256 + fanout) that a job keeps open
 * while it renames, up to maxopen, so that a directory is not opened again
 * for every victim in it. The culler keeps a few (one per job in flight)
 * for a pass and closes them when the pass ends, so a volume dropped
 * meanwhile is not reused.
 */
struct bury_cache {
	int *fds;
	size_t nslots;
	unsigned nopen, maxopen;
	int lent;			/* to a job in flight */
};

/* What one batch needs besides its victims. */
struct bury_job {
	int rootfd;			/* the cache dir (cache/I.../@xx) */
	int gravefd;			/* its graveyard/ */
	unsigned long seq;		/* names the job's graveyard entries */
	struct bury_cache *cache;	/* lent; NULL: open per victim */
};

/* Make n caches empty; they share fds_max fds (bury_fds_max()). */
void bury_caches_init(struct bury_cache *c, unsigned n, unsigned fds_max);
/* A quarter of the fd limit, at most 4096: what a pass may keep open. */
unsigned bury_fds_max(void);
/* Give each of the n caches nslots slots (none lent). A cache that cannot
 * grow keeps its size: its jobs open the rest per victim. */
void bury_caches_size(struct bury_cache *c, unsigned n, size_t nslots);
/* Close what the n caches hold (none lent). */
void bury_caches_close(struct bury_cache *c, unsigned n);
/* bury_caches_close, and free the slots. */
void bury_caches_free(struct bury_cache *c, unsigned n);
/* One of the n caches that no job holds, now lent; NULL if all are. */
struct bury_cache *bury_cache_lend(struct bury_cache *c, unsigned n);
/* A job's result is back: its cache (may be NULL) is free again. */
void bury_cache_return(struct bury_cache *c);

/*
 * Worker: rename the n victims into graveyard/ (each v[i].res as cull.h
 * says: 0, -ESTALE when it or its fan-out directory is gone, another
 * -errno), inside a directory of the job's own that the reaper gets whole
 * at the end. Never follows a symlink out of the cache.
 */
void bury_batch(struct cull_victim *v, unsigned n, const struct bury_job *bj);

#endif
