/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hist.c: latency histograms (see hist.h).
 *
 * Each histogram is an array of per-bucket counts (not cumulative, so an
 * observation is one add) and a sum in microseconds, all _Atomic and
 * updated with relaxed adds: recorders never wait for each other or for a
 * reader. A reader sums the buckets up into the cumulative form; it may
 * see an observation in its bucket and not yet in the sum (or the other
 * way round), which is off by one sample at most and fine for a metric.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "control.h"
#include "hist.h"

/* upper bounds in us: 50 us .. 60 s, then +Inf */
static const uint64_t bounds_us[] = {
	50, 100, 250, 500,
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
#define NB	(sizeof(bounds_us) / sizeof(bounds_us[0]))

static const char *const names[HIST_N] = {
	[HIST_ACQUIRE] = "acquire",
	[HIST_READ] = "read",
	[HIST_FILL] = "fill",
	[HIST_CULL_PASS] = "cull_pass",
};

static struct {
	_Atomic uint64_t b[NB + 1];	/* the last one: past every bound */
	_Atomic uint64_t sum_us;
} H[HIST_N];

uint64_t
hist_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
hist_observe(enum hist_id h, uint64_t ns)
{
	uint64_t us = ns / 1000;
	size_t lo = 0, hi = NB, mid;

	if ((unsigned)h >= HIST_N)
		return;
	/* the first bound >= us (NB: none) */
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (bounds_us[mid] < us)
			lo = mid + 1;
		else
			hi = mid;
	}
	atomic_fetch_add_explicit(&H[h].b[lo], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&H[h].sum_us, us, memory_order_relaxed);
}

void
hist_stats(struct ctl_kv *kv)
{
	char key[64];
	uint64_t cum;
	size_t i, j;

	for (i = 0; i < HIST_N; i++) {
		cum = 0;
		for (j = 0; j < NB; j++) {
			cum += atomic_load_explicit(&H[i].b[j],
			    memory_order_relaxed);
			snprintf(key, sizeof(key), "hist.%s.le_us.%llu",
			    names[i], (unsigned long long)bounds_us[j]);
			ctl_kv_u64(kv, key, cum);
		}
		cum += atomic_load_explicit(&H[i].b[NB], memory_order_relaxed);
		snprintf(key, sizeof(key), "hist.%s.le_us.inf", names[i]);
		ctl_kv_u64(kv, key, cum);
		snprintf(key, sizeof(key), "hist.%s.sum_us", names[i]);
		ctl_kv_u64(kv, key, atomic_load_explicit(&H[i].sum_us,
		    memory_order_relaxed));
	}
}

void
hist_reset(void)
{
	size_t i, j;

	for (i = 0; i < HIST_N; i++) {
		for (j = 0; j <= NB; j++)
			atomic_store(&H[i].b[j], 0);
		atomic_store(&H[i].sum_us, 0);
	}
}
