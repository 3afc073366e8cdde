/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_scan.c: larder's startup scan vs find(1) over the same tree.
 *
 *   bench_scan [-c] [-x] [-s] [-N] [-r N] DIR
 *
 * DIR holds cache/ (make one with gen_tree). Each round runs
 * `find DIR/cache -printf '%A@ %s\n' > /dev/null` and the scan
 * (scan_start on an empty index, run on the real event loop and workers),
 * find first in odd rounds and the scan first in even ones, and prints
 * both times and their ratio. -c drops the page, dentry and inode caches
 * before each run (cold); -x reads every object's xattr (SCAN_XATTR); -s
 * uses plain statx(2) instead of io_uring (SCAN_SYNC); -N indexes objects
 * by name hash and inode (SCAN_NAMELESS) and then checks that
 * index_resolve_dir finds the names of a sample of them.
 * At the end: index memory per object and the process's VmHWM.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/index.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/scan.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
drop_caches(void)
{
	int fd;

	sync();
	if ((fd = open("/proc/sys/vm/drop_caches", O_WRONLY)) < 0 ||
	    write(fd, "3", 1) != 1) {
		perror("drop_caches (needs root)");
		exit(77);
	}
	close(fd);
}

static int scan_err;

static double
run_find(const char *cmd, int cold)
{
	double t0;

	if (cold)
		drop_caches();
	t0 = now();
	if (system(cmd) != 0)
		exit(1);
	return now() - t0;
}

static void
scan_done(void *arg, int err)
{
	(void)arg;
	scan_err = err;
	loop_stop();
}

static long
vm_hwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * -N: resolve the names of every 1000th object with index_resolve_dir (one
 * directory read per object here: a check, not a figure) and check each
 * against the index by hash and inode. -1 if any is not found.
 */
static int
check_names(int rootfd)
{
	struct index_want w;
	uint32_t cur = 0, id;
	uint64_t n = 0, ok = 0;
	char path[512];
	int dfd;

	while ((id = index_next(-1, &cur)) != INDEX_NONE) {
		if (id % 1000)
			continue;
		n++;
		snprintf(path, sizeof(path), "cache/I%s/@%02x",
		    index_volume_key(index_vol(id)), index_fanout(id));
		if ((dfd = openat(rootfd, path, O_RDONLY | O_DIRECTORY)) < 0)
			continue;
		memset(&w, 0, sizeof(w));
		w.hash = index_hash(id);
		w.ino = index_ino(id);
		if (index_resolve_dir(dfd, &w, 1) == 1 &&
		    index_name_hash(w.name) == index_hash(id))
			ok++;
		close(dfd);
	}
	printf("names resolved by readdir: %llu of %llu sampled\n",
	    (unsigned long long)ok, (unsigned long long)n);
	return ok == n ? 0 : -1;
}

/* Options, then per round find and a scan on a fresh index and loop, in
 * alternating order, and the totals (see the top of this file). */
int
main(int argc, char **argv)
{
	int c, cold = 0, rounds = 1, rootfd, r;
	unsigned flags = 0;
	char cmd[4096];
	double t0, tf, ts, sumf = 0, sums = 0;
	struct scan_progress p;

	while ((c = getopt(argc, argv, "cxsNr:")) != -1) {
		switch (c) {
		case 'c': cold = 1; break;
		case 'x': flags |= SCAN_XATTR; break;
		case 's': flags |= SCAN_SYNC; break;
		case 'N': flags |= SCAN_NAMELESS; break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_scan [-c] [-x] [-s] [-N] "
			    "[-r N] DIR\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: bench_scan [-c] [-x] [-s] [-N] [-r N] "
		    "DIR\n");
		return 2;
	}
	log_init("bench_scan", 1, 0);
	if ((rootfd = open(argv[optind], O_PATH | O_DIRECTORY)) < 0) {
		perror(argv[optind]);
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "find '%s/cache' -printf '%%A@ %%s\\n' "
	    "> /dev/null", argv[optind]);
	if (loop_init() < 0)
		return 1;
	for (r = 0; r < rounds; r++) {
		if (r % 2 == 0)
			tf = run_find(cmd, cold);
		if (cold)
			drop_caches();
		/* a fresh daemon: empty index, new loop and scan workers */
		if (r > 0) {
			scan_fini();
			loop_fini();
			if (loop_init() < 0)
				return 1;
		}
		index_fini();
		if (index_init() < 0)
			return 1;
		t0 = now();
		if (scan_start(rootfd, flags, scan_done, NULL) < 0)
			return 1;
		loop_run();
		ts = now() - t0;
		if (scan_err)
			return 1;
		if (r % 2 == 1)
			tf = run_find(cmd, cold);
		scan_get_progress(&p);
		printf("round %d (%s, %s first%s%s%s): find %.3f s, scan %.3f s "
		    "(%llu objects, %llu foreign, %llu errors), ratio %.2f\n",
		    r + 1, cold ? "cold" : "warm", r % 2 ? "scan" : "find",
		    flags & SCAN_NAMELESS ? ", nameless" : "",
		    flags & SCAN_XATTR ? ", xattr" : "",
		    flags & SCAN_SYNC ? ", sync statx" : ", io_uring statx",
		    tf, ts, (unsigned long long)p.objects,
		    (unsigned long long)p.foreign,
		    (unsigned long long)p.errors, ts / tf);
		sumf += tf;
		sums += ts;
	}
	printf("total: find %.3f s, scan %.3f s, ratio %.2f\n", sumf, sums,
	    sums / sumf);
	printf("index: %llu objects, %zu bytes, %.1f bytes/object; "
	    "VmHWM %ld kB (%.1f bytes/object)\n",
	    (unsigned long long)index_objects(), index_memory(),
	    (double)index_memory() / (index_objects() ? index_objects() : 1),
	    vm_hwm_kb(), vm_hwm_kb() * 1024.0 /
	    (index_objects() ? index_objects() : 1));
	if ((flags & SCAN_NAMELESS) && check_names(rootfd) < 0)
		return 1;
	scan_fini();
	index_fini();
	loop_fini();
	return 0;
}
