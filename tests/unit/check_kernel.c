/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_kernel.c: kernel mode's /dev/cachefiles protocol pieces: the state
 * string parser and the order in which thresholds are sent.
 */
#include <check.h>
#include <stdlib.h>

#include "../../daemon/kernel.c"

/* What fs/cachefiles/daemon.c checks, written out independently. */
struct fake_kernel {
	unsigned long run[2], cull[2], stop[2];	/* [0] blocks, [1] files */
	int bound;
};

static int
fake_write(struct fake_kernel *k, const char *cmd)
{
	unsigned long v;
	char kw[16], pct;
	int i, n;

	if (strcmp(cmd, "bind") == 0) {
		for (i = 0; i < 2; i++)
			if (!(k->stop[i] < k->cull[i] && k->cull[i] < k->run[i] &&
			    k->run[i] < 100))
				return -ERANGE;
		k->bound = 1;
		return 0;
	}
	if (sscanf(cmd, "%15s %lu%c%n", kw, &v, &pct, &n) != 3 || pct != '%' ||
	    cmd[n] != '\0')
		return strncmp(cmd, "dir ", 4) == 0 ||
		    strncmp(cmd, "tag ", 4) == 0 ||
		    strncmp(cmd, "debug ", 6) == 0 ||
		    strncmp(cmd, "secctx ", 7) == 0 ? 0 : -EINVAL;
	i = kw[0] == 'f';
	if (strcmp(kw + 1, "run") == 0) {
		if (v <= k->cull[i] || v >= 100)
			return -EINVAL;
		k->run[i] = v;
	} else if (strcmp(kw + 1, "cull") == 0) {
		if (v <= k->stop[i] || v >= k->run[i])
			return -EINVAL;
		k->cull[i] = v;
	} else if (strcmp(kw + 1, "stop") == 0) {
		if (v >= k->cull[i])
			return -EINVAL;
		k->stop[i] = v;
	} else
		return -EOPNOTSUPP;
	return 0;
}

static void
fake_open(struct fake_kernel *k)
{
	int i;

	for (i = 0; i < 2; i++) {
		k->run[i] = 7;
		k->cull[i] = 5;
		k->stop[i] = 1;
	}
	k->bound = 0;
}

static const char real_state[] = "cull=0 frun=8f1 fcull=663 fstop=147 "
    "brun=2219 bcull=185b bstop=4df freleased=0 breleased=0";

START_TEST(state_real)
{
	struct kernel_state st;

	ck_assert_int_eq(parse_state(real_state, strlen(real_state), &st), 0);
	ck_assert_int_eq(st.cull, 0);
	ck_assert_uint_eq(st.frun, 0x8f1);
	ck_assert_uint_eq(st.fcull, 0x663);
	ck_assert_uint_eq(st.fstop, 0x147);
	ck_assert_uint_eq(st.brun, 0x2219);
	ck_assert_uint_eq(st.bcull, 0x185b);
	ck_assert_uint_eq(st.bstop, 0x4df);
	ck_assert_uint_eq(st.freleased, 0);
	ck_assert_uint_eq(st.breleased, 0);
}
END_TEST

START_TEST(state_cull_and_max)
{
	const char *s = "cull=1 frun=ffffffffffffffff fcull=1 fstop=0 brun=a "
	    "bcull=b bstop=c freleased=ffffffff breleased=123456789abcdef0";
	struct kernel_state st;

	ck_assert_int_eq(parse_state(s, strlen(s), &st), 0);
	ck_assert_int_eq(st.cull, 1);
	ck_assert_uint_eq(st.frun, UINT64_MAX);
	ck_assert_uint_eq(st.freleased, UINT32_MAX);
	ck_assert_uint_eq(st.breleased, 0x123456789abcdef0ULL);
	/* a trailing newline or NUL is tolerated */
	{
		char b[STATE_MAX];

		snprintf(b, sizeof(b), "%s\n", real_state);
		ck_assert_int_eq(parse_state(b, strlen(b), &st), 0);
		ck_assert_int_eq(parse_state(real_state, sizeof(real_state),
		    &st), 0);
	}
}
END_TEST

START_TEST(state_bad)
{
	static const char *const bad[] = {
		"",
		"cull=2 frun=1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun=1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0",
		"cull=0 fcull=1 frun=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun=1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0 x=1",
		"cull=0 frun=1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0 ",
		"cull=0  frun=1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun=A fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun=0x1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun= fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun=-1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun=1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=100000000 breleased=0",
		"cull=0 frun=10000000000000000 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun=00000000000000001 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
		"cull=0 frun=1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased",
		"cull=0",
		"cull=",
		"Cull=0 frun=1 fcull=1 fstop=1 brun=1 bcull=1 bstop=1 freleased=0 breleased=0",
	};
	struct kernel_state st;
	size_t i;

	memset(&st, 0x5a, sizeof(st));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse_state(bad[i], strlen(bad[i]), &st) < 0,
		    "accepted: \"%s\"", bad[i]);
	/* a NUL in the middle */
	{
		char b[STATE_MAX];

		memcpy(b, real_state, sizeof(real_state));
		b[10] = '\0';
		ck_assert_int_lt(parse_state(b, strlen(real_state), &st), 0);
	}
	/* too long for what the kernel can send */
	{
		char *b = malloc(4096);

		memset(b, 'a', 4096);
		memcpy(b, real_state, strlen(real_state));
		ck_assert_int_lt(parse_state(b, 4096, &st), 0);
		free(b);
	}
	/* nothing was written on failure */
	{
		struct kernel_state z;

		memset(&z, 0x5a, sizeof(z));
		ck_assert_mem_eq(&st, &z, sizeof(z));
	}
}
END_TEST

/* every valid target is reachable from the kernel's defaults, and from a
 * sample of other starting points, with writes the kernel accepts */
START_TEST(order_exhaustive)
{
	const unsigned def[T_N] = { 7, 5, 1 };
	unsigned r, c, s, n = 0;

	for (s = 0; s < 100; s++)
		for (c = s + 1; c < 100; c++)
			for (r = c + 1; r < 100; r++) {
				const unsigned want[T_N] = { r, c, s };
				unsigned starts[3][T_N] = { { 7, 5, 1 },
				    { 99, 98, 97 }, { 2, 1, 0 } };
				int order[T_N], i, k;

				(void)def;
				for (k = 0; k < 3; k++) {
					struct fake_kernel fk;
					char cmd[32];
					static const char *const nm[T_N] = {
					    "brun", "bcull", "bstop" };

					fake_open(&fk);
					fk.run[0] = starts[k][T_RUN];
					fk.cull[0] = starts[k][T_CULL];
					fk.stop[0] = starts[k][T_STOP];
					ck_assert_int_eq(threshold_order(
					    starts[k], want, order), 0);
					for (i = 0; i < T_N; i++) {
						snprintf(cmd, sizeof(cmd),
						    "%s %u%%", nm[order[i]],
						    want[order[i]]);
						ck_assert_msg(fake_write(&fk,
						    cmd) == 0, "%s refused "
						    "from %u/%u/%u", cmd,
						    starts[k][0], starts[k][1],
						    starts[k][2]);
					}
					ck_assert_uint_eq(fk.run[0], r);
					ck_assert_uint_eq(fk.cull[0], c);
					ck_assert_uint_eq(fk.stop[0], s);
				}
				n++;
			}
	ck_assert_uint_eq(n, 161700);	/* C(100, 3) */
}
END_TEST

START_TEST(order_invalid)
{
	const unsigned cur[T_N] = { 7, 5, 1 };
	const unsigned bad[][T_N] = { { 5, 5, 1 }, { 7, 5, 5 }, { 100, 5, 1 },
	    { 3, 5, 1 }, { 7, 1, 5 } };
	int order[T_N];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(threshold_order(cur, bad[i], order), -ERANGE);
}
END_TEST

static void
conf_for(struct conf *c, unsigned br, unsigned bc, unsigned bs, unsigned fr,
    unsigned fc, unsigned fs)
{
	conf_defaults(c);
	snprintf(c->file, sizeof(c->file), "/etc/cachefilesd.conf");
	snprintf(c->dir, sizeof(c->dir), "/var/cache/fscache");
	c->brun = br; c->bcull = bc; c->bstop = bs;
	c->frun = fr; c->fcull = fc; c->fstop = fs;
	c->loc_dir.line = 1;
	c->loc_brun.line = 3; c->loc_bcull.line = 4; c->loc_bstop.line = 5;
	c->loc_frun.line = 6; c->loc_fcull.line = 7; c->loc_fstop.line = 8;
}

/* run the commands through the fake kernel; return the failing index */
static int
play(const struct kcmd *cmds, int n, struct fake_kernel *fk)
{
	int i;

	fake_open(fk);
	for (i = 0; i < n; i++)
		if (fake_write(fk, cmds[i].text) != 0)
			return i;
	return -1;
}

START_TEST(cmds_cachefilesd_conf)
{
	struct kcmd cmds[KCMD_MAX];
	struct fake_kernel fk;
	struct conf *c = calloc(1, sizeof(*c));
	int n, i;

	conf_for(c, 10, 7, 3, 10, 7, 3);
	snprintf(c->tag, sizeof(c->tag), "mycache");
	n = config_cmds(c, "/run/larder/cache.X", cmds, KCMD_MAX);
	ck_assert_int_eq(n, 9);
	ck_assert_str_eq(cmds[0].text, "dir /run/larder/cache.X");
	ck_assert_uint_eq(cmds[0].line, 1);
	ck_assert_str_eq(cmds[1].text, "tag mycache");
	ck_assert_str_eq(cmds[n - 1].text, "bind");
	ck_assert_int_eq(play(cmds, n, &fk), -1);
	ck_assert_int_eq(fk.bound, 1);
	ck_assert_uint_eq(fk.run[0], 10);
	ck_assert_uint_eq(fk.stop[1], 3);
	/* each threshold keeps its own config line */
	for (i = 0; i < n; i++)
		if (strncmp(cmds[i].text, "bcull", 5) == 0)
			ck_assert_uint_eq(cmds[i].line, 4);
		else if (strncmp(cmds[i].text, "fstop", 5) == 0)
			ck_assert_uint_eq(cmds[i].line, 8);
	free(c);
}
END_TEST

/* lowering below the defaults needs stop first: the naive file order
 * (run, cull, stop) is refused by the kernel */
START_TEST(cmds_lowering)
{
	struct kcmd cmds[KCMD_MAX];
	struct fake_kernel fk;
	struct conf *c = calloc(1, sizeof(*c));
	int n;

	conf_for(c, 4, 3, 2, 3, 2, 0);
	c->debug = 7;
	snprintf(c->secctx, sizeof(c->secctx), "system_u:system_r:cachefiles_kernel_t:s0");
	n = config_cmds(c, "/run/x", cmds, KCMD_MAX);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(play(cmds, n, &fk), -1);
	ck_assert_uint_eq(fk.run[0], 4);
	ck_assert_uint_eq(fk.cull[0], 3);
	ck_assert_uint_eq(fk.stop[0], 2);
	ck_assert_uint_eq(fk.run[1], 3);
	ck_assert_uint_eq(fk.stop[1], 0);
	ck_assert_str_eq(cmds[n - 2].text, "debug 7");
	ck_assert_str_eq(cmds[2].text,
	    "secctx system_u:system_r:cachefiles_kernel_t:s0");
	{
		/* and the file order would have failed */
		struct fake_kernel f2;

		fake_open(&f2);
		ck_assert_int_ne(fake_write(&f2, "brun 4%"), 0);
	}
	free(c);
}
END_TEST

START_TEST(cmds_limits)
{
	struct kcmd cmds[KCMD_MAX];
	struct conf *c = calloc(1, sizeof(*c));
	char longdir[PATH_MAX + 64];

	conf_for(c, 10, 7, 3, 10, 7, 3);
	ck_assert_int_eq(config_cmds(c, "", cmds, KCMD_MAX), -EINVAL);
	ck_assert_int_eq(config_cmds(c, "/x", cmds, 3), -ENOSPC);
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	ck_assert_int_eq(config_cmds(c, longdir, cmds, KCMD_MAX),
	    -ENAMETOOLONG);
	c->bcull = 10;		/* out of order: nothing is sent */
	ck_assert_int_eq(config_cmds(c, "/x", cmds, KCMD_MAX), -ERANGE);
	free(c);
}
END_TEST

START_TEST(hints)
{
	ck_assert_ptr_nonnull(strstr(bind_hint(EOPNOTSUPP), "xattrs"));
	ck_assert_str_eq(bind_hint(EIO), "");
	ck_assert_str_eq(kstate_str(K_BOUND), "bound");
}
END_TEST

static Suite *
kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("protocol");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, state_real);
	tcase_add_test(tc, state_cull_and_max);
	tcase_add_test(tc, state_bad);
	tcase_add_test(tc, order_exhaustive);
	tcase_add_test(tc, order_invalid);
	tcase_add_test(tc, cmds_cachefilesd_conf);
	tcase_add_test(tc, cmds_lowering);
	tcase_add_test(tc, cmds_limits);
	tcase_add_test(tc, hints);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(kernel_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
