/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_fill.c: fill an object through liblarder (larder_write, through
 * the shared-memory area) vs pwrite + fdatasync of a plain file of the
 * same size, in one run. Needs a running larderd.
 *
 *   bench_fill [SOCKET [SIZE_MIB]]     (SOCKET default: $LARDER_SOCKET)
 *
 * The plain file lives in a temporary directory under $LARDER_BENCH_DIR
 * (default /var/tmp); put it on the cache's filesystem for a fair figure.
 * Each side writes a new object/file; the larder object is retired after.
 * Prints MB/s of both and the ratio larder/plain (target >= 0.8).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "larder/larder.h"

#define CHUNK	(4u << 20)

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
	uint64_t size = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1024) << 20;
	const char *base = getenv("LARDER_BENCH_DIR");
	char dir[4096], path[4200], aux[64];
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t *buf = malloc(CHUNK);
	double t0, tl, tp;
	uint64_t off;
	size_t i;
	ssize_t n;
	int err, fd;

	if (buf == NULL || size == 0 || size % CHUNK)
		return 2;
	for (i = 0; i < CHUNK; i++)
		buf[i] = (uint8_t)(i * 13);
	snprintf(dir, sizeof(dir), "%s/bench_fill.XXXXXX",
	    base ? base : "/var/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("bench_fill: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/plain", dir);
	if ((err = larder_connect(sock, 0, &l)) < 0) {
		fprintf(stderr, "bench_fill: connect: %s\n", larder_strerror(err));
		rmdir(dir);
		return 77;
	}
	/* new aux each run: a fresh, empty object */
	snprintf(aux, sizeof(aux), "fill-%ld-%ld", (long)getpid(),
	    (long)time(NULL));
	if ((err = larder_volume_acquire(l, "bench,fill", NULL, 0, &v)) < 0 ||
	    (err = larder_cookie_acquire(v, "object", 6, aux, strlen(aux), size,
	    &c)) < 0) {
		fprintf(stderr, "bench_fill: acquire: %s\n", larder_strerror(err));
		return 1;
	}

	t0 = now();
	for (off = 0; off < size; off += CHUNK) {
		if ((n = larder_write(c, buf, CHUNK, off)) != CHUNK) {
			fprintf(stderr, "bench_fill: fill at %llu: %s\n",
			    (unsigned long long)off,
			    larder_strerror(n < 0 ? n : -ENOBUFS));
			return 77;
		}
	}
	tl = now() - t0;
	larder_cookie_relinquish(c, 1);

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0) {
		perror("bench_fill: plain file");
		return 1;
	}
	t0 = now();
	for (off = 0; off < size; off += CHUNK)
		if (pwrite(fd, buf, CHUNK, off) != CHUNK) {
			perror("bench_fill: pwrite");
			return 1;
		}
	if (fdatasync(fd) < 0) {
		perror("bench_fill: fdatasync");
		return 1;
	}
	tp = now() - t0;
	close(fd);
	unlink(path);
	rmdir(dir);

	printf("fill %llu MiB in %u MiB writes\n",
	    (unsigned long long)(size >> 20), CHUNK >> 20);
	printf("  larder_write          %8.1f MB/s\n", size / tl / 1e6);
	printf("  pwrite + fdatasync    %8.1f MB/s\n", size / tp / 1e6);
	printf("  ratio larder/plain %.3f (target >= 0.8)\n", tp / tl);
	larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	free(buf);
	return 0;
}
