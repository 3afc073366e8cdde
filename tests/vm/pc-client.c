/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pc-client: the liblarder client of tests/vm/t-powercut.sh and
 * t-flakey.sh (built on the host against lib/liblarder.a and lib/cfmt.c,
 * run in the VM).
 *
 *   pc-client SOCK work ID NKEYS SEED OPS [BASE]
 *	OPS random operations on keys pc-BASE .. pc-(BASE+NKEYS-1) (BASE 0) of volume
 *	VOL: fill whole (in 1 to 4 pieces), fill in part, invalidate to a
 *	new version and fill, drop (relinquish with retire). Every byte read
 *	back is checked. With $PC_MARK set, `$PC_MARK NAME' is run after
 *	every fill the daemon took (a dm-log-writes mark).
 *   pc-client - disk CACHEDIR NKEYS
 *	no daemon: read each object's xattrs straight from the disk and
 *	check that every byte they claim (content all, or the ranges of
 *	user.larder.map) is there and right. Prints "disk: N objects, B
 *	bytes claimed".
 *   pc-client SOCK serve CACHEDIR NKEYS
 *	for each object on disk, acquire it through the daemon with the aux
 *	and size its xattr has, read every range the disk claims (each must
 *	be served whole) and the whole object in 4 KiB steps (whatever is
 *	served must be right). Prints "serve: N objects, B bytes served".
 *
 * Content: the aux of a version is "v<ver>" and byte i of (key, ver) is
 * pat(key, ver, i); the size is a function of (key, ver) too. So any state
 * of the disk can be checked with no copy of what was stored: a byte that
 * differs from its pattern was never stored under that key and aux.
 * Exit: 0 ok, 9 a wrong byte (served or claimed on disk), 1 other errors,
 * 5 cannot connect.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <larder/larder.h>

#include "cfmt.h"

#define VOL	"test,powercut"
#define VOLCOH	"c1"
#define MAXSIZE	400000

static uint8_t
pat(unsigned key, unsigned ver, uint64_t off)
{
	uint64_t x = (key * 1000003ULL) ^ (ver * 7919ULL) ^
	    ((off + 1) * 2654435761ULL);

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint8_t)x;
}

static uint64_t
obj_size(unsigned key, unsigned ver)
{
	uint64_t h = (key + 1) * 0x9e3779b97f4a7c15ULL ^ (ver + 7) * 0xc2b2ae3dULL;

	h ^= h >> 31;
	return 1 + h % MAXSIZE;
}

static int
check_bytes(const uint8_t *buf, size_t len, unsigned key, unsigned ver,
    uint64_t off, const char *what)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != pat(key, ver, off + i)) {
			fprintf(stderr, "WRONG BYTE (%s) pc-%u v%u @%" PRIu64
			    ": %02x, stored %02x\n", what, key, ver, off + i,
			    buf[i], pat(key, ver, off + i));
			return 9;
		}
	return 0;
}

/* Read the whole object in 4 KiB steps; every byte served must be right. */
static int
check_cookie(struct larder_cookie *c, unsigned key, unsigned ver,
    uint64_t size, uint64_t *served)
{
	static uint8_t buf[4096];
	uint64_t off;
	size_t len;
	ssize_t n;

	for (off = 0; off < size; off += len) {
		len = size - off > sizeof(buf) ? sizeof(buf) : size - off;
		n = larder_read(c, buf, len, off);
		if (n == -ENODATA)
			continue;
		if (n < 0) {
			fprintf(stderr, "read pc-%u v%u @%" PRIu64 ": %s\n", key,
			    ver, off, larder_strerror(n));
			return 1;
		}
		if ((size_t)n != len) {
			fprintf(stderr, "short read pc-%u v%u @%" PRIu64 "\n",
			    key, ver, off);
			return 9;
		}
		if (check_bytes(buf, len, key, ver, off, "served"))
			return 9;
		*served += len;
	}
	return 0;
}

static void
mark(const char *fmt, unsigned a, unsigned b)
{
	const char *m = getenv("PC_MARK");
	char cmd[256];

	if (!m || !*m)
		return;
	snprintf(cmd, sizeof(cmd), "%s ", m);
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, a, b);
	if (system(cmd) != 0)
		fprintf(stderr, "pc-client: '%s' failed\n", cmd);
}

/* Fill pieces of (key, ver): all of them, or skip some (partial). Returns
 * the bytes the daemon took, or -errno other than -ENOBUFS. */
static int64_t
fill(struct larder_cookie *c, unsigned key, unsigned ver, uint64_t size,
    unsigned pieces, int partial)
{
	static uint8_t buf[MAXSIZE];
	uint64_t i, start, end, took = 0;
	unsigned k, p, first = random();
	ssize_t n;

	for (i = 0; i < size; i++)
		buf[i] = pat(key, ver, i);
	for (k = 0; k < pieces; k++) {
		p = (first + k) % pieces;
		if (partial && (k % 2))
			continue;
		start = size * p / pieces;
		end = size * (p + 1) / pieces;
		if (end <= start)
			continue;
		n = larder_write(c, buf + start, end - start, start);
		/* full, or another client changed the object: a cache may
		 * refuse */
		if (n == -ENOBUFS || n == -ESTALE)
			continue;
		if (n < 0)
			return n;
		took += n;
	}
	return took;
}

static int
work(struct larder *l, unsigned id, unsigned base, unsigned nkeys,
    unsigned seed, unsigned ops)
{
	struct larder_volume *v;
	struct larder_cookie *c;
	char key[32], aux[32];
	unsigned i, k, ver, act, counter = 0;
	uint64_t size, served = 0;
	int64_t took;
	int err;

	srandom(seed);
	if ((err = larder_volume_acquire(l, VOL, VOLCOH, 2, &v)) < 0)
		return err;
	for (i = 0; i < ops; i++) {
		k = base + random() % nkeys;
		act = random() % 5;
		ver = id << 20 | ++counter;
		size = obj_size(k, ver);
		snprintf(key, sizeof(key), "pc-%u", k);
		snprintf(aux, sizeof(aux), "v%u", ver);
		err = larder_cookie_acquire(v, key, strlen(key), aux,
		    strlen(aux), size, &c);
		if (err < 0)
			return err;
		if (act == 0) {			/* drop */
			err = larder_cookie_relinquish(c, 1);
			if (err < 0 && err != -ESTALE)
				return err;
			continue;
		}
		if (act == 1) {			/* invalidate, then fill */
			if ((took = fill(c, k, ver, size, 2, 1)) < 0)
				return (int)took;
			ver = id << 20 | ++counter;
			size = obj_size(k, ver);
			snprintf(aux, sizeof(aux), "v%u", ver);
			err = larder_invalidate(c, aux, strlen(aux), size);
			if (err == -ESTALE) {	/* another client was first */
				larder_cookie_relinquish(c, 0);
				continue;
			}
			if (err < 0)
				return err;
		}
		took = fill(c, k, ver, size, 1 + random() % 4, act == 2);
		if (took < 0)
			return (int)took;
		if (took > 0)
			mark("fill-%u-%u", k, ver);
		if ((err = check_cookie(c, k, ver, size, &served)) != 0)
			return err;
		if ((err = larder_cookie_relinquish(c, 0)) < 0 &&
		    err != -ESTALE)
			return err;
	}
	printf("client %u: %u ops, %" PRIu64 " bytes read back\n", id, ops,
	    served);
	return 0;
}

struct obj {
	unsigned key, ver;
	uint64_t size;
	struct cfmt_obj o;
	struct cfmt_map map;		/* what the disk claims */
};

/* Read the xattrs of an object file; 1 when it claims data, 0 not, <0 on
 * a file that is not one of ours. */
static int
read_obj(int fd, const char *name, struct obj *ob)
{
	static uint8_t x[65536];
	ssize_t n;
	char *end;

	memset(ob, 0, sizeof(*ob));
	cfmt_map_init(&ob->map);
	if (strncmp(name, "Dpc-", 4) != 0)
		return -EINVAL;
	ob->key = strtoul(name + 4, &end, 10);
	if (*end)
		return -EINVAL;
	n = fgetxattr(fd, CFMT_XATTR, x, sizeof(x));
	if (n < 0)
		return 0;			/* never claimed */
	if (cfmt_obj_decode(x, n, &ob->o) < 0 || ob->o.aux_len < 2 ||
	    ob->o.aux[0] != 'v')
		return -EINVAL;
	ob->o.aux[ob->o.aux_len] = 0;
	ob->ver = strtoul((char *)ob->o.aux + 1, &end, 10);
	ob->size = ob->o.object_size;
	if (ob->size != obj_size(ob->key, ob->ver)) {
		fprintf(stderr, "%s: size %" PRIu64 " is not the size of v%u\n",
		    name, ob->size, ob->ver);
		return -EINVAL;
	}
	if (ob->o.content == CFMT_CONTENT_ALL)
		return cfmt_map_add(&ob->map, 0, ob->size) < 0 ? -ENOMEM : 1;
	if (ob->o.content != CFMT_CONTENT_MAP)
		return 0;
	n = fgetxattr(fd, CFMT_MAP_XATTR, x, sizeof(x));
	if (n < 0)
		return 0;
	/* a map that breaks the rules claims nothing (cfmt.h) */
	if (cfmt_map_decode(x, n, ob->size, &ob->map) < 0)
		return 0;
	return ob->map.count > 0;
}

/* Call fn for every object file of the volume under cachedir. */
static int
each_obj(const char *cachedir, int (*fn)(int fd, const char *name,
    struct obj *ob, void *arg), void *arg)
{
	char dir[4096];
	struct dirent *de;
	struct obj ob;
	DIR *d;
	int i, fd, r, err = 0;

	for (i = 0; i < 256 && !err; i++) {
		snprintf(dir, sizeof(dir), "%s/cache/I%s/@%02x", cachedir, VOL, i);
		if (!(d = opendir(dir)))
			continue;
		while (!err && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW);
			if (fd < 0) {
				fprintf(stderr, "%s/%s: %s\n", dir, de->d_name,
				    strerror(errno));
				err = 1;
				break;
			}
			r = read_obj(fd, de->d_name, &ob);
			if (r < 0) {
				fprintf(stderr, "%s/%s: not an object of this "
				    "test, or a bad xattr\n", dir, de->d_name);
				err = 9;
			} else if (r > 0)
				err = fn(fd, de->d_name, &ob, arg);
			cfmt_map_free(&ob.map);
			close(fd);
		}
		closedir(d);
	}
	return err;
}

struct tally {
	unsigned objs;
	uint64_t bytes;
	struct larder_volume *v;
};

static int
disk_one(int fd, const char *name, struct obj *ob, void *arg)
{
	static uint8_t buf[MAXSIZE];
	struct tally *t = arg;
	uint32_t e;
	uint64_t s, len;
	ssize_t n;

	for (e = 0; e < ob->map.count; e++) {
		s = ob->map.ext[e].start;
		len = ob->map.ext[e].len;
		n = pread(fd, buf, len, s);
		if (n < 0 || (uint64_t)n != len) {
			fprintf(stderr, "%s: claims [%" PRIu64 ", +%" PRIu64
			    ") but the file ends before\n", name, s, len);
			return 9;
		}
		if (check_bytes(buf, len, ob->key, ob->ver, s, "on disk"))
			return 9;
		t->bytes += len;
	}
	t->objs++;
	return 0;
}

static int
serve_one(int fd, const char *name, struct obj *ob, void *arg)
{
	static uint8_t buf[MAXSIZE];
	struct tally *t = arg;
	struct larder_cookie *c;
	char key[32];
	uint64_t served = 0;
	uint32_t e;
	ssize_t n;
	int err;

	(void)fd;
	snprintf(key, sizeof(key), "pc-%u", ob->key);
	err = larder_cookie_acquire(t->v, key, strlen(key), ob->o.aux,
	    ob->o.aux_len, ob->size, &c);
	if (err < 0) {
		fprintf(stderr, "%s: acquire: %s\n", name, larder_strerror(err));
		return 1;
	}
	for (e = 0; e < ob->map.count; e++) {
		n = larder_read(c, buf, ob->map.ext[e].len, ob->map.ext[e].start);
		if (n < 0) {
			fprintf(stderr, "%s: the disk claims [%" PRIu64 ", +%"
			    PRIu64 ") but the daemon does not serve it: %s\n",
			    name, ob->map.ext[e].start, ob->map.ext[e].len,
			    larder_strerror((int)n));
			return 1;
		}
		if (check_bytes(buf, n, ob->key, ob->ver, ob->map.ext[e].start,
		    "served"))
			return 9;
	}
	if ((err = check_cookie(c, ob->key, ob->ver, ob->size, &served)) != 0)
		return err;
	larder_cookie_relinquish(c, 0);
	t->objs++;
	t->bytes += served;
	return 0;
}

int
main(int argc, char **argv)
{
	struct larder *l;
	struct tally t = { 0, 0, NULL };
	int err;

	if (argc == 5 && strcmp(argv[2], "disk") == 0) {
		err = each_obj(argv[3], disk_one, &t);
		printf("disk: %u objects, %" PRIu64 " bytes claimed\n", t.objs,
		    t.bytes);
		return err;
	}
	if (argc < 3)
		goto usage;
	if ((err = larder_connect(argv[1], 0, &l)) < 0) {
		fprintf(stderr, "connect: %s\n", larder_strerror(err));
		return 5;
	}
	if ((argc == 7 || argc == 8) && strcmp(argv[2], "work") == 0) {
		err = work(l, atoi(argv[3]), argc == 8 ? atoi(argv[7]) : 0,
		    atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
		if (err < 0)
			fprintf(stderr, "work: %s\n", larder_strerror(err));
		larder_disconnect(l);
		return err == 9 ? 9 : err ? 1 : 0;
	}
	if (argc == 5 && strcmp(argv[2], "serve") == 0) {
		if ((err = larder_volume_acquire(l, VOL, VOLCOH, 2, &t.v)) < 0) {
			fprintf(stderr, "volume: %s\n", larder_strerror(err));
			return 1;
		}
		err = each_obj(argv[3], serve_one, &t);
		printf("serve: %u objects, %" PRIu64 " bytes served\n", t.objs,
		    t.bytes);
		larder_disconnect(l);
		return err;
	}
usage:
	fprintf(stderr, "usage: see pc-client.c\n");
	return 1;
}
