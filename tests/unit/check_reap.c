/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_reap.c: the graveyard reaper (daemon/reap.c) through its API, on a
 * real directory: the full reap at start (entries too young are taken on
 * the second look), cull job directories left alone while a pass runs and
 * reaped by name once published, what reaped() is told, the reap.*
 * counters. The "real" cases of check_cull.c run it under cull.c.
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

#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/reap.h"
#include "tests/unit/loop_wait.h"

static char top[64];
static int rootfd;

/* what reaped() was told */
static unsigned calls;
static uint64_t got_objects, got_bytes;
static int all_full, last_all;
static int running;		/* what pass_running() answers */

static void
on_reaped(uint64_t objects, uint64_t bytes, int all)
{
	calls++;
	got_objects += objects;
	got_bytes += bytes;
	if (!all)
		all_full = 0;
	last_all = all;
}

static int
pass_running(void)
{
	return running;
}

static void
path(char *p, size_t n, const char *rel)
{
	snprintf(p, n, "%s/%s", top, rel);
}

static void
mkpath(const char *rel)
{
	char p[512];

	path(p, sizeof(p), rel);
	ck_assert_msg(mkdir(p, 0700) == 0 || errno == EEXIST, "mkdir %s", p);
}

/* A file of len (at most 8 KiB) zero bytes. */
static void
mkfile(const char *rel, size_t len)
{
	static const char zeros[8192];
	char p[512];
	int fd;

	ck_assert_uint_le(len, sizeof(zeros));
	path(p, sizeof(p), rel);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	ck_assert_int_eq(write(fd, zeros, len), (ssize_t)len);
	close(fd);
}

static int
present(const char *rel)
{
	char p[512];
	struct stat st;

	path(p, sizeof(p), rel);
	return lstat(p, &st) == 0;
}

static int
count_dir(const char *rel)
{
	char p[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	path(p, sizeof(p), rel);
	ck_assert_ptr_nonnull(d = opendir(p));
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
setup(void)
{
	snprintf(top, sizeof(top), "/tmp/check_reap.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	rootfd = open(top, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(rootfd, 0);
	log_init("check_reap", 1, 0);
	ck_assert_int_eq(loop_init(), 0);
	calls = 0;
	got_objects = got_bytes = 0;
	all_full = 1;
	last_all = -1;
	running = 0;
}

static void
teardown(void)
{
	char cmd[128];

	reap_fini();
	loop_fini();
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", top);
}


static int phase;

/*
 * 0: the full reap at start left the leftovers (too young); a cull job's
 *    directory is moved in while a pass runs: inotify reports ".c1.1",
 *    which is not a name to reap;
 * 1: the second look took the leftovers but not the job directory;
 * 2: the pass ends and publishes it: reaped by name.
 */
static int
step(void)
{
	char a[512], b[512];

	if (reap_busy())
		return 0;
	switch (phase) {
	case 0:
		if (calls < 1)
			return 0;
		ck_assert_uint_eq(got_objects, 0);
		ck_assert_int_eq(last_all, 1);
		ck_assert_int_eq(present("graveyard/C1.2.3"), 1);
		path(a, sizeof(a), "stage");
		path(b, sizeof(b), "graveyard/.c1.1");
		ck_assert_int_eq(rename(a, b), 0);
		phase = 1;
		return 0;
	case 1:
		if (got_objects < 3)
			return 0;
		ck_assert_uint_eq(got_objects, 3);
		ck_assert_int_eq(all_full, 1);
		ck_assert_int_eq(count_dir("graveyard"), 1);
		ck_assert_int_eq(present("graveyard/.c1.1/Dy"), 1);
		ck_assert_int_eq(present("keep/precious"), 1);
		running = 0;
		path(a, sizeof(a), "graveyard/.c1.1");
		path(b, sizeof(b), "graveyard/c1.1");
		ck_assert_int_eq(rename(a, b), 0);
		phase = 2;
		return 0;
	default:
		return got_objects >= 4 && count_dir("graveyard") == 0;
	}
}

static char kv_keys[4][32];
static uint64_t kv_vals[4];
static int nkv;

static void
put(void *arg, const char *key, uint64_t v)
{
	(void)arg;
	ck_assert_int_lt(nkv, 4);
	snprintf(kv_keys[nkv], sizeof(kv_keys[nkv]), "%s", key);
	kv_vals[nkv++] = v;
}

START_TEST(test_reap)
{
	char a[512], b[512];

	mkpath("graveyard");
	mkpath("keep");
	mkfile("keep/precious", 1);
	/* what a crash left: an object, a whole volume with a symlink */
	mkfile("graveyard/C1.2.3", 10);
	mkpath("graveyard/V1.2.4");
	mkpath("graveyard/V1.2.4/@00");
	mkpath("graveyard/V1.2.4/@01");
	mkfile("graveyard/V1.2.4/@00/Dx", 5000);
	path(a, sizeof(a), "keep");
	path(b, sizeof(b), "graveyard/V1.2.4/@01/link");
	ck_assert_int_eq(symlink(a, b), 0);

	mkpath("stage");
	mkfile("stage/Dy", 100);

	running = 1;
	ck_assert_int_eq(reap_init(rootfd, on_reaped, pass_running), 0);
	ck_assert_int_eq(reap_watching(), 1);
	ck_assert_int_eq(reap_busy(), 1);	/* the full reap at start */
	phase = 0;
	loop_wait_until(step);
	ck_assert_uint_eq(got_objects, 4);
	ck_assert_int_eq(last_all, 0);		/* a reap by name */
	ck_assert_int_eq(present("keep/precious"), 1);

	nkv = 0;
	reap_stats(put, NULL);
	ck_assert_int_eq(nkv, 3);
	ck_assert_str_eq(kv_keys[0], "reap.objects");
	ck_assert_str_eq(kv_keys[1], "reap.bytes");
	ck_assert_str_eq(kv_keys[2], "reap.errors");
	ck_assert_uint_eq(kv_vals[0], 4);
	ck_assert_uint_eq(kv_vals[1], got_bytes);
	ck_assert_uint_ge(got_bytes, 5000);
	ck_assert_uint_eq(kv_vals[2], 0);

	/* nothing new: a kick queues nothing */
	reap_kick();
	ck_assert_int_eq(reap_busy(), 0);
}
END_TEST

static Suite *
reap_suite(void)
{
	Suite *s = suite_create("reap");
	TCase *tc = tcase_create("real");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reap_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
