/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_larderctl.c: the real larderctl binary against a fake daemon that
 * speaks proto.h on a real socket (a thread of the test). Checks output
 * (text and JSON, escaping included), cursors, put/get through liblarder,
 * what went over the wire, and every exit code.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"

#define OBJ_MAX	(1u << 20)

struct fake {
	char dir[64];
	char sock[128];
	char obj[128];
	int lfd;
	pthread_t th;
	/* behaviour */
	int half_cached;	/* get: only half the object cached */
	int enobufs;
	int bad_status;		/* STATUS reply with a huge count */
	int no_list;		/* no LIST_VOLUMES (a kernel-mode daemon) */
	int old_daemon;		/* no LIST_VOLUME_STATS (before it came) */
	/* the one object */
	int have_obj;
	uint64_t size;
	/* what the fake saw */
	uint32_t cull_mode;
	uint64_t cull_value;
	uint32_t freeze_flags, freeze_timeout;
	uint32_t vol_flags, cookie_flags;
	char drop_vol[256], drop_key[256];
	int nshm;
};

static struct fake F;

static void
put_state(struct fake *f, struct proto_buf *b, uint32_t flags)
{
	uint64_t cached = f->half_cached ? f->size / 2 : f->size;

	proto_put_u32(b, 9);
	proto_put_u32(b, flags);
	proto_put_u32(b, 1);
	proto_put_u32(b, cached ? 1 : 0);
	proto_put_u64(b, f->size);
	if (cached) {
		proto_put_u64(b, 0);
		proto_put_u64(b, cached);
	}
}

/* Answer one request on s. */
static void
handle(struct fake *f, int s, uint8_t *msg, int n, int rfd, uint8_t **shm,
    uint64_t *shm_size)
{
	static uint8_t out[PROTO_MAX_MSG];
	struct proto_buf r, b;
	struct proto_hdr h;
	struct proto_bytes key;
	uint32_t flags, cursor;
	uint64_t off, len, shm_off;
	const void *data;
	int fd = -1, objfd;
	uint16_t status = PROTO_OK;

	proto_buf_init(&r, msg, n);
	ck_assert_int_eq(proto_parse_hdr(&r, &h, n), 0);
	proto_buf_init(&b, out, sizeof(out));
	proto_begin(&b, h.type, h.seq, PROTO_F_REPLY, 0);
	switch (h.type) {
	case PROTO_HELLO:
		flags = proto_get_u32(&r);
		len = proto_get_u64(&r);
		if ((flags & PROTO_HELLO_SHM) && rfd >= 0) {
			*shm = mmap(NULL, len, PROT_READ, MAP_SHARED, rfd, 0);
			ck_assert(*shm != MAP_FAILED);
			*shm_size = len;
		}
		proto_put_u32(&b, PROTO_VERSION);
		proto_put_u32(&b, PROTO_MAX_INLINE);
		proto_put_u64(&b, *shm_size);
		proto_put_u32(&b, getpid());
		break;
	case PROTO_STATUS:
		if (f->bad_status) {
			proto_put_u32(&b, 1000000);
			break;
		}
		proto_put_u32(&b, 4);
		proto_put_kv_str(&b, "state", "running");
		proto_put_kv_u64(&b, "objects", 3);
		proto_put_kv_s64(&b, "freeze.left", -2);
		proto_put_kv_str(&b, "odd", "a\"b\\c\n\x01\xff\xc3\xa9");
		break;
	case PROTO_STATS:
		proto_put_u32(&b, 2);
		proto_put_kv_u64(&b, "hits", 10);
		proto_put_kv_u64(&b, "misses", 18446744073709551615ULL);
		break;
	case PROTO_LIST_VOLUME_STATS:
	case PROTO_LIST_VOLUMES:
		if (f->no_list || (h.type == PROTO_LIST_VOLUME_STATS &&
		    f->old_daemon)) {
			status = PROTO_EINVAL;
			break;
		}
		/* two pages: cursor 0 -> 5 -> 0; 213 adds hits, misses,
		 * fills (7, 8, 9 per volume) */
#define COUNTS() do { if (h.type == PROTO_LIST_VOLUME_STATS) { \
		proto_put_u64(&b, 7); proto_put_u64(&b, 8); \
		proto_put_u64(&b, 9); } } while (0)
		cursor = proto_get_u32(&r);
		proto_put_u32(&b, cursor == 0 ? 5 : 0);
		if (cursor == 0) {
			proto_put_u32(&b, 2);
			proto_put_str(&b, "nfs,a");
			proto_put_u64(&b, 1);
			proto_put_u64(&b, 4096);
			COUNTS();
			proto_put_str(&b, "afs,b");
			proto_put_u64(&b, 2);
			proto_put_u64(&b, 8192);
			COUNTS();
		} else {
			ck_assert_uint_eq(cursor, 5);
			proto_put_u32(&b, 1);
			proto_put_str(&b, "9p,c");
			proto_put_u64(&b, 0);
			proto_put_u64(&b, 0);
			COUNTS();
		}
#undef COUNTS
		break;
	case PROTO_LIST_OBJECTS:
		(void)proto_get_u32(&r);
		key = proto_get_bytes(&r);
		if (key.len != 5 || memcmp(key.ptr, "nfs,a", 5) != 0) {
			status = PROTO_ENOENT;
			break;
		}
		proto_put_u32(&b, 0);
		proto_put_u32(&b, 1);
		proto_put_str(&b, "Dkey1");
		proto_put_bytes(&b, "key\x01", 4);
		proto_put_u64(&b, 100);
		proto_put_u64(&b, 4096);
		proto_put_u64(&b, 1700000000);
		proto_put_u32(&b, PROTO_OBJECT_PINNED);
		break;
	case PROTO_DROP:
		ck_assert_int_eq(proto_get_str(&r, f->drop_vol,
		    sizeof(f->drop_vol)), 0);
		key = proto_get_bytes(&r);
		ck_assert_int_eq(r.err, 0);
		memcpy(f->drop_key, key.ptr, key.len);
		f->drop_key[key.len] = '\0';
		if (key.len == 0) {
			proto_begin(&b, h.type, h.seq, PROTO_F_REPLY, PROTO_EPERM);
			proto_put_str(&b, "needs root or admin_group");
		}
		break;
	case PROTO_CULL:
		f->cull_mode = proto_get_u32(&r);
		f->cull_value = proto_get_u64(&r);
		proto_put_u64(&b, 2);
		proto_put_u64(&b, 8192);
		break;
	case PROTO_FREEZE:
		f->freeze_flags = proto_get_u32(&r);
		f->freeze_timeout = proto_get_u32(&r);
		proto_put_str(&b, "ready");
		break;
	case PROTO_PING:
		proto_put_str(&b, "pong");
		break;
	case PROTO_VOLUME_ACQUIRE:
		f->vol_flags = proto_get_u32(&r);
		proto_put_u32(&b, 7);
		proto_put_u32(&b, 0);
		break;
	case PROTO_COOKIE_ACQUIRE:
		(void)proto_get_u32(&r);
		f->cookie_flags = proto_get_u32(&r);
		len = proto_get_u64(&r);
		if (f->cookie_flags & PROTO_COOKIE_ANY_AUX) {
			if (!f->have_obj) {
				f->size = 0;
				put_state(f, &b, PROTO_COOKIE_NEW);
				break;
			}
		} else {
			ck_assert_uint_le(len, OBJ_MAX);
			f->size = len;
			f->have_obj = 1;
			objfd = open(f->obj, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			ck_assert_int_ge(objfd, 0);
			ck_assert_int_eq(ftruncate(objfd, len), 0);
			close(objfd);
		}
		fd = open(f->obj, O_RDONLY);
		put_state(f, &b, PROTO_COOKIE_HAVE_FD);
		break;
	case PROTO_COOKIE_REFRESH:
		put_state(f, &b, 0);
		break;
	case PROTO_INVALIDATE:
		/* a fresh, empty object of the new size (larderctl put) */
		(void)proto_get_u32(&r);
		(void)proto_get_u32(&r);
		len = proto_get_u64(&r);
		ck_assert_uint_le(len, OBJ_MAX);
		f->size = len;
		objfd = open(f->obj, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_ge(objfd, 0);
		ck_assert_int_eq(ftruncate(objfd, len), 0);
		close(objfd);
		put_state(f, &b, 0);
		break;
	case PROTO_WRITE:
		(void)proto_get_u32(&r);
		flags = proto_get_u32(&r);
		off = proto_get_u64(&r);
		len = proto_get_u64(&r);
		shm_off = proto_get_u64(&r);
		if (f->enobufs) {
			proto_begin(&b, h.type, h.seq, PROTO_F_REPLY,
			    PROTO_ENOBUFS);
			break;
		}
		if (flags & PROTO_WRITE_SHM) {
			ck_assert(*shm != NULL && shm_off + len <= *shm_size);
			data = *shm + shm_off;
			f->nshm++;
		} else
			data = proto_get_raw(&r, len);
		ck_assert(data != NULL && off + len <= f->size);
		objfd = open(f->obj, O_WRONLY);
		ck_assert_int_eq(pwrite(objfd, data, len, off), (ssize_t)len);
		close(objfd);
		proto_put_u64(&b, len);
		break;
	default:
		break;
	}
	if (status != PROTO_OK)
		proto_begin(&b, h.type, h.seq, PROTO_F_REPLY, status);
	ck_assert_int_eq(proto_finish(&b), 0);
	ck_assert_int_eq(proto_send(s, out, b.off, fd), 0);
	if (fd >= 0)
		close(fd);
}

/* Serve one connection after another until the listener is shut down. */
static void *
fake_main(void *arg)
{
	static uint8_t msg[PROTO_MAX_MSG];
	struct fake *f = arg;
	uint8_t *shm;
	uint64_t shm_size;
	int s, n, fd;

	while ((s = accept(f->lfd, NULL, NULL)) >= 0) {
		shm = NULL;
		shm_size = 0;
		while ((n = proto_recv(s, msg, sizeof(msg), &fd)) > 0) {
			handle(f, s, msg, n, fd, &shm, &shm_size);
			if (fd >= 0)
				close(fd);
		}
		if (shm)
			munmap(shm, shm_size);
		close(s);
	}
	return NULL;
}

static void
fake_start(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(&F, 0, sizeof(F));
	strcpy(F.dir, "/tmp/check_larderctl.XXXXXX");
	ck_assert(mkdtemp(F.dir) != NULL);
	snprintf(F.sock, sizeof(F.sock), "%s/sock", F.dir);
	snprintf(F.obj, sizeof(F.obj), "%s/obj", F.dir);
	F.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	strcpy(sun.sun_path, F.sock);
	ck_assert_int_eq(bind(F.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(F.lfd, 4), 0);
	ck_assert_int_eq(pthread_create(&F.th, NULL, fake_main, &F), 0);
}

static void
fake_stop(void)
{
	char path[200];

	shutdown(F.lfd, SHUT_RDWR);
	pthread_join(F.th, NULL);
	close(F.lfd);
	unlink(F.sock);
	unlink(F.obj);
	snprintf(path, sizeof(path), "%s/out", F.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/err", F.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/in", F.dir);
	unlink(path);
	rmdir(F.dir);
}

static char out[OBJ_MAX + 1], err[8192];
static size_t outlen;

static void
slurp(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;
	size_t got = 0;

	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	if (len)
		*len = got;
	close(fd);
}

/* Run larderctl with args (NULL-terminated); stdin from in (may be NULL). */
static int
ctl(const void *in, size_t inlen, ...)
{
	char *argv[16], ctlpath[4096], opath[200], epath[200], ipath[200];
	const char *top = getenv("LARDER_BUILD");
	va_list ap;
	int argc = 1, status, fd;
	pid_t pid;

	snprintf(ctlpath, sizeof(ctlpath), "%s/daemon/larderctl",
	    top ? top : ".");
	argv[0] = ctlpath;
	va_start(ap, inlen);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	snprintf(opath, sizeof(opath), "%s/out", F.dir);
	snprintf(epath, sizeof(epath), "%s/err", F.dir);
	snprintf(ipath, sizeof(ipath), "%s/in", F.dir);
	fd = open(ipath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	if (in)
		ck_assert_int_eq(write(fd, in, inlen), (ssize_t)inlen);
	close(fd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int i = open(ipath, O_RDONLY);
		int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (in == NULL) {
			/* a pipe, not a regular file: put must slurp */
			int p[2];

			if (pipe(p) < 0)
				_exit(99);
			close(p[1]);
			i = p[0];
		}
		dup2(i, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(ctlpath, argv);
		_exit(98);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	slurp(opath, out, sizeof(out), &outlen);
	slurp(epath, err, sizeof(err), NULL);
	return WEXITSTATUS(status);
}

START_TEST(test_usage)
{
	fake_start();
	ck_assert_int_eq(ctl(NULL, 0, "-h", NULL), 0);
	ck_assert(strstr(out, "usage: larderctl") != NULL);
	ck_assert_int_eq(ctl(NULL, 0, NULL), 2);
	ck_assert(strstr(err, "usage:") != NULL);
	ck_assert_int_eq(ctl(NULL, 0, "frobnicate", NULL), 2);
	ck_assert(strstr(err, "unknown command: frobnicate") != NULL);
	ck_assert_int_eq(ctl(NULL, 0, "--bogus", "status", NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "status", "--fs", NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "get", "v", NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "ls", NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "put", "a", "b", "c", "d",
	    NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "cull", "--bytes", "1M",
	    "--to", "5", NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "cull", "--to", "101",
	    NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "cull", "--bytes", "1X",
	    NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "freeze", "--timeout",
	    "x", NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", NULL), 2);
	fake_stop();
}
END_TEST

START_TEST(test_unreachable)
{
	fake_start();
	ck_assert_int_eq(ctl(NULL, 0, "-s", "/nonexistent/larder.sock",
	    "status", NULL), 5);
	ck_assert(strstr(err, "larderctl: status: cannot reach larderd at "
	    "/nonexistent/larder.sock") != NULL);
	/* $LARDER_SOCKET is the default */
	setenv("LARDER_SOCKET", F.sock, 1);
	ck_assert_int_eq(ctl(NULL, 0, "ping", NULL), 0);
	ck_assert_str_eq(out, "pong\n");
	setenv("LARDER_SOCKET", "/nonexistent/x.sock", 1);
	ck_assert_int_eq(ctl(NULL, 0, "ping", NULL), 5);
	unsetenv("LARDER_SOCKET");
	fake_stop();
}
END_TEST

START_TEST(test_status)
{
	fake_start();
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "status", NULL), 0);
	ck_assert_str_eq(out,
	    "state        running\n"
	    "objects      3\n"
	    "freeze.left  -2\n"
	    "odd          a\"b\\\\c\\x0a\\x01\\xff\\xc3\\xa9\n");
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "--json", "status", NULL),
	    0);
	ck_assert_str_eq(out, "{\"state\":\"running\",\"objects\":3,"
	    "\"freeze.left\":-2,\"odd\":\"a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9\"}\n");
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "stats", "--json", NULL), 0);
	ck_assert_str_eq(out, "{\"hits\":10,\"misses\":18446744073709551615}\n");
	F.bad_status = 1;
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "status", NULL), 1);
	ck_assert(strstr(err, "larderctl: status: malformed reply") != NULL);
	fake_stop();
}
END_TEST

/* stats --prometheus and top against the fake's STATUS, STATS and
 * volumes (two pages), and against a daemon without LIST_VOLUMES */
START_TEST(test_metrics)
{
	fake_start();
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "stats", "--prometheus",
	    NULL), 0);
	ck_assert(strstr(out, "# TYPE larder_objects untyped\n"
	    "larder_objects 3\n") != NULL);
	ck_assert(strstr(out, "\nlarder_freeze_left -2\n") != NULL);
	ck_assert(strstr(out, "\nlarder_misses 18446744073709551615\n"));
	ck_assert(strstr(out, "larder_volume_bytes{volume=\"afs,b\"} 8192\n"
	    "larder_volume_bytes{volume=\"nfs,a\"} 4096\n"
	    "larder_volume_bytes{volume=\"9p,c\"} 0\n") != NULL);
	ck_assert(strstr(out, "\nlarder_volumes 3\n") != NULL);
	ck_assert(strstr(out, "larder_volume_fills_total{volume=\"9p,c\"} 9\n")
	    != NULL);
	/* a larderd without LIST_VOLUME_STATS: volumes without counters */
	F.old_daemon = 1;
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "stats", "--prometheus",
	    NULL), 0);
	ck_assert(strstr(out, "larder_volume_bytes{volume=\"9p,c\"} 0\n"));
	ck_assert(strstr(out, "larder_volume_hits_total") == NULL);
	F.no_list = 1;
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "stats", "--prometheus",
	    NULL), 0);
	ck_assert(strstr(out, "\nlarder_volumes 0\n") != NULL);
	ck_assert(strstr(out, "larder_volume_bytes{") == NULL);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "top", "-n", "2", "1",
	    NULL), 0);
	ck_assert(strncmp(out, "  HIT%", 6) == 0);
	ck_assert(strstr(out, "FREEZE\n") != NULL);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "--json", "top", "-n", "1",
	    NULL), 0);
	/* no freeze.state in the fake: "-"; hits 10 of 10 + 2^64-1 */
	ck_assert(strstr(out, "\"freeze\":\"-\"}\n") != NULL);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "top", "-n", "0", NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "top", "0", NULL), 2);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "stats", "-n", "1", NULL),
	    2);
	F.bad_status = 1;
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "stats", "--prometheus",
	    NULL), 1);
	ck_assert(strstr(err, "malformed reply") != NULL);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "top", "-n", "1", NULL), 1);
	fake_stop();
}
END_TEST

START_TEST(test_listings)
{
	fake_start();
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "volumes", NULL), 0);
	ck_assert(strstr(out, "VOLUME") != NULL);
	ck_assert(strstr(out, "nfs,a") && strstr(out, "afs,b") &&
	    strstr(out, "9p,c"));
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "--json", "volumes", NULL),
	    0);
	ck_assert_str_eq(out, "[{\"volume\":\"nfs,a\",\"objects\":1,\"bytes\":4096},"
	    "{\"volume\":\"afs,b\",\"objects\":2,\"bytes\":8192},"
	    "{\"volume\":\"9p,c\",\"objects\":0,\"bytes\":0}]\n");
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "--json", "ls", "nfs,a",
	    NULL), 0);
	ck_assert_str_eq(out, "[{\"name\":\"Dkey1\",\"key\":\"key\\u0001\","
	    "\"key_hex\":\"6b657901\",\"size\":100,\"disk_bytes\":4096,"
	    "\"last_use\":1700000000,\"pinned\":true}]\n");
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "ls", "nfs,a", NULL), 0);
	ck_assert(strstr(out, "Dkey1  key\\x01") != NULL);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "ls", "nope", NULL), 3);
	ck_assert(strstr(err, "larderctl: ls: nope: not found") != NULL);
	fake_stop();
}
END_TEST

START_TEST(test_admin)
{
	fake_start();
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "cull", "--bytes", "1M",
	    NULL), 0);
	ck_assert_uint_eq(F.cull_mode, PROTO_CULL_BYTES);
	ck_assert_uint_eq(F.cull_value, 1 << 20);
	ck_assert_str_eq(out, "culled 2 objects, 8192 bytes\n");
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "--json", "cull", "--to",
	    "20%", NULL), 0);
	ck_assert_uint_eq(F.cull_mode, PROTO_CULL_TO_PERCENT);
	ck_assert_uint_eq(F.cull_value, 20);
	ck_assert_str_eq(out, "{\"objects\":2,\"bytes\":8192}\n");
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "cull", NULL), 0);
	ck_assert_uint_eq(F.cull_mode, PROTO_CULL_THRESHOLDS);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "freeze", "--fs",
	    "--timeout", "30", NULL), 0);
	ck_assert_uint_eq(F.freeze_flags, PROTO_FREEZE_FS);
	ck_assert_uint_eq(F.freeze_timeout, 30);
	ck_assert_str_eq(out, "ready\n");
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "--json", "freeze", NULL),
	    0);
	ck_assert_uint_eq(F.freeze_flags, 0);
	ck_assert_uint_eq(F.freeze_timeout, 0);
	ck_assert_str_eq(out, "{\"result\":\"ready\"}\n");
	/* an error reply's reason is what the user sees; EPERM is exit 4 */
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "invalidate", "nfs,a",
	    NULL), 4);
	ck_assert_str_eq(err, "larderctl: invalidate: needs root or admin_group\n");
	ck_assert_str_eq(F.drop_vol, "nfs,a");
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "invalidate", "nfs,a",
	    "--", "-k", NULL), 0);
	ck_assert_str_eq(F.drop_key, "-k");
	fake_stop();
}
END_TEST

START_TEST(test_put_get)
{
	static char data[300000];
	char path[200];
	size_t i;
	int fd;

	fake_start();
	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + (i >> 9));
	/* not there yet: exit 3, nothing on stdout */
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "get", "v,1", "k", NULL), 3);
	ck_assert_uint_eq(outlen, 0);
	ck_assert_uint_eq(F.cookie_flags, PROTO_COOKIE_ANY_AUX);
	ck_assert_uint_eq(F.vol_flags, PROTO_VOLUME_ANY_COHERENCY);

	/* from stdin (a regular file here, which is read whole first) */
	ck_assert_int_eq(ctl("hello\n", 6, "-s", F.sock, "put", "v,1", "k",
	    NULL), 0);
	ck_assert_uint_eq(F.size, 6);
	ck_assert_uint_eq(F.cookie_flags, 0);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "get", "v,1", "k", NULL), 0);
	ck_assert_uint_eq(outlen, 6);
	ck_assert_str_eq(out, "hello\n");

	/* an empty pipe as stdin: a 0-byte object */
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "put", "v,1", "k", NULL), 0);
	ck_assert_uint_eq(F.size, 0);

	/* from a file, large enough for the shared-memory area */
	snprintf(path, sizeof(path), "%s/src", F.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "--json", "put", "v,1", "k",
	    path, NULL), 0);
	unlink(path);
	ck_assert_str_eq(out, "{\"volume\":\"v,1\",\"key\":\"k\",\"bytes\":300000}\n");
	ck_assert_int_ge(F.nshm, 1);
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "get", "v,1", "k", NULL), 0);
	ck_assert_uint_eq(outlen, sizeof(data));
	ck_assert(memcmp(out, data, sizeof(data)) == 0);

	/* half cached: exit 3 and nothing written */
	F.half_cached = 1;
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "get", "v,1", "k", NULL), 3);
	ck_assert_uint_eq(outlen, 0);
	ck_assert(strstr(err, "not (fully) cached") != NULL);

	/* the cache cannot take it: exit 4 */
	F.enobufs = 1;
	ck_assert_int_eq(ctl("x", 1, "-s", F.sock, "put", "v,1", "k", NULL), 4);
	ck_assert(strstr(err, "larderctl: put: k: ") != NULL);
	/* a file that is not there: exit 1 */
	ck_assert_int_eq(ctl(NULL, 0, "-s", F.sock, "put", "v,1", "k",
	    "/nonexistent/file", NULL), 1);
	fake_stop();
}
END_TEST

static Suite *
larderctl_suite(void)
{
	Suite *s = suite_create("larderctl");
	TCase *tc = tcase_create("larderctl");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_usage);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_listings);
	tcase_add_test(tc, test_admin);
	tcase_add_test(tc, test_put_get);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(larderctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
