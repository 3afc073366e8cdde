/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_index_mem.c: the index's memory per object (index_memory() /
 * index_objects()) for names of 9, 16 and 34 bytes, named (index_add, what
 * the daemon does) and nameless (index_add_ino, issue 15).
 *
 *   bench_index_mem [N]          (default 1000000 objects)
 *
 * No disk, no daemon: N objects of one volume added in one go, names
 * unique in their first 9 bytes ("E" + 8 hex digits + random hex, cut to
 * the length), last uses in random order within 30 days, as the scan adds
 * them. Prints one line per case and a
 * RESULT line. Also the time per add and that of index_select_oldest of a
 * tenth of the objects, what a cull of 10% starts with (CPU, informative),
 * and of the same selection in slices of INDEX_SELECT_SLICE entries, as
 * the culler makes it between loop turns: its total and its longest step
 * (index_select_end's sort included), the longest the main thread is
 * kept from its clients.
 * Built with -DNAMED_ONLY it uses only index_add, so it also builds
 * against an index.c from before index_add_ino (for before/after figures).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/index.h"

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A last use in random order, as the scan's atimes come: within 30 days. */
static int64_t
use(uint64_t r)
{
	return (int64_t)((r >> 8) % (30ULL * 86400 * 1000000000)) + 1;
}

#ifndef NAMED_ONLY
/* The selection of n in slices: total and longest step, CPU seconds. */
static void
sliced(uint32_t *sel, size_t n)
{
	struct index_sel *s = index_select_begin(n);
	double t0, t, total = 0, longest = 0;
	int done = 0;
	size_t k;

	if (s == NULL)
		exit(1);
	while (!done) {
		t0 = cpu_now();
		done = index_select_step(s, INDEX_SELECT_SLICE);
		t = cpu_now() - t0;
		total += t;
		longest = t > longest ? t : longest;
	}
	t0 = cpu_now();
	k = index_select_end(s, sel);
	t = cpu_now() - t0;
	index_select_free(s);
	if (k != n)
		exit(1);
	printf("  in slices of %u: %.2f s in all, longest step %.1f ms, "
	    "the end (sort) %.1f ms\n", INDEX_SELECT_SLICE, total + t,
	    longest * 1e3, t * 1e3);
	printf("RESULT index_select_sliced n=%zu total_s=%.3f longest_step_ms="
	    "%.1f end_ms=%.1f\n", n, total + t, longest * 1e3, t * 1e3);
}
#endif

/* Fill a fresh index with n objects of len-byte names; bytes/object. */
static double
fill(uint32_t n, unsigned len, int nameless, double *ns_per_add,
    double *select_s)
{
	uint32_t *sel;
	uint64_t r = 88172645463325252ULL;
	char name[64];
	double t0;
	uint32_t i;
	int v;

	index_fini();
	if (index_init() < 0 || (v = index_volume("nfs,fsid")) < 0)
		exit(1);
	t0 = cpu_now();
	for (i = 0; i < n; i++) {
		r ^= r >> 12;
		r ^= r << 25;
		r ^= r >> 27;
		snprintf(name, sizeof(name), "E%08x%016llx%016llx",
		    i * 0x9e3779b1U, (unsigned long long)r,
		    (unsigned long long)(r * 2685821657736338717ULL));
		name[len] = '\0';
#ifdef NAMED_ONLY
		(void)nameless;
		if (index_add(v, i & 0xff, name, 4096, use(r)) ==
		    INDEX_NONE) {
#else
		if ((nameless ? index_add_ino(v, i & 0xff, name, i, 4096,
		    use(r)) : index_add(v, i & 0xff, name, 4096, use(r))) ==
		    INDEX_NONE) {
#endif
			fprintf(stderr, "index_add: out of memory\n");
			exit(1);
		}
	}
	*ns_per_add = (cpu_now() - t0) * 1e9 / n;
	if ((sel = malloc((n / 10 + 1) * sizeof(*sel))) == NULL)
		exit(1);
	t0 = cpu_now();
	if (index_select_oldest(sel, n / 10) != n / 10)
		exit(1);
	*select_s = cpu_now() - t0;
#ifndef NAMED_ONLY
	sliced(sel, n / 10);
#endif
	free(sel);
	if (index_objects() != n) {
		fprintf(stderr, "%llu objects, not %u\n",
		    (unsigned long long)index_objects(), n);
		exit(1);
	}
	return (double)index_memory() / index_objects();
}

int
main(int argc, char **argv)
{
	static const unsigned lens[] = { 9, 16, 34 };
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
	double per, ns, sel;
	unsigned k;
	int nameless;

	if (n < 1) {
		fprintf(stderr, "usage: bench_index_mem [N]\n");
		return 2;
	}
#ifdef NAMED_ONLY
	for (nameless = 0; nameless < 1; nameless++)
#else
	for (nameless = 0; nameless < 2; nameless++)
#endif
		for (k = 0; k < 3; k++) {
			per = fill(n, lens[k], nameless, &ns, &sel);
			printf("%u objects, %2u-byte names, %-8s: %.1f "
			    "bytes/object (CPU: %.0f ns per add, %.2f s to "
			    "select 10%%)\n", n, lens[k],
			    nameless ? "nameless" : "named", per, ns, sel);
			printf("RESULT index_mem objects=%u name=%u mode=%s "
			    "bytes_per_object=%.1f\n", n, lens[k],
			    nameless ? "nameless" : "named", per);
		}
	index_fini();
	return 0;
}
