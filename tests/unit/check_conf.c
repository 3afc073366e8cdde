/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_conf.c: the config parser (lib/conf.c): every keyword, every error
 * path, each cachefilesd parser bug it must not have, the cachefilesd.conf(5)
 * example and Debian's shipped file, the typed helpers' bounds, and real
 * files through conf_parse. Includes conf.c to check its keyword table.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/conf.c"

/* ---- collecting messages ---- */

#define MAX_MSGS	64

struct msgs {
	int n;			/* errors */
	int nwarn;		/* warnings */
	char m[MAX_MSGS][1200];	/* both, in order */
	int total;
};

static void
collect(void *arg, const char *msg)
{
	struct msgs *m = arg;

	if (conf_is_warning(msg))
		m->nwarn++;
	else
		m->n++;
	if (m->total < MAX_MSGS)
		snprintf(m->m[m->total], sizeof(m->m[0]), "%s", msg);
	m->total++;
}

/* How many messages contain every one of the (NULL-ended) needles. */
static int
count(const struct msgs *m, const char *needle, ...)
{
	int i, hits = 0;

	for (i = 0; i < m->total && i < MAX_MSGS; i++) {
		va_list ap;
		const char *s;
		int ok = strstr(m->m[i], needle) != NULL;

		va_start(ap, needle);
		while ((s = va_arg(ap, const char *)) != NULL)
			if (!strstr(m->m[i], s))
				ok = 0;
		va_end(ap);
		hits += ok;
	}
	return hits;
}

static void
dump(const struct msgs *m)
{
	int i;

	for (i = 0; i < m->total && i < MAX_MSGS; i++)
		fprintf(stderr, "  msg: %s\n", m->m[i]);
}

static int
parse(const char *text, struct conf *c, struct msgs *m)
{
	memset(m, 0, sizeof(*m));
	return conf_parse_buf("t.conf", text, strlen(text), c, collect, m);
}

/* Parse text that must be accepted without errors. */
static void
parse_ok(const char *text, struct conf *c, struct msgs *m)
{
	int r = parse(text, c, m);

	if (r != 0 || m->n != 0)
		dump(m);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(m->n, 0);
}

/* Parse text that must fail with exactly nerr errors, one naming needle. */
static void
parse_bad(const char *text, int nerr, const char *needle)
{
	struct conf c;
	struct msgs m;
	int r = parse(text, &c, &m);

	if (r != -EINVAL || m.n != nerr || count(&m, needle, NULL) < 1) {
		fprintf(stderr, "input: %s\n", text);
		dump(&m);
	}
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_int_eq(m.n, nerr);
	ck_assert_int_ge(count(&m, needle, NULL), 1);
}

#define D "dir /var/cache/fscache\n"

/* ---- the typed helpers ---- */

START_TEST(test_parse_uint)
{
	unsigned long long v = 99;

	ck_assert_int_eq(conf_parse_uint("0", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(conf_parse_uint("10", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(conf_parse_uint("007", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 7);
	v = 99;
	ck_assert_int_eq(conf_parse_uint("11", 0, 10, &v), -ERANGE);
	ck_assert_int_eq(conf_parse_uint("4", 5, 10, &v), -ERANGE);
	ck_assert_uint_eq(v, 99);	/* untouched on failure */
	ck_assert_int_eq(conf_parse_uint("18446744073709551615", 0,
	    ULLONG_MAX, &v), 0);
	ck_assert(v == ULLONG_MAX);
	ck_assert_int_eq(conf_parse_uint("18446744073709551616", 0,
	    ULLONG_MAX, &v), -ERANGE);
	ck_assert_int_eq(conf_parse_uint("99999999999999999999999", 0,
	    ULLONG_MAX, &v), -ERANGE);
	ck_assert_int_eq(conf_parse_uint("", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(conf_parse_uint("-1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(conf_parse_uint("+1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(conf_parse_uint(" 1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(conf_parse_uint("1 ", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(conf_parse_uint("1a", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(conf_parse_uint("0x1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(conf_parse_uint(NULL, 0, 10, &v), -EINVAL);
}
END_TEST

START_TEST(test_parse_percent)
{
	unsigned v = 99;

	ck_assert_int_eq(conf_parse_percent("0%", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(conf_parse_percent("100%", &v), 0);
	ck_assert_uint_eq(v, 100);
	ck_assert_int_eq(conf_parse_percent("010%", &v), 0);
	ck_assert_uint_eq(v, 10);
	v = 99;
	ck_assert_int_eq(conf_parse_percent("101%", &v), -ERANGE);
	ck_assert_int_eq(conf_parse_percent("99999999999999999999999%", &v),
	    -ERANGE);
	ck_assert_uint_eq(v, 99);
	ck_assert_int_eq(conf_parse_percent("10", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_percent("%", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_percent("", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_percent("10%%", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_percent("10%x", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_percent("-1%", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_percent("10 %", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_percent("1.5%", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_percent(NULL, &v), -EINVAL);
}
END_TEST

START_TEST(test_parse_size)
{
	uint64_t v = 99;

	ck_assert_int_eq(conf_parse_size("0", &v), 0);
	ck_assert(v == 0);
	ck_assert_int_eq(conf_parse_size("512", &v), 0);
	ck_assert(v == 512);
	ck_assert_int_eq(conf_parse_size("1K", &v), 0);
	ck_assert(v == 1024);
	ck_assert_int_eq(conf_parse_size("1k", &v), 0);
	ck_assert(v == 1024);
	ck_assert_int_eq(conf_parse_size("3M", &v), 0);
	ck_assert(v == 3ULL << 20);
	ck_assert_int_eq(conf_parse_size("10G", &v), 0);
	ck_assert(v == 10ULL << 30);
	ck_assert_int_eq(conf_parse_size("2t", &v), 0);
	ck_assert(v == 2ULL << 40);
	ck_assert_int_eq(conf_parse_size("16777215T", &v), 0);
	ck_assert(v == 16777215ULL << 40);
	ck_assert_int_eq(conf_parse_size("18446744073709551615", &v), 0);
	ck_assert(v == UINT64_MAX);
	v = 99;
	ck_assert_int_eq(conf_parse_size("16777216T", &v), -ERANGE);
	ck_assert_int_eq(conf_parse_size("18014398509481984K", &v), -ERANGE);
	ck_assert_int_eq(conf_parse_size("18446744073709551616", &v), -ERANGE);
	ck_assert(v == 99);
	ck_assert_int_eq(conf_parse_size("", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_size("K", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_size("10KB", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_size("10P", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_size("1.5G", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_size("-1", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_size("10 G", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_size("10%", &v), -EINVAL);
	ck_assert_int_eq(conf_parse_size(NULL, &v), -EINVAL);
}
END_TEST

START_TEST(test_parse_cnum)
{
	unsigned long long v = 0;

	ck_assert_int_eq(parse_cnum("0", 0xffffffff, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_cnum("7", 0xffffffff, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(parse_cnum("010", 0xffffffff, &v), 0);
	ck_assert_uint_eq(v, 8);
	ck_assert_int_eq(parse_cnum("0x1F", 0xffffffff, &v), 0);
	ck_assert_uint_eq(v, 31);
	ck_assert_int_eq(parse_cnum("0Xff", 0xffffffff, &v), 0);
	ck_assert_uint_eq(v, 255);
	ck_assert_int_eq(parse_cnum("0xffffffff", 0xffffffff, &v), 0);
	ck_assert_uint_eq(v, 0xffffffff);
	ck_assert_int_eq(parse_cnum("0x100000000", 0xffffffff, &v), -ERANGE);
	ck_assert_int_eq(parse_cnum("0xfffffffffffffffff", ULLONG_MAX, &v),
	    -ERANGE);
	ck_assert_int_eq(parse_cnum("08", 0xffffffff, &v), -EINVAL);
	ck_assert_int_eq(parse_cnum("0x", 0xffffffff, &v), -EINVAL);
	ck_assert_int_eq(parse_cnum("", 0xffffffff, &v), -EINVAL);
	ck_assert_int_eq(parse_cnum("1f", 0xffffffff, &v), -EINVAL);
	ck_assert_int_eq(parse_cnum("-1", 0xffffffff, &v), -EINVAL);
}
END_TEST

START_TEST(test_table_sorted)
{
	size_t i;

	for (i = 1; i < NKEYWORDS; i++)
		ck_assert_msg(strcmp(keywords[i - 1].name, keywords[i].name) < 0,
		    "%s before %s", keywords[i - 1].name, keywords[i].name);
	for (i = 0; i < NKEYWORDS; i++)
		ck_assert_ptr_eq(bsearch(keywords[i].name, keywords, NKEYWORDS,
		    sizeof(keywords[0]), kwcmp), &keywords[i]);
}
END_TEST

START_TEST(test_is_warning)
{
	ck_assert(conf_is_warning("warning: a:1: x"));
	ck_assert(!conf_is_warning("a:1: warning: x"));
	ck_assert(!conf_is_warning("warning"));
	ck_assert(!conf_is_warning(""));
}
END_TEST

START_TEST(test_enum_names)
{
	ck_assert_str_eq(conf_freeze_str(CONF_FREEZE_DEFER), "defer");
	ck_assert_str_eq(conf_freeze_str(CONF_FREEZE_REFUSE), "refuse");
	ck_assert_str_eq(conf_freeze_str((enum conf_freeze)7), "unknown");
	ck_assert_str_eq(conf_backend_str(CONF_BACKEND_USERSPACE), "userspace");
	ck_assert_str_eq(conf_backend_str(CONF_BACKEND_KERNEL), "kernel");
	ck_assert_str_eq(conf_backend_str(CONF_BACKEND_AUTO), "auto");
	ck_assert_str_eq(conf_backend_str((enum conf_backend)-1), "unknown");
}
END_TEST

/* ---- keywords ---- */

START_TEST(test_defaults)
{
	struct conf c;
	struct msgs m;

	parse_ok(D, &c, &m);
	ck_assert_str_eq(c.file, "t.conf");
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	ck_assert_str_eq(c.tag, "CacheFiles");
	ck_assert_str_eq(c.secctx, "");
	ck_assert_uint_eq(c.brun, 7);
	ck_assert_uint_eq(c.bcull, 5);
	ck_assert_uint_eq(c.bstop, 1);
	ck_assert_uint_eq(c.frun, 7);
	ck_assert_uint_eq(c.fcull, 5);
	ck_assert_uint_eq(c.fstop, 1);
	ck_assert_uint_eq(c.culltable, 12);
	ck_assert_int_eq(c.nocull, 0);
	ck_assert(c.resume_blocks == -1);
	ck_assert(c.resume_files == 5);
	ck_assert_uint_eq(c.debug, 0);
	ck_assert_str_eq(c.socket, DEFAULT_SOCKET);
	ck_assert_str_eq(c.admin_group, "");
	ck_assert_str_eq(c.client_group, "");
	ck_assert_int_eq(c.volume_access, CONF_ACCESS_NONE);
	ck_assert_int_eq(c.freeze, CONF_FREEZE_DEFER);
	ck_assert_uint_eq(c.freeze_timeout, 60);
	ck_assert_int_eq(c.nice, -10);
	ck_assert(c.max_size == 0);
	ck_assert_uint_eq(c.max_size_percent, 0);
	ck_assert(c.max_files == 0);
	/* a plain cachefilesd.conf runs as cachefilesd would: auto */
	ck_assert_int_eq(c.backend, CONF_BACKEND_AUTO);
	ck_assert_uint_eq(c.loc_dir.line, 1);
	ck_assert_uint_eq(c.loc_brun.line, 0);
	ck_assert_int_eq(m.nwarn, 0);
}
END_TEST

START_TEST(test_dir)
{
	struct conf c;
	struct msgs m;
	char big[PATH_MAX + 64];

	parse_ok("dir /a b/c d\n", &c, &m);
	ck_assert_str_eq(c.dir, "/a b/c d");	/* rest of the line */
	parse_ok("dir\t \t/x  \t \n", &c, &m);
	ck_assert_str_eq(c.dir, "/x");
	/* the longest dir a line can hold fits (the line limit comes first) */
	memset(big, 'a', sizeof(big));
	memcpy(big, "dir /", 5);
	strcpy(big + CONF_MAX_LINE - 1, "\n");
	parse_ok(big, &c, &m);
	ck_assert_uint_eq(strlen(c.dir), CONF_MAX_LINE - 1 - 4);
	memset(big, 'a', sizeof(big));
	memcpy(big, "dir /", 5);
	strcpy(big + CONF_MAX_LINE, "\n");
	parse_bad(big, 2, "t.conf:1: line is too long");	/* and no dir */
	/* and nothing longer than the field is ever stored */
	ck_assert_uint_lt(CONF_MAX_LINE, sizeof(c.dir) + 5);
	parse_bad("dir var/cache\n", 1, "t.conf:1: dir: 'var/cache' is not an"
	    " absolute path");
	parse_bad("dir\n", 2, "t.conf:1: dir: missing argument");
	parse_bad("tag x\n", 1, "t.conf: no 'dir' line");
	parse_bad("", 1, "t.conf: no 'dir' line");
	parse_bad("# only a comment\n\n", 1, "t.conf: no 'dir' line");
	parse_bad(D "tag a\n" "dir /other\n", 1,
	    "t.conf:3: dir given again (first at line 1); it may be given"
	    " only once");
}
END_TEST

START_TEST(test_dir_hash)
{
	struct conf c;
	struct msgs m;

	/* no trailing comments after dir/tag/secctx/socket: cachefilesd
	 * passes the whole rest of the line to the kernel */
	parse_ok("dir /a # b\n", &c, &m);
	ck_assert_str_eq(c.dir, "/a # b");
	ck_assert_int_eq(m.nwarn, 1);
	ck_assert_int_eq(count(&m, "warning: t.conf:1: dir: the '#' is part"
	    " of the value", NULL), 1);
	parse_ok("dir /a#b\n", &c, &m);
	ck_assert_str_eq(c.dir, "/a#b");
	ck_assert_int_eq(m.nwarn, 0);
	parse_ok(D "tag my#tag\n", &c, &m);
	ck_assert_str_eq(c.tag, "my#tag");
	ck_assert_int_eq(m.nwarn, 0);
}
END_TEST

START_TEST(test_tag_secctx)
{
	struct conf c;
	struct msgs m;
	char buf[1024];

	parse_ok(D "tag mycache\n", &c, &m);
	ck_assert_str_eq(c.tag, "mycache");
	parse_ok(D "secctx system_u:system_r:cachefiles_kernel_t:s0\n", &c, &m);
	ck_assert_str_eq(c.secctx, "system_u:system_r:cachefiles_kernel_t:s0");
	ck_assert_int_eq(m.nwarn, 0);

	/* repeated: accepted, the last one wins, with a warning */
	parse_ok(D "tag one\ntag two\n", &c, &m);
	ck_assert_str_eq(c.tag, "two");
	ck_assert_int_eq(m.nwarn, 1);
	ck_assert_int_eq(count(&m, "warning: t.conf:3: tag given again"
	    " (previously at line 2); the last one wins", NULL), 1);
	parse_ok(D "secctx a\nsecctx b\nsecctx c\n", &c, &m);
	ck_assert_str_eq(c.secctx, "c");
	ck_assert_int_eq(m.nwarn, 2);
	ck_assert_int_eq(count(&m, "t.conf:4: secctx given again (previously"
	    " at line 3)", NULL), 1);

	/* the largest that fits, and one more */
	snprintf(buf, sizeof(buf), D "tag %0127d\n", 0);
	parse_ok(buf, &c, &m);
	ck_assert_uint_eq(strlen(c.tag), 127);
	snprintf(buf, sizeof(buf), D "tag %0128d\n", 0);
	parse_bad(buf, 1, "t.conf:2: tag: value is too long (128 bytes, at"
	    " most 127)");
	snprintf(buf, sizeof(buf), D "secctx %0255d\n", 0);
	parse_ok(buf, &c, &m);
	ck_assert_uint_eq(strlen(c.secctx), 255);
	snprintf(buf, sizeof(buf), D "secctx %0256d\n", 0);
	parse_bad(buf, 1, "t.conf:2: secctx: value is too long");
	parse_bad(D "tag\n", 1, "t.conf:2: tag: missing argument");
	parse_bad(D "secctx   \n", 1, "t.conf:2: secctx: missing argument");
}
END_TEST

static const char *const thr[] = { "brun", "bcull", "bstop", "frun",
    "fcull", "fstop" };

START_TEST(test_thresholds)
{
	struct conf c;
	struct msgs m;
	char buf[256];

	parse_ok(D "brun 90%\nbcull 50%\nbstop 0%\n"
	    "frun 99%\nfcull 98%\nfstop 97%\n", &c, &m);
	ck_assert_uint_eq(c.brun, 90);
	ck_assert_uint_eq(c.bcull, 50);
	ck_assert_uint_eq(c.bstop, 0);
	ck_assert_uint_eq(c.frun, 99);
	ck_assert_uint_eq(c.fcull, 98);
	ck_assert_uint_eq(c.fstop, 97);
	ck_assert_uint_eq(c.loc_brun.line, 2);
	ck_assert_uint_eq(c.loc_bcull.line, 3);
	ck_assert_uint_eq(c.loc_bstop.line, 4);
	ck_assert_uint_eq(c.loc_frun.line, 5);
	ck_assert_uint_eq(c.loc_fcull.line, 6);
	ck_assert_uint_eq(c.loc_fstop.line, 7);

	/* each keyword's value errors */
	snprintf(buf, sizeof(buf), D "%s 100%%\n", thr[_i]);
	parse_bad(buf, 1, "out of range (0% to 99%)");
	snprintf(buf, sizeof(buf), D "%s 10\n", thr[_i]);
	parse_bad(buf, 1, "is not a valid value");
	snprintf(buf, sizeof(buf), D "%s 10%%x\n", thr[_i]);
	parse_bad(buf, 1, "'10%x' is not a valid value");
	snprintf(buf, sizeof(buf), D "%s -1%%\n", thr[_i]);
	parse_bad(buf, 1, "t.conf:2:");
	snprintf(buf, sizeof(buf), D "%s\n", thr[_i]);
	parse_bad(buf, 1, "missing argument");
	snprintf(buf, sizeof(buf), D "%s 5%% 6%%\n", thr[_i]);
	parse_bad(buf, 1, "too many arguments, '6%' is one too many");
}
END_TEST

START_TEST(test_threshold_order)
{
	struct conf c;
	struct msgs m;

	/* checked after the whole file, blocks and files apart */
	parse_bad(D "bstop 5%\n", 1, "t.conf:2: bstop 5% (line 2) must be"
	    " below bcull 5% (default): need 0 <= bstop < bcull < brun < 100");
	parse_bad(D "bcull 7%\n", 1, "t.conf:2: bcull 7% (line 2) must be"
	    " below brun 7% (default)");
	parse_bad(D "fcull 8%\nfrun 8%\n", 1, "t.conf:3: fcull 8% (line 2)"
	    " must be below frun 8% (line 3): need 0 <= fstop < fcull < frun");
	parse_bad(D "frun 20%\nfstop 15%\nfcull 10%\n", 1,
	    "t.conf:4: fstop 15% (line 3) must be below fcull 10% (line 4)");
	/* both orders wrong, and both kinds: four errors */
	parse(D "bstop 50%\nbrun 2%\nfstop 60%\nfrun 3%\n", &c, &m);
	ck_assert_int_eq(m.n, 4);
	ck_assert_int_eq(count(&m, "bstop 50% (line 2) must be below bcull 5%"
	    " (default)", NULL), 1);
	ck_assert_int_eq(count(&m, "t.conf:3: bcull 5% (default) must be below"
	    " brun 2% (line 3)", NULL), 1);
	ck_assert_int_eq(count(&m, "fstop 60% (line 4) must be below", NULL),
	    1);
	ck_assert_int_eq(count(&m, "fcull 5% (default) must be below frun 3%",
	    NULL), 1);
	/* blocks wrong, files fine */
	parse_bad(D "bcull 9%\nfcull 6%\nfrun 10%\n", 1, "bcull 9%");
	/* a bad value keeps the default and does not add an order error */
	parse_bad(D "bcull 500%\n", 1, "bcull: '500%' is out of range");
	/* stop may be 0 */
	parse_ok(D "bstop 0%\nfstop 0%\n", &c, &m);
	ck_assert_uint_eq(c.bstop, 0);
	ck_assert_uint_eq(c.fstop, 0);
	/* 99% run is the top */
	parse_ok(D "brun 99%\nbcull 98%\nbstop 97%\n", &c, &m);
}
END_TEST

/* Every order of the three block lines and the three file lines. */
START_TEST(test_order_independent)
{
	static const int perm[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
	    { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
	static const char *const bl[3] = { "brun 10%", "bcull 7%", "bstop 3%" };
	static const char *const fl[3] = { "frun 30%", "fcull 20%",
	    "fstop 10%" };
	struct conf c;
	struct msgs m;
	char buf[512];
	int j;

	for (j = 0; j < 6; j++) {
		/* dir last on purpose: it need not come first either */
		snprintf(buf, sizeof(buf), "%s\n%s\n%s\n%s\n%s\n%s\n" D,
		    bl[perm[_i][0]], fl[perm[j][0]], bl[perm[_i][1]],
		    fl[perm[j][1]], bl[perm[_i][2]], fl[perm[j][2]]);
		parse_ok(buf, &c, &m);
		ck_assert_uint_eq(c.brun, 10);
		ck_assert_uint_eq(c.bcull, 7);
		ck_assert_uint_eq(c.bstop, 3);
		ck_assert_uint_eq(c.frun, 30);
		ck_assert_uint_eq(c.fcull, 20);
		ck_assert_uint_eq(c.fstop, 10);
	}
}
END_TEST

START_TEST(test_threshold_repeat)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "brun 20%\nbrun 30%\n", &c, &m);
	ck_assert_uint_eq(c.brun, 30);
	ck_assert_uint_eq(c.loc_brun.line, 3);
	ck_assert_int_eq(m.nwarn, 1);
	ck_assert_int_eq(count(&m, "warning: t.conf:3: brun given again", NULL),
	    1);
	/* a bad repeat keeps the earlier value and its line */
	parse(D "bcull 6%\nbrun 8%\nbcull 7%x\n", &c, &m);
	ck_assert_int_eq(m.n, 1);
	ck_assert_uint_eq(c.bcull, 6);
	ck_assert_uint_eq(c.loc_bcull.line, 2);
}
END_TEST

START_TEST(test_culltable)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "culltable 12\n", &c, &m);
	ck_assert_uint_eq(c.culltable, 12);
	parse_ok(D "culltable 20\n", &c, &m);
	ck_assert_uint_eq(c.culltable, 20);
	parse_ok(D "culltable 016\n", &c, &m);
	ck_assert_uint_eq(c.culltable, 16);
	parse_bad(D "culltable 11\n", 1, "t.conf:2: culltable: '11' is out of"
	    " range (12 to 20)");
	parse_bad(D "culltable 21\n", 1, "out of range (12 to 20)");
	parse_bad(D "culltable 0x10\n", 1, "'0x10' is not a valid value");
	parse_bad(D "culltable 13x\n", 1, "'13x' is not a valid value");
	parse_bad(D "culltable\n", 1, "culltable: missing argument");
	parse_bad(D "culltable 13 14\n", 1, "too many arguments");
}
END_TEST

START_TEST(test_nocull)
{
	struct conf c;
	struct msgs m;

	/* cachefilesd passes nocull on to the kernel, which refuses it */
	parse_ok(D "nocull\n", &c, &m);
	ck_assert_int_eq(c.nocull, 1);
	parse_ok("nocull\n" D, &c, &m);
	ck_assert_int_eq(c.nocull, 1);
	parse_ok(D "  nocull   # no culling here\n", &c, &m);
	ck_assert_int_eq(c.nocull, 1);
	parse_bad(D "nocull yes\n", 1, "t.conf:2: nocull takes no argument"
	    " (got 'yes')");
	parse_bad(D "nocullx\n", 1, "unknown keyword 'nocullx'");
}
END_TEST

START_TEST(test_resume_thresholds)
{
	struct conf c;
	struct msgs m;

	/* cachefilesd compares 18 bytes of a 17-letter keyword: it never
	 * matches; larder reads it */
	parse_ok(D "resume_thresholds 100 50\n", &c, &m);
	ck_assert(c.resume_blocks == 100);
	ck_assert(c.resume_files == 50);
	parse_ok(D "resume_thresholds - 7\n", &c, &m);
	ck_assert(c.resume_blocks == -1);
	ck_assert(c.resume_files == 7);
	parse_ok(D "resume_thresholds 3 -\n", &c, &m);
	ck_assert(c.resume_blocks == 3);
	ck_assert(c.resume_files == -1);
	parse_ok(D "resume_thresholds\t-\t-   # both off\n", &c, &m);
	ck_assert(c.resume_blocks == -1);
	ck_assert(c.resume_files == -1);
	parse_ok(D "resume_thresholds 9223372036854775807 1\n", &c, &m);
	ck_assert(c.resume_blocks == LLONG_MAX);

	parse_bad(D "resume_thresholds 0 5\n", 1, "t.conf:2: resume_thresholds:"
	    " blocks '0' is out of range (1 to 9223372036854775807");
	parse_bad(D "resume_thresholds 5 0\n", 1, "files '0' is out of range");
	parse_bad(D "resume_thresholds 9223372036854775808 5\n", 1,
	    "blocks '9223372036854775808' is out of range");
	parse_bad(D "resume_thresholds x y\n", 2, "files 'y' is not a count"
	    " or '-'");
	parse_bad(D "resume_thresholds -- 5\n", 1, "blocks '--' is not a count");
	parse_bad(D "resume_thresholds 5\n", 1, "resume_thresholds: missing"
	    " argument (expected: resume_thresholds BLOCKS|- FILES|-)");
	parse_bad(D "resume_thresholds\n", 1, "missing argument");
	parse_bad(D "resume_thresholds 1 2 3\n", 1, "'3' is one too many");
	/* a bad pair changes nothing */
	parse(D "resume_thresholds 9 x\n", &c, &m);
	ck_assert(c.resume_blocks == -1);
	ck_assert(c.resume_files == 5);
}
END_TEST

START_TEST(test_debug)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "debug 7\n", &c, &m);
	ck_assert_uint_eq(c.debug, 7);
	parse_ok(D "debug 0x1f\n", &c, &m);
	ck_assert_uint_eq(c.debug, 31);
	parse_ok(D "debug 017\n", &c, &m);
	ck_assert_uint_eq(c.debug, 15);
	parse_ok(D "debug 0\n", &c, &m);
	ck_assert_uint_eq(c.debug, 0);
	parse_ok(D "debug 0xffffffff\n", &c, &m);
	ck_assert_uint_eq(c.debug, 0xffffffff);
	parse_bad(D "debug 0x100000000\n", 1, "t.conf:2: debug: '0x100000000'"
	    " is out of range (0 to 0xffffffff)");
	parse_bad(D "debug 09\n", 1, "debug: '09' is not a valid value");
	parse_bad(D "debug 1f\n", 1, "'1f' is not a valid value");
	parse_bad(D "debug -1\n", 1, "'-1' is not a valid value");
	parse_bad(D "debug\n", 1, "debug: missing argument");
	parse_bad(D "debug 1 2\n", 1, "too many arguments");
}
END_TEST

START_TEST(test_socket)
{
	struct conf c;
	struct msgs m;
	char buf[512];

	parse_ok(D "socket /run/x/larder.sock\n", &c, &m);
	ck_assert_str_eq(c.socket, "/run/x/larder.sock");
	/* sun_path: 107 bytes and the NUL */
	snprintf(buf, sizeof(buf), D "socket /%0106d\n", 0);
	parse_ok(buf, &c, &m);
	ck_assert_uint_eq(strlen(c.socket), 107);
	snprintf(buf, sizeof(buf), D "socket /%0107d\n", 0);
	parse_bad(buf, 1, "t.conf:2: socket: path is too long for a unix socket"
	    " (108 bytes, at most 107)");
	parse_bad(D "socket run/larder.sock\n", 1, "socket: 'run/larder.sock' is"
	    " not an absolute path");
	parse_bad(D "socket\n", 1, "socket: missing argument");
}
END_TEST

START_TEST(test_admin_group)
{
	struct conf c;
	struct msgs m;
	char buf[256];

	parse_ok(D "admin_group larder-admin\n", &c, &m);
	ck_assert_str_eq(c.admin_group, "larder-admin");
	parse_ok(D "admin_group _adm.1$ # trailing comment\n", &c, &m);
	ck_assert_str_eq(c.admin_group, "_adm.1$");
	snprintf(buf, sizeof(buf), D "admin_group g%062d\n", 0);
	parse_ok(buf, &c, &m);
	ck_assert_uint_eq(strlen(c.admin_group), 63);
	snprintf(buf, sizeof(buf), D "admin_group g%063d\n", 0);
	parse_bad(buf, 1, "t.conf:2: admin_group: name is too long");
	parse_bad(D "admin_group 1adm\n", 1, "admin_group: '1adm' is not a valid"
	    " group name");
	parse_bad(D "admin_group -adm\n", 1, "not a valid group name");
	parse_bad(D "admin_group a:b\n", 1, "not a valid group name");
	parse_bad(D "admin_group a$b\n", 1, "not a valid group name");
	parse_bad(D "admin_group a b\n", 1, "too many arguments");
	parse_bad(D "admin_group\n", 1, "admin_group: missing argument");
}
END_TEST

/* client_group: the same rules as admin_group; volume_access: a word */
START_TEST(test_access_keywords)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "client_group larder\n", &c, &m);
	ck_assert_str_eq(c.client_group, "larder");
	ck_assert_str_eq(c.admin_group, "");
	parse_bad(D "client_group 1x\n", 1, "client_group: '1x' is not a valid"
	    " group name");
	parse_bad(D "client_group\n", 1, "client_group: missing argument");
	parse_ok(D "volume_access read\n", &c, &m);
	ck_assert_int_eq(c.volume_access, CONF_ACCESS_READ);
	parse_ok(D "volume_access fill # others may fill\n", &c, &m);
	ck_assert_int_eq(c.volume_access, CONF_ACCESS_FILL);
	ck_assert_str_eq(conf_access_str(c.volume_access), "fill");
	parse_ok(D "volume_access none\n", &c, &m);
	ck_assert_int_eq(c.volume_access, CONF_ACCESS_NONE);
	parse_bad(D "volume_access default\n", 1, "volume_access: 'default' "
	    "is not an access policy (expected: none|read|fill)");
	parse_bad(D "volume_access all\n", 1, "is not an access policy");
	/* larder's own keywords: a file with them is not a cachefilesd.conf */
	parse_ok(D "client_group larder\n", &c, &m);
	ck_assert_int_eq(c.backend, CONF_BACKEND_USERSPACE);
}
END_TEST

START_TEST(test_freeze)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "freeze refuse\n", &c, &m);
	ck_assert_int_eq(c.freeze, CONF_FREEZE_REFUSE);
	parse_ok(D "freeze defer\n", &c, &m);
	ck_assert_int_eq(c.freeze, CONF_FREEZE_DEFER);
	parse_bad(D "freeze maybe\n", 1, "t.conf:2: freeze: 'maybe' is not a"
	    " freeze policy (expected: refuse|defer)");
	parse_bad(D "freeze Refuse\n", 1, "not a freeze policy");
	parse_bad(D "freeze\n", 1, "freeze: missing argument");

	parse_ok(D "freeze_timeout 1\n", &c, &m);
	ck_assert_uint_eq(c.freeze_timeout, 1);
	parse_ok(D "freeze_timeout 86400\n", &c, &m);
	ck_assert_uint_eq(c.freeze_timeout, 86400);
	parse_bad(D "freeze_timeout 0\n", 1, "t.conf:2: freeze_timeout: '0' is"
	    " out of range (1 to 86400 seconds)");
	parse_bad(D "freeze_timeout 86401\n", 1, "out of range");
	parse_bad(D "freeze_timeout 10s\n", 1, "'10s' is not a valid value");
	parse_bad(D "freeze_timeout\n", 1, "missing argument");
}
END_TEST

/* nice: -20 to 19, a larder keyword (the file then stays userspace) */
START_TEST(test_nice)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "nice -20\n", &c, &m);
	ck_assert_int_eq(c.nice, -20);
	ck_assert_int_eq(c.backend, CONF_BACKEND_USERSPACE);
	parse_ok(D "nice 19\n", &c, &m);
	ck_assert_int_eq(c.nice, 19);
	parse_ok(D "nice 0\n", &c, &m);
	ck_assert_int_eq(c.nice, 0);
	parse_ok(D "nice -0\n", &c, &m);
	ck_assert_int_eq(c.nice, 0);
	parse_bad(D "nice -21\n", 1, "t.conf:2: nice: '-21' is out of range "
	    "(-20 to 19)");
	parse_bad(D "nice 20\n", 1, "out of range");
	parse_bad(D "nice +5\n", 1, "'+5' is not a valid value");
	parse_bad(D "nice --5\n", 1, "not a valid value");
	parse_bad(D "nice -\n", 1, "not a valid value");
	parse_bad(D "nice 99999999999999999999999\n", 1, "out of range");
	parse_bad(D "nice 1 2\n", 1, "nice");
	parse_bad(D "nice\n", 1, "missing argument");
}
END_TEST

/* the per-uid limits, the admin slots and the idle timeout */
START_TEST(test_limits)
{
	struct conf c;
	struct msgs m;
	size_t i, j;

	/* every keyword set_limit parses has its range */
	for (i = 0; i < NKEYWORDS; i++) {
		if (keywords[i].fn != set_limit)
			continue;
		for (j = 0; j < NELEM(limit_ranges); j++)
			if (strcmp(limit_ranges[j].name, keywords[i].name) == 0)
				break;
		ck_assert_msg(j < NELEM(limit_ranges), "%s has no range",
		    keywords[i].name);
	}
	parse_ok(D, &c, &m);
	ck_assert_uint_eq(c.admin_connections, CONF_DEFAULT_ADMIN_CONNECTIONS);
	ck_assert_uint_eq(c.idle_timeout, CONF_DEFAULT_IDLE_TIMEOUT);
	ck_assert_uint_eq(c.uid_max_connections, CONF_DEFAULT_UID_CONNECTIONS);
	ck_assert_uint_eq(c.uid_max_cookies, CONF_DEFAULT_UID_COOKIES);
	ck_assert_uint_eq(c.uid_max_volumes, CONF_DEFAULT_UID_VOLUMES);
	ck_assert_uint_eq(c.uid_max_pinned, 0);
	ck_assert_uint_eq(c.uid_max_pinned_percent,
	    CONF_DEFAULT_UID_PINNED_PERCENT);
	parse_ok(D "admin_connections 0\nidle_timeout 0\n"
	    "uid_max_connections 1\nuid_max_cookies 1048576\n"
	    "uid_max_volumes 65535\nuid_max_pinned 1G\n", &c, &m);
	ck_assert_uint_eq(c.admin_connections, 0);
	ck_assert_uint_eq(c.idle_timeout, 0);
	ck_assert_uint_eq(c.uid_max_connections, 1);
	ck_assert_uint_eq(c.uid_max_cookies, 1048576);
	ck_assert_uint_eq(c.uid_max_volumes, 65535);
	ck_assert_uint_eq(c.uid_max_pinned, 1ULL << 30);
	ck_assert_uint_eq(c.uid_max_pinned_percent, 0);
	/* a limit keyword alone keeps the userspace default backend */
	ck_assert_int_eq(c.backend, CONF_BACKEND_USERSPACE);
	parse_ok(D "uid_max_pinned 0\n", &c, &m);
	ck_assert_uint_eq(c.uid_max_pinned, 0);
	ck_assert_uint_eq(c.uid_max_pinned_percent, 0);
	parse_ok(D "uid_max_pinned 1G\nuid_max_pinned 10%\n", &c, &m);
	ck_assert_uint_eq(c.uid_max_pinned, 0);
	ck_assert_uint_eq(c.uid_max_pinned_percent, 10);
	parse_ok(D "admin_connections 256\nidle_timeout 86400\n", &c, &m);
	ck_assert_uint_eq(c.admin_connections, 256);
	ck_assert_uint_eq(c.idle_timeout, 86400);
	parse_bad(D "admin_connections 257\n", 1, "t.conf:2: "
	    "admin_connections: '257' is out of range (0 to 256)");
	parse_bad(D "idle_timeout 86401\n", 1, "out of range (0 to 86400 "
	    "seconds)");
	parse_bad(D "uid_max_connections 0\n", 1, "out of range (1 to 65536)");
	parse_bad(D "uid_max_cookies 1048577\n", 1, "out of range");
	parse_bad(D "uid_max_volumes 0\n", 1, "out of range (1 to 65535)");
	parse_bad(D "uid_max_volumes -1\n", 1, "not a valid value");
	parse_bad(D "uid_max_pinned 0%\n", 1, "out of range (1% to 100%)");
	parse_bad(D "uid_max_pinned 101%\n", 1, "uid_max_pinned");
	parse_bad(D "uid_max_pinned lots\n", 1, "not a valid value");
	parse_bad(D "idle_timeout\n", 1, "missing argument");
	parse_bad(D "uid_max_cookies 1 2\n", 1, "uid_max_cookies");
}
END_TEST

START_TEST(test_max_size_files)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "max_size 10G\n", &c, &m);
	ck_assert(c.max_size == 10ULL << 30);
	ck_assert_uint_eq(c.max_size_percent, 0);
	parse_ok(D "max_size 80%\n", &c, &m);
	ck_assert(c.max_size == 0);
	ck_assert_uint_eq(c.max_size_percent, 80);
	parse_ok(D "max_size 100%\n", &c, &m);
	ck_assert_uint_eq(c.max_size_percent, 100);
	/* the last one wins, and a size clears a percentage */
	parse_ok(D "max_size 50%\nmax_size 1T\n", &c, &m);
	ck_assert(c.max_size == 1ULL << 40);
	ck_assert_uint_eq(c.max_size_percent, 0);
	ck_assert_int_eq(m.nwarn, 1);
	parse_ok(D "max_size 0\n", &c, &m);
	ck_assert(c.max_size == 0);
	parse_bad(D "max_size 0%\n", 1, "t.conf:2: max_size: '0%' is out of"
	    " range (1% to 100%)");
	parse_bad(D "max_size 101%\n", 1, "out of range (1% to 100%)");
	parse_bad(D "max_size 10%x\n", 1, "max_size: '10%x' is not a valid"
	    " value");
	parse_bad(D "max_size 10GB\n", 1, "'10GB' is not a valid value");
	parse_bad(D "max_size 16777216T\n", 1, "out of range");
	parse_bad(D "max_size\n", 1, "max_size: missing argument");

	parse_ok(D "max_files 100000\n", &c, &m);
	ck_assert(c.max_files == 100000);
	parse_ok(D "max_files 18446744073709551615\n", &c, &m);
	ck_assert(c.max_files == UINT64_MAX);
	parse_bad(D "max_files 18446744073709551616\n", 1, "max_files: "
	    "'18446744073709551616' is out of range");
	parse_bad(D "max_files 1K\n", 1, "'1K' is not a valid value");
	parse_bad(D "max_files\n", 1, "missing argument");
}
END_TEST

START_TEST(test_backend)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "backend kernel\n", &c, &m);
	ck_assert_int_eq(c.backend, CONF_BACKEND_KERNEL);
	parse_ok(D "backend auto\n", &c, &m);
	ck_assert_int_eq(c.backend, CONF_BACKEND_AUTO);
	parse_ok(D "backend userspace\n", &c, &m);
	ck_assert_int_eq(c.backend, CONF_BACKEND_USERSPACE);
	/* any larder keyword: userspace stays the default */
	parse_ok(D "socket /run/x.sock\n", &c, &m);
	ck_assert_int_eq(c.backend, CONF_BACKEND_USERSPACE);
	parse_ok(D "max_files 10\n", &c, &m);
	ck_assert_int_eq(c.backend, CONF_BACKEND_USERSPACE);
	parse_ok(D "brun 10%\nnocull\n", &c, &m);
	ck_assert_int_eq(c.backend, CONF_BACKEND_AUTO);
	parse_bad(D "backend fuse\n", 1, "t.conf:2: backend: 'fuse' is not a"
	    " backend (expected: userspace|kernel|auto)");
	parse_bad(D "backend\n", 1, "backend: missing argument");
	parse_bad(D "backend kernel auto\n", 1, "too many arguments");
}
END_TEST

START_TEST(test_cull_policy)
{
	struct conf c;
	struct msgs m;

	parse_ok(D "tag x\n", &c, &m);
	ck_assert_int_eq(c.cull_policy, CONF_CULL_S3);
	parse_ok(D "cull_policy lru\n", &c, &m);
	ck_assert_int_eq(c.cull_policy, CONF_CULL_LRU);
	ck_assert_int_eq(c.backend, CONF_BACKEND_USERSPACE);	/* larder's */
	parse_ok(D "cull_policy s3\n", &c, &m);
	ck_assert_int_eq(c.cull_policy, CONF_CULL_S3);
	ck_assert_str_eq(conf_cull_policy_str(CONF_CULL_LRU), "lru");
	ck_assert_str_eq(conf_cull_policy_str(CONF_CULL_S3), "s3");
	ck_assert_str_eq(conf_cull_policy_str((enum conf_cull_policy)7),
	    "unknown");
	parse_bad(D "cull_policy mru\n", 1, "t.conf:2: cull_policy: 'mru' is "
	    "not a policy (expected: s3|lru)");
	parse_bad(D "cull_policy\n", 1, "cull_policy: missing argument");
	parse_bad(D "cull_policy lru s3\n", 1, "too many arguments");
}
END_TEST

START_TEST(test_refused)
{
	/* cachefilesd refuses bind too: the daemon binds after the file */
	parse_bad(D "bind\n", 1, "t.conf:2: 'bind' is not permitted in a"
	    " configuration file");
	parse_bad(D "  bind now\n", 1, "'bind' is not permitted");
	parse_bad(D "cull @1f/Dx\n", 1, "'cull' is not permitted");
	parse_bad(D "inuse Dx\n", 1, "'inuse' is not permitted");
}
END_TEST

START_TEST(test_unknown)
{
	char buf[512];

	parse_bad(D "frobnicate 3\n", 1, "t.conf:2: unknown keyword"
	    " 'frobnicate'");
	parse_bad(D "Dir /x\n", 1, "unknown keyword 'Dir'");
	parse_bad(D "brun=10%\n", 1, "unknown keyword 'brun=10%'");
	/* a long keyword is cut in the message */
	memset(buf, 'k', 300);
	buf[300] = '\0';
	parse_bad(buf, 2, "unknown keyword 'kkkk");
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "unknown keyword '");
	memset(buf + strlen(buf), 'k', QUOTE_MAX);
	strcat(buf, "...'");
	{
		char text[301];
		struct conf c;
		struct msgs m;

		memset(text, 'k', 300);
		text[300] = '\0';
		parse(text, &c, &m);
		ck_assert_int_eq(count(&m, buf, NULL), 1);
	}
}
END_TEST

/* Missing and extra arguments, for every keyword in the table. */
START_TEST(test_every_keyword_args)
{
	const struct keyword *k = &keywords[_i];
	char buf[256];
	struct conf c;
	struct msgs m;
	int r;

	snprintf(buf, sizeof(buf), D "%s\n", k->name);
	r = parse(buf, &c, &m);
	if (k->kind == ARG_NONE) {
		ck_assert_int_eq(r, 0);
	} else {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_int_ge(count(&m, "t.conf:2: ", k->name, NULL), 1);
		if (k->kind != ARG_REFUSED)
			ck_assert_int_eq(count(&m, "missing argument", NULL),
			    1);
	}
	/* far too many words */
	snprintf(buf, sizeof(buf), D "%s /a /b /c /d /e /f\n", k->name);
	r = parse(buf, &c, &m);
	if (k->kind == ARG_REST) {
		/* paths and labels take the rest of the line */
		if (k->off == OFF(dir))
			ck_assert_int_eq(r, -EINVAL);	/* dir twice */
		else
			ck_assert_int_eq(r, 0);
	} else {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_int_ge(count(&m, "t.conf:2: ", NULL), 1);
	}
}
END_TEST

/* ---- the lexical rules, and cachefilesd's bugs ---- */

START_TEST(test_indented)
{
	struct conf c;
	struct msgs m;

	/* cachefilesd skips the blanks, then writes the unskipped line to
	 * the kernel, which rejects it */
	parse_ok("   dir /var/cache/fscache\n\ttag\tt1\n \t brun 10%\n"
	    "\t\t# indented comment\n   \n\t\n", &c, &m);
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	ck_assert_str_eq(c.tag, "t1");
	ck_assert_uint_eq(c.brun, 10);
}
END_TEST

START_TEST(test_no_final_newline)
{
	struct conf c;
	struct msgs m;

	parse_ok("dir /var/cache/fscache", &c, &m);	/* cachefilesd: error */
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	parse_ok(D "brun 10%", &c, &m);
	ck_assert_uint_eq(c.brun, 10);
	parse_ok(D "nocull", &c, &m);
	ck_assert_int_eq(c.nocull, 1);
	parse_ok(D "# last line is a comment", &c, &m);
	/* the last line's error still names it */
	parse_bad(D "\nbrun 10", 1, "t.conf:3: brun:");
}
END_TEST

START_TEST(test_crlf)
{
	struct conf c;
	struct msgs m;

	parse_ok("dir /var/cache/fscache\r\ntag t\r\nbrun 10%\r\n"
	    "resume_thresholds - 4\r\nnocull\r\n# c\r\n\r\n", &c, &m);
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	ck_assert_str_eq(c.tag, "t");
	ck_assert_uint_eq(c.brun, 10);
	ck_assert(c.resume_files == 4);
	ck_assert_int_eq(c.nocull, 1);
	/* a CR inside a line is a control character */
	parse_bad(D "tag a\rb\n", 1, "t.conf:2: control character 0x0d at"
	    " column 6");
}
END_TEST

START_TEST(test_comments)
{
	struct conf c;
	struct msgs m;

	parse_ok("# comment\n#\n" D "#dir /ignored\n  # x\n", &c, &m);
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	/* trailing comments after keywords whose values cannot hold '#' */
	parse_ok(D "brun 10% # more\nculltable 14 #x\nfreeze refuse #\n"
	    "debug 0x3\t# trace\nbackend auto # k\nmax_files 9 # m\n"
	    "freeze_timeout 5 #\nmax_size 1G # s\n", &c, &m);
	ck_assert_uint_eq(c.brun, 10);
	ck_assert_uint_eq(c.culltable, 14);
	ck_assert_int_eq(c.freeze, CONF_FREEZE_REFUSE);
	ck_assert_uint_eq(c.debug, 3);
	ck_assert_int_eq(c.backend, CONF_BACKEND_AUTO);
	ck_assert(c.max_files == 9);
	ck_assert_uint_eq(c.freeze_timeout, 5);
	ck_assert(c.max_size == 1ULL << 30);
	ck_assert_int_eq(m.nwarn, 0);
	/* a comment starts a word: glued to the value it is garbage */
	parse_bad(D "brun 10%#x\n", 1, "'10%#x' is not a valid value");
	/* a comment where the value should be */
	parse_bad(D "brun # 10%\n", 1, "brun: missing argument");
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "dir /var/cache/fscache\nta\0g x\n"
	    "brun 10%\nbogus\n";
	struct conf c;
	struct msgs m;
	int r;

	memset(&m, 0, sizeof(m));
	r = conf_parse_buf("t.conf", text, sizeof(text) - 1, &c, collect, &m);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_int_eq(m.n, 2);
	ck_assert_int_eq(count(&m, "t.conf:2: NUL byte at column 3", NULL), 1);
	/* and the lines after it are still read */
	ck_assert_uint_eq(c.brun, 10);
	ck_assert_int_eq(count(&m, "t.conf:4: unknown keyword 'bogus'", NULL),
	    1);
	ck_assert_str_eq(c.tag, "CacheFiles");

	/* a NUL alone, and a NUL in the last line without a newline */
	memset(&m, 0, sizeof(m));
	r = conf_parse_buf("t.conf", D "\0", sizeof(D), &c, collect, &m);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_int_eq(count(&m, "t.conf:2: NUL byte at column 1", NULL), 1);
}
END_TEST

START_TEST(test_long_line)
{
	static char buf[3 * CONF_MAX_LINE];
	struct conf c;
	struct msgs m;
	size_t n;

	/* the longest line: CONF_MAX_LINE - 1 bytes before the newline */
	n = snprintf(buf, sizeof(buf), D "#");
	memset(buf + n, 'x', CONF_MAX_LINE - 2);
	strcpy(buf + n + CONF_MAX_LINE - 2, "\nbrun 10%\n");
	parse_ok(buf, &c, &m);
	ck_assert_uint_eq(c.brun, 10);
	/* with CRLF too */
	strcpy(buf + n + CONF_MAX_LINE - 2, "\r\nbrun 11%\n");
	parse_ok(buf, &c, &m);
	ck_assert_uint_eq(c.brun, 11);

	/* one more byte is an error naming the line; the rest is read */
	memset(buf + n, 'x', CONF_MAX_LINE - 1);
	strcpy(buf + n + CONF_MAX_LINE - 1, "\nbrun 12%\nbad\n");
	parse(buf, &c, &m);
	ck_assert_int_eq(m.n, 2);
	ck_assert_int_eq(count(&m, "t.conf:2: line is too long (more than 4095"
	    " bytes)", NULL), 1);
	ck_assert_int_eq(count(&m, "t.conf:4: unknown keyword 'bad'", NULL), 1);
	ck_assert_uint_eq(c.brun, 12);

	/* far longer, with no final newline */
	memset(buf, 'y', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse_buf("t.conf", buf, sizeof(buf) - 1, &c,
	    collect, &m), -EINVAL);
	ck_assert_int_eq(m.n, 2);
	ck_assert_int_eq(count(&m, "t.conf:1: line is too long", NULL), 1);
	ck_assert_int_eq(count(&m, "t.conf: no 'dir' line", NULL), 1);
}
END_TEST

START_TEST(test_control_chars)
{
	parse_bad(D "tag a\x01" "b\n", 1, "t.conf:2: control character 0x01 at"
	    " column 6");
	parse_bad(D "brun\x7f 10%\n", 1, "control character 0x7f");
	parse_bad(D "\x1b[31m\n", 1, "t.conf:2: control character 0x1b");
}
END_TEST

START_TEST(test_bom)
{
	struct conf c;
	struct msgs m;

	parse_ok("\xef\xbb\xbf" D, &c, &m);
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	/* only at the very start */
	parse_bad(D "\xef\xbb\xbftag x\n", 1, "unknown keyword");
}
END_TEST

START_TEST(test_all_errors_reported)
{
	struct conf c;
	struct msgs m;
	int r;

	r = parse("tag\n"		/* 1 missing argument */
	    "brun 10\n"			/* 2 no % */
	    "fcull 7%x\n"		/* 3 garbage */
	    "culltable 30\n"		/* 4 range */
	    "wibble\n"			/* 5 unknown */
	    "bind\n"			/* 6 refused */
	    "dir relative\n"		/* 7 not absolute */
	    "nocull 1\n"		/* 8 extra */
	    "resume_thresholds 0 -\n"	/* 9 range */
	    "debug 0xz\n"		/* 10 garbage */
	    "socket x\n"		/* 11 not absolute */
	    "freeze never\n"		/* 12 policy */
	    "freeze_timeout 0\n"	/* 13 range */
	    "max_size lots\n"		/* 14 garbage */
	    "max_files -1\n"		/* 15 garbage */
	    "backend fuse\n"		/* 16 unknown */
	    "admin_group 0\n"		/* 17 bad name */
	    "bstop 9%\n",		/* 18: order, reported after the file */
	    &c, &m);
	ck_assert_int_eq(r, -EINVAL);
	if (m.n != 18)
		dump(&m);
	ck_assert_int_eq(m.n, 18);
	for (int line = 1; line <= 18; line++) {
		char want[32];

		snprintf(want, sizeof(want), "t.conf:%d: ", line);
		ck_assert_msg(count(&m, want, NULL) == 1, "no error for line %d",
		    line);
	}
	/* every message is "file:line: reason" */
	for (int i = 0; i < m.total; i++)
		ck_assert_msg(strncmp(m.m[i], "t.conf:", 7) == 0, "%s", m.m[i]);
}
END_TEST

START_TEST(test_null_callback)
{
	struct conf c;

	ck_assert_int_eq(conf_parse_buf("x", "brun\n", 5, &c, NULL, NULL),
	    -EINVAL);
	ck_assert_int_eq(conf_parse_buf("x", D, strlen(D), &c, NULL, NULL), 0);
	ck_assert_int_eq(conf_parse_buf(NULL, D, strlen(D), &c, NULL, NULL), 0);
	ck_assert_int_eq(conf_parse_buf("x", NULL, 0, &c, NULL, NULL), -EINVAL);
}
END_TEST

/* ---- real configs ---- */

/* The EXAMPLES section of cachefilesd.conf(5), secctx twice and all. */
static const char man_example[] =
    "dir /var/cache/fscache\n"
    "secctx cachefiles_kernel_t\n"
    "tag mycache\n"
    "brun 10%\n"
    "bcull 7%\n"
    "bstop 3%\n"
    "secctx system_u:system_r:cachefiles_kernel_t:s0\n";

/* Debian 12's /etc/cachefilesd.conf (cachefilesd 0.10.10-0.3), as shipped. */
static const char debian_conf[] =
    "###############################################################################\n"
    "#\n"
    "# Copyright (C) 2006,2010 Red Hat, Inc. All Rights Reserved.\n"
    "# Written by David Howells (dhowells@redhat.com)\n"
    "#\n"
    "# This program is free software; you can redistribute it and/or\n"
    "# modify it under the terms of the GNU General Public License\n"
    "# as published by the Free Software Foundation; either version\n"
    "# 2 of the License, or (at your option) any later version.\n"
    "#\n"
    "###############################################################################\n"
    "\n"
    "dir /var/cache/fscache\n"
    "tag mycache\n"
    "brun 10%\n"
    "bcull 7%\n"
    "bstop 3%\n"
    "frun 10%\n"
    "fcull 7%\n"
    "fstop 3%\n"
    "\n"
    "# Assuming you're using SELinux with the default security policy included in\n"
    "# this package\n"
    "# secctx system_u:system_r:cachefiles_kernel_t:s0\n";

START_TEST(test_man_example)
{
	struct conf c;
	struct msgs m;

	parse_ok(man_example, &c, &m);
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	ck_assert_str_eq(c.tag, "mycache");
	ck_assert_str_eq(c.secctx, "system_u:system_r:cachefiles_kernel_t:s0");
	ck_assert_uint_eq(c.brun, 10);
	ck_assert_uint_eq(c.bcull, 7);
	ck_assert_uint_eq(c.bstop, 3);
	ck_assert_uint_eq(c.frun, 7);	/* untouched: the defaults */
	ck_assert_uint_eq(c.fcull, 5);
	ck_assert_uint_eq(c.fstop, 1);
	ck_assert_int_eq(m.nwarn, 1);
	ck_assert_int_eq(count(&m, "warning: t.conf:7: secctx given again"
	    " (previously at line 2)", NULL), 1);
}
END_TEST

START_TEST(test_debian_conf)
{
	struct conf c;
	struct msgs m;

	parse_ok(debian_conf, &c, &m);
	ck_assert_int_eq(m.nwarn, 0);
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	ck_assert_str_eq(c.tag, "mycache");
	ck_assert_str_eq(c.secctx, "");
	ck_assert_uint_eq(c.brun, 10);
	ck_assert_uint_eq(c.bcull, 7);
	ck_assert_uint_eq(c.bstop, 3);
	ck_assert_uint_eq(c.frun, 10);
	ck_assert_uint_eq(c.fcull, 7);
	ck_assert_uint_eq(c.fstop, 3);
	ck_assert_uint_eq(c.loc_fstop.line, 20);
	/* with the secctx line enabled it is still fine */
	{
		char buf[sizeof(debian_conf)];
		char *p;

		memcpy(buf, debian_conf, sizeof(buf));
		p = strstr(buf, "# secctx");
		ck_assert_ptr_nonnull(p);
		memset(p, ' ', 2);
		parse_ok(buf, &c, &m);
		ck_assert_str_eq(c.secctx,
		    "system_u:system_r:cachefiles_kernel_t:s0");
	}
}
END_TEST

/* Where a source file is: $LARDER_BUILD (make check), ".", or "../.." (run
 * by hand from tests/unit/). */
static void
source_path(const char *rel, char *path, size_t size)
{
	const char *top = getenv("LARDER_BUILD");

	if (top) {
		snprintf(path, size, "%s/%s", top, rel);
		return;
	}
	snprintf(path, size, "./%s", rel);
	if (access(path, R_OK) != 0)
		snprintf(path, size, "../../%s", rel);
}

/* The installed default and the example shipped in contrib/. */
START_TEST(test_contrib_files)
{
	static const char *const files[] = { "contrib/larder.conf",
	    "contrib/cachefilesd.conf.example" };
	char path[PATH_MAX + 64];
	struct conf c;
	struct msgs m;

	source_path(files[_i], path, sizeof(path));
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse(path, &c, collect, &m), 0);
	ck_assert_int_eq(m.n, 0);
	ck_assert_int_eq(m.nwarn, 0);
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	ck_assert_uint_eq(c.brun, 10);
	ck_assert_uint_eq(c.bcull, 7);
	ck_assert_uint_eq(c.bstop, 3);
	ck_assert_uint_eq(c.frun, 10);
	ck_assert_uint_eq(c.fcull, 7);
	ck_assert_uint_eq(c.fstop, 3);
}
END_TEST

/* Read a file from the source tree into buf (NUL-terminated); its length. */
static size_t
read_source(const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX + 64];
	ssize_t n;
	int fd;

	source_path(rel, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "cannot open %s", path);
	n = read(fd, buf, size - 1);
	ck_assert_int_ge(n, 0);
	ck_assert_msg((size_t)n < size - 1, "%s is too big", path);
	close(fd);
	buf[n] = '\0';
	return n;
}

/* The example in contrib/ is Debian's file, byte for byte. */
START_TEST(test_contrib_example_is_debian)
{
	static char buf[65536];
	size_t n = read_source("contrib/cachefilesd.conf.example", buf,
	    sizeof(buf));

	ck_assert_uint_eq(n, strlen(debian_conf));
	ck_assert_str_eq(buf, debian_conf);
}
END_TEST

/* The shipped larder.conf, as installed, says backend auto: a drop-in for
 * cachefilesd's default config (kernel mode where /dev/cachefiles can be
 * opened), which the service unit allows as shipped. */
START_TEST(test_contrib_is_auto)
{
	static char buf[65536];
	struct conf c;
	struct msgs m;

	read_source("contrib/larder.conf", buf, sizeof(buf));
	parse_ok(buf, &c, &m);
	ck_assert_int_eq(c.backend, CONF_BACKEND_AUTO);
}
END_TEST

/* Every commented-out keyword in contrib/larder.conf, switched on, is
 * accepted and shows the parser's own default (or a valid example). */
START_TEST(test_contrib_defaults_match)
{
	static char buf[65536], out[65536];
	struct conf c;
	struct msgs m;
	char *line, *save = NULL;
	size_t i, n = 0;
	int on = 0;

	read_source("contrib/larder.conf", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' && line[1] != ' ' && line[1] != '#' &&
		    line[1] != '\0') {
			char kw[64];

			sscanf(line + 1, "%63s", kw);
			ck_assert_msg(bsearch(kw, keywords, NKEYWORDS,
			    sizeof(keywords[0]), kwcmp) != NULL,
			    "commented line with an unknown keyword: %s", line);
			line++;
			on++;
		}
		n += snprintf(out + n, sizeof(out) - n, "%s\n", line);
	}
	/* every keyword but bind/cull/inuse appears, set or commented */
	for (i = 0; i < NKEYWORDS; i++) {
		char want[64];

		if (keywords[i].kind == ARG_REFUSED)
			continue;
		snprintf(want, sizeof(want), "\n%s", keywords[i].name);
		ck_assert_msg(strstr(out, want), "%s is not in larder.conf",
		    keywords[i].name);
	}
	ck_assert_int_ge(on, 12);	/* backend is set, not commented */
	parse_ok(out, &c, &m);
	ck_assert_int_eq(m.nwarn, 0);
	ck_assert_str_eq(c.tag, "CacheFiles");
	ck_assert_uint_eq(c.culltable, CONF_DEFAULT_CULLTABLE);
	ck_assert_int_eq(c.cull_policy, CONF_CULL_S3);
	ck_assert_int_eq(c.nocull, 1);
	ck_assert(c.resume_blocks == -1);
	ck_assert(c.resume_files == CONF_DEFAULT_RESUME_FILES);
	ck_assert_uint_eq(c.debug, 0);
	ck_assert_int_eq(c.freeze, CONF_FREEZE_DEFER);
	ck_assert_uint_eq(c.freeze_timeout, CONF_DEFAULT_FREEZE_TIMEOUT);
	ck_assert(c.max_size == 0);
	ck_assert(c.max_files == 0);
	ck_assert_int_eq(c.backend, CONF_BACKEND_AUTO);
}
END_TEST

/* The examples in larder.conf(5) are accepted, and so is its text. */
START_TEST(test_man_examples)
{
	static char buf[131072], text[4096];
	struct conf c;
	struct msgs m;
	char *p, *e;
	int n = 0;

	read_source("man/larder.conf.5", buf, sizeof(buf));
	p = strstr(buf, "\n.SH EXAMPLES\n");
	ck_assert_ptr_nonnull(p);
	while ((p = strstr(p, "\n.nf\n")) != NULL) {
		p += 5;
		e = strstr(p, "\n.fi\n");
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_lt(e - p + 1, sizeof(text));
		memcpy(text, p, e - p + 1);
		text[e - p + 1] = '\0';
		ck_assert_ptr_null(strchr(text, '\\'));	/* no roff inside */
		parse_ok(text, &c, &m);
		/* the first is cachefilesd.conf(5)'s, secctx twice */
		ck_assert_int_eq(m.nwarn, n == 0 ? 1 : 0);
		n++;
		p = e;
	}
	ck_assert_int_eq(n, 3);
}
END_TEST

/* ---- conf_parse on real files ---- */

static char tmpdir[PATH_MAX];

static void
mktmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_conf.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
rmtmp(void)
{
	char cmd[PATH_MAX + 16];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	tmpdir[0] = '\0';
}

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_file_ok)
{
	char path[PATH_MAX + 64];
	struct conf c;
	struct msgs m;

	snprintf(path, sizeof(path), "%s/cachefilesd.conf", tmpdir);
	write_file(path, debian_conf, strlen(debian_conf));
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse(path, &c, collect, &m), 0);
	ck_assert_int_eq(m.n, 0);
	ck_assert_str_eq(c.file, path);
	ck_assert_str_eq(c.tag, "mycache");
	ck_assert_uint_eq(c.fstop, 3);

	/* the man page example, without its final newline */
	write_file(path, man_example, strlen(man_example) - 1);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse(path, &c, collect, &m), 0);
	ck_assert_int_eq(m.nwarn, 1);
	ck_assert_str_eq(c.secctx, "system_u:system_r:cachefiles_kernel_t:s0");
}
END_TEST

START_TEST(test_file_errors)
{
	char path[PATH_MAX + 64], want[2 * PATH_MAX];
	struct conf c;
	struct msgs m;

	snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
	write_file(path, "brun 3%\nfoo\n", 12);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse(path, &c, collect, &m), -EINVAL);
	ck_assert_int_eq(m.n, 3);
	snprintf(want, sizeof(want), "%s:2: unknown keyword 'foo'", path);
	ck_assert_int_eq(count(&m, want, NULL), 1);
	snprintf(want, sizeof(want), "%s:1: bcull 5%% (default) must be below"
	    " brun 3%% (line 1)", path);
	ck_assert_int_eq(count(&m, want, NULL), 1);
	snprintf(want, sizeof(want), "%s: no 'dir' line", path);
	ck_assert_int_eq(count(&m, want, NULL), 1);

	/* a file that is not there */
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse(path, &c, collect, &m), -ENOENT);
	ck_assert_int_eq(m.n, 1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or"
	    " directory", path);
	ck_assert_int_eq(count(&m, want, NULL), 1);

	/* a directory */
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse(tmpdir, &c, collect, &m), -EISDIR);
	ck_assert_int_eq(m.n, 1);
	ck_assert_int_eq(count(&m, ": not a regular file", NULL), 1);

	/* a FIFO would block the reader: refused, without blocking */
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse(path, &c, collect, &m), -EINVAL);
	ck_assert_int_eq(count(&m, "not a regular file", NULL), 1);

	/* a name too long for struct conf */
	{
		static char longname[PATH_MAX + 10];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[0] = '/';
		memset(&m, 0, sizeof(m));
		ck_assert_int_eq(conf_parse(longname, &c, collect, &m),
		    -ENAMETOOLONG);
		ck_assert_int_eq(m.n, 1);
	}
}
END_TEST

/* Lines that straddle read() chunks, and a long line across them. */
START_TEST(test_file_large)
{
	char path[PATH_MAX + 64];
	struct conf c;
	struct msgs m;
	char *buf;
	size_t n = 0, size = 1 << 20;
	unsigned lines = 0;

	buf = malloc(size);
	ck_assert_ptr_nonnull(buf);
	while (n < 100000) {
		n += sprintf(buf + n, "# filler comment line %u\n", lines);
		lines++;
	}
	n += sprintf(buf + n, "  brun 44%%\n");
	memset(buf + n, 'z', 10000);
	n += 10000;
	n += sprintf(buf + n, "\n" D "frun 33%%");
	snprintf(path, sizeof(path), "%s/large.conf", tmpdir);
	write_file(path, buf, n);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(conf_parse(path, &c, collect, &m), -EINVAL);
	ck_assert_int_eq(m.n, 1);
	snprintf(buf, size, "%s:%u: line is too long", path, lines + 2);
	ck_assert_int_eq(count(&m, buf, NULL), 1);
	ck_assert_uint_eq(c.brun, 44);
	ck_assert_uint_eq(c.loc_brun.line, lines + 1);
	ck_assert_uint_eq(c.frun, 33);
	ck_assert_uint_eq(c.loc_frun.line, lines + 4);
	ck_assert_str_eq(c.dir, "/var/cache/fscache");
	free(buf);
}
END_TEST

/* ---- thread safety: parsers in parallel agree ---- */

struct job {
	const char *text;
	int r;
	struct conf c;
	struct msgs m;
};

static void *
run_job(void *arg)
{
	struct job *j = arg;
	int i;

	for (i = 0; i < 200; i++) {
		memset(&j->m, 0, sizeof(j->m));
		j->r = conf_parse_buf("t.conf", j->text, strlen(j->text), &j->c,
		    collect, &j->m);
	}
	return NULL;
}

START_TEST(test_threads)
{
	static struct job jobs[4];
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++) {
		jobs[i].text = (i & 1) ? man_example : "brun 1%\nfoo\n";
		ck_assert_int_eq(pthread_create(&t[i], NULL, run_job, &jobs[i]),
		    0);
	}
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (i = 0; i < 4; i++) {
		if (i & 1) {
			ck_assert_int_eq(jobs[i].r, 0);
			ck_assert_str_eq(jobs[i].c.tag, "mycache");
			ck_assert_int_eq(jobs[i].m.nwarn, 1);
		} else {
			ck_assert_int_eq(jobs[i].r, -EINVAL);
			ck_assert_int_eq(jobs[i].m.n, 3);
			ck_assert_str_eq(jobs[i].m.m[0],
			    "t.conf:2: unknown keyword 'foo'");
		}
	}
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase_create("helpers");
	tcase_add_test(tc, test_parse_uint);
	tcase_add_test(tc, test_parse_percent);
	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_parse_cnum);
	tcase_add_test(tc, test_table_sorted);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_is_warning);
	tcase_add_test(tc, test_enum_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("keywords");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_dir);
	tcase_add_test(tc, test_dir_hash);
	tcase_add_test(tc, test_tag_secctx);
	tcase_add_loop_test(tc, test_thresholds, 0, 6);
	tcase_add_test(tc, test_threshold_order);
	tcase_add_loop_test(tc, test_order_independent, 0, 6);
	tcase_add_test(tc, test_threshold_repeat);
	tcase_add_test(tc, test_culltable);
	tcase_add_test(tc, test_nocull);
	tcase_add_test(tc, test_resume_thresholds);
	tcase_add_test(tc, test_debug);
	tcase_add_test(tc, test_socket);
	tcase_add_test(tc, test_admin_group);
	tcase_add_test(tc, test_access_keywords);
	tcase_add_test(tc, test_freeze);
	tcase_add_test(tc, test_nice);
	tcase_add_test(tc, test_max_size_files);
	tcase_add_test(tc, test_backend);
	tcase_add_test(tc, test_cull_policy);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_unknown);
	tcase_add_loop_test(tc, test_every_keyword_args, 0, NKEYWORDS);
	suite_add_tcase(s, tc);

	tc = tcase_create("lexical");
	tcase_add_test(tc, test_indented);
	tcase_add_test(tc, test_no_final_newline);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_comments);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_control_chars);
	tcase_add_test(tc, test_bom);
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_null_callback);
	suite_add_tcase(s, tc);

	tc = tcase_create("real");
	tcase_add_test(tc, test_man_example);
	tcase_add_test(tc, test_debian_conf);
	tcase_add_loop_test(tc, test_contrib_files, 0, 2);
	tcase_add_test(tc, test_contrib_example_is_debian);
	tcase_add_test(tc, test_contrib_defaults_match);
	tcase_add_test(tc, test_contrib_is_auto);
	tcase_add_test(tc, test_man_examples);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, mktmp, rmtmp);
	tcase_add_test(tc, test_file_ok);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_file_large);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
