/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_caps.c: the capability drop (daemon/caps.c), checked on the real
 * process: each check forks, drops, then tries privileged calls.
 *
 * Needs root; Check tests cannot report a skip, so without root the checks
 * pass after printing "SKIP: ... needs root".
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/caps.c"

static char kvlog[1024];

void
ctl_kv_str(struct ctl_kv *kv, const char *key, const char *v)
{
	size_t n = strlen(kvlog);

	(void)kv;
	snprintf(kvlog + n, sizeof(kvlog) - n, "%s=%s\n", key, v);
}

static int
is_root_(const char *name)
{
	if (geteuid() == 0)
		return 1;
	printf("SKIP: %s needs root (passes without checking)\n", name);
	return 0;
}
#define is_root() is_root_(__func__)

/* In a child: drop for conf c / flags, then report what is left as an
 * exit code: bit 0 CAP_SYS_ADMIN effective, bit 1 CAP_SYS_ADMIN in the
 * bounding set, bit 2 CAP_NET_ADMIN effective, bit 3 CAP_NET_ADMIN in the
 * bounding set, bit 4 CAP_DAC_OVERRIDE effective, bit 5 caps_drop failed,
 * bit 6 unshare(CLONE_NEWNS) worked (needs CAP_SYS_ADMIN). */
static int
drop_in_child(enum conf_freeze pol, unsigned flags)
{
	struct conf c;
	char err[256];
	int status;
	pid_t pid;

	memset(&c, 0, sizeof(c));
	c.freeze = pol;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		cap_flag_value_t v;
		cap_t cur;
		int r = 0;

		if (caps_drop(&c, flags, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			_exit(32);
		}
		cur = cap_get_proc();
		if (cap_get_flag(cur, CAP_SYS_ADMIN, CAP_EFFECTIVE, &v) == 0 &&
		    v == CAP_SET)
			r |= 1;
		if (cap_get_bound(CAP_SYS_ADMIN) == 1)
			r |= 2;
		if (cap_get_flag(cur, CAP_NET_ADMIN, CAP_EFFECTIVE, &v) == 0 &&
		    v == CAP_SET)
			r |= 4;
		if (cap_get_bound(CAP_NET_ADMIN) == 1)
			r |= 8;
		if (cap_get_flag(cur, CAP_DAC_OVERRIDE, CAP_EFFECTIVE, &v) ==
		    0 && v == CAP_SET)
			r |= 16;
		cap_free(cur);
		if (unshare(CLONE_NEWNS) == 0)
			r |= 64;
		_exit(r);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(defer_keeps_only_sys_admin)
{
	if (!is_root())
		return;
	ck_assert_int_eq(drop_in_child(CONF_FREEZE_DEFER, 0), 1 | 2 | 64);
}
END_TEST

START_TEST(refuse_keeps_nothing)
{
	if (!is_root())
		return;
	/* unshare fails: the privilege is really gone */
	ck_assert_int_eq(drop_in_child(CONF_FREEZE_REFUSE, 0), 0);
}
END_TEST

START_TEST(kernel_mode_keeps_sys_admin_and_dac_override)
{
	if (!is_root())
		return;
	/* and CAP_DAC_OVERRIDE, for the kernel's I/O with our creds; not
	 * CAP_NET_ADMIN (bits 4, 8) */
	ck_assert_int_eq(drop_in_child(CONF_FREEZE_REFUSE, CAPS_KERNEL_MODE),
	    1 | 2 | 16 | 64);
}
END_TEST

START_TEST(status_names_what_is_kept)
{
	struct conf c;
	char err[256];

	if (!is_root())
		return;
	memset(&c, 0, sizeof(c));
	c.freeze = CONF_FREEZE_DEFER;
	/* CK_FORK: this runs in its own child already */
	ck_assert_int_eq(caps_drop(&c, 0, err, sizeof(err)), 0);
	memset(kvlog, 0, sizeof(kvlog));
	caps_status(NULL);
	ck_assert_msg(strstr(kvlog, "caps.kept=cap_sys_admin\n") != NULL, "%s",
	    kvlog);
	ck_assert_ptr_nonnull(strstr(kvlog, "caps.why=freeze defer"));
}
END_TEST

static Suite *
caps_suite(void)
{
	Suite *s = suite_create("caps");
	TCase *tc = tcase_create("caps");

	tcase_add_test(tc, defer_keeps_only_sys_admin);
	tcase_add_test(tc, refuse_keeps_nothing);
	tcase_add_test(tc, kernel_mode_keeps_sys_admin_and_dac_override);
	tcase_add_test(tc, status_names_what_is_kept);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(caps_suite());
	int failed;

	log_init("check_caps", 1, 0);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
