// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lltest: a small liblarder client for the full-system userspace test
 * (tests/vm/t-sys-userspace.sh). Built on the host against the packaged
 * header and liblarder.so, run in the guest against the installed library
 * and the packaged service's default socket.
 *
 * lltest KEY: acquire volume "lltest,sys", cookie KEY of 256 KiB; a read
 * must miss; write a known pattern; read it back through the cache and
 * compare; relinquish and reacquire in a new connection and read again
 * (the bytes are the daemon's, not this process's). Exit 0 when all of
 * that holds; prints what failed otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <larder/larder.h>

#define SZ (256 * 1024)

static int
fail(const char *what, long err)
{
	fprintf(stderr, "lltest: %s: %s (%ld)\n", what,
	    err < 0 ? strerror((int)-err) : "unexpected", err);
	return 1;
}

static int
session(const char *key, int fill, const unsigned char *want)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	static unsigned char buf[SZ];
	long r;

	if ((r = larder_connect(NULL, 0, &l)) < 0)
		return fail("larder_connect (default socket)", r);
	if ((r = larder_volume_acquire(l, "lltest,sys", NULL, 0, &v)) < 0)
		return fail("larder_volume_acquire", r);
	if ((r = larder_cookie_acquire(v, key, strlen(key), "v1", 2, SZ,
	    &c)) < 0)
		return fail("larder_cookie_acquire", r);
	if (fill) {
		r = larder_read(c, buf, SZ, 0);
		if (r != -ENODATA)
			return fail("first read of a new object did not miss", r);
		if ((r = larder_write(c, want, SZ, 0)) != SZ)
			return fail("larder_write", r);
	}
	if ((r = larder_read(c, buf, SZ, 0)) != SZ)
		return fail(fill ? "read after write" : "read in a new connection", r);
	if (memcmp(buf, want, SZ) != 0)
		return fail("bytes read differ from the bytes written", 0);
	if ((r = larder_cookie_relinquish(c, 0)) < 0)
		return fail("larder_cookie_relinquish", r);
	if ((r = larder_volume_relinquish(v, 0)) < 0)
		return fail("larder_volume_relinquish", r);
	larder_disconnect(l);
	return 0;
}

int
main(int argc, char **argv)
{
	static unsigned char want[SZ];
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: lltest KEY\n");
		return 2;
	}
	for (i = 0; i < SZ; i++)
		want[i] = (unsigned char)(i * 7 + (i >> 9));
	if (session(argv[1], 1, want) || session(argv[1], 0, want))
		return 1;
	printf("lltest: %s: miss, write, read back and read in a new "
	    "connection: %d bytes right\n", argv[1], SZ);
	return 0;
}
