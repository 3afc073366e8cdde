/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_meta_sync.c: what the meta thread's durability barrier costs, to
 * choose between one fdatasync per file and one syncfs per batch
 * (SYNCFS_MIN_FILES in daemon/meta.c).
 *
 *   bench_meta_sync DIR [KIB]
 *
 * For N = 1, 2, 4 ... 64 files in DIR, each with KIB KiB (default 64)
 * freshly written: the time of N fdatasync calls and of one syncfs,
 * median of 5 runs, and their ratio (syncfs / fdatasync: below 1, syncfs
 * is cheaper).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUNS	5
#define MAXF	64

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
dirty(int *fds, int n, const char *buf, size_t len, int round)
{
	int i;

	for (i = 0; i < n; i++)
		if (pwrite(fds[i], buf, len, (off_t)round * len) != (ssize_t)len)
			perror("pwrite");
}

int
main(int argc, char **argv)
{
	double fd_ms[RUNS], fs_ms[RUNS], t;
	int fds[MAXF], n, i, r, round = 0;
	size_t len;
	char path[4096], *buf;

	if (argc < 2) {
		printf("usage: bench_meta_sync DIR [KIB]: give a directory on "
		    "the filesystem to measure\n");
		return 0;
	}
	len = (argc > 2 ? strtoul(argv[2], NULL, 10) : 64) * 1024;
	buf = malloc(len);
	if (!buf)
		return 1;
	memset(buf, 0x5a, len);
	for (i = 0; i < MAXF; i++) {
		snprintf(path, sizeof(path), "%s/bench-sync.%d", argv[1], i);
		fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fds[i] < 0) {
			perror(path);
			return 1;
		}
	}
	syncfs(fds[0]);
	printf("%6s %14s %10s %8s\n", "files", "fdatasync ms", "syncfs ms",
	    "ratio");
	for (n = 1; n <= MAXF; n *= 2) {
		for (r = 0; r < RUNS; r++) {
			dirty(fds, n, buf, len, round++);
			t = now_ms();
			for (i = 0; i < n; i++)
				fdatasync(fds[i]);
			fd_ms[r] = now_ms() - t;
			dirty(fds, n, buf, len, round++);
			t = now_ms();
			syncfs(fds[0]);
			fs_ms[r] = now_ms() - t;
		}
		qsort(fd_ms, RUNS, sizeof(double), cmp);
		qsort(fs_ms, RUNS, sizeof(double), cmp);
		printf("%6d %14.2f %10.2f %8.2f\n", n, fd_ms[RUNS / 2],
		    fs_ms[RUNS / 2], fs_ms[RUNS / 2] / fd_ms[RUNS / 2]);
	}
	for (i = 0; i < MAXF; i++) {
		snprintf(path, sizeof(path), "%s/bench-sync.%d", argv[1], i);
		close(fds[i]);
		unlink(path);
	}
	free(buf);
	return 0;
}
