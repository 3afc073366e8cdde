/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zcopy-client.c: a liblarder client for t-fill-zcopy.sh (zero-copy
 * fills: the daemon writes straight from the shared area, and liblarder
 * keeps several chunks in flight in different regions of it). Built by
 * the test against lib/liblarder.a with lib/client.h (not installed).
 *
 *   zcopy-client SOCK pipe SIZE SRC OUT1 OUT2
 *       object "pipe1" (SIZE bytes) in one larder_write, object "pipe2"
 *       in writes of odd sizes at odd offsets; the source bytes go to SRC,
 *       each object as read back through a new connection to OUT1, OUT2
 *       (the script compares their sha256). Exit 8 if no write had two
 *       or more chunks in flight.
 *   zcopy-client SOCK stuck MNT KIB
 *       fsfreeze MNT under a fill A (KIB KiB at 0, from the first slots
 *       of the 4 MiB area; 4096: all of it, so B goes inline) until it
 *       answers ENOBUFS; then write B (other bytes, another range) while
 *       A's slots are still held; thaw; wait until the daemon lets A's
 *       slots go; every 4 KiB of A's range in the object must then hold
 *       A's bytes or zeros (A dropped), never B's.
 *   zcopy-client SOCK area SIZE
 *       larder_fill_buffer: a 16 MiB area is the caller's. Object "area1"
 *       (SIZE bytes, a multiple of 16 MiB) is written 16 MiB at a time
 *       from the area (the bytes put there first, as a network client
 *       would receive them); object "area2" from a buffer of the
 *       program's own, which must go inline and leave the area alone.
 *       Both are read back through a new connection and compared.
 *       Exit 8 if no write from the area had two or more requests in
 *       flight.
 *   zcopy-client SOCK started SIZE
 *       larder_write_start / larder_write_wait: object "start1" (SIZE
 *       bytes, a multiple of 4 MiB) written from a 16 MiB area cut in 4
 *       parts of 4 MiB that take turns, 4 writes started at a time, each
 *       waited for before its part is used again; meanwhile calls on
 *       another cookie of the connection take the answers on their way.
 *       Checks the errors (a buffer outside the area: EINVAL; nothing
 *       started: ENOENT; one too many: EBUSY), that relinquish with
 *       started writes lets them land, and that invalidate with a
 *       started write leaves nothing of the old object in the map. All
 *       read back through a new connection and compared.
 *   zcopy-client SOCK area-stuck MNT [started]
 *       under fsfreeze a write A of 1 MiB from the start of the area
 *       answers ENOBUFS while the daemon still waits to write it; the
 *       caller then puts other bytes (B) at that place in its area, as
 *       it may once the call returned; thaw; wait until the daemon
 *       reports A's slots free (asked with small writes from the end of
 *       the area). A's range must then not be cached: its late write
 *       read B's bytes, and a daemon that claimed them would serve B's
 *       bytes as A's range. With "started", A is sent with
 *       larder_write_start and its answer taken with larder_write_wait.
 *
 * Exit: 0 ok, 9 the daemon broke its word (a wrong byte), 8 no
 * pipelining, 3 the situation could not be set up, 1 other errors.
 */
#define _GNU_SOURCE
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "larder/larder.h"

#define VOL	"test,zcopy"
#define KIB	1024u
#define SLOT	(64 * KIB)	/* of a 4 MiB area (PROTO_SHM_SLOTS) */
#define BLEN	(1024 * KIB)

/* stuck: A is alen bytes at 0 from the first slots of the area (all of
 * them: every region held, B goes inline); B is BLEN bytes at boff. */
static size_t alen, boff;
static uint64_t aslots;
#define WAIT_S	120		/* bound on every wait for a condition */

static const char *sock;

static uint64_t
busy_of(struct larder *l)
{
	uint64_t busy;
	unsigned peak;

	client_zc_state(l, &busy, &peak);
	return busy;
}

static void
die(const char *what, int err)
{
	errx(1, "%s: %s", what, larder_strerror(err));
}

/* size bytes of a xorshift stream from seed (A: 1, B: 2). */
static uint8_t *
pattern(size_t size, unsigned seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * seed;
	uint8_t *b = malloc(size ? size : 1);
	size_t i;

	if (!b)
		die("malloc", -ENOMEM);
	for (i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
	return b;
}

/* Acquire key in VOL on l with object size size. */
static struct larder_cookie *
acquire_on(struct larder *l, const char *key, uint64_t size)
{
	struct larder_volume *v = NULL;
	struct larder_cookie *c = NULL;
	int err;

	err = larder_volume_acquire(l, VOL, NULL, 0, &v);
	if (err == 0)
		err = larder_cookie_acquire(v, key, strlen(key), NULL, 0, size,
		    &c);
	if (err < 0)
		die("acquire", err);
	return c;
}

/* Connect (4 MiB area) and acquire key in VOL with object size size. */
static struct larder_cookie *
open_cookie(struct larder **l, const char *key, uint64_t size)
{
	int err;

	if ((err = larder_connect(sock, 4 << 20, l)) < 0)
		die("connect", err);
	return acquire_on(*l, key, size);
}

static void
save(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0)
		die(path, -errno);
}

/* Write all of [off, off + n) of b, retrying refusals for a while. */
static void
write_all(struct larder_cookie *c, const uint8_t *b, size_t n, uint64_t off)
{
	time_t t0 = time(NULL);
	ssize_t w;

	while (n > 0) {
		w = larder_write(c, b + off, n, off);
		if (w == -ENOBUFS && time(NULL) - t0 < WAIT_S) {
			usleep(20000);
			continue;
		}
		if (w <= 0)
			die("larder_write", w < 0 ? (int)w : -ENOBUFS);
		off += w;
		n -= w;
	}
}

/* Read key back through a new connection into out. */
static void
read_back(const char *key, size_t size, const char *out)
{
	struct larder_cookie *c;
	struct larder *l;
	uint8_t *b = malloc(size);
	ssize_t n;

	c = open_cookie(&l, key, size);
	if (!b || (n = larder_read(c, b, size, 0)) != (ssize_t)size)
		die("read back", !b ? -ENOMEM : n < 0 ? (int)n : -EIO);
	save(out, b, size);
	free(b);
	larder_disconnect(l);
}

static int
t_pipe(size_t size, const char *src, const char *out1, const char *out2)
{
	static const size_t odd[] = { 65537, 700001, 3 * 1024 * KIB + 5,
	    513 * KIB, 1 };
	struct larder_cookie *c;
	struct larder *l;
	uint8_t *b = pattern(size, 1);
	size_t off = 0, n;
	unsigned i = 0, peak;
	uint64_t busy;

	save(src, b, size);
	c = open_cookie(&l, "pipe1", size);
	write_all(c, b, size, 0);
	client_zc_state(l, &busy, &peak);
	larder_disconnect(l);
	c = open_cookie(&l, "pipe2", size);
	while (off < size) {
		n = odd[i++ % (sizeof(odd) / sizeof(odd[0]))];
		if (n > size - off)
			n = size - off;
		write_all(c, b, n, off);
		off += n;
	}
	larder_disconnect(l);
	read_back("pipe1", size, out1);
	read_back("pipe2", size, out2);
	printf("pipelined fills: at most %u chunks in flight\n", peak);
	free(b);
	return peak >= 2 ? 0 : 8;
}

/* Connect with a 16 MiB area, take it (larder_fill_buffer), acquire key
 * with object size size. */
#define AREA	(16u << 20)

static struct larder_cookie *
open_area(struct larder **l, const char *key, uint64_t size, uint8_t **area)
{
	size_t n = 0;
	int err;

	if ((err = larder_connect(sock, AREA, l)) < 0)
		die("connect", err);
	if (!(*area = larder_fill_buffer(*l, &n)) || n != AREA) {
		fprintf(stderr, "zcopy-client: larder_fill_buffer: %p, %zu "
		    "bytes\n", (void *)*area, n);
		exit(1);
	}
	return acquire_on(*l, key, size);
}

/* Read key (size bytes) back through a new connection: 0 if it is b,
 * 9 if not. */
static int
same_back(const char *key, const uint8_t *b, size_t size)
{
	struct larder_cookie *c;
	struct larder *l;
	uint8_t *got = malloc(size);
	ssize_t n;
	int rc;

	c = open_cookie(&l, key, size);
	if (!got || (n = larder_read(c, got, size, 0)) != (ssize_t)size)
		die("read back", !got ? -ENOMEM : n < 0 ? (int)n : -EIO);
	rc = memcmp(got, b, size) ? 9 : 0;
	if (rc)
		fprintf(stderr, "zcopy-client: %s read back differs\n", key);
	free(got);
	larder_disconnect(l);
	return rc;
}

static int
t_area(size_t size)
{
	struct larder_cookie *c;
	struct larder *l;
	uint8_t *b = pattern(size, 3), *area, *keep;
	size_t off;
	unsigned peak;
	uint64_t busy;
	int rc;

	if (size == 0 || size % AREA)
		die("size", -EINVAL);
	c = open_area(&l, "area1", size, &area);
	for (off = 0; off < size; off += AREA) {
		memcpy(area, b + off, AREA);
		if (larder_write(c, area, AREA, off) != AREA)
			die("larder_write from the area", -EIO);
	}
	client_zc_state(l, &busy, &peak);
	/* a buffer outside the area: inline; the area keeps its bytes */
	if (!(keep = malloc(AREA)))
		die("malloc", -ENOMEM);
	memcpy(keep, area, AREA);
	c = acquire_on(l, "area2", size);
	write_all(c, b, size, 0);
	if (memcmp(keep, area, AREA)) {
		fprintf(stderr, "zcopy-client: a write from outside the area "
		    "changed the caller's area\n");
		return 9;
	}
	larder_disconnect(l);
	if ((rc = same_back("area1", b, size)) || (rc = same_back("area2", b,
	    size)))
		return rc;
	printf("writes from the area: at most %u requests in flight\n", peak);
	free(b);
	free(keep);
	return peak >= 2 ? 0 : 8;
}

#define PART	(4u << 20)	/* started: the area's parts */

/* Start a write of n bytes from p at off; die on an error. */
static void
start_ok(struct larder_cookie *c, const uint8_t *p, size_t n, uint64_t off)
{
	int err;

	if ((err = larder_write_start(c, p, n, off)) < 0)
		die("larder_write_start", err);
}

/* Wait for c's oldest started write, which must have taken n bytes. */
static void
wait_ok(struct larder_cookie *c, size_t n)
{
	ssize_t got = larder_write_wait(c);

	if (got != (ssize_t)n)
		die("larder_write_wait", got < 0 ? (int)got : -EIO);
}

static int
t_started(size_t size)
{
	struct larder_cookie *c, *o, *r, *iv;
	struct larder_volume *v = NULL;
	struct larder *l;
	uint8_t *b = pattern(size, 4), *area, own[4096] = { 0 };
	unsigned k, parts = AREA / PART, n;
	size_t off;
	int err;

	if (size == 0 || size % PART)
		die("size", -EINVAL);
	c = open_area(&l, "start1", size, &area);
	/* errors first: they change nothing */
	if ((err = larder_write_start(c, b, PART, 0)) != -EINVAL)
		errx(1, "start from outside the area: %d, not EINVAL", err);
	if ((err = larder_write_start(c, area + AREA - 4096, 8192, 0)) !=
	    -EINVAL)
		errx(1, "start across the area's end: %d, not EINVAL", err);
	if ((n = (unsigned)larder_write_wait(c)) != (unsigned)-ENOENT)
		errx(1, "wait with nothing started: %d, not ENOENT", (int)n);
	o = acquire_on(l, "start-other", sizeof(own));
	for (k = 0, off = 0; off < size; k++, off += PART) {
		if (k >= parts)		/* the part's last write */
			wait_ok(c, PART);
		memcpy(area + k % parts * PART, b + off, PART);
		start_ok(c, area + k % parts * PART, PART, off);
		if (k == parts) {
			/* round trips on another cookie meanwhile: the
			 * answers of c's writes come first and are kept */
			if (larder_write(o, own, sizeof(own), 0) !=
			    sizeof(own) || larder_is_cached(o, 0,
			    sizeof(own)) != 1)
				errx(1, "other cookie's calls failed");
		}
	}
	for (n = 0; n < parts && n < k; n++)
		wait_ok(c, PART);
	if ((err = (int)larder_write_wait(c)) != -ENOENT)
		errx(1, "a wait too many: %d, not ENOENT", err);
	if (larder_is_cached(c, 0, size) != 1)
		errx(1, "start1 not cached whole after its writes");
	/* LARDER_WRITES_STARTED_MAX, then EBUSY (the range is cached:
	 * each is answered at once, all of it) */
	for (n = 0; n < LARDER_WRITES_STARTED_MAX; n++)
		start_ok(c, area + n * 4096, 4096, n * 4096);
	if ((err = larder_write_start(c, area, 4096, 0)) != -EBUSY)
		errx(1, "start %d: %d, not EBUSY", LARDER_WRITES_STARTED_MAX +
		    1, err);
	for (n = 0; n < LARDER_WRITES_STARTED_MAX; n++)
		wait_ok(c, 4096);
	/* relinquished with two writes started and not waited for */
	if ((err = larder_volume_acquire(l, VOL, NULL, 0, &v)) < 0 ||
	    (err = larder_cookie_acquire(v, "start3", 6, NULL, 0, 2 * PART,
	    &r)) < 0)
		die("acquire start3", err);
	memcpy(area, b, 2 * PART);
	start_ok(r, area, PART, 0);
	start_ok(r, area + PART, PART, PART);
	if ((err = larder_cookie_relinquish(r, 0)) < 0)
		die("relinquish with started writes", err);
	/* invalidated with a write started: the old object's range must
	 * not be in the new one's map */
	if ((err = larder_cookie_acquire(v, "start4", 6, NULL, 0, PART,
	    &iv)) < 0)
		die("acquire start4", err);
	start_ok(iv, area, PART, 0);
	if ((err = larder_invalidate(iv, "new", 3, PART)) < 0)
		die("invalidate with a started write", err);
	/* the new object (a refresh), then the old write's answer */
	err = larder_is_cached(iv, 0, PART);
	n = (unsigned)larder_write_wait(iv);
	if (err != 0 || (err = larder_is_cached(iv, 0, PART)) != 0 ||
	    (err = (int)larder_read(iv, b, 4096, 0)) != -ENODATA) {
		fprintf(stderr, "zcopy-client: after invalidate, the old "
		    "object's write (%d) is cached in the new one: %d\n",
		    (int)n, err);
		return 9;
	}
	larder_disconnect(l);
	if ((err = same_back("start1", b, size)) ||
	    (err = same_back("start3", b, 2 * PART)))
		return err;
	printf("started writes: %u of %u MiB, 4 at a time, read back "
	    "byte-exact; the write started before invalidate: %s\n", k,
	    PART >> 20, (int)n < 0 ? larder_strerror((int)n) : "taken");
	free(b);
	return 0;
}

static int run(const char *what, const char *mnt);

/* Ask with a 64 KiB write from the area's last slot (range at off) until
 * the daemon reports none of the slots in mask busy: 0, or -1 after
 * WAIT_S. */
static int
wait_area_released(struct larder *l, struct larder_cookie *c, uint8_t *area,
    uint64_t mask, uint64_t off)
{
	time_t t0 = time(NULL);

	for (;;) {
		(void)larder_write(c, area + AREA - AREA / PROTO_SHM_SLOTS,
		    AREA / PROTO_SHM_SLOTS, off);
		if (!(busy_of(l) & mask))
			return 0;
		if (time(NULL) - t0 > WAIT_S)
			return -1;
		usleep(20000);
	}
}

static int
t_area_stuck(const char *mnt, int started)
{
	size_t alen = 1024 * KIB, size = 8 * alen;
	uint64_t amask = (1ULL << (alen / (AREA / PROTO_SHM_SLOTS))) - 1;
	uint8_t *a = pattern(alen, 1), *bb = pattern(alen, 2), *area;
	struct larder_cookie *c;
	struct larder *l;
	ssize_t n;
	int cached;

	c = open_area(&l, "astuck", size, &area);
	/* the object's file exists before the freeze */
	memcpy(area + AREA - 4 * KIB, a, 4 * KIB);
	if (larder_write(c, area + AREA - 4 * KIB, 4 * KIB, size - 4 * KIB) !=
	    4 * KIB)
		die("first write", -EIO);
	if (run("-f", mnt) < 0)
		return 1;
	memcpy(area, a, alen);
	if (!started)
		n = larder_write(c, area, alen, 0);
	else if ((n = larder_write_start(c, area, alen, 0)) == 0)
		n = larder_write_wait(c);
	printf("A under fsfreeze%s: %s, busy %#llx\n", started ?
	    " (started)" : "", n < 0 ?
	    larder_strerror(n) : "accepted",
	    (unsigned long long)busy_of(l));
	if (n != -ENOBUFS || !(busy_of(l) & amask)) {
		run("-u", mnt);
		fprintf(stderr, "zcopy-client: A was not held by a stuck "
		    "write: nothing to test\n");
		return 3;
	}
	/* the call returned: the area is the caller's to change */
	memcpy(area, bb, alen);
	if (run("-u", mnt) < 0)
		return 1;
	if (wait_area_released(l, c, area, amask, 4 * alen) < 0) {
		fprintf(stderr, "zcopy-client: A's slots still held after "
		    "%d s\n", WAIT_S);
		return 1;
	}
	cached = larder_is_cached(c, 0, alen);
	printf("A's range after its late write: %s\n", cached == 1 ?
	    "cached" : cached == 0 ? "not cached" : larder_strerror(cached));
	larder_disconnect(l);
	free(a);
	free(bb);
	if (cached == 1) {
		fprintf(stderr, "zcopy-client: the late write of A, which read "
		    "B's bytes, was claimed\n");
		return 9;
	}
	return cached == 0 ? 0 : 1;
}

static int
run(const char *what, const char *mnt)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		execlp("fsfreeze", "fsfreeze", what, mnt, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "zcopy-client: fsfreeze %s %s failed\n", what,
		    mnt);
		return -1;
	}
	return 0;
}

/* Every 4 KiB of [0, alen) of fd: A's bytes (seed 1) or zeros; 9 if
 * one holds anything else (B's bytes). */
static int
check_a(int fd)
{
	static uint8_t zero[4 * KIB];
	uint8_t *a = pattern(alen, 1), *got = malloc(alen);
	unsigned p, kept = 0, zeros = 0;

	if (!got || pread(fd, got, alen, 0) != (ssize_t)alen)
		die("pread", -errno);
	for (p = 0; p < alen; p += 4 * KIB) {
		if (memcmp(got + p, a + p, 4 * KIB) == 0)
			kept++;
		else if (memcmp(got + p, zero, 4 * KIB) == 0)
			zeros++;
		else {
			fprintf(stderr, "zcopy-client: A's range, page at %u: "
			    "neither A's bytes nor zeros\n", p);
			return 9;
		}
	}
	printf("A's range: %u pages of A's bytes, %u of zeros\n", kept, zeros);
	free(a);
	free(got);
	return 0;
}

/* Wait until the daemon says it reads none of A's slots, asking by
 * rewriting B (its own range): 0, or -1 after WAIT_S. */
static int
wait_released(struct larder *l, struct larder_cookie *c, const uint8_t *b)
{
	time_t t0 = time(NULL);

	while (busy_of(l) & aslots) {
		if (time(NULL) - t0 > WAIT_S)
			return -1;
		usleep(20000);
		(void)larder_write(c, b + boff, BLEN, boff);
	}
	return 0;
}

static int
t_stuck(const char *mnt)
{
	size_t size = boff + BLEN + 1024 * KIB;
	uint8_t *a = pattern(alen, 1), *b = pattern(size, 2);
	struct larder_cookie *c;
	struct larder *l;
	ssize_t n;
	int fd;

	c = open_cookie(&l, "stuck", size);
	/* the object's file exists before the freeze */
	write_all(c, b, 4 * KIB, size - 4 * KIB);
	if (run("-f", mnt) < 0)
		return 1;
	n = larder_write(c, a, alen, 0);
	printf("A under fsfreeze: %s, busy %#llx\n", n < 0 ?
	    larder_strerror(n) : "accepted",
	    (unsigned long long)busy_of(l));
	if (n != -ENOBUFS || !(busy_of(l) & aslots)) {
		run("-u", mnt);
		fprintf(stderr, "zcopy-client: A was not held by a stuck "
		    "write: nothing to test\n");
		return 3;
	}
	/* B: another range, other bytes; must not land in A's slots */
	n = larder_write(c, b + boff, BLEN, boff);
	printf("B while A is held: %s\n", n < 0 ? larder_strerror(n) :
	    "accepted");
	if (run("-u", mnt) < 0)
		return 1;
	if (wait_released(l, c, b) < 0) {
		fprintf(stderr, "zcopy-client: A's slots still held after "
		    "%d s\n", WAIT_S);
		return 1;
	}
	if (larder_is_cached(c, 0, 4 * KIB) < 0 ||
	    (fd = client_cookie_fd(c)) < 0)
		die("object fd", -ENOENT);
	n = check_a(fd);
	larder_disconnect(l);
	free(a);
	free(b);
	return n;
}

int
main(int argc, char **argv)
{
	if (argc < 3)
		goto usage;
	sock = argv[1];
	if (argc == 7 && strcmp(argv[2], "pipe") == 0)
		return t_pipe(strtoull(argv[3], NULL, 0), argv[4], argv[5],
		    argv[6]);
	if (argc == 4 && strcmp(argv[2], "area") == 0)
		return t_area(strtoull(argv[3], NULL, 0));
	if (argc == 4 && strcmp(argv[2], "started") == 0)
		return t_started(strtoull(argv[3], NULL, 0));
	if ((argc == 4 || (argc == 5 && strcmp(argv[4], "started") == 0)) &&
	    strcmp(argv[2], "area-stuck") == 0)
		return t_area_stuck(argv[3], argc == 5);
	if (argc == 5 && strcmp(argv[2], "stuck") == 0) {
		/* A: KIB from the start of the area, up to all of it */
		alen = strtoul(argv[4], NULL, 0) * KIB;
		if (alen < SLOT || alen > PROTO_SHM_SLOTS * SLOT)
			goto usage;
		boff = alen + 1024 * KIB;
		aslots = alen == PROTO_SHM_SLOTS * SLOT ? ~0ULL :
		    (1ULL << (alen / SLOT)) - 1;
		return t_stuck(argv[3]);
	}
usage:
	fprintf(stderr, "usage: zcopy-client SOCK pipe SIZE SRC OUT1 OUT2 | "
	    "stuck MNT KIB | area SIZE | started SIZE | "
	    "area-stuck MNT [started]\n");
	return 1;
}
