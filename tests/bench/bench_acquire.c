/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_acquire.c: acquire + read 4 KiB + relinquish of a cached small
 * object through liblarder vs open + pread + close of the same file, in
 * one run. Needs a running larderd.
 *
 *   bench_acquire [SOCKET [ROUNDS]]    (SOCKET default: $LARDER_SOCKET)
 *
 * The baseline opens the object's own file in the cache by path, the way
 * a program that knew the path would: set $LARDER_CACHE_DIR to the
 * daemon's `dir` (run-bench.sh does) and the file is found there by its
 * inode under cache/Ibench,acquire/@xx/. Without it, a plain file with the
 * same bytes is made in a temporary directory under $LARDER_BENCH_DIR
 * (default /var/tmp); put that on the cache's filesystem.
 *
 * Cache state: warm on both sides. The object is cached and was acquired
 * once before timing (the daemon keeps it in memory, idle, without fds);
 * its page and the dentries of its path are in the page cache.
 *
 * Also timed, to explain the ratio: a PING round trip to the daemon, and
 * acquire + relinquish without the read.
 *
 * Wall time per round is latency: on a loaded machine every round trip
 * waits for a CPU twice (client to daemon and back), so it is also given
 * as CPU time per round, the client's (CLOCK_PROCESS_CPUTIME_ID) plus the
 * daemon's (every thread's run time from /proc/PID/task/ * /schedstat, with
 * PID from $LARDER_PID; run-bench.sh sets it). CPU time is what a loaded
 * machine does not disturb much.
 *
 * Prints microseconds per round and the ratio larder/plain (aim <= 3),
 * and one machine-readable line:
 *   RESULT acquire ratio=R larder_us=L base_us=P ping_us=Q noread_us=A
 *          cpu_ratio=C larder_cpu_us=LC base_cpu_us=PC
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "larder/larder.h"

#define SMALL		4096
#define BLOCK		1000
#define MAX_BLOCKS	1000
#define VOLUME		"bench,acquire"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
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

/* CPU time of this process, seconds. */
static double
cpu_self(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of every thread of the daemon, seconds (0 without a pid). */
static double
cpu_daemon(long pid)
{
	char path[64], line[128];
	unsigned long long ns, sum = 0;
	struct dirent *de;
	FILE *f;
	DIR *d;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%.16s/schedstat",
		    pid, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) &&
		    sscanf(line, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum / 1e9;
}

/* Find the path of the file with inode sb under DIR/cache/I<VOLUME>/@xx. */
static int
find_object(const char *dir, const struct stat *want, char *out, size_t outsz)
{
	char fan[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int i;

	for (i = 0; i < 256; i++) {
		snprintf(fan, sizeof(fan), "%s/cache/I%s/@%02x", dir, VOLUME, i);
		if ((d = opendir(fan)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_ino != want->st_ino)
				continue;
			if ((size_t)snprintf(out, outsz, "%.*s/%s",
			    PATH_MAX - 300, fan, de->d_name) >= outsz)
				continue;
			if (stat(out, &sb) == 0 && sb.st_dev == want->st_dev &&
			    sb.st_ino == want->st_ino) {
				closedir(d);
				return 0;
			}
		}
		closedir(d);
	}
	return -ENOENT;
}

/* One round of the liblarder side: 0 or -errno. */
static int
lib_round(struct larder_volume *v, uint8_t *buf, int read_it)
{
	struct larder_cookie *c;
	ssize_t n = SMALL;
	int err;

	if ((err = larder_cookie_acquire(v, "small", 5, "a", 1, SMALL,
	    &c)) < 0)
		return err;
	if (read_it)
		n = larder_read(c, buf, SMALL, 0);
	larder_cookie_relinquish(c, 0);
	return n == SMALL ? 0 : n < 0 ? n : -EIO;
}

int
main(int argc, char **argv)
{
	const char *sock = argc > 1 ? argv[1] : NULL;
	long rounds = argc > 2 ? atol(argv[2]) : 20000;
	const char *base = getenv("LARDER_BENCH_DIR");
	const char *cdir = getenv("LARDER_CACHE_DIR");
	char dir[PATH_MAX] = "", path[PATH_MAX];
	uint8_t data[SMALL], buf[SMALL];
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	struct stat sb;
	double tl[MAX_BLOCKS], tp[MAX_BLOCKS], r[MAX_BLOCKS], tq, ta, t0, t;
	double cl = 0, cp = 0, c0, d0, cpu;
	const char *pidenv = getenv("LARDER_PID");
	long dpid = pidenv ? atol(pidenv) : 0;
	long i, blk, nblk;
	ssize_t n;
	int err, fd, side, lib, same = 0;

	nblk = rounds / BLOCK;
	if (nblk < 1 || nblk > MAX_BLOCKS)
		return 2;
	for (i = 0; i < SMALL; i++)
		data[i] = (uint8_t)(i * 7);

	if ((err = larder_connect(sock, 0, &l)) < 0) {
		fprintf(stderr, "bench_acquire: connect: %s\n",
		    larder_strerror(err));
		return 77;
	}
	if ((err = larder_volume_acquire(l, VOLUME, NULL, 0, &v)) < 0 ||
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
	/* the object's file: wait until it is published at its name */
	if (cdir) {
		for (i = 0; i < 5000; i++) {
			if (larder_is_cached(c, 0, SMALL) == 1 &&
			    (fd = client_cookie_fd(c)) >= 0 &&
			    fstat(fd, &sb) == 0 &&
			    find_object(cdir, &sb, path, sizeof(path)) == 0)
				break;
			usleep(1000);
		}
		if (i == 5000) {
			fprintf(stderr, "bench_acquire: object not found under "
			    "%s/cache\n", cdir);
			return 1;
		}
		same = 1;
	} else {
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
	}
	larder_cookie_relinquish(c, 0);
	/* both sides once, untimed: the caches are warm from here on */
	if ((err = lib_round(v, buf, 1)) < 0 ||
	    memcmp(buf, data, SMALL) != 0) {
		fprintf(stderr, "bench_acquire: read back: %s\n",
		    err < 0 ? larder_strerror(err) : "wrong bytes");
		return 1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread(fd, buf, SMALL, 0) != SMALL || memcmp(buf, data, SMALL)) {
		fprintf(stderr, "bench_acquire: %s: unreadable or wrong "
		    "bytes\n", path);
		return 1;
	}
	close(fd);

	/* blocks of BLOCK rounds, alternating which side runs first */
	for (blk = 0; blk < nblk; blk++) {
		for (side = 0; side < 2; side++) {
			lib = (blk + side) % 2 == 0;
			c0 = cpu_self();
			d0 = cpu_daemon(dpid);
			t0 = now();
			for (i = 0; i < BLOCK; i++) {
				if (lib) {
					if ((err = lib_round(v, buf, 1)) < 0) {
						fprintf(stderr, "bench_acquire: "
						    "%s\n", larder_strerror(err));
						return 1;
					}
				} else {
					if ((fd = open(path, O_RDONLY |
					    O_CLOEXEC)) < 0 ||
					    pread(fd, buf, SMALL, 0) != SMALL)
						return 1;
					close(fd);
				}
			}
			t = (now() - t0) / BLOCK;
			cpu = cpu_self() - c0 + cpu_daemon(dpid) - d0;
			if (lib) {
				tl[blk] = t;
				cl += cpu;
			} else {
				tp[blk] = t;
				cp += cpu;
			}
		}
		r[blk] = tl[blk] / tp[blk];
	}
	/* what the round is made of: a bare round trip, and the round
	 * without the read */
	t0 = now();
	for (i = 0; i < BLOCK * 5; i++)
		if (client_request(l, PROTO_PING, NULL, 0, buf, sizeof(buf),
		    NULL) < 0)
			return 1;
	tq = (now() - t0) / (BLOCK * 5);
	t0 = now();
	for (i = 0; i < BLOCK * 5; i++)
		if (lib_round(v, buf, 0) < 0)
			return 1;
	ta = (now() - t0) / (BLOCK * 5);

	printf("acquire + read 4 KiB + relinquish, %ld rounds in blocks of "
	    "%d, warm (medians of blocks)\n", nblk * BLOCK, BLOCK);
	printf("  baseline file: %s (%s)\n", path, same ?
	    "the object's own file" : "a plain file with the same bytes");
	printf("  liblarder            %8.2f us/round\n", median(tl, nblk) * 1e6);
	printf("  open + pread + close %8.2f us/round\n", median(tp, nblk) * 1e6);
	printf("  ratio larder/plain %.2f (median of per-block ratios; "
	    "aim <= 3)\n", median(r, nblk));
	printf("  CPU time, client + daemon: liblarder %.2f us/round, plain "
	    "%.2f us/round, ratio %.2f%s\n", cl / (nblk * BLOCK) * 1e6,
	    cp / (nblk * BLOCK) * 1e6, cl / cp, dpid > 0 ? "" :
	    " (client only: set LARDER_PID)");
	printf("  of which: PING round trip %.2f us; acquire + relinquish "
	    "without read %.2f us\n", tq * 1e6, ta * 1e6);
	printf("RESULT acquire ratio=%.3f larder_us=%.2f base_us=%.2f "
	    "ping_us=%.2f noread_us=%.2f cpu_ratio=%.3f larder_cpu_us=%.2f "
	    "base_cpu_us=%.2f\n", median(r, nblk), median(tl, nblk) * 1e6,
	    median(tp, nblk) * 1e6, tq * 1e6, ta * 1e6, cl / cp,
	    cl / (nblk * BLOCK) * 1e6, cp / (nblk * BLOCK) * 1e6);
	larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	if (!same) {
		unlink(path);
		rmdir(dir);
	}
	return 0;
}
