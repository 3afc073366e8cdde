/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kernel.c: kernel mode, larderd as cachefilesd on /dev/cachefiles.
 *
 * The kernel's CacheFiles writes the cache; larderd opens /dev/cachefiles,
 * takes the private mount main.c made (mount.c: unshare + move_mount of the
 * clone, atime kept), tells the kernel `dir <private path>`, the thresholds in an order
 * it accepts, tag, secctx and debug, and binds. From then on it:
 *
 *  - reads the kernel's state string whenever the device polls readable
 *    (POLLIN: state changed), and kicks the culler while it says cull=1;
 *    while nothing can be culled it backs off (1 s doubling to 30 s) and
 *    re-arms with POLLOUT instead of spinning;
 *  - keeps the index (index.c) of the kernel's tree with scan.c: one
 *    scan_start at bind, then scan_rescan_changed (only the fan-out
 *    directories whose mtime changed) every few seconds and soon after
 *    the kernel reports released objects (it links an object into its
 *    fan-out directory when it commits it);
 *  - culls through cull.c with a CULL_KERNEL backend whose batch does
 *    `inuse NAME` and `cull NAME` for each victim after fchdir into its
 *    fan-out directory (per-thread cwd: the worker unshares CLONE_FS);
 *  - leaves graveyard/ to the reaper (reap.c): the kernel's `cull` unlinks
 *    a file object itself (cachefiles_bury_object) and moves only
 *    directories there, which the reaper empties as they arrive.
 *
 * Freeze with defer policy withdraws the cache: the device is swapped for
 * a read-only /dev/null with dup2 (the fd number stays valid for the cull
 * workers, whose writes then fail), so the kernel unbinds and the netfs
 * runs uncached; after thaw the device is opened and bound again.
 *
 * Nobody tells larderd of a freeze made behind its back (fsfreeze, a
 * snapshot tool), and in kernel mode larderd writes nothing itself while
 * it waits: so while bound, once a second, a probe thread makes an empty
 * write (pwrite of 0 bytes) on the claim's file. It writes nothing, but
 * it takes the filesystem's write access first, which waits while the
 * filesystem is frozen: a probe in flight for long is what freeze.c's
 * stall detection reads (freeze_backend.oldest_write_ms). Measured on
 * 6.1, 6.12 and 7.2 (tests/vm/t-kernel-freezefs.sh): during such a freeze
 * netfs reads go on, from the cache and from the server; the kernel's
 * cache writes, and on 6.12+ writes to netfs files with fscache, wait for
 * the thaw; withdrawing the cache then does not release them (the kernel
 * waits for them to withdraw), so larderd only says what happened and
 * answers a freeze request at once.
 *
 * Threads: the main thread owns everything here. The "kernel" work queue
 * (one thread) runs the withdraw close, which can take a while; scan.c,
 * cull.c and reap.c run their own workers. kernel_cull_batch runs on
 * cull.c's workers and touches only the device fd, the root fd and the
 * atomic counters below.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "cull.h"
#include "freeze.h"
#include "handover.h"
#include "index.h"
#include "kernel.h"
#include "beneath.h"
#include "log.h"
#include "loop.h"
#include "mount.h"
#include "scan.h"
#include "workq.h"


#define SCAN_PERIOD_MS		5000	/* mtime check of every fan-out dir */
#define PROBE_PERIOD_MS		1000	/* the write probe, while bound */
#define SCAN_MIN_GAP_MS		1000	/* rescans triggered by state changes */
#define CULL_BACKOFF_MIN_MS	1000
#define CULL_BACKOFF_MAX_MS	30000
#define REBIND_RETRY_MS		5000
#define STATE_MAX		256	/* the kernel formats into 256 bytes */
#define HEX_MAX_DIGITS		16	/* a u64 */

/* ---- the state string -------------------------------------------------- */

struct kernel_state {
	int cull;			/* 1: the kernel wants culling */
	uint64_t frun, fcull, fstop;	/* absolute file counts */
	uint64_t brun, bcull, bstop;	/* absolute f_bsize block counts */
	uint64_t freleased;		/* objects released since last read */
	uint64_t breleased;		/* 512-byte units released */
};

/* Parse one lowercase hex number of 1..16 digits ending at a space or at
 * end; advance *p. */
static int
parse_hex(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	while (s < end && *s != ' ') {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			return -EINVAL;
		if (++n > HEX_MAX_DIGITS)
			return -ERANGE;
		v = v << 4 | (uint64_t)d;
		s++;
	}
	if (n == 0)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = v;
	*p = s;
	return 0;
}

/*
 * Parse the state string exactly as fs/cachefiles/daemon.c prints it:
 * "cull=%c frun=%llx fcull=%llx fstop=%llx brun=%llx bcull=%llx bstop=%llx
 * freleased=%x breleased=%llx", fields in that order, single spaces, no
 * newline (one trailing newline or NUL is tolerated). 0 or -EINVAL/-ERANGE.
 */
static int
parse_state(const char *buf, size_t len, struct kernel_state *st)
{
	static const char *const keys[] = { "frun", "fcull", "fstop", "brun",
	    "bcull", "bstop", "freleased", "breleased" };
	struct kernel_state tmp;
	uint64_t *vals[] = { &tmp.frun, &tmp.fcull, &tmp.fstop, &tmp.brun,
	    &tmp.bcull, &tmp.bstop, &tmp.freleased, &tmp.breleased };
	const char *p = buf, *end;
	size_t i;
	int r;

	if (len == 0 || len >= STATE_MAX)
		return -EINVAL;
	if (buf[len - 1] == '\n' || buf[len - 1] == '\0')
		len--;
	end = buf + len;
	if (memchr(buf, '\0', len) != NULL)
		return -EINVAL;
	if (len < 7 || memcmp(p, "cull=", 5) != 0)
		return -EINVAL;
	if (p[5] != '0' && p[5] != '1')
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	tmp.cull = p[5] == '1';
	p += 6;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t kl = strlen(keys[i]);

		if ((size_t)(end - p) < kl + 3 || p[0] != ' ' ||
		    memcmp(p + 1, keys[i], kl) != 0 || p[1 + kl] != '=')
			return -EINVAL;
		p += kl + 2;
		/* freleased is %x: an unsigned int */
		r = parse_hex(&p, end, i == 6 ? UINT32_MAX : UINT64_MAX,
		    vals[i]);
		if (r < 0)
			return r;
	}
	if (p != end)
		return -EINVAL;
	*st = tmp;
	return 0;
}

/* ---- the configuration, in an order the kernel accepts ------------------ */

enum { T_RUN, T_CULL, T_STOP, T_N };

/* Whether setting slot which to v keeps stop < cull < run < 100 as the
 * kernel checks it (each write against the values already set). */
static int
threshold_ok(const unsigned cur[T_N], int which, unsigned v)
{
	switch (which) {
	case T_RUN:
		return v > cur[T_CULL] && v < 100;
	case T_CULL:
		return v > cur[T_STOP] && v < cur[T_RUN];
	default:
		return v < cur[T_CULL];
	}
}

/*
 * Find an order in which to write the three thresholds of one kind (run,
 * cull, stop) to go from cur to want so that the kernel accepts every
 * write. Fills order[] with slot numbers; returns 0, or -ERANGE if want
 * itself is out of order (then no order works).
 */
static int
threshold_order(const unsigned cur[T_N], const unsigned want[T_N],
    int order[T_N])
{
	static const int perms[6][T_N] = {
		{ T_RUN, T_CULL, T_STOP }, { T_STOP, T_CULL, T_RUN },
		{ T_RUN, T_STOP, T_CULL }, { T_STOP, T_RUN, T_CULL },
		{ T_CULL, T_RUN, T_STOP }, { T_CULL, T_STOP, T_RUN },
	};
	size_t i;
	int j;

	if (!(want[T_STOP] < want[T_CULL] && want[T_CULL] < want[T_RUN] &&
	    want[T_RUN] < 100))
		return -ERANGE;
	for (i = 0; i < 6; i++) {
		unsigned sim[T_N];

		memcpy(sim, cur, sizeof(sim));
		for (j = 0; j < T_N; j++) {
			int w = perms[i][j];

			if (!threshold_ok(sim, w, want[w]))
				break;
			sim[w] = want[w];
		}
		if (j == T_N) {
			memcpy(order, perms[i], sizeof(perms[i]));
			return 0;
		}
	}
	return -ERANGE;	/* not reached for a valid want (see the unit test) */
}

#define KCMD_MAX	16
#define KCMD_LEN	(PATH_MAX + 16)

struct kcmd {
	char text[KCMD_LEN];
	unsigned line;		/* conf line it came from; 0: none */
	const char *what;	/* keyword, for messages */
};

/*
 * Build the commands that configure the kernel for c, dir being the path
 * the kernel resolves (the private mount). Thresholds start from the
 * kernel's defaults at open (7/5/1). Returns the count or -errno.
 */
static int
config_cmds(const struct conf *c, const char *dir, struct kcmd *out,
    size_t max)
{
	static const char *const bname[T_N] = { "brun", "bcull", "bstop" };
	static const char *const fname[T_N] = { "frun", "fcull", "fstop" };
	const unsigned def[T_N] = { CONF_DEFAULT_RUN, CONF_DEFAULT_CULL,
	    CONF_DEFAULT_STOP };
	const unsigned bw[T_N] = { c->brun, c->bcull, c->bstop };
	const unsigned fw[T_N] = { c->frun, c->fcull, c->fstop };
	const unsigned bl[T_N] = { c->loc_brun.line, c->loc_bcull.line,
	    c->loc_bstop.line };
	const unsigned fl[T_N] = { c->loc_frun.line, c->loc_fcull.line,
	    c->loc_fstop.line };
	int bo[T_N], fo[T_N], r, i;
	size_t n = 0;

#define ADD(ln, wh, ...) do {						\
		if (n >= max)						\
			return -ENOSPC;					\
		if ((size_t)snprintf(out[n].text, KCMD_LEN, __VA_ARGS__) >= \
		    KCMD_LEN)						\
			return -ENAMETOOLONG;				\
		out[n].line = (ln);					\
		out[n].what = (wh);					\
		n++;							\
	} while (0)

	if (dir[0] == '\0')
		return -EINVAL;
	ADD(c->loc_dir.line, "dir", "dir %s", dir);
	if (c->tag[0] != '\0')
		ADD(0, "tag", "tag %s", c->tag);
	if (c->secctx[0] != '\0')
		ADD(0, "secctx", "secctx %s", c->secctx);
	if ((r = threshold_order(def, bw, bo)) < 0)
		return r;
	if ((r = threshold_order(def, fw, fo)) < 0)
		return r;
	for (i = 0; i < T_N; i++)
		ADD(bl[bo[i]], bname[bo[i]], "%s %u%%", bname[bo[i]],
		    bw[bo[i]]);
	for (i = 0; i < T_N; i++)
		ADD(fl[fo[i]], fname[fo[i]], "%s %u%%", fname[fo[i]],
		    fw[fo[i]]);
	if (c->debug != 0)
		ADD(0, "debug", "debug %lu", c->debug);
	ADD(0, "bind", "bind");
#undef ADD
	return (int)n;
}

/* A hint for the admin when the kernel refuses bind. */
static const char *
bind_hint(int err)
{
	switch (err) {
	case EOPNOTSUPP:
		return " (the filesystem needs user xattrs and O_TMPFILE; "
		    "tmpfs will not do)";
	case EROFS:
		return " (the filesystem is read-only)";
	case ERANGE:
		return " (thresholds out of order)";
	case EBUSY:
		return " (already bound)";
	case ENOENT:
	case ENOTDIR:
		return " (the cache directory is not reachable in larderd's "
		    "mount namespace)";
	default:
		return "";
	}
}

/* ---- state ---------------------------------------------------------------- */

enum kstate {
	K_DOWN = 0,		/* not started */
	K_BOUND,		/* the kernel caches */
	K_WITHDRAWING,		/* freeze: closing the device */
	K_WITHDRAWN,		/* freeze: no cache, the netfs runs uncached */
};

static struct kernel_mode {
	struct conf conf;
	unsigned flags;
	int devfd;		/* /dev/cachefiles; /dev/null O_RDONLY while withdrawn */
	int nullfd;		/* the stand-in, kept open */
	int rootfd;		/* cache dir on the private mount */
	char dir[PATH_MAX];	/* what the kernel was told */
	enum kstate state;
	struct kernel_state st;	/* last state read */
	int have_st;
	struct loop_watch *watch;
	uint32_t watch_events;
	struct workq *wq;
	int adopted;		/* devfd came bound from the larderd before */
	int culling;		/* cull_init done: kernel_stop undoes it */
	int cull_failed;		/* cull_init failed: do not retry */

	int scan_busy;		/* a scan of ours runs (scan.c) */
	int scan_again;		/* a scan was asked for while busy */
	uint64_t last_scan_ms;
	struct loop_timer *scan_timer;
	int scanned_once;

	struct loop_timer *cull_timer;
	uint64_t backoff_ms;
	uint64_t culls_at_kick;	/* cull_ok when the culler was last kicked */
	struct loop_timer *rebind_timer;
	struct loop_timer *probe_timer;

	/* freeze hook continuation */
	void (*quiesce_done)(void *arg, int err);
	void *quiesce_arg;

	/* stats (main thread) */
	uint64_t state_reads, bad_states, scans, rebinds, withdrawals;
	uint64_t freleased_total, breleased_total;
} kern = { .devfd = -1, .nullfd = -1, .rootfd = -1 };

/* the probe thread: probe_fd hands it a claim fd (main thread stores, the
 * thread takes it), probe_since is when its write began (0: idle) */
static atomic_int probe_fd = -1;
static atomic_uint_fast64_t probe_since;
static int probe_efd = -1;
static void probe_fire(void *arg);

/* touched by cull workers */
static atomic_int k_withdrawn;
static atomic_uint_fast64_t cull_ok, cull_busy, cull_gone, cull_err;

static const char *
kstate_str(enum kstate s)
{
	switch (s) {
	case K_BOUND:
		return "bound";
	case K_WITHDRAWING:
		return "withdrawing";
	case K_WITHDRAWN:
		return "withdrawn (frozen: caching off)";
	default:
		return "down";
	}
}

/* ---- talking to the device ------------------------------------------------ */

/* One command per write(); 0 or -errno. */
static int
dev_cmd(int fd, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;

	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

/* Send the whole configuration and bind; log every refusal as
 * "file:line: reason". 0 or -errno of the first refusal. */
static int
dev_configure(int fd, const struct conf *c, const char *dir)
{
	struct kcmd *cmds;
	int n, i, r, first = 0;

	cmds = calloc(KCMD_MAX, sizeof(*cmds));
	if (cmds == NULL)
		return -ENOMEM;
	n = config_cmds(c, dir, cmds, KCMD_MAX);
	if (n < 0) {
		log_warnx("%s: cannot build the kernel configuration: %s",
		    c->file, strerror(-n));
		free(cmds);
		return n;
	}
	for (i = 0; i < n; i++) {
		int isbind = strcmp(cmds[i].what, "bind") == 0;

		log_debug("kernel: %s", cmds[i].text);
		r = dev_cmd(fd, cmds[i].text);
		if (r == 0)
			continue;
		if (cmds[i].line > 0)
			log_warnx("%s:%u: the kernel refused \"%s\": %s",
			    c->file, cmds[i].line, cmds[i].text, strerror(-r));
		else if (isbind)
			log_warnx("%s: the kernel refused to bind %s (dir %s): "
			    "%s%s", c->file, dir, c->dir, strerror(-r),
			    bind_hint(-r));
		else
			log_warnx("%s: %s: the kernel refused \"%s\": %s%s",
			    c->file, cmds[i].what, cmds[i].text, strerror(-r),
			    strcmp(cmds[i].what, "secctx") == 0 ?
			    " (no such security context, or no LSM)" : "");
		if (first == 0)
			first = r;
		if (isbind || strcmp(cmds[i].what, "dir") == 0)
			break;
	}
	free(cmds);
	return first;
}

/* Read and parse the state string; 0, or -errno (-EAGAIN: not bound). */
static int
dev_read_state(void)
{
	char buf[STATE_MAX + 1];
	ssize_t n;
	int r;
	static struct log_ratelimit rl;

	do
		n = read(kern.devfd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EAGAIN;
	kern.state_reads++;
	buf[n] = '\0';
	r = parse_state(buf, (size_t)n, &kern.st);
	if (r < 0) {
		kern.bad_states++;
		log_warnx_rl(&rl, "kernel: unexpected state string \"%.*s\"",
		    (int)(n > 120 ? 120 : n), buf);
		return r;
	}
	kern.have_st = 1;
	kern.freleased_total += kern.st.freleased;
	kern.breleased_total += kern.st.breleased;
	if ((kern.st.freleased > 0 || kern.st.breleased > 0) && kern.culling)
		cull_released(kern.st.freleased, kern.st.breleased * 512);
	return 0;
}

/* ---- cull_ops: runs on cull.c's worker threads ------------------------------ */

/* Give this thread its own cwd so fchdir does not move the others'. */
static int
own_cwd(void)
{
	static _Thread_local int done;

	if (done)
		return 0;
	if (unshare(CLONE_FS) < 0)
		return -errno;
	done = 1;
	return 0;
}

/* Cull one victim: `inuse NAME`, then `cull NAME`, after fchdir into its
 * fan-out directory, unless its atime shows a use the index has not seen
 * (CULL_USED_SINCE). Returns a cull_victim res (cull.h). */
static int
kernel_cull_one(const char *volume_key, uint8_t fanout, const char *name,
    int64_t *last_use)
{
	char path[PATH_MAX], cmd[NAME_MAX + 8];
	struct statx stx;
	int64_t at;
	int dfd, r;

	if (atomic_load(&k_withdrawn))
		return -EAGAIN;
	if (strchr(name, '/') != NULL || strlen(name) > NAME_MAX ||
	    strchr(volume_key, '/') != NULL)
		return -EINVAL;
	if ((r = own_cwd()) < 0)
		goto out;
	if ((size_t)snprintf(path, sizeof(path), "cache/I%s/@%02x",
	    volume_key, fanout) >= sizeof(path)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	dfd = open_dir_beneath(kern.rootfd, path);
	if (dfd < 0) {
		r = dfd;
		goto out;
	}
	r = fchdir(dfd) < 0 ? -errno : 0;
	/*
	 * The kernel's reads move the object's atime (the clone is
	 * strictatime, mount.c) without telling us, and a rescan only reads
	 * the fan-out dirs that changed: ask the file itself. Used since the
	 * index last looked: not a victim yet (cull.h, CULL_USED_SINCE).
	 */
	if (r == 0 && statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
	    STATX_ATIME, &stx) == 0 && (stx.stx_mask & STATX_ATIME) &&
	    stx.stx_atime.tv_sec >= 0 &&
	    stx.stx_atime.tv_sec < INT64_MAX / 1000000000 - 1) {
		struct timespec now;

		at = stx.stx_atime.tv_sec * 1000000000 +
		    stx.stx_atime.tv_nsec % 1000000000;
		clock_gettime(CLOCK_REALTIME, &now);
		/* an atime in the future is no news (the index clamps it to
		 * its now): it would keep the object forever */
		if (at > *last_use && stx.stx_atime.tv_sec <= now.tv_sec) {
			*last_use = at;
			close(dfd);
			return CULL_USED_SINCE;
		}
	}
	close(dfd);
	if (r < 0)
		goto out;
	snprintf(cmd, sizeof(cmd), "inuse %s", name);
	r = dev_cmd(kern.devfd, cmd);
	if (r == 0) {
		snprintf(cmd, sizeof(cmd), "cull %s", name);
		r = dev_cmd(kern.devfd, cmd);
	}
	if (r == -EBADF && atomic_load(&k_withdrawn))
		r = -EAGAIN;	/* withdrawn under us */
out:
	if (r == 0)
		atomic_fetch_add(&cull_ok, 1);
	else if (r == -EBUSY)
		atomic_fetch_add(&cull_busy, 1);
	else if (r == -ESTALE || r == -ENOENT)
		atomic_fetch_add(&cull_gone, 1);
	else
		atomic_fetch_add(&cull_err, 1);
	if (r == -ESTALE)
		r = -ENOENT;
	return r;
}

/* The CULL_KERNEL backend's batch, on a cull worker: one victim after the
 * other. */
static void
kernel_cull_batch(struct cull_victim *v, unsigned n, void *arg)
{
	unsigned i;

	(void)arg;
	for (i = 0; i < n; i++)
		v[i].res = kernel_cull_one(v[i].volume_key, v[i].fanout,
		    v[i].name, &v[i].last_use);
}

/* ---- the index: scan.c's scan, rescans of changed fan-out dirs -------------- */

static void scan_timer_fire(void *arg);

/*
 * Start the culler once the first scan has filled the index: started on
 * an empty index, its first pass finds nothing, and it then waits for
 * releases (resume_thresholds) that an idle netfs never makes.
 */
static void
start_culling(void)
{
	static const struct cull_ops ops = {
		.kind = CULL_KERNEL,
		.cull_batch = kernel_cull_batch,
	};
	int r;

	if (kern.culling || kern.cull_failed)
		return;
	r = cull_init(&kern.conf, kern.rootfd, (kern.flags & KERNEL_NOCULL) ||
	    kern.conf.nocull, &ops);
	if (r < 0) {
		log_warnx("kernel: cannot start culling: %s; the cache will "
		    "not be culled", strerror(-r));
		kern.cull_failed = 1;
		return;
	}
	kern.culling = 1;
}

static void scan_submit(void);

/* scan.c's done(): main thread. */
static void
scan_done(void *arg, int err)
{
	static struct log_ratelimit rl;

	(void)arg;
	kern.scan_busy = 0;
	kern.scans++;
	if (err < 0)
		log_warnx_rl(&rl, "kernel: scan of %s/cache: %s", kern.conf.dir,
		    strerror(-err));
	log_debug("kernel: scan done; index %ju objects, %ju bytes",
	    (uintmax_t)index_objects(), (uintmax_t)index_total_bytes());
	if (kern.state != K_BOUND)
		return;
	start_culling();
	if (kern.scan_again) {
		kern.scan_again = 0;
		scan_submit();
	}
	/* a fresh index may be what the culler was waiting for: kick it
	 * (bounded: scans run at most once a second) */
	if (kern.have_st && kern.st.cull && kern.culling &&
	    !(kern.flags & KERNEL_NOCULL) && !kern.conf.nocull)
		cull_kick();
}

/*
 * The first time the whole tree (scan_start), then only the fan-out
 * directories whose mtime changed and volumes that appeared
 * (scan_rescan_changed): the kernel links an object into its fan-out
 * directory when it commits it, and renames it out when it is culled.
 */
static void
scan_submit(void)
{
	static struct log_ratelimit rl;
	int r;

	if (kern.state != K_BOUND)
		return;
	if (kern.scan_busy || scan_running()) {
		kern.scan_again = 1;
		return;
	}
	if (!kern.scanned_once)
		/* nameless: the culler finds its victims' names by
		 * readdir on its workers (cull.c, resolve_names) */
		r = scan_start(kern.rootfd, SCAN_NAMELESS, scan_done, NULL);
	else
		r = scan_rescan_changed(scan_done, NULL);
	if (r == -EBUSY) {
		kern.scan_again = 1;
		return;
	}
	if (r < 0) {
		log_warnx_rl(&rl, "kernel: cannot scan %s: %s", kern.conf.dir,
		    strerror(-r));
		start_culling();	/* cull what the index has */
		return;
	}
	kern.scanned_once = 1;
	kern.scan_busy = 1;
	kern.last_scan_ms = loop_now_ms();
}

static void
scan_timer_fire(void *arg)
{
	(void)arg;
	kern.scan_timer = NULL;
	scan_submit();
	if (kern.state == K_BOUND)
		kern.scan_timer = loop_timer_add(SCAN_PERIOD_MS, scan_timer_fire,
		    NULL);
}

/* A state change: rescan soon, but not more than once a second. */
static void
scan_soon(void)
{
	uint64_t since = loop_now_ms() - kern.last_scan_ms;

	if (kern.state != K_BOUND)
		return;
	if (kern.scan_busy) {
		kern.scan_again = 1;
		return;
	}
	if (since >= SCAN_MIN_GAP_MS) {
		scan_submit();
		return;
	}
	/* too soon: bring the periodic scan forward instead */
	if (kern.scan_timer != NULL)
		loop_timer_cancel(kern.scan_timer);
	kern.scan_timer = loop_timer_add(SCAN_MIN_GAP_MS - since, scan_timer_fire,
	    NULL);
}

/* ---- culling and the device's poll events ------------------------------------ */

static void
watch_set(uint32_t events)
{
	if (kern.watch != NULL && events != kern.watch_events &&
	    loop_watch_mod(kern.watch, events) == 0)
		kern.watch_events = events;
}

static void
cull_timer_fire(void *arg)
{
	(void)arg;
	kern.cull_timer = NULL;
	/* the backoff is over: let POLLOUT say whether culling is still
	 * wanted (level-triggered, so it fires at once if so) */
	if (kern.state == K_BOUND)
		watch_set(EPOLLIN | EPOLLOUT);
}

/*
 * The kernel wants culling (cull=1, or POLLOUT): kick the culler and wait
 * before asking again; if the last kick culled nothing (everything in
 * use, or the index has nothing), wait twice as long, up to 30 s.
 */
static void
cull_wanted(void)
{
	uint64_t ok = atomic_load(&cull_ok);

	watch_set(EPOLLIN);		/* no POLLOUT spin */
	if (kern.cull_timer != NULL)
		return;			/* backing off */
	if ((kern.flags & KERNEL_NOCULL) || kern.conf.nocull || !kern.culling)
		return;		/* (start_culling kicks once it runs) */
	if (kern.backoff_ms == 0 || ok > kern.culls_at_kick)
		kern.backoff_ms = CULL_BACKOFF_MIN_MS;
	else if (kern.backoff_ms < CULL_BACKOFF_MAX_MS)
		kern.backoff_ms = kern.backoff_ms * 2 > CULL_BACKOFF_MAX_MS ?
		    CULL_BACKOFF_MAX_MS : kern.backoff_ms * 2;
	kern.culls_at_kick = ok;
	log_debug("kernel: culling wanted; kick, next look in %ju ms",
	    (uintmax_t)kern.backoff_ms);
	/* the kernel made objects since the last scan: find them (the scan's
	 * end kicks the culler again) */
	scan_soon();
	cull_kick();
	kern.cull_timer = loop_timer_add(kern.backoff_ms, cull_timer_fire, NULL);
}

/* Read the state and act on it. */
static void
state_check(void)
{
	int r;

	if (kern.state != K_BOUND)
		return;
	r = dev_read_state();
	if (r < 0)
		return;
	if (kern.st.freleased > 0 || kern.st.breleased > 0)
		scan_soon();
	if (kern.st.cull)
		cull_wanted();
	else {
		kern.backoff_ms = 0;
		watch_set(EPOLLIN);
	}
}

static void
dev_event(int fd, uint32_t events, void *arg)
{
	static struct log_ratelimit rl;

	(void)fd;
	(void)arg;
	if (events & (EPOLLERR | EPOLLHUP)) {
		log_warnx_rl(&rl, "kernel: %s: error or hangup on the device",
		    KERNEL_DEVICE);
		watch_set(0);
		return;
	}
	if (events & EPOLLIN) {
		state_check();		/* reading clears the change flag */
		scan_soon();
	} else if (events & EPOLLOUT) {
		if (dev_read_state() == 0 && !kern.st.cull) {
			watch_set(EPOLLIN);
			return;
		}
		cull_wanted();
	}
}

/* ---- open, bind, withdraw --------------------------------------------------- */

static int
dev_open(int *fdp)
{
	int fd = open(KERNEL_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		if (e == EBUSY)
			log_warnx("%s: another cache daemon (cachefilesd?) has "
			    "%s open", KERNEL_DEVICE, KERNEL_DEVICE);
		else if (e == ENOENT || e == ENXIO || e == ENODEV)
			log_warnx("%s: %s (is the cachefiles module loaded? "
			    "modprobe cachefiles)", KERNEL_DEVICE,
			    strerror(e));
		else
			log_warnx("%s: %s", KERNEL_DEVICE, strerror(e));
		return -e;
	}
	*fdp = fd;
	return 0;
}

/*
 * A /dev/cachefiles handed over by the larderd before us (handover.h):
 * taken only if it is that char device, open read-write, and bound (a
 * bound cache answers a read with its state; an unbound one with 0
 * bytes). 1 taken (kern.devfd), 0 none or rejected (closed, logged).
 */
static int
dev_adopt(void)
{
	struct stat a, b;
	int fd = handover_take(HO_CACHEFILES), fl, r;
	const char *why = NULL;

	if (fd < 0)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fstat(fd, &a) < 0 || !S_ISCHR(a.st_mode))
		why = "not a character device";
	else if (stat(KERNEL_DEVICE, &b) < 0 || !S_ISCHR(b.st_mode) ||
	    a.st_rdev != b.st_rdev)
		why = "not " KERNEL_DEVICE;
	else if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		why = "not open read-write";
	if (why == NULL) {
		kern.devfd = fd;
		r = dev_read_state();
		if (r == 0)
			return 1;
		kern.devfd = -1;
		why = r == -EAGAIN ? "not bound" : "its state does not read";
	}
	log_warnx("kernel: handed-over %s (fd %d): %s: closed; binding anew",
	    KERNEL_DEVICE, fd, why);
	handover_rejected(HO_CACHEFILES);
	close(fd);
	return 0;
}

void
kernel_handover(void)
{
	if (kern.state == K_BOUND && kern.devfd >= 0)
		handover_give(HO_CACHEFILES, kern.devfd);
}

/* Open a fresh device, put it at kern.devfd's number, configure and bind. */
static int
bind_cache(void)
{
	int fd = -1, r;

	if ((r = dev_open(&fd)) < 0)
		return r;
	if (kern.devfd < 0)
		kern.devfd = fd;
	else if (fd != kern.devfd) {
		if (dup3(fd, kern.devfd, O_CLOEXEC) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		close(fd);
	}
	r = dev_configure(kern.devfd, &kern.conf, kern.dir);
	if (r < 0) {
		/* unbind by swapping the stand-in back */
		if (dup3(kern.nullfd, kern.devfd, O_CLOEXEC) < 0)
			log_warn("kernel: dup3");
		return r;
	}
	atomic_store(&k_withdrawn, 0);
	kern.state = K_BOUND;
	if (kern.probe_timer == NULL && probe_efd >= 0)
		kern.probe_timer = loop_timer_add(PROBE_PERIOD_MS, probe_fire,
		    NULL);
	kern.watch = loop_watch_add(kern.devfd, EPOLLIN, dev_event, NULL);
	if (kern.watch == NULL)
		log_warn("kernel: cannot watch %s", KERNEL_DEVICE);
	kern.watch_events = EPOLLIN;
	if (dev_read_state() == 0)
		log_info("kernel: cache bound on %s (tag %s): brun %ju bcull %ju "
		    "bstop %ju frun %ju fcull %ju fstop %ju%s", kern.conf.dir,
		    kern.conf.tag, (uintmax_t)kern.st.brun, (uintmax_t)kern.st.bcull,
		    (uintmax_t)kern.st.bstop, (uintmax_t)kern.st.frun,
		    (uintmax_t)kern.st.fcull, (uintmax_t)kern.st.fstop,
		    kern.st.cull ? "; culling needed" : "");
	scan_submit();
	kern.scan_timer = loop_timer_add(SCAN_PERIOD_MS, scan_timer_fire, NULL);
	if (kern.have_st && kern.st.cull)
		cull_wanted();
	return 0;
}

static void
timers_stop(void)
{
	if (kern.scan_timer != NULL)
		loop_timer_cancel(kern.scan_timer);
	if (kern.cull_timer != NULL)
		loop_timer_cancel(kern.cull_timer);
	if (kern.rebind_timer != NULL)
		loop_timer_cancel(kern.rebind_timer);
	if (kern.probe_timer != NULL)
		loop_timer_cancel(kern.probe_timer);
	kern.scan_timer = kern.cull_timer = kern.rebind_timer = kern.probe_timer = NULL;
}

/* ---- the write probe (stall detection for freezes nobody announced) ------ */

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Probe thread: for each fd handed over, one empty write, then close. It
 * may wait as long as the filesystem stays frozen; it owns nothing else,
 * is never joined, and ends with the process. */
static void *
probe_main(void *arg)
{
	uint64_t v;
	int fd;

	(void)arg;
	for (;;) {
		if (read(probe_efd, &v, sizeof(v)) < 0 && errno != EINTR)
			return NULL;
		if ((fd = atomic_exchange(&probe_fd, -1)) < 0)
			continue;
		atomic_store(&probe_since, mono_ms());
		(void)pwrite(fd, "", 0, 0);
		close(fd);
		atomic_store(&probe_since, 0);
	}
}

/* freeze_backend.oldest_write_ms: how long the probe has waited */
static uint64_t
kernel_oldest_write_ms(void *arg)
{
	uint64_t since = atomic_load(&probe_since), now;

	(void)arg;
	if (since == 0)
		return 0;
	now = mono_ms();
	return now > since ? now - since : 0;
}

/* Main thread, every PROBE_PERIOD_MS while bound: hand the thread a new
 * fd unless a probe is still waiting. */
static void
probe_fire(void *arg)
{
	static struct log_ratelimit rl;
	uint64_t one = 1;
	int fd, old;

	(void)arg;
	kern.probe_timer = NULL;
	if (kern.state != K_BOUND)
		return;
	kern.probe_timer = loop_timer_add(PROBE_PERIOD_MS, probe_fire, NULL);
	if (atomic_load(&probe_since) != 0 || atomic_load(&probe_fd) >= 0)
		return;
	if ((fd = mount_claim_dup()) < 0)
		return;		/* suspended: no claim, nothing to probe */
	if ((old = atomic_exchange(&probe_fd, fd)) >= 0)
		close(old);
	if (write(probe_efd, &one, sizeof(one)) < 0)
		log_warnx_rl(&rl, "kernel: probe: %s", strerror(errno));
}

/* Start the probe thread once; 0 or -errno (larderd then runs without
 * stall detection in kernel mode, and says so). */
static int
probe_start(void)
{
	pthread_attr_t a;
	pthread_t t;
	int r;

	if (probe_efd >= 0)
		return 0;
	if ((probe_efd = eventfd(0, EFD_CLOEXEC)) < 0)
		return -errno;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &a, probe_main, NULL);
	pthread_attr_destroy(&a);
	if (r != 0) {
		close(probe_efd);
		probe_efd = -1;
		return -r;
	}
	return 0;
}

struct withdraw_job {
	struct work w;
	int devfd, nullfd;
	int err;
};

/* Worker: swap the device for the stand-in; the kernel withdraws the
 * cache on release, which may take a while (it commits its objects). */
static void
withdraw_run(struct work *w)
{
	struct withdraw_job *j = (struct withdraw_job *)w;

	j->err = dup3(j->nullfd, j->devfd, O_CLOEXEC) < 0 ? -errno : 0;
}

static void
withdraw_done(struct work *w)
{
	struct withdraw_job *j = (struct withdraw_job *)w;
	void (*done)(void *, int) = kern.quiesce_done;
	void *arg = kern.quiesce_arg;

	kern.quiesce_done = NULL;
	if (j->err < 0) {
		log_warnx("kernel: cannot withdraw the cache: %s",
		    strerror(-j->err));
		kern.state = K_BOUND;
		atomic_store(&k_withdrawn, 0);
	} else {
		kern.state = K_WITHDRAWN;
		kern.withdrawals++;
		log_info("kernel: cache withdrawn for the freeze; the netfs "
		    "runs uncached until thaw");
	}
	if (done != NULL)
		done(arg, j->err);
	free(j);
}

/* freeze hook: withdraw the cache; done(arg, err) when the kernel has let
 * go of it. */
static void
kernel_quiesce(void *self, unsigned flags, void (*done)(void *arg, int err),
    void *arg)
{
	struct withdraw_job *j;

	(void)self;
	(void)flags;	/* closing the device lets go of every file */
	if (kern.state != K_BOUND) {
		done(arg, kern.state == K_WITHDRAWN ? 0 : -EBUSY);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		done(arg, -ENOMEM);
		return;
	}
	kern.state = K_WITHDRAWING;
	atomic_store(&k_withdrawn, 1);
	timers_stop();
	if (kern.watch != NULL)
		loop_watch_del(kern.watch);
	kern.watch = NULL;
	kern.quiesce_done = done;
	kern.quiesce_arg = arg;
	j->w.run = withdraw_run;
	j->w.done = withdraw_done;
	j->devfd = kern.devfd;
	j->nullfd = kern.nullfd;
	workq_submit(kern.wq, &j->w);
}

static void
rebind_fire(void *arg)
{
	(void)arg;
	kern.rebind_timer = NULL;
	if (kern.state != K_WITHDRAWN)
		return;
	if (bind_cache() == 0) {
		kern.rebinds++;
		log_info("kernel: cache bound again after thaw");
		return;
	}
	log_warnx("kernel: rebind failed; trying again in %d s",
	    REBIND_RETRY_MS / 1000);
	kern.rebind_timer = loop_timer_add(REBIND_RETRY_MS, rebind_fire, NULL);
}

/* freeze hook: the filesystem is thawed (or the time limit passed). */
static void
kernel_resume(void *self)
{
	(void)self;
	if (kern.state == K_WITHDRAWN && kern.rebind_timer == NULL)
		rebind_fire(NULL);
}

/* ---- status and stats ---------------------------------------------------------- */

static void
kernel_status(struct ctl_kv *kv)
{
	ctl_kv_str(kv, "kernel.state", kstate_str(kern.state));
	ctl_kv_str(kv, "kernel.device", KERNEL_DEVICE);
	ctl_kv_str(kv, "kernel.dir", kern.dir);
	ctl_kv_str(kv, "kernel.tag", kern.conf.tag);
	ctl_kv_u64(kv, "kernel.brun_percent", kern.conf.brun);
	ctl_kv_u64(kv, "kernel.bcull_percent", kern.conf.bcull);
	ctl_kv_u64(kv, "kernel.bstop_percent", kern.conf.bstop);
	ctl_kv_u64(kv, "kernel.frun_percent", kern.conf.frun);
	ctl_kv_u64(kv, "kernel.fcull_percent", kern.conf.fcull);
	ctl_kv_u64(kv, "kernel.fstop_percent", kern.conf.fstop);
	if (kern.have_st) {
		ctl_kv_str(kv, "kernel.culling", kern.st.cull ? "yes" : "no");
		ctl_kv_u64(kv, "kernel.brun_blocks", kern.st.brun);
		ctl_kv_u64(kv, "kernel.bcull_blocks", kern.st.bcull);
		ctl_kv_u64(kv, "kernel.bstop_blocks", kern.st.bstop);
		ctl_kv_u64(kv, "kernel.frun_files", kern.st.frun);
		ctl_kv_u64(kv, "kernel.fcull_files", kern.st.fcull);
		ctl_kv_u64(kv, "kernel.fstop_files", kern.st.fstop);
	}
	ctl_kv_str(kv, "kernel.nocull", (kern.flags & KERNEL_NOCULL) ||
	    kern.conf.nocull ? "yes" : "no");
	ctl_kv_u64(kv, "kernel.volumes", index_volumes());
	ctl_kv_u64(kv, "kernel.objects", index_objects());
	ctl_kv_u64(kv, "kernel.bytes", index_total_bytes());
	ctl_kv_u64(kv, "kernel.cull_backoff_ms", kern.cull_timer ? kern.backoff_ms :
	    0);
}

static void
kernel_stats(struct ctl_kv *kv)
{
	ctl_kv_u64(kv, "kernel.culled", atomic_load(&cull_ok));
	ctl_kv_u64(kv, "kernel.cull_busy", atomic_load(&cull_busy));
	ctl_kv_u64(kv, "kernel.cull_gone", atomic_load(&cull_gone));
	ctl_kv_u64(kv, "kernel.cull_errors", atomic_load(&cull_err));
	ctl_kv_u64(kv, "kernel.state_reads", kern.state_reads);
	ctl_kv_u64(kv, "kernel.bad_states", kern.bad_states);
	ctl_kv_u64(kv, "kernel.freleased", kern.freleased_total);
	ctl_kv_u64(kv, "kernel.breleased_bytes", kern.breleased_total * 512);
	ctl_kv_u64(kv, "kernel.scans", kern.scans);
	ctl_kv_u64(kv, "kernel.withdrawals", kern.withdrawals);
	ctl_kv_u64(kv, "kernel.rebinds", kern.rebinds);
}

/* ---- entry points ------------------------------------------------------------- */

int
kernel_available(void)
{
	int fd = open(KERNEL_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return errno == EBUSY;
}

/*
 * The stand-in for withdrawals and the device (kernel.h): the bound one
 * the larderd before us handed over, or a fresh one. 0 or -errno (logged).
 */
int
kernel_open(void)
{
	int r;

	if (kern.nullfd >= 0)
		return -EALREADY;
	kern.nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (kern.nullfd < 0) {
		r = -errno;
		log_warn("kernel: /dev/null");
		return r;
	}
	kern.adopted = dev_adopt();
	if (!kern.adopted && (r = dev_open(&kern.devfd)) < 0) {
		kernel_stop();
		return r;
	}
	return 0;
}

/* Where the kernel caches: main.c's private mount (mount_open with
 * MOUNT_ATTACH_PRIVATE). 0 or -EINVAL (logged). */
static int
take_private_mount(const struct conf *c)
{
	kern.rootfd = mount_root_fd();
	if (snprintf(kern.dir, sizeof(kern.dir), "%s", mount_private_path()) >=
	    (int)sizeof(kern.dir) || kern.dir[0] == '\0' || kern.rootfd < 0) {
		log_warnx("%s: no private mount path for the kernel", c->dir);
		return -EINVAL;
	}
	return 0;
}

/* Configure and bind the device (unless the adopted one is bound
 * already); the withdraw queue. 0 or -errno (logged). */
static int
first_bind(void)
{
	int r;

	if ((kern.wq = workq_create("kernel", 1)) == NULL) {
		r = -errno;
		log_warn("kernel: work queue");
		return r;
	}
	if (kern.adopted)
		log_info("kernel: adopted the bound cache from the larderd "
		    "before (the kernel never saw it go away); it stays bound "
		    "on that larderd's private mount, %s is for a rebind",
		    kern.dir);
	else if ((r = dev_configure(kern.devfd, &kern.conf, kern.dir)) < 0)
		return r;
	atomic_store(&k_withdrawn, 0);
	kern.state = K_BOUND;
	return 0;
}

/* The status and stats providers (once per process) and the freeze
 * backend: freeze defer withdraws the cache (freeze.h). */
static void
register_hooks(void)
{
	static int registered;

	if (!registered) {
		/* main.c registers mount_status only in userspace mode */
		control_add_status(mount_status);
		control_add_status(kernel_status);
		control_add_stats(kernel_stats);
		registered = 1;
	}
	{
		/* freeze defer withdraws the cache (freeze.h) */
		static const struct freeze_backend fb = {
			.quiesce = kernel_quiesce, .resume = kernel_resume,
			.oldest_write_ms = kernel_oldest_write_ms,
			.stall_note = "(kernel mode) netfs reads go on; the "
			    "kernel's cache writes, and on 6.12+ writes to "
			    "netfs files using the cache, wait for the thaw; "
			    "freeze with `larderctl freeze --fs' or the "
			    "fsfreeze hook to withdraw the cache first" };

		freeze_set_backend(&fb);
	}
}

/*
 * Watch the device, say what the kernel was told, start the first scan
 * (culling starts when it has filled the index: start_culling), the rescan
 * timer and the write probe. 0 or -errno when the device cannot be watched
 * (logged); a missing probe is only logged.
 */
static int
start_watching(const struct conf *c, int nocull)
{
	int r;

	kern.watch = loop_watch_add(kern.devfd, EPOLLIN, dev_event, NULL);
	if (kern.watch == NULL) {
		r = -errno;
		log_warn("kernel: cannot watch %s", KERNEL_DEVICE);
		return r;
	}
	kern.watch_events = EPOLLIN;
	if (dev_read_state() == 0)
		log_info("kernel: cache bound on %s (tag %s, private mount "
		    "%s): brun %ju bcull %ju bstop %ju blocks, frun %ju "
		    "fcull %ju fstop %ju files%s%s", c->dir, kern.conf.tag, kern.dir,
		    (uintmax_t)kern.st.brun, (uintmax_t)kern.st.bcull,
		    (uintmax_t)kern.st.bstop, (uintmax_t)kern.st.frun,
		    (uintmax_t)kern.st.fcull, (uintmax_t)kern.st.fstop,
		    kern.st.cull ? "; culling needed" : "",
		    nocull ? "; culling off" : "");
	scan_submit();
	kern.scan_timer = loop_timer_add(SCAN_PERIOD_MS, scan_timer_fire, NULL);
	if ((r = probe_start()) < 0)
		log_warnx("kernel: no probe thread (%s): a freeze nobody "
		    "announced goes unnoticed", strerror(-r));
	else
		kern.probe_timer = loop_timer_add(PROBE_PERIOD_MS, probe_fire,
		    NULL);
	return 0;
}

int
kernel_start(const struct conf *c, unsigned flags)
{
	int r;

	kern.conf = *c;
	kern.flags = flags;
	if (kern.devfd < 0)
		return -EBADF;		/* kernel_open first */
	if ((r = take_private_mount(c)) < 0 || (r = first_bind()) < 0)
		goto fail;
	register_hooks();
	if ((r = start_watching(c, (flags & KERNEL_NOCULL) || c->nocull)) < 0)
		goto fail;
	return 0;
fail:
	kernel_stop();
	return r;
}

/* Give back what kernel_start took (kernel.h), in reverse: timers, the
 * freeze backend, the watch, scan and cull workers, the withdraw queue,
 * then the device (closing it withdraws the cache). Idempotent. */
void
kernel_stop(void)
{
	int was_up = kern.state != K_DOWN;

	timers_stop();
	kern.state = K_DOWN;	/* late done()s below do nothing */
	if (was_up)
		freeze_set_backend(NULL);
	if (kern.watch != NULL)
		loop_watch_del(kern.watch);
	kern.watch = NULL;
	if (kern.scanned_once)
		scan_fini();	/* waits for a scan in flight */
	if (kern.culling)
		cull_fini();
	kern.culling = 0;
	atomic_store(&k_withdrawn, 1);
	if (kern.wq != NULL)
		workq_destroy(kern.wq);	/* runs the last done()s */
	kern.wq = NULL;
	/* closing the device withdraws the cache */
	if (kern.devfd >= 0)
		close(kern.devfd);
	kern.devfd = -1;
	if (kern.nullfd >= 0)
		close(kern.nullfd);
	kern.nullfd = -1;
	kern.rootfd = -1;
	kern.have_st = 0;
	kern.scanned_once = 0;
	kern.scan_busy = kern.scan_again = 0;
	kern.cull_failed = 0;
	kern.adopted = 0;
}

void
kernel_reconfigure(const struct conf *c)
{
	if (strcmp(c->dir, kern.conf.dir) != 0 || strcmp(c->tag, kern.conf.tag) != 0)
		log_warnx("%s: dir and tag changes take effect at the next "
		    "start", c->file);
	if (c->brun != kern.conf.brun || c->bcull != kern.conf.bcull ||
	    c->bstop != kern.conf.bstop || c->frun != kern.conf.frun ||
	    c->fcull != kern.conf.fcull || c->fstop != kern.conf.fstop)
		log_info("%s: new thresholds apply to culling now and to the "
		    "kernel at the next bind", c->file);
	/* the kernel keeps the dir, tag and thresholds of its bind */
	{
		char dir[PATH_MAX], tag[sizeof(kern.conf.tag)];

		memcpy(dir, kern.conf.dir, sizeof(dir));
		memcpy(tag, kern.conf.tag, sizeof(tag));
		kern.conf = *c;
		memcpy(kern.conf.dir, dir, sizeof(dir));
		memcpy(kern.conf.tag, tag, sizeof(tag));
	}
	if (kern.culling)
		cull_reconfigure(c);
}
