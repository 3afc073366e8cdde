/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cull.c: space watch, thresholds and culling (see cull.h); the graveyard
 * reaper is reap.c.
 *
 * The main thread owns every decision. It statfs()es the clone root on a
 * timer (every second near a threshold, every 10 s otherwise, and within
 * 100 ms of a cull_kick) and runs the state machine in evaluate():
 *
 *   allocate  refused while free blocks < bstop or free files < fstop, or
 *             the cache is over max_size or max_files; allowed again as
 *             soon as it is above them (cachefilesd's semantics).
 *   culling   starts when free blocks < bcull or free files < fcull, or
 *             the cache is over a cap; stops only when free blocks >= brun
 *             and free files >= frun and the cache is at most 95% of each
 *             cap. Bytes renamed into the graveyard but not yet unlinked
 *             count as free here, so a slow reaper does not make us cull
 *             more than needed.
 *
 * A pass selects up to 2^culltable candidates, oldest first
 * (index_select_oldest skips pinned and culling objects), takes from the
 * front as many as the deficit needs, marks them INDEX_CULLING and hands
 * them to the "larder-cull" workers in jobs of JOB_VICTIMS; each worker
 * calls ops->cull_one (by default: rename into graveyard/). Back on the
 * main thread, a culled object leaves the index; one that is in use
 * (-EBUSY) is marked used now, so the next pass does not pick it again.
 * When a pass finds nothing it may cull, culling is suspended until a
 * release (see resume_thresholds in cull.h): no pass spins on a cache that
 * is all pinned.
 *
 * The reaper (reap.c, "larder-reap", one thread) empties graveyard/. It
 * runs at start and whenever a pass has moved something (inotify tells it,
 * or reap_kick); a request that comes while it runs makes it go again once
 * more. Space counts as freed when it is unlinked: reaped() takes what
 * each reap removed off the bytes pending in the graveyard.
 *
 * Locks: none here; the work queues have their own (workq.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cfmt.h"
#include "conf.h"
#include "proto.h"
#include "daemon/control.h"
#include "daemon/cull.h"
#include "daemon/hist.h"
#include "daemon/index.h"
#include "daemon/beneath.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/reap.h"
#include "daemon/scan.h"
#include "daemon/workq.h"

#define CULL_THREADS	2
#define JOB_VICTIMS	256
#define JOBS_IN_FLIGHT	4
#define KICK_MS		100
#define QUICK_MS	5
#define NEAR_MS		1000
#define FAR_MS		10000
#define CAP_LOW(x)	((x) - (x) / 20)	/* cull caps down to 95% */
#define DIRFDS_MAX	4096	/* fan-out dir fds a pass keeps open */

/* What the state machine needs from the filesystem and the index. */
struct cull_fs {
	uint64_t bsize;			/* f_bsize */
	uint64_t blocks, bavail;	/* f_blocks, f_bavail */
	uint64_t files, ffree;		/* f_files, f_ffree */
	uint64_t pending_blocks;	/* in the graveyard, not yet unlinked */
	uint64_t pending_files;
	uint64_t cache_bytes;		/* index totals */
	uint64_t cache_objects;
};

struct cull_limits {
	unsigned brun, bcull, bstop, frun, fcull, fstop;	/* percent */
	uint64_t max_size;		/* bytes; 0: none */
	unsigned max_size_percent;	/* of the filesystem; 0: none */
	uint64_t max_files;		/* 0: none */
	unsigned culltable;
	long long resume_blocks, resume_files;
};

/* The result of evaluate(). */
struct cull_eval {
	int allocate;			/* 0: refuse new objects and fills */
	int culling;			/* (new) culling state */
	uint64_t need_bytes;		/* to free to leave the culling state */
	uint64_t need_files;
	char why[160];			/* why culling (or why not) */
	char refuse[160];		/* why allocation is refused */
};

struct victim {
	uint32_t id;
	uint16_t vol;
	uint8_t fanout;
	uint16_t vkey_off, name_off;	/* in the job's strs */
	int res;
	int64_t last_use;	/* the index's; newer if res CULL_USED_SINCE */
};

struct cull_job {
	struct work w;
	struct cull_job *next_pending;
	struct cull_ops ops;
	unsigned n;
	struct victim v[JOB_VICTIMS];
	size_t strlen;
	char strs[JOB_VICTIMS * (CFMT_MAX_VOLUME_KEY + 1 + CFMT_NAME_MAX + 1)];
};

struct default_arg {
	int rootfd;
	int gravefd;		/* graveyard/, opened once */
	/* fan-out directory fds, slot vol * 256 + fanout, opened by the
	 * cull workers as a pass needs them and closed by the main thread
	 * when it ends (so a volume dropped meanwhile is not reused) */
	_Atomic int *dirfds;
	size_t ndirfds;
	atomic_uint nopen;
	unsigned maxopen;
};

static struct {
	int init;
	int rootfd;
	int nocull, nocull_flag;	/* nocull_flag: -N */
	struct cull_limits lim;
	struct cull_ops ops;
	struct default_arg dflt;
	struct workq *cq;

	struct loop_timer *timer;
	uint64_t timer_due;
	uint64_t quick_ms;		/* last allocation check from a kick */

	int have_fs;
	struct cull_fs fs;
	struct cull_eval ev;
	int culling, allocate;

	/* suspension (resume_thresholds) */
	int suspended;
	uint64_t susp_bavail, susp_ffree, susp_rel_obj, susp_rel_bytes;
	uint64_t susp_unpinned;		/* unpinned objects at suspension */
	uint64_t ext_rel_obj, ext_rel_bytes;	/* cull_released */

	/* the pass in flight */
	int pass;
	unsigned jobs_inflight;
	struct cull_job *pending_head, *pending_tail;
	uint64_t pass_start_ms, pass_objects, pass_bytes, pass_gone;
	uint64_t pass_start_ns;		/* for the pass histogram */
	uint32_t *sel;
	size_t selcap;

	/* renamed into the graveyard, not yet reaped */
	uint64_t pending_bytes, pending_objects;
	/* reaped before cull_done counted them: inotify shows the reaper a
	 * rename as soon as it lands, so the reap can end before the main
	 * thread hears that the cull job made it; without this the bytes
	 * would stay "pending" forever and free space look larger than it
	 * is (culling would stop short of brun) */
	uint64_t early_bytes, early_objects;

	/* the culling episode: did reaped bytes come back as free space?
	 * (ep_reaped: bytes reaped since it began) */
	uint64_t ep_bavail, ep_reaped;

	/* larderctl cull */
	struct {
		int active;
		uint32_t mode;
		uint64_t value;
		uint64_t objects, bytes;
		void (*done)(void *, uint64_t, uint64_t, int);
		void *arg;
	} req;

	/* counters */
	uint64_t culled_objects, culled_bytes, passes, cull_ms;
	uint64_t skipped_busy, used_since, gone, errors, suspensions, refusals;
} cs;

static struct log_ratelimit rl_err, rl_statfs;

/* set by the store, maybe before cull_init: not part of cs */
static void (*on_culled)(void *, uint32_t);
static void *on_culled_arg;

static void check(void);
static void start_pass(void);
static void suspend(const char *what);

/* ---- the state machine (pure: unit-tested directly) ------------------- */

static uint64_t
pct_of(uint64_t total, unsigned pct)
{
	return total / 100 * pct + total % 100 * pct / 100;
}

static double
pct(uint64_t part, uint64_t total)
{
	return total ? 100.0 * (double)part / (double)total : 100.0;
}

static uint64_t
cap_bytes(const struct cull_limits *l, const struct cull_fs *fs)
{
	uint64_t c = l->max_size;
	uint64_t p;

	if (l->max_size_percent) {
		p = pct_of(fs->blocks * fs->bsize, l->max_size_percent);
		if (c == 0 || p < c)
			c = p;
	}
	return c;
}

/*
 * Decide allocation and culling from free space and the cache's size.
 * culling: the current state (hysteresis). nocull: report the need, never
 * start culling.
 */
static void
evaluate(const struct cull_limits *l, const struct cull_fs *fs, int culling,
    int nocull, struct cull_eval *ev)
{
	uint64_t bstop = pct_of(fs->blocks, l->bstop);
	uint64_t bcull = pct_of(fs->blocks, l->bcull);
	uint64_t brun = pct_of(fs->blocks, l->brun);
	uint64_t fstop = pct_of(fs->files, l->fstop);
	uint64_t fcull = pct_of(fs->files, l->fcull);
	uint64_t frun = pct_of(fs->files, l->frun);
	uint64_t bfree = fs->bavail + fs->pending_blocks;
	uint64_t ffree = fs->ffree + fs->pending_files;
	uint64_t cap = cap_bytes(l, fs);
	uint64_t nb = 0, nf = 0;
	int files = fs->files != 0;	/* some filesystems have no limit */
	int was_culling = culling;

	memset(ev, 0, sizeof(*ev));
	/* allocation: real free space only */
	ev->allocate = 1;
	if (fs->bavail < bstop) {
		ev->allocate = 0;
		snprintf(ev->refuse, sizeof(ev->refuse), "free blocks %.1f%% "
		    "< bstop %u%%", pct(fs->bavail, fs->blocks), l->bstop);
	} else if (files && fs->ffree < fstop) {
		ev->allocate = 0;
		snprintf(ev->refuse, sizeof(ev->refuse), "free files %.1f%% "
		    "< fstop %u%%", pct(fs->ffree, fs->files), l->fstop);
	} else if (cap && fs->cache_bytes >= cap) {
		ev->allocate = 0;
		snprintf(ev->refuse, sizeof(ev->refuse), "cache %llu bytes "
		    ">= max_size %llu", (unsigned long long)fs->cache_bytes,
		    (unsigned long long)cap);
	} else if (l->max_files && fs->cache_objects >= l->max_files) {
		ev->allocate = 0;
		snprintf(ev->refuse, sizeof(ev->refuse), "cache %llu objects "
		    ">= max_files %llu", (unsigned long long)fs->cache_objects,
		    (unsigned long long)l->max_files);
	}

	/* what it takes to reach the run thresholds and 95% of the caps */
	if (bfree < brun)
		nb = (brun - bfree) * fs->bsize;
	if (files && ffree < frun)
		nf = frun - ffree;
	if (cap && fs->cache_bytes > CAP_LOW(cap) &&
	    fs->cache_bytes - CAP_LOW(cap) > nb)
		nb = fs->cache_bytes - CAP_LOW(cap);
	if (l->max_files && fs->cache_objects > CAP_LOW(l->max_files) &&
	    fs->cache_objects - CAP_LOW(l->max_files) > nf)
		nf = fs->cache_objects - CAP_LOW(l->max_files);
	ev->need_bytes = nb;
	ev->need_files = nf;

	if (!culling) {
		if (bfree < bcull)
			snprintf(ev->why, sizeof(ev->why), "free blocks %.1f%% "
			    "< bcull %u%%", pct(bfree, fs->blocks), l->bcull);
		else if (files && ffree < fcull)
			snprintf(ev->why, sizeof(ev->why), "free files %.1f%% "
			    "< fcull %u%%", pct(ffree, fs->files), l->fcull);
		else if (cap && fs->cache_bytes >= cap)
			snprintf(ev->why, sizeof(ev->why), "cache %llu bytes "
			    ">= max_size %llu",
			    (unsigned long long)fs->cache_bytes,
			    (unsigned long long)cap);
		else if (l->max_files && fs->cache_objects >= l->max_files)
			snprintf(ev->why, sizeof(ev->why), "cache %llu objects "
			    ">= max_files %llu",
			    (unsigned long long)fs->cache_objects,
			    (unsigned long long)l->max_files);
		culling = ev->why[0] != '\0';
	} else if (nb == 0 && nf == 0 &&
	    (fs->pending_blocks != 0 || fs->pending_files != 0)) {
		/* the estimate meets the run thresholds, but it counts what the
		 * reaper has not unlinked yet: stay in the culling state (no
		 * new pass: nothing is needed) and judge by the real free
		 * space once it has */
		snprintf(ev->why, sizeof(ev->why), "free blocks %.1f%% once "
		    "the graveyard is reaped: waiting for the reaper",
		    pct(bfree, fs->blocks));
	} else if (nb == 0 && nf == 0) {
		culling = 0;
	} else if (bfree < brun) {
		snprintf(ev->why, sizeof(ev->why), "free blocks %.1f%% < brun "
		    "%u%%", pct(bfree, fs->blocks), l->brun);
	} else if (files && ffree < frun) {
		snprintf(ev->why, sizeof(ev->why), "free files %.1f%% < frun "
		    "%u%%", pct(ffree, fs->files), l->frun);
	} else {
		snprintf(ev->why, sizeof(ev->why), "cache above 95%% of "
		    "max_size/max_files");
	}
	if (!culling && was_culling)
		snprintf(ev->why, sizeof(ev->why), "free blocks %.1f%% >= brun "
		    "%u%%, free files %.1f%% >= frun %u%%",
		    pct(bfree, fs->blocks), l->brun,
		    files ? pct(ffree, fs->files) : 100.0, l->frun);
	else if (!culling)
		snprintf(ev->why, sizeof(ev->why), "free blocks %.1f%% >= bcull "
		    "%u%%, free files %.1f%% >= fcull %u%%",
		    pct(bfree, fs->blocks), l->bcull,
		    files ? pct(ffree, fs->files) : 100.0, l->fcull);
	if (!culling)
		ev->need_bytes = ev->need_files = 0;
	ev->culling = culling && !nocull;
	if (culling && nocull) {
		memmove(ev->why + 8, ev->why, sizeof(ev->why) - 8);
		memcpy(ev->why, "nocull: ", 8);
		ev->why[sizeof(ev->why) - 1] = '\0';
	}
}

/* Should a suspended culler try again? */
static int
resume_due(const struct cull_limits *l, const struct cull_fs *fs,
    uint64_t rel_obj, uint64_t rel_bytes)
{
	uint64_t gained_b = fs->bavail > cs.susp_bavail ?
	    fs->bavail - cs.susp_bavail : 0;
	uint64_t gained_f = fs->ffree > cs.susp_ffree ?
	    fs->ffree - cs.susp_ffree : 0;
	uint64_t robj = rel_obj - cs.susp_rel_obj;
	uint64_t rblk = (rel_bytes - cs.susp_rel_bytes) /
	    (fs->bsize ? fs->bsize : 4096);

	if (l->resume_blocks < 0 && l->resume_files < 0)
		return robj > 0 || gained_b > 0 || gained_f > 0;
	if (l->resume_blocks >= 0 &&
	    (rblk >= (uint64_t)l->resume_blocks ||
	    gained_b >= (uint64_t)l->resume_blocks))
		return 1;
	if (l->resume_files >= 0 &&
	    (robj >= (uint64_t)l->resume_files ||
	    gained_f >= (uint64_t)l->resume_files))
		return 1;
	return 0;
}

/* ---- configuration ------------------------------------------------------ */

static void
set_limits(const struct conf *c)
{
	/* cull_policy: which objects index_select_oldest puts first */
	index_set_policy(c->cull_policy == CONF_CULL_LRU ? INDEX_POLICY_LRU :
	    INDEX_POLICY_S3);
	cs.lim.brun = c->brun;
	cs.lim.bcull = c->bcull;
	cs.lim.bstop = c->bstop;
	cs.lim.frun = c->frun;
	cs.lim.fcull = c->fcull;
	cs.lim.fstop = c->fstop;
	cs.lim.max_size = c->max_size;
	cs.lim.max_size_percent = c->max_size_percent;
	cs.lim.max_files = c->max_files;
	cs.lim.culltable = c->culltable < 12 ? 12 : c->culltable > 20 ? 20 :
	    c->culltable;
	cs.lim.resume_blocks = c->resume_blocks;
	cs.lim.resume_files = c->resume_files;
}

void
cull_reconfigure(const struct conf *c)
{
	set_limits(c);
	cs.nocull = cs.nocull_flag || c->nocull;
	cs.suspended = 0;	/* new rules: look again */
	cull_kick();
}

/* ---- the watch -------------------------------------------------------- */

static void
timer_fn(void *arg)
{
	(void)arg;
	cs.timer = NULL;
	check();
}

/* (Re)arm the check timer to fire within ms. */
static void
arm(uint64_t ms)
{
	uint64_t due = loop_now_ms() + ms;

	if (cs.timer && cs.timer_due <= due)
		return;
	if (cs.timer)
		loop_timer_cancel(cs.timer);
	cs.timer = loop_timer_add(ms, timer_fn, NULL);
	cs.timer_due = due;
}

static int
read_fs(struct cull_fs *fs)
{
	struct statfs sf;

	if (fstatfs(cs.rootfd, &sf) < 0)
		return -errno;
	fs->bsize = sf.f_bsize ? (uint64_t)sf.f_bsize : 4096;
	fs->blocks = sf.f_blocks;
	fs->bavail = sf.f_bavail;
	fs->files = sf.f_files;
	fs->ffree = sf.f_ffree;
	fs->pending_blocks = (cs.pending_bytes + fs->bsize - 1) / fs->bsize;
	fs->pending_files = cs.pending_objects;
	fs->cache_bytes = index_total_bytes();
	fs->cache_objects = index_objects();
	return 0;
}

static void
check(void)
{
	struct cull_eval ev;
	int r, near;

	if (!cs.init)
		return;
	if ((r = read_fs(&cs.fs)) < 0) {
		log_warnx_rl(&rl_statfs, "cull: statfs: %s", strerror(-r));
		arm(FAR_MS);
		return;
	}
	cs.have_fs = 1;
	evaluate(&cs.lim, &cs.fs, cs.culling, cs.nocull, &ev);
	if (cs.allocate && !ev.allocate) {
		cs.refusals++;
		log_info("cull: refusing new objects: %s", ev.refuse);
	} else if (!cs.allocate && ev.allocate && cs.have_fs)
		log_info("cull: accepting new objects again");
	cs.allocate = ev.allocate;
	if (!cs.culling && ev.culling) {
		log_info("cull: culling: %s", ev.why);
		cs.ep_bavail = cs.fs.bavail;
		cs.ep_reaped = 0;
	}
	else if (cs.culling && !ev.culling) {
		log_info("cull: done culling: %s", ev.why);
		cs.suspended = 0;
	}
	cs.culling = ev.culling;
	cs.ev = ev;

	if (cs.suspended && resume_due(&cs.lim, &cs.fs,
	    index_released_objects() + cs.ext_rel_obj,
	    index_released_bytes() + cs.ext_rel_bytes)) {
		log_info("cull: objects were released: culling resumes");
		cs.suspended = 0;
	} else if (cs.suspended && index_objects() - index_pinned_objects() >
	    cs.susp_unpinned) {
		/* the scan (or a rescan) found more: they may be culled */
		log_info("cull: new objects in the index: culling resumes");
		cs.suspended = 0;
	}
	/* safety net: reaped bytes that do not show up as free space are held
	 * open somewhere; culling more would empty the cache for nothing */
	if (cs.culling && !cs.suspended && !cs.pass) {
		uint64_t reaped = cs.ep_reaped;
		uint64_t gained = cs.fs.bavail > cs.ep_bavail ?
		    (cs.fs.bavail - cs.ep_bavail) * cs.fs.bsize : 0;

		if (reaped >= ((uint64_t)4 << 20) && gained < reaped / 4) {
			log_warnx("cull: %llu bytes culled and unlinked but only "
			    "%llu came back as free space: are the files still "
			    "open?", (unsigned long long)reaped,
			    (unsigned long long)gained);
			suspend("culled space does not come back");
			cs.ep_bavail = cs.fs.bavail;
			cs.ep_reaped = 0;
		}
	}
	/* while the startup scan runs the index is partial: cull only in an
	 * emergency (allocation refused) */
	if (cs.culling && !cs.suspended && !cs.pass &&
	    (!scan_running() || !cs.allocate))
		start_pass();

	near = cs.culling || !cs.allocate ||
	    cs.fs.bavail + cs.fs.pending_blocks <
	    pct_of(cs.fs.blocks, cs.lim.brun) * 3 / 2 ||
	    (cs.fs.files && cs.fs.ffree + cs.fs.pending_files <
	    pct_of(cs.fs.files, cs.lim.frun) * 3 / 2);
	arm(near ? NEAR_MS : FAR_MS);
}

/*
 * The store kicks on every fill. Near the stop thresholds a fast writer
 * can fill a lot in KICK_MS, so there the allocation verdict is brought up
 * to date at once (one fstatfs, at most every QUICK_MS); passes still
 * start only from the timer, never inside the store's call.
 */
void
cull_kick(void)
{
	struct cull_fs fs;
	struct cull_eval ev;
	uint64_t now;

	if (!cs.init)
		return;
	now = loop_now_ms();
	if (cs.have_fs && (cs.culling || cs.suspended || !cs.allocate) &&
	    now - cs.quick_ms >= QUICK_MS && read_fs(&fs) == 0) {
		cs.quick_ms = now;
		evaluate(&cs.lim, &fs, cs.culling, cs.nocull, &ev);
		if (cs.allocate && !ev.allocate) {
			cs.refusals++;
			log_info("cull: refusing new objects: %s", ev.refuse);
			cs.ev = ev;
			cs.fs = fs;
			cs.allocate = 0;
		}
	}
	arm(KICK_MS);
}

void
cull_released(uint64_t objects, uint64_t bytes)
{
	cs.ext_rel_obj += objects;
	cs.ext_rel_bytes += bytes;
	if (cs.suspended)
		cull_kick();
}

void
cull_on_culled(void (*fn)(void *arg, uint32_t id), void *arg)
{
	on_culled = fn;
	on_culled_arg = arg;
}

int
cull_can_allocate(void)
{
	return !cs.init || cs.allocate;
}

/* ---- passes ------------------------------------------------------------- */

static int default_cull_one(const char *, uint8_t, const char *, int64_t *,
    void *);
static int cull_victim(struct default_arg *a, const char *volume_key,
    uint16_t vol, uint8_t fanout, const char *name);
static void job_dir_open(struct default_arg *a);
static void job_dir_publish(struct default_arg *a);
static void dirfds_close(struct default_arg *a);
static void dirfds_size(struct default_arg *a, size_t n);

static void
cull_run(struct work *w)
{
	struct cull_job *j = (struct cull_job *)w;
	struct victim *v;
	unsigned i;

	if (j->ops.cull_one != default_cull_one) {
		for (i = 0; i < j->n; i++)
			j->v[i].res = j->ops.cull_one(j->strs +
			    j->v[i].vkey_off, j->v[i].fanout, j->strs +
			    j->v[i].name_off, &j->v[i].last_use, j->ops.arg);
		return;
	}
	job_dir_open(j->ops.arg);
	for (i = 0; i < j->n; i++) {
		v = &j->v[i];
		v->res = cull_victim(j->ops.arg, j->strs + v->vkey_off, v->vol,
		    v->fanout, j->strs + v->name_off);
	}
	job_dir_publish(j->ops.arg);
}

static void end_pass(void);

static void
submit_pending(void)
{
	struct cull_job *j;
	unsigned max = cs.ops.serial ? 1 : JOBS_IN_FLIGHT;

	while (cs.jobs_inflight < max && (j = cs.pending_head) != NULL) {
		cs.pending_head = j->next_pending;
		if (!cs.pending_head)
			cs.pending_tail = NULL;
		cs.jobs_inflight++;
		workq_submit(cs.cq, &j->w);
	}
}

static void
cull_done(struct work *w)
{
	struct cull_job *j = (struct cull_job *)w;
	const char *name;
	struct victim *v;
	uint64_t b;
	unsigned i;

	for (i = 0; i < j->n; i++) {
		v = &j->v[i];
		name = index_name(v->id);
		/* the store may have dropped it and the id been reused */
		if (name == NULL || index_get_state(v->id) != INDEX_CULLING ||
		    index_vol(v->id) != v->vol ||
		    strcmp(name, j->strs + v->name_off) != 0)
			continue;
		b = index_bytes(v->id);
		switch (v->res) {
		case 0:
			log_debug("cull: culled I%s/@%02x/%s: %llu bytes, last "
			    "use %lld", j->strs + v->vkey_off, v->fanout,
			    j->strs + v->name_off, (unsigned long long)b,
			    (long long)index_last_use(v->id));
			if (on_culled)
				on_culled(on_culled_arg, v->id);
			index_del(v->id);
			cs.culled_objects++;
			cs.culled_bytes += b;
			cs.pass_objects++;
			cs.pass_bytes += b;
			/* only the default op renames into graveyard/ for the
			 * reaper; the kernel unlinks what it culls itself */
			if (cs.ops.arg == &cs.dflt) {
				if (cs.early_objects) {	/* reaped already */
					cs.early_objects--;
					cs.early_bytes -= b < cs.early_bytes ?
					    b : cs.early_bytes;
					break;
				}
				cs.pending_objects++;
				cs.pending_bytes += b;
			}
			break;
		case CULL_USED_SINCE:
			/* used after the index last heard of it: a new use */
			index_set_state(v->id, INDEX_LIVE);
			index_hit(v->id, v->last_use);
			cs.used_since++;
			cs.pass_gone++;	/* progress: the index knows more */
			break;
		case -EBUSY:
			/* in use now: used now, so not picked first again */
			index_set_state(v->id, INDEX_LIVE);
			index_touch(v->id, index_now());
			cs.skipped_busy++;
			break;
		case -ENOENT:
		case -ESTALE:
			index_del(v->id);
			cs.gone++;
			cs.pass_gone++;
			break;
		default:
			index_set_state(v->id, INDEX_LIVE);
			index_touch(v->id, index_now());
			cs.errors++;
			log_warnx_rl(&rl_err, "cull: I%s/@%02x/%s: %s",
			    j->strs + v->vkey_off, v->fanout,
			    j->strs + v->name_off, strerror(-v->res));
			break;
		}
	}
	free(j);
	cs.jobs_inflight--;
	if (!cs.init)
		return;
	submit_pending();
	/* (inotify tells the reaper as renames land: it unlinks while the
	 * pass still renames, on the other core) */
	if (cs.pass_objects && !reap_watching())
		reap_kick();
	if (cs.jobs_inflight == 0 && cs.pending_head == NULL)
		end_pass();
}

static void
finish_request(int err)
{
	void (*done)(void *, uint64_t, uint64_t, int) = cs.req.done;

	if (!cs.req.active)
		return;
	cs.req.active = 0;
	if (done)
		done(cs.req.arg, cs.req.objects, cs.req.bytes, err);
}

/* Bytes and files still to free for the pass about to start. */
static void
pass_need(uint64_t *nb, uint64_t *nf)
{
	uint64_t bfree, target;

	*nb = cs.ev.need_bytes;
	*nf = cs.ev.need_files;
	if (!cs.req.active)
		return;
	switch (cs.req.mode) {
	case PROTO_CULL_BYTES:
		*nb = cs.req.value > cs.req.bytes ?
		    cs.req.value - cs.req.bytes : 0;
		*nf = 0;
		break;
	case PROTO_CULL_TO_PERCENT:
		bfree = cs.fs.bavail + cs.fs.pending_blocks;
		target = pct_of(cs.fs.blocks, (unsigned)cs.req.value);
		*nb = target > bfree ? (target - bfree) * cs.fs.bsize : 0;
		*nf = 0;
		break;
	default: {	/* PROTO_CULL_THRESHOLDS: until brun and frun */
		struct cull_eval ev;

		evaluate(&cs.lim, &cs.fs, 1, 0, &ev);
		*nb = ev.need_bytes;
		*nf = ev.need_files;
		break;
	}
	}
}

static void
suspend(const char *what)
{
	if (!cs.suspended)
		log_warnx("cull: %s (%llu objects, %llu bytes held by "
		    "clients; %llu found in use so far): culling suspended "
		    "until something is released", what,
		    (unsigned long long)index_pinned_objects(),
		    (unsigned long long)index_pinned_bytes(),
		    (unsigned long long)cs.skipped_busy);
	cs.suspended = 1;
	cs.suspensions++;
	cs.susp_bavail = cs.fs.bavail;
	cs.susp_ffree = cs.fs.ffree;
	cs.susp_rel_obj = index_released_objects() + cs.ext_rel_obj;
	cs.susp_rel_bytes = index_released_bytes() + cs.ext_rel_bytes;
	cs.susp_unpinned = index_objects() - index_pinned_objects();
}

static void
start_pass(void)
{
	size_t n = (size_t)1 << cs.lim.culltable, k, i;
	uint64_t nb, nf, gb = 0, gf = 0;
	struct cull_job *j = NULL;
	const char *vkey, *name;
	struct victim *v;
	size_t lv, ln;

	if (cs.pass)
		return;
	pass_need(&nb, &nf);
	if (nb == 0 && nf == 0) {
		finish_request(0);
		return;
	}
	/*
	 * Select no more than the deficit needs (with a margin, by the mean
	 * object size): selecting 2^20 out of 1e6 is a full heap sort on the
	 * main thread, selecting 2e4 is one cheap pass over the entries. If
	 * the guess falls short, the next pass takes the rest.
	 */
	if (index_objects() > 0) {
		uint64_t mean = index_total_bytes() / index_objects() + 1;
		uint64_t want = nb / mean + nb / mean / 4 + 64;

		if (want < nf + nf / 16 + 64)
			want = nf + nf / 16 + 64;
		if (want < n)
			n = want;
	}
	if (cs.selcap < n) {
		uint32_t *ns = realloc(cs.sel, n * sizeof(*ns));

		if (ns == NULL) {
			log_warnx("cull: out of memory");
			finish_request(-ENOMEM);
			return;
		}
		cs.sel = ns;
		cs.selcap = n;
	}
	if (cs.ops.arg == &cs.dflt)
		dirfds_size(&cs.dflt, (size_t)index_volumes() * 256);
	k = index_select_oldest(cs.sel, n);
	if (k == 0) {
		suspend("nothing can be culled");
		finish_request(0);
		return;
	}
	cs.pass = 1;
	cs.pass_start_ms = loop_now_ms();
	cs.pass_start_ns = hist_now_ns();
	cs.pass_objects = cs.pass_bytes = cs.pass_gone = 0;
	for (i = 0; i < k && (gb < nb || gf < nf); i++) {
		if (j == NULL) {
			if ((j = malloc(sizeof(*j))) == NULL)
				break;
			memset(&j->w, 0, sizeof(j->w));
			j->w.run = cull_run;
			j->w.done = cull_done;
			j->ops = cs.ops;
			j->n = 0;
			j->strlen = 0;
			j->next_pending = NULL;
		}
		vkey = index_volume_key(index_vol(cs.sel[i]));
		name = index_name(cs.sel[i]);
		lv = strlen(vkey) + 1;
		ln = strlen(name) + 1;
		v = &j->v[j->n++];
		v->id = cs.sel[i];
		v->vol = index_vol(v->id);
		v->fanout = index_fanout(v->id);
		v->vkey_off = j->strlen;
		memcpy(j->strs + j->strlen, vkey, lv);
		j->strlen += lv;
		v->name_off = j->strlen;
		memcpy(j->strs + j->strlen, name, ln);
		j->strlen += ln;
		v->res = -EIO;
		v->last_use = index_last_use(v->id);
		index_set_state(v->id, INDEX_CULLING);
		gb += index_bytes(v->id);
		gf++;
		if (j->n == JOB_VICTIMS) {
			if (cs.pending_tail)
				cs.pending_tail->next_pending = j;
			else
				cs.pending_head = j;
			cs.pending_tail = j;
			j = NULL;
		}
	}
	if (j != NULL && j->n > 0) {
		if (cs.pending_tail)
			cs.pending_tail->next_pending = j;
		else
			cs.pending_head = j;
		cs.pending_tail = j;
	} else
		free(j);
	if (cs.pending_head == NULL) {	/* out of memory */
		cs.pass = 0;
		for (i = 0; i < k; i++)
			index_set_state(cs.sel[i], INDEX_LIVE);
		finish_request(-ENOMEM);
		return;
	}
	log_debug("cull: pass: %zu victims of %zu candidates for %llu bytes, "
	    "%llu files", i, k, (unsigned long long)nb,
	    (unsigned long long)nf);
	submit_pending();
}

static void
end_pass(void)
{
	dirfds_close(&cs.dflt);
	cs.pass = 0;
	cs.passes++;
	cs.early_bytes = cs.early_objects = 0;	/* every cull job is done */
	cs.cull_ms += loop_now_ms() - cs.pass_start_ms;
	hist_observe(HIST_CULL_PASS, hist_now_ns() - cs.pass_start_ns);
	if (cs.req.active) {
		cs.req.objects += cs.pass_objects;
		cs.req.bytes += cs.pass_bytes;
	}
	if (!cs.init)		/* cull_fini: the reaper queue still runs */
		return;
	if (cs.pass_objects > 0)
		reap_kick();	/* no-op when inotify has it already */
	else if (cs.pass_gone == 0)
		suspend("a pass culled nothing");
	if (cs.req.active) {
		if (cs.pass_objects + cs.pass_gone == 0 ||
		    read_fs(&cs.fs) < 0) {
			finish_request(0);
		} else {
			start_pass();	/* more, or finish_request */
			return;
		}
	}
	check();
}

/* ---- what the reaper says (reap.h) -------------------------------------- */

/* A reap ended: what it unlinked is free space now, no longer pending. */
static void
reaped(uint64_t objects, uint64_t bytes, int all)
{
	cs.ep_reaped += bytes;
	/* more than was pending: cull jobs in flight made them (early_bytes) */
	if (objects > cs.pending_objects && cs.jobs_inflight) {
		cs.early_objects += objects - cs.pending_objects;
		cs.early_bytes += bytes > cs.pending_bytes ?
		    bytes - cs.pending_bytes : 0;
	}
	cs.pending_bytes = cs.pending_bytes > bytes ?
	    cs.pending_bytes - bytes : 0;
	cs.pending_objects = cs.pending_objects > objects ?
	    cs.pending_objects - objects : 0;
	if (!cs.pass && cs.pending_objects && all)
		cs.pending_bytes = cs.pending_objects = 0; /* all reaped */
	check();
}

/* While a pass runs, its cull jobs may still rename into graveyard/.c*. */
static int
pass_running(void)
{
	return cs.pass;
}

int
cull_request(uint32_t mode, uint64_t value,
    void (*done)(void *arg, uint64_t objects, uint64_t bytes, int err),
    void *arg)
{
	int r;

	if (!cs.init)
		return -EINVAL;
	if (mode > PROTO_CULL_TO_PERCENT ||
	    (mode == PROTO_CULL_TO_PERCENT && value > 100))
		return -EINVAL;
	if (cs.nocull)
		return -EPERM;
	if (cs.req.active)
		return -EBUSY;
	if ((r = read_fs(&cs.fs)) < 0)
		return r;
	cs.req.active = 1;
	cs.req.mode = mode;
	cs.req.value = value;
	cs.req.objects = cs.req.bytes = 0;
	cs.req.done = done;
	cs.req.arg = arg;
	cs.suspended = 0;	/* an admin asks: always try */
	if (!cs.pass)
		start_pass();
	/* else end_pass continues with the request */
	return 0;
}

/* ---- the default cull_one: rename into graveyard/ ---------------------- */

static atomic_ulong grave_seq;

/* How many fan-out dir fds a pass may keep: a quarter of the fd limit. */
static unsigned
dirfds_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 256;
	return rl.rlim_cur / 4 < DIRFDS_MAX ? rl.rlim_cur / 4 : DIRFDS_MAX;
}

/*
 * Each cull job of the default ops renames its victims into a directory of
 * its own, graveyard/.c<pid>.<seq>, and at the end renames that directory
 * to graveyard/c<pid>.<seq>, which is when the reaper (told by inotify)
 * takes it whole. So renames and unlinks never wait on the same directory
 * lock, and no directory grows to the size of a pass. A crash leaves
 * either kind behind; the full reap at start removes both.
 */
static __thread int job_dfd = -1;
static __thread char job_dname[48];

static void
job_dir_open(struct default_arg *a)
{
	snprintf(job_dname, sizeof(job_dname), ".c%lx.%lx",
	    (unsigned long)getpid(), atomic_fetch_add(&grave_seq, 1));
	job_dfd = -1;
	if (mkdirat(a->gravefd, job_dname, 0700) == 0)
		job_dfd = openat(a->gravefd, job_dname, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* on failure, victims go to graveyard/ itself */
}

static void
job_dir_publish(struct default_arg *a)
{
	if (job_dfd < 0)
		return;
	close(job_dfd);
	job_dfd = -1;
	/* if this fails the directory stays until the next start */
	(void)renameat(a->gravefd, job_dname, a->gravefd, job_dname + 1);
}

/*
 * The fan-out directory fds of a pass. Opening cache/I<volume>/@xx for
 * every victim costs a path walk and a close around each rename, and the
 * renames are the part of culling the kernel serialises (all
 * cross-directory renames of a filesystem take one mutex), so a pass keeps
 * what it opened, up to maxopen, and closes it all when it ends.
 */
static void
dirfds_size(struct default_arg *a, size_t n)
{
	_Atomic int *t;
	size_t i;

	if (n <= a->ndirfds)
		return;		/* only between passes: no worker reads it */
	if ((t = realloc(a->dirfds, n * sizeof(*t))) == NULL)
		return;		/* then workers open per victim */
	for (i = a->ndirfds; i < n; i++)
		atomic_init(&t[i], -1);
	a->dirfds = t;
	a->ndirfds = n;
}

static void
dirfds_close(struct default_arg *a)
{
	size_t i;
	int fd;

	if (atomic_load(&a->nopen) == 0)
		return;
	for (i = 0; i < a->ndirfds; i++)
		if ((fd = atomic_exchange(&a->dirfds[i], -1)) >= 0)
			close(fd);
	atomic_store(&a->nopen, 0);
}

/* The fd of cache/I<volume_key>/@<fanout>; *own: the caller closes it. */
static int
fanout_fd(struct default_arg *a, const char *volume_key, uint16_t vol,
    uint8_t fanout, int *own)
{
	size_t slot = (size_t)vol * 256 + fanout;
	char path[16 + CFMT_MAX_VOLUME_KEY];
	int fd, cur = -1;

	*own = 0;
	if (slot < a->ndirfds && (fd = atomic_load(&a->dirfds[slot])) >= 0)
		return fd;
	snprintf(path, sizeof(path), "cache/I%s/@%02x", volume_key, fanout);
	if ((fd = open_dir_beneath(a->rootfd, path)) < 0)
		return fd == -ENOENT ? -ESTALE : fd;
	if (slot >= a->ndirfds || atomic_fetch_add(&a->nopen, 1) >=
	    a->maxopen) {
		if (slot < a->ndirfds)
			atomic_fetch_sub(&a->nopen, 1);
		*own = 1;
		return fd;
	}
	if (atomic_compare_exchange_strong(&a->dirfds[slot], &cur, fd))
		return fd;
	atomic_fetch_sub(&a->nopen, 1);	/* the other worker's is there */
	close(fd);
	return cur;
}

/* Rename one victim into this job's graveyard directory. */
static int
cull_victim(struct default_arg *a, const char *volume_key, uint16_t vol,
    uint8_t fanout, const char *name)
{
	char grave[64];
	int dfd, own, r = 0;

	if ((dfd = fanout_fd(a, volume_key, vol, fanout, &own)) < 0)
		return dfd;
	snprintf(grave, sizeof(grave), "c%lx.%lx", (unsigned long)getpid(),
	    atomic_fetch_add(&grave_seq, 1));
	if (renameat(dfd, name, job_dfd >= 0 ? job_dfd : a->gravefd,
	    grave) < 0) {
		r = -errno;
		/* ENOENT: the object is gone, or our target directory */
		if (r == -ENOENT)
			r = faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ?
			    -EIO : -ESTALE;
	}
	if (own)
		close(dfd);
	return r;
}

/* The default cull_one, as cull_ops has it (the workers call cull_victim
 * directly, with the volume's id for the fd cache). */
static int
default_cull_one(const char *volume_key, uint8_t fanout, const char *name,
    int64_t *last_use, void *arg)
{
	(void)last_use;	/* the store sees every use: the index is exact */
	return cull_victim(arg, volume_key, UINT16_MAX, fanout, name);
}

/* ---- control: status, stats, larderctl cull ------------------------------- */

static void
status_kv(struct ctl_kv *kv)
{
	char buf[200];
	struct scan_progress p;

	if (cs.have_fs) {
		snprintf(buf, sizeof(buf), "%.1f%% (brun %u%%, bcull %u%%, "
		    "bstop %u%%)", pct(cs.fs.bavail, cs.fs.blocks),
		    cs.lim.brun, cs.lim.bcull, cs.lim.bstop);
		ctl_kv_str(kv, "cull.blocks_free", buf);
		snprintf(buf, sizeof(buf), "%.1f%% (frun %u%%, fcull %u%%, "
		    "fstop %u%%)", pct(cs.fs.ffree, cs.fs.files),
		    cs.lim.frun, cs.lim.fcull, cs.lim.fstop);
		ctl_kv_str(kv, "cull.files_free", buf);
	}
	snprintf(buf, sizeof(buf), "%s: %s", cs.nocull ? "disabled" :
	    cs.suspended ? "suspended" : cs.culling ? "culling" : "idle",
	    cs.suspended ? "everything that could be culled is in use" :
	    cs.ev.why[0] ? cs.ev.why : "not checked yet");
	ctl_kv_str(kv, "cull.state", buf);
	snprintf(buf, sizeof(buf), "%s%s", cs.allocate ? "yes" : "refused: ",
	    cs.allocate ? "" : cs.ev.refuse);
	ctl_kv_str(kv, "cull.allocate", buf);
	ctl_kv_u64(kv, "cull.cache_objects", index_objects());
	ctl_kv_u64(kv, "cull.cache_bytes", index_total_bytes());
	ctl_kv_u64(kv, "cull.max_size", cs.have_fs ?
	    cap_bytes(&cs.lim, &cs.fs) : cs.lim.max_size);
	ctl_kv_u64(kv, "cull.max_files", cs.lim.max_files);
	ctl_kv_u64(kv, "cull.graveyard_bytes", cs.pending_bytes);
	scan_get_progress(&p);
	ctl_kv_str(kv, "scan.state", scan_state());
	snprintf(buf, sizeof(buf), "%u/%u directories, %llu objects",
	    p.dirs_done, p.dirs_total, (unsigned long long)p.objects);
	ctl_kv_str(kv, "scan.progress", buf);
}

static void
put_kv(void *arg, const char *key, uint64_t v)
{
	ctl_kv_u64(arg, key, v);
}

static void
stats_kv(struct ctl_kv *kv)
{
	ctl_kv_u64(kv, "cull.objects", cs.culled_objects);
	ctl_kv_u64(kv, "cull.bytes", cs.culled_bytes);
	ctl_kv_u64(kv, "cull.passes", cs.passes);
	ctl_kv_u64(kv, "cull.ms", cs.cull_ms);
	ctl_kv_u64(kv, "cull.skipped_in_use", cs.skipped_busy);
	ctl_kv_u64(kv, "cull.used_since", cs.used_since);
	ctl_kv_u64(kv, "cull.pinned_objects", index_pinned_objects());
	ctl_kv_u64(kv, "cull.pinned_bytes", index_pinned_bytes());
	ctl_kv_u64(kv, "cull.gone", cs.gone);
	ctl_kv_u64(kv, "cull.errors", cs.errors);
	ctl_kv_u64(kv, "cull.suspensions", cs.suspensions);
	ctl_kv_u64(kv, "cull.refusals", cs.refusals);
	reap_stats(put_kv, kv);
	scan_stats(put_kv, kv);
}

static void
cull_replied(void *arg, uint64_t objects, uint64_t bytes, int err)
{
	struct ctl_req *rq = arg;
	uint8_t body[16];
	struct proto_buf b;

	if (err < 0) {
		control_reply_str(rq, proto_status_from_errno(-err),
		    "cull: %s", strerror(-err));
		return;
	}
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u64(&b, objects);
	proto_put_u64(&b, bytes);
	control_reply(rq, PROTO_OK, body, b.off, -1);
}

static int
handle_cull(struct ctl_req *rq)
{
	uint32_t mode = proto_get_u32(&rq->body);
	uint64_t value = proto_get_u64(&rq->body);
	int r;

	if (rq->body.err || proto_remaining(&rq->body) != 0)
		return -EPROTO;
	if (mode > PROTO_CULL_TO_PERCENT ||
	    (mode == PROTO_CULL_TO_PERCENT && value > 100)) {
		control_reply_str(rq, PROTO_EINVAL, "cull: bad mode or percent");
		return 0;
	}
	if (cs.nocull) {
		control_reply_str(rq, PROTO_EREFUSED, "culling is disabled "
		    "(nocull or -N)");
		return 0;
	}
	if ((r = cull_request(mode, value, cull_replied, rq)) < 0)
		return r;
	return CTL_DEFERRED;
}

/* ---- life ------------------------------------------------------------------ */

int
cull_init(const struct conf *c, int rootfd, int nocull,
    const struct cull_ops *ops)
{
	int r;

	memset(&cs, 0, sizeof(cs));
	set_limits(c);
	cs.rootfd = rootfd;
	cs.nocull = nocull;
	cs.nocull_flag = nocull && !c->nocull;
	cs.allocate = 1;
	cs.dflt.rootfd = rootfd;
	cs.dflt.gravefd = -1;
	cs.dflt.maxopen = dirfds_max();
	if (ops && ops->cull_one)
		cs.ops = *ops;
	else {
		cs.dflt.gravefd = open_dir_beneath(rootfd, "graveyard");
		if (cs.dflt.gravefd < 0)
			return cs.dflt.gravefd;
		cs.ops.cull_one = default_cull_one;
		cs.ops.arg = &cs.dflt;
	}
	if ((cs.cq = workq_create("larder-cull", CULL_THREADS)) == NULL) {
		r = -errno;
		goto fail;
	}
	/* the reaper starts with a full reap: what a crash left there */
	if ((r = reap_init(rootfd, reaped, pass_running)) < 0)
		goto fail;
	control_register(PROTO_CULL, handle_cull, 1);
	control_add_status(status_kv);
	control_add_stats(stats_kv);
	cs.init = 1;
	check();
	return 0;
fail:
	if (cs.cq)
		workq_destroy(cs.cq);
	if (cs.dflt.gravefd >= 0)
		close(cs.dflt.gravefd);
	memset(&cs, 0, sizeof(cs));
	return r;
}

void
cull_fini(void)
{
	if (!cs.init)
		return;
	cs.init = 0;
	if (cs.timer)
		loop_timer_cancel(cs.timer);
	cs.timer = NULL;
	/* let jobs in flight finish; their done() see !init and stop */
	while (cs.pending_head) {	/* never submitted */
		struct cull_job *j = cs.pending_head;

		cs.pending_head = j->next_pending;
		free(j);
	}
	cs.pending_tail = NULL;
	workq_destroy(cs.cq);
	reap_fini();
	finish_request(-ECANCELED);
	dirfds_close(&cs.dflt);
	free(cs.dflt.dirfds);
	if (cs.dflt.gravefd >= 0)
		close(cs.dflt.gravefd);
	free(cs.sel);
	memset(&cs, 0, sizeof(cs));
}
