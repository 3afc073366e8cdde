/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_client.c: protocol conformance of liblarder against a small fake
 * daemon that speaks proto.h on a real SOCK_SEQPACKET socket, in a thread
 * of the test. The fake keeps a real object file, passes real fds and
 * reads real shared memory, and counts every request it sees, so a test can
 * check what went over the wire (or that nothing did).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../lib/client.c"

enum bad {
	BAD_NONE,
	BAD_SHORT,		/* 8-byte reply */
	BAD_SEQ,		/* seq + 1 */
	BAD_TYPE,		/* type + 1 */
	BAD_NOREPLY,		/* PROTO_F_REPLY missing */
	BAD_VERSION,
	BAD_LEN,		/* header len != packet length */
	BAD_COUNT,		/* nr_extents 0xffffffff */
	BAD_EXTENT,		/* extent past the object size */
	BAD_OVERLAP,		/* extents out of order */
	BAD_BODY,		/* body cut short */
	BAD_HUGE_WRITE,		/* WRITE accepts more than sent */
	BAD_FD_NOFLAG,		/* fd attached without HAVE_FD */
	BAD_FLAG_NOFD,		/* HAVE_FD without an fd */
	BAD_FD_SOCKET,		/* HAVE_FD with a socket, not a file */
	BAD_STATUS,		/* unknown status code */
	BAD_OVERSIZE,		/* packet larger than PROTO_MAX_MSG */
};

struct fake {
	char dir[64];
	char sock[128];
	char obj[128];
	int lfd;
	int objfd;		/* rw, the fake's own */
	pthread_t th;
	int accept_shm;
	uint32_t features;	/* PROTO_FEATURE_* announced at HELLO */
	/* hold_writes: the next WRITE's reply is held until two more
	 * requests were answered, or the client sent nothing for HOLD_MS
	 * (it waits for that reply) */
	int hold_writes;
	uint8_t held[PROTO_HDR_SIZE + 64];
	size_t held_len;
	int held_after;
	uint64_t shm_cap;	/* accept at most this much of the area */
	int enobufs;
	int close_after_hello;
	int bad;		/* enum bad, for requests of type bad_type */
	uint16_t bad_type;
	const char *reason;	/* error reply reason for PROTO_STATUS */
	uint8_t *shm;
	size_t shm_size;	/* accepted */
	size_t shm_len;		/* mapped */
	uint32_t gen;
	uint64_t size;
	struct cfmt_map map;
	/* what the fake saw; read after the client's call returned */
	int nreq[400];
	int nshm_writes, ninline_writes;
	uint64_t inval_size;
	uint32_t refresh_gen;
	int got_hello_fd;
	int eof;
};

static struct fake F;

#define HOLD_MS	300

static void
reply_send(int s, struct proto_buf *b, int fd)
{
	int err;

	ck_assert_int_eq(proto_finish(b), 0);
	/* a client that gave up on a broken stream may be gone already */
	err = proto_send(s, b->data, b->off, fd);
	ck_assert(err == 0 || err == -EPIPE || err == -ECONNRESET);
}

static void
put_state(struct fake *f, struct proto_buf *b, uint32_t flags, int bad)
{
	uint32_t i;

	proto_put_u32(b, 9);
	proto_put_u32(b, flags);
	proto_put_u32(b, f->gen);
	if (bad == BAD_COUNT) {
		proto_put_u32(b, 0xffffffffu);
		proto_put_u64(b, f->size);
		return;
	}
	if (bad == BAD_EXTENT || bad == BAD_OVERLAP) {
		proto_put_u32(b, 2);
		proto_put_u64(b, f->size);
		proto_put_u64(b, bad == BAD_EXTENT ? f->size - 10 : 100);
		proto_put_u64(b, bad == BAD_EXTENT ? 20 : 10);
		proto_put_u64(b, 0);
		proto_put_u64(b, 10);
		return;
	}
	proto_put_u32(b, bad == BAD_BODY ? 1 : f->map.count);
	proto_put_u64(b, f->size);
	if (bad == BAD_BODY)
		return;
	for (i = 0; i < f->map.count; i++) {
		proto_put_u64(b, f->map.ext[i].start);
		proto_put_u64(b, f->map.ext[i].len);
	}
}

/* Answer one request; returns 0 to go on, -1 to stop. */
static int
handle(struct fake *f, int s, uint8_t *msg, int n, int rfd)
{
	static uint8_t out[PROTO_MAX_MSG + 64];
	struct proto_buf r, b;
	struct proto_hdr h;
	uint16_t status = PROTO_OK, type;
	int fd = -1, bad, rofd = -1, sp[2];
	uint32_t flags, seq;
	uint64_t off, len, shm_off;
	const void *data;

	proto_buf_init(&r, msg, n);
	ck_assert_int_eq(proto_parse_hdr(&r, &h, n), 0);
	ck_assert(h.type < 400);
	__atomic_add_fetch(&f->nreq[h.type], 1, __ATOMIC_SEQ_CST);
	bad = h.type == f->bad_type ? f->bad : BAD_NONE;
	type = bad == BAD_TYPE ? h.type + 1 : h.type;
	seq = bad == BAD_SEQ ? h.seq + 1 : h.seq;
	proto_buf_init(&b, out, PROTO_MAX_MSG);
	proto_begin(&b, type, seq, bad == BAD_NOREPLY ? 0 : PROTO_F_REPLY, 0);

	switch (h.type) {
	case PROTO_HELLO:
		flags = proto_get_u32(&r);
		len = proto_get_u64(&r);
		ck_assert_int_eq(r.err, 0);
		f->got_hello_fd = rfd >= 0;
		if (f->accept_shm && (flags & PROTO_HELLO_SHM) && rfd >= 0) {
			f->shm = mmap(NULL, len, PROT_READ, MAP_SHARED, rfd, 0);
			ck_assert(f->shm != MAP_FAILED);
			f->shm_size = f->shm_len = len;
			if (f->shm_cap && f->shm_cap < len)
				f->shm_size = f->shm_cap;
		}
		proto_put_u32(&b, PROTO_VERSION);
		proto_put_u32(&b, PROTO_MAX_INLINE);
		proto_put_u64(&b, f->shm_size);
		proto_put_u32(&b, getpid());
		proto_put_u32(&b, f->features);
		break;
	case PROTO_VOLUME_ACQUIRE:
		proto_put_u32(&b, 7);
		proto_put_u32(&b, PROTO_VOLUME_CREATED);
		break;
	case PROTO_COOKIE_ACQUIRE:
	case PROTO_COOKIE_REFRESH:
		flags = PROTO_COOKIE_HAVE_FD;
		if (h.type == PROTO_COOKIE_REFRESH) {
			(void)proto_get_u32(&r);
			f->refresh_gen = proto_get_u32(&r);
			if (f->refresh_gen == f->gen)
				flags = 0;
		} else {
			(void)proto_get_u32(&r);
			(void)proto_get_u32(&r);
			f->size = proto_get_u64(&r);
			ck_assert_int_eq(ftruncate(f->objfd, f->size), 0);
		}
		if (bad == BAD_FD_NOFLAG)
			flags = 0;
		if (bad == BAD_FLAG_NOFD)
			flags = PROTO_COOKIE_HAVE_FD;
		if ((flags & PROTO_COOKIE_HAVE_FD) || bad == BAD_FD_NOFLAG) {
			if (bad == BAD_FD_SOCKET) {
				ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM,
				    0, sp), 0);
				close(sp[1]);
				rofd = sp[0];
			} else if (bad != BAD_FLAG_NOFD)
				rofd = open(f->obj, O_RDONLY);
			fd = rofd;
		}
		put_state(f, &b, flags, bad);
		break;
	case PROTO_WRITE:
		(void)proto_get_u32(&r);
		flags = proto_get_u32(&r);
		off = proto_get_u64(&r);
		len = proto_get_u64(&r);
		shm_off = proto_get_u64(&r);
		if (f->enobufs) {
			status = PROTO_ENOBUFS;
			break;
		}
		if (flags & PROTO_WRITE_SHM) {
			ck_assert(f->shm != NULL);
			ck_assert(shm_off <= f->shm_size &&
			    len <= f->shm_size - shm_off);
			data = f->shm + shm_off;
			f->nshm_writes++;
		} else {
			data = proto_get_raw(&r, len);
			ck_assert(data != NULL);
			f->ninline_writes++;
		}
		ck_assert(off + len <= f->size);
		ck_assert_int_eq(pwrite(f->objfd, data, len, off), (ssize_t)len);
		ck_assert_int_eq(cfmt_map_add(&f->map, off, len), 0);
		proto_put_u64(&b, bad == BAD_HUGE_WRITE ? len + 1 : len);
		break;
	case PROTO_INVALIDATE:
		(void)proto_get_u32(&r);
		(void)proto_get_u32(&r);
		f->inval_size = proto_get_u64(&r);
		f->size = f->inval_size;
		f->gen++;
		cfmt_map_clear(&f->map);
		put_state(f, &b, 0, bad);
		break;
	case PROTO_STATUS:
		if (f->reason) {
			status = PROTO_EREFUSED;
			proto_put_str(&b, f->reason);
		} else {
			proto_put_u32(&b, 1);
			proto_put_kv_u64(&b, "objects", 3);
		}
		break;
	default:
		break;
	}
	if (status != PROTO_OK) {
		proto_begin(&b, type, seq, PROTO_F_REPLY, status);
		if (h.type == PROTO_STATUS && f->reason)
			proto_put_str(&b, f->reason);
	}
	if (bad == BAD_STATUS)
		proto_begin(&b, type, seq, PROTO_F_REPLY, 999);
	if (bad == BAD_VERSION)
		proto_begin(&b, type, seq, PROTO_F_REPLY, 0), b.data[0] = 9;
	if (bad == BAD_SHORT) {
		ck_assert_int_eq(proto_send(s, out, 8, -1), 0);
	} else if (bad == BAD_LEN) {
		ck_assert_int_eq(proto_finish(&b), 0);
		b.data[4] ^= 1;
		ck_assert_int_eq(proto_send(s, out, b.off, fd), 0);
	} else if (bad == BAD_OVERSIZE) {
		memset(out, 0, sizeof(out));
		ck_assert_int_eq(proto_send(s, out, sizeof(out), -1), 0);
	} else if (h.type == PROTO_WRITE && f->hold_writes && !f->held_len) {
		ck_assert_int_eq(proto_finish(&b), 0);
		ck_assert_uint_le(b.off, sizeof(f->held));
		memcpy(f->held, b.data, b.off);
		f->held_len = b.off;
		f->held_after = 3;	/* this request counts down too */
	} else
		reply_send(s, &b, fd);
	if (rofd >= 0)
		close(rofd);
	if (h.type == PROTO_HELLO && f->close_after_hello)
		return -1;
	return 0;
}

static void *
fake_main(void *arg)
{
	static uint8_t msg[PROTO_MAX_MSG];
	struct fake *f = arg;
	int s, n, fd;

	s = accept(f->lfd, NULL, NULL);
	ck_assert_int_ge(s, 0);
	for (;;) {
		if (f->held_len && (f->held_after == 0 || poll(&(struct pollfd){
		    .fd = s, .events = POLLIN }, 1, HOLD_MS) == 0)) {
			/* the held WRITE reply, late */
			(void)proto_send(s, f->held, f->held_len, -1);
			f->held_len = 0;
			f->hold_writes = 0;
		}
		n = proto_recv(s, msg, sizeof(msg), &fd);
		if (n <= 0)
			break;
		if (handle(f, s, msg, n, fd) < 0) {
			if (fd >= 0)
				close(fd);
			break;
		}
		if (fd >= 0)
			close(fd);
		if (f->held_len && f->held_after > 0)
			f->held_after--;
	}
	f->eof = n == 0;
	close(s);
	return NULL;
}

static void
fake_start(struct fake *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->accept_shm = 1;
	f->gen = 1;
	cfmt_map_init(&f->map);
	strcpy(f->dir, "/tmp/check_client.XXXXXX");
	ck_assert(mkdtemp(f->dir) != NULL);
	snprintf(f->sock, sizeof(f->sock), "%s/sock", f->dir);
	snprintf(f->obj, sizeof(f->obj), "%s/obj", f->dir);
	f->objfd = open(f->obj, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(f->objfd, 0);
	f->lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(sun.sun_path, f->sock);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(f->lfd, 1), 0);
}

static void
fake_run(struct fake *f)
{
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	close(f->objfd);
	unlink(f->sock);
	unlink(f->obj);
	rmdir(f->dir);
	if (f->shm)
		munmap(f->shm, f->shm_len);
	cfmt_map_free(&f->map);
}

static int
nreq(int type)
{
	return __atomic_load_n(&F.nreq[type], __ATOMIC_SEQ_CST);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* connect, a volume and a cookie of size bytes */
static void
open_cookie(struct larder **l, struct larder_volume **v,
    struct larder_cookie **c, uint64_t size)
{
	fake_run(&F);
	ck_assert_int_eq(larder_connect(F.sock, 0, l), 0);
	ck_assert_int_eq(larder_volume_acquire(*l, "test,vol", "co", 2, v), 0);
	ck_assert_int_eq(larder_cookie_acquire(*v, "key", 3, "aux", 3, size,
	    c), 0);
}

static void
close_all(struct larder *l, struct larder_volume *v, struct larder_cookie *c)
{
	ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
	ck_assert_int_eq(larder_volume_relinquish(v, 0), 0);
	larder_disconnect(l);
	fake_stop(&F);
	ck_assert(F.eof);
}

static void
fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 12));
}

/* ---- map helpers -------------------------------------------------------- */

START_TEST(test_map)
{
	struct cfmt_map m;
	uint32_t i;

	cfmt_map_init(&m);
	ck_assert_int_eq(cfmt_map_add(&m, 100, 10), 0);
	ck_assert_int_eq(cfmt_map_add(&m, 0, 10), 0);
	ck_assert_int_eq(cfmt_map_add(&m, 200, 10), 0);
	ck_assert_uint_eq(m.count, 3);
	ck_assert(cfmt_map_covers(&m, 100, 10));
	ck_assert(!cfmt_map_covers(&m, 100, 11));
	ck_assert(!cfmt_map_covers(&m, 10, 1));
	ck_assert(cfmt_map_covers(&m, 5, 0));
	/* bridge all three */
	ck_assert_int_eq(cfmt_map_add(&m, 10, 190), 0);
	ck_assert_uint_eq(m.count, 1);
	ck_assert(cfmt_map_covers(&m, 0, 210));
	ck_assert(!cfmt_map_covers(&m, 0, 211));
	/* adjacent merges */
	ck_assert_int_eq(cfmt_map_add(&m, 210, 5), 0);
	ck_assert_uint_eq(m.count, 1);
	ck_assert_int_eq(cfmt_map_add(&m, UINT64_MAX - 1, 5), -EINVAL);
	cfmt_map_free(&m);
	/* bounded: the smallest extent is forgotten, nothing is invented */
	for (i = 0; i <= CFMT_MAP_MAX_EXTENTS; i++)
		ck_assert_int_eq(cfmt_map_add(&m, (uint64_t)i * 100, i == 7 ? 1 : 10),
		    0);
	ck_assert_uint_eq(m.count, CFMT_MAP_MAX_EXTENTS);
	ck_assert(!cfmt_map_covers(&m, 700, 1));
	ck_assert(cfmt_map_covers(&m, 800, 10));
	ck_assert(!cfmt_map_covers(&m, 810, 1));
	cfmt_map_free(&m);
}
END_TEST

/* ---- connect ------------------------------------------------------------ */

START_TEST(test_connect_shm)
{
	struct larder *l;

	fake_start(&F);
	fake_run(&F);
	ck_assert_int_eq(larder_connect(F.sock, 0, &l), 0);
	ck_assert(F.got_hello_fd);
	ck_assert_uint_eq(F.shm_size, CLIENT_DEFAULT_SHM);
	ck_assert(client_has_shm(l));
	larder_disconnect(l);
	fake_stop(&F);
	ck_assert(F.eof);
}
END_TEST

START_TEST(test_connect_declined)
{
	struct larder *l;

	fake_start(&F);
	F.accept_shm = 0;
	fake_run(&F);
	ck_assert_int_eq(larder_connect(F.sock, 1 << 20, &l), 0);
	ck_assert(F.got_hello_fd);
	ck_assert(!client_has_shm(l));
	larder_disconnect(l);
	fake_stop(&F);
}
END_TEST

START_TEST(test_connect_errors)
{
	struct larder *l = (void *)1;
	char path[200];

	ck_assert_int_eq(larder_connect("/nonexistent/larder.sock", 0, &l),
	    -ENOENT);
	ck_assert_ptr_null(l);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	ck_assert_int_eq(larder_connect(path, 0, &l), -ENAMETOOLONG);
	ck_assert_int_eq(larder_connect("/x", (size_t)PROTO_MAX_SHM + 1, &l),
	    -EINVAL);
	setenv("LARDER_SOCKET", "/nonexistent/env.sock", 1);
	ck_assert_str_eq(client_default_socket(), "/nonexistent/env.sock");
	unsetenv("LARDER_SOCKET");
	ck_assert_str_eq(client_default_socket(), DEFAULT_SOCKET);
}
END_TEST

/* ---- reads -------------------------------------------------------------- */

START_TEST(test_read_hit_no_round_trip)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t data[8192], buf[4096];
	int before;

	fake_start(&F);
	fill_pattern(data, sizeof(data), 1);
	ck_assert_int_eq(pwrite(F.objfd, data, sizeof(data), 0), 8192);
	ck_assert_int_eq(cfmt_map_add(&F.map, 0, 8192), 0);
	open_cookie(&l, &v, &c, 8192);
	ck_assert_uint_eq(larder_cookie_size(c), 8192);
	before = nreq(PROTO_COOKIE_REFRESH) + nreq(PROTO_WRITE);
	ck_assert_int_eq(larder_read(c, buf, 4096, 100), 4096);
	ck_assert_mem_eq(buf, data + 100, 4096);
	ck_assert_int_eq(larder_read(c, buf, 4096, 4096), 4096);
	ck_assert_mem_eq(buf, data + 4096, 4096);
	ck_assert_int_eq(larder_is_cached(c, 0, 8192), 1);
	ck_assert_int_eq(nreq(PROTO_COOKIE_REFRESH) + nreq(PROTO_WRITE), before);
	/* range checks: past the object size, zero length */
	ck_assert_int_eq(larder_read(c, buf, 2, 8191), -EINVAL);
	ck_assert_int_eq(larder_read(c, buf, 1, UINT64_MAX), -EINVAL);
	ck_assert_int_eq(larder_read(c, buf, 0, 8192), 0);
	close_all(l, v, c);
}
END_TEST

START_TEST(test_read_miss_refresh)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t data[4096], buf[4096];

	fake_start(&F);
	open_cookie(&l, &v, &c, 65536);
	ck_assert_int_eq(larder_read(c, buf, 100, 0), -ENODATA);
	ck_assert_int_eq(nreq(PROTO_COOKIE_REFRESH), 1);
	ck_assert_uint_eq(F.refresh_gen, 1);
	ck_assert_int_eq(larder_is_cached(c, 0, 100), 0);
	ck_assert_int_eq(nreq(PROTO_COOKIE_REFRESH), 2);
	/* someone else fills it: the refresh brings the new map */
	fill_pattern(data, sizeof(data), 7);
	ck_assert_int_eq(pwrite(F.objfd, data, sizeof(data), 8192), 4096);
	ck_assert_int_eq(cfmt_map_add(&F.map, 8192, 4096), 0);
	ck_assert_int_eq(larder_read(c, buf, 4096, 8192), 4096);
	ck_assert_mem_eq(buf, data, 4096);
	ck_assert_int_eq(nreq(PROTO_COOKIE_REFRESH), 3);
	/* now known: no further round trip */
	ck_assert_int_eq(larder_read(c, buf, 10, 8200), 10);
	ck_assert_int_eq(nreq(PROTO_COOKIE_REFRESH), 3);
	/* the object is replaced (new generation): a new fd comes */
	F.gen = 2;
	ck_assert_int_eq(larder_read(c, buf, 10, 0), -ENODATA);
	ck_assert_uint_eq(F.refresh_gen, 1);
	ck_assert_uint_eq(c->gen, 2);
	close_all(l, v, c);
}
END_TEST

/* ---- writes ------------------------------------------------------------- */

START_TEST(test_write_inline)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t data[1000], buf[1000], disk[1000];
	int before;

	fake_start(&F);
	open_cookie(&l, &v, &c, 4096);
	fill_pattern(data, sizeof(data), 3);
	ck_assert_int_eq(larder_write(c, data, sizeof(data), 50), 1000);
	ck_assert_int_eq(F.ninline_writes, 1);
	ck_assert_int_eq(F.nshm_writes, 0);
	ck_assert_int_eq(pread(F.objfd, disk, sizeof(disk), 50), 1000);
	ck_assert_mem_eq(disk, data, 1000);
	/* the written range reads back through the fd, no round trip */
	before = nreq(PROTO_COOKIE_REFRESH);
	ck_assert_int_eq(larder_read(c, buf, 1000, 50), 1000);
	ck_assert_mem_eq(buf, data, 1000);
	ck_assert_int_eq(nreq(PROTO_COOKIE_REFRESH), before);
	ck_assert_int_eq(larder_write(c, data, 1000, 3097), -EINVAL);
	close_all(l, v, c);
}
END_TEST

START_TEST(test_write_shm)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	size_t n = 10u << 20;
	uint8_t *data = malloc(n), *disk = malloc(n);

	fake_start(&F);
	open_cookie(&l, &v, &c, n);
	fill_pattern(data, n, 5);
	ck_assert_int_eq(larder_write(c, data, n, 0), (ssize_t)n);
	/* 10 MiB through a 4 MiB area: three chunks */
	ck_assert_int_eq(F.nshm_writes, 3);
	ck_assert_int_eq(F.ninline_writes, 0);
	ck_assert_int_eq(pread(F.objfd, disk, n, 0), (ssize_t)n);
	ck_assert(memcmp(disk, data, n) == 0);
	memset(disk, 0, n);
	ck_assert_int_eq(larder_read(c, disk, n, 0), (ssize_t)n);
	ck_assert(memcmp(disk, data, n) == 0);
	/* a small write still goes inline */
	ck_assert_int_eq(larder_write(c, data, 100, 0), 100);
	ck_assert_int_eq(F.ninline_writes, 1);
	close_all(l, v, c);
	free(data);
	free(disk);
}
END_TEST

START_TEST(test_write_shm_partly_accepted)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	size_t n = 1u << 20;
	uint8_t *data = malloc(n), *disk = malloc(n);

	fake_start(&F);
	F.shm_cap = 256 * 1024;
	open_cookie(&l, &v, &c, n);
	fill_pattern(data, n, 13);
	ck_assert_int_eq(larder_write(c, data, n, 0), (ssize_t)n);
	/* chunks of what the daemon accepted, not of what was offered */
	ck_assert_int_eq(F.nshm_writes, 4);
	ck_assert_int_eq(pread(F.objfd, disk, n, 0), (ssize_t)n);
	ck_assert(memcmp(disk, data, n) == 0);
	close_all(l, v, c);
	free(data);
	free(disk);
}
END_TEST

START_TEST(test_write_inline_fallback)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	size_t n = 200 * 1024;
	uint8_t *data = malloc(n), *disk = malloc(n);

	fake_start(&F);
	F.accept_shm = 0;
	open_cookie(&l, &v, &c, n);
	fill_pattern(data, n, 9);
	ck_assert_int_eq(larder_write(c, data, n, 0), (ssize_t)n);
	ck_assert_int_eq(F.nshm_writes, 0);
	ck_assert_int_eq(F.ninline_writes,
	    (int)((n + PROTO_MAX_INLINE - 1) / PROTO_MAX_INLINE));
	ck_assert_int_eq(pread(F.objfd, disk, n, 0), (ssize_t)n);
	ck_assert(memcmp(disk, data, n) == 0);
	close_all(l, v, c);
	free(data);
	free(disk);
}
END_TEST

START_TEST(test_write_enobufs)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t data[100] = { 1 }, buf[100];

	fake_start(&F);
	F.enobufs = 1;
	open_cookie(&l, &v, &c, 4096);
	ck_assert_int_eq(larder_write(c, data, sizeof(data), 0), -ENOBUFS);
	/* nothing was claimed: the range still misses */
	ck_assert_int_eq(larder_read(c, buf, 100, 0), -ENODATA);
	close_all(l, v, c);
}
END_TEST

START_TEST(test_invalidate)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t data[100] = { 1 }, buf[100];

	fake_start(&F);
	open_cookie(&l, &v, &c, 4096);
	ck_assert_int_eq(larder_write(c, data, sizeof(data), 0), 100);
	ck_assert_int_eq(larder_invalidate(c, "new", 3, 8192), 0);
	ck_assert_int_eq(nreq(PROTO_INVALIDATE), 1);
	ck_assert_uint_eq(F.inval_size, 8192);
	ck_assert_uint_eq(larder_cookie_size(c), 8192);
	ck_assert_ptr_null(c->obj);
	/* the old bytes are gone for this cookie; the refresh says gen 0 */
	ck_assert_int_eq(larder_read(c, buf, 100, 0), -ENODATA);
	ck_assert_uint_eq(F.refresh_gen, 0);
	ck_assert_int_eq(larder_read(c, buf, 100, 8000), -ENODATA);
	ck_assert_int_eq(larder_read(c, buf, 100, 8100), -EINVAL);
	close_all(l, v, c);
}
END_TEST

START_TEST(test_busy_and_reason)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c, *c2;
	struct larder_volume *v2;
	uint8_t rb[64];
	size_t rlen;

	fake_start(&F);
	F.reason = "freeze policy is refuse";
	open_cookie(&l, &v, &c, 10);
	ck_assert_int_eq(larder_volume_relinquish(v, 0), -EBUSY);
	ck_assert_int_eq(client_request(l, PROTO_STATUS, NULL, 0, rb,
	    sizeof(rb), &rlen), -ECANCELED);
	ck_assert_str_eq(client_reason(l), "freeze policy is refuse");
	ck_assert_int_eq(larder_volume_acquire(l, "a/b", NULL, 0, &v2), -EINVAL);
	ck_assert_ptr_null(v2);
	ck_assert_int_eq(larder_cookie_acquire(v, "k", 0, NULL, 0, 1, &c2),
	    -EINVAL);
	ck_assert_int_eq(larder_cookie_acquire(v, "k", 1, NULL, 256, 1, &c2),
	    -EINVAL);
	close_all(l, v, c);
}
END_TEST

START_TEST(test_disconnect_releases)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c, *c2;
	int base = count_fds();

	fake_start(&F);
	open_cookie(&l, &v, &c, 100);
	ck_assert_int_eq(larder_cookie_acquire(v, "key2", 4, NULL, 0, 100,
	    &c2), 0);
	ck_assert_int_gt(count_fds(), base);
	larder_disconnect(l);	/* no relinquish: everything is freed */
	fake_stop(&F);
	ck_assert(F.eof);
	/* the fake's socket and fds are closed too; ours are all gone */
	ck_assert_int_eq(count_fds(), base);
}
END_TEST

START_TEST(test_daemon_gone)
{
	struct larder *l;
	struct larder_volume *v;

	signal(SIGPIPE, SIG_DFL);	/* a SIGPIPE would kill the test */
	fake_start(&F);
	F.close_after_hello = 1;
	fake_run(&F);
	ck_assert_int_eq(larder_connect(F.sock, 0, &l), 0);
	pthread_join(F.th, NULL);
	ck_assert_int_lt(larder_volume_acquire(l, "v", NULL, 0, &v), 0);
	ck_assert_int_eq(larder_volume_acquire(l, "v", NULL, 0, &v),
	    -ECONNRESET);
	larder_disconnect(l);
	close(F.lfd);
	close(F.objfd);
	unlink(F.obj);
	rmdir(F.dir);
	unlink(F.sock);
}
END_TEST

START_TEST(test_relinquish_ahead)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c[40];
	char key[16];
	int i;

	fake_start(&F);
	fake_run(&F);
	ck_assert_int_eq(larder_connect(F.sock, 0, &l), 0);
	ck_assert_int_eq(larder_volume_acquire(l, "vol", NULL, 0, &v), 0);
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(larder_cookie_acquire(v, key, strlen(key),
		    NULL, 0, 10, &c[i]), 0);
	}
	/* more than MAX_PENDING in a row: the oldest replies are drained */
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(larder_cookie_relinquish(c[i], 0), 0);
	ck_assert_uint_le(l->npend, MAX_PENDING);
	/* the next request takes the rest of the replies on the way */
	ck_assert_int_eq(larder_volume_relinquish(v, 0), 0);
	ck_assert_uint_eq(l->npend, 0);
	ck_assert_int_eq(nreq(PROTO_COOKIE_RELINQUISH), 40);
	/* a retiring relinquish waits for its answer */
	ck_assert_int_eq(larder_volume_acquire(l, "vol", NULL, 0, &v), 0);
	ck_assert_int_eq(larder_cookie_acquire(v, "k", 1, NULL, 0, 10, &c[0]),
	    0);
	ck_assert_int_eq(larder_cookie_relinquish(c[0], 1), 0);
	ck_assert_uint_eq(l->npend, 0);
	ck_assert_int_eq(larder_volume_relinquish(v, 0), 0);
	larder_disconnect(l);
	fake_stop(&F);
}
END_TEST

START_TEST(test_relinquish_ahead_bad_seq)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;

	fake_start(&F);
	F.bad_type = PROTO_COOKIE_RELINQUISH;
	F.bad = BAD_SEQ;
	open_cookie(&l, &v, &c, 10);
	ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
	/* the stray reply is found on the next request */
	ck_assert_int_eq(larder_volume_relinquish(v, 0), -EPROTO);
	larder_disconnect(l);
	fake_stop(&F);
}
END_TEST

/* ---- hostile replies ----------------------------------------------------- */

static const struct {
	int bad;
	uint16_t type;
	int err;
	int broken;	/* the connection is unusable after it */
} bads[] = {
	{ BAD_SHORT, PROTO_VOLUME_ACQUIRE, -EPROTO, 1 },
	{ BAD_SEQ, PROTO_VOLUME_ACQUIRE, -EPROTO, 1 },
	{ BAD_TYPE, PROTO_VOLUME_ACQUIRE, -EPROTO, 1 },
	{ BAD_NOREPLY, PROTO_VOLUME_ACQUIRE, -EPROTO, 1 },
	{ BAD_VERSION, PROTO_VOLUME_ACQUIRE, -EPROTO, 1 },
	{ BAD_LEN, PROTO_VOLUME_ACQUIRE, -EPROTO, 1 },
	{ BAD_BODY, PROTO_COOKIE_ACQUIRE, -EPROTO, 0 },
	{ BAD_COUNT, PROTO_COOKIE_ACQUIRE, -EPROTO, 0 },
	{ BAD_EXTENT, PROTO_COOKIE_ACQUIRE, -EPROTO, 0 },
	{ BAD_OVERLAP, PROTO_COOKIE_ACQUIRE, -EPROTO, 0 },
	{ BAD_FLAG_NOFD, PROTO_COOKIE_ACQUIRE, -EPROTO, 0 },
	{ BAD_FD_SOCKET, PROTO_COOKIE_ACQUIRE, -EPROTO, 0 },
	{ BAD_FD_NOFLAG, PROTO_COOKIE_ACQUIRE, 0, 0 },
	{ BAD_STATUS, PROTO_COOKIE_ACQUIRE, -EIO, 0 },
	{ BAD_OVERSIZE, PROTO_COOKIE_ACQUIRE, -EPROTO, 0 },
	{ BAD_HUGE_WRITE, PROTO_WRITE, -EPROTO, 0 },
	{ BAD_COUNT, PROTO_COOKIE_REFRESH, -EPROTO, 0 },
	{ BAD_EXTENT, PROTO_INVALIDATE, -EPROTO, 0 },
};

START_TEST(test_hostile)
{
	struct larder *l;
	struct larder_volume *v = NULL;
	struct larder_cookie *c = NULL;
	uint8_t data[16] = { 0 };
	int i = _i, err, base;

	base = count_fds();
	fake_start(&F);
	F.bad_type = bads[i].type;
	F.bad = bads[i].bad;
	fake_run(&F);
	ck_assert_int_eq(larder_connect(F.sock, 0, &l), 0);
	err = larder_volume_acquire(l, "vol", NULL, 0, &v);
	if (bads[i].type != PROTO_VOLUME_ACQUIRE) {
		ck_assert_int_eq(err, 0);
		err = larder_cookie_acquire(v, "k", 1, NULL, 0, 1000, &c);
	}
	if (bads[i].type == PROTO_WRITE) {
		ck_assert_int_eq(err, 0);
		err = larder_write(c, data, sizeof(data), 0);
	} else if (bads[i].type == PROTO_COOKIE_REFRESH) {
		ck_assert_int_eq(err, 0);
		err = larder_read(c, data, sizeof(data), 0);
	} else if (bads[i].type == PROTO_INVALIDATE) {
		ck_assert_int_eq(err, 0);
		err = larder_invalidate(c, NULL, 0, 1000);
	}
	ck_assert_msg(err == bads[i].err, "case %d: got %d want %d", i, err,
	    bads[i].err);
	if (bads[i].broken)
		ck_assert_int_eq(larder_volume_acquire(l, "v2", NULL, 0, &v),
		    -EPROTO);
	if (bads[i].bad == BAD_FD_NOFLAG)
		ck_assert_ptr_null(c->obj);	/* the stray fd was closed */
	larder_disconnect(l);
	fake_stop(&F);
	/* no fd leaked: received fds were closed */
	ck_assert_int_eq(count_fds(), base);
}
END_TEST

/* A started write (larder_write_start) answered badly: more bytes than
 * it had (its wait gives EPROTO, nothing of it is cached, the connection
 * goes on), or under another seq (the connection is out of step: the
 * wait and every later call give EPROTO). */
START_TEST(test_started_hostile)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	size_t n = 0;
	uint8_t *area;

	fake_start(&F);
	F.features = PROTO_FEATURE_ZCOPY;
	F.bad_type = PROTO_WRITE;
	F.bad = _i ? BAD_SEQ : BAD_HUGE_WRITE;
	open_cookie(&l, &v, &c, 1 << 20);
	ck_assert_ptr_nonnull(area = larder_fill_buffer(l, &n));
	ck_assert_uint_ge(n, 8192);
	fill_pattern(area, 8192, 3);
	ck_assert_int_eq(larder_write_start(c, area, 4096, 0), 0);
	/* (with BAD_SEQ a second one would take the first's answer: a
	 * daemon may lie about which write it answers, as about any) */
	if (_i == 0)
		ck_assert_int_eq(larder_write_start(c, area + 4096, 4096,
		    4096), 0);
	ck_assert_int_eq(larder_write_wait(c), -EPROTO);
	if (_i == 0) {
		ck_assert_int_eq(larder_write_wait(c), -EPROTO);
		ck_assert_int_eq(larder_write_wait(c), -ENOENT);
		/* nothing was claimed: the bytes come from the fake's map */
		F.bad = BAD_NONE;
		ck_assert_int_eq(larder_is_cached(c, 0, 8192), 1);
		ck_assert_int_eq(nreq(PROTO_COOKIE_REFRESH), 1);
	} else {
		ck_assert_int_eq(larder_write_wait(c), -ENOENT);
		ck_assert_int_eq(larder_is_cached(c, 0, 8192), -EPROTO);
		ck_assert_int_eq(larder_write_start(c, area, 4096, 0),
		    -EPROTO);
	}
	larder_disconnect(l);
	fake_stop(&F);
}
END_TEST

/* Started writes whose answers other calls take on their way; the
 * errors of larder_write_start and larder_write_wait. */
START_TEST(test_started)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t own[4096], disk[3 * 4096], *area;
	size_t n = 0;
	int i;

	fake_start(&F);
	F.features = PROTO_FEATURE_ZCOPY;
	open_cookie(&l, &v, &c, 1 << 20);
	fill_pattern(own, sizeof(own), 1);
	/* the area not taken yet: nothing can be started */
	ck_assert_int_eq(larder_write_start(c, own, 4096, 0), -EINVAL);
	ck_assert_ptr_nonnull(area = larder_fill_buffer(l, &n));
	ck_assert_int_eq(larder_write_start(c, own, 4096, 0), -EINVAL);
	ck_assert_int_eq(larder_write_start(c, area + n - 4096, 8192, 0),
	    -EINVAL);
	ck_assert_int_eq(larder_write_start(c, area, 0, 0), -EINVAL);
	ck_assert_int_eq(larder_write_start(c, area, 4096, (1 << 20) - 1),
	    -EINVAL);
	ck_assert_int_eq(larder_write_wait(c), -ENOENT);
	fill_pattern(area, 3 * 4096, 9);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(larder_write_start(c, area + i * 4096, 4096,
		    i * 4096), 0);
	/* an inline write: its call takes the three answers first */
	ck_assert_int_eq(larder_write(c, own, sizeof(own), 65536), 4096);
	ck_assert_int_eq(F.nshm_writes, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(larder_write_wait(c), 4096);
	ck_assert_int_eq(larder_write_wait(c), -ENOENT);
	/* their bytes are in the map: read with no round trip */
	ck_assert_int_eq(larder_read(c, disk, sizeof(disk), 0), sizeof(disk));
	ck_assert(memcmp(disk, area, sizeof(disk)) == 0);
	ck_assert_int_eq(nreq(PROTO_COOKIE_REFRESH), 0);
	for (i = 0; i < LARDER_WRITES_STARTED_MAX; i++)
		ck_assert_int_eq(larder_write_start(c, area, 4096, 0), 0);
	ck_assert_int_eq(larder_write_start(c, area, 4096, 0), -EBUSY);
	/* relinquish waits for them: the fake answered each */
	close_all(l, v, c);
	ck_assert_int_eq(F.nshm_writes, 3 + LARDER_WRITES_STARTED_MAX);
}
END_TEST

/* A started write whose answer comes late: were the client not waiting
 * for it before the invalidate, the answer would come after the refresh
 * that fetches the new object (the fake holds it for two more requests)
 * and put the old object's range in the new object's map: a read would
 * then return the old bytes. */
START_TEST(test_started_late_answer)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	uint8_t buf[4096], *area;
	size_t n = 0;

	fake_start(&F);
	F.features = PROTO_FEATURE_ZCOPY;
	open_cookie(&l, &v, &c, 65536);
	ck_assert_ptr_nonnull(area = larder_fill_buffer(l, &n));
	fill_pattern(area, 4096, 7);
	F.hold_writes = 1;
	ck_assert_int_eq(larder_write_start(c, area, 4096, 0), 0);
	ck_assert_int_eq(larder_invalidate(c, "new", 3, 65536), 0);
	ck_assert_int_eq(larder_is_cached(c, 0, 4096), 0);
	ck_assert_int_eq(larder_write_wait(c), 4096);
	ck_assert_int_eq(larder_is_cached(c, 0, 4096), 0);
	ck_assert_int_eq(larder_read(c, buf, 4096, 0), -ENODATA);
	close_all(l, v, c);
}
END_TEST

/* ---- threads ------------------------------------------------------------- */

struct reader {
	struct larder_cookie *c;
	const uint8_t *data;
	int ok;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	uint8_t buf[512];
	int i;

	for (i = 0; i < 2000; i++) {
		uint64_t off = (i * 4099u) % (65536 - 512);

		if (larder_read(r->c, buf, 512, off) != 512 ||
		    memcmp(buf, r->data + off, 512) != 0)
			return NULL;
		if (i % 100 == 0 && larder_is_cached(r->c, off, 512) != 1)
			return NULL;
	}
	r->ok = 1;
	return NULL;
}

START_TEST(test_threads)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	static uint8_t data[65536];
	struct reader r[4];
	pthread_t th[4];
	int i;

	fake_start(&F);
	open_cookie(&l, &v, &c, sizeof(data));
	fill_pattern(data, sizeof(data), 11);
	ck_assert_int_eq(larder_write(c, data, sizeof(data), 0), 65536);
	for (i = 0; i < 4; i++) {
		r[i] = (struct reader){ c, data, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader_main,
		    &r[i]), 0);
	}
	/* meanwhile: writes and refreshes on the same connection */
	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(larder_write(c, data + 1024, 1024, 1024), 1024);
		pthread_mutex_lock(&l->lock);
		cfmt_map_clear(&c->map);	/* force the next reads to refresh */
		pthread_mutex_unlock(&l->lock);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert(r[i].ok);
	}
	close_all(l, v, c);
}
END_TEST

START_TEST(test_strerror)
{
	ck_assert_str_eq(larder_strerror(-ENODATA), "range not cached");
	ck_assert_str_eq(larder_strerror(-ENOBUFS),
	    "cache cannot take the data now");
	ck_assert_str_eq(larder_strerror(-EINVAL), "Invalid argument");
	ck_assert_str_eq(larder_strerror(-99999), "unknown error");
	ck_assert_str_eq(larder_strerror(5), "unknown error");
}
END_TEST

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("client");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_connect_shm);
	tcase_add_test(tc, test_connect_declined);
	tcase_add_test(tc, test_connect_errors);
	tcase_add_test(tc, test_read_hit_no_round_trip);
	tcase_add_test(tc, test_read_miss_refresh);
	tcase_add_test(tc, test_write_inline);
	tcase_add_test(tc, test_write_shm);
	tcase_add_test(tc, test_write_shm_partly_accepted);
	tcase_add_test(tc, test_write_inline_fallback);
	tcase_add_test(tc, test_write_enobufs);
	tcase_add_test(tc, test_invalidate);
	tcase_add_test(tc, test_busy_and_reason);
	tcase_add_test(tc, test_disconnect_releases);
	tcase_add_test(tc, test_daemon_gone);
	tcase_add_test(tc, test_relinquish_ahead);
	tcase_add_test(tc, test_relinquish_ahead_bad_seq);
	tcase_add_loop_test(tc, test_hostile, 0, sizeof(bads) / sizeof(bads[0]));
	tcase_add_test(tc, test_started);
	tcase_add_loop_test(tc, test_started_hostile, 0, 2);
	tcase_add_test(tc, test_started_late_answer);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_strerror);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
