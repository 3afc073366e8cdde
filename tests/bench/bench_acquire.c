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
 * Three sides, in blocks of rounds, the order rotating every block:
 * liblarder with a generation table (the warm acquire is served locally,
 * proto.h GENTAB), open + pread + close, and liblarder on a second
 * connection without the table (CLIENT_NO_GENTAB: every acquire and
 * relinquish goes to the daemon, the old path).
 *
 * Also timed, to explain the ratio: a PING round trip to the daemon, and
 * acquire + relinquish without the read; and cold: on each of COLD fresh
 * connections (made untimed), the first cookie acquire and a PING, which
 * goes first alternating, medians of each (target: cold <= 1.5 x PING).
 *
 * Wall time per round is latency: on a loaded machine every round trip
 * waits for a CPU twice (client to daemon and back), so it is also given
 * as CPU time per round, the client's (CLOCK_PROCESS_CPUTIME_ID) plus the
 * daemon's (every thread's run time from /proc/PID/task/ * /schedstat, with
 * PID from $LARDER_PID; run-bench.sh sets it). CPU time is what a loaded
 * machine does not disturb much.
 *
 * Prints microseconds per round and the ratio larder/plain (aim <= 1),
 * and one machine-readable line:
 *   RESULT acquire ratio=R larder_us=L base_us=P ping_us=Q noread_us=A
 *          cpu_ratio=C larder_cpu_us=LC base_cpu_us=PC old_us=O
 *          old_ratio=OR cold_us=K ping_cold_us=KP cold_ratio=KR
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
#define COLD		200

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

/* One round of open + pread + close of path: 0 or -1. */
static int
plain_round(const char *path, uint8_t *buf)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread(fd, buf, SMALL, 0) != SMALL)
		return -1;
	close(fd);
	return 0;
}

/* One side's block of BLOCK rounds (0 local, 1 plain, 2 old path):
 * seconds per round, CPU seconds added to *cpu; < 0 on failure. */
static double
run_block(int side, struct larder_volume *v, struct larder_volume *vo,
    const char *path, uint8_t *buf, long dpid, double *cpu)
{
	double t0, c0 = cpu_self(), d0 = cpu_daemon(dpid);
	long i;
	int err = 0;

	t0 = now();
	for (i = 0; i < BLOCK && err == 0; i++)
		err = side == 1 ? plain_round(path, buf) :
		    lib_round(side == 0 ? v : vo, buf, 1);
	t0 = (now() - t0) / BLOCK;
	*cpu += cpu_self() - c0 + cpu_daemon(dpid) - d0;
	if (err < 0) {
		fprintf(stderr, "bench_acquire: side %d: %s\n", side,
		    larder_strerror(err));
		return -1;
	}
	return t0;
}

/* The first cookie acquire on a fresh connection and a PING there, on
 * COLD connections, alternating which goes first: their medians in *cold
 * and *ping (seconds). 0 or -1. */
static int
cold_vs_ping(const char *sock, double *cold, double *ping)
{
	static double tc[COLD], tq[COLD];
	struct larder_volume *v;
	struct larder_cookie *c;
	struct larder *l;
	char buf[256];
	double t0;
	int i, k, err;

	for (i = 0; i < COLD; i++) {
		if ((err = larder_connect(sock, 0, &l)) < 0 ||
		    (err = larder_volume_acquire(l, VOLUME, NULL, 0, &v)) < 0)
			return -1;
		for (k = 0; k < 2; k++) {
			t0 = now();
			if ((k + i) % 2 == 0) {
				err = larder_cookie_acquire(v, "small", 5, "a",
				    1, SMALL, &c);
				tc[i] = now() - t0;
			} else {
				err = client_request(l, PROTO_PING, NULL, 0,
				    buf, sizeof(buf), NULL);
				tq[i] = now() - t0;
			}
			if (err < 0)
				return -1;
		}
		larder_cookie_relinquish(c, 0);
		larder_disconnect(l);
	}
	*cold = median(tc, COLD);
	*ping = median(tq, COLD);
	return 0;
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
	struct larder *l, *lo;
	struct larder_volume *v, *vo;
	struct larder_cookie *c;
	struct stat sb;
	static double tl[MAX_BLOCKS], tp[MAX_BLOCKS], to[MAX_BLOCKS],
	    r[MAX_BLOCKS], ro[MAX_BLOCKS];
	double tq, ta, t0, t, tcold, tpcold;
	double cl = 0, cp = 0, co = 0;
	const char *pidenv = getenv("LARDER_PID");
	long dpid = pidenv ? atol(pidenv) : 0;
	long i, blk, nblk;
	uint64_t local0;
	ssize_t n;
	int err, fd, side, k, same = 0;

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

	/* the old path: a connection without the generation table */
	if ((err = client_connect(sock, 0, CLIENT_NO_GENTAB, &lo)) < 0 ||
	    (err = larder_volume_acquire(lo, VOLUME, NULL, 0, &vo)) < 0 ||
	    (err = lib_round(vo, buf, 1)) < 0) {
		fprintf(stderr, "bench_acquire: old path: %s\n",
		    larder_strerror(err));
		return 1;
	}
	printf("generation table: %s\n", client_has_gentab(l) ? "yes" :
	    "no (the daemon does not offer one: both liblarder sides ask it)");
	local0 = client_local_acquires(l);

	/* blocks of BLOCK rounds, rotating which side runs first */
	for (blk = 0; blk < nblk; blk++) {
		for (k = 0; k < 3; k++) {
			side = (blk + k) % 3;
			t = run_block(side, v, vo, path, buf, dpid,
			    side == 0 ? &cl : side == 1 ? &cp : &co);
			if (t < 0)
				return 1;
			(side == 0 ? tl : side == 1 ? tp : to)[blk] = t;
		}
		r[blk] = tl[blk] / tp[blk];
		ro[blk] = to[blk] / tp[blk];
	}
	local0 = client_local_acquires(l) - local0;
	if (cold_vs_ping(sock, &tcold, &tpcold) < 0) {
		fprintf(stderr, "bench_acquire: cold acquires failed\n");
		return 1;
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
	    "aim <= 1)\n", median(r, nblk));
	printf("  CPU time, client + daemon: liblarder %.2f us/round, plain "
	    "%.2f us/round, ratio %.2f%s\n", cl / (nblk * BLOCK) * 1e6,
	    cp / (nblk * BLOCK) * 1e6, cl / cp, dpid > 0 ? "" :
	    " (client only: set LARDER_PID)");
	printf("  of which: PING round trip %.2f us; acquire + relinquish "
	    "without read %.2f us\n", tq * 1e6, ta * 1e6);
	printf("  served locally: %llu of %ld rounds\n",
	    (unsigned long long)local0, nblk * BLOCK);
	printf("  old path (no generation table) %8.2f us/round, ratio "
	    "old/plain %.2f, CPU %.2f us/round\n", median(to, nblk) * 1e6,
	    median(ro, nblk), co / (nblk * BLOCK) * 1e6);
	printf("  cold acquire (first of a connection) %.2f us vs PING there "
	    "%.2f us: ratio %.2f (aim <= 1.5), medians of %d connections\n",
	    tcold * 1e6, tpcold * 1e6, tcold / tpcold, COLD);
	printf("RESULT acquire ratio=%.3f larder_us=%.2f base_us=%.2f "
	    "ping_us=%.2f noread_us=%.2f cpu_ratio=%.3f larder_cpu_us=%.2f "
	    "base_cpu_us=%.2f old_us=%.2f old_ratio=%.3f cold_us=%.2f "
	    "ping_cold_us=%.2f cold_ratio=%.3f\n", median(r, nblk),
	    median(tl, nblk) * 1e6, median(tp, nblk) * 1e6, tq * 1e6,
	    ta * 1e6, cl / cp, cl / (nblk * BLOCK) * 1e6,
	    cp / (nblk * BLOCK) * 1e6, median(to, nblk) * 1e6,
	    median(ro, nblk), tcold * 1e6, tpcold * 1e6, tcold / tpcold);
	larder_volume_relinquish(v, 0);
	larder_volume_relinquish(vo, 0);
	larder_disconnect(l);
	larder_disconnect(lo);
	if (!same) {
		unlink(path);
		rmdir(dir);
	}
	return 0;
}
