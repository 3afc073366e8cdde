/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_metrics.c: metrics.c (the Prometheus text rendering) and the
 * file writer's write_file (metrics_file.c) on a real directory: the
 * table's order and names, escaping of hostile label values, the label
 * bound, dedupe, scaling, state gauges, malformed STATUS/STATS bodies,
 * and the metrics_file/metrics_interval keywords.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/metrics.c"
#include "../../daemon/metrics_file.c"
#include "conf.h"

static struct metrics_kv
U(const char *key, uint64_t v)
{
	return (struct metrics_kv){ key, strlen(key), PROTO_KV_U64, v, NULL,
	    0 };
}

static struct metrics_kv
S(const char *key, const char *v)
{
	return (struct metrics_kv){ key, strlen(key), PROTO_KV_STR, 0, v,
	    strlen(v) };
}

static char *
render_all(struct metrics_kv *st, size_t nst, struct metrics_kv *ss,
    size_t nss, struct metrics_vol *v, size_t nv)
{
	struct metrics_out o = { 0 };

	ck_assert_int_eq(metrics_render(&o, st, nst, ss, nss, v, nv, 1234), 0);
	ck_assert_ptr_nonnull(o.p);
	return o.p;
}

/* how many lines of text start with prefix */
static int
count_lines(const char *text, const char *prefix)
{
	const char *p = text;
	int n = 0;

	while (p && *p) {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

START_TEST(test_table)
{
	size_t i, n;

	for (i = 1; i < NELEM(maps); i++)
		ck_assert_msg(strcmp(maps[i - 1].key, maps[i].key) < 0,
		    "maps not sorted at %s", maps[i].key);
	for (i = 0; i < NELEM(maps); i++) {
		if (!maps[i].name)
			continue;
		n = strlen(maps[i].name);
		ck_assert_msg(strncmp(maps[i].name, "larder_", 7) == 0,
		    "%s", maps[i].name);
		ck_assert_msg((maps[i].type == M_COUNTER) ==
		    (n > 6 && strcmp(maps[i].name + n - 6, "_total") == 0),
		    "%s: counters and only counters end in _total",
		    maps[i].name);
		ck_assert_msg(maps[i].scale != 1000 ||
		    strstr(maps[i].name, "_seconds"), "%s: ms scaled to "
		    "seconds must say seconds", maps[i].name);
		ck_assert_ptr_nonnull(maps[i].help);
	}
}
END_TEST

START_TEST(test_basic)
{
	struct metrics_kv st[] = {
		S("larderd.version", "0.3.0"), S("larderd.backend", "userspace"),
		S("larderd.state", "running"), U("larderd.pid", 42),
		U("store.objects", 7), U("cull.cache_objects", 7),
		S("freeze.state", "deferred"), S("cull.state", "culling: x"),
		S("mount.claim", "held"), U("conf.max_files", 9),
		U("store.oldest_write_ms", 250),
	};
	struct metrics_kv ss[] = {
		U("store.hits", 3), U("cull.ms", 1500), U("new.thing", 5),
		U("scan.foreign.symlink", 2), U("scan.foreign.fifo", 0),
	};
	char *t = render_all(st, NELEM(st), ss, NELEM(ss), NULL, 0);

	ck_assert_ptr_nonnull(strstr(t, "\nlarder_hits_total 3\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    "\nlarder_cull_duration_seconds_total 1.500\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    "\nlarder_oldest_write_age_seconds 0.250\n"));
	ck_assert_ptr_nonnull(strstr(t, "# TYPE larder_new_thing untyped\n"
	    "larder_new_thing 5\n"));
	ck_assert_ptr_nonnull(strstr(t, "larder_info{version=\"0.3.0\","
	    "backend=\"userspace\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_bound 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_frozen 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_culling 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_stalled 0\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_write_claim_held 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "larder_scan_foreign_entries_total"
	    "{kind=\"symlink\"} 2\n"));
	/* one family for two sources; no pid, no config */
	ck_assert_int_eq(count_lines(t, "larder_objects "), 1);
	ck_assert_int_eq(count_lines(t, "# TYPE larder_objects "), 1);
	ck_assert_ptr_null(strstr(t, "42"));
	ck_assert_ptr_null(strstr(t, "max_files"));
	/* every sample line's family has HELP and TYPE */
	ck_assert_int_eq(count_lines(t, "# HELP "), count_lines(t, "# TYPE "));
	ck_assert_int_eq(count_lines(t, "# TYPE larder_scan_foreign"), 1);
	ck_assert_ptr_nonnull(strstr(t,
	    "larder_metrics_generated_timestamp_seconds 1234\n"));
	free(t);
}
END_TEST

START_TEST(test_kernel_states)
{
	struct metrics_kv st[] = {
		S("larderd.backend", "kernel"), S("larderd.state", "running"),
		S("kernel.state", "withdrawn (frozen: caching off)"),
		S("kernel.culling", "yes"), S("freeze.state", "suspended"),
	};
	char *t = render_all(st, NELEM(st), NULL, 0, NULL, 0);

	ck_assert_ptr_nonnull(strstr(t, "\nlarder_bound 0\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_culling 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_suspended 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_frozen 0\n"));
	free(t);
}
END_TEST

/* Hostile volume keys: escaped, never breaking a line or a label. */
START_TEST(test_escaping)
{
	struct metrics_vol v[] = {
		{ "a\\b\"c\nd", 7, 1, 300, 0, 0, 0, 0 },
		{ "\xc3\xa9t\xc3\xa9", 5, 1, 200, 0, 0, 0, 0 },	/* valid UTF-8 */
		{ "x\x01y\xff", 4, 1, 100, 0, 0, 0, 0 },
		{ "x\x02y\xfe", 4, 2, 50, 0, 0, 0, 0 },		/* renders alike */
	};
	char *t = render_all(NULL, 0, NULL, 0, v, NELEM(v));

	ck_assert_ptr_nonnull(strstr(t,
	    "larder_volume_bytes{volume=\"a\\\\b\\\"c\\nd\"} 300\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    "larder_volume_bytes{volume=\"\xc3\xa9t\xc3\xa9\"} 200\n"));
	ck_assert_ptr_nonnull(strstr(t, "larder_volume_bytes{volume=\"x"
	    "\xef\xbf\xbdy\xef\xbf\xbd\"} 100\n"));
	ck_assert_int_eq(count_lines(t, "larder_volume_bytes{"), 3);
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_volumes_omitted 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_volumes_other_objects 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_volumes_other_bytes 50\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_volumes 4\n"));
	/* no raw control byte, no invalid UTF-8 made it out */
	ck_assert_ptr_null(strchr(t, '\x01'));
	ck_assert_ptr_null(strchr(t, '\xff'));
	free(t);
}
END_TEST

/* 150 volumes: the 100 largest get series, the rest are summed. */
START_TEST(test_label_bound)
{
	struct metrics_vol v[150];
	char keys[150][16], want[64];
	uint64_t other = 0;
	char *t;
	int i;

	for (i = 0; i < 150; i++) {
		snprintf(keys[i], sizeof(keys[i]), "v%d", i);
		v[i] = (struct metrics_vol){ keys[i], strlen(keys[i]), 1,
		    (uint64_t)(i + 1) * 4096, 1, (uint64_t)i, 0, 0 };
		if (i < 50)
			other += (uint64_t)(i + 1) * 4096;
	}
	t = render_all(NULL, 0, NULL, 0, v, 150);
	ck_assert_int_eq(count_lines(t, "larder_volume_objects{"),
	    METRICS_MAX_VOLUMES);
	ck_assert_int_eq(count_lines(t, "larder_volume_bytes{"),
	    METRICS_MAX_VOLUMES);
	ck_assert_ptr_nonnull(strstr(t, "larder_volume_bytes{volume=\"v149\"}"));
	ck_assert_ptr_nonnull(strstr(t, "larder_volume_bytes{volume=\"v50\"}"));
	ck_assert_ptr_null(strstr(t, "volume=\"v49\""));
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_volumes_omitted 50\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    "larder_volume_hits_total{volume=\"v149\"} 149\n"));
	ck_assert_int_eq(count_lines(t, "larder_volume_fills_total{"),
	    METRICS_MAX_VOLUMES);
	/* 0 + 1 + ... + 49 */
	ck_assert_ptr_nonnull(strstr(t, "\nlarder_volumes_other_hits 1225\n"));
	snprintf(want, sizeof(want), "\nlarder_volumes_other_bytes %llu\n",
	    (unsigned long long)other);
	ck_assert_ptr_nonnull(strstr(t, want));
	free(t);
}
END_TEST

/* hist.* records: a histogram; hostile ones are left out whole. */
START_TEST(test_histograms)
{
	struct metrics_kv ss[] = {
		{ "hist.acquire.le_us.50", 21, PROTO_KV_U64, 1, NULL, 0 },
		{ "hist.acquire.le_us.2500000", 26, PROTO_KV_U64, 3, NULL, 0 },
		{ "hist.acquire.le_us.inf", 22, PROTO_KV_U64, 4, NULL, 0 },
		{ "hist.acquire.sum_us", 19, PROTO_KV_U64, 1500001, NULL, 0 },
		/* counts going down */
		{ "hist.fill.le_us.50", 18, PROTO_KV_U64, 5, NULL, 0 },
		{ "hist.fill.le_us.100", 19, PROTO_KV_U64, 4, NULL, 0 },
		{ "hist.fill.le_us.inf", 19, PROTO_KV_U64, 5, NULL, 0 },
		{ "hist.fill.sum_us", 16, PROTO_KV_U64, 5, NULL, 0 },
		/* no +Inf */
		{ "hist.read.le_us.50", 18, PROTO_KV_U64, 1, NULL, 0 },
		{ "hist.read.sum_us", 16, PROTO_KV_U64, 1, NULL, 0 },
		/* a name that is no name */
		{ "hist.a{b.le_us.inf", 18, PROTO_KV_U64, 1, NULL, 0 },
		{ "hist.a{b.sum_us", 15, PROTO_KV_U64, 1, NULL, 0 },
	};
	char *t = render_all(NULL, 0, ss, NELEM(ss), NULL, 0);

	ck_assert_ptr_nonnull(strstr(t, "# TYPE larder_acquire_duration_seconds "
	    "histogram\n"
	    "larder_acquire_duration_seconds_bucket{le=\"0.00005\"} 1\n"
	    "larder_acquire_duration_seconds_bucket{le=\"2.5\"} 3\n"
	    "larder_acquire_duration_seconds_bucket{le=\"+Inf\"} 4\n"
	    "larder_acquire_duration_seconds_sum 1.500001\n"
	    "larder_acquire_duration_seconds_count 4\n"));
	ck_assert_ptr_null(strstr(t, "fill"));
	ck_assert_ptr_null(strstr(t, "read"));
	ck_assert_ptr_null(strstr(t, "a{b"));
	ck_assert_ptr_null(strstr(t, "larder_hist"));	/* not untyped */
	free(t);
}
END_TEST

/* STATUS/STATS bodies as they come off a socket. */
START_TEST(test_parse)
{
	uint8_t buf[512];
	struct proto_buf b, r;
	struct metrics_kv *kv;
	int n;

	proto_buf_init(&b, buf, sizeof(buf));
	proto_put_u32(&b, 2);
	proto_put_kv_u64(&b, "store.hits", 5);
	proto_put_kv_str(&b, "freeze.state", "running");
	proto_buf_init(&r, buf, b.off);
	n = metrics_parse_kv(&r, &kv);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(kv[0].u, 5);
	ck_assert_int_eq(kv[1].s_len, 7);
	free(kv);

	/* a count larger than the body */
	buf[0] = 0xff;
	proto_buf_init(&r, buf, b.off);
	ck_assert_int_eq(metrics_parse_kv(&r, &kv), -EPROTO);
	ck_assert_ptr_null(kv);
	/* truncated */
	buf[0] = 2;
	proto_buf_init(&r, buf, b.off - 3);
	ck_assert_int_eq(metrics_parse_kv(&r, &kv), -EPROTO);
	/* an unknown kind */
	buf[4] = 9;
	proto_buf_init(&r, buf, b.off);
	ck_assert_int_eq(metrics_parse_kv(&r, &kv), -EPROTO);
	/* a NUL inside a key */
	proto_buf_init(&b, buf, sizeof(buf));
	proto_put_u32(&b, 1);
	proto_put_u8(&b, PROTO_KV_U64);
	proto_put_bytes(&b, "a\0b", 3);
	proto_put_u64(&b, 1);
	proto_buf_init(&r, buf, b.off);
	ck_assert_int_eq(metrics_parse_kv(&r, &kv), -EPROTO);
}
END_TEST

static char tmpdir[64];

static void
mktmp(void)
{
	strcpy(tmpdir, "/tmp/check_metrics.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
rmtmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* PATH.tmp is made afresh: a link planted there is not followed. */
START_TEST(test_write_file)
{
	char victim[128], link[PATH_MAX + 8], buf[64];
	struct job j = { 0 };
	struct stat st;
	FILE *f;
	mode_t old;

	snprintf(victim, sizeof(victim), "%s/victim", tmpdir);
	snprintf(j.path, sizeof(j.path), "%s/larder.prom", tmpdir);
	snprintf(link, sizeof(link), "%s.tmp", j.path);
	f = fopen(victim, "w");
	ck_assert_ptr_nonnull(f);
	fputs("keep me\n", f);
	fclose(f);
	ck_assert_int_eq(symlink(victim, link), 0);
	j.data = "larder_x 1\n";
	j.len = strlen(j.data);
	old = umask(077);
	ck_assert_int_eq(write_file(&j), 0);
	umask(old);
	f = fopen(victim, "r");
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "keep me\n");
	f = fopen(j.path, "r");
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "larder_x 1\n");
	ck_assert_int_eq(stat(j.path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	ck_assert_int_eq(lstat(link, &st), -1);
	/* a directory that is not there: an error, nothing left */
	snprintf(j.path, sizeof(j.path), "%s/no/such.prom", tmpdir);
	ck_assert_int_eq(write_file(&j), -ENOENT);
}
END_TEST

static int
parse(const char *text, struct conf *c)
{
	return conf_parse_buf("t.conf", text, strlen(text), c, NULL, NULL);
}

START_TEST(test_conf)
{
	struct conf c;

	ck_assert_int_eq(parse("dir /c\n", &c), 0);
	ck_assert_str_eq(c.metrics_file, "");
	ck_assert_uint_eq(c.metrics_interval, CONF_DEFAULT_METRICS_INTERVAL);
	ck_assert_int_eq(parse("dir /c\nmetrics_file /var/lib/p/l.prom\n"
	    "metrics_interval 60\n", &c), 0);
	ck_assert_str_eq(c.metrics_file, "/var/lib/p/l.prom");
	ck_assert_uint_eq(c.metrics_interval, 60);
	ck_assert_int_eq(parse("dir /c\nmetrics_file l.prom\n", &c), -EINVAL);
	ck_assert_int_eq(parse("dir /c\nmetrics_file /var/lib/\n", &c),
	    -EINVAL);
	ck_assert_int_eq(parse("dir /c\nmetrics_file /var/..\n", &c), -EINVAL);
	ck_assert_int_eq(parse("dir /c\nmetrics_interval 0\n", &c), -EINVAL);
	ck_assert_int_eq(parse("dir /c\nmetrics_interval 3601\n", &c),
	    -EINVAL);
	ck_assert_int_eq(parse("dir /c\nmetrics_interval 1s\n", &c), -EINVAL);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");

	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_kernel_states);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_label_bound);
	tcase_add_test(tc, test_histograms);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_conf);
	suite_add_tcase(s, tc);
	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, mktmp, rmtmp);
	tcase_add_test(tc, test_write_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
