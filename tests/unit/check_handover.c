/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check_handover.c: what a larderd before us handed over (handover.c):
 * LARDER_FDS and LISTEN_FDS parsing, unknown names, repeats, bad numbers,
 * a LISTEN_PID that is not ours, and what the exec path puts in the
 * environment. Includes handover.c to reset its statics between tests. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/handover.c"

static void
reset(void)
{
	int i;

	for (i = 0; i < nin; i++)
		close(in[i].fd);
	nin = 0;
	nout = 0;
	source = NULL;
	taken[0] = '\0';
	to_systemd = 0;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	unsetenv(HANDOVER_ENV);
	unsetenv("NOTIFY_SOCKET");
}

static int
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* name=fd pairs: known names kept (close-on-exec set), an unknown name
 * and a second "claim" closed, junk entries and fds < 3 ignored */
START_TEST(test_exec_env)
{
	char env[128];
	int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY);
	int c = open("/dev/null", O_RDONLY), d = open("/dev/null", O_RDONLY);

	reset();
	snprintf(env, sizeof(env), "claim=%d:junk=%d:claim=%d:x:control=1:"
	    "tree=%d:cachefiles=99999999999", a, b, c, d);
	setenv(HANDOVER_ENV, env, 1);
	ck_assert_int_eq(handover_collect(), 4);
	ck_assert_ptr_null(getenv(HANDOVER_ENV));
	ck_assert_str_eq(handover_source(), "re-exec");
	ck_assert(!is_open(b));		/* unknown name: closed */
	ck_assert(!is_open(c));		/* a second claim: closed */
	ck_assert_int_eq(fcntl(a, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(handover_take(HO_CLAIM), a);
	ck_assert_int_eq(handover_take(HO_CLAIM), -1);
	ck_assert_int_eq(handover_take(HO_CONTROL), -1);
	ck_assert_int_eq(handover_take(HO_TREE), d);
	handover_rejected(HO_CLAIM);
	ck_assert_str_eq(taken, "tree");
	handover_finish();
	close(a);
	close(d);
	reset();
}
END_TEST

/* LISTEN_FDS for another pid is not ours; for ours, names in order */
START_TEST(test_listen_fds)
{
	char pid[32];
	int p[2], q[2];

	reset();
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	/* put them at 3.. as systemd does */
	ck_assert_int_eq(dup2(p[0], 40), 40);
	ck_assert_int_eq(dup2(q[0], 41), 41);
	close(p[0]);
	close(q[0]);
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "2", 1);
	ck_assert_int_eq(from_systemd(), 0);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2x", 1);
	ck_assert_int_eq(from_systemd(), 0);
	ck_assert_int_eq(nin, 0);
	reset();
	ck_assert(is_open(40) && is_open(41));
	close(p[1]);
	close(q[1]);
	close(40);
	close(41);
}
END_TEST

/* the exec path's LARDER_FDS: dups without close-on-exec */
START_TEST(test_give_for_exec)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);

	reset();
	handover_begin(0);
	handover_give(HO_CONTROL, a);
	handover_give(HO_CLAIM, -1);
	ck_assert_int_eq(nout, 1);
	ck_assert_int_ne(out[0].fd, a);
	ck_assert_int_eq(fcntl(out[0].fd, F_GETFD) & FD_CLOEXEC, 0);
	close(out[0].fd);
	close(a);
	reset();
}
END_TEST

static Suite *
handover_suite(void)
{
	Suite *s = suite_create("handover");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_exec_env);
	tcase_add_test(tc, test_listen_fds);
	tcase_add_test(tc, test_give_for_exec);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(handover_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
