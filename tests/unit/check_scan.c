/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_scan.c: the startup scan (daemon/scan.c) on a real directory tree
 * made here: objects with cooked names in the right fan-out dirs, and every
 * kind of foreign entry next to them.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cfmt.h"
#include "daemon/index.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/scan.h"

static char top[64];
static int rootfd;

#define NOBJ 300

struct made {
	char vol[32];
	char name[CFMT_MAX_NAME];
	unsigned fanout;
	int64_t atime;
	uint64_t bytes;		/* st_blocks * 512 */
};
static struct made made[NOBJ];

/* mkdir top/rel, fine if it exists */
static void
xmkdir(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	ck_assert_msg(mkdir(p, 0700) == 0 || errno == EEXIST, "mkdir %s", p);
}

static void
make_volume(const char *vkey)
{
	char p[512];
	unsigned f;

	snprintf(p, sizeof(p), "cache/I%s", vkey);
	xmkdir(p);
	for (f = 0; f < 256; f++) {
		snprintf(p, sizeof(p), "%s/cache/I%s/@%02x", top, vkey, f);
		ck_assert_int_eq(mkdir(p, 0700), 0);
	}
}

/* Make object i of volume vkey with a valid xattr (or none). */
static void
make_object(int i, const char *vkey, int with_xattr)
{
	struct made *m = &made[i];
	uint8_t key[8], x[64];
	struct cfmt_obj o;
	struct timespec ts[2];
	struct stat st;
	char p[512];
	int fd, k, xl;

	for (k = 0; k < 8; k++)
		key[k] = (uint8_t)(((uint64_t)i * 7919 + 13) >> (k * 8));
	snprintf(m->vol, sizeof(m->vol), "%s", vkey);
	ck_assert_int_gt(cfmt_cook_key(key, 8, m->name, sizeof(m->name)), 0);
	m->fanout = cfmt_fanout(key, 8, cfmt_volume_hash(vkey, strlen(vkey)));
	snprintf(p, sizeof(p), "%s/cache/I%s/@%02x/%s", top, vkey, m->fanout,
	    m->name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, 1 + i % 100), 1 + i % 100);
	if (with_xattr) {
		memset(&o, 0, sizeof(o));
		o.object_size = 1 + i % 100;
		o.type = CFMT_TYPE_DATA;
		o.content = CFMT_CONTENT_ALL;
		xl = cfmt_obj_encode(&o, x, sizeof(x));
		ck_assert_int_eq(fsetxattr(fd, CFMT_XATTR, x, xl, 0), 0);
	}
	m->atime = 1600000000 + i * 60;
	ts[0].tv_sec = m->atime;
	ts[0].tv_nsec = 0;
	ts[1].tv_nsec = UTIME_OMIT;
	ck_assert_int_eq(futimens(fd, ts), 0);
	ck_assert_int_eq(fsync(fd), 0);	/* so st_blocks is final */
	ck_assert_int_eq(fstat(fd, &st), 0);
	m->bytes = (uint64_t)st.st_blocks * 512;
	close(fd);
}

static void
setup(void)
{
	snprintf(top, sizeof(top), "/tmp/check_scan.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	xmkdir("cache");
	xmkdir("graveyard");
	rootfd = open(top, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(rootfd, 0);
	log_init("check_scan", 1, 0);
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(index_init(), 0);
}

static void
teardown(void)
{
	char cmd[128];

	scan_fini();
	index_fini();
	loop_fini();
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", top);
}

static int scan_err = 1;

static void
scan_done(void *arg, int err)
{
	(void)arg;
	scan_err = err;
	loop_stop();
}

static void
run_scan(unsigned flags, int rescan)
{
	scan_err = 1;
	if (rescan)
		ck_assert_int_eq(scan_rescan_changed(scan_done, NULL), 0);
	else
		ck_assert_int_eq(scan_start(rootfd, flags, scan_done, NULL), 0);
	ck_assert_int_eq(scan_running(), 1);
	ck_assert_int_eq(scan_start(rootfd, flags, scan_done, NULL), -EBUSY);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(scan_err, 0);
	ck_assert_int_eq(scan_running(), 0);
}

static void
check_made(int from, int to, int xattr_mode)
{
	int i, vol;
	uint32_t id;

	for (i = from; i < to; i++) {
		vol = index_volume(made[i].vol);
		ck_assert_int_ge(vol, 0);
		id = index_find(vol, made[i].name);
		ck_assert_msg(id != INDEX_NONE, "object %d %s not indexed", i,
		    made[i].name);
		ck_assert_uint_eq(index_fanout(id), made[i].fanout);
		ck_assert_uint_eq(index_bytes(id), made[i].bytes);
		if (xattr_mode && i % 10 == 0)
			ck_assert_int_eq(index_last_use(id), 0);
		else
			ck_assert_int_eq(index_last_use(id),
			    made[i].atime * 1000000000);
	}
}

struct kvs {
	const char *key;
	uint64_t v;
};

static void
get_stat(void *arg, const char *key, uint64_t v)
{
	struct kvs *k = arg;

	if (strcmp(key, k->key) == 0)
		k->v = v;
}

static uint64_t
stat_of(const char *key)
{
	struct kvs k = { key, UINT64_MAX };

	scan_stats(get_stat, &k);
	ck_assert_msg(k.v != UINT64_MAX, "no stat %s", key);
	return k.v;
}

static void
make_tree(void)
{
	char p[512], q[512];
	int i;

	make_volume("afs,cell,vol");
	make_volume("nfs,4,abcd");
	make_volume("9p,empty");		/* an empty volume */
	xmkdir("cache/Infs,nofanout");	/* a volume with no fan-out */
	for (i = 0; i < NOBJ; i++)
		make_object(i, i % 2 ? "afs,cell,vol" : "nfs,4,abcd", i % 10);

	/* foreign entries in a fan-out dir */
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@00/Dlink", top);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@01/Dfifo", top);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@02/stray file", top);
	ck_assert_int_eq(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@03/Dsubdir", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	/* a valid name in the wrong fan-out dir */
	snprintf(p, sizeof(p), "%s/cache/I%s/@%02x/%s", top, made[1].vol,
	    made[1].fanout, made[1].name);
	snprintf(q, sizeof(q), "%s/cache/I%s/@%02x/%s", top, made[1].vol,
	    (made[1].fanout + 1) & 0xff, made[1].name);
	ck_assert_int_eq(link(p, q), 0);
	/* in a volume dir and at the top */
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/notes.txt", top);
	ck_assert_int_eq(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(p, sizeof(p), "%s/cache/lost+found", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/cache/Jold", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	/* a symlinked "volume" pointing at a real volume: never followed */
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol", top);
	snprintf(q, sizeof(q), "%s/cache/Ievil", top);
	ck_assert_int_eq(symlink(p, q), 0);
	/* a fan-out dir that is a symlink */
	snprintf(p, sizeof(p), "%s/cache/Infs,nofanout/@00", top);
	ck_assert_int_eq(symlink("../Iafs,cell,vol/@00", p), 0);
}

static void
scan_and_check(unsigned flags)
{
	char p[512];
	struct stat st;
	struct scan_progress pr;

	make_tree();
	run_scan(flags, 0);
	ck_assert_uint_eq(index_objects(), NOBJ);
	check_made(0, NOBJ, flags & SCAN_XATTR);
	ck_assert_int_ge(index_volume("9p,empty"), 0);
	ck_assert_uint_eq(index_volume_objects(index_volume("9p,empty")), 0);
	scan_get_progress(&pr);
	ck_assert_uint_eq(pr.objects, NOBJ);
	ck_assert_uint_eq(pr.dirs_done, 3 * 256);
	ck_assert_uint_eq(pr.dirs_total, 3 * 256);
	ck_assert_uint_eq(pr.errors, 0);
	ck_assert_str_eq(scan_state(), "done");
	ck_assert_uint_eq(stat_of("scan.foreign.symlink"), 3);
	ck_assert_uint_eq(stat_of("scan.foreign.fifo"), 1);
	ck_assert_uint_eq(stat_of("scan.foreign.badkey"), 1);
	ck_assert_uint_eq(stat_of("scan.foreign.dir"), 1);
	ck_assert_uint_eq(stat_of("scan.foreign.misplaced"), 1);
	ck_assert_uint_eq(stat_of("scan.foreign.name"), 2);
	ck_assert_uint_eq(stat_of("scan.foreign.old"), 1);
	ck_assert_uint_eq(pr.foreign, 10);
	/* left alone: all still there */
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@00/Dlink", top);
	ck_assert_int_eq(lstat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@02/stray file", top);
	ck_assert_int_eq(lstat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/cache/Ievil", top);
	ck_assert_int_eq(lstat(p, &st), 0);
	/* the symlinked volume was not registered; the fan-out-less one was */
	ck_assert_uint_eq(index_volumes(), 4);
	ck_assert_int_eq(index_volume("nfs,nofanout"), 3);
}

START_TEST(test_scan_uring)
{
	scan_and_check(0);
}
END_TEST

START_TEST(test_scan_sync)
{
	scan_and_check(SCAN_SYNC);
}
END_TEST

START_TEST(test_scan_xattr)
{
	scan_and_check(SCAN_XATTR);
}
END_TEST

/* SCAN_NAMELESS: the same objects, found by name (hash) all the same; no
 * name kept, the inode kept, and the name found again by readdir */
START_TEST(test_scan_nameless)
{
	struct index_want w;
	struct stat st;
	char p[512];
	uint32_t id;
	int i, dfd;

	scan_and_check(SCAN_NAMELESS);
	for (i = 0; i < NOBJ; i++) {
		id = index_find(index_volume(made[i].vol), made[i].name);
		ck_assert_ptr_null(index_name(id));
		snprintf(p, sizeof(p), "%.63s/cache/I%.31s/@%02x", top, made[i].vol,
		    made[i].fanout);
		dfd = open(p, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(dfd, 0);
		ck_assert_int_eq(fstatat(dfd, made[i].name, &st, 0), 0);
		ck_assert_uint_eq(index_ino(id), (uint32_t)st.st_ino);
		memset(&w, 0, sizeof(w));
		w.hash = index_hash(id);
		w.ino = index_ino(id);
		ck_assert_int_eq(index_resolve_dir(dfd, &w, 1), 1);
		ck_assert_str_eq(w.name, made[i].name);
		close(dfd);
	}
}
END_TEST

START_TEST(test_no_cache_dir)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/cache", top);
	ck_assert_int_eq(rmdir(p), 0);
	ck_assert_int_eq(scan_start(rootfd, 0, scan_done, NULL), 0);
	loop_run();
	ck_assert_int_eq(scan_err, -ENOENT);
	ck_assert_uint_eq(index_objects(), 0);
}
END_TEST

/*
 * kernel mode: only changed fan-out dirs are read again. loop_stop() is
 * final for a loop, so the steps chain through the scan's done callback.
 */
static int rescan_vol;

static void
rescan_step3(void *arg, int err)
{
	struct scan_progress pr;

	(void)arg;
	ck_assert_int_eq(err, 0);
	scan_get_progress(&pr);
	ck_assert_uint_le(pr.dirs_total, 3 + 256);
	ck_assert_uint_ge(pr.dirs_total, 256 + 1);
	ck_assert_uint_eq(index_find(rescan_vol, made[0].name), INDEX_NONE);
	/* pinned: stays even though it is gone from disk */
	ck_assert_uint_ne(index_find(rescan_vol, made[1].name), INDEX_NONE);
	check_made(2, 22, 0);
	ck_assert_uint_eq(index_objects(), 21);
	scan_err = 0;
	loop_stop();
}

static void
rescan_step2(void *arg, int err)
{
	struct scan_progress pr;
	char p[512];
	uint32_t id;

	(void)arg;
	ck_assert_int_eq(err, 0);
	/* nothing changed: nothing read */
	scan_get_progress(&pr);
	ck_assert_uint_eq(pr.dirs_total, 0);
	ck_assert_uint_eq(index_objects(), 20);

	/* delete object 0 behind our back, add 20, delete pinned 1 */
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@%02x/%s", top,
	    made[0].fanout, made[0].name);
	ck_assert_int_eq(unlink(p), 0);
	make_object(20, "afs,cell,vol", 1);
	id = index_find(rescan_vol, made[1].name);
	index_pin(id);
	snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@%02x/%s", top,
	    made[1].fanout, made[1].name);
	ck_assert_int_eq(unlink(p), 0);
	/* and a new volume */
	make_volume("nfs,new");
	make_object(21, "nfs,new", 1);
	ck_assert_int_eq(scan_rescan_changed(rescan_step3, NULL), 0);
}

static void
rescan_step1(void *arg, int err)
{
	(void)arg;
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(index_objects(), 20);
	rescan_vol = index_volume("afs,cell,vol");
	ck_assert_int_eq(scan_rescan_changed(rescan_step2, NULL), 0);
}

START_TEST(test_rescan)
{
	struct timespec old[2] = { { 1500000000, 0 }, { 1500000000, 0 } };
	char p[512];
	unsigned f;
	int i;

	make_volume("afs,cell,vol");
	for (i = 0; i < 20; i++)
		make_object(i, "afs,cell,vol", 1);
	/* every fan-out dir gets an old mtime, so any change shows */
	for (f = 0; f < 256; f++) {
		snprintf(p, sizeof(p), "%s/cache/Iafs,cell,vol/@%02x", top, f);
		ck_assert_int_eq(utimensat(AT_FDCWD, p, old, 0), 0);
	}
	ck_assert_int_eq(scan_rescan_changed(rescan_step1, NULL), -EINVAL);
	ck_assert_int_eq(scan_start(rootfd, 0, rescan_step1, NULL), 0);
	scan_err = 1;
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(scan_err, 0);
}
END_TEST

static Suite *
scan_suite(void)
{
	Suite *s = suite_create("scan");
	TCase *tc = tcase_create("scan");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scan_uring);
	tcase_add_test(tc, test_scan_sync);
	tcase_add_test(tc, test_scan_xattr);
	tcase_add_test(tc, test_scan_nameless);
	tcase_add_test(tc, test_no_cache_dir);
	tcase_add_test(tc, test_rescan);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(scan_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
