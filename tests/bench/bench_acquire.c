/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_acquire.c: acquire + read 4 KiB + relinquish of a cached small
 * object through liblarder vs open + pread + close of a plain file with
 * the same bytes, in one run. Needs a running larderd.
 *
 *   bench_acquire [SOCKET [ROUNDS]]    (SOCKET default: $LARDER_SOCKET)
 *
 * The plain file lives in a temporary directory under $LARDER_BENCH_DIR
 * (default /var/tmp); put it on the cache's filesystem for a fair figure.
 * Prints microseconds per round and the ratio larder/plain (aim <= 3).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "larder/larder.h"

#define SMALL	4096
#define BLOCK	1000

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *sock = argc > 1 ? argv[1] : NULL;
	long rounds = argc > 2 ? atol(argv[2]) : 20000;
	const char *base = getenv("LARDER_BENCH_DIR");
	char dir[4096], path[4200];
	uint8_t data[SMALL], buf[SMALL];
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	double t0, t, tl = 0, tp = 0, bl = 0, bp = 0;
	long i;
	ssize_t n;
	int err, fd, side;
	long blk;

	if (rounds < BLOCK)
		return 2;
	for (i = 0; i < SMALL; i++)
		data[i] = (uint8_t)(i * 7);
	snprintf(dir, sizeof(dir), "%s/bench_acquire.XXXXXX",
	    base ? base : "/var/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("bench_acquire: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/small", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    write(fd, data, SMALL) != SMALL || fsync(fd) < 0) {
		perror("bench_acquire: plain file");
		return 1;
	}
	close(fd);

	if ((err = larder_connect(sock, 0, &l)) < 0) {
		fprintf(stderr, "bench_acquire: connect: %s\n",
		    larder_strerror(err));
		unlink(path);
		rmdir(dir);
		return 77;
	}
	if ((err = larder_volume_acquire(l, "bench,acquire", NULL, 0, &v)) < 0 ||
	    (err = larder_cookie_acquire(v, "small", 5, "a", 1, SMALL, &c)) < 0) {
		fprintf(stderr, "bench_acquire: acquire: %s\n",
		    larder_strerror(err));
		return 1;
	}
	if (larder_is_cached(c, 0, SMALL) != 1 &&
	    (n = larder_write(c, data, SMALL, 0)) != SMALL) {
		fprintf(stderr, "bench_acquire: fill: %s\n",
		    larder_strerror(n < 0 ? n : -ENOBUFS));
		return 77;
	}
	larder_cookie_relinquish(c, 0);

	/* blocks of BLOCK rounds, alternating which side runs first; keep
	 * the sums and the best block of each */
	for (blk = 0; blk < rounds / BLOCK; blk++) {
		for (side = 0; side < 2; side++) {
			int lib = (blk + side) % 2 == 0;

			t0 = now();
			for (i = 0; i < BLOCK; i++) {
				if (lib) {
					err = larder_cookie_acquire(v, "small", 5,
					    "a", 1, SMALL, &c);
					n = err < 0 ? err :
					    larder_read(c, buf, SMALL, 0);
					if (n != SMALL) {
						fprintf(stderr, "bench_acquire: "
						    "%s\n", larder_strerror(n < 0 ?
						    n : -EIO));
						return 1;
					}
					larder_cookie_relinquish(c, 0);
				} else {
					if ((fd = open(path, O_RDONLY |
					    O_CLOEXEC)) < 0 ||
					    pread(fd, buf, SMALL, 0) != SMALL)
						return 1;
					close(fd);
				}
			}
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
	rounds = rounds / BLOCK * BLOCK;
	printf("acquire + read 4 KiB + relinquish, %ld rounds\n", rounds);
	printf("  liblarder            %8.2f us/round (best block %.2f)\n",
	    tl / rounds * 1e6, bl / BLOCK * 1e6);
	printf("  open + pread + close %8.2f us/round (best block %.2f)\n",
	    tp / rounds * 1e6, bp / BLOCK * 1e6);
	printf("  ratio larder/plain %.2f, best blocks %.2f (aim <= 3)\n",
	    tl / tp, bl / bp);
	larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	unlink(path);
	rmdir(dir);
	return 0;
}
