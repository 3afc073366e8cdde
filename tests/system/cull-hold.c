/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cull-hold.c: a liblarder client that fills objects and holds them, for
 * the t-cull-* system tests (built by the tests against lib/liblarder.a).
 *
 *   cull-hold SOCK VOLUME SIZE KEY...
 *
 * Acquires every KEY (aux "a1", object size SIZE) and fills it with a
 * pattern of (key, offset), 64 KiB per write, until it is whole or the
 * daemon answers -ENOBUFS. Then prints "held N" (N objects completely
 * written) and waits for commands on stdin:
 *   check   read back every byte that was accepted; prints "ok" or
 *           "bad KEY OFFSET" (a write that was accepted and lost)
 *   EOF     relinquish everything and exit 0
 * Exit: 0 ok, 1 error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <larder/larder.h>

#define CHUNK	65536

static uint8_t
pat(unsigned key, uint64_t off)
{
	uint64_t x = (key + 1) * 0x9e3779b97f4a7c15ULL ^ off * 0xff51afd7ed558ccdULL;

	return (uint8_t)(x >> 40);
}

int
main(int argc, char **argv)
{
	static uint8_t buf[CHUNK], rb[CHUNK];
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie **c;
	uint64_t size, *accepted, off, i, len;
	unsigned nkeys, k, full = 0, held = 0;
	char line[64];
	ssize_t n;
	int err;

	if (argc < 5) {
		fprintf(stderr, "usage: cull-hold SOCK VOLUME SIZE KEY...\n");
		return 1;
	}
	size = strtoull(argv[3], NULL, 10);
	nkeys = argc - 4;
	c = calloc(nkeys, sizeof(*c));
	accepted = calloc(nkeys, sizeof(*accepted));
	if (!c || !accepted)
		return 1;
	if ((err = larder_connect(argv[1], 0, &l)) < 0 ||
	    (err = larder_volume_acquire(l, argv[2], NULL, 0, &v)) < 0) {
		fprintf(stderr, "cull-hold: %s\n", strerror(-err));
		return 1;
	}
	for (k = 0; k < nkeys; k++) {
		err = larder_cookie_acquire(v, argv[4 + k], strlen(argv[4 + k]),
		    "a1", 2, size, &c[k]);
		if (err < 0) {
			fprintf(stderr, "cull-hold: acquire %s: %s\n",
			    argv[4 + k], strerror(-err));
			return 1;
		}
		for (off = 0; !full && off < size; off += len) {
			len = size - off < CHUNK ? size - off : CHUNK;
			for (i = 0; i < len; i++)
				buf[i] = pat(k, off + i);
			n = larder_write(c[k], buf, len, off);
			if (n == -ENOBUFS) {
				full = 1;
				break;
			}
			if (n != (ssize_t)len) {
				fprintf(stderr, "cull-hold: write %s: %s\n",
				    argv[4 + k], strerror((int)-n));
				return 1;
			}
			accepted[k] = off + len;
		}
		if (accepted[k] == size)
			held++;
	}
	printf("held %u\n", held);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "check", 5) != 0)
			continue;
		for (k = 0; k < nkeys; k++) {
			for (off = 0; off < accepted[k]; off += len) {
				len = accepted[k] - off < CHUNK ?
				    accepted[k] - off : CHUNK;
				n = larder_read(c[k], rb, len, off);
				for (i = 0; n == (ssize_t)len && i < len; i++)
					if (rb[i] != pat(k, off + i))
						break;
				if (n != (ssize_t)len || i < len) {
					printf("bad %s %llu\n", argv[4 + k],
					    (unsigned long long)off);
					fflush(stdout);
					goto next;
				}
			}
		}
		printf("ok\n");
		fflush(stdout);
next:		;
	}
	for (k = 0; k < nkeys; k++)
		larder_cookie_relinquish(c[k], 0);
	larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	free(accepted);
	free(c);
	return 0;
}
