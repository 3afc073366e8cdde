/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_client_park.c: liblarder's parked cookies (proto.h GENTAB and
 * COOKIE_PARKED) against a small fake daemon on a real SOCK_SEQPACKET
 * socket, in a thread of the test. The fake hands out a real memfd
 * generation table (read-only to the client), passes real object fds,
 * counts every request and keeps every COOKIE_PARKED entry it gets, so a
 * test can check what went over the wire, in what order, or that nothing
 * did; it bumps a slot as the daemon does before it changes an object.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../lib/client.c"

#define SLOTS		64
#define MAX_ENTS	4096
#define OBJ_SIZE	8192

struct pent {
	uint32_t id, op, slot;
	uint64_t gen;
};

struct fake {
	char dir[64], sock[128], obj[128];
	int lfd, objfd;
	pthread_t th;
	int gentab;		/* announce and answer GENTAB */
	int small_table;	/* GENTAB: a memfd smaller than announced */
	int bad_slot;		/* COOKIE_ACQUIRE: a slot past the table */
	uint64_t *gt;		/* the table, writable here */
	uint32_t nid;
	int joined;
	int nreq[400];
	struct pent ents[MAX_ENTS];
	int nents;
};

static struct fake F;

/* The table: a memfd, mapped here rw, its fd for the client read-only. */
static int
fake_table(struct fake *f, size_t len)
{
	char proc[64];
	int fd, ro;

	fd = memfd_create("check-gentab", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, len), 0);
	f->gt = mmap(NULL, SLOTS * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	ck_assert(f->gt != MAP_FAILED);
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_FUTURE_WRITE), 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ro = open(proc, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(ro, 0);
	close(fd);
	return ro;
}

static void
record_parked(struct fake *f, struct proto_buf *r)
{
	uint32_t n = proto_get_u32(r), i;
	struct pent *e;

	for (i = 0; i < n && f->nents < MAX_ENTS; i++) {
		e = &f->ents[f->nents];
		e->id = proto_get_u32(r);
		e->op = proto_get_u32(r);
		e->slot = proto_get_u32(r);
		e->gen = proto_get_u64(r);
		ck_assert_int_eq(r->err, 0);
		__atomic_store_n(&f->nents, f->nents + 1, __ATOMIC_SEQ_CST);
	}
}

/* The cookie acquire reply: state with the whole object cached, and the
 * slot of handle id with its generation. */
static void
put_acquire(struct fake *f, struct proto_buf *b, int *fd)
{
	uint32_t id = ++f->nid;

	proto_put_u32(b, id);
	proto_put_u32(b, PROTO_COOKIE_HAVE_FD);
	proto_put_u32(b, 1);
	proto_put_u32(b, 1);
	proto_put_u64(b, OBJ_SIZE);
	proto_put_u64(b, 0);
	proto_put_u64(b, OBJ_SIZE);
	if (f->gt) {		/* only once the client asked for it */
		proto_put_u32(b, f->bad_slot ? SLOTS : (id - 1) % SLOTS);
		proto_put_u64(b, f->gt[(id - 1) % SLOTS]);
	}
	*fd = open(f->obj, O_RDONLY);
}

/* Answer one request (none to COOKIE_PARKED and NOREPLY relinquishes);
 * after answering PROTO_STATUS the fake hangs up (returns -1). */
static int
handle(struct fake *f, int s, uint8_t *msg, int n)
{
	static uint8_t out[PROTO_MAX_MSG];
	struct proto_buf r, b;
	struct proto_hdr h;
	int fd = -1;

	proto_buf_init(&r, msg, n);
	ck_assert_int_eq(proto_parse_hdr(&r, &h, n), 0);
	ck_assert(h.type < 400);
	__atomic_add_fetch(&f->nreq[h.type], 1, __ATOMIC_SEQ_CST);
	if (h.type == PROTO_COOKIE_PARKED) {
		record_parked(f, &r);
		return 0;
	}
	if (h.type == PROTO_COOKIE_RELINQUISH && r.size >= 24 &&
	    (msg[20] & PROTO_RELINQUISH_NOREPLY))
		return 0;
	proto_buf_init(&b, out, sizeof(out));
	proto_begin(&b, h.type, h.seq, PROTO_F_REPLY, 0);
	switch (h.type) {
	case PROTO_HELLO:
		proto_put_u32(&b, PROTO_VERSION);
		proto_put_u32(&b, PROTO_MAX_INLINE);
		proto_put_u64(&b, 0);
		proto_put_u32(&b, getpid());
		proto_put_u32(&b, PROTO_FEATURE_NOREPLY |
		    (f->gentab ? PROTO_FEATURE_GENTAB : 0));
		break;
	case PROTO_GENTAB:
		fd = fake_table(f, f->small_table ? 8 : SLOTS * 8);
		proto_put_u32(&b, SLOTS);
		break;
	case PROTO_VOLUME_ACQUIRE:
		proto_put_u32(&b, 7);
		proto_put_u32(&b, 0);
		break;
	case PROTO_COOKIE_ACQUIRE:
		put_acquire(f, &b, &fd);
		break;
	default:
		break;
	}
	ck_assert_int_eq(proto_finish(&b), 0);
	(void)proto_send(s, b.data, b.off, fd);
	if (fd >= 0)
		close(fd);
	return h.type == PROTO_STATUS ? -1 : 0;
}

static void *
fake_main(void *arg)
{
	static uint8_t msg[PROTO_MAX_MSG];
	struct fake *f = arg;
	int s, n, fd;

	s = accept(f->lfd, NULL, NULL);
	ck_assert_int_ge(s, 0);
	while ((n = proto_recv(s, msg, sizeof(msg), &fd)) > 0) {
		if (fd >= 0)
			close(fd);
		if (handle(f, s, msg, n) < 0)
			break;
	}
	close(s);
	return NULL;
}

/* Start the fake (gentab: announce the table) with an object file. */
static void
fake_start(int gentab)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint8_t buf[OBJ_SIZE];
	int i;

	memset(&F, 0, sizeof(F));
	F.gentab = gentab;
	strcpy(F.dir, "/tmp/check_park.XXXXXX");
	ck_assert(mkdtemp(F.dir) != NULL);
	snprintf(F.sock, sizeof(F.sock), "%s/sock", F.dir);
	snprintf(F.obj, sizeof(F.obj), "%s/obj", F.dir);
	F.objfd = open(F.obj, O_RDWR | O_CREAT, 0600);
	for (i = 0; i < OBJ_SIZE; i++)
		buf[i] = (uint8_t)(i * 13);
	ck_assert_int_eq(pwrite(F.objfd, buf, OBJ_SIZE, 0), OBJ_SIZE);
	F.lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(sun.sun_path, F.sock);
	ck_assert_int_eq(bind(F.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(F.lfd, 1), 0);
	ck_assert_int_eq(pthread_create(&F.th, NULL, fake_main, &F), 0);
}

static void
fake_join(void)
{
	if (!F.joined)
		pthread_join(F.th, NULL);
	F.joined = 1;
}

static void
fake_stop(void)
{
	fake_join();
	close(F.lfd);
	close(F.objfd);
	unlink(F.sock);
	unlink(F.obj);
	rmdir(F.dir);
	if (F.gt)
		munmap(F.gt, SLOTS * 8);
}

static int
nreq(int type)
{
	return __atomic_load_n(&F.nreq[type], __ATOMIC_SEQ_CST);
}

/* A round trip: everything queued before it has reached the fake. */
static void
sync_fake(struct larder *l)
{
	char buf[64];

	ck_assert_int_eq(client_request(l, PROTO_PING, NULL, 0, buf,
	    sizeof(buf), NULL), 0);
}

static struct larder_cookie *
acquire(struct larder_volume *v, const char *key, const char *aux)
{
	struct larder_cookie *c;

	ck_assert_int_eq(larder_cookie_acquire(v, key, strlen(key), aux,
	    strlen(aux), OBJ_SIZE, &c), 0);
	return c;
}

static void
read_ok(struct larder_cookie *c)
{
	uint8_t buf[OBJ_SIZE];

	ck_assert_int_eq(larder_read(c, buf, OBJ_SIZE, 0), OBJ_SIZE);
	ck_assert_int_eq(buf[100], (uint8_t)(100 * 13));
}

static void
open_vol(struct larder **l, struct larder_volume **v, int flags)
{
	ck_assert_int_eq(client_connect(F.sock, 0, flags, l), 0);
	ck_assert_int_eq(larder_volume_acquire(*l, "test,vol", NULL, 0, v), 0);
}

/* The fake, a connection with a table, a volume, and cookie k/a acquired
 * and parked (handle 1, slot 0). */
static void
start_parked(struct larder **l, struct larder_volume **v)
{
	struct larder_cookie *c;

	fake_start(1);
	open_vol(l, v, 0);
	c = acquire(*v, "k", "a");
	ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
}

static void
check_ent(int i, uint32_t id, uint32_t op, uint32_t slot, uint64_t gen)
{
	ck_assert_int_gt(F.nents, i);
	ck_assert_uint_eq(F.ents[i].id, id);
	ck_assert_uint_eq(F.ents[i].op, op);
	ck_assert_uint_eq(F.ents[i].slot, slot);
	ck_assert_uint_eq(F.ents[i].gen, gen);
}

/* A warm re-acquire and its read need no round trip; the park and the
 * use reach the fake, in order, before the next request. */
START_TEST(test_local_reacquire)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;

	fake_start(1);
	open_vol(&l, &v, 0);
	ck_assert(client_has_gentab(l));
	c = acquire(v, "k", "a");
	read_ok(c);
	ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
	c = acquire(v, "k", "a");
	read_ok(c);
	ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
	ck_assert_int_eq(nreq(PROTO_COOKIE_ACQUIRE), 1);
	ck_assert_int_eq(nreq(PROTO_COOKIE_RELINQUISH), 0);
	ck_assert_int_eq(nreq(PROTO_COOKIE_PARKED), 0);
	ck_assert_uint_eq(client_local_acquires(l), 1);
	sync_fake(l);
	ck_assert_int_eq(nreq(PROTO_COOKIE_PARKED), 1);
	ck_assert_int_eq(F.nents, 2);
	check_ent(0, 1, PROTO_PARK_PARK, 0, 0);
	check_ent(1, 1, PROTO_PARK_USE, 0, 0);
	ck_assert_int_eq(larder_volume_relinquish(v, 0), 0);
	check_ent(2, 1, PROTO_PARK_RELEASE, 0, 0);	/* before the volume */
	larder_disconnect(l);
	fake_stop();
}
END_TEST

/* A bumped slot: the next acquire asks; a read of a cookie taken back
 * before the bump asks too (and releases the old handle). */
START_TEST(test_bump)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;

	start_parked(&l, &v);
	__atomic_store_n(&F.gt[0], 5, __ATOMIC_RELEASE);
	c = acquire(v, "k", "a");
	ck_assert_int_eq(nreq(PROTO_COOKIE_ACQUIRE), 2);
	ck_assert_uint_eq(client_local_acquires(l), 0);
	ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);	/* slot 1 */
	c = acquire(v, "k", "a");
	ck_assert_uint_eq(client_local_acquires(l), 1);
	__atomic_store_n(&F.gt[1], 9, __ATOMIC_RELEASE);
	read_ok(c);
	ck_assert_int_eq(nreq(PROTO_COOKIE_ACQUIRE), 3);
	ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
	sync_fake(l);
	/* PARK 2, USE 2, RELEASE 2 (the old handle), PARK 3 */
	check_ent(F.nents - 2, 2, PROTO_PARK_RELEASE, 1, 0);
	check_ent(F.nents - 1, 3, PROTO_PARK_PARK, 2, 0);
	larder_disconnect(l);
	fake_stop();
}
END_TEST

/* A daemon that is gone cannot move generations: nothing parked is
 * served once the socket is at EOF, though no request failed yet. */
START_TEST(test_daemon_gone)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	char buf[64];

	start_parked(&l, &v);
	ck_assert_int_eq(client_request(l, PROTO_STATUS, NULL, 0, buf,
	    sizeof(buf), NULL), 0);	/* answered, then the fake hangs up */
	fake_join();
	ck_assert_int_lt(larder_cookie_acquire(v, "k", 1, "a", 1, OBJ_SIZE,
	    &c), 0);
	ck_assert_uint_eq(client_local_acquires(l), 0);
	larder_disconnect(l);
	fake_stop();
}
END_TEST

/* Another aux or size is another cookie: no local hit. */
START_TEST(test_other_aux)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;

	start_parked(&l, &v);
	c = acquire(v, "k", "b");
	ck_assert_int_eq(nreq(PROTO_COOKIE_ACQUIRE), 2);
	ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
	ck_assert_uint_eq(client_local_acquires(l), 0);
	larder_disconnect(l);
	fake_stop();
}
END_TEST

/* The idle cache is bounded: the least recently relinquished goes, with
 * a release; a full batch goes without waiting for a request. */
START_TEST(test_bounds)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	char key[16];
	int i;

	fake_start(1);
	open_vol(&l, &v, 0);
	for (i = 0; i <= CLIENT_IDLE_MAX; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		c = acquire(v, key, "a");
		ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
	}
	ck_assert_uint_eq(l->nidle, CLIENT_IDLE_MAX);
	sync_fake(l);
	check_ent(F.nents - 1, 1, PROTO_PARK_RELEASE, 0, 0);
	F.nents = 0;
	for (i = 0; i < PROTO_PARK_BATCH; i++) {
		c = acquire(v, "k5", "a");
		ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
	}
	for (i = 0; i < 10000 && __atomic_load_n(&F.nents, __ATOMIC_SEQ_CST) <
	    PROTO_PARK_BATCH; i++)
		usleep(1000);
	ck_assert_int_eq(F.nents, PROTO_PARK_BATCH);
	larder_disconnect(l);
	fake_stop();
}
END_TEST

/* Without the table (not asked, or not trustworthy) every acquire and
 * relinquish asks the daemon; a slot past the table is a protocol error. */
START_TEST(test_without_table)
{
	struct larder *l;
	struct larder_volume *v;
	struct larder_cookie *c;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		fake_start(1);
		F.small_table = pass;
		open_vol(&l, &v, pass ? 0 : CLIENT_NO_GENTAB);
		ck_assert(!client_has_gentab(l));
		ck_assert_int_eq(nreq(PROTO_GENTAB), pass);
		c = acquire(v, "k", "a");
		ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
		c = acquire(v, "k", "a");
		ck_assert_int_eq(larder_cookie_relinquish(c, 0), 0);
		sync_fake(l);
		ck_assert_int_eq(nreq(PROTO_COOKIE_ACQUIRE), 2);
		ck_assert_int_eq(nreq(PROTO_COOKIE_RELINQUISH), 2);
		larder_disconnect(l);
		fake_stop();
	}
	fake_start(1);
	F.bad_slot = 1;
	open_vol(&l, &v, 0);
	ck_assert_int_eq(larder_cookie_acquire(v, "k", 1, "a", 1, OBJ_SIZE,
	    &c), -EPROTO);
	larder_disconnect(l);
	fake_stop();
}
END_TEST

/* The table the daemon gives cannot be written through its fd. */
START_TEST(test_table_readonly)
{
	struct larder *l;
	struct larder_volume *v;

	fake_start(1);
	open_vol(&l, &v, 0);
	ck_assert(client_has_gentab(l));
	ck_assert_int_eq(mprotect((void *)l->gt, 4096, PROT_READ | PROT_WRITE),
	    -1);
	larder_disconnect(l);
	fake_stop();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("client_park");
	TCase *tc = tcase_create("park");
	SRunner *sr;
	int nf;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_local_reacquire);
	tcase_add_test(tc, test_bump);
	tcase_add_test(tc, test_other_aux);
	tcase_add_test(tc, test_daemon_gone);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_without_table);
	tcase_add_test(tc, test_table_readonly);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
