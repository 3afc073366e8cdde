/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gen_tree.c: generate a cachefiles tree for benchmarks and tests.
 *
 *   gen_tree DIR NOBJECTS [NVOLUMES [MAXSIZE]]
 *
 * Makes DIR/cache/I<volume>/@00..@ff and DIR/graveyard/ (0700), then
 * NOBJECTS objects spread over NVOLUMES volumes (default 4): 9p-style keys
 * (an 8-byte little-endian qid path, cooked with cfmt_cook_key, so names
 * look like "Ta8202b,"), placed in the fan-out directory cfmt_fanout gives,
 * each with 1..MAXSIZE bytes of data (default 4096), a valid
 * user.CacheFiles.cache xattr (8 bytes of aux) and a random atime within
 * the last 30 days. Two processes share the work (one per core).
 * Objects that exist already are kept: run it again to top a tree up
 * after a benchmark deleted some.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cfmt.h"

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static void
gen(int cachefd, unsigned nvol, uint64_t from, uint64_t to, unsigned maxsize)
{
	static char buf[1 << 16];
	char vname[64], name[CFMT_MAX_NAME];
	int vfd[64], ffd[64][256];
	uint32_t vhash[64];
	struct cfmt_obj o;
	uint8_t x[CFMT_OBJ_XATTR_HDR + 8], key[8];
	struct timespec ts[2];
	time_t now = time(NULL);
	uint64_t i, r;
	unsigned v, f, size;
	int fd, xl;

	memset(buf, 'x', sizeof(buf));
	for (v = 0; v < nvol; v++) {
		snprintf(vname, sizeof(vname), "bench,vol%u", v);
		vhash[v] = cfmt_volume_hash(vname, strlen(vname));
		snprintf(vname, sizeof(vname), "Ibench,vol%u", v);
		if ((vfd[v] = openat(cachefd, vname, O_RDONLY | O_DIRECTORY)) < 0)
			die(vname);
		for (f = 0; f < 256; f++) {
			char fan[4];

			snprintf(fan, sizeof(fan), "@%02x", f);
			if ((ffd[v][f] = openat(vfd[v], fan,
			    O_RDONLY | O_DIRECTORY)) < 0)
				die(fan);
		}
	}
	for (i = from; i < to; i++) {
		r = mix(i + 1);
		v = i % nvol;
		/* a 9p qid path: unique per object */
		for (f = 0; f < 8; f++)
			key[f] = (uint8_t)((i + 0x100000) >> (8 * f));
		if (cfmt_cook_key(key, 8, name, sizeof(name)) < 0)
			die("cook");
		f = cfmt_fanout(key, 8, vhash[v]);
		size = 1 + r % maxsize;
		fd = openat(ffd[v][f], name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;	/* topping up a tree: keep what is there */
		if (fd < 0)
			die(name);
		if (write(fd, buf, size) != (ssize_t)size)
			die("write");
		memset(&o, 0, sizeof(o));
		o.object_size = size;
		o.type = CFMT_TYPE_DATA;
		o.content = CFMT_CONTENT_ALL;
		o.aux_len = 8;
		memcpy(o.aux, &r, 8);
		if ((xl = cfmt_obj_encode(&o, x, sizeof(x))) < 0)
			die("encode");
		if (fsetxattr(fd, CFMT_XATTR, x, xl, 0) < 0)
			die("fsetxattr");
		ts[0].tv_sec = now - (time_t)((r >> 20) % (30 * 86400));
		ts[0].tv_nsec = 0;
		ts[1].tv_sec = 0;
		ts[1].tv_nsec = UTIME_OMIT;
		if (futimens(fd, ts) < 0)
			die("futimens");
		close(fd);
	}
}

int
main(int argc, char **argv)
{
	unsigned nvol = 4, maxsize = 4096, v, f;
	uint64_t n;
	int dfd, cfd, vfd, st;
	char name[64];
	uint8_t vx[8];
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: gen_tree DIR NOBJECTS [NVOLUMES [MAXSIZE]]\n");
		return 2;
	}
	n = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		nvol = atoi(argv[3]);
	if (argc > 4)
		maxsize = atoi(argv[4]);
	if (nvol < 1 || nvol > 64 || maxsize < 1 || maxsize > 65536) {
		fprintf(stderr, "gen_tree: 1..64 volumes, 1..65536 bytes\n");
		return 2;
	}
	if ((dfd = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0)
		die(argv[1]);
	if (mkdirat(dfd, "cache", 0700) < 0 && errno != EEXIST)
		die("cache");
	if (mkdirat(dfd, "graveyard", 0700) < 0 && errno != EEXIST)
		die("graveyard");
	if ((cfd = openat(dfd, "cache", O_RDONLY | O_DIRECTORY)) < 0)
		die("cache");
	for (v = 0; v < nvol; v++) {
		snprintf(name, sizeof(name), "Ibench,vol%u", v);
		if (mkdirat(cfd, name, 0700) < 0 && errno != EEXIST)
			die(name);
		if ((vfd = openat(cfd, name, O_RDONLY | O_DIRECTORY)) < 0)
			die(name);
		if (cfmt_vol_encode(NULL, 0, vx, sizeof(vx)) < 0 ||
		    fsetxattr(vfd, CFMT_XATTR, vx, CFMT_VOL_XATTR_HDR, 0) < 0)
			die("volume xattr");
		for (f = 0; f < 256; f++) {
			snprintf(name, sizeof(name), "@%02x", f);
			if (mkdirat(vfd, name, 0700) < 0 && errno != EEXIST)
				die(name);
		}
		close(vfd);
	}
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		gen(cfd, nvol, 0, n / 2, maxsize);
		_exit(0);
	}
	gen(cfd, nvol, n / 2, n, maxsize);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	return 0;
}
