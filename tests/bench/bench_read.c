/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_read.c: read a cached object through liblarder vs pread(2) of the
 * same file (the object fd the daemon passed), in one run. Needs a running
 * larderd; fills the object first if it is not cached.
 *
 *   bench_read [SOCKET [SIZE_MIB]]     (SOCKET default: $LARDER_SOCKET)
 *
 * Prints MB/s of both and the ratio larder/pread (target >= 0.95). Exit 77
 * when no daemon answers or the cache cannot take the fill.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "larder/larder.h"

#define CHUNK	(1u << 20)
#define PASSES	8

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

int
main(int argc, char **argv)
{
	const char *sock = argc > 1 ? argv[1] : NULL;
	uint64_t size = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1024) << 20;
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t *buf = malloc(CHUNK);
	double t0, t, tl = 0, tp = 0, bl = 0, bp = 0;
	uint64_t off;
	ssize_t n;
	int err, pass, side, fd;

	if (buf == NULL || size == 0)
		return 1;
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
			if ((n = larder_write(c, buf, CHUNK, off)) != CHUNK) {
				fprintf(stderr, "bench_read: fill: %s\n",
				    larder_strerror(n < 0 ? n : -ENOBUFS));
				return 77;
			}
		}
	}
	/* after a fresh fill, let writeback finish so that it does not
	 * disturb the first timed pass (syncfs on the object's own fd:
	 * the benchmark, not the library, waits here) */
	if ((fd = client_cookie_fd(c)) >= 0)
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
	if ((fd = client_cookie_fd(c)) < 0) {
		fprintf(stderr, "bench_read: no object fd\n");
		return 1;
	}
	/* alternate which side runs first; keep the sums and the best pass
	 * of each (the best is what the machine's noise disturbs least) */
	for (pass = 0; pass < PASSES; pass++) {
		for (side = 0; side < 2; side++) {
			int lib = (pass + side) % 2 == 0;

			t0 = now();
			for (off = 0; off < size; off += CHUNK)
				if ((lib ? larder_read(c, buf, CHUNK, off) :
				    pread(fd, buf, CHUNK, off)) != CHUNK)
					return 1;
			t = now() - t0;
			if (lib) {
				tl += t;
				bl = bl == 0 || t < bl ? t : bl;
			} else {
				tp += t;
				bp = bp == 0 || t < bp ? t : bp;
			}
		}
	}
	printf("read %llu MiB x %d, %u KiB chunks, page cache warm\n",
	    (unsigned long long)(size >> 20), PASSES, CHUNK >> 10);
	printf("  larder_read  %8.1f MB/s (best pass %8.1f)\n",
	    PASSES * size / tl / 1e6, size / bl / 1e6);
	printf("  pread        %8.1f MB/s (best pass %8.1f)\n",
	    PASSES * size / tp / 1e6, size / bp / 1e6);
	printf("  ratio larder/pread %.3f, best passes %.3f (target >= 0.95)\n",
	    tp / tl, bp / bl);
	larder_cookie_relinquish(c, 0);
	larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	free(buf);
	return 0;
}
