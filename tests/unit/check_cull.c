/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_cull.c: the threshold state machine (fed with statfs numbers), and
 * real culling and reaping on a real directory tree: passes driven by a
 * max_files cap and by larderctl-style requests, pins, in-use objects,
 * suspension and resume, a crash's leftovers in graveyard/.
 *
 * The reaper is the real one, reap.o from libdaemon.a, seen through its
 * API (reap_busy; the reap.* counters through cull.c's stats provider);
 * check_reap.c tests it on its own.
 *
 * The control socket is not part of this test: the registration and
 * key/value functions are weak here and record what cull.c gives them
 * (control.o, when it is in libdaemon.a, is simply not linked in).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/cull.c"
#include "tests/unit/loop_wait.h"

/* ---- what control.c would do ------------------------------------------- */

static ctl_handler_fn *cull_handler;
static ctl_kv_fn *status_fn, *stats_fn;
static char kv_want[64], kv_got[256];
static uint16_t reply_status;
static uint64_t reply_objects, reply_bytes;
static int replied;

__attribute__((weak)) void
control_register(uint16_t type, ctl_handler_fn *fn, int admin_only)
{
	ck_assert_uint_eq(type, PROTO_CULL);
	ck_assert_int_eq(admin_only, 1);
	cull_handler = fn;
}

__attribute__((weak)) void
control_add_status(ctl_kv_fn *fn)
{
	status_fn = fn;
}

__attribute__((weak)) void
control_add_stats(ctl_kv_fn *fn)
{
	stats_fn = fn;
}

__attribute__((weak)) void
ctl_kv_u64(struct ctl_kv *kv, const char *key, uint64_t v)
{
	kv->count++;
	if (strcmp(key, kv_want) == 0)
		snprintf(kv_got, sizeof(kv_got), "%llu", (unsigned long long)v);
}

__attribute__((weak)) void
ctl_kv_s64(struct ctl_kv *kv, const char *key, int64_t v)
{
	ctl_kv_u64(kv, key, (uint64_t)v);
}

__attribute__((weak)) void
ctl_kv_str(struct ctl_kv *kv, const char *key, const char *v)
{
	kv->count++;
	if (strcmp(key, kv_want) == 0)
		snprintf(kv_got, sizeof(kv_got), "%s", v);
}

__attribute__((weak)) void
control_reply(struct ctl_req *rq, uint16_t status, const void *body,
    size_t len, int fd)
{
	struct proto_buf b;

	(void)fd;
	replied++;
	reply_status = status;
	if (status == PROTO_OK) {
		ck_assert_uint_eq(len, 16);
		proto_buf_init(&b, (void *)body, len);
		reply_objects = proto_get_u64(&b);
		reply_bytes = proto_get_u64(&b);
	}
	free(rq);
}

__attribute__((weak)) void
control_reply_str(struct ctl_req *rq, uint16_t status, const char *fmt, ...)
{
	(void)fmt;
	replied++;
	reply_status = status;
	free(rq);
}

static const char *
kv(ctl_kv_fn *fn, const char *key)
{
	struct ctl_kv k = { NULL, 0 };

	snprintf(kv_want, sizeof(kv_want), "%s", key);
	kv_got[0] = '\0';
	fn(&k);
	return kv_got;
}

/* ---- the state machine ---------------------------------------------------- */

static struct cull_limits
limits(void)
{
	struct cull_limits l = {
		.brun = 7, .bcull = 5, .bstop = 1,
		.frun = 7, .fcull = 5, .fstop = 1,
		.culltable = 12, .resume_blocks = -1, .resume_files = 5,
	};

	return l;
}

/* a 1000-block, 1000-file filesystem with bfree blocks and ffree files */
static struct cull_fs
fsw(uint64_t bfree, uint64_t ffree)
{
	struct cull_fs f = {
		.bsize = 4096, .blocks = 1000, .bavail = bfree,
		.files = 1000, .ffree = ffree,
	};

	return f;
}

START_TEST(test_evaluate)
{
	struct cull_limits l = limits();
	struct cull_fs f;
	struct cull_eval ev;

	/* plenty of space */
	f = fsw(500, 500);
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.allocate, 1);
	ck_assert_int_eq(ev.culling, 0);
	ck_assert_uint_eq(ev.need_bytes, 0);

	/* below bcull: cull, as far as brun */
	f = fsw(42, 500);
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert_int_eq(ev.allocate, 1);
	ck_assert_str_eq(ev.why, "free blocks 4.2% < bcull 5%");
	ck_assert_uint_eq(ev.need_bytes, (70 - 42) * 4096);
	ck_assert_uint_eq(ev.need_files, 0);

	/* between bcull and brun: hysteresis */
	f = fsw(60, 500);
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.culling, 0);
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert_str_eq(ev.why, "free blocks 6.0% < brun 7%");
	/* blocks back above brun but files below frun: keep going */
	f = fsw(80, 60);
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert_uint_eq(ev.need_files, 10);
	ck_assert_uint_eq(ev.need_bytes, 0);
	/* both met */
	f = fsw(70, 70);
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.culling, 0);

	/* files below fcull */
	f = fsw(500, 30);
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert_str_eq(ev.why, "free files 3.0% < fcull 5%");

	/* stop thresholds refuse, and stop refusing once above */
	f = fsw(9, 500);
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.allocate, 0);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert_str_eq(ev.refuse, "free blocks 0.9% < bstop 1%");
	f = fsw(10, 500);
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.allocate, 1);
	f = fsw(500, 5);
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.allocate, 0);
	ck_assert_str_eq(ev.refuse, "free files 0.5% < fstop 1%");

	/* nocull: never culls, still refuses */
	f = fsw(9, 500);
	evaluate(&l, &f, 0, 1, &ev);
	ck_assert_int_eq(ev.culling, 0);
	ck_assert_int_eq(ev.allocate, 0);
	ck_assert_str_eq(ev.why, "nocull: free blocks 0.9% < bcull 5%");

	/* graveyard bytes count as free when sizing a pass, not for
	 * allocation; culling ends only once the reaper has unlinked them,
	 * judged by the real free space then */
	f = fsw(5, 500);
	f.pending_blocks = 100;
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert(ev.need_bytes == 0 && ev.need_files == 0);
	ck_assert_int_eq(ev.allocate, 0);
	f.bavail += 100;	/* reaped as estimated: done */
	f.pending_blocks = 0;
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.culling, 0);
	f.bavail -= 60;		/* reaped less than estimated: cull on */
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert(ev.need_bytes > 0);

	/* a filesystem without an inode limit */
	f = fsw(500, 0);
	f.files = 0;
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.allocate, 1);
	ck_assert_int_eq(ev.culling, 0);
}
END_TEST

START_TEST(test_caps)
{
	struct cull_limits l = limits();
	struct cull_fs f = fsw(500, 500);
	struct cull_eval ev;

	/* max_size in bytes */
	l.max_size = 1000000;
	f.cache_bytes = 1000001;
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert_int_eq(ev.allocate, 0);
	ck_assert_uint_eq(ev.need_bytes, 1000001 - 950000);
	f.cache_bytes = 960000;		/* under the cap, above 95% */
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.culling, 0);
	ck_assert_int_eq(ev.allocate, 1);
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	f.cache_bytes = 950000;
	evaluate(&l, &f, 1, 0, &ev);
	ck_assert_int_eq(ev.culling, 0);

	/* max_size as a percent of the filesystem: 10% of 4096000 */
	l.max_size = 0;
	l.max_size_percent = 10;
	f.cache_bytes = 409601;
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert_uint_eq(cap_bytes(&l, &f), 409600);

	/* max_files */
	l.max_size_percent = 0;
	l.max_files = 100;
	f.cache_bytes = 0;
	f.cache_objects = 101;
	evaluate(&l, &f, 0, 0, &ev);
	ck_assert_int_eq(ev.culling, 1);
	ck_assert_int_eq(ev.allocate, 0);
	ck_assert_uint_eq(ev.need_files, 101 - 95);
	ck_assert_str_eq(ev.refuse, "cache 101 objects >= max_files 100");
}
END_TEST

START_TEST(test_resume)
{
	struct cull_limits l = limits();
	struct cull_fs f = fsw(10, 10);

	culler.susp_bavail = 10;
	culler.susp_ffree = 10;
	culler.susp_rel_obj = 100;
	culler.susp_rel_bytes = 0;
	/* default "- 5": five released objects or five freed files */
	ck_assert_int_eq(resume_due(&l, &f, 104, 0), 0);
	ck_assert_int_eq(resume_due(&l, &f, 105, 0), 1);
	f.ffree = 15;
	ck_assert_int_eq(resume_due(&l, &f, 100, 0), 1);
	/* blocks only */
	f = fsw(10, 10);
	l.resume_blocks = 3;
	l.resume_files = -1;
	ck_assert_int_eq(resume_due(&l, &f, 200, 2 * 4096), 0);
	ck_assert_int_eq(resume_due(&l, &f, 200, 3 * 4096), 1);
	f.bavail = 13;
	ck_assert_int_eq(resume_due(&l, &f, 100, 0), 1);
	/* both '-': the first release or any freed space */
	f = fsw(10, 10);
	l.resume_blocks = l.resume_files = -1;
	ck_assert_int_eq(resume_due(&l, &f, 100, 0), 0);
	ck_assert_int_eq(resume_due(&l, &f, 101, 0), 1);
	f.bavail = 11;
	ck_assert_int_eq(resume_due(&l, &f, 100, 0), 1);
}
END_TEST

/* ---- real culling on a real tree ---------------------------------------- */

static char top[64];
static int rootfd;
static struct conf conf;
static int vol;
#define NOBJ 200
static char names[NOBJ][32];

static void
mkpath(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	ck_assert_msg(mkdir(p, 0700) == 0 || errno == EEXIST, "mkdir %s", p);
}

static int
count_dir(const char *rel)
{
	char p[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	ck_assert_ptr_nonnull(d = opendir(p));
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
exists(int i)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/cache/Itest,vol/@%02x/%.31s", top, i % 256,
	    names[i]);
	return lstat(p, &st) == 0;
}

/* cache/, graveyard/ and the volume "test,vol" (in the index too) */
static void
make_volume(void)
{
	mkpath("cache");
	mkpath("graveyard");
	mkpath("cache/Itest,vol");
	vol = index_volume("test,vol");
}

/* NOBJ objects of 4 KiB, object i last used at 1000 + i */
static void
make_objects(void)
{
	char p[512];
	int i, fd;

	make_volume();
	ck_assert_int_eq(vol, 0);
	for (i = 0; i < NOBJ; i++) {
		snprintf(p, sizeof(p), "cache/Itest,vol/@%02x", i % 256);
		mkpath(p);
		snprintf(names[i], sizeof(names[i]), "Dobj%03d", i);
		snprintf(p, sizeof(p), "%s/cache/Itest,vol/@%02x/%.31s", top,
		    i % 256, names[i]);
		ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
		ck_assert_int_eq(write(fd, p, 100), 100);
		close(fd);
		ck_assert_uint_ne(index_add(vol, i % 256, names[i], 4096,
		    1000 + i), INDEX_NONE);
	}
}

static void
setup(void)
{
	snprintf(top, sizeof(top), "/tmp/check_cull.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	rootfd = open(top, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(rootfd, 0);
	log_init("check_cull", 1, 0);
	/* what conf_defaults gives (lib/conf.c is not needed here) */
	memset(&conf, 0, sizeof(conf));
	conf.brun = conf.frun = CONF_DEFAULT_RUN;
	conf.bcull = conf.fcull = CONF_DEFAULT_CULL;
	conf.bstop = conf.fstop = CONF_DEFAULT_STOP;
	conf.culltable = CONF_DEFAULT_CULLTABLE;
	conf.resume_blocks = -1;
	conf.resume_files = 5;
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(index_init(), 0);
	replied = 0;
}

static void
teardown(void)
{
	char cmd[128];

	cull_fini();
	index_fini();
	loop_fini();
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", top);
}


static int
cap_met(void)
{
	return !culler.pass && !reap_busy() && index_objects() <= 190 &&
	    count_dir("graveyard") == 0;
}

/* max_files drives automatic culling: oldest first, pinned never */
START_TEST(test_cull_cap)
{
	uint32_t id;
	int i;

	make_objects();
	/* object 0 and 1 are the oldest: pin 0, use 1 now */
	index_pin(index_find(vol, names[0]));
	index_touch(index_find(vol, names[1]), 5000);
	conf.max_files = 200;		/* at the cap: cull down to 190 */
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, NULL), 0);
	ck_assert_int_eq(cull_can_allocate(), 0);
	ck_assert_str_eq(kv(status_fn, "cull.allocate"),
	    "refused: cache 200 objects >= max_files 200");
	loop_wait_until(cap_met);
	ck_assert_uint_eq(index_objects(), 190);
	ck_assert_int_eq(cull_can_allocate(), 1);
	/* culled: 2..11, the oldest unpinned, not-touched ones */
	ck_assert_int_eq(exists(0), 1);
	ck_assert_int_eq(exists(1), 1);
	for (i = 2; i < 12; i++) {
		ck_assert_int_eq(exists(i), 0);
		ck_assert_uint_eq(index_find(vol, names[i]), INDEX_NONE);
	}
	for (i = 12; i < NOBJ; i++)
		ck_assert_int_eq(exists(i), 1);
	id = index_find(vol, names[0]);
	ck_assert_uint_ne(id, INDEX_NONE);
	ck_assert_int_eq(index_get_state(id), INDEX_LIVE);
	ck_assert_str_eq(kv(stats_fn, "cull.objects"), "10");
	ck_assert_str_eq(kv(stats_fn, "cull.bytes"), "40960");
	/* 4 KiB each: unlinked in place, the graveyard never used */
	ck_assert_str_eq(kv(stats_fn, "cull.unlinked_in_place"), "10");
	ck_assert_str_eq(kv(stats_fn, "reap.objects"), "0");
	ck_assert_str_eq(kv(stats_fn, "cull.pinned_objects"), "1");
	ck_assert_str_eq(kv(stats_fn, "cull.pinned_bytes"), "4096");
	ck_assert_uint_ge(strtoull(kv(stats_fn, "cull.passes"), NULL, 10), 1);
	ck_assert_ptr_nonnull(strstr(kv(status_fn, "cull.state"), "idle"));
}
END_TEST

static int
request_answered(void)
{
	return replied > 0 && !reap_busy() && count_dir("graveyard") == 0;
}

/* larderctl cull --bytes, through the PROTO_CULL handler */
START_TEST(test_cull_request)
{
	struct ctl_req *rq;
	uint8_t body[12];
	struct proto_buf b;

	make_objects();
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, NULL), 0);
	ck_assert_ptr_nonnull(cull_handler);
	/* bad mode */
	rq = calloc(1, sizeof(*rq) + sizeof(body));
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, 7);
	proto_put_u64(&b, 0);
	proto_buf_init(&rq->body, body, sizeof(body));
	ck_assert_int_eq(cull_handler(rq), 0);
	ck_assert_int_eq(replied, 1);
	ck_assert_uint_eq(reply_status, PROTO_EINVAL);
	/* short body */
	rq = calloc(1, sizeof(*rq));
	proto_buf_init(&rq->body, body, 4);
	ck_assert_int_eq(cull_handler(rq), -EPROTO);
	free(rq);
	/* 5 objects' worth: 3 x 4096 + 1 -> 4 objects */
	replied = 0;
	rq = calloc(1, sizeof(*rq));
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, PROTO_CULL_BYTES);
	proto_put_u64(&b, 3 * 4096 + 1);
	proto_buf_init(&rq->body, body, sizeof(body));
	ck_assert_int_eq(cull_handler(rq), CTL_DEFERRED);
	loop_wait_until(request_answered);
	ck_assert_uint_eq(reply_status, PROTO_OK);
	ck_assert_uint_eq(reply_objects, 4);
	ck_assert_uint_eq(reply_bytes, 4 * 4096);
	ck_assert_int_eq(exists(3), 0);
	ck_assert_int_eq(exists(4), 1);
	ck_assert_uint_eq(index_objects(), NOBJ - 4);
}
END_TEST

START_TEST(test_nocull)
{
	struct ctl_req *rq;
	uint8_t body[12];
	struct proto_buf b;

	make_objects();
	conf.max_files = 100;
	ck_assert_int_eq(cull_init(&conf, rootfd, 1, NULL), 0);
	ck_assert_int_eq(culler.culling, 0);
	ck_assert_int_eq(cull_can_allocate(), 0);	/* caps still refuse */
	ck_assert_ptr_nonnull(strstr(kv(status_fn, "cull.state"),
	    "disabled: nocull: cache 200 objects >= max_files 100"));
	rq = calloc(1, sizeof(*rq));
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, PROTO_CULL_THRESHOLDS);
	proto_put_u64(&b, 0);
	proto_buf_init(&rq->body, body, sizeof(body));
	ck_assert_int_eq(cull_handler(rq), 0);
	ck_assert_uint_eq(reply_status, PROTO_EREFUSED);
	ck_assert_int_eq(cull_request(PROTO_CULL_BYTES, 1, NULL, NULL),
	    -EPERM);
	ck_assert_uint_eq(index_objects(), NOBJ);
	ck_assert_int_eq(count_dir("graveyard"), 0);
}
END_TEST

/* in-use objects (-EBUSY) and suspension when nothing can be culled */
static int busy_calls;

static void
busy_batch(struct cull_victim *v, unsigned n, void *arg)
{
	unsigned i;

	(void)arg;
	for (i = 0; i < n; i++) {
		__atomic_add_fetch(&busy_calls, 1, __ATOMIC_RELAXED);
		v[i].res = -EBUSY;
	}
}

static int
suspended(void)
{
	return culler.suspended && !culler.pass;
}

START_TEST(test_busy_suspend)
{
	struct cull_ops ops = { CULL_KERNEL, busy_batch, NULL, 1 };
	uint32_t id;

	make_objects();
	conf.max_files = 150;
	/* not 1 yet: the test's files live on the shared /tmp, where any
	 * file another process deletes would resume culling at once */
	conf.resume_files = INT_MAX;
	conf.resume_blocks = -1;
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &ops), 0);
	loop_wait_until(suspended);
	/* every victim was tried once, found busy, kept and marked used */
	ck_assert_uint_eq(index_objects(), NOBJ);
	ck_assert_int_eq(busy_calls, NOBJ - 143);
	ck_assert_str_eq(kv(stats_fn, "cull.skipped_in_use"), "57");
	ck_assert_str_eq(kv(stats_fn, "cull.suspensions"), "1");
	ck_assert_ptr_nonnull(strstr(kv(status_fn, "cull.state"),
	    "suspended"));
	id = index_find(vol, names[0]);
	ck_assert_int_gt(index_last_use(id), 1000);
	ck_assert_int_eq(index_get_state(id), INDEX_LIVE);
	/* no spinning: checks go on, passes do not */
	ck_assert_str_eq(kv(stats_fn, "cull.passes"), "1");
	/* a release resumes it */
	culler.lim.resume_files = 1;
	index_pin(id);
	index_unpin(id);
	check();
	ck_assert_int_eq(culler.suspended, 0);
}
END_TEST

/* kernel mode's check: objects 0..9 were used after the index last looked
 * (their atime says 5000 + i); the rest are culled (the kernel would
 * unlink them) */
static int used_calls;

static void
used_batch(struct cull_victim *v, unsigned n, void *arg)
{
	unsigned k;
	int i;

	(void)arg;
	for (k = 0; k < n; k++) {
		i = atoi(v[k].name + 4);
		__atomic_add_fetch(&used_calls, 1, __ATOMIC_RELAXED);
		v[k].res = 0;
		if (i < 10 && v[k].last_use < 5000) {
			v[k].last_use = 5000 + i;
			v[k].res = CULL_USED_SINCE;
		}
	}
}

static int
objects_at_most_143(void)
{
	return index_objects() <= 143 && !culler.pass;
}

START_TEST(test_used_since)
{
	struct cull_ops ops = { CULL_KERNEL, used_batch, NULL, 1 };
	uint32_t id;
	int i;

	make_objects();
	index_set_policy(INDEX_POLICY_LRU);
	conf.cull_policy = CONF_CULL_LRU;
	conf.max_files = 150;		/* cull down to 143 */
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &ops), 0);
	loop_wait_until(objects_at_most_143);
	/* 0..9 were found used and kept, with their new last use; the 57
	 * oldest of the others went: 10..66 */
	for (i = 0; i < 10; i++) {
		id = index_find(vol, names[i]);
		ck_assert_uint_ne(id, INDEX_NONE);
		ck_assert_int_eq(index_last_use(id), 5000 + i);
		ck_assert_int_eq(index_get_state(id), INDEX_LIVE);
	}
	for (i = 10; i < 67; i++)
		ck_assert_uint_eq(index_find(vol, names[i]), INDEX_NONE);
	for (i = 67; i < NOBJ; i++)
		ck_assert_uint_ne(index_find(vol, names[i]), INDEX_NONE);
	ck_assert_str_eq(kv(stats_fn, "cull.used_since"), "10");
	ck_assert_str_eq(kv(stats_fn, "cull.objects"), "57");
	ck_assert_str_eq(kv(stats_fn, "cull.suspensions"), "0");
}
END_TEST

static int
graveyard_empty(void)
{
	return !reap_busy() && count_dir("graveyard") == 0;
}

/* what a crash left in graveyard/ is reaped at start; symlinks are
 * removed, never followed */
START_TEST(test_reap_leftovers)
{
	char p[512], q[512];
	struct stat st;
	int fd;

	mkpath("cache");
	mkpath("graveyard");
	mkpath("keep");
	snprintf(p, sizeof(p), "%s/keep/precious", top);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/graveyard/C1.2.3", top);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	ck_assert_int_eq(write(fd, p, 10), 10);
	close(fd);
	/* a whole volume moved there */
	mkpath("graveyard/V1.2.4");
	mkpath("graveyard/V1.2.4/@00");
	mkpath("graveyard/V1.2.4/@01");
	snprintf(p, sizeof(p), "%s/graveyard/V1.2.4/@00/Dx", top);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/graveyard/V1.2.4/@01/link", top);
	snprintf(q, sizeof(q), "%s/keep", top);
	ck_assert_int_eq(symlink(q, p), 0);
	snprintf(p, sizeof(p), "%s/graveyard/fifo", top);
	ck_assert_int_eq(mkfifo(p, 0600), 0);

	ck_assert_int_eq(cull_init(&conf, rootfd, 0, NULL), 0);
	loop_wait_until(graveyard_empty);
	snprintf(p, sizeof(p), "%s/keep/precious", top);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_str_eq(kv(stats_fn, "reap.objects"), "4");
	ck_assert_str_eq(kv(stats_fn, "reap.errors"), "0");
}
END_TEST

static int
count_fds(void)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	ck_assert_ptr_nonnull(d = opendir("/proc/self/fd"));
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
req_done(void *arg, uint64_t objects, uint64_t bytes, int err)
{
	(void)arg;
	ck_assert_int_eq(err, 0);
	reply_objects = objects;
	reply_bytes = bytes;
	replied++;
}

static int fds0 = -1;

/* Count the fds once the full reap at start is done (the reaper holds two
 * while it runs), then ask for the pass; done when it is answered. */
static int
dirfds_step(void)
{
	int i;

	if (fds0 < 0) {
		if (reap_busy())
			return 0;
		fds0 = count_fds();
		for (i = 0; i < JOBS_IN_FLIGHT; i++)
			culler.caches[i].maxopen = 50 / JOBS_IN_FLIGHT;
		ck_assert_int_eq(cull_request(PROTO_CULL_BYTES, 120 * 4096,
		    req_done, NULL), 0);
		return 0;
	}
	return request_answered();
}

/*
 * A pass keeps the fan-out directories it opened (up to maxopen; past
 * that it opens and closes per victim) and closes them all when it ends.
 * (Each job keeps them in the cache it was lent: check every cache.)
 */
START_TEST(test_dirfds)
{
	struct bury_cache *c;
	size_t i;

	make_objects();
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, NULL), 0);
	fds0 = -1;
	loop_wait_until(dirfds_step);
	ck_assert_uint_eq(reply_objects, 120);
	for (i = 0; i < NOBJ; i++)
		ck_assert_int_eq(exists(i), i >= 120);
	ck_assert_uint_eq(index_objects(), NOBJ - 120);
	/* one volume: 256 slots; all closed again */
	for (c = culler.caches; c < culler.caches + JOBS_IN_FLIGHT; c++) {
		ck_assert_uint_eq(c->nslots, 256);
		ck_assert_uint_eq(c->nopen, 0);
		for (i = 0; i < c->nslots; i++)
			ck_assert_int_eq(c->fds[i], -1);
	}
	ck_assert_int_eq(count_fds(), fds0);
	ck_assert_str_eq(kv(stats_fn, "cull.errors"), "0");
}
END_TEST

/* ---- backends: kinds and batches ------------------------------------------ */

/* A CULL_KERNEL backend that removes each victim itself, as the kernel's
 * `cull` would, and records the batches it got (on a worker thread; the
 * test reads them after the pass, through the work queue's lock). */
static unsigned kb_calls, kb_victims, kb_max, kb_bad;

static void
kernel_like_batch(struct cull_victim *v, unsigned n, void *arg)
{
	char p[512];
	unsigned i;

	kb_calls++;
	kb_victims += n;
	if (n > kb_max)
		kb_max = n;
	for (i = 0; i < n; i++) {
		if (arg != &kb_calls || v[i].vol != vol ||
		    strcmp(v[i].volume_key, "test,vol") != 0 ||
		    v[i].fanout != atoi(v[i].name + 4) % 256 ||
		    v[i].res != -EIO || v[i].last_use != 1000 + atoi(v[i].name + 4))
			kb_bad++;
		snprintf(p, sizeof(p), "cache/I%s/@%02x/%s", v[i].volume_key,
		    v[i].fanout, v[i].name);
		v[i].res = unlinkat(rootfd, p, 0) == 0 ? 0 : -errno;
	}
}

/* make() the objects, then a CULL_KERNEL pass down to 143 objects: the
 * 57 oldest go, each with its name, volume, fan-out and last use right. */
static void
kernel_case(void (*make)(void))
{
	struct cull_ops ops = { CULL_KERNEL, kernel_like_batch, &kb_calls, 0 };
	int i;

	make();
	kb_calls = kb_victims = kb_max = kb_bad = 0;
	conf.max_files = 150;		/* cull down to 143: 57 victims */
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &ops), 0);
	loop_wait_until(objects_at_most_143);
	ck_assert_uint_eq(kb_victims, 57);
	ck_assert_uint_eq(kb_bad, 0);
	for (i = 0; i < NOBJ; i++)
		ck_assert_int_eq(exists(i), i >= 57);
	ck_assert_str_eq(kv(stats_fn, "cull.objects"), "57");
}

/* A CULL_KERNEL backend gets the pass's victims as one batch (a job of up
 * to JOB_VICTIMS), culls them itself, and nothing goes to graveyard/ or
 * counts as pending there. */
START_TEST(test_kernel_batch)
{
	kernel_case(make_objects);
	ck_assert_uint_eq(kb_calls, 1);
	ck_assert_uint_eq(kb_max, 57);
	ck_assert_uint_eq(culler.pending_objects, 0);
	ck_assert_uint_eq(culler.pending_bytes, 0);
	ck_assert_int_eq(count_dir("graveyard"), 0);
}
END_TEST

/* ---- nameless entries (index_add_ino: what the daemon's scan makes) ---- */

/* Object i's path under top. */
static void
obj_path(int i, char *p, size_t len)
{
	snprintf(p, len, "%s/cache/Itest,vol/@%02x/%.31s", top, i % 256,
	    names[i]);
}

/* make_objects, but indexed nameless (name hash and inode), as the scan
 * of larderd does */
static void
make_nameless(void)
{
	char p[512];
	struct stat st;
	int i;

	make_objects();
	for (i = 0; i < NOBJ; i++) {
		obj_path(i, p, sizeof(p));
		ck_assert_int_eq(stat(p, &st), 0);
		index_del(index_find(vol, names[i]));
		ck_assert_uint_ne(index_add_ino(vol, i % 256, names[i],
		    st.st_ino, 4096, 1000 + i), INDEX_NONE);
		ck_assert_int_eq(index_named(index_find(vol, names[i])), 0);
	}
}

/* Replace object i's file by another one (another inode) under its name,
 * holding text. */
static void
replace_file(int i, const char *text)
{
	char p[512], tmp[512];
	int fd;

	obj_path(i, p, sizeof(p));
	snprintf(tmp, sizeof(tmp), "%s/cache/Itest,vol/new", top);
	ck_assert_int_ge(fd = open(tmp, O_CREAT | O_WRONLY | O_EXCL, 0600), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(rename(tmp, p), 0);	/* the old inode is kept
						   until then: they differ */
}

static int
file_holds(int i, const char *text)
{
	char p[512], buf[64];
	ssize_t n;
	int fd;

	obj_path(i, p, sizeof(p));
	if ((fd = open(p, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strcmp(buf, text) == 0;
}

static int
cap10_met(void)
{
	return !culler.pass && !reap_busy() && index_objects() <= 190 &&
	    count_dir("graveyard") == 0;
}

/*
 * Culling nameless entries: the workers find the victims' names by
 * readdir (inode and name hash), and cull the oldest by name. A file
 * replaced under its name (another inode) and a file gone are not culled
 * by mistake: skipped, and dropped from the index; an entry the store
 * named meanwhile is culled by its name; pins still hold.
 */
START_TEST(test_cull_nameless)
{
	char p[512], o4[512];
	int i;

	make_nameless();
	index_pin(index_find(vol, names[0]));		/* never culled */
	ck_assert_uint_ne(index_add(vol, 1, names[1], 4096, 1001),
	    INDEX_NONE);				/* named, as opened */
	ck_assert_int_eq(index_named(index_find(vol, names[1])), 1);
	replace_file(2, "a new file");
	obj_path(3, p, sizeof(p));
	ck_assert_int_eq(unlink(p), 0);
	/* a hard link under another name in the same directory: the same
	 * inode, another hash: never taken for object 4's name */
	obj_path(4, o4, sizeof(o4));
	snprintf(p, sizeof(p), "%s/cache/Itest,vol/@04/Dlink4", top);
	ck_assert_int_eq(link(o4, p), 0);
	conf.max_files = 200;		/* at the cap: down to 190 */
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, NULL), 0);
	loop_wait_until(cap10_met);
	ck_assert_uint_eq(index_objects(), 190);
	/* victims 1..10: 1 named, 2 replaced and 3 gone (both dropped from
	 * the index, not culled), 4..10 by their names */
	ck_assert_int_eq(exists(0), 1);
	ck_assert_int_eq(exists(1), 0);
	ck_assert_int_eq(file_holds(2, "a new file"), 1);
	ck_assert_int_eq(exists(3), 0);
	for (i = 1; i <= 10; i++)
		ck_assert_uint_eq(index_find(vol, names[i]), INDEX_NONE);
	for (i = 4; i <= 10; i++)
		ck_assert_int_eq(exists(i), 0);
	ck_assert_int_eq(access(p, F_OK), 0);	/* Dlink4 stays */
	for (i = 11; i < NOBJ; i++)
		ck_assert_int_eq(exists(i), 1);
	ck_assert_str_eq(kv(stats_fn, "cull.objects"), "8");
	ck_assert_str_eq(kv(stats_fn, "cull.gone"), "2");
	ck_assert_str_eq(kv(stats_fn, "cull.errors"), "0");
	ck_assert_str_eq(kv(stats_fn, "cull.unlinked_in_place"), "8");
}
END_TEST

/* The selection in slices of 5 entries (one per loop turn): the same
 * victims as in one go, nameless ones too, and the selection is done and
 * freed when the pass ends. */
START_TEST(test_cull_sliced)
{
	int i;

	make_nameless();
	index_pin(index_find(vol, names[0]));
	index_touch(index_find(vol, names[1]), 5000);
	select_budget = 5;
	conf.max_files = 200;		/* at the cap: down to 190 */
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, NULL), 0);
	ck_assert_ptr_nonnull(culler.selecting);	/* not done at once */
	loop_wait_until(cap10_met);
	select_budget = INDEX_SELECT_SLICE;
	ck_assert_ptr_null(culler.selecting);
	ck_assert_uint_eq(index_objects(), 190);
	for (i = 0; i < NOBJ; i++)
		ck_assert_int_eq(exists(i), i < 2 || i >= 12);
	ck_assert_str_eq(kv(stats_fn, "cull.objects"), "10");
}
END_TEST

/* The kernel backend gets the names of nameless victims, found on the
 * worker before its batch: what `cull NAME` needs. */
START_TEST(test_kernel_nameless)
{
	kernel_case(make_nameless);
}
END_TEST

/* The backend kinds cull_init takes: the rename backend is cull.c's own
 * (no callback), a kernel backend must bring one. */
START_TEST(test_backend_invalid)
{
	struct cull_ops k = { CULL_KERNEL, NULL, NULL, 0 };
	struct cull_ops r = { CULL_RENAME_TO_GRAVEYARD, busy_batch, NULL, 0 };
	struct cull_ops x = { (enum cull_backend)7, busy_batch, NULL, 0 };
	struct cull_ops ok = { CULL_RENAME_TO_GRAVEYARD, NULL, NULL, 0 };

	make_objects();
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &k), -EINVAL);
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &r), -EINVAL);
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &x), -EINVAL);
	ck_assert_int_eq(culler.init, 0);
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &ok), 0);
	ck_assert_int_eq(culler.ops.kind, CULL_RENAME_TO_GRAVEYARD);
}
END_TEST

#define NMANY 600
static int many_fds0 = -1;
/* what the index says each of make_many's objects has on disk */
static uint64_t many_bytes = 4096;

/* Like dirfds_step, for a pass of 520 of NMANY objects: 3 jobs. */
static int
many_step(void)
{
	if (many_fds0 < 0) {
		if (reap_busy())
			return 0;
		many_fds0 = count_fds();
		ck_assert_int_eq(cull_request(PROTO_CULL_BYTES, 520 * many_bytes,
		    req_done, NULL), 0);
		return 0;
	}
	return request_answered();
}

/*
 * The rename backend with several jobs in flight on both workers: each job
 * has a fan-out fd cache of its own (lent with the job, back with its
 * result) and names its victims from its own sequence number, so no two
 * renames collide (every one reaches the reaper); when the pass ends every
 * cache is back and closed, and the fds are what they were. The objects
 * are 2 MiB in the index: bigger than what bury.c unlinks in place.
 */
/* NMANY empty objects Dmany<i> of many_bytes (in the index), object i
 * last used at 1000 + i */
static void
make_many(void)
{
	char p[512];
	int i, fd;

	make_volume();
	for (i = 0; i < NMANY; i++) {
		snprintf(p, sizeof(p), "cache/Itest,vol/@%02x", i % 256);
		mkpath(p);
		snprintf(p, sizeof(p), "%s/cache/Itest,vol/@%02x/Dmany%04d",
		    top, i % 256, i);
		ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
		close(fd);
		snprintf(p, sizeof(p), "Dmany%04d", i);
		ck_assert_uint_ne(index_add(vol, i % 256, p, many_bytes,
		    1000 + i), INDEX_NONE);
	}
}

START_TEST(test_rename_jobs)
{
	struct cull_ops ops = { CULL_RENAME_TO_GRAVEYARD, NULL, NULL, 0 };
	struct bury_cache *c;
	char p[512];
	int i;

	many_bytes = 2 << 20;
	make_many();
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &ops), 0);
	many_fds0 = -1;
	loop_wait_until(many_step);
	many_bytes = 4096;
	ck_assert_uint_eq(reply_objects, 520);
	ck_assert_str_eq(kv(stats_fn, "cull.objects"), "520");
	ck_assert_str_eq(kv(stats_fn, "reap.objects"), "520");
	ck_assert_str_eq(kv(stats_fn, "cull.unlinked_in_place"), "0");
	ck_assert_str_eq(kv(stats_fn, "cull.errors"), "0");
	ck_assert_uint_eq(culler.job_seq, 3);
	for (c = culler.caches; c < culler.caches + JOBS_IN_FLIGHT; c++) {
		ck_assert_int_eq(c->lent, 0);
		ck_assert_uint_eq(c->nopen, 0);
	}
	ck_assert_int_eq(count_fds(), many_fds0);
	for (i = 0; i < NMANY; i++) {
		snprintf(p, sizeof(p), "%s/cache/Itest,vol/@%02x/Dmany%04d",
		    top, i % 256, i);
		ck_assert_int_eq(access(p, F_OK) == 0, i >= 520);
	}
}
END_TEST

/* Mixed sizes, one pass: the 4 KiB objects are unlinked in place, the
 * 2 MiB ones renamed into graveyard/ and reaped; all eight go. */
START_TEST(test_small_in_place_big_to_graveyard)
{
	char p[512];
	int i, fd;

	make_volume();
	mkpath("cache/Itest,vol/@00");
	for (i = 0; i < 8; i++) {
		snprintf(p, sizeof(p), "%s/cache/Itest,vol/@00/Dmix%d", top, i);
		ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
		close(fd);
		snprintf(p, sizeof(p), "Dmix%d", i);
		ck_assert_uint_ne(index_add(vol, 0, p, i % 2 ? 2u << 20 : 4096,
		    1000 + i), INDEX_NONE);
	}
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, NULL), 0);
	replied = 0;
	ck_assert_int_eq(cull_request(PROTO_CULL_BYTES, 4 * 4096 +
	    4 * (2u << 20), req_done, NULL), 0);
	loop_wait_until(request_answered);
	ck_assert_uint_eq(reply_objects, 8);
	ck_assert_str_eq(kv(stats_fn, "cull.objects"), "8");
	ck_assert_str_eq(kv(stats_fn, "cull.unlinked_in_place"), "4");
	ck_assert_str_eq(kv(stats_fn, "reap.objects"), "4");
	ck_assert_str_eq(kv(stats_fn, "cull.errors"), "0");
	for (i = 0; i < 8; i++) {
		snprintf(p, sizeof(p), "%s/cache/Itest,vol/@00/Dmix%d", top, i);
		ck_assert_int_ne(access(p, F_OK), 0);
	}
}
END_TEST

/* a serial backend that unlinks (worker) */
static void
unlink_serial(struct cull_victim *v, unsigned n, void *arg)
{
	char p[512];
	unsigned i;

	(void)arg;
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "cache/I%s/@%02x/%s", v[i].volume_key,
		    v[i].fanout, v[i].name);
		v[i].res = unlinkat(rootfd, p, 0) == 0 ? 0 : -errno;
	}
}

static int lazy_started;

/* Main thread, every tick: never more than one job made ahead of a
 * serial backend. The first time, the request: its selection ends in
 * that same turn (600 entries, one slice), so one job of 256 is made and
 * the other 264 victims wait, marked culling already. */
static int
lazy_step(void)
{
	unsigned queued = 0;
	struct cull_job *j;
	size_t i;

	if (!lazy_started) {
		if (reap_busy())
			return 0;
		lazy_started = 1;
		ck_assert_int_eq(cull_request(PROTO_CULL_BYTES, 520 * many_bytes,
		    req_done, NULL), 0);
		ck_assert_uint_eq(culler.take_end, 520);
		ck_assert_uint_eq(culler.take_pos, 256);
		for (i = culler.take_pos; i < culler.take_end; i++)
			ck_assert_int_eq(index_get_state(culler.sel[i]),
			    INDEX_CULLING);
	}
	for (j = culler.pending_head; j; j = j->next_pending)
		queued++;
	ck_assert_uint_le(queued + culler.jobs_inflight, 1);
	return request_answered();
}

/* A pass of 520 victims for a backend that takes one job at a time: the
 * jobs are made one by one as the last comes back (never the whole
 * pass's at once), the victims waiting for theirs are already marked
 * culling, and all 520, the oldest, go. */
START_TEST(test_lazy_jobs)
{
	struct cull_ops ops = { CULL_KERNEL, unlink_serial, NULL, 1 };
	char p[512];
	int i;

	make_many();
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, &ops), 0);
	lazy_started = 0;
	loop_wait_until(lazy_step);
	ck_assert_uint_eq(reply_objects, 520);
	ck_assert_uint_eq(culler.job_seq, 3);
	for (i = 0; i < NMANY; i++) {
		snprintf(p, sizeof(p), "%s/cache/Itest,vol/@%02x/Dmany%04d",
		    top, i % 256, i);
		ck_assert_int_eq(access(p, F_OK) == 0, i >= 520);
	}
}
END_TEST

/* ---- the write gate: GATE_FULL -------------------------------------------- */

/* GATE_FULL follows the allocation verdict across bstop, fstop, max_size
 * and max_files, both ways; no other reason is touched. */
START_TEST(test_gate_thresholds)
{
	static const struct {
		uint64_t bfree, ffree, cache_bytes, cache_objects;
		int full;
	} t[] = {
		{ 500, 500, 0, 0, 0 },
		{ 9, 500, 0, 0, 1 },		/* below bstop 1% */
		{ 10, 500, 0, 0, 0 },		/* at bstop: allowed */
		{ 500, 9, 0, 0, 1 },		/* below fstop */
		{ 500, 9, 0, 0, 1 },		/* still (closed once) */
		{ 500, 10, 0, 0, 0 },
		{ 500, 500, 100 * 4096, 0, 1 },	/* at max_size */
		{ 500, 500, 99 * 4096, 0, 0 },
		{ 500, 500, 0, 50, 1 },		/* at max_files */
		{ 500, 500, 0, 49, 0 },
	};
	struct cull_limits l = limits();
	struct cull_eval ev;
	struct cull_fs f;
	unsigned i, closes = 0;

	l.max_size = 100 * 4096;
	l.max_files = 50;
	gate_reset();
	gate_close(GATE_DEFER);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		f = fsw(t[i].bfree, t[i].ffree);
		f.cache_bytes = t[i].cache_bytes;
		f.cache_objects = t[i].cache_objects;
		evaluate(&l, &f, 0, 0, &ev);
		closes += t[i].full && cull_can_allocate();
		set_allocate(&ev);
		ck_assert_msg(!(gate_closed() & GATE_FULL) == !t[i].full,
		    "row %u", i);
		ck_assert_int_eq(cull_can_allocate(), !t[i].full);
		ck_assert_int_eq(gate_closed() & GATE_DEFER, GATE_DEFER);
	}
	ck_assert_uint_eq(culler.refusals, closes);
	ck_assert_uint_eq(closes, 4);
	gate_reset();
	culler.refusals = 0;
}
END_TEST

static int
gate_full_open(void)
{
	return cap_met() && gate_ok(GATE_FULL);
}

/*
 * A real cache at max_files: the culler closes GATE_FULL at its first
 * check, culls (a cull rename does not wait on the gate, here closed for
 * GATE_FULL and for another reason too) and opens GATE_FULL again once
 * the cache is under the cap; the other reason stays. cull_fini opens
 * GATE_FULL.
 */
START_TEST(test_gate_full)
{
	make_objects();
	gate_reset();
	gate_close(GATE_QUIESCE);
	conf.max_files = 200;
	ck_assert_int_eq(cull_init(&conf, rootfd, 0, NULL), 0);
	ck_assert_uint_eq(gate_closed(), GATE_QUIESCE | GATE_FULL);
	ck_assert_int_eq(cull_can_allocate(), 0);
	loop_wait_until(gate_full_open);
	ck_assert_uint_eq(index_objects(), 190);
	ck_assert_uint_eq(gate_closed(), GATE_QUIESCE);
	ck_assert_int_eq(cull_can_allocate(), 1);
	/* over the cap again (the store would kick): closed at the next
	 * check, opened by cull_fini */
	culler.lim.max_files = 150;
	check();
	ck_assert_uint_eq(gate_closed(), GATE_QUIESCE | GATE_FULL);
	cull_fini();
	ck_assert_uint_eq(gate_closed(), GATE_QUIESCE);
	gate_reset();
}
END_TEST

static Suite *
cull_suite(void)
{
	Suite *s = suite_create("cull");
	TCase *tc = tcase_create("thresholds");
	TCase *tr = tcase_create("real");

	tcase_add_test(tc, test_evaluate);
	tcase_add_test(tc, test_caps);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_gate_thresholds);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, test_cull_cap);
	tcase_add_test(tr, test_cull_request);
	tcase_add_test(tr, test_nocull);
	tcase_add_test(tr, test_busy_suspend);
	tcase_add_test(tr, test_used_since);
	tcase_add_test(tr, test_reap_leftovers);
	tcase_add_test(tr, test_dirfds);
	tcase_add_test(tr, test_kernel_batch);
	tcase_add_test(tr, test_cull_nameless);
	tcase_add_test(tr, test_kernel_nameless);
	tcase_add_test(tr, test_cull_sliced);
	tcase_add_test(tr, test_backend_invalid);
	tcase_add_test(tr, test_rename_jobs);
	tcase_add_test(tr, test_small_in_place_big_to_graveyard);
	tcase_add_test(tr, test_lazy_jobs);
	tcase_add_test(tr, test_gate_full);
	suite_add_tcase(s, tr);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cull_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
