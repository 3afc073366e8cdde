/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_cull.c: culling 10% of a cache vs unlinking as many files in a
 * plain loop, in the same run.
 *
 *   bench_cull [-o] [-N] [-U] [-t CULLTABLE] [-p PERCENT] DIR
 *
 * DIR holds cache/ and graveyard/ (gen_tree makes them; this benchmark
 * deletes 2 x PERCENT of the objects, so regenerate between runs). Steps:
 *  1. index the tree with the startup scan;
 *  2. baseline: unlink the PERCENT newest objects with unlinkat(2) in a
 *     plain loop (one cached fd per fan-out directory), and drop them from
 *     the index;
 *  3. larder: `larderctl cull --bytes B` (cull_request) where B is the
 *     size of the PERCENT oldest objects, timed until every one is
 *     unlinked: selection (index_select_oldest), then on the cull
 *     workers an unlink in place for each object of up to 1 MiB (all of
 *     gen_tree's, at 4096 bytes) or a rename into graveyard/ and the
 *     reaper's unlink for a bigger one.
 * -o runs step 3 before step 2 (run-cull-bench.sh alternates). -N indexes
 * the tree nameless (SCAN_NAMELESS, issue 15, what larderd does): the
 * culler finds its victims' names itself, by readdir on its workers,
 * inside the cull's time. The plain loop's names are resolved untimed
 * (index_resolve_dir on this thread).
 * -U (an experiment, issue 15): every victim is unlinked in place by a
 * CULL_KERNEL-style callback on the cull workers (opening its fan-out
 * directory per run of victims), whatever its size; larderd's own
 * backend (bury.c) does that only up to 1 MiB.
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
static int unlink_direct, bench_rootfd;	/* -U */

/* -U: the cull workers' batch: unlink each victim in its fan-out
 * directory (opened once per run of victims in the same directory). */
static void
unlink_batch(struct cull_victim *v, unsigned n, void *arg)
{
	char path[600];
	unsigned i;
	int dfd = -1, slot = -1;

	(void)arg;
	for (i = 0; i < n; i++) {
		if (v[i].vol * 256 + v[i].fanout != slot) {
			if (dfd >= 0)
				close(dfd);
			slot = v[i].vol * 256 + v[i].fanout;
			snprintf(path, sizeof(path), "cache/I%s/@%02x",
			    v[i].volume_key, v[i].fanout);
			dfd = openat(bench_rootfd, path, O_RDONLY |
			    O_DIRECTORY);
		}
		v[i].res = unlinkat(dfd, v[i].name, 0) == 0 ? 0 : -errno;
	}
	if (dfd >= 0)
		close(dfd);
}

static void
poll_tick(void *arg)
{
	(void)arg;
	/* done when every victim is unlinked: in place (small ones, and
	 * all with -U) or by the reaper */
	if (index_objects() <= target && (unlink_direct ||
	    stat_of("reap.objects") + stat_of("cull.unlinked_in_place") >=
	    reaped_want)) {
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

static int
cmp_dir(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	unsigned dx = index_vol(x) * 256 + index_fanout(x);
	unsigned dy = index_vol(y) * 256 + index_fanout(y);

	return dx < dy ? -1 : dx > dy;
}

/*
 * -N: give the n objects ids[] their names, read from their fan-out
 * directories with index_resolve_dir (grouped by directory: each read
 * once). Returns the seconds it took; exits if a name is not found.
 */
static double
resolve_names(const char *dir, uint32_t *ids, size_t n)
{
	struct index_want *w;
	char path[600];
	size_t i, j, k;
	double t0 = now();
	int dfd;

	qsort(ids, n, sizeof(*ids), cmp_dir);
	if ((w = calloc(n ? n : 1, sizeof(*w))) == NULL)
		exit(1);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && cmp_dir(&ids[i], &ids[j]) == 0; j++) {
			w[j].hash = index_hash(ids[j]);
			w[j].ino = index_ino(ids[j]);
			w[j].name[0] = '\0';
		}
		snprintf(path, sizeof(path), "%s/cache/I%s/@%02x", dir,
		    index_volume_key(index_vol(ids[i])), index_fanout(ids[i]));
		if ((dfd = open(path, O_RDONLY | O_DIRECTORY)) < 0 ||
		    index_resolve_dir(dfd, w + i, j - i) != (ssize_t)(j - i)) {
			fprintf(stderr, "resolve %s: not all found\n", path);
			exit(1);
		}
		close(dfd);
	}
	t0 = now() - t0;
	for (k = 0; k < n; k++)
		if (index_add(index_vol(ids[k]), index_fanout(ids[k]),
		    w[k].name, index_bytes(ids[k]), index_last_use(ids[k])) !=
		    ids[k])
			exit(1);
	free(w);
	return t0;
}

/* Baseline: unlink the nb newest objects in a plain unlinkat loop. */
static double
plain_loop(const char *dir, uint64_t nb, int nameless)
{
	uint64_t n0 = index_objects(), i;
	uint32_t *ids, cur = 0, id;
	char path[600];
	double t0, t;
	int *dfd;

	ids = malloc(n0 * sizeof(*ids));
	dfd = malloc((size_t)index_volumes() * 256 * sizeof(*dfd));
	if (!ids || !dfd)
		exit(1);
	for (i = 0; (id = index_next(-1, &cur)) != INDEX_NONE; i++)
		ids[i] = id;
	qsort(ids, n0, sizeof(*ids), cmp_newest);
	if (nameless)
		(void)resolve_names(dir, ids, nb);	/* untimed */
	for (i = 0; i < (uint64_t)index_volumes() * 256; i++) {
		snprintf(path, sizeof(path), "%s/cache/I%s/@%02x",
		    dir, index_volume_key(i / 256), (unsigned)(i % 256));
		dfd[i] = open(path, O_RDONLY | O_DIRECTORY);
	}
	sync();
	t0 = now();
	for (i = 0; i < nb; i++) {
		id = ids[i];
		if (unlinkat(dfd[index_vol(id) * 256 + index_fanout(id)],
		    index_name(id), 0) < 0) {
			perror("unlinkat");
			exit(1);
		}
	}
	t = now() - t0;
	for (i = 0; i < nb; i++)
		index_del(ids[i]);
	for (i = 0; i < (uint64_t)index_volumes() * 256; i++)
		close(dfd[i]);
	free(dfd);
	free(ids);
	return t;
}

/* larder: cull the bytes of the nb oldest (with -N the culler finds the
 * names; with -U it unlinks in place). Returns the cull's time. */
static double
larder_cull(const char *dir, int rootfd, uint64_t nb, unsigned culltable,
    int nameless)
{
	struct conf conf;
	uint32_t *ids;
	uint64_t i, m;
	double t0;

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
		exit(1);
	for (m = 0, i = 0; i < nb; i++)
		m += index_bytes(ids[i]);
	(void)dir;
	(void)nameless;
	free(ids);
	static const struct cull_ops unlink_ops = {
		.kind = CULL_KERNEL, .cull_batch = unlink_batch,
	};

	reaped_want = nb;
	bench_rootfd = rootfd;
	if (cull_init(&conf, rootfd, 0, unlink_direct ? &unlink_ops : NULL) <
	    0)
		exit(1);
	sync();
	t0 = now();
	if (cull_request(1 /* PROTO_CULL_BYTES */, m, req_done, NULL) < 0)
		exit(1);
	loop_timer_add(1, poll_tick, NULL);
	loop_run();
	return t_end - t0;
}

/* Options, the scan into a fresh index, then both sides in the order -o
 * says, and the figures (see the top of this file). */
int
main(int argc, char **argv)
{
	unsigned culltable = 20, percent = 10;
	int c, rootfd, cull_first = 0, nameless = 0;
	double t_plain, t_cull;
	const char *dir;
	uint64_t n0, nb;

	while ((c = getopt(argc, argv, "oNUt:p:")) != -1) {
		switch (c) {
		case 'U': unlink_direct = 1; break;
		case 'o': cull_first = 1; break;
		case 'N': nameless = 1; break;
		case 't': culltable = atoi(optarg); break;
		case 'p': percent = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_cull [-o] [-N] [-U] "
			    "[-t CULLTABLE] [-p PERCENT] DIR\n");
			return 2;
		}
	}
	if (optind != argc - 1 || percent < 1 || percent > 45) {
		fprintf(stderr, "usage: bench_cull [-o] [-N] [-U] [-t CULLTABLE] "
		    "[-p PERCENT] DIR\n");
		return 2;
	}
	dir = argv[optind];
	log_init("bench_cull", 1, 0);
	if ((rootfd = open(dir, O_PATH | O_DIRECTORY)) < 0) {
		perror(dir);
		return 1;
	}
	if (loop_init() < 0 || index_init() < 0)
		return 1;
	if (scan_start(rootfd, nameless ? SCAN_NAMELESS : 0, scan_done,
	    NULL) < 0)
		return 1;
	loop_run();
	scan_fini();
	loop_fini();
	if (loop_init() < 0)
		return 1;
	n0 = index_objects();
	nb = n0 * percent / 100;
	printf("indexed %llu objects%s; index %.1f bytes/object\n",
	    (unsigned long long)n0, nameless ? " nameless" : "",
	    (double)index_memory() / n0);
	if (cull_first) {
		t_cull = larder_cull(dir, rootfd, nb, culltable, nameless);
		t_plain = plain_loop(dir, nb, nameless);
	} else {
		t_plain = plain_loop(dir, nb, nameless);
		t_cull = larder_cull(dir, rootfd, nb, culltable, nameless);
	}
	printf("unlink %llu files, plain loop: %.3f s\n",
	    (unsigned long long)nb, t_plain);
	printf("cull %llu objects (culltable %u: %llu passes, select + rename "
	    "+ reap, %s first): %.3f s\n",
	    (unsigned long long)stat_of("cull.objects"), culltable,
	    (unsigned long long)stat_of("cull.passes"),
	    cull_first ? "cull" : "loop", t_cull);
	printf("  of which passes (select + %s): %.3f s\n", unlink_direct ?
	    "unlinks in place, -U" : "renames", stat_of("cull.ms") / 1000.0);
	if (nameless)
		printf("(nameless: the victims' names found by the culler's "
		    "workers, in its time)\n");
	printf("ratio %.2f\n", t_cull / t_plain);
	cull_fini();
	index_fini();
	loop_fini();
	return 0;
}
