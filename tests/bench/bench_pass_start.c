/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_pass_start.c: how long a cull pass keeps the main thread at its
 * start (issue 15), on an index of N nameless objects in memory (no
 * tree: the jobs' workers find no names and count the victims gone).
 *
 *   bench_pass_start [N]        (default 1000000 objects)
 *
 * A larderctl-style request to cull 10% of the bytes: the selection's
 * steps (index_select_step, INDEX_SELECT_SLICE entries' worth each: one
 * loop turn each in the daemon) and then pass_selected, the turn that
 * ends the selection, sorts the victims by directory, marks them and
 * makes the first jobs. Prints the longest step and that turn (wall
 * time, CLOCK_MONOTONIC) and a RESULT line. It includes daemon/cull.c to
 * drive those steps itself (cull_init registers with control.c's tables;
 * no socket is opened).
 */
#include "daemon/cull.c"

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n nameless objects of 4 KiB in 256 fan-out dirs, last uses in random
 * order within 30 days (as bench_index_mem) */
static void
fill(uint32_t n)
{
	uint64_t r = 88172645463325252ULL;
	char name[64];
	uint32_t i;
	int v = index_volume("nfs,fsid");

	for (i = 0; i < n; i++) {
		r ^= r >> 12;
		r ^= r << 25;
		r ^= r >> 27;
		snprintf(name, sizeof(name), "E%08x%016llx", i * 0x9e3779b1U,
		    (unsigned long long)r);
		if (index_add_ino(v, i & 0xff, name, i + 1, 4096,
		    (int64_t)((r >> 8) % (30ULL * 86400 * 1000000000)) + 1) ==
		    INDEX_NONE)
			exit(1);
	}
}

/* The culler on dir (cache/ and graveyard/ made there), idle (thresholds
 * at 0), with a request for nb bytes in progress and its selection
 * begun, as start_pass leaves them. */
static void
culler_start(const char *dir, uint64_t nb)
{
	struct conf c;
	char path[256];
	int rootfd;

	snprintf(path, sizeof(path), "%s/cache", dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		exit(1);
	snprintf(path, sizeof(path), "%s/graveyard", dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		exit(1);
	if ((rootfd = open(dir, O_PATH | O_DIRECTORY)) < 0)
		exit(1);
	memset(&c, 0, sizeof(c));
	c.brun = c.frun = 1;
	c.culltable = 20;
	c.resume_blocks = -1;
	c.resume_files = 5;
	if (cull_init(&c, rootfd, 0, NULL) < 0 || read_fs(&culler.fs) < 0)
		exit(1);
	culler.req.active = 1;
	culler.req.mode = PROTO_CULL_BYTES;
	culler.req.value = nb;
	if (sel_room(select_size(nb, 0)) < 0 ||
	    (culler.selecting = index_select_begin(select_size(nb, 0))) ==
	    NULL)
		exit(1);
	culler.pass = 1;
}

/* dir's cache/ and graveyard/ (empty: the victims' directories were
 * never there), then dir */
static void
remove_dir(const char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/cache", dir);
	(void)rmdir(path);
	snprintf(path, sizeof(path), "%s/graveyard", dir);
	(void)rmdir(path);
	(void)rmdir(dir);
}

int
main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
	char dir[] = "/tmp/bench_pass_start.XXXXXX";
	double t0, t, longest = 0;
	int done = 0;

	if (n < 10 || mkdtemp(dir) == NULL)
		return 2;
	log_init("bench_pass_start", 0, 0);
	if (loop_init() < 0 || index_init() < 0)
		return 1;
	fill(n);
	culler_start(dir, (uint64_t)n / 10 * 4096);
	while (!done) {
		t0 = wall();
		done = index_select_step(culler.selecting, select_budget);
		t = wall() - t0;
		longest = t > longest ? t : longest;
	}
	t0 = wall();
	pass_selected(0);
	t = wall() - t0;
	printf("%u objects, %zu victims: longest selection step %.1f ms, "
	    "the pass's first turn %.1f ms\n", n, culler.take_end,
	    longest * 1e3, t * 1e3);
	printf("RESULT pass_start objects=%u step_ms=%.1f start_ms=%.1f\n",
	    n, longest * 1e3, t * 1e3);
	fflush(stdout);
	remove_dir(dir);
	_exit(0);	/* (the cull workers may still run: no cull_fini) */
}
