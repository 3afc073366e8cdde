/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_fill.c: fill a new object through liblarder (larder_write, through
 * the shared-memory area) vs pwrite + fdatasync of a new plain file of the
 * same size on the same filesystem, in one run. Needs a running larderd.
 *
 *   bench_fill [SOCKET [SIZE_MIB [ORDER [MODE]]]]
 *                                           (SOCKET default: $LARDER_SOCKET)
 *
 * ORDER 0 (default) runs larder first, 1 the plain file first; run-bench.sh
 * alternates it between runs. MODE "area" (default): the larder side's
 * 4 MiB buffer is the connection's area (larder_fill_buffer), made once
 * like the plain side's, so neither side copies it before its write
 * system call: the daemon writes straight from it. MODE "started": the
 * same with an 8 MiB area whose two 4 MiB halves (both made once) take
 * turns, the next write started (larder_write_start) while the daemon
 * still writes the previous one, each waited for (larder_write_wait)
 * before its half is used again (RESULT fillstart). MODE "copy": the
 * buffer is the program's own and liblarder copies each call into the
 * area first (a caller that cannot place its data in the area). The
 * plain file is made in a temporary directory under $LARDER_BENCH_DIR
 * (default /var/tmp): put it on the cache's filesystem (run-bench.sh
 * does). With $LARDER_CACHE_DIR (larderd's dir) set, the end of a run
 * waits until the retired object's file is unlinked.
 *
 * Equal work: both sides write SIZE_MIB MiB of the same bytes in 4 MiB
 * calls into a new, empty file (larder: a new aux each run, so a new
 * object) on the same filesystem; before each side every filesystem is
 * synced (sync, then syncfs) so that neither pays for the other's
 * writeback, nor for that of a loop device's backing file, and
 * neither file is deleted until both are done. Two figures per side:
 *
 *   acknowledged  larder: the last larder_write (started: the last
 *                 larder_write_wait) returned (the daemon has the bytes
 *                 in the object's page cache);
 *                 plain: the last pwrite returned.
 *   durable       larder: additionally, the object's xattr
 *                 user.CacheFiles.cache says content "all" (2), read with
 *                 fgetxattr on the object fd, polled every 100 us. The
 *                 meta thread writes that xattr only after fdatasync (or
 *                 syncfs) of the data, so this is "the data is durable and
 *                 the cache claims it" (the xattr itself reaches the disk
 *                 with the next journal commit, like any xattr);
 *                 plain: pwrite loop + fdatasync returned.
 *
 * A larder_write that answers -ENOBUFS (the daemon refuses fills for a
 * while, e.g. when it takes a slow write for a frozen filesystem) is
 * retried every 10 ms until it is taken: the time spent so is part of the
 * larder side, and the number of refusals is printed (enobufs=N). A
 * client that did not retry would simply not have the bytes cached.
 *
 * The targets (issue 15) are >= 0.95 for the durable ratio and >= 0.8
 * for the acknowledged one (ratios of throughputs larder/plain: higher
 * is better for larder). Prints MB/s and both ratios,
 * and one machine-readable line:
 *   RESULT fill ratio=R ack_ratio=A larder_mbs=L base_mbs=P
 *          larder_ack_mbs=LA base_ack_mbs=PA enobufs=N order=ORDER mode=MODE
 * (RESULT fillcopy in MODE copy, fillstart in MODE started).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "larder/larder.h"

#define CHUNK		(4u << 20)
#define XATTR		"user.CacheFiles.cache"
#define XATTR_CONTENT	17	/* be64 size, be64 zero point, u8 type */
#define CONTENT_ALL	2
#define DURABLE_WAIT_S	120

static long enobufs;		/* refusals retried */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether the object's xattr claims all size bytes: 1, 0, or -errno. */
static int
claims_all(int fd, uint64_t size)
{
	uint8_t x[512];
	uint64_t s = 0;
	ssize_t n;
	int i;

	n = fgetxattr(fd, XATTR, x, sizeof(x));
	if (n < 0)
		return errno == ENODATA ? 0 : -errno;
	if (n <= XATTR_CONTENT)
		return 0;
	for (i = 0; i < 8; i++)
		s = s << 8 | x[i];
	return s == size && x[XATTR_CONTENT] == CONTENT_ALL;
}

/* Write CHUNK bytes of buf at off with larder_write, retrying refusals
 * every 10 ms (counted) for a while from t0: the bytes accepted or the
 * error. */
static ssize_t
write_chunk(struct larder_cookie *c, const uint8_t *buf, uint64_t off,
    double t0)
{
	ssize_t n;

	while ((n = larder_write(c, buf, CHUNK, off)) == -ENOBUFS &&
	    now() - t0 < DURABLE_WAIT_S) {
		enobufs++;
		usleep(10000);
	}
	return n;
}

/* MODE started: two CHUNKs of the area (both hold the bytes) take turns;
 * the next write is started (larder_write_start) while the daemon still
 * writes the previous one, and each is waited for (larder_write_wait)
 * before its part of the area is used again. A refused one is written
 * again with larder_write. The bytes accepted, or the error. */
static ssize_t
fill_started(struct larder_cookie *c, const uint8_t *buf, uint64_t size,
    double t0)
{
	uint64_t off = 0, at[2];
	unsigned started = 0, waited = 0;
	ssize_t n;
	int err;

	while (waited < started || off < size) {
		if (off < size && started - waited < 2) {
			at[started % 2] = off;
			if ((err = larder_write_start(c, buf + started % 2 *
			    CHUNK, CHUNK, off)) < 0)
				return err;
			started++;
			off += CHUNK;
			continue;
		}
		n = larder_write_wait(c);
		if (n == -ENOBUFS) {
			enobufs++;
			n = write_chunk(c, buf + waited % 2 * CHUNK,
			    at[waited % 2], t0);
		}
		waited++;
		if (n != CHUNK)
			return n < 0 ? n : -ENOBUFS;
	}
	return (ssize_t)size;
}

/* The larder side: *ack and *dur in seconds; 0, 77 or 1. */
static int
fill_larder(struct larder_volume *v, const uint8_t *buf, uint64_t size,
    int started, double *ack, double *dur, struct larder_cookie **cp)
{
	struct larder_cookie *c;
	char aux[64];
	uint64_t off;
	double t0;
	ssize_t n;
	int err, fd;

	/* new aux each run: a fresh, empty object */
	snprintf(aux, sizeof(aux), "fill-%ld-%ld", (long)getpid(),
	    (long)time(NULL));
	if ((err = larder_cookie_acquire(v, "object", 6, aux, strlen(aux),
	    size, &c)) < 0) {
		fprintf(stderr, "bench_fill: acquire: %s\n",
		    larder_strerror(err));
		return 1;
	}
	*cp = c;
	t0 = now();
	if (started && (n = fill_started(c, buf, size, t0)) != (ssize_t)size) {
		fprintf(stderr, "bench_fill: started fill: %s\n",
		    larder_strerror(n < 0 ? n : -ENOBUFS));
		return 77;
	}
	for (off = 0; !started && off < size; off += CHUNK) {
		if ((n = write_chunk(c, buf, off, t0)) != CHUNK) {
			fprintf(stderr, "bench_fill: fill at %llu: %s\n",
			    (unsigned long long)off,
			    larder_strerror(n < 0 ? n : -ENOBUFS));
			return 77;
		}
	}
	*ack = now() - t0;
	/* the object fd comes with a refresh when the acquire had none */
	if ((fd = client_cookie_fd(c)) < 0 &&
	    (larder_is_cached(c, 0, size) != 1 ||
	    (fd = client_cookie_fd(c)) < 0)) {
		fprintf(stderr, "bench_fill: no object fd after the fill\n");
		return 1;
	}
	while ((err = claims_all(fd, size)) == 0) {
		if (now() - t0 > DURABLE_WAIT_S) {
			fprintf(stderr, "bench_fill: the xattr did not claim "
			    "the data within %d s\n", DURABLE_WAIT_S);
			return 1;
		}
		usleep(100);
	}
	*dur = now() - t0;
	if (err < 0) {
		fprintf(stderr, "bench_fill: fgetxattr: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

/* Wait (at most DURABLE_WAIT_S) until <cache dir>/graveyard is empty:
 * the retired object's unlink, which larderd's reaper does later, must
 * not fall into the next run (the plain file is unlinked in this one).
 * Without $LARDER_CACHE_DIR, nothing to wait for. */
static void
wait_graveyard(void)
{
	const char *cd = getenv("LARDER_CACHE_DIR");
	char path[PATH_MAX];
	struct dirent *e;
	double t0 = now();
	int busy = 1;
	DIR *d;

	if (!cd)
		return;
	snprintf(path, sizeof(path), "%s/graveyard", cd);
	while (busy && now() - t0 < DURABLE_WAIT_S) {
		if (!(d = opendir(path)))
			return;
		busy = 0;
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				busy = 1;
		closedir(d);
		if (busy)
			usleep(10000);
	}
	if (busy)
		fprintf(stderr, "bench_fill: %s not empty after %d s\n", path,
		    DURABLE_WAIT_S);
}

/* The plain side, into path: *ack and *dur in seconds; 0 or 1. */
static int
fill_plain(const char *path, const uint8_t *buf, uint64_t size, double *ack,
    double *dur)
{
	uint64_t off;
	double t0;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0) {
		perror("bench_fill: plain file");
		return 1;
	}
	t0 = now();
	for (off = 0; off < size; off += CHUNK)
		if (pwrite(fd, buf, CHUNK, off) != CHUNK) {
			perror("bench_fill: pwrite");
			close(fd);
			return 1;
		}
	*ack = now() - t0;
	if (fdatasync(fd) < 0) {
		perror("bench_fill: fdatasync");
		close(fd);
		return 1;
	}
	*dur = now() - t0;
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *sock = argc > 1 ? argv[1] : NULL;
	uint64_t size = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1024) << 20;
	int order = argc > 3 ? atoi(argv[3]) : 0;
	const char *mode = argc > 4 ? argv[4] : "area";
	int started = strcmp(mode, "started") == 0;
	const char *base = getenv("LARDER_BENCH_DIR");
	char dir[PATH_MAX], path[PATH_MAX + 8];
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c = NULL;
	uint8_t *buf = malloc(CHUNK), *lbuf = buf;
	size_t area = 0, shm = 0;
	double la = 0, ld = 0, pa = 0, pd = 0;
	size_t i;
	int err, side, rc = 0, dfd;

	if (buf == NULL || size == 0 || size % CHUNK ||
	    (strcmp(mode, "area") && strcmp(mode, "copy") &&
	    strcmp(mode, "started")))
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
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror("bench_fill: open dir");
		rmdir(dir);
		return 1;
	}
	/* BENCH_FILL_AREA_MB: the connection's area (default liblarder's) */
	if (getenv("BENCH_FILL_AREA_MB"))
		shm = (size_t)strtoul(getenv("BENCH_FILL_AREA_MB"), NULL, 10)
		    << 20;
	else if (started)
		shm = 2 * CHUNK;	/* two parts that take turns */
	if ((err = larder_connect(sock, shm, &l)) < 0) {
		fprintf(stderr, "bench_fill: connect: %s\n", larder_strerror(err));
		rmdir(dir);
		return 77;
	}
	if ((err = larder_volume_acquire(l, "bench,fill", NULL, 0, &v)) < 0) {
		fprintf(stderr, "bench_fill: volume: %s\n", larder_strerror(err));
		rmdir(dir);
		return 1;
	}
	if (strcmp(mode, "copy")) {
		/* the larder side's bytes live in the area, made once */
		if (!(lbuf = larder_fill_buffer(l, &area)) ||
		    area < (started ? 2 : 1) * CHUNK) {
			fprintf(stderr, "bench_fill: no fill area of %u MiB "
			    "(got %zu bytes)\n", (started ? 2 : 1) *
			    (CHUNK >> 20), area);
			rmdir(dir);
			return 77;
		}
		memcpy(lbuf, buf, CHUNK);
		if (started)
			memcpy(lbuf + CHUNK, buf, CHUNK);
	}
	for (side = 0; side < 2 && rc == 0; side++) {
		/* start each side with nothing dirty on the filesystem, nor
		 * on the one below a loop device's image (the previous
		 * side's blocks allocated in a sparse image file) */
		sync();
		syncfs(dfd);
		if ((side == 0) == (order == 0))
			rc = fill_larder(v, lbuf, size, started, &la, &ld,
			    &c);
		else
			rc = fill_plain(path, buf, size, &pa, &pd);
	}
	unlink(path);
	rmdir(dir);
	if (c)
		larder_cookie_relinquish(c, 1);
	wait_graveyard();
	syncfs(dfd);		/* both files' freeing, before the next run */
	close(dfd);
	if (rc == 0) {
		printf("fill %llu MiB in %u MiB writes, new file each side, "
		    "%s first, larder's bytes %s\n",
		    (unsigned long long)(size >> 20), CHUNK >> 20,
		    order == 0 ? "larder" : "plain", started ? "in the area, "
		    "two writes started at a time" : strcmp(mode, "area") ?
		    "copied into the area by liblarder" : "in the area");
		printf("  larder_write acknowledged     %8.1f MB/s\n",
		    size / la / 1e6);
		printf("  larder_write durable+claimed  %8.1f MB/s\n",
		    size / ld / 1e6);
		printf("  pwrite                        %8.1f MB/s\n",
		    size / pa / 1e6);
		printf("  pwrite + fdatasync            %8.1f MB/s\n",
		    size / pd / 1e6);
		printf("  ratio larder/plain durable %.3f (target >= 0.95), "
		    "acknowledged %.3f (target >= 0.8)\n", pd / ld, pa / la);
		printf("  larder_write refused (ENOBUFS) and retried: %ld\n",
		    enobufs);
		printf("RESULT %s ratio=%.4f ack_ratio=%.4f larder_mbs=%.1f "
		    "base_mbs=%.1f larder_ack_mbs=%.1f base_ack_mbs=%.1f "
		    "enobufs=%ld order=%d mode=%s\n",
		    started ? "fillstart" : strcmp(mode, "area") ? "fillcopy" :
		    "fill", pd / ld, pa / la,
		    size / ld / 1e6, size / pd / 1e6, size / la / 1e6,
		    size / pa / 1e6, enobufs, order, mode);
	}
	larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	free(buf);
	return rc;
}
