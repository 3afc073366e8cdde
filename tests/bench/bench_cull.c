/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_cull.c: culling 10% of a cache vs unlinking as many files in a
 * plain loop, in the same run.
 *
 *   bench_cull [-t CULLTABLE] [-p PERCENT] DIR
 *
 * DIR holds cache/ and graveyard/ (gen_tree makes them; this benchmark
 * deletes 2 x PERCENT of the objects, so regenerate between runs). Steps:
 *  1. index the tree with the startup scan;
 *  2. baseline: unlink the PERCENT newest objects with unlinkat(2) in a
 *     plain loop (one cached fd per fan-out directory), and drop them from
 *     the index;
 *  3. larder: `larderctl cull --bytes B` (cull_request) where B is the
 *     size of the PERCENT oldest objects, timed until the reaper has
 *     unlinked them all: selection (index_select_oldest), renames into
 *     graveyard/ on the cull workers, unlinks by the reaper.
 * Prints both times and the ratio, and the index's memory per object.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "daemon/control.h"
#include "daemon/cull.h"
#include "daemon/index.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/scan.h"

/* no control socket in a benchmark */
__attribute__((weak)) void
control_register(uint16_t type, ctl_handler_fn *fn, int admin_only)
{
	(void)type;
	(void)fn;
	(void)admin_only;
}

__attribute__((weak)) void
control_add_status(ctl_kv_fn *fn)
{
	(void)fn;
}

static ctl_kv_fn *stats_fn;

__attribute__((weak)) void
control_add_stats(ctl_kv_fn *fn)
{
	stats_fn = fn;
}

static uint64_t want_v;
static const char *want_k;

__attribute__((weak)) void
ctl_kv_u64(struct ctl_kv *kv, const char *key, uint64_t v)
{
	(void)kv;
	if (strcmp(key, want_k) == 0)
		want_v = v;
}

__attribute__((weak)) void
ctl_kv_s64(struct ctl_kv *kv, const char *key, int64_t v)
{
	ctl_kv_u64(kv, key, (uint64_t)v);
}

__attribute__((weak)) void
ctl_kv_str(struct ctl_kv *kv, const char *key, const char *v)
{
	(void)kv;
	(void)key;
	(void)v;
}

__attribute__((weak)) void
control_reply(struct ctl_req *rq, uint16_t status, const void *body,
    size_t len, int fd)
{
	(void)rq;
	(void)status;
	(void)body;
	(void)len;
	(void)fd;
}

__attribute__((weak)) void
control_reply_str(struct ctl_req *rq, uint16_t status, const char *fmt, ...)
{
	(void)rq;
	(void)status;
	(void)fmt;
}

static uint64_t
stat_of(const char *k)
{
	struct ctl_kv kv = { NULL, 0 };

	want_k = k;
	want_v = 0;
	stats_fn(&kv);
	return want_v;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
scan_done(void *arg, int err)
{
	(void)arg;
	if (err)
		exit(1);
	loop_stop();
}

static uint64_t target, reaped_want;
static double t_end;

static void
poll_tick(void *arg)
{
	(void)arg;
	if (index_objects() <= target && stat_of("reap.objects") >=
	    reaped_want) {
		t_end = now();
		loop_stop();
		return;
	}
	loop_timer_add(1, poll_tick, NULL);
}

static void
req_done(void *arg, uint64_t objects, uint64_t bytes, int err)
{
	(void)arg;
	(void)bytes;
	if (err || objects != reaped_want) {
		fprintf(stderr, "cull: %llu objects, err %d\n",
		    (unsigned long long)objects, err);
		exit(1);
	}
}

static int
cmp_newest(const void *a, const void *b)
{
	int64_t x = index_last_use(*(const uint32_t *)a);
	int64_t y = index_last_use(*(const uint32_t *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

int
main(int argc, char **argv)
{
	unsigned culltable = 20, percent = 10;
	uint64_t n0, nb, i, m;
	uint32_t *ids, cur = 0, id;
	int c, rootfd, *dfd;
	struct conf conf;
	char path[600];
	double t0, t_plain, t_cull;

	while ((c = getopt(argc, argv, "t:p:")) != -1) {
		switch (c) {
		case 't': culltable = atoi(optarg); break;
		case 'p': percent = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_cull [-t CULLTABLE] "
			    "[-p PERCENT] DIR\n");
			return 2;
		}
	}
	if (optind != argc - 1 || percent < 1 || percent > 45) {
		fprintf(stderr, "usage: bench_cull [-t CULLTABLE] [-p PERCENT] DIR\n");
		return 2;
	}
	log_init("bench_cull", 1, 0);
	if ((rootfd = open(argv[optind], O_PATH | O_DIRECTORY)) < 0) {
		perror(argv[optind]);
		return 1;
	}
	if (loop_init() < 0 || index_init() < 0)
		return 1;
	if (scan_start(rootfd, 0, scan_done, NULL) < 0)
		return 1;
	loop_run();
	scan_fini();
	loop_fini();
	if (loop_init() < 0)
		return 1;
	n0 = index_objects();
	nb = n0 * percent / 100;
	printf("indexed %llu objects; index %.1f bytes/object\n",
	    (unsigned long long)n0, (double)index_memory() / n0);

	/* baseline: the nb newest objects, plain unlinkat loop */
	ids = malloc(n0 * sizeof(*ids));
	dfd = malloc((size_t)index_volumes() * 256 * sizeof(*dfd));
	if (!ids || !dfd)
		return 1;
	for (i = 0; (id = index_next(-1, &cur)) != INDEX_NONE; i++)
		ids[i] = id;
	qsort(ids, n0, sizeof(*ids), cmp_newest);
	for (i = 0; i < (uint64_t)index_volumes() * 256; i++) {
		snprintf(path, sizeof(path), "%s/cache/I%s/@%02x",
		    argv[optind], index_volume_key(i / 256),
		    (unsigned)(i % 256));
		dfd[i] = open(path, O_RDONLY | O_DIRECTORY);
	}
	sync();
	t0 = now();
	for (i = 0; i < nb; i++) {
		id = ids[i];
		if (unlinkat(dfd[index_vol(id) * 256 + index_fanout(id)],
		    index_name(id), 0) < 0) {
			perror("unlinkat");
			return 1;
		}
	}
	t_plain = now() - t0;
	for (i = 0; i < nb; i++)
		index_del(ids[i]);
	for (i = 0; i < (uint64_t)index_volumes() * 256; i++)
		close(dfd[i]);
	free(dfd);
	free(ids);

	/* larder: cull the bytes of the nb oldest */
	memset(&conf, 0, sizeof(conf));
	conf.brun = conf.frun = 7;
	conf.bcull = conf.fcull = 5;
	conf.bstop = conf.fstop = 1;
	conf.culltable = culltable;
	conf.resume_blocks = -1;
	conf.resume_files = 5;
	target = index_objects() - nb;
	if ((ids = malloc(nb * sizeof(*ids))) == NULL ||
	    index_select_oldest(ids, nb) != nb)
		return 1;
	for (m = 0, i = 0; i < nb; i++)
		m += index_bytes(ids[i]);
	free(ids);
	reaped_want = nb;
	if (cull_init(&conf, rootfd, 0, NULL) < 0)
		return 1;
	sync();
	t0 = now();
	if (cull_request(1 /* PROTO_CULL_BYTES */, m, req_done, NULL) < 0)
		return 1;
	loop_timer_add(1, poll_tick, NULL);
	loop_run();
	t_cull = t_end - t0;
	printf("unlink %llu files, plain loop: %.3f s\n",
	    (unsigned long long)nb, t_plain);
	printf("cull %llu objects (culltable %u: %llu passes, select + rename "
	    "+ reap): %.3f s\n", (unsigned long long)stat_of("cull.objects"),
	    culltable, (unsigned long long)stat_of("cull.passes"), t_cull);
	printf("  of which passes (select + renames): %.3f s\n",
	    stat_of("cull.ms") / 1000.0);
	printf("ratio %.2f\n", t_cull / t_plain);
	cull_fini();
	index_fini();
	loop_fini();
	return 0;
}
