/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_replay.c: hit ratios of the cull policies on synthetic traces,
 * computed by the daemon's own index (daemon/index.c): the same
 * index_add / index_hit / index_select_oldest / index_del calls that the
 * store and the culler make, with equal-sized objects (issue 12).
 *
 *   bench_replay [-n OBJECTS] [-r REQUESTS] [-s SEED]
 *
 * For each Zipf exponent (0.8, 0.9, 1.0) over OBJECTS objects (default
 * 1e5), each cache size (1%, 5%, 10% of OBJECTS) and each policy (lru,
 * s3), it replays REQUESTS requests (default 1e6; the first tenth warms
 * the cache and is not counted), twice: plain, and with a one-off scan of
 * 3 x the cache size in the middle (distinct objects never seen before
 * nor after, as a backup or a find | xargs cat reads them). A request is
 * a hit if the object is in the index (index_hit, as an acquire records
 * it), else a miss that puts it (index_add). When the cache holds more
 * than its size, the culler's step: index_select_oldest of a batch of
 * 1% of the cache size (at least 1), each of them index_del'd.
 *
 * Printed per case: the hit ratio of the Zipf requests (the scan's are
 * misses by construction and not counted), and for the scan traces the
 * hit ratio of the cache-size x 10 Zipf requests right after the scan
 * (how much of the hot set the scan cost). Same seed, same traces for
 * both policies. One RESULT line per case.
 *
 * Last, the index's memory per object with 1e6 objects of 9-byte cooked
 * names (as gen_tree + bench_scan measure it in README-cull.md, without
 * the tree): index_memory() / index_objects().
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/index.h"

static uint64_t rng;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* cumulative Zipf(a) over n ranks */
static double *
zipf_cdf(unsigned n, double a)
{
	double *c = malloc(n * sizeof(*c)), s = 0;
	unsigned i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		s += 1.0 / pow(i + 1, a);
		c[i] = s;
	}
	for (i = 0; i < n; i++)
		c[i] /= s;
	return c;
}

static unsigned
zipf_draw(const double *c, unsigned n)
{
	double u = (next() >> 11) * (1.0 / 9007199254740992.0);
	unsigned lo = 0, hi = n - 1, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (c[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct result {
	double hit;		/* Zipf requests after the warm-up */
	double after;		/* the window right after the scan */
};

/* Request object key; returns 1 on a hit. */
static int
request(int vol, unsigned key, size_t cap, uint32_t *sel, size_t batch)
{
	char name[16];
	uint32_t id;
	size_t k, i;

	snprintf(name, sizeof(name), "k%u", key);
	if ((id = index_find(vol, name)) != INDEX_NONE) {
		index_hit(id, index_now());
		return 1;
	}
	if (index_add(vol, 0, name, 4096, index_now()) == INDEX_NONE) {
		fprintf(stderr, "bench_replay: out of memory\n");
		exit(1);
	}
	if (index_objects() > cap) {
		k = index_select_oldest(sel, batch);
		for (i = 0; i < k; i++)
			index_del(sel[i]);
	}
	return 0;
}

static struct result
replay(const double *cdf, unsigned n, size_t cap, unsigned long reqs,
    int scan, enum index_policy pol, uint64_t seed)
{
	unsigned long r, warm = reqs / 10, hits = 0, counted = 0;
	unsigned long win = cap * 10, whits = 0, wcount = 0, s, after = 0;
	size_t batch = cap / 100 ? cap / 100 : 1;
	uint32_t *sel = malloc(batch * sizeof(*sel));
	struct result res = { 0, 0 };
	int vol, h;

	if (sel == NULL || index_init() < 0) {
		fprintf(stderr, "bench_replay: out of memory\n");
		exit(1);
	}
	index_set_policy(pol);
	vol = index_volume("bench,replay");
	rng = seed;
	for (r = 0; r < reqs; r++) {
		if (scan && r == reqs / 2) {
			for (s = 0; s < 3 * cap; s++)
				(void)request(vol, n + s, cap, sel, batch);
			after = win;
		}
		h = request(vol, zipf_draw(cdf, n), cap, sel, batch);
		if (r >= warm) {
			hits += h;
			counted++;
		}
		if (after) {
			whits += h;
			wcount++;
			after--;
		}
	}
	res.hit = counted ? (double)hits / counted : 0;
	res.after = wcount ? (double)whits / wcount : 0;
	index_fini();
	free(sel);
	return res;
}

/* index_memory per object at 1e6 objects named D + 8 hex digits */
static int
memory(void)
{
	char name[16];
	unsigned i;
	int vol;

	if (index_init() < 0 || (vol = index_volume("bench,memory")) < 0)
		return -1;
	for (i = 0; i < 1000000; i++) {
		snprintf(name, sizeof(name), "D%08x", i * 2654435761U);
		if (index_add(vol, i & 0xff, name, 4096, index_now()) ==
		    INDEX_NONE)
			return -1;
	}
	printf("index memory, 1e6 objects, 9-byte names: %zu bytes, %.1f "
	    "bytes/object (an entry is %zu bytes)\n", index_memory(),
	    (double)index_memory() / index_objects(), (size_t)24);
	printf("RESULT index_memory objects=%llu bytes_per_object=%.1f\n",
	    (unsigned long long)index_objects(),
	    (double)index_memory() / index_objects());
	index_fini();
	return 0;
}

int
main(int argc, char **argv)
{
	static const double alphas[] = { 0.8, 0.9, 1.0 };
	static const unsigned pcts[] = { 1, 5, 10 };
	unsigned n = 100000, ai, pi, scan;
	unsigned long reqs = 1000000;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct result lru, s3;
	double *cdf;
	size_t cap;
	int c;

	while ((c = getopt(argc, argv, "n:r:s:")) != -1) {
		switch (c) {
		case 'n': n = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': reqs = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0) | 1; break;
		default:
			fprintf(stderr, "usage: bench_replay [-n OBJECTS] "
			    "[-r REQUESTS] [-s SEED]\n");
			return 2;
		}
	}
	if (n < 100 || reqs < 1000) {
		fprintf(stderr, "bench_replay: at least 100 objects and 1000 "
		    "requests\n");
		return 2;
	}
	printf("%-5s %-6s %-5s  %-8s %-8s %-6s  %-14s %-14s\n", "zipf", "cache",
	    "scan", "lru", "s3", "s3-lru", "after scan lru", "after scan s3");
	for (ai = 0; ai < sizeof(alphas) / sizeof(alphas[0]); ai++) {
		if ((cdf = zipf_cdf(n, alphas[ai])) == NULL)
			return 1;
		for (pi = 0; pi < sizeof(pcts) / sizeof(pcts[0]); pi++) {
			cap = (size_t)n * pcts[pi] / 100;
			for (scan = 0; scan < 2; scan++) {
				lru = replay(cdf, n, cap, reqs, scan,
				    INDEX_POLICY_LRU, seed + ai * 7 + pi);
				s3 = replay(cdf, n, cap, reqs, scan,
				    INDEX_POLICY_S3, seed + ai * 7 + pi);
				printf("%-5.1f %4u%%  %-5s  %-8.4f %-8.4f "
				    "%+-6.4f", alphas[ai], pcts[pi],
				    scan ? "3x" : "none", lru.hit, s3.hit,
				    s3.hit - lru.hit);
				if (scan)
					printf("  %-14.4f %-14.4f", lru.after,
					    s3.after);
				printf("\n");
				printf("RESULT replay zipf=%.1f cache_pct=%u "
				    "scan=%s lru=%.4f s3=%.4f lru_after=%.4f "
				    "s3_after=%.4f\n", alphas[ai], pcts[pi],
				    scan ? "3x" : "none", lru.hit, s3.hit,
				    lru.after, s3.after);
				fflush(stdout);
			}
		}
		free(cdf);
	}
	return memory() < 0;
}
