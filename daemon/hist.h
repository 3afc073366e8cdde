/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hist.h: latency histograms (hist.c) for the metrics: how long larderd
 * took to answer a cookie acquire, a cookie refresh (the daemon's part of
 * a read: clients read the object's fd themselves) and a fill (from the
 * request to its answer, the write included), and how long each cull
 * pass took.
 *
 * Recording is one relaxed atomic add on a bucket and one on the sum: no
 * lock, callable from any thread. The buckets (seconds) are fixed and the
 * same for every histogram; STATS carries them as
 *   hist.<name>.le_us.<bound>   u64, observations <= bound us (cumulative)
 *   hist.<name>.le_us.inf       u64, all observations
 *   hist.<name>.sum_us          u64, sum of the observations in us
 * which metrics.c turns into Prometheus histograms
 * (larder_<name>_duration_seconds_bucket/_sum/_count).
 */
#ifndef LARDER_HIST_H
#define LARDER_HIST_H

#include <stdint.h>

enum hist_id {
	HIST_ACQUIRE = 0,	/* cookie acquire */
	HIST_READ,		/* cookie refresh */
	HIST_FILL,		/* write (fill) */
	HIST_CULL_PASS,		/* one cull pass */
	HIST_N
};

/* Count one observation of ns nanoseconds. Any thread. */
void hist_observe(enum hist_id h, uint64_t ns);
/* Monotonic now in ns, for callers that time something. */
uint64_t hist_now_ns(void);

struct ctl_kv;
/* The STATS records of every histogram (a control.h stats provider). */
void hist_stats(struct ctl_kv *kv);
/* Zero everything (tests). */
void hist_reset(void);

#endif
