/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * scan.h: build the index from <dir>/cache (scan.c).
 *
 * The startup scan lists cache/ and every volume's fan-out directories
 * with getdents64 and statx'es the objects in batches through io_uring
 * (IORING_OP_STATX, AT_SYMLINK_NOFOLLOW), on two worker threads, a few
 * fan-out directories per job. Each job's results come back to the main
 * thread (workq eventfd), which does the index_add calls, so the daemon
 * keeps answering clients while the scan runs. Last use = atime, size =
 * allocated blocks (what culling frees).
 *
 * Entries that do not belong (symlinks, FIFOs, sockets, devices,
 * directories inside fan-out dirs, unknown names at any level, names that
 * do not uncook with cfmt_uncook_key or sit in the wrong fan-out dir, the
 * pre-5.17 J/+ trees) are LEFT ALONE: logged (rate-limited), counted in
 * scan.foreign.*, never indexed, so never culled and never served. The
 * daemon only ever removes what it can name as its own.
 *
 * The object xattr is not read at scan time by default: the store checks
 * it at every acquire (cfmt_obj_usable), so an object without a valid
 * xattr is never served, and reading it costs an open+fgetxattr+close per
 * object (see tests/bench/bench_scan for the figure). With SCAN_XATTR,
 * objects without a usable xattr are indexed with last use 0 so that they
 * are culled first.
 *
 * While the scan runs the store may already add and delete objects: a
 * scan result for an object the store deleted in between re-adds a ghost
 * entry; the culler drops it when its rename fails with ENOENT.
 *
 * Main thread only, except where said.
 */
#ifndef LARDER_SCAN_H
#define LARDER_SCAN_H

#include <stdint.h>

#define SCAN_XATTR	0x0001	/* read each object's xattr (see above) */
#define SCAN_SYNC	0x0002	/* plain statx(2) instead of io_uring (bench) */
/* index objects by name hash and inode (index_add_ino), not by name:
 * their names are found again by readdir on a worker when needed (names.h:
 * the culler, the listing); the daemon scans so in both modes */
#define SCAN_NAMELESS	0x0004

struct scan_progress {
	int running;
	unsigned dirs_done;	/* fan-out directories scanned */
	unsigned dirs_total;	/* known so far (grows while volumes are listed) */
	uint64_t objects;	/* objects found */
	uint64_t bytes;
	uint64_t foreign;	/* entries left alone */
	uint64_t errors;	/* directories or entries that failed */
	uint64_t ms;		/* duration of the last (or current) scan */
};

/*
 * Scan rootfd's cache/ into the index (index_init first). done(arg, err)
 * runs on the main thread when every fan-out directory has been scanned
 * (err 0, or -errno if cache/ could not be read). -EBUSY if a scan runs.
 */
int scan_start(int rootfd, unsigned flags, void (*done)(void *arg, int err),
    void *arg);
/*
 * Kernel mode: rescan only the fan-out directories whose mtime changed since
 * the last scan (and volumes that appeared); objects gone from a rescanned
 * directory leave the index unless pinned or being culled. Same done().
 */
int scan_rescan_changed(void (*done)(void *arg, int err), void *arg);
int scan_running(void);
void scan_get_progress(struct scan_progress *p);
/* "not started", "running", "done" */
const char *scan_state(void);
/* every "scan.*" counter, through put (cull.c's stats provider uses it) */
void scan_stats(void (*put)(void *arg, const char *key, uint64_t v),
    void *arg);
/* Stop the worker threads (waits for jobs in flight). */
void scan_fini(void);

#endif
