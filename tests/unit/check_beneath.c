/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_beneath.c: daemon/beneath.c in both of its modes, openat2 and the
 * openat walk (forced), on a real tree in a temporary directory: symlinks
 * in the middle or at the end, "..", absolute paths, a fifo where a file
 * is expected, and ordinary paths.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/beneath.h"

static char top[64];
static int rootfd = -1;

/* top/root/{a/b/file, a/fifo, link -> a, a/blink -> b, a/flink -> b/file,
 * a/out -> ../../outside}, top/outside/secret */
static void
setup(void)
{
	char p[128];
	int fd;

	snprintf(top, sizeof(top), "/tmp/check_beneath.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
#define P(s) (snprintf(p, sizeof(p), "%s/%s", top, s), p)
	ck_assert_int_eq(mkdir(P("root"), 0700), 0);
	ck_assert_int_eq(mkdir(P("root/a"), 0700), 0);
	ck_assert_int_eq(mkdir(P("root/a/b"), 0700), 0);
	ck_assert_int_eq(mkdir(P("outside"), 0700), 0);
	fd = open(P("root/a/b/file"), O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	fd = open(P("outside/secret"), O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(mkfifo(P("root/a/fifo"), 0600), 0);
	ck_assert_int_eq(symlink("a", P("root/link")), 0);
	ck_assert_int_eq(symlink("b", P("root/a/blink")), 0);
	ck_assert_int_eq(symlink("b/file", P("root/a/flink")), 0);
	ck_assert_int_eq(symlink("../../outside", P("root/a/out")), 0);
	rootfd = open(P("root"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(rootfd, 0);
#undef P
}

static void
teardown(void)
{
	char cmd[128];

	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	ck_assert_int_eq(system(cmd), 0);
	beneath_force_fallback(0);
}

static void
check_all(void)
{
	const char *last;
	char c;
	int fd;

	/* normal paths */
	fd = beneath_open(rootfd, "a/b/file", O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(fd);
	fd = open_dir_beneath(rootfd, "a/b");
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = beneath_open_reg(rootfd, "a/b/file", O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "y", 1, 0), 1);
	close(fd);
	fd = beneath_open(rootfd, "a/b", O_TMPFILE | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = beneath_open(rootfd, "a/b/new", O_CREAT | O_EXCL | O_WRONLY,
	    0600);
	ck_assert_int_ge(fd, 0);
	close(fd);

	/* a symlink in a middle component, or last */
	ck_assert_int_eq(beneath_open(rootfd, "link/b/file", O_RDONLY, 0),
	    -ELOOP);
	ck_assert_int_eq(beneath_open(rootfd, "a/blink/file", O_RDONLY, 0),
	    -ELOOP);
	ck_assert_int_lt(open_dir_beneath(rootfd, "a/out"), 0);
	ck_assert_int_eq(beneath_open(rootfd, "a/out/secret", O_RDONLY, 0),
	    -ELOOP);
	ck_assert_int_eq(beneath_open(rootfd, "a/flink", O_RDONLY, 0),
	    -ELOOP);
	ck_assert_int_eq(beneath_open(rootfd, "a/flink", O_PATH, 0), -ELOOP);
	ck_assert_int_eq(beneath_open_reg(rootfd, "a/flink", O_RDONLY),
	    -ELOOP);
	ck_assert_int_eq(beneath_open(rootfd, "a/blink", O_TMPFILE | O_RDWR,
	    0600) < 0, 1);
	ck_assert_int_eq(beneath_parent(rootfd, "link/b/file", &last),
	    -ELOOP);

	/* leaving the root, or odd paths */
	ck_assert_int_eq(beneath_open(rootfd, "..", O_PATH, 0), -EXDEV);
	ck_assert_int_eq(beneath_open(rootfd, "a/../a/b/file", O_RDONLY, 0),
	    -EXDEV);
	ck_assert_int_eq(beneath_open(rootfd, "a/b/..", O_PATH, 0), -EXDEV);
	ck_assert_int_eq(beneath_open(rootfd, "/etc/passwd", O_RDONLY, 0),
	    -EXDEV);
	ck_assert_int_eq(beneath_open(rootfd, "a//b", O_PATH, 0), -EINVAL);
	ck_assert_int_eq(beneath_open(rootfd, "a/./b", O_PATH, 0), -EINVAL);
	ck_assert_int_eq(beneath_open(rootfd, "a/b/", O_PATH, 0), -EINVAL);
	ck_assert_int_eq(beneath_open(rootfd, "", O_PATH, 0), -EINVAL);
	ck_assert_int_eq(beneath_parent(rootfd, "../x", &last), -EXDEV);

	/* a fifo where a file is expected: never opened for I/O (an
	 * O_RDWR-less open of a fifo would block here if it were) */
	ck_assert_int_eq(beneath_open_reg(rootfd, "a/fifo", O_RDONLY),
	    -EINVAL);
	ck_assert_int_eq(beneath_open_reg(rootfd, "a/b", O_RDONLY), -EINVAL);
	ck_assert_int_eq(beneath_open_reg(rootfd, "a/none", O_RDONLY),
	    -ENOENT);

	/* the parent of a path */
	fd = beneath_parent(rootfd, "a/b/file", &last);
	ck_assert_int_ge(fd, 0);
	ck_assert_str_eq(last, "file");
	ck_assert_int_eq(renameat(fd, "file", fd, "file2"), 0);
	ck_assert_int_eq(faccessat(fd, "file2", F_OK, 0), 0);
	close(fd);
	fd = beneath_parent(rootfd, "a", &last);
	ck_assert_int_ge(fd, 0);
	ck_assert_str_eq(last, "a");
	ck_assert_int_eq(faccessat(fd, "a/b/file2", F_OK, 0), 0);
	close(fd);
}

START_TEST(with_openat2)
{
	beneath_force_fallback(0);
	if (beneath_fallback()) {
		printf("SKIP: openat2 refused here, the walk is checked "
		    "below\n");
		return;
	}
	check_all();
}
END_TEST

START_TEST(with_the_walk)
{
	beneath_force_fallback(1);
	ck_assert_int_eq(beneath_fallback(), 1);
	check_all();
}
END_TEST

static Suite *
beneath_suite(void)
{
	Suite *s = suite_create("beneath");
	TCase *tc = tcase_create("beneath");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, with_openat2);
	tcase_add_test(tc, with_the_walk);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(beneath_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
