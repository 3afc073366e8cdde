/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * workq.h: worker threads fed from a queue, answering the main thread.
 *
 * The main thread submits a struct work (embedded in the caller's job
 * struct, carrying everything the job needs: fds, offsets, copies of
 * bytes). A worker thread calls run(); then the main thread, woken through
 * an eventfd watched by the loop, calls done(), which may free the job.
 * run() must not touch main-thread state; done() may.
 *
 * Locking: one mutex per queue guards its lists; it is never held during
 * run() or done(), never together with another lock, and never across I/O.
 */
#ifndef LARDER_WORKQ_H
#define LARDER_WORKQ_H

#include <stdint.h>

struct work {
	struct work *next;
	void (*run)(struct work *w);	/* worker thread */
	void (*done)(struct work *w);	/* main thread; may free w */
	uint64_t submitted_ms;		/* set by workq_submit */
	uint64_t started_ms;		/* set when a worker picks it up */
};

struct workq;

/* Start nthreads workers named name (for ps/top). Needs loop_init() first.
 * NULL and errno on failure. */
struct workq *workq_create(const char *name, unsigned nthreads);
/* The same, for work off every client's path (cull, scan, reaper,
 * names): its workers run at the background nice (prio.h). */
struct workq *workq_create_background(const char *name, unsigned nthreads);
/* Queue w (main thread only). */
void workq_submit(struct workq *q, struct work *w);
/* Work submitted whose done() has not run yet. */
unsigned workq_inflight(struct workq *q);
/* Age in ms of the oldest work not yet finished (0 if none): how long the
 * queue has been stuck, e.g. on a frozen filesystem. */
uint64_t workq_oldest_ms(struct workq *q);
/* Let the workers finish what is queued, run every done(), stop them and
 * free the queue. Blocks until the workers return (shutdown only). */
void workq_destroy(struct workq *q);

#endif
