/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_client.c: libFuzzer target for liblarder against a hostile daemon.
 *
 * The input is the daemon's side of one session: a list of packets, each
 * u16 length (bit 15: attach a regular-file fd) then the bytes. They are
 * queued on a real SOCK_SEQPACKET socketpair before a fixed script of
 * liblarder calls runs on the other end (acquire, read, write inline and
 * through the shared area, is_cached, invalidate, relinquish ahead, a raw
 * request, release). Whatever the packets say, the library must return
 * (no hang: the daemon end is shut down for writing, so a missing reply
 * is EOF), must not crash or leak, and must keep its own invariants.
 *
 *   make fuzz && tests/fuzz/fuzz_client -max_total_time=120 \
 *       "$(mktemp -d)" tests/fuzz/seeds/client
 * (the first directory collects new inputs; the seeds stay as they are)
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "../../lib/client.c"

#define SHM	65536
#define OBJ	65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int objfd = -1;

/* A regular file to pass as the object: a memfd with known bytes. */
static void
init_obj(void)
{
	static uint8_t b[OBJ];
	size_t i;

	if (objfd >= 0)
		return;
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)i;
	objfd = memfd_create("fuzz-obj", MFD_CLOEXEC);
	assert(objfd >= 0);
	assert(write(objfd, b, sizeof(b)) == (ssize_t)sizeof(b));
}

/* Read and drop what the client sent, so its sends never block. */
static void
drain(int s)
{
	static uint8_t buf[PROTO_MAX_MSG];

	while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void
check_cookie(struct larder_cookie *c)
{
	uint32_t i;

	for (i = 0; i < c->map.count; i++) {
		assert(c->map.ext[i].len > 0);
		assert(i == 0 || c->map.ext[i].start >
		    c->map.ext[i - 1].start + c->map.ext[i - 1].len);
	}
	assert(c->obj == NULL || c->obj->refs == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[OBJ], fill[OBJ], rb[PROTO_MAX_MSG];
	struct larder *l;
	struct larder_volume *v = NULL;
	struct larder_cookie *c = NULL;
	struct timeval tv = { 2, 0 };
	size_t off = 0, len, rlen;
	int sv[2], fd, attach;
	ssize_t n;

	init_obj();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* queue the daemon's packets, as many as the socket holds */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (off + 2 <= size) {
		len = data[off] | (data[off + 1] & 0x7f) << 8;
		attach = data[off + 1] & 0x80;
		off += 2;
		if (len > size - off)
			len = size - off;
		fd = attach ? dup(objfd) : -1;
		n = proto_send(sv[1], data + off, len, fd);
		if (fd >= 0)
			close(fd);
		if (n < 0)
			break;
		off += len;
	}
	shutdown(sv[1], SHUT_WR);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	/* a connection as client_connect leaves it after HELLO */
	l = calloc(1, sizeof(*l));
	assert(l != NULL);
	LIST_INIT(&l->volumes);
	pthread_mutex_init(&l->lock, NULL);
	l->sock = sv[0];
	l->max_inline = PROTO_MAX_INLINE;
	l->shm = mmap(NULL, SHM, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert(l->shm != MAP_FAILED);
	l->shm_size = l->shm_map = SHM;

	if (client_volume_acquire(l, "fuzz,vol", "c", 1, 0, &v) < 0)
		goto out;
	drain(sv[1]);
	if (larder_cookie_acquire(v, "key", 3, "aux", 3, OBJ, &c) < 0)
		goto out;
	drain(sv[1]);
	check_cookie(c);
	n = larder_read(c, buf, 100, 0);
	assert(n == 100 || n < 0);
	drain(sv[1]);
	n = larder_write(c, fill, 200, 0);
	assert(n <= 200);
	drain(sv[1]);
	n = larder_write(c, fill, OBJ, 0);	/* through the area */
	assert(n <= OBJ);
	drain(sv[1]);
	check_cookie(c);
	n = larder_is_cached(c, 0, 4096);
	assert(n == 0 || n == 1 || n < 0);
	drain(sv[1]);
	n = larder_read(c, buf, 4096, 100);
	assert(n == 4096 || n < 0);
	drain(sv[1]);
	(void)larder_invalidate(c, "x", 1, 4096);
	drain(sv[1]);
	n = larder_read(c, buf, 10, 0);
	assert(n == 10 || n < 0);
	assert(larder_read(c, buf, 10, OBJ) == -EINVAL ||
	    larder_cookie_size(c) >= OBJ);
	drain(sv[1]);
	check_cookie(c);
	(void)larder_cookie_relinquish(c, 0);
	c = NULL;
	drain(sv[1]);
	(void)client_request(l, PROTO_STATUS, NULL, 0, rb, sizeof(rb), &rlen);
	drain(sv[1]);
	(void)larder_volume_relinquish(v, 0);
	v = NULL;
out:
	assert(l->npend <= MAX_PENDING);
	larder_disconnect(l);	/* frees what is left, closes sv[0] */
	close(sv[1]);
	return 0;
}
