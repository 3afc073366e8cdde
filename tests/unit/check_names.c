/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_names.c: names.c on a real directory tree: nameless index entries
 * named again by readdir on the names worker (what the listing uses), a
 * file replaced under its name (another inode) or gone dropped, its
 * inode under another name never taken, pinned and culling entries kept,
 * named ones left alone, a missing fan-out directory.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/index.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/names.h"
#include "tests/unit/loop_wait.h"

static char top[64];
static int cachefd, vol, ndone;

static void
mkdirs(const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	ck_assert_int_eq(mkdir(p, 0700), 0);
}

/* A file cache/Iv/@<fanout>/name, indexed nameless (its inode). */
static uint32_t
object(unsigned fanout, const char *name)
{
	char p[256];
	struct stat st;
	int fd;

	snprintf(p, sizeof(p), "%s/cache/Iv/@%02x/%s", top, fanout, name);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	return index_add_ino(vol, fanout, name, st.st_ino, 4096, 1000);
}

static void
path(unsigned fanout, const char *name, char *p, size_t len)
{
	snprintf(p, len, "%s/cache/Iv/@%02x/%s", top, fanout, name);
}

static void
count_done(void *arg)
{
	ck_assert_ptr_eq(arg, &ndone);
	ndone++;
}

static int
is_done(void)
{
	return ndone > 0;
}

static void
setup(void)
{
	char p[128];

	snprintf(top, sizeof(top), "/tmp/check_names.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	log_init("check_names", 1, 0);
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(index_init(), 0);
	mkdirs("cache");
	mkdirs("cache/Iv");
	mkdirs("cache/Iv/@00");
	mkdirs("cache/Iv/@01");
	snprintf(p, sizeof(p), "%s/cache", top);
	ck_assert_int_ge(cachefd = open(p, O_RDONLY | O_DIRECTORY), 0);
	vol = index_volume("v");
	ndone = 0;
}

static void
teardown(void)
{
	char cmd[128];

	names_fini();
	index_fini();
	loop_fini();
	close(cachefd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", top);
}

START_TEST(test_names)
{
	char p[256], q[256];
	uint32_t ids[8];
	int i;

	ids[0] = object(0, "Dplain");
	ids[1] = object(0, "Dreplaced");
	ids[2] = object(1, "Dgone");
	ids[3] = object(1, "Dpinned-gone");
	ids[4] = object(1, "Dculling-gone");
	ids[5] = object(0, "Dlinked");
	ids[6] = index_add(vol, 0, "Dnamed", 4096, 1000);
	ids[7] = index_add_ino(vol, 2, "Dnodir", 12345, 4096, 1000);
	for (i = 0; i < 8; i++)
		ck_assert_uint_ne(ids[i], INDEX_NONE);
	/* Dreplaced: another file (inode) under the name */
	path(0, "Dreplaced", p, sizeof(p));
	path(0, "Dnew", q, sizeof(q));
	ck_assert_int_ge(i = open(q, O_CREAT | O_WRONLY, 0600), 0);
	close(i);
	ck_assert_int_eq(rename(q, p), 0);
	path(1, "Dgone", p, sizeof(p));
	ck_assert_int_eq(unlink(p), 0);
	path(1, "Dpinned-gone", p, sizeof(p));
	ck_assert_int_eq(unlink(p), 0);
	index_pin(ids[3]);
	path(1, "Dculling-gone", p, sizeof(p));
	ck_assert_int_eq(unlink(p), 0);
	index_set_state(ids[4], INDEX_CULLING);
	/* Dlinked renamed: its inode under another name (another hash) is
	 * not its name */
	path(0, "Dlinked", p, sizeof(p));
	path(0, "Dother", q, sizeof(q));
	ck_assert_int_eq(rename(p, q), 0);
	ck_assert_int_eq(names_resolve(cachefd, ids, 8, count_done, &ndone),
	    0);
	loop_wait_until(is_done);
	ck_assert_int_eq(ndone, 1);
	ck_assert_str_eq(index_name(ids[0]), "Dplain");
	ck_assert_uint_eq(index_find(vol, "Dreplaced"), INDEX_NONE);
	ck_assert_uint_eq(index_find(vol, "Dgone"), INDEX_NONE);
	ck_assert_uint_eq(index_find(vol, "Dpinned-gone"), ids[3]);
	ck_assert_int_eq(index_named(ids[3]), 0);
	ck_assert_uint_eq(index_find(vol, "Dculling-gone"), ids[4]);
	ck_assert_uint_eq(index_find(vol, "Dlinked"), INDEX_NONE);
	ck_assert_uint_eq(index_find(vol, "Dother"), INDEX_NONE);
	ck_assert_str_eq(index_name(ids[6]), "Dnamed");
	ck_assert_uint_eq(index_find(vol, "Dnodir"), INDEX_NONE);
	ck_assert_uint_eq(index_objects(), 4);
	/* the named entry kept its last use and bytes */
	ck_assert_int_eq(index_last_use(ids[0]), 1000);
	ck_assert_uint_eq(index_bytes(ids[0]), 4096);
}
END_TEST

/* The worker-side helper: a fan-out directory that is not there is
 * -ESTALE; too many ids are refused. */
START_TEST(test_resolve_in)
{
	struct index_want w;
	static uint32_t many[NAMES_MAX + 1];

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(names_resolve_in(cachefd, "", "v", 9, &w, 1),
	    -ESTALE);
	ck_assert_int_eq(names_resolve_in(cachefd, "", "nosuch", 0, &w, 1),
	    -ESTALE);
	w.hash = index_hash(object(0, "Dx"));
	w.ino = index_ino(index_find(vol, "Dx"));
	ck_assert_int_eq(names_resolve_in(cachefd, "", "v", 0, &w, 1), 1);
	ck_assert_str_eq(w.name, "Dx");
	ck_assert_int_eq(names_resolve(cachefd, many, NAMES_MAX + 1,
	    count_done, &ndone), -EINVAL);
}
END_TEST

static Suite *
names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_resolve_in);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(names_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
