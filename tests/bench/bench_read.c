/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_read.c: read a cached object through liblarder (larder_read) vs
 * pread(2) of the same file, in one run. Needs a running larderd; fills
 * the object first if it is not cached (and waits until that fill is
 * written back, so no writeback runs during a timed pass).
 *
 *   bench_read [SOCKET [SIZE_MIB [PASSES]]]   (SOCKET default: $LARDER_SOCKET)
 *
 * Both sides read the same bytes from the same open file (the object fd
 * the daemon passed to the client), SIZE_MIB MiB in 1 MiB calls, in
 * passes that alternate which side goes first. Two cache states:
 *
 *   warm  the object's pages are in the page cache (read once before).
 *         The two sides are interleaved call by call (each 1 MiB range
 *         is read by both, in alternating order, each call timed), so
 *         both see the same machine: on a loaded machine whole passes
 *         differ by more than the sides do. Each call is also timed in
 *         thread CPU time (warm reads never block, so on a quiet machine
 *         CPU time is wall time; on a loaded one it leaves out the time
 *         spent waiting for a CPU): printed as cpu_ratio;
 *   cold  each 32 MiB segment is read by both sides, each time from a
 *         cold page cache: before each side reads it, the segment's
 *         pages are dropped with posix_fadvise(POSIX_FADV_DONTNEED) on
 *         the object fd (clean pages only, and only this file: no global
 *         drop_caches). The sides alternate which goes first from one
 *         segment to the next, so both see the same disk and machine.
 *
 * Prints MB/s of both sides and the ratio larder/pread (target >= 0.95),
 * and one machine-readable line per state:
 *   RESULT read-warm ratio=R larder_mbs=L base_mbs=P [cpu_ratio=C]
 * Exit 77 when no daemon answers or the cache cannot take the fill.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "larder/larder.h"

#define CHUNK		(1u << 20)
#define SEG		(32u << 20)	/* cold: both sides read it in turn */
#define MAX_PASSES	64

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
pattern(uint8_t *p, size_t n, uint64_t off)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((off + i) * 131 >> 3);
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Time one side reading [start, end) from a cold page cache; -1 on a
 * failed or short read. */
static double
cold_seg(struct larder_cookie *c, int fd, uint8_t *buf, uint64_t start,
    uint64_t end, int lib)
{
	uint64_t off;
	double t0;

	if (posix_fadvise(fd, start, end - start, POSIX_FADV_DONTNEED) != 0)
		return -1;
	t0 = now();
	for (off = start; off < end; off += CHUNK)
		if ((lib ? larder_read(c, buf, CHUNK, off) :
		    pread(fd, buf, CHUNK, off)) != CHUNK)
			return -1;
	return now() - t0;
}

/* One cold pass, both sides reading each segment in turn; 0 or -1. */
static int
cold_pass(struct larder_cookie *c, int fd, uint8_t *buf, uint64_t size,
    int pass, double *tl, double *tp)
{
	uint64_t start, end;
	double t;
	int side, lib;

	*tl = *tp = 0;
	for (start = 0; start < size; start = end) {
		end = size - start > SEG ? start + SEG : size;
		for (side = 0; side < 2; side++) {
			lib = ((start / SEG) + pass + side) % 2 == 0;
			if ((t = cold_seg(c, fd, buf, start, end, lib)) < 0)
				return -1;
			*(lib ? tl : tp) += t;
		}
	}
	return 0;
}

/* One warm pass, both sides interleaved call by call; 0 or -1. */
static int
warm_pass(struct larder_cookie *c, int fd, uint8_t *buf, uint64_t size,
    int pass, double *tl, double *tp, double *cl, double *cp)
{
	uint64_t off;
	double t0, t1, t2, c0, c1, c2;
	int lib_first;

	*tl = *tp = *cl = *cp = 0;
	for (off = 0; off < size; off += CHUNK) {
		lib_first = ((off / CHUNK) + pass) % 2 == 0;
		c0 = cpu_now();
		t0 = now();
		if ((lib_first ? larder_read(c, buf, CHUNK, off) :
		    pread(fd, buf, CHUNK, off)) != CHUNK)
			return -1;
		t1 = now();
		c1 = cpu_now();
		if ((lib_first ? pread(fd, buf, CHUNK, off) :
		    larder_read(c, buf, CHUNK, off)) != CHUNK)
			return -1;
		t2 = now();
		c2 = cpu_now();
		*tl += lib_first ? t1 - t0 : t2 - t1;
		*tp += lib_first ? t2 - t1 : t1 - t0;
		*cl += lib_first ? c1 - c0 : c2 - c1;
		*cp += lib_first ? c2 - c1 : c1 - c0;
	}
	return 0;
}

/* Run passes of both sides in one cache state and print the figures. */
static int
run_state(struct larder_cookie *c, int fd, uint8_t *buf, uint64_t size,
    int passes, int cold)
{
	double tl[MAX_PASSES], tp[MAX_PASSES], r[MAX_PASSES], ml, mp;
	double cr[MAX_PASSES], cl, cp;
	const char *name = cold ? "cold" : "warm";
	int pass;

	for (pass = 0; pass < passes; pass++) {
		if (!cold) {
			if (warm_pass(c, fd, buf, size, pass, &tl[pass],
			    &tp[pass], &cl, &cp) < 0) {
				fprintf(stderr, "bench_read: warm pass failed\n");
				return -1;
			}
			r[pass] = tp[pass] / tl[pass];
			cr[pass] = cp / cl;
			continue;
		}
		if (cold_pass(c, fd, buf, size, pass, &tl[pass],
		    &tp[pass]) < 0) {
			fprintf(stderr, "bench_read: cold pass failed\n");
			return -1;
		}
		r[pass] = tp[pass] / tl[pass];
	}
	ml = median(tl, passes);
	mp = median(tp, passes);
	printf("read %llu MiB, %u KiB calls, page cache %s, %d passes "
	    "(medians)%s\n", (unsigned long long)(size >> 20), CHUNK >> 10,
	    name, passes, cold ? ", sides interleaved by 32 MiB segments" :
	    ", sides interleaved call by call");
	printf("  larder_read  %9.1f MB/s\n", size / ml / 1e6);
	printf("  pread        %9.1f MB/s\n", size / mp / 1e6);
	printf("  ratio larder/pread %.3f (median of per-pass ratios; "
	    "target >= 0.95)\n", median(r, passes));
	if (!cold)
		printf("  ratio in thread CPU time %.3f\n", median(cr, passes));
	printf("RESULT read-%s ratio=%.4f larder_mbs=%.1f base_mbs=%.1f",
	    name, median(r, passes), size / ml / 1e6, size / mp / 1e6);
	if (!cold)
		printf(" cpu_ratio=%.4f", median(cr, passes));
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	const char *sock = argc > 1 ? argv[1] : NULL;
	uint64_t size = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1024) << 20;
	int passes = argc > 3 ? atoi(argv[3]) : 6;
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t *buf = malloc(CHUNK);
	uint64_t off;
	ssize_t n;
	int err, fd, tries;

	if (buf == NULL || size == 0 || size % CHUNK || passes < 1 ||
	    passes > MAX_PASSES)
		return 2;
	if ((err = larder_connect(sock, 0, &l)) < 0) {
		fprintf(stderr, "bench_read: connect: %s\n", larder_strerror(err));
		return 77;
	}
	if ((err = larder_volume_acquire(l, "bench,read", NULL, 0, &v)) < 0 ||
	    (err = larder_cookie_acquire(v, "object", 6, "bench", 5, size,
	    &c)) < 0) {
		fprintf(stderr, "bench_read: acquire: %s\n", larder_strerror(err));
		return 1;
	}
	if (larder_is_cached(c, 0, size) != 1) {
		printf("bench_read: filling %llu MiB\n",
		    (unsigned long long)(size >> 20));
		for (off = 0; off < size; off += CHUNK) {
			pattern(buf, CHUNK, off);
			/* not timed: wait out an ENOBUFS (a slow disk that
			 * the daemon took for a frozen one) and retry */
			for (tries = 0; (n = larder_write(c, buf, CHUNK,
			    off)) == -ENOBUFS && tries < 600; tries++)
				usleep(100000);
			if (n != CHUNK) {
				fprintf(stderr, "bench_read: fill: %s\n",
				    larder_strerror(n < 0 ? n : -ENOBUFS));
				return 77;
			}
		}
		if (larder_is_cached(c, 0, size) != 1) {
			fprintf(stderr, "bench_read: not cached after fill\n");
			return 1;
		}
	}
	if ((fd = client_cookie_fd(c)) < 0) {
		fprintf(stderr, "bench_read: no object fd\n");
		return 1;
	}
	/* let writeback of a fresh fill finish (the benchmark, not the
	 * library, waits here): no timed pass pays for it, and clean pages
	 * are what POSIX_FADV_DONTNEED can drop */
	syncfs(fd);
	/* warm the page cache and check the bytes once */
	for (off = 0; off < size; off += CHUNK) {
		uint8_t want[64];

		if ((n = larder_read(c, buf, CHUNK, off)) != CHUNK) {
			fprintf(stderr, "bench_read: read: %s\n",
			    larder_strerror(n < 0 ? n : -EIO));
			return 1;
		}
		pattern(want, sizeof(want), off);
		if (memcmp(buf, want, sizeof(want)) != 0) {
			fprintf(stderr, "bench_read: wrong bytes at %llu\n",
			    (unsigned long long)off);
			return 1;
		}
	}
	if (run_state(c, fd, buf, size, passes, 0) < 0 ||
	    run_state(c, fd, buf, size, passes, 1) < 0)
		return 1;
	larder_cookie_relinquish(c, 0);
	larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	free(buf);
	return 0;
}
