/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_store.c: the store through its API (store.h), without root and
 * without the private mount: a plain directory under /tmp (user xattrs
 * needed, as check_meta), the real io and meta threads, the main loop
 * driven as the daemon drives it (loop_wait.h, but with the body on a
 * thread of its own, in turns: see run_in_loop). Volumes are made on disk;
 * objects are read, filled (only their gaps), go stale when another
 * handle changes their aux, are invalidated, published (file, xattr and
 * map on disk after the meta flush), listed (pending until published) and
 * dropped. Every peer here is an admin, so limit.h counts nothing, but
 * for the refusals, which a non-admin peer gets before any counting.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cfmt.h"
#include "conf.h"
#include "daemon/index.h"
#include "daemon/io.h"
#include "daemon/loop.h"
#include "daemon/meta.h"
#include "daemon/scan.h"
#include "daemon/store.h"
#include "daemon/store_int.h"
#include "daemon/workq.h"

#define VOL	"test,vol"

static char top[64];
static int rootfd;
static struct store_peer admin = { .uid = 0, .admin = 1 };

/* fills answered (store_fill_fn) */
static int nanswers, last_err;
static uint64_t last_have;
static const char *last_why;
static int flushed;

static void
setup(void)
{
	struct conf c;
	int cachefd, stagefd;

	strcpy(top, "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	rootfd = open(top, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(rootfd, 0);
	ck_assert_int_eq(loop_init(), 0);
	conf_defaults(&c);
	/* the order of main.c's userspace init list */
	ck_assert_int_eq(index_init(), 0);
	ck_assert_int_eq(io_init(), 0);
	ck_assert_int_eq(store_init(&c, rootfd), 0);
	store_dirs(&cachefd, &stagefd);
	ck_assert_int_eq(meta_init(cachefd, stagefd), 0);
	ck_assert_int_eq(scan_start(rootfd, 0, store_scan_done, NULL), 0);
	nanswers = last_err = flushed = 0;
	last_have = 0;
	last_why = NULL;
}

static void
teardown(void)
{
	char cmd[128];

	store_fini();
	loop_fini();
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * A test waits several times for the io and meta threads, but loop_stop
 * is final for a loop (loop_wait.h). So the test's body runs on a thread
 * of its own inside one loop_run, strictly in turns with the main thread
 * (a mutex and a condition variable hand the turn over; never both run):
 * wait_until() hands the turn to the loop, whose 10 ms tick hands it back
 * once the condition holds (or after 30 s, when wait_until fails the
 * test); the body's end stops the loop. Check forks each test
 * (CK_FORK=yes), so a failed assertion in the body exits that process.
 */
enum { TURN_LOOP, TURN_BODY };

static pthread_mutex_t turn_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static int turn = TURN_LOOP;
static int (*wait_fn)(void);
static unsigned wait_ticks;
static int body_done;
static void (*body_fn)(void);

/* What the helpers took, given back when the body ends (as a client's
 * disconnect would), so a test leaks nothing. */
#define MAXHELD	64
static struct store_cookie *held_cookies[MAXHELD];
static struct store_vol *held_vols[MAXHELD];
static unsigned nheld_cookies, nheld_vols;

static void
held_add(void **arr, unsigned *n, void *p)
{
	ck_assert_uint_lt(*n, MAXHELD);
	arr[(*n)++] = p;
}

static void
held_del(void **arr, unsigned *n, void *p)
{
	unsigned i;

	for (i = 0; i < *n; i++)
		if (arr[i] == p) {
			arr[i] = arr[--*n];
			return;
		}
	ck_abort_msg("not held");
}

static int
put_cookie(struct store_cookie *h, int retire)
{
	held_del((void **)held_cookies, &nheld_cookies, h);
	return store_cookie_put(&admin, h, retire);
}

static int
put_vol(struct store_vol *v, int retire)
{
	held_del((void **)held_vols, &nheld_vols, v);
	return store_vol_put(&admin, v, retire);
}

static void
release_all(void)
{
	while (nheld_cookies > 0)
		ck_assert_int_eq(put_cookie(held_cookies[0], 0), 0);
	while (nheld_vols > 0)
		ck_assert_int_eq(put_vol(held_vols[0], 0), 0);
}

/* Give the turn to who and wait until it is given back. */
static void
hand_to(int who)
{
	pthread_mutex_lock(&turn_mu);
	turn = who;
	pthread_cond_broadcast(&turn_cv);
	while (turn == who && !(who == TURN_BODY && body_done))
		pthread_cond_wait(&turn_cv, &turn_mu);
	pthread_mutex_unlock(&turn_mu);
}

static void
body_tick(void *arg)
{
	(void)arg;
	if (!wait_fn || wait_fn() || ++wait_ticks > 3000) {
		wait_fn = NULL;
		hand_to(TURN_BODY);
	}
	if (body_done) {
		loop_stop();
		return;
	}
	ck_assert_ptr_nonnull(loop_timer_add(10, body_tick, NULL));
}

static void *
body_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&turn_mu);
	while (turn != TURN_BODY)
		pthread_cond_wait(&turn_cv, &turn_mu);
	pthread_mutex_unlock(&turn_mu);
	body_fn();
	release_all();
	pthread_mutex_lock(&turn_mu);
	body_done = 1;
	turn = TURN_LOOP;
	pthread_cond_broadcast(&turn_cv);
	pthread_mutex_unlock(&turn_mu);
	return NULL;
}

/* Run a test's body inside the main loop (see above). */
static void
run_in_loop(void (*fn)(void))
{
	pthread_t t;

	body_fn = fn;
	body_done = 0;
	wait_fn = NULL;
	turn = TURN_LOOP;
	ck_assert_int_eq(pthread_create(&t, NULL, body_main, NULL), 0);
	ck_assert_ptr_nonnull(loop_timer_add(0, body_tick, NULL));
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(body_done);
}

/* A test whose body runs in the loop (run_in_loop): LOOP_TEST(name) then
 * the body in braces. */
#define LOOP_TEST(name)						\
	static void name##_body(void);				\
	START_TEST(name)					\
	{							\
		run_in_loop(name##_body);			\
	}							\
	END_TEST						\
	static void name##_body(void)

/* From a test's body: run the loop until fn() holds, 30 s at most. */
static void
loop_wait_until(int (*fn)(void))
{
	wait_fn = fn;
	wait_ticks = 0;
	hand_to(TURN_LOOP);
	ck_assert_msg(fn(), "not reached in 30 s");
}

/* ---- helpers ------------------------------------------------------------- */

static struct store_vol *wait_vol;

static int
vol_is_ready(void)
{
	return wait_vol->state == VOL_READY;
}

/* A volume made on disk (its 257 directories), as admin. */
static struct store_vol *
get_vol(const char *key, const char *coh, uint32_t *rflags)
{
	struct store_vol *v = NULL;
	uint32_t rf;

	ck_assert_int_eq(store_vol_get(&admin, key, (const uint8_t *)coh,
	    strlen(coh), 0, &v, rflags ? rflags : &rf), 0);
	ck_assert_ptr_nonnull(v);
	held_add((void **)held_vols, &nheld_vols, v);
	wait_vol = v;
	loop_wait_until(vol_is_ready);
	return v;
}

static struct store_cookie *
get_cookie(struct store_vol *v, const char *key, const char *aux,
    uint64_t size, struct store_view *vw)
{
	struct store_cookie *h = NULL;
	struct store_view tmp;

	if (!vw)
		vw = &tmp;
	ck_assert_int_eq(store_cookie_get(&admin, v, (const uint8_t *)key,
	    strlen(key), (const uint8_t *)aux, strlen(aux), size, 0, &h, vw),
	    0);
	ck_assert_ptr_nonnull(h);
	held_add((void **)held_cookies, &nheld_cookies, h);
	if (vw == &tmp)
		store_view_close(vw);
	return h;
}

static void
answered(void *arg, int err, uint64_t have, const char *why)
{
	(void)arg;
	nanswers++;
	last_err = err;
	last_have = have;
	last_why = why;
}

static int wait_answers;

static int
answers_reached(void)
{
	return nanswers >= wait_answers;
}

/* Fill [off, off + len) of h with byte c; returns the bytes the object
 * then has from off on (waits for the write). */
static uint64_t
fill(struct store_cookie *h, uint64_t off, uint64_t len, int c)
{
	struct store_fill_src src;
	uint8_t *buf = malloc(len ? len : 1);
	const char *why = NULL;
	uint64_t have = 0;
	int rc;

	memset(buf, c, len);
	memset(&src, 0, sizeof(src));
	src.data = buf;
	ck_assert_int_eq(store_may_fill(&admin, h), 0);
	rc = store_fill(h, off, len, &src, answered, NULL, &have, &why);
	free(buf);		/* the job copied them */
	if (rc == 0)
		return have;
	ck_assert_int_eq(rc, STORE_FILL_QUEUED);
	wait_answers = nanswers + 1;
	loop_wait_until(answers_reached);
	ck_assert_int_eq(last_err, 0);
	return last_have;
}

static void
on_flushed(void *arg)
{
	(void)arg;
	flushed = 1;
}

static int
is_flushed(void)
{
	return flushed;
}

/* Wait until every meta record queued so far is done. */
static void
meta_wait(void)
{
	flushed = 0;
	meta_flush(on_flushed, NULL);
	loop_wait_until(is_flushed);
}

/* io jobs and meta records of the store all done */
static int
store_idle(void)
{
	return io_inflight() == 0 && meta_pending() == 0;
}

static void
settle(void)
{
	loop_wait_until(store_idle);
	meta_wait();
	loop_wait_until(store_idle);
}

/* Fill all 100 bytes of h with c; wait until the io and meta threads are
 * done with it (published, unless the test stops that). */
static void
fill_settled(struct store_cookie *h, int c)
{
	ck_assert_uint_eq(fill(h, 0, 100, c), 100);
	settle();
}

/* Open a path under cache/. */
static int
open_cache(const char *path)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/cache/%s", top, path);
	return open(p, O_RDONLY);
}

static int
exists_cache(const char *path)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/cache/%s", top, path);
	return access(p, F_OK) == 0;
}

static unsigned
graveyard_entries(void)
{
	char p[128];
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/graveyard", top);
	d = opendir(p);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* What a refresh shows h now (fd closed). */
static void
view_now(struct store_cookie *h, struct store_view *vw)
{
	store_cookie_refresh(&admin, h, 0, vw);
	store_view_close(vw);
}

/* a lister that collects names, room for `room' per page */
#define MAXL	64
static struct {
	char name[MAXL][CFMT_MAX_NAME];
	int pending[MAXL];
	uint64_t size[MAXL];
	unsigned n, page, room;
} lst;

static int
l_room(void *arg)
{
	(void)arg;
	return lst.page < lst.room && lst.n < MAXL;
}

static void
l_put(void *arg, const struct store_entry *e)
{
	(void)arg;
	snprintf(lst.name[lst.n], CFMT_MAX_NAME, "%s", e->name);
	lst.pending[lst.n] = e->pending;
	lst.size[lst.n] = e->size;
	lst.n++;
	lst.page++;
}

static struct store_lister lister = { .room = l_room, .put = l_put };

/* List every object of VOL, room entries a page; returns the pages. */
static unsigned
list_all(unsigned room)
{
	uint32_t cur = 0, next;
	unsigned pages = 0;

	memset(&lst, 0, sizeof(lst));
	lst.room = room;
	do {
		lst.page = 0;
		ck_assert_int_eq(store_list_objects(&admin, VOL, cur, &lister,
		    &next), 0);
		cur = next;
		ck_assert_uint_lt(++pages, 1000);
	} while (cur != 0);
	return pages;
}

static int
listed(const char *name)
{
	unsigned i, n = 0;

	for (i = 0; i < lst.n; i++)
		n += strcmp(lst.name[i], name) == 0;
	return n;
}

/* ---- volumes ------------------------------------------------------------- */

LOOP_TEST(volume_is_made_on_disk)
{
	uint8_t xb[64];
	uint32_t rflags;
	ssize_t xl;
	int fd;

	(void)get_vol(VOL, "coh1", &rflags);
	ck_assert_uint_eq(rflags, STORE_VOL_CREATED);
	ck_assert(exists_cache("I" VOL "/@00"));
	ck_assert(exists_cache("I" VOL "/@ff"));
	settle();
	fd = open_cache("I" VOL);
	ck_assert_int_ge(fd, 0);
	xl = fgetxattr(fd, CFMT_XATTR, xb, sizeof(xb));
	ck_assert_int_gt(xl, 0);
	ck_assert(cfmt_vol_matches(xb, xl, "coh1", 4));
	close(fd);
}

LOOP_TEST(volume_bad_key_or_coherency)
{
	uint8_t big[CFMT_MAX_AUX + 1];
	struct store_vol *v;
	uint32_t rf;

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(store_vol_get(&admin, "a/b", NULL, 0, 0, &v, &rf),
	    -EINVAL);
	ck_assert_int_eq(store_vol_get(&admin, VOL, big, sizeof(big), 0, &v,
	    &rf), -EINVAL);
	ck_assert(!exists_cache("I" VOL));
}

LOOP_TEST(volume_same_coherency_is_used)
{
	struct store_vol *v, *w;
	uint32_t rf;

	v = get_vol(VOL, "coh1", NULL);
	ck_assert_int_eq(store_vol_get(&admin, VOL, (const uint8_t *)"coh1", 4,
	    0, &w, &rf), 0);
	held_add((void **)held_vols, &nheld_vols, w);
	ck_assert_ptr_eq(v, w);
	ck_assert_uint_eq(rf, 0);
	ck_assert_uint_eq(v->refs, 2);
	ck_assert_int_eq(put_vol(w, 0), 0);
	ck_assert_uint_eq(v->refs, 1);
}

LOOP_TEST(volume_other_coherency_empties_it)
{
	struct store_vol *v, *w;
	struct store_cookie *h;
	struct store_view vw;
	uint32_t rf;

	v = get_vol(VOL, "coh1", NULL);
	h = get_cookie(v, "k1", "a", 100, NULL);
	fill_settled(h, 'x');
	ck_assert_int_eq(put_cookie(h, 0), 0);
	ck_assert_int_eq(put_vol(v, 0), 0);
	ck_assert_int_eq(store_vol_get(&admin, VOL, (const uint8_t *)"coh2", 4,
	    0, &w, &rf), 0);
	held_add((void **)held_vols, &nheld_vols, w);
	ck_assert_uint_eq(rf, STORE_VOL_INVALIDATED);
	wait_vol = w;
	loop_wait_until(vol_is_ready);
	h = get_cookie(w, "k1", "a", 100, &vw);
	ck_assert(vw.flags & STORE_COOKIE_NEW);
	ck_assert_uint_eq(vw.n, 0);
	ck_assert_int_eq(vw.fd, -1);
	settle();
	ck_assert_uint_ge(graveyard_entries(), 1);	/* the old directory */
}

LOOP_TEST(volume_retired_goes_to_graveyard)
{
	struct store_vol *v;

	v = get_vol(VOL, "coh1", NULL);
	settle();
	ck_assert_int_eq(put_vol(v, 1), 0);
	settle();
	ck_assert(!exists_cache("I" VOL));
	ck_assert_uint_eq(graveyard_entries(), 1);
	ck_assert_int_eq(v->state, VOL_FAILED);		/* remade when asked */
}

LOOP_TEST(volume_refusal_says_why)
{
	struct store_peer p = { .uid = 1000, .admin = 0 };
	struct access_owner own;
	enum access_policy eff;

	(void)get_vol(VOL, "coh1", NULL);
	settle();
	/* root's volume, default policy none for others (conf default) */
	ck_assert_int_eq(store_vol_policy(&p, VOL, 1, ACCESS_FILL, &own, &eff),
	    -EPERM);
	ck_assert_ptr_nonnull(p.refused);
	ck_assert_str_eq(p.key, VOL);
	ck_assert_uint_eq(p.own.uid, 0);
	ck_assert_int_eq(store_vol_policy(&admin, VOL, 1, ACCESS_FILL, &own,
	    &eff), 0);
	ck_assert_ptr_null(admin.refused);
	ck_assert_int_eq(eff, ACCESS_FILL);
	ck_assert_int_eq(store_vol_policy(&p, VOL, 0, 0, &own, &eff), 0);
	ck_assert_int_eq(own.policy, ACCESS_FILL);
	ck_assert_int_eq(store_vol_policy(&admin, "no,such", 0, 0, &own, &eff),
	    -ENOENT);
}

/* ---- objects and maps ---------------------------------------------------- */

LOOP_TEST(new_object_is_empty)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_view vw;

	(void)get_cookie(v, "k1", "a", 100, &vw);
	ck_assert(vw.flags & STORE_COOKIE_NEW);
	ck_assert(!(vw.flags & STORE_COOKIE_HAVE_FD));
	ck_assert_uint_eq(vw.n, 0);
	ck_assert_uint_eq(vw.size, 100);
}

LOOP_TEST(cookie_bad_key_or_aux)
{
	uint8_t big[CFMT_MAX_AUX + 1];
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h;
	struct store_view vw;

	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(store_cookie_get(&admin, v, (const uint8_t *)"", 0,
	    NULL, 0, 1, 0, &h, &vw), -EINVAL);
	ck_assert_int_eq(store_cookie_get(&admin, v, (const uint8_t *)"k", 1,
	    big, sizeof(big), 1, 0, &h, &vw), -EINVAL);
	ck_assert_uint_eq(v->objs, 0);
}

LOOP_TEST(fill_shows_in_map_and_fd)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "a", 100, NULL);
	struct store_view vw;
	char buf[128];

	ck_assert_uint_eq(fill(h, 0, 100, 'x'), 100);
	store_cookie_refresh(&admin, h, 0, &vw);
	ck_assert(vw.flags & STORE_COOKIE_HAVE_FD);
	ck_assert_uint_eq(vw.n, 1);
	ck_assert_uint_eq(vw.ext[0].start, 0);
	ck_assert_uint_eq(vw.ext[0].len, 100);
	ck_assert_int_eq(pread(vw.fd, buf, sizeof(buf), 0), 100);
	ck_assert_int_eq(buf[0], 'x');
	ck_assert_int_eq(buf[99], 'x');
	store_view_close(&vw);
}

LOOP_TEST(fill_writes_only_the_gaps)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "a", 100, NULL);
	struct store_view vw;
	char buf[40];

	ck_assert_uint_eq(fill(h, 0, 10, 'a'), 10);
	ck_assert_uint_eq(fill(h, 20, 10, 'b'), 10);
	/* [0,40) over [0,10) and [20,30): writes [10,20) and [30,40) */
	ck_assert_uint_eq(fill(h, 0, 40, 'c'), 40);
	store_cookie_refresh(&admin, h, 0, &vw);
	ck_assert_uint_eq(vw.n, 1);
	ck_assert_uint_eq(vw.ext[0].len, 40);
	ck_assert_int_eq(pread(vw.fd, buf, sizeof(buf), 0), 40);
	store_view_close(&vw);
	ck_assert_int_eq(buf[0], 'a');		/* never rewritten in place */
	ck_assert_int_eq(buf[9], 'a');
	ck_assert_int_eq(buf[10], 'c');
	ck_assert_int_eq(buf[20], 'b');
	ck_assert_int_eq(buf[29], 'b');
	ck_assert_int_eq(buf[30], 'c');
}

LOOP_TEST(overlapping_fill_joins_extents)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "a", 100, NULL);
	struct store_view vw;

	ck_assert_uint_eq(fill(h, 0, 10, 'a'), 10);
	ck_assert_uint_eq(fill(h, 50, 10, 'a'), 10);
	/* [5,15): the object has [5,15) from 5 on, one extent [0,15) */
	ck_assert_uint_eq(fill(h, 5, 10, 'b'), 10);
	view_now(h, &vw);
	ck_assert_uint_eq(vw.n, 2);
	ck_assert_uint_eq(vw.ext[0].start, 0);
	ck_assert_uint_eq(vw.ext[0].len, 15);
	ck_assert_uint_eq(vw.ext[1].start, 50);
}

LOOP_TEST(fill_of_what_is_there_writes_nothing)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "a", 100, NULL);
	struct store_fill_src src = { .data = (const uint8_t *)"zzzz" };
	const char *why = NULL;
	uint64_t have = 0;
	uint64_t fills;

	ck_assert_uint_eq(fill(h, 0, 10, 'a'), 10);
	fills = store_st.fills;
	ck_assert_int_eq(store_fill(h, 2, 4, &src, answered, NULL, &have,
	    &why), 0);
	ck_assert_uint_eq(have, 4);
	ck_assert_uint_eq(store_st.fills, fills);	/* no job */
}

/* A zero-copy source (store_fill_src.zcopy): holds and releases counted;
 * released_answers: the answers given when it was released. */
static int zc_holds, zc_releases, zc_released_answers;

static void *
zc_hold(void *ctx)
{
	zc_holds++;
	return ctx;
}

static void
zc_release(void *ref)
{
	(void)ref;
	zc_releases++;
	zc_released_answers = nanswers;
}

/* An io job that keeps the io thread until io_gate opens. */
static atomic_int io_gate;
static struct work io_blocker;

static void
block_run(struct work *w)
{
	unsigned i;

	(void)w;
	for (i = 0; i < 30000 && !atomic_load(&io_gate); i++)
		usleep(1000);
}

static void
block_done(struct work *w)
{
	(void)w;
}

static int
io_idle(void)
{
	return io_inflight() == 0;
}

/* Queue a zero-copy fill of [0, len) of h from zc_area (all 'z'). */
static void
zc_fill(struct store_cookie *h, uint64_t len)
{
	static uint8_t zc_area[100];
	struct store_fill_src src = { .data = zc_area, .hold = zc_hold,
	    .release = zc_release, .ctx = zc_area, .zcopy = 1 };
	const char *why = NULL;
	uint64_t have = 0;

	memset(zc_area, 'z', sizeof(zc_area));
	ck_assert_int_eq(store_fill(h, 0, len, &src, answered, NULL, &have,
	    &why), STORE_FILL_QUEUED);
	ck_assert_int_eq(zc_holds, 1);
}

LOOP_TEST(zcopy_fill_releases_its_source_before_the_answer)
{
	struct store_cookie *h = get_cookie(get_vol(VOL, "c", NULL), "k1", "a",
	    100, NULL);
	struct store_view vw;
	char buf[100];

	zc_fill(h, 100);
	wait_answers = nanswers + 1;
	loop_wait_until(answers_reached);
	ck_assert_int_eq(last_err, 0);
	ck_assert_uint_eq(last_have, 100);
	/* released once, and before the answer (its busy mask) */
	ck_assert_int_eq(zc_releases, 1);
	ck_assert_int_eq(zc_released_answers, nanswers - 1);
	store_cookie_refresh(&admin, h, 0, &vw);
	ck_assert_int_eq(pread(vw.fd, buf, sizeof(buf), 0), 100);
	store_view_close(&vw);
	ck_assert_int_eq(buf[0], 'z');
	ck_assert_int_eq(buf[99], 'z');
}

LOOP_TEST(dropped_zcopy_fill_releases_its_source_at_once)
{
	struct store_cookie *h = get_cookie(get_vol(VOL, "c", NULL), "k1", "a",
	    100, NULL);
	struct store_view vw;

	ck_assert_uint_eq(fill(h, 90, 10, 'a'), 10);	/* the file exists */
	atomic_store(&io_gate, 0);
	io_blocker.run = block_run;
	io_blocker.done = block_done;
	io_submit(&io_blocker);
	zc_fill(h, 50);
	/* queued behind the blocker: dropped, answered ENOBUFS, and the
	 * source let go at once, before the io thread passes the job */
	ck_assert_uint_eq(store_fill_drop(), 1);
	ck_assert_int_eq(last_err, -ENOBUFS);
	ck_assert_int_eq(zc_releases, 1);
	atomic_store(&io_gate, 1);
	loop_wait_until(io_idle);
	store_fill_undrop();
	ck_assert_int_eq(zc_releases, 1);	/* never twice */
	view_now(h, &vw);
	ck_assert_uint_eq(vw.n, 1);		/* a miss: only [90, 100) */
	ck_assert_uint_eq(vw.ext[0].start, 90);
}

LOOP_TEST(fill_past_the_end_is_refused)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "a", 100, NULL);
	struct store_fill_src src = { .data = (const uint8_t *)"zzzz" };
	const char *why = NULL;
	uint64_t have = 0;

	ck_assert_int_eq(store_fill(h, 98, 4, &src, answered, NULL, &have,
	    &why), -EINVAL);
	ck_assert_int_eq(store_fill(h, 101, 0, &src, answered, NULL, &have,
	    &why), -EINVAL);
	ck_assert_int_eq(store_fill(h, UINT64_MAX, 2, &src, answered, NULL,
	    &have, &why), -EINVAL);
	ck_assert_int_eq(nanswers, 0);
}

/* ---- staleness and invalidation ------------------------------------------ */

LOOP_TEST(other_aux_makes_a_handle_stale)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h1, *h2;
	struct store_view vw;

	h1 = get_cookie(v, "k1", "aux1", 100, NULL);
	ck_assert_uint_eq(fill(h1, 0, 100, 'x'), 100);
	h2 = get_cookie(v, "k1", "aux2", 100, &vw);	/* replaces it */
	ck_assert(vw.flags & STORE_COOKIE_NEW);
	ck_assert_uint_eq(vw.n, 0);
	ck_assert_int_eq(store_may_fill(&admin, h1), -ESTALE);
	ck_assert_int_eq(store_may_fill(&admin, h2), 0);
	view_now(h1, &vw);
	ck_assert(vw.flags & STORE_COOKIE_NEW);
	ck_assert(!(vw.flags & STORE_COOKIE_HAVE_FD));
	ck_assert_uint_eq(vw.n, 0);
	ck_assert(vw.gen & 0x80000000u);	/* never a gen it holds */
}

LOOP_TEST(fill_in_flight_of_a_replaced_object_claims_nothing)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_fill_src src;
	struct store_cookie *h1, *h2;
	struct store_view vw;
	uint8_t buf[100];
	const char *why = NULL;
	uint64_t have = 0;

	memset(buf, 'x', sizeof(buf));
	memset(&src, 0, sizeof(src));
	src.data = buf;
	h1 = get_cookie(v, "k1", "aux1", 100, NULL);
	ck_assert_int_eq(store_fill(h1, 0, 100, &src, answered, NULL, &have,
	    &why), STORE_FILL_QUEUED);
	/* its done() runs on this thread, so only after this */
	h2 = get_cookie(v, "k1", "aux2", 100, NULL);
	wait_answers = 1;
	loop_wait_until(answers_reached);
	ck_assert_int_eq(last_err, -ENOBUFS);
	ck_assert_ptr_nonnull(last_why);
	view_now(h2, &vw);
	ck_assert_uint_eq(vw.n, 0);
}

LOOP_TEST(invalidate_empties_and_follows)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h1, *h2;
	struct store_view vw;

	h1 = get_cookie(v, "k1", "aux1", 100, NULL);
	h2 = get_cookie(v, "k1", "aux1", 100, NULL);
	ck_assert_uint_eq(fill(h1, 0, 100, 'x'), 100);
	ck_assert_int_eq(store_invalidate(&admin, h1, (const uint8_t *)"aux9",
	    4, 50, &vw), 0);
	ck_assert(vw.flags & STORE_COOKIE_NEW);
	ck_assert_uint_eq(vw.n, 0);
	ck_assert_uint_eq(vw.size, 50);
	ck_assert_int_eq(store_may_fill(&admin, h1), 0);	/* follows */
	ck_assert_int_eq(store_may_fill(&admin, h2), -ESTALE);
	ck_assert_uint_eq(fill(h1, 0, 50, 'y'), 50);
	view_now(h1, &vw);
	ck_assert_uint_eq(vw.n, 1);
	ck_assert_uint_eq(vw.ext[0].len, 50);
	ck_assert_int_eq(store_invalidate(&admin, h1, NULL, CFMT_MAX_AUX + 1,
	    1, &vw), -EINVAL);
}

/* ---- publish ------------------------------------------------------------- */

LOOP_TEST(publish_writes_file_xattr_and_map)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "aux1", 100, NULL);
	struct cfmt_map m;
	uint8_t x[256];
	char buf[128];
	ssize_t n;
	int fd;

	ck_assert_uint_eq(fill(h, 0, 60, 'p'), 60);
	settle();
	fd = open_cache(h->o->path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 60);
	ck_assert_int_eq(buf[0], 'p');
	ck_assert_int_eq(buf[59], 'p');
	n = fgetxattr(fd, CFMT_XATTR, x, sizeof(x));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "aux1", 4, 100), 1);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "aux2", 4, 100), 0);
	n = fgetxattr(fd, CFMT_MAP_XATTR, x, sizeof(x));
	ck_assert_int_gt(n, 0);
	cfmt_map_init(&m);
	ck_assert_int_eq(cfmt_map_decode(x, n, 100, &m), 0);
	ck_assert_uint_eq(m.count, 1);
	ck_assert_uint_eq(m.ext[0].start, 0);
	ck_assert_uint_eq(m.ext[0].len, 60);
	cfmt_map_free(&m);
	close(fd);
	ck_assert(h->o->on_disk);
}

LOOP_TEST(published_object_is_read_back_from_disk)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "aux1", 100, NULL);
	struct store_view vw;

	ck_assert_uint_eq(fill(h, 0, 30, 'r'), 30);
	ck_assert_uint_eq(fill(h, 70, 30, 'r'), 30);
	settle();
	ck_assert_int_eq(put_cookie(h, 0), 0);
	store_idle_evict(NULL);		/* forget it in memory */
	ck_assert_uint_eq(v->objs, 0);
	h = get_cookie(v, "k1", "aux1", 100, &vw);
	ck_assert(!(vw.flags & STORE_COOKIE_NEW));
	ck_assert(vw.flags & STORE_COOKIE_HAVE_FD);
	ck_assert_uint_eq(vw.n, 2);
	ck_assert_uint_eq(vw.ext[1].start, 70);
	store_view_close(&vw);
	ck_assert_int_eq(put_cookie(h, 0), 0);
	store_idle_evict(NULL);
	/* with another aux it is stale on disk: replaced, empty */
	h = get_cookie(v, "k1", "aux2", 100, &vw);
	ck_assert(vw.flags & STORE_COOKIE_NEW);
	ck_assert_uint_eq(vw.n, 0);
}

LOOP_TEST(idle_object_is_woken_with_its_map)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "aux1", 100, NULL);
	struct store_view vw;
	struct obj *o = h->o;

	fill_settled(h, 'w');
	ck_assert_int_eq(put_cookie(h, 0), 0);
	ck_assert(o->idle);
	ck_assert_int_ge(o->rofd, 0);		/* its fd is kept while idle */
	h = get_cookie(v, "k1", "aux1", 100, &vw);
	ck_assert_ptr_eq(h->o, o);
	ck_assert(!o->idle);
	ck_assert(vw.flags & STORE_COOKIE_HAVE_FD);
	ck_assert_uint_eq(vw.n, 1);
	store_view_close(&vw);
}

/* An fd that a client would keep of vw's (SCM_RIGHTS gives it its own
 * reference to the same open file description); vw is done with. */
static int
client_keeps(struct store_view *vw)
{
	int fd;

	ck_assert(vw->flags & STORE_COOKIE_HAVE_FD);
	ck_assert_int_ge(fd = dup(vw->fd), 0);
	store_view_close(vw);
	return fd;
}

/* Two fds share an open file description iff they share its offset. */
static int
same_ofd(int a, int b)
{
	off_t was = lseek(b, 0, SEEK_CUR);
	int same;

	ck_assert_int_ge(lseek(a, 0, SEEK_SET), 0);
	ck_assert_int_eq(lseek(b, 13, SEEK_SET), 13);
	same = lseek(a, 0, SEEK_CUR) == 13;
	ck_assert_int_ge(lseek(b, was, SEEK_SET), 0);
	return same;
}

/* The first client of an object's fd gets the daemon's own (lent, no
 * reopen); nobody else ever gets that open file: not a second client
 * while the first holds it, not a client after the first relinquished
 * and kept the fd (liblarder parks it), and not the daemon's idle fd. */
LOOP_TEST(clients_never_share_an_open_file)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h1 = get_cookie(v, "k1", "aux1", 100, NULL);
	struct store_cookie *h2;
	struct store_view vw;
	struct obj *o = h1->o;
	int c1, c2, c3;

	fill_settled(h1, 'w');
	ck_assert_int_eq(put_cookie(h1, 0), 0);
	ck_assert(o->idle);
	h1 = get_cookie(v, "k1", "aux1", 100, &vw);
	ck_assert(vw.lent);			/* woken: its own fd, lent */
	c1 = client_keeps(&vw);
	h2 = get_cookie(v, "k1", "aux1", 100, &vw);
	ck_assert(!vw.lent);
	c2 = client_keeps(&vw);
	ck_assert(!same_ofd(c1, c2));
	ck_assert_int_eq(put_cookie(h1, 0), 0);
	ck_assert_int_eq(put_cookie(h2, 0), 0);
	ck_assert(o->idle);
	ck_assert(!same_ofd(c1, o->rofd));	/* its own again */
	h1 = get_cookie(v, "k1", "aux1", 100, &vw);
	c3 = client_keeps(&vw);
	ck_assert(!same_ofd(c1, c3));
	ck_assert(!same_ofd(c2, c3));
	close(c1);
	close(c2);
	close(c3);
}

/* A file renamed over an idle object's name (its kept fd still reads the
 * old inode) is seen at the next acquire: the object is read anew. */
LOOP_TEST(idle_object_replaced_on_disk_is_read_anew)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "aux1", 100, NULL);
	struct store_view vw;
	char from[1100], to[1024];
	int fd;

	fill_settled(h, 'w');
	snprintf(to, sizeof(to), "%s/cache/%s", top, h->o->path);
	snprintf(from, sizeof(from), "%s.other", to);
	ck_assert_int_eq(put_cookie(h, 0), 0);
	ck_assert_int_ge(fd = open(from, O_WRONLY | O_CREAT | O_EXCL, 0600),
	    0);
	ck_assert_int_eq(write(fd, "other", 5), 5);
	close(fd);
	ck_assert_int_eq(rename(from, to), 0);	/* no xattr: not an object */
	h = get_cookie(v, "k1", "aux1", 100, &vw);
	ck_assert(vw.flags & STORE_COOKIE_NEW);
	ck_assert_uint_eq(vw.n, 0);
	store_view_close(&vw);
}

LOOP_TEST(hold_and_release_keep_an_object_off_idle)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "aux1", 100, NULL);
	struct obj *o = h->o;

	fill_settled(h, 'w');
	store_obj_hold(o);		/* a job uses it */
	ck_assert_uint_eq(o->jobs, 1);
	ck_assert_int_eq(put_cookie(h, 0), 0);
	ck_assert(!o->idle);		/* nobody holds it, the job uses it */
	ck_assert_int_ge(o->rofd, 0);
	store_obj_release(o);
	ck_assert_uint_eq(o->jobs, 0);
	ck_assert(o->idle);
	ck_assert_int_ge(o->rofd, 0);		/* kept (store_obj_settle) */
	store_obj_hold(o);
	ck_assert(!o->idle);		/* off the idle list */
	store_obj_release(o);
}

/* ---- a freeze's quiesce and the closes ----------------------------------- */

static int quiesce_done_n, quiesce_err;

static void
quiesce_cb(void *arg, int err)
{
	(void)arg;
	quiesce_done_n++;
	quiesce_err = err;
}

static int
quiesce_reached(void)
{
	return quiesce_done_n > 0;
}

static int
closes_are_held(void)
{
	return store_closes_held() > 0;
}

/* A filled object is relinquished after a freeze's quiesce: its rw file
 * is closed only once the quiesce ends (the last close of a file may
 * write, and a freeze's "ready" promised no more writes), never by the
 * io thread while quiesced. Returns with the closes held. */
static void
quiesce_then_relinquish(void)
{
	struct store_cookie *h = get_cookie(get_vol(VOL, "c", NULL), "k1", "a",
	    100, NULL);

	fill_settled(h, 'w');
	ck_assert_int_ge(h->o->of ? h->o->of->fd : -1, 0);	/* an rw file */
	quiesce_done_n = 0;
	store_quiesce(STORE_QUIESCE_DROP, quiesce_cb, NULL);
	loop_wait_until(quiesce_reached);
	ck_assert_int_eq(quiesce_err, 0);
	ck_assert_int_eq(put_cookie(h, 0), 0);
	loop_wait_until(closes_are_held);	/* gathered, then kept */
	loop_wait_until(io_idle);
	ck_assert_uint_gt(store_closes_held(), 0);	/* still kept */
}

/* Queue a copied fill of [0, 50) of h with byte c (no wait). */
static void
fill_queue(struct store_cookie *h, int c)
{
	struct store_fill_src src;
	uint8_t buf[50];
	const char *why = NULL;
	uint64_t have = 0;

	memset(buf, c, sizeof(buf));
	memset(&src, 0, sizeof(src));
	src.data = buf;
	ck_assert_int_eq(store_fill(h, 0, sizeof(buf), &src, answered, NULL,
	    &have, &why), STORE_FILL_QUEUED);
}

static unsigned gated_before;

static int
write_at_gate(void)
{
	return io_inkernel_gated() > gated_before;
}

/* A fill write wholly handed to the kernel when a freeze comes is let go:
 * "ready" does not wait for it (the io thread is held right after the
 * submission, io_set_inkernel_gate, so the quiesce can only end by
 * letting it go), its client hears ENOBUFS at once, and the write, done
 * later, still claims its copied bytes. */
LOOP_TEST(freeze_lets_a_fill_in_the_kernel_go)
{
	struct store_cookie *h = get_cookie(get_vol(VOL, "c", NULL), "k1", "a",
	    100, NULL);
	struct store_view vw;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);

	ck_assert_int_ge(efd, 0);
	ck_assert_uint_eq(fill(h, 90, 10, 'a'), 10);	/* the file exists */
	gated_before = io_inkernel_gated();
	io_set_inkernel_gate(efd);
	fill_queue(h, 'b');
	loop_wait_until(write_at_gate);		/* in the kernel, held there */
	quiesce_done_n = 0;
	store_quiesce(STORE_QUIESCE_DROP | STORE_QUIESCE_HOLD, quiesce_cb,
	    NULL);
	loop_wait_until(quiesce_reached);
	ck_assert_int_eq(quiesce_err, 0);
	ck_assert_uint_eq(io_inflight(), 1);	/* the write is still out */
	ck_assert_int_eq(nanswers, 2);
	ck_assert_int_eq(last_err, -ENOBUFS);	/* answered at "ready" */
	ck_assert_uint_eq(store_st.fills_let_go, 1);
	ck_assert_int_eq(write(efd, &one, sizeof(one)), sizeof(one));
	loop_wait_until(io_idle);
	io_set_inkernel_gate(-1);
	close(efd);
	ck_assert_int_eq(nanswers, 2);		/* never answered twice */
	view_now(h, &vw);			/* copied bytes: claimed */
	ck_assert_uint_eq(vw.n, 2);
	ck_assert_uint_eq(vw.ext[0].start, 0);
	ck_assert_uint_eq(vw.ext[0].len, 50);
	ck_assert_uint_eq(vw.ext[1].start, 90);
	store_unquiesce();
}

/* A freeze waits for an io job that is not a fill (here one that keeps
 * the io thread until io_gate opens), and a suspend for a fill write. */
LOOP_TEST(freeze_waits_for_other_io_jobs)
{
	atomic_store(&io_gate, 0);
	io_blocker.run = block_run;
	io_blocker.done = block_done;
	io_submit(&io_blocker);
	quiesce_done_n = 0;
	store_quiesce(STORE_QUIESCE_DROP | STORE_QUIESCE_HOLD, quiesce_cb,
	    NULL);
	ck_assert_int_eq(quiesce_done_n, 0);
	ck_assert_str_eq(store_writes_str(), "quiescing");
	atomic_store(&io_gate, 1);
	loop_wait_until(quiesce_reached);
	ck_assert_uint_eq(io_inflight(), 0);
	store_unquiesce();
}

static unsigned want_inflight;

static int
inflight_reached(void)
{
	return io_inflight() >= want_inflight;
}

/* Jobs queued behind a job the freeze must wait for (the blocker): the
 * creation of a new object's file is dropped (no error; the next fill
 * after the thaw asks again), a batch of closes is kept for the thaw. */
LOOP_TEST(freeze_drops_queued_creations_and_keeps_closes)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h1 = get_cookie(v, "k1", "a", 100, NULL), *h2;
	uint64_t errors = store_st.errors;

	fill_settled(h1, 'w');
	atomic_store(&io_gate, 0);
	io_blocker.run = block_run;
	io_blocker.done = block_done;
	io_submit(&io_blocker);
	ck_assert_int_eq(put_cookie(h1, 0), 0);	/* its rw fd: a close */
	want_inflight = 2;
	loop_wait_until(inflight_reached);	/* the closes are queued */
	h2 = get_cookie(v, "k2", "a", 100, NULL);
	fill_queue(h2, 'y');		/* a creation and a fill queued */
	ck_assert_uint_eq(io_inflight(), 4);
	quiesce_done_n = 0;
	store_quiesce(STORE_QUIESCE_DROP | STORE_QUIESCE_HOLD, quiesce_cb,
	    NULL);
	atomic_store(&io_gate, 1);
	loop_wait_until(quiesce_reached);
	ck_assert_int_eq(last_err, -ENOBUFS);		/* the fill dropped */
	loop_wait_until(io_idle);
	ck_assert_uint_gt(store_closes_held(), 0);	/* not closed */
	ck_assert_ptr_null(h2->o->of);			/* not created */
	ck_assert_uint_eq(store_st.errors, errors);	/* dropped, no error */
	store_unquiesce();
	ck_assert_uint_eq(store_closes_held(), 0);	/* handed over */
	ck_assert_uint_eq(fill(h2, 0, 100, 'x'), 100);	/* a file again */
	loop_wait_until(io_idle);
}

LOOP_TEST(freeze_quiesce_keeps_closes_until_it_ends)
{
	quiesce_then_relinquish();
	store_unquiesce();
	ck_assert_uint_eq(store_closes_held(), 0);	/* handed over */
	loop_wait_until(io_idle);
}

LOOP_TEST(suspend_quiesce_closes_what_a_freeze_kept)
{
	quiesce_then_relinquish();
	quiesce_done_n = 0;
	store_quiesce(STORE_QUIESCE_DROP | STORE_QUIESCE_CLOSE, quiesce_cb,
	    NULL);
	ck_assert_uint_eq(store_closes_held(), 0);	/* handed over */
	loop_wait_until(quiesce_reached);
	ck_assert_int_eq(quiesce_err, 0);
	ck_assert_uint_eq(io_inflight(), 0);	/* and closed before done */
	store_unquiesce();
}

/* ---- listings ------------------------------------------------------------ */

/* larder.new gone (the store keeps its fd): no link can succeed, so the
 * meta thread never publishes, deterministically */
static void
no_publishing(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/larder.new", top);
	ck_assert_int_eq(rmdir(p), 0);
}

LOOP_TEST(listing_shows_what_get_serves_before_it_is_published)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h, *h2;
	struct store_view vw;

	no_publishing();
	h = get_cookie(v, "k1", "aux1", 100, NULL);
	fill_settled(h, 'l');
	ck_assert(!exists_cache(h->o->path));
	/* another client's get serves it... */
	h2 = get_cookie(v, "k1", "aux1", 100, &vw);
	ck_assert(vw.flags & STORE_COOKIE_HAVE_FD);
	ck_assert_uint_eq(vw.n, 1);
	store_view_close(&vw);
	(void)h2;
	/* ...so the listing shows it (a record without the link may have
	 * put it in the index meanwhile: listed from there then) */
	(void)list_all(100);
	ck_assert_uint_eq(lst.n, 1);
	ck_assert_int_eq(listed(h->o->name), 1);
	ck_assert_uint_eq(lst.size[0], 100);
	/* as it is before any record is done: listed as pending */
	store_obj_unindex(h->o);
	(void)list_all(100);
	ck_assert_uint_eq(lst.n, 1);
	ck_assert_int_eq(listed(h->o->name), 1);
	ck_assert_int_eq(lst.pending[0], 1);
	ck_assert_uint_eq(lst.size[0], 100);
}

LOOP_TEST(published_object_is_listed_once)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "aux1", 100, NULL);

	fill_settled(h, 'l');
	ck_assert_uint_ne(store_obj_idx(h->o), INDEX_NONE);
	(void)list_all(100);
	ck_assert_uint_eq(lst.n, 1);
	ck_assert_int_eq(listed(h->o->name), 1);
	ck_assert_int_eq(lst.pending[0], 0);
}

LOOP_TEST(pending_listing_pages_list_each_once)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h[7];
	char key[8];
	unsigned i, pages;

	no_publishing();
	for (i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		h[i] = get_cookie(v, key, "a", 10, NULL);
		ck_assert_uint_eq(fill(h[i], 0, 10, 'a'), 10);
	}
	settle();
	for (i = 0; i < 7; i++)
		store_obj_unindex(h[i]->o);	/* none published yet */
	/* three a page: every one once, over several pages */
	pages = list_all(3);
	ck_assert_uint_eq(lst.n, 7);
	for (i = 0; i < 7; i++) {
		ck_assert_int_eq(listed(h[i]->o->name), 1);
		ck_assert_int_eq(lst.pending[i], 1);
	}
	ck_assert_uint_ge(pages, 3);
	/* exactly a page of them: the next page still starts cleanly */
	(void)list_all(7);
	ck_assert_uint_eq(lst.n, 7);
}

LOOP_TEST(published_listing_pages_list_each_once)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h[7];
	char key[8];
	unsigned i;

	for (i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		h[i] = get_cookie(v, key, "a", 10, NULL);
		ck_assert_uint_eq(fill(h[i], 0, 10, 'a'), 10);
	}
	settle();
	(void)list_all(2);
	ck_assert_uint_eq(lst.n, 7);
	for (i = 0; i < 7; i++) {
		ck_assert_int_eq(listed(h[i]->o->name), 1);
		ck_assert_int_eq(lst.pending[i], 0);
	}
}

LOOP_TEST(listing_of_unknown_volume)
{
	uint32_t next;

	memset(&lst, 0, sizeof(lst));
	lst.room = 10;
	ck_assert_int_eq(store_list_objects(&admin, "no,such", 0, &lister,
	    &next), -ENOENT);
}

static unsigned nvols;
static char vol_seen[64];

static int
v_room(void *arg)
{
	(void)arg;
	return 1;
}

static void
v_put(void *arg, const struct store_entry *e)
{
	(void)arg;
	nvols++;
	snprintf(vol_seen, sizeof(vol_seen), "%s", e->name);
}

LOOP_TEST(volumes_are_listed)
{
	struct store_lister vl = { .room = v_room, .put = v_put };
	struct store_peer p = { .uid = 1000, .admin = 0 };
	uint32_t next;

	(void)get_vol(VOL, "c", NULL);
	settle();
	store_list_volumes(&admin, 0, &vl, &next);
	ck_assert_uint_eq(nvols, 1);
	ck_assert_str_eq(vol_seen, VOL);
	ck_assert_uint_eq(next, 0);
	nvols = 0;
	store_list_volumes(&p, 0, &vl, &next);	/* policy none: hidden */
	ck_assert_uint_eq(nvols, 0);
}

/* ---- drop and retire ----------------------------------------------------- */

LOOP_TEST(drop_moves_an_object_to_the_graveyard)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "aux1", 100, NULL);
	struct store_view vw;
	char path[META_PATH_MAX];

	snprintf(path, sizeof(path), "%s", h->o->path);
	fill_settled(h, 'd');
	ck_assert(exists_cache(path));
	ck_assert_int_eq(put_cookie(h, 0), 0);
	ck_assert_int_eq(store_drop(VOL, (const uint8_t *)"k1", 2), 0);
	settle();
	ck_assert(!exists_cache(path));
	ck_assert_uint_eq(graveyard_entries(), 1);
	(void)get_cookie(v, "k1", "aux1", 100, &vw);
	ck_assert(vw.flags & STORE_COOKIE_NEW);
	ck_assert_uint_eq(vw.n, 0);
}

LOOP_TEST(drop_of_what_is_not_there)
{
	(void)get_vol(VOL, "c", NULL);
	ck_assert_int_eq(store_drop(VOL, (const uint8_t *)"nope", 4), -ENOENT);
	ck_assert_int_eq(store_drop("bad/key", (const uint8_t *)"k", 1),
	    -EINVAL);
	ck_assert_int_eq(store_drop("no,such", NULL, 0), -ENOENT);
}

LOOP_TEST(drop_of_a_held_volume_is_busy)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);

	settle();
	ck_assert_int_eq(store_drop(VOL, NULL, 0), -EBUSY);
	ck_assert_int_eq(put_vol(v, 0), 0);
	ck_assert_int_eq(store_drop(VOL, NULL, 0), 0);
	settle();
	ck_assert(!exists_cache("I" VOL));
}

LOOP_TEST(retire_drops_the_object)
{
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h = get_cookie(v, "k1", "aux1", 100, NULL);
	char path[META_PATH_MAX];
	struct store_view vw;

	snprintf(path, sizeof(path), "%s", h->o->path);
	fill_settled(h, 'd');
	ck_assert_int_eq(put_cookie(h, 1), 0);
	settle();
	ck_assert(!exists_cache(path));
	(void)get_cookie(v, "k1", "aux1", 100, &vw);
	ck_assert(vw.flags & STORE_COOKIE_NEW);
}

LOOP_TEST(refused_cookie_acquire_says_why)
{
	struct store_peer p = { .uid = 1000, .admin = 0 };
	struct store_vol *v = get_vol(VOL, "c", NULL);
	struct store_cookie *h;
	struct store_view vw;

	ck_assert_int_eq(store_cookie_get(&p, v, (const uint8_t *)"k", 1,
	    NULL, 0, 1, 0, &h, &vw), -EPERM);
	ck_assert_str_eq(p.refused, "acquiring an object");
	ck_assert_str_eq(p.key, VOL);
	ck_assert_uint_eq(v->objs, 0);
}

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, volume_is_made_on_disk);
	tcase_add_test(tc, volume_bad_key_or_coherency);
	tcase_add_test(tc, volume_same_coherency_is_used);
	tcase_add_test(tc, volume_other_coherency_empties_it);
	tcase_add_test(tc, volume_retired_goes_to_graveyard);
	tcase_add_test(tc, volume_refusal_says_why);
	tcase_add_test(tc, new_object_is_empty);
	tcase_add_test(tc, cookie_bad_key_or_aux);
	tcase_add_test(tc, fill_shows_in_map_and_fd);
	tcase_add_test(tc, fill_writes_only_the_gaps);
	tcase_add_test(tc, overlapping_fill_joins_extents);
	tcase_add_test(tc, fill_of_what_is_there_writes_nothing);
	tcase_add_test(tc, fill_past_the_end_is_refused);
	tcase_add_test(tc, zcopy_fill_releases_its_source_before_the_answer);
	tcase_add_test(tc, dropped_zcopy_fill_releases_its_source_at_once);
	tcase_add_test(tc, other_aux_makes_a_handle_stale);
	tcase_add_test(tc, fill_in_flight_of_a_replaced_object_claims_nothing);
	tcase_add_test(tc, invalidate_empties_and_follows);
	tcase_add_test(tc, publish_writes_file_xattr_and_map);
	tcase_add_test(tc, published_object_is_read_back_from_disk);
	tcase_add_test(tc, idle_object_is_woken_with_its_map);
	tcase_add_test(tc, hold_and_release_keep_an_object_off_idle);
	tcase_add_test(tc, freeze_quiesce_keeps_closes_until_it_ends);
	tcase_add_test(tc, freeze_lets_a_fill_in_the_kernel_go);
	tcase_add_test(tc, freeze_waits_for_other_io_jobs);
	tcase_add_test(tc, freeze_drops_queued_creations_and_keeps_closes);
	tcase_add_test(tc, suspend_quiesce_closes_what_a_freeze_kept);
	tcase_add_test(tc, clients_never_share_an_open_file);
	tcase_add_test(tc, idle_object_replaced_on_disk_is_read_anew);
	tcase_add_test(tc,
	    listing_shows_what_get_serves_before_it_is_published);
	tcase_add_test(tc, published_object_is_listed_once);
	tcase_add_test(tc, pending_listing_pages_list_each_once);
	tcase_add_test(tc, published_listing_pages_list_each_once);
	tcase_add_test(tc, listing_of_unknown_volume);
	tcase_add_test(tc, volumes_are_listed);
	tcase_add_test(tc, drop_moves_an_object_to_the_graveyard);
	tcase_add_test(tc, drop_of_what_is_not_there);
	tcase_add_test(tc, drop_of_a_held_volume_is_busy);
	tcase_add_test(tc, retire_drops_the_object);
	tcase_add_test(tc, refused_cookie_acquire_says_why);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
