/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * core-client.c: a liblarder client for the t-core-* system tests (built by
 * the test scripts against lib/liblarder.a; not installed).
 *
 *   core-client SOCK work STATE NKEYS SEED OPS   store, invalidate and read
 *   core-client SOCK verify STATE NKEYS          read every key back
 *   core-client SOCK put VOL KEY AUX SIZE        fill an object with pattern
 *   core-client SOCK check VOL KEY AUX SIZE      read it back: 0 all cached
 *                                                and right, 3 not cached
 *   core-client SOCK share                       two connections share an
 *                                                object; one invalidates
 *
 * Every object's aux is "v<version>" and its bytes are a pattern of
 * (key, version), so a byte served under the wrong aux is detected. STATE
 * is a file of NKEYS u32 versions: the latest version any worker started
 * to store, written before the first byte of it is sent.
 * Exit: 0 ok, 9 a wrong byte was served, 3 not cached, 1 other errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <larder/larder.h>

#define VOL	"test,core,crash"

static uint8_t
pat(unsigned key, unsigned ver, uint64_t off)
{
	uint64_t x = (key * 1000003ULL) ^ (ver * 7919ULL) ^ (off * 2654435761ULL);

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	return (uint8_t)(x >> 32);
}

static uint64_t
obj_size(unsigned key, unsigned ver)
{
	return 1 + (pat(key, ver, 1) | pat(key, ver, 2) << 8 |
	    (uint64_t)pat(key, ver, 3) << 16) % 300000;
}

static void
keyname(char *out, size_t n, unsigned key)
{
	snprintf(out, n, "obj-%u", key);
}

static void
auxname(char *out, size_t n, unsigned ver)
{
	snprintf(out, n, "v%u", ver);
}

/* Read what is cached of (key, ver) and compare; 1 on a wrong byte. */
static int
check_cookie(struct larder_cookie *c, unsigned key, unsigned ver,
    uint64_t size, uint64_t *cached)
{
	static uint8_t buf[65536];
	uint64_t off, i;
	size_t len;
	ssize_t n;

	*cached = 0;
	for (off = 0; off < size; off += len) {
		len = size - off > sizeof(buf) ? sizeof(buf) : size - off;
		n = larder_read(c, buf, len, off);
		if (n == -ENODATA)
			continue;
		if (n < 0) {
			fprintf(stderr, "read obj-%u v%u @%llu: %s\n", key, ver,
			    (unsigned long long)off, larder_strerror(n));
			return -1;
		}
		if ((size_t)n != len)
			return 1;
		for (i = 0; i < len; i++)
			if (buf[i] != pat(key, ver, off + i)) {
				fprintf(stderr, "WRONG BYTE obj-%u v%u @%llu: "
				    "%02x != %02x\n", key, ver,
				    (unsigned long long)(off + i), buf[i],
				    pat(key, ver, off + i));
				return 1;
			}
		*cached += len;
	}
	return 0;
}

static int
fill(struct larder_cookie *c, unsigned key, unsigned ver, uint64_t size,
    unsigned pieces, unsigned seed)
{
	static uint8_t buf[300001];
	uint64_t i, start, end, p;
	unsigned k;
	ssize_t n;

	for (i = 0; i < size; i++)
		buf[i] = pat(key, ver, i);
	for (k = 0; k < pieces; k++) {
		p = (seed + k * 7) % pieces;
		start = size * p / pieces;
		end = size * (p + 1) / pieces;
		if (end <= start)
			continue;
		n = larder_write(c, buf + start, end - start, start);
		if (n < 0 && n != -ENOBUFS)
			return (int)n;
	}
	return 0;
}

static uint32_t *
map_state(const char *path, unsigned nkeys)
{
	uint32_t *s;
	int fd;

	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, nkeys * sizeof(uint32_t)) < 0)
		return NULL;
	s = mmap(NULL, nkeys * sizeof(uint32_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	close(fd);
	return s == MAP_FAILED ? NULL : s;
}

static int
work(struct larder *l, uint32_t *state, unsigned nkeys, unsigned seed,
    unsigned ops)
{
	struct larder_volume *v;
	struct larder_cookie *c;
	char key[32], aux[32];
	unsigned i, k, ver, act;
	uint64_t cached, size;
	int err;

	srandom(seed);
	if ((err = larder_volume_acquire(l, VOL, "c1", 2, &v)) < 0)
		return err;
	for (i = 0; i < ops; i++) {
		k = random() % nkeys;
		act = random() % 4;
		ver = state[k];
		if (act == 0 || ver == 0)
			ver = ++state[k];	/* a new version: recorded first */
		size = obj_size(k, ver);
		keyname(key, sizeof(key), k);
		auxname(aux, sizeof(aux), ver);
		err = larder_cookie_acquire(v, key, strlen(key), aux,
		    strlen(aux), size, &c);
		if (err < 0)
			return err;
		if (check_cookie(c, k, ver, size, &cached) > 0)
			return 1;
		if (act == 1) {
			/* invalidate to a newer version, then fill it */
			ver = ++state[k];
			size = obj_size(k, ver);
			auxname(aux, sizeof(aux), ver);
			err = larder_invalidate(c, aux, strlen(aux), size);
			if (err < 0)
				return err;
		}
		if (act != 3 && (err = fill(c, k, ver, size,
		    1 + random() % 4, random())) < 0)
			return err;
		if (check_cookie(c, k, ver, size, &cached) > 0)
			return 1;
		err = larder_cookie_relinquish(c, 0);
		if (err < 0)
			return err;
	}
	return 0;
}

static int
verify(struct larder *l, uint32_t *state, unsigned nkeys)
{
	struct larder_volume *v;
	struct larder_cookie *c;
	char key[32], aux[32];
	uint64_t cached, total = 0;
	unsigned k, objs = 0;
	int err, r;

	if ((err = larder_volume_acquire(l, VOL, "c1", 2, &v)) < 0)
		return err;
	for (k = 0; k < nkeys; k++) {
		if (!state[k])
			continue;
		keyname(key, sizeof(key), k);
		auxname(aux, sizeof(aux), state[k]);
		err = larder_cookie_acquire(v, key, strlen(key), aux,
		    strlen(aux), obj_size(k, state[k]), &c);
		if (err < 0)
			return err;
		r = check_cookie(c, k, state[k], obj_size(k, state[k]),
		    &cached);
		larder_cookie_relinquish(c, 0);
		if (r)
			return r;
		total += cached;
		objs += cached > 0;
	}
	printf("verified %u objects with data, %llu bytes\n", objs,
	    (unsigned long long)total);
	return 0;
}

/*
 * Two connections hold one object. A fills version 1, B reads it; A
 * invalidates to version 2 and fills it: B must keep reading version 1
 * bytes (its fd is the old file) or miss, never read version 2 under its
 * version 1 aux; B's fills are refused. A fresh acquire with version 2
 * sees version 2.
 */
static int
share(const char *sock)
{
	struct larder *a, *b;
	struct larder_volume *va, *vb;
	struct larder_cookie *ca, *cb, *cb2;
	uint64_t size = 200000, cached;
	static uint8_t buf[200000];
	int err, r;

	if ((err = larder_connect(sock, 0, &a)) < 0 ||
	    (err = larder_connect(sock, 0, &b)) < 0 ||
	    (err = larder_volume_acquire(a, "test,share", "c1", 2, &va)) < 0 ||
	    (err = larder_volume_acquire(b, "test,share", "c1", 2, &vb)) < 0 ||
	    (err = larder_cookie_acquire(va, "k", 1, "v1", 2, size, &ca)) < 0 ||
	    (err = larder_cookie_acquire(vb, "k", 1, "v1", 2, size, &cb)) < 0)
		goto fail;
	if ((err = fill(ca, 7, 1, size, 2, 0)) < 0)
		goto fail;
	if ((r = check_cookie(cb, 7, 1, size, &cached)) != 0)
		return r > 0 ? 9 : 1;
	if (cached != size) {
		fprintf(stderr, "share: B sees %llu of %llu bytes of A's fill\n",
		    (unsigned long long)cached, (unsigned long long)size);
		return 1;
	}
	if ((err = larder_invalidate(ca, "v2", 2, size)) < 0 ||
	    (err = fill(ca, 7, 2, size, 3, 1)) < 0)
		goto fail;
	if ((r = check_cookie(ca, 7, 2, size, &cached)) != 0)
		return r > 0 ? 9 : 1;
	/* B, still on v1: old bytes or nothing, whatever it asks */
	if ((r = check_cookie(cb, 7, 1, size, &cached)) != 0)
		return r > 0 ? 9 : 1;
	(void)larder_is_cached(cb, 0, size);	/* may refresh */
	if ((r = check_cookie(cb, 7, 1, size, &cached)) != 0)
		return r > 0 ? 9 : 1;
	err = larder_write(cb, buf, 100, 0);
	if (err >= 0) {
		fprintf(stderr, "share: a stale cookie's fill was taken\n");
		return 9;
	}
	if ((r = check_cookie(ca, 7, 2, size, &cached)) != 0)
		return r > 0 ? 9 : 1;
	if ((err = larder_cookie_acquire(vb, "k", 1, "v2", 2, size, &cb2)) < 0)
		goto fail;
	if ((r = check_cookie(cb2, 7, 2, size, &cached)) != 0)
		return r > 0 ? 9 : 1;
	if (cached != size) {
		fprintf(stderr, "share: a new v2 cookie sees %llu bytes\n",
		    (unsigned long long)cached);
		return 1;
	}
	larder_disconnect(a);
	larder_disconnect(b);
	return 0;
fail:
	fprintf(stderr, "share: %s\n", larder_strerror(err));
	return 1;
}

int
main(int argc, char **argv)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint32_t *state;
	uint64_t size, cached;
	unsigned nkeys;
	int err;

	if (argc < 3)
		return 1;
	if (strcmp(argv[2], "share") == 0)
		return share(argv[1]);
	if ((err = larder_connect(argv[1], 0, &l)) < 0) {
		fprintf(stderr, "connect: %s\n", larder_strerror(err));
		return 5;
	}
	if (strcmp(argv[2], "work") == 0 && argc == 7) {
		nkeys = atoi(argv[4]);
		if (!(state = map_state(argv[3], nkeys)))
			return 1;
		err = work(l, state, nkeys, atoi(argv[5]), atoi(argv[6]));
		larder_disconnect(l);
		/* a daemon killed under us is what the crash test does */
		return err == 1 ? 9 : 0;
	}
	if (strcmp(argv[2], "verify") == 0 && argc == 5) {
		nkeys = atoi(argv[4]);
		if (!(state = map_state(argv[3], nkeys)))
			return 1;
		err = verify(l, state, nkeys);
		larder_disconnect(l);
		if (err < 0)
			fprintf(stderr, "verify: %s\n", larder_strerror(err));
		return err == 1 ? 9 : err ? 1 : 0;
	}
	if ((strcmp(argv[2], "put") == 0 || strcmp(argv[2], "check") == 0) &&
	    argc == 7) {
		size = strtoull(argv[6], NULL, 10);
		if (size > 300000)
			return 1;
		if ((err = larder_volume_acquire(l, argv[3], "c1", 2, &v)) < 0 ||
		    (err = larder_cookie_acquire(v, argv[4], strlen(argv[4]),
		    argv[5], strlen(argv[5]), size, &c)) < 0) {
			fprintf(stderr, "acquire: %s\n", larder_strerror(err));
			return 1;
		}
		if (argv[2][0] == 'p') {
			err = fill(c, 1, 1, size, 3, 1);
			if (err < 0)
				fprintf(stderr, "fill: %s\n",
				    larder_strerror(err));
			larder_disconnect(l);
			return err < 0 ? 1 : 0;
		}
		err = check_cookie(c, 1, 1, size, &cached);
		larder_disconnect(l);
		if (err)
			return err == 1 ? 9 : 1;
		return cached == size ? 0 : 3;
	}
	fprintf(stderr, "usage: see core-client.c\n");
	return 1;
}
