/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fill-client.c: a liblarder client for t-adv-fill.sh and
 * t-adv-odirect.sh, which try to make the daemon break its word (built by
 * the test scripts against lib/liblarder.a; not installed).
 *
 *   fill-client SOCK sparse   100 cached 4 KiB pages with 4 KiB holes, then
 *                             one fill of the whole 1 MiB: every byte it
 *                             says the daemon has must read back right, in
 *                             this connection and a new one, and it must
 *                             say all of them
 *   fill-client SOCK odirect  one client sets O_DIRECT on the fd the daemon
 *                             passed it; another client's unaligned reads
 *                             must still work
 *   fill-client SOCK full     a map at its extent limit: a fill the daemon
 *                             cannot keep (the map forgets it at once)
 *                             must not be acknowledged
 *   fill-client SOCK put KEY SIZE      fill KEY (SIZE bytes) as far as the
 *                             daemon takes it, then hold it until stdin
 *                             ends
 *   fill-client SOCK handles KEY N     hold N other cookies, then acquire
 *                             KEY: 0 when that acquire fails (the table of
 *                             handles is full), 1 if not
 *   fill-client SOCK claimed KEY SIZE  a new connection: 0 if the daemon
 *                             claims none of KEY's bytes, 9 if it claims
 *                             some (after a failed durability barrier)
 *
 * Exit: 0 ok, 9 the daemon broke its word (a wrong byte, or bytes it
 * acknowledged and then did not have), 1 other errors.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <larder/larder.h>

#define VOL	"test,adv"
#define PAGE	4096

static const char *sock;

static uint8_t
pat(uint64_t off)
{
	uint64_t x = off * 2654435761ULL + 12345;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	return (uint8_t)(x >> 32);
}

static void
die(const char *what, int err)
{
	fprintf(stderr, "fill-client: %s: %s\n", what, larder_strerror(err));
	exit(1);
}

/* Connect and acquire key in VOL with object size size. */
static struct larder_cookie *
open_cookie(struct larder **l, const char *key, uint64_t size)
{
	struct larder_volume *v;
	struct larder_cookie *c;
	int err;

	if ((err = larder_connect(sock, 0, l)) < 0)
		die("connect", err);
	if ((err = larder_volume_acquire(*l, VOL, "c", 1, &v)) < 0)
		die("volume acquire", err);
	if ((err = larder_cookie_acquire(v, key, strlen(key), "a", 1, size,
	    &c)) < 0)
		die("cookie acquire", err);
	return c;
}

/* Read [off, off + len) and compare; 0 right, 1 not cached, 9 wrong. */
static int
check(struct larder_cookie *c, uint64_t off, size_t len)
{
	static uint8_t buf[1 << 20];
	ssize_t n;
	size_t i;

	n = larder_read(c, buf, len, off);
	if (n == -ENODATA)
		return 1;
	if (n != (ssize_t)len) {
		fprintf(stderr, "fill-client: read %zu at %llu: %s\n", len,
		    (unsigned long long)off, n < 0 ? larder_strerror(n) :
		    "short");
		return 9;
	}
	for (i = 0; i < len; i++)
		if (buf[i] != pat(off + i)) {
			fprintf(stderr, "fill-client: byte %llu is wrong\n",
			    (unsigned long long)(off + i));
			return 9;
		}
	return 0;
}

/* Count the pages of [0, n) that do not read back right. */
static unsigned
bad_pages(struct larder_cookie *c, uint64_t n, const char *who)
{
	unsigned bad = 0, nodata = 0;
	uint64_t p;
	int r;

	for (p = 0; p < n; p += PAGE) {
		r = check(c, p, n - p < PAGE ? n - p : PAGE);
		if (r == 1)
			nodata++;
		if (r)
			bad++;
	}
	printf("%s: %u of %llu acknowledged pages do not read back "
	    "(%u of them -ENODATA)\n", who, bad,
	    (unsigned long long)((n + PAGE - 1) / PAGE), nodata);
	return bad;
}

static int
t_sparse(void)
{
	static uint8_t buf[1 << 20];
	struct larder_cookie *c, *c2;
	struct larder *l, *l2;
	uint64_t i;
	ssize_t n;
	unsigned bad;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = pat(i);
	c = open_cookie(&l, "sparse", sizeof(buf));
	for (i = 0; i < 100; i++) {
		n = larder_write(c, buf + 2 * i * PAGE, PAGE, 2 * i * PAGE);
		if (n != PAGE)
			die("fill of one page", n < 0 ? (int)n : -EIO);
	}
	n = larder_write(c, buf, sizeof(buf), 0);
	printf("fill of %zu bytes over 101 holes: %zd\n", sizeof(buf), n);
	if (n < 0)
		die("fill of the whole", (int)n);
	bad = bad_pages(c, n, "same connection");
	c2 = open_cookie(&l2, "sparse", sizeof(buf));
	bad += bad_pages(c2, n, "new connection");
	larder_disconnect(l2);
	larder_disconnect(l);
	if (bad)
		return 9;
	if ((size_t)n != sizeof(buf)) {
		fprintf(stderr, "fill-client: the daemon kept %zd of %zu "
		    "bytes of a fill it could take whole\n", n, sizeof(buf));
		return 9;
	}
	return 0;
}

/* The fd of this process open on a regular file of size bytes that is not
 * a memfd (liblarder's shared area): the object's, passed by the daemon. */
static int
find_fd(uint64_t size)
{
	char lnk[64], target[PATH_MAX];
	struct dirent *e;
	struct stat sb;
	ssize_t tl;
	DIR *d;
	int fd = -1, n;

	if (!(d = opendir("/proc/self/fd")))
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n = atoi(e->d_name);
		snprintf(lnk, sizeof(lnk), "/proc/self/fd/%d", n);
		tl = readlink(lnk, target, sizeof(target) - 1);
		if (tl < 0 || fstat(n, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    (uint64_t)sb.st_size != size)
			continue;
		target[tl] = '\0';
		if (strncmp(target, "/memfd:", 7) != 0)
			fd = n;
	}
	closedir(d);
	return fd;
}

static int
t_odirect(void)
{
	static uint8_t buf[65536];
	struct larder_cookie *c, *c2;
	struct larder *l0, *l, *l2;
	size_t i;
	ssize_t n;
	int fd, fl, r;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = pat(i);
	c = open_cookie(&l0, "odirect", sizeof(buf));
	if ((n = larder_write(c, buf, sizeof(buf), 0)) != (ssize_t)sizeof(buf))
		die("fill", n < 0 ? (int)n : -EIO);
	/* the attacker: its acquire passes it an fd on the object */
	c = open_cookie(&l, "odirect", sizeof(buf));
	if ((fd = find_fd(sizeof(buf))) < 0) {
		fprintf(stderr, "fill-client: no fd on the object\n");
		return 1;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_DIRECT) < 0) {
		perror("fill-client: fcntl O_DIRECT");
		return 1;
	}
	printf("attacker: O_DIRECT set on fd %d\n", fd);
	/* the victim, acquired after the attacker set O_DIRECT */
	c2 = open_cookie(&l2, "odirect", sizeof(buf));
	r = check(c2, 1, 1000);
	if (r == 0)
		r = check(c2, 4097, 3);
	printf("victim: unaligned reads %s\n", r == 0 ? "work" : "fail");
	larder_disconnect(l2);
	larder_disconnect(l);
	larder_disconnect(l0);
	return r ? 9 : 0;
}

/*
 * Fill 2-byte extents, one a page (fills of the same page would wait for
 * each other's writeback), up to the map's limit of extents,
 * then one byte at offset 0: the map must forget one extent, and the new
 * one is the smallest. Whatever the fill answers, a byte it acknowledges
 * must read back in a new connection (offset 0 is in the first extents,
 * the ones a map reply always carries).
 */
static int
t_full(void)
{
	const uint64_t next = 4095, size = next * PAGE;
	struct timespec pause = { 0, 50000000 };
	struct larder_cookie *c, *c2;
	struct larder *l, *l2;
	uint8_t b[2];
	uint64_t i;
	ssize_t n;
	int r, bad = 0, tries;

	c = open_cookie(&l, "full", size);
	for (i = 0; i < next; i++) {
		b[0] = pat(i * PAGE + 2);
		b[1] = pat(i * PAGE + 3);
		/* a loaded daemon may shed fills for a while: try again,
		 * for at most 20 s */
		for (tries = 0; (n = larder_write(c, b, 2, i * PAGE + 2)) ==
		    -ENOBUFS && tries < 400; tries++)
			nanosleep(&pause, NULL);
		if (n != 2)
			die("two-byte fill", n < 0 ? (int)n : -EIO);
	}
	b[0] = pat(0);
	n = larder_write(c, b, 1, 0);
	printf("fill beyond the map's limit: %zd%s\n", n, n < 0 ?
	    " (refused)" : "");
	c2 = open_cookie(&l2, "full", size);
	if (n == 1 && (r = check(c2, 0, 1)) != 0) {
		fprintf(stderr, "fill-client: an acknowledged byte %s\n",
		    r == 1 ? "is not cached" : "is wrong");
		bad = 1;
	}
	larder_disconnect(l2);
	larder_disconnect(l);
	return bad ? 9 : 0;
}

static int
t_put(const char *key, uint64_t size)
{
	static uint8_t buf[4 << 20];	/* liblarder's shared area: one fill */
	struct larder_cookie *c;
	struct larder *l;
	uint64_t off, i;
	ssize_t n;

	c = open_cookie(&l, key, size);
	for (off = 0; off < size; off += n) {
		n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (i = 0; i < (uint64_t)n; i++)
			buf[i] = pat(off + i);
		if ((n = larder_write(c, buf, n, off)) <= 0)
			break;
	}
	/* refused is fine too: a cache may always say no */
	printf("put %s: %llu bytes acknowledged%s\n", key,
	    (unsigned long long)off, off < size ? " (then refused)" : "");
	fflush(stdout);
	while (getchar() != EOF)
		;
	larder_disconnect(l);
	return 0;
}

static int
t_claimed(const char *key, uint64_t size)
{
	struct larder_cookie *c;
	struct larder *l;
	uint64_t off;
	int r, claimed = 0;

	c = open_cookie(&l, key, size);
	for (off = 0; off < size; off += PAGE)
		if ((r = larder_is_cached(c, off, PAGE)) == 1)
			claimed++;
	printf("%s: %d of %llu pages claimed\n", key, claimed,
	    (unsigned long long)(size / PAGE));
	larder_disconnect(l);
	return claimed ? 9 : 0;
}

static int
t_handles(const char *key, unsigned n)
{
	struct larder_volume *v;
	struct larder_cookie *c;
	struct larder *l;
	char k[32];
	unsigned i;
	int err;

	if ((err = larder_connect(sock, 0, &l)) < 0)
		die("connect", err);
	if ((err = larder_volume_acquire(l, VOL, "c", 1, &v)) < 0)
		die("volume acquire", err);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "h%u", i);
		if ((err = larder_cookie_acquire(v, k, strlen(k), "a", 1, 1,
		    &c)) < 0) {
			fprintf(stderr, "fill-client: cookie %u: %s\n", i,
			    larder_strerror(err));
			return 1;
		}
	}
	err = larder_cookie_acquire(v, key, strlen(key), "a", 1, PAGE, &c);
	printf("acquire of %s after %u cookies: %s\n", key, n,
	    err < 0 ? larder_strerror(err) : "ok");
	larder_disconnect(l);
	return err < 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[2], "handles") == 0) {
		sock = argv[1];
		return t_handles(argv[3], strtoul(argv[4], NULL, 0));
	}
	if (argc == 5 && strcmp(argv[2], "put") == 0) {
		sock = argv[1];
		return t_put(argv[3], strtoull(argv[4], NULL, 0));
	}
	if (argc == 5 && strcmp(argv[2], "claimed") == 0) {
		sock = argv[1];
		return t_claimed(argv[3], strtoull(argv[4], NULL, 0));
	}
	if (argc != 3) {
		fprintf(stderr, "usage: fill-client SOCK sparse|odirect|full\n"
		    "       fill-client SOCK put|claimed KEY SIZE\n");
		return 1;
	}
	sock = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[2], "sparse") == 0)
		return t_sparse();
	if (strcmp(argv[2], "odirect") == 0)
		return t_odirect();
	if (strcmp(argv[2], "full") == 0)
		return t_full();
	fprintf(stderr, "fill-client: unknown test %s\n", argv[2]);
	return 1;
}
