/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cull.c: space watch, thresholds and culling (see cull.h); the rename
 * backend is bury.c, the graveyard reaper reap.c.
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
 * A pass selects up to 2^culltable candidates, oldest first, in slices
 * between loop turns (index_select_begin/step/end, which skip pinned and
 * culling objects and, at the end, those changed meanwhile), takes from
 * the front as many as the deficit needs, sorts them by fan-out directory
 * if some are nameless (index.h), marks them INDEX_CULLING and hands
 * them to the "larder-cull" workers in jobs of JOB_VICTIMS; a worker
 * first finds the names of its nameless victims by reading their
 * directories (resolve_names: inode and name hash must both match, or
 * the victim is gone), then gives its job's batch to the backend of the
 * kind cull_init was given (cull.h):
 * CULL_RENAME_TO_GRAVEYARD, bury.c's (rename into graveyard/), or
 * CULL_KERNEL, whose callback culls the batch. Back on the main thread,
 * a culled object leaves the index; one that is in use (-EBUSY) is marked
 * used now, so the next pass does not pick it again.
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
 * Allocation (refused below bstop/fstop or over a cap) is the write gate's
 * GATE_FULL (gate.h): check() and cull_kick() close and open it, and
 * cull_can_allocate() reads it. Culling itself never reads the gate: a
 * cull rename frees space, and it is not gated by freeze either (the
 * rename waits in the kernel while the filesystem is frozen).
 *
 * Threads and locks: none here; the work queues have their own (workq.h).
 * The main thread owns `culler`. A cull job carries copies of what its
 * worker needs; the rename backend's fan-out fd cache is lent with the job
 * and given back with its result (struct bury_cache, bury.h), and the
 * job's graveyard names come from a sequence number the main thread gave
 * it: the workers share nothing outside the queue locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cfmt.h"
#include "conf.h"
#include "proto.h"
#include "control.h"
#include "cull.h"
#include "gate.h"
#include "hist.h"
#include "index.h"
#include "beneath.h"
#include "bury.h"
#include "log.h"
#include "loop.h"
#include "names.h"
#include "reap.h"
#include "scan.h"
#include "workq.h"

#define CULL_THREADS	2
#define JOB_VICTIMS	256
#define JOBS_IN_FLIGHT	4
#define KICK_MS		100
#define QUICK_MS	5
#define NEAR_MS		1000
#define FAR_MS		10000
#define CAP_LOW(x)	((x) - (x) / 20)	/* cull caps down to 95% */

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

struct cull_job {
	struct work w;
	struct cull_job *next_pending;
	enum cull_backend kind;
	void (*cull_batch)(struct cull_victim *, unsigned, void *);
	void *arg;
	struct bury_job bury;		/* CULL_RENAME_TO_GRAVEYARD */
	unsigned n;
	struct cull_victim v[JOB_VICTIMS];
	uint32_t ids[JOB_VICTIMS];	/* the victims' index ids */
	/* per victim, moved along with v[] (resolve_names): the entry's
	 * identity (index_hash() at job_add, checked in victim_done); for a
	 * nameless one (index.h) its inode, and its name, found on the
	 * worker, in the room job_add kept for it in strs */
	uint64_t hash[JOB_VICTIMS];
	uint32_t ino[JOB_VICTIMS];
	uint8_t nameless[JOB_VICTIMS];
	size_t strlen;
	char strs[JOB_VICTIMS * (CFMT_MAX_VOLUME_KEY + 1 + CFMT_NAME_MAX + 1)];
};

/* The culler's state: main thread only (cull jobs get copies). */
static struct cull_state {
	int init;
	int rootfd;
	int nocull, nocull_flag;	/* nocull_flag: -N */
	struct cull_limits lim;
	struct cull_ops ops;
	int gravefd;			/* graveyard/ (rename backend) */
	struct bury_cache caches[JOBS_IN_FLIGHT];	/* one per job */
	unsigned long job_seq;
	struct workq *cq;

	struct loop_timer *timer;
	uint64_t timer_due;
	uint64_t quick_ms;		/* last allocation check from a kick */

	int have_fs;
	struct cull_fs fs;
	struct cull_eval ev;
	int culling;
	/* (whether allocation is allowed is not kept here: it is the write
	 * gate's GATE_FULL, see allocating()) */

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
	/* the selection of the pass about to start, in slices: one
	 * index_select_step per loop turn (select_slice), so that clients
	 * are served between them; pass is 1 meanwhile */
	struct index_sel *selecting;
	struct loop_timer *sel_timer;
	/* the pass's victims not in a job yet: sel[take_pos..take_end),
	 * INDEX_CULLING already; jobs are made as they can be submitted
	 * (fill_jobs), not all at once at the start of the pass */
	size_t take_pos, take_end;

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
	uint64_t unlinked_objects;	/* of culled_objects: bury.c unlinked in place */
	uint64_t skipped_busy, used_since, gone, errors, suspensions, refusals;
} culler;

static struct log_ratelimit rl_err, rl_statfs;

/* entries looked at per slice of a selection (tests make it small) */
static uint32_t select_budget = INDEX_SELECT_SLICE;

/* set by the store, maybe before cull_init: not part of culler */
static void (*on_culled)(void *, uint32_t);
static void *on_culled_arg;
static void (*on_victim)(void *, uint32_t);
static void *on_victim_arg;

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

/* The thresholds of evaluate() in blocks and files, and what is free. */
struct cull_marks {
	uint64_t bstop, bcull, brun, fstop, fcull, frun;
	uint64_t bfree, ffree;		/* counting the graveyard as free */
	uint64_t cap;			/* max_size in bytes; 0: none */
	int files;			/* 0: the filesystem has no file limit */
};

static void
marks(const struct cull_limits *l, const struct cull_fs *fs,
    struct cull_marks *m)
{
	m->bstop = pct_of(fs->blocks, l->bstop);
	m->bcull = pct_of(fs->blocks, l->bcull);
	m->brun = pct_of(fs->blocks, l->brun);
	m->fstop = pct_of(fs->files, l->fstop);
	m->fcull = pct_of(fs->files, l->fcull);
	m->frun = pct_of(fs->files, l->frun);
	m->bfree = fs->bavail + fs->pending_blocks;
	m->ffree = fs->ffree + fs->pending_files;
	m->cap = cap_bytes(l, fs);
	m->files = fs->files != 0;
}

/* 1 if free (blocks or files: what) is below mark (name, pct percent of
 * total), and so in why. */
static int
below(const char *what, uint64_t free, uint64_t total, uint64_t mark,
    const char *name, unsigned mark_pct, char *why, size_t len)
{
	if (free >= mark)
		return 0;
	snprintf(why, len, "free %s %.1f%% < %s %u%%", what, pct(free, total),
	    name, mark_pct);
	return 1;
}

/* 1 if the cache is at max_size or max_files, and which, in why. */
static int
at_cap(const struct cull_limits *l, const struct cull_fs *fs,
    const struct cull_marks *m, char *why, size_t len)
{
	if (m->cap && fs->cache_bytes >= m->cap)
		snprintf(why, len, "cache %llu bytes >= max_size %llu",
		    (unsigned long long)fs->cache_bytes,
		    (unsigned long long)m->cap);
	else if (l->max_files && fs->cache_objects >= l->max_files)
		snprintf(why, len, "cache %llu objects >= max_files %llu",
		    (unsigned long long)fs->cache_objects,
		    (unsigned long long)l->max_files);
	else
		return 0;
	return 1;
}

/* Allocation: real free space only (not the graveyard), and the caps. */
static void
judge_allocate(const struct cull_limits *l, const struct cull_fs *fs,
    const struct cull_marks *m, struct cull_eval *ev)
{
	char *why = ev->refuse;
	size_t len = sizeof(ev->refuse);

	ev->allocate = !below("blocks", fs->bavail, fs->blocks, m->bstop,
	    "bstop", l->bstop, why, len) &&
	    !(m->files && below("files", fs->ffree, fs->files, m->fstop,
	    "fstop", l->fstop, why, len)) &&
	    !at_cap(l, fs, m, why, len);
}

/* What it takes to reach the run thresholds and 95% of the caps. */
static void
judge_need(const struct cull_limits *l, const struct cull_fs *fs,
    const struct cull_marks *m, struct cull_eval *ev)
{
	uint64_t nb = 0, nf = 0;

	if (m->bfree < m->brun)
		nb = (m->brun - m->bfree) * fs->bsize;
	if (m->files && m->ffree < m->frun)
		nf = m->frun - m->ffree;
	if (m->cap && fs->cache_bytes > CAP_LOW(m->cap) &&
	    fs->cache_bytes - CAP_LOW(m->cap) > nb)
		nb = fs->cache_bytes - CAP_LOW(m->cap);
	if (l->max_files && fs->cache_objects > CAP_LOW(l->max_files) &&
	    fs->cache_objects - CAP_LOW(l->max_files) > nf)
		nf = fs->cache_objects - CAP_LOW(l->max_files);
	ev->need_bytes = nb;
	ev->need_files = nf;
}

/* Not culling yet: say why culling starts (ev->why), or leave it empty. */
static void
why_start(const struct cull_limits *l, const struct cull_fs *fs,
    const struct cull_marks *m, struct cull_eval *ev)
{
	char *why = ev->why;
	size_t len = sizeof(ev->why);

	if (!below("blocks", m->bfree, fs->blocks, m->bcull, "bcull",
	    l->bcull, why, len) &&
	    !(m->files && below("files", m->ffree, fs->files, m->fcull,
	    "fcull", l->fcull, why, len)))
		at_cap(l, fs, m, why, len);
}

/* Culling: 0 if it stops now, else 1 and why it goes on (ev->why). */
static int
why_go_on(const struct cull_limits *l, const struct cull_fs *fs,
    const struct cull_marks *m, struct cull_eval *ev)
{
	if (ev->need_bytes == 0 && ev->need_files == 0 &&
	    (fs->pending_blocks != 0 || fs->pending_files != 0)) {
		/* the estimate meets the run thresholds, but it counts what the
		 * reaper has not unlinked yet: stay in the culling state (no
		 * new pass: nothing is needed) and judge by the real free
		 * space once it has */
		snprintf(ev->why, sizeof(ev->why), "free blocks %.1f%% once "
		    "the graveyard is reaped: waiting for the reaper",
		    pct(m->bfree, fs->blocks));
	} else if (ev->need_bytes == 0 && ev->need_files == 0) {
		return 0;
	} else if (!below("blocks", m->bfree, fs->blocks, m->brun, "brun",
	    l->brun, ev->why, sizeof(ev->why)) &&
	    !(m->files && below("files", m->ffree, fs->files, m->frun, "frun",
	    l->frun, ev->why, sizeof(ev->why)))) {
		snprintf(ev->why, sizeof(ev->why), "cache above 95%% of "
		    "max_size/max_files");
	}
	return 1;
}

/* Not culling (any more): why not. was_culling: it just stopped. */
static void
why_idle(const struct cull_limits *l, const struct cull_fs *fs,
    const struct cull_marks *m, int was_culling, struct cull_eval *ev)
{
	double ff = m->files ? pct(m->ffree, fs->files) : 100.0;

	if (was_culling)
		snprintf(ev->why, sizeof(ev->why), "free blocks %.1f%% >= brun "
		    "%u%%, free files %.1f%% >= frun %u%%",
		    pct(m->bfree, fs->blocks), l->brun, ff, l->frun);
	else
		snprintf(ev->why, sizeof(ev->why), "free blocks %.1f%% >= bcull "
		    "%u%%, free files %.1f%% >= fcull %u%%",
		    pct(m->bfree, fs->blocks), l->bcull, ff, l->fcull);
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
	struct cull_marks m;
	int was_culling = culling;

	memset(ev, 0, sizeof(*ev));
	marks(l, fs, &m);
	judge_allocate(l, fs, &m, ev);
	judge_need(l, fs, &m, ev);
	if (!culling) {
		why_start(l, fs, &m, ev);
		culling = ev->why[0] != '\0';
	} else
		culling = why_go_on(l, fs, &m, ev);
	if (!culling) {
		why_idle(l, fs, &m, was_culling, ev);
		ev->need_bytes = ev->need_files = 0;
	}
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
	uint64_t gained_b = fs->bavail > culler.susp_bavail ?
	    fs->bavail - culler.susp_bavail : 0;
	uint64_t gained_f = fs->ffree > culler.susp_ffree ?
	    fs->ffree - culler.susp_ffree : 0;
	uint64_t robj = rel_obj - culler.susp_rel_obj;
	uint64_t rblk = (rel_bytes - culler.susp_rel_bytes) /
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
	culler.lim.brun = c->brun;
	culler.lim.bcull = c->bcull;
	culler.lim.bstop = c->bstop;
	culler.lim.frun = c->frun;
	culler.lim.fcull = c->fcull;
	culler.lim.fstop = c->fstop;
	culler.lim.max_size = c->max_size;
	culler.lim.max_size_percent = c->max_size_percent;
	culler.lim.max_files = c->max_files;
	culler.lim.culltable = c->culltable < 12 ? 12 : c->culltable > 20 ? 20 :
	    c->culltable;
	culler.lim.resume_blocks = c->resume_blocks;
	culler.lim.resume_files = c->resume_files;
}

void
cull_reconfigure(const struct conf *c)
{
	set_limits(c);
	culler.nocull = culler.nocull_flag || c->nocull;
	culler.suspended = 0;	/* new rules: look again */
	cull_kick();
}

/* ---- the watch -------------------------------------------------------- */

static void
timer_fn(void *arg)
{
	(void)arg;
	culler.timer = NULL;
	check();
}

/* (Re)arm the check timer to fire within ms. */
static void
arm(uint64_t ms)
{
	uint64_t due = loop_now_ms() + ms;

	if (culler.timer && culler.timer_due <= due)
		return;
	if (culler.timer)
		loop_timer_cancel(culler.timer);
	culler.timer = loop_timer_add(ms, timer_fn, NULL);
	culler.timer_due = due;
}

static int
read_fs(struct cull_fs *fs)
{
	struct statfs sf;

	if (fstatfs(culler.rootfd, &sf) < 0)
		return -errno;
	fs->bsize = sf.f_bsize ? (uint64_t)sf.f_bsize : 4096;
	fs->blocks = sf.f_blocks;
	fs->bavail = sf.f_bavail;
	fs->files = sf.f_files;
	fs->ffree = sf.f_ffree;
	fs->pending_blocks = (culler.pending_bytes + fs->bsize - 1) / fs->bsize;
	fs->pending_files = culler.pending_objects;
	fs->cache_bytes = index_total_bytes();
	fs->cache_objects = index_objects();
	return 0;
}

/* Whether new objects and fills are allowed: the write gate's GATE_FULL,
 * which only the culler closes. */
static int
allocating(void)
{
	return gate_ok(GATE_FULL);
}

/* Take a new allocation verdict: log a change, count a refusal, and close
 * or open GATE_FULL. */
static void
set_allocate(const struct cull_eval *ev)
{
	int was = allocating();

	if (was && !ev->allocate) {
		culler.refusals++;
		log_info("cull: refusing new objects: %s", ev->refuse);
		gate_close(GATE_FULL);
	} else if (!was && ev->allocate) {
		log_info("cull: accepting new objects again");
		gate_open(GATE_FULL);
	}
}

/* Take a new culling state from evaluate(): log a change, and start or
 * end the culling episode. */
static void
set_culling(const struct cull_eval *ev)
{
	if (!culler.culling && ev->culling) {
		log_info("cull: culling: %s", ev->why);
		culler.ep_bavail = culler.fs.bavail;
		culler.ep_reaped = 0;
	} else if (culler.culling && !ev->culling) {
		log_info("cull: done culling: %s", ev->why);
		culler.suspended = 0;
	}
	culler.culling = ev->culling;
	culler.ev = *ev;
}

/* A suspended culler: end the suspension if enough was released or the
 * index found more objects. */
static void
maybe_resume(void)
{
	if (!culler.suspended)
		return;
	if (resume_due(&culler.lim, &culler.fs,
	    index_released_objects() + culler.ext_rel_obj,
	    index_released_bytes() + culler.ext_rel_bytes)) {
		log_info("cull: objects were released: culling resumes");
		culler.suspended = 0;
	} else if (index_objects() - index_pinned_objects() >
	    culler.susp_unpinned) {
		/* the scan (or a rescan) found more: they may be culled */
		log_info("cull: new objects in the index: culling resumes");
		culler.suspended = 0;
	}
}

/* Safety net: reaped bytes (and those bury.c unlinked in place) that do
 * not show up as free space are held open somewhere; culling more would
 * empty the cache for nothing. Not judged during a freeze or a suspend:
 * the store then keeps the fds it lets go of until the thaw (store.c,
 * store_close_hold), so space comes back only then. */
static void
check_space_returns(void)
{
	uint64_t reaped = culler.ep_reaped;
	uint64_t gained = culler.fs.bavail > culler.ep_bavail ?
	    (culler.fs.bavail - culler.ep_bavail) * culler.fs.bsize : 0;

	if (!gate_ok(GATE_DEFER | GATE_SUSPEND | GATE_STALL))
		return;
	if (reaped >= ((uint64_t)4 << 20) && gained < reaped / 4) {
		log_warnx("cull: %llu bytes culled and unlinked but only "
		    "%llu came back as free space: are the files still "
		    "open?", (unsigned long long)reaped,
		    (unsigned long long)gained);
		suspend("culled space does not come back");
		culler.ep_bavail = culler.fs.bavail;
		culler.ep_reaped = 0;
	}
}

/* Near a threshold (or culling, or refusing): check every NEAR_MS. */
static int
near_threshold(void)
{
	const struct cull_fs *fs = &culler.fs;

	return culler.culling || !allocating() ||
	    fs->bavail + fs->pending_blocks <
	    pct_of(fs->blocks, culler.lim.brun) * 3 / 2 ||
	    (fs->files && fs->ffree + fs->pending_files <
	    pct_of(fs->files, culler.lim.frun) * 3 / 2);
}

/* The timer's check: statfs, evaluate, act on the verdict (start a pass
 * when culling is due), and arm the next check. */
static void
check(void)
{
	struct cull_eval ev;
	int r;

	if (!culler.init)
		return;
	if ((r = read_fs(&culler.fs)) < 0) {
		log_warnx_rl(&rl_statfs, "cull: statfs: %s", strerror(-r));
		arm(FAR_MS);
		return;
	}
	culler.have_fs = 1;
	evaluate(&culler.lim, &culler.fs, culler.culling, culler.nocull, &ev);
	set_allocate(&ev);
	set_culling(&ev);
	maybe_resume();
	if (culler.culling && !culler.suspended && !culler.pass)
		check_space_returns();
	/* while the startup scan runs the index is partial: cull only in an
	 * emergency (allocation refused) */
	if (culler.culling && !culler.suspended && !culler.pass &&
	    (!scan_running() || !allocating()))
		start_pass();
	arm(near_threshold() ? NEAR_MS : FAR_MS);
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

	if (!culler.init)
		return;
	now = loop_now_ms();
	if (culler.have_fs &&
	    (culler.culling || culler.suspended || !allocating()) &&
	    now - culler.quick_ms >= QUICK_MS && read_fs(&fs) == 0) {
		culler.quick_ms = now;
		evaluate(&culler.lim, &fs, culler.culling, culler.nocull, &ev);
		if (allocating() && !ev.allocate) {
			set_allocate(&ev);
			culler.ev = ev;
			culler.fs = fs;
		}
	}
	arm(KICK_MS);
}

void
cull_released(uint64_t objects, uint64_t bytes)
{
	culler.ext_rel_obj += objects;
	culler.ext_rel_bytes += bytes;
	if (culler.suspended)
		cull_kick();
}

void
cull_on_culled(void (*fn)(void *arg, uint32_t id), void *arg)
{
	on_culled = fn;
	on_culled_arg = arg;
}

void
cull_on_victim(void (*fn)(void *arg, uint32_t id), void *arg)
{
	on_victim = fn;
	on_victim_arg = arg;
}

int
cull_can_allocate(void)
{
	return allocating();
}

/* Worker: swap victims a and b of the job, with all they carry. */
static void
job_swap(struct cull_job *j, unsigned a, unsigned b)
{
	struct cull_victim v = j->v[a];
	uint32_t id = j->ids[a], ino = j->ino[a];
	uint64_t h = j->hash[a];
	uint8_t nl = j->nameless[a];

	j->v[a] = j->v[b];
	j->ids[a] = j->ids[b];
	j->hash[a] = j->hash[b];
	j->ino[a] = j->ino[b];
	j->nameless[a] = j->nameless[b];
	j->v[b] = v;
	j->ids[b] = id;
	j->hash[b] = h;
	j->ino[b] = ino;
	j->nameless[b] = nl;
}

/* Worker: the nameless victims of the job in victim first's fan-out
 * directory, from first on (all of them not resolved yet): find their
 * names with one read of it; one not found gets res -ENOENT (gone, or
 * another file under its name), or the directory's error. */
static void
resolve_dir(struct cull_job *j, unsigned first, struct index_want *w)
{
	unsigned idx[JOB_VICTIMS], m = 0, i, k;
	ssize_t r;

	for (i = first; i < j->n; i++)
		if (j->nameless[i] && j->v[i].res == -EIO &&
		    j->v[i].name[0] == '\0' && j->v[i].vol == j->v[first].vol &&
		    j->v[i].fanout == j->v[first].fanout) {
			w[m].hash = j->hash[i];
			w[m].ino = j->ino[i];
			w[m].name[0] = '\0';
			idx[m++] = i;
		}
	r = names_resolve_in(j->bury.rootfd, "cache/", j->v[first].volume_key,
	    j->v[first].fanout, w, m);
	for (k = 0; k < m; k++) {
		i = idx[k];
		if (w[k].found)	/* its room in strs: CFMT_NAME_MAX + 1 */
			memcpy(j->strs + (j->v[i].name - j->strs), w[k].name,
			    strlen(w[k].name) + 1);
		else
			j->v[i].res = r == -ESTALE || r >= 0 ? -ENOENT :
			    (int)r;
	}
}

/*
 * Worker: find the names of the job's nameless victims, one read per
 * fan-out directory (the pass sorted its victims by directory), and move
 * those not found behind the others. Returns how many victims go to the
 * backend (the first ones); the rest keep their res.
 */
static unsigned
resolve_names(struct cull_job *j)
{
	struct index_want *w = NULL;
	unsigned i, n = j->n;

	for (i = 0; i < j->n; i++) {
		if (!j->nameless[i] || j->v[i].name[0] != '\0' ||
		    j->v[i].res != -EIO)
			continue;
		if (w == NULL && (w = malloc(JOB_VICTIMS * sizeof(*w))) == NULL) {
			j->v[i].res = -ENOMEM;
			continue;
		}
		resolve_dir(j, i, w);
	}
	free(w);
	for (i = 0; i < n;) {
		if (j->nameless[i] && j->v[i].name[0] == '\0')
			job_swap(j, i, --n);
		else
			i++;
	}
	return n;
}

/* Worker: name the nameless victims, then hand the job's batch to its
 * backend. */
static void
cull_run(struct work *w)
{
	struct cull_job *j = (struct cull_job *)w;
	unsigned n = resolve_names(j);

	if (n == 0)
		return;
	switch (j->kind) {
	case CULL_RENAME_TO_GRAVEYARD:
		bury_batch(j->v, n, &j->bury);
		break;
	case CULL_KERNEL:
		j->cull_batch(j->v, n, j->arg);
		break;
	}
}

/* ---- passes (main thread) --------------------------------------------- */

static void cull_done(struct work *w);
static void end_pass(void);
static void fill_jobs(unsigned max);

/* Submit queued jobs while fewer than the backend allows are in flight;
 * each rename job takes a fan-out cache along. */
static void
submit_pending(void)
{
	struct cull_job *j;
	unsigned max = culler.ops.serial ? 1 : JOBS_IN_FLIGHT;

	fill_jobs(max);
	while (culler.jobs_inflight < max &&
	    (j = culler.pending_head) != NULL) {
		culler.pending_head = j->next_pending;
		if (!culler.pending_head)
			culler.pending_tail = NULL;
		culler.jobs_inflight++;
		if (j->kind == CULL_RENAME_TO_GRAVEYARD)
			j->bury.cache = bury_cache_lend(culler.caches,
			    JOBS_IN_FLIGHT);
		workq_submit(culler.cq, &j->w);
	}
}

/* Victim i was culled: out of the index and counted. Renamed into the
 * graveyard, its bytes are pending until the reaper unlinks them; bury.c
 * unlinks a small object in place, and the kernel what it culls itself:
 * their space is free now. */
static void
victim_culled(const struct cull_job *j, unsigned i)
{
	const struct cull_victim *v = &j->v[i];
	uint32_t id = j->ids[i];
	uint64_t b = index_bytes(id);

	log_debug("cull: culled I%s/@%02x/%s: %llu bytes, last use %lld",
	    v->volume_key, v->fanout, v->name, (unsigned long long)b,
	    (long long)index_last_use(id));
	if (on_culled)
		on_culled(on_culled_arg, id);
	index_del(id);
	culler.culled_objects++;
	culler.culled_bytes += b;
	culler.pass_objects++;
	culler.pass_bytes += b;
	if (v->unlinked) {
		culler.unlinked_objects++;
		/* unlinked now: its space must come back as the reaper's
		 * does (check_space_returns) */
		culler.ep_reaped += b;
	}
	if (j->kind != CULL_RENAME_TO_GRAVEYARD || v->unlinked)
		return;
	if (culler.early_objects) {	/* reaped already */
		culler.early_objects--;
		culler.early_bytes -= b < culler.early_bytes ? b :
		    culler.early_bytes;
		return;
	}
	culler.pending_objects++;
	culler.pending_bytes += b;
}

/* Take victim i's result into the index (unless the store dropped it and
 * its id was reused meanwhile). */
static void
victim_done(const struct cull_job *j, unsigned i)
{
	const struct cull_victim *v = &j->v[i];
	uint32_t id = j->ids[i];

	if (index_get_state(id) != INDEX_CULLING ||
	    index_vol(id) != v->vol || index_hash(id) != j->hash[i])
		return;
	if (j->nameless[i] && v->name[0] == '\0' && v->res == -ENOENT &&
	    (index_named(id) || index_ino(id) != j->ino[i])) {
		/* not found under its old inode, but the store (or a
		 * rescan) met its name meanwhile: a live object */
		index_set_state(id, INDEX_LIVE);
		return;
	}
	switch (v->res) {
	case 0:
		victim_culled(j, i);
		break;
	case CULL_USED_SINCE:
		/* used after the index last heard of it: a new use */
		index_set_state(id, INDEX_LIVE);
		index_hit(id, v->last_use);
		culler.used_since++;
		culler.pass_gone++;	/* progress: the index knows more */
		break;
	case -EBUSY:
		/* in use now: used now, so not picked first again */
		index_set_state(id, INDEX_LIVE);
		index_touch(id, index_now());
		culler.skipped_busy++;
		break;
	case -ENOENT:
	case -ESTALE:
		index_del(id);
		culler.gone++;
		culler.pass_gone++;
		break;
	default:
		index_set_state(id, INDEX_LIVE);
		index_touch(id, index_now());
		culler.errors++;
		log_warnx_rl(&rl_err, "cull: I%s/@%02x/%s: %s", v->volume_key,
		    v->fanout, v->name, strerror(-v->res));
		break;
	}
}

/* A job is back: its cache goes back to the pool, its results into the
 * index; then the next job, and the end of the pass. */
static void
cull_done(struct work *w)
{
	struct cull_job *j = (struct cull_job *)w;
	unsigned i;

	bury_cache_return(j->bury.cache);
	for (i = 0; i < j->n; i++)
		victim_done(j, i);
	free(j);
	culler.jobs_inflight--;
	if (!culler.init)
		return;
	submit_pending();
	/* (inotify tells the reaper as renames land: it unlinks while the
	 * pass still renames, on the other core) */
	if (culler.pass_objects && !reap_watching())
		reap_kick();
	if (culler.jobs_inflight == 0 && culler.pending_head == NULL &&
	    culler.take_pos == culler.take_end)
		end_pass();
}

static void
finish_request(int err)
{
	void (*done)(void *, uint64_t, uint64_t, int) = culler.req.done;

	if (!culler.req.active)
		return;
	culler.req.active = 0;
	if (done)
		done(culler.req.arg, culler.req.objects, culler.req.bytes, err);
}

/* Bytes and files still to free for the pass about to start. */
static void
pass_need(uint64_t *nb, uint64_t *nf)
{
	uint64_t bfree, target;

	*nb = culler.ev.need_bytes;
	*nf = culler.ev.need_files;
	if (!culler.req.active)
		return;
	switch (culler.req.mode) {
	case PROTO_CULL_BYTES:
		*nb = culler.req.value > culler.req.bytes ?
		    culler.req.value - culler.req.bytes : 0;
		*nf = 0;
		break;
	case PROTO_CULL_TO_PERCENT:
		bfree = culler.fs.bavail + culler.fs.pending_blocks;
		target = pct_of(culler.fs.blocks, (unsigned)culler.req.value);
		*nb = target > bfree ? (target - bfree) * culler.fs.bsize : 0;
		*nf = 0;
		break;
	default: {	/* PROTO_CULL_THRESHOLDS: until brun and frun */
		struct cull_eval ev;

		evaluate(&culler.lim, &culler.fs, 1, 0, &ev);
		*nb = ev.need_bytes;
		*nf = ev.need_files;
		break;
	}
	}
}

static void
suspend(const char *what)
{
	if (!culler.suspended)
		log_warnx("cull: %s (%llu objects, %llu bytes held by "
		    "clients; %llu found in use so far): culling suspended "
		    "until something is released", what,
		    (unsigned long long)index_pinned_objects(),
		    (unsigned long long)index_pinned_bytes(),
		    (unsigned long long)culler.skipped_busy);
	culler.suspended = 1;
	culler.suspensions++;
	culler.susp_bavail = culler.fs.bavail;
	culler.susp_ffree = culler.fs.ffree;
	culler.susp_rel_obj = index_released_objects() + culler.ext_rel_obj;
	culler.susp_rel_bytes = index_released_bytes() + culler.ext_rel_bytes;
	culler.susp_unpinned = index_objects() - index_pinned_objects();
}

/*
 * How many candidates a pass selects: no more than the deficit needs (with
 * a margin, by the mean object size), at most 2^culltable. Selecting 2^20
 * out of 1e6 is a full heap sort on the main thread, selecting 2e4 is one
 * cheap pass over the entries. If the guess falls short, the next pass
 * takes the rest.
 */
static size_t
select_size(uint64_t nb, uint64_t nf)
{
	size_t n = (size_t)1 << culler.lim.culltable;
	uint64_t mean, want;

	if (index_objects() == 0)
		return n;
	mean = index_total_bytes() / index_objects() + 1;
	want = nb / mean + nb / mean / 4 + 64;
	if (want < nf + nf / 16 + 64)
		want = nf + nf / 16 + 64;
	return want < n ? want : n;
}

/* Room for n candidates in culler.sel. 0 or -ENOMEM. */
static int
sel_room(size_t n)
{
	uint32_t *ns;

	if (culler.selcap < n) {
		if ((ns = realloc(culler.sel, n * sizeof(*ns))) == NULL)
			return -ENOMEM;
		culler.sel = ns;
		culler.selcap = n;
	}
	return 0;
}

/* An empty job for the pass's backend; NULL when out of memory. */
static struct cull_job *
job_new(void)
{
	struct cull_job *j;

	if ((j = malloc(sizeof(*j))) == NULL)
		return NULL;
	memset(&j->w, 0, sizeof(j->w));
	j->w.run = cull_run;
	j->w.done = cull_done;
	j->next_pending = NULL;
	j->kind = culler.ops.kind;
	j->cull_batch = culler.ops.cull_batch;
	j->arg = culler.ops.arg;
	j->bury.rootfd = culler.rootfd;
	j->bury.gravefd = culler.gravefd;
	j->bury.seq = culler.job_seq++;
	j->bury.cache = NULL;		/* lent in submit_pending */
	j->n = 0;
	j->strlen = 0;
	return j;
}

/* Copy object id into the job as a victim, mark it INDEX_CULLING; returns
 * its bytes. */
static uint64_t
job_add(struct cull_job *j, uint32_t id)
{
	const char *vkey = index_volume_key(index_vol(id));
	const char *name = index_name(id);
	struct cull_victim *v = &j->v[j->n];
	size_t lv = strlen(vkey) + 1;
	size_t ln = name ? strlen(name) + 1 : CFMT_NAME_MAX + 1;

	j->ids[j->n] = id;
	j->hash[j->n] = index_hash(id);
	j->ino[j->n] = index_ino(id);
	j->nameless[j->n] = name == NULL;	/* resolve_names finds it */
	v->vol = index_vol(id);
	memcpy(j->strs + j->strlen, vkey, lv);
	v->volume_key = j->strs + j->strlen;
	j->strlen += lv;
	if (name)
		memcpy(j->strs + j->strlen, name, ln);
	else
		j->strs[j->strlen] = '\0';
	v->name = j->strs + j->strlen;
	j->strlen += ln;
	v->fanout = index_fanout(id);
	v->res = -EIO;
	v->unlinked = 0;
	v->last_use = index_last_use(id);
	v->bytes = index_bytes(id);
	j->n++;
	if (on_victim)
		on_victim(on_victim_arg, id);
	index_set_state(id, INDEX_CULLING);
	return index_bytes(id);
}

/* Queue a job to be submitted. */
static void
job_queue(struct cull_job *j)
{
	if (culler.pending_tail)
		culler.pending_tail->next_pending = j;
	else
		culler.pending_head = j;
	culler.pending_tail = j;
}

/* How many of the k candidates, from the front, cover nb bytes and nf
 * files; *nameless: whether any of them is nameless. */
static size_t
victims_needed(size_t k, uint64_t nb, uint64_t nf, int *nameless)
{
	uint64_t gb = 0;
	size_t i;

	*nameless = 0;
	for (i = 0; i < k && (gb < nb || i < nf); i++) {
		gb += index_bytes(culler.sel[i]);
		*nameless |= !index_named(culler.sel[i]);
	}
	return i;
}

/* a victim's sort key: its directory, then its place (oldest first) */
struct dir_key {
	uint32_t dir, pos, id;
};

static int
dir_key_cmp(const void *a, const void *b)
{
	const struct dir_key *x = a, *y = b;

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Sort culler.sel[0..n) by fan-out directory (volume, fan-out), oldest
 * first within one: the jobs' workers then read each directory about
 * once to name their nameless victims (resolve_names), instead of once
 * per job and directory. The pass culls all n all the same. Out of
 * memory: left as it is (still right, more reads).
 */
static void
sort_by_dir(size_t n)
{
	struct dir_key *dk = malloc(n * sizeof(*dk));
	size_t i;

	if (dk == NULL)
		return;
	for (i = 0; i < n; i++) {
		dk[i].dir = (uint32_t)index_vol(culler.sel[i]) << 8 |
		    index_fanout(culler.sel[i]);
		dk[i].pos = (uint32_t)i;
		dk[i].id = culler.sel[i];
	}
	qsort(dk, n, sizeof(*dk), dir_key_cmp);
	for (i = 0; i < n; i++)
		culler.sel[i] = dk[i].id;
	free(dk);
}

/* Take victims from the front of the k candidates until they cover nb
 * bytes and nf files (sorted by directory when some are nameless), mark
 * them INDEX_CULLING; fill_jobs puts them in jobs. Returns how many. */
static size_t
take_victims(size_t k, uint64_t nb, uint64_t nf)
{
	size_t i, take;
	int nameless;

	take = victims_needed(k, nb, nf, &nameless);
	if (nameless)
		sort_by_dir(take);
	for (i = 0; i < take; i++)
		index_set_state(culler.sel[i], INDEX_CULLING);
	culler.take_pos = 0;
	culler.take_end = take;
	return take;
}

/* The victims not in a job yet are LIVE again (out of memory, or
 * cull_fini). */
static void
release_victims(void)
{
	for (; culler.take_pos < culler.take_end; culler.take_pos++)
		index_set_state(culler.sel[culler.take_pos], INDEX_LIVE);
}

/* Make jobs of JOB_VICTIMS from the victims not in one yet, while fewer
 * than the backend takes at once are queued or in flight: a pass of a
 * million victims never makes its thousands of jobs in one turn. Out of
 * memory with no job in flight: the rest are released. */
static void
fill_jobs(unsigned max)
{
	struct cull_job *j;
	unsigned queued = 0;

	for (j = culler.pending_head; j; j = j->next_pending)
		queued++;
	while (culler.jobs_inflight + queued < max &&
	    culler.take_pos < culler.take_end) {
		if ((j = job_new()) == NULL) {
			if (culler.jobs_inflight + queued == 0)
				release_victims();
			return;
		}
		while (j->n < JOB_VICTIMS && culler.take_pos < culler.take_end)
			job_add(j, culler.sel[culler.take_pos++]);
		job_queue(j);
		queued++;
	}
}

static void pass_selected(int err);

/* A slice of the selection (a loop timer, or start_pass); the last one
 * goes on with the pass (pass_selected). */
static void
select_slice(void *arg)
{
	(void)arg;
	culler.sel_timer = NULL;
	if (!index_select_step(culler.selecting, select_budget)) {
		culler.sel_timer = loop_timer_add(0, select_slice, NULL);
		if (culler.sel_timer != NULL)
			return;
		while (!index_select_step(culler.selecting, UINT32_MAX))
			;	/* no timer: the rest at once */
	}
	pass_selected(0);
}

/*
 * Start a pass for what pass_need() says is missing, unless one runs:
 * select candidates in slices (select_slice; the pass counts as running
 * meanwhile), then pass_selected makes and submits the jobs. With nothing
 * to cull it suspends culling; a request in progress is answered when
 * there is nothing (more) to do.
 */
static void
start_pass(void)
{
	uint64_t nb, nf;
	size_t n;

	if (culler.pass)
		return;
	pass_need(&nb, &nf);
	if (nb == 0 && nf == 0) {
		finish_request(0);
		return;
	}
	n = select_size(nb, nf);
	if (sel_room(n) < 0 ||
	    (culler.selecting = index_select_begin(n)) == NULL) {
		pass_selected(ENOMEM);
		return;
	}
	culler.pass = 1;
	culler.pass_start_ms = loop_now_ms();
	culler.pass_start_ns = hist_now_ns();
	culler.pass_objects = culler.pass_bytes = culler.pass_gone = 0;
	select_slice(NULL);
}

/* The pass does not start: out of memory (err), or nothing to cull
 * (none: suspended), or nothing needed any more. */
static void
pass_not_started(int err, int none)
{
	culler.pass = 0;
	if (err)
		log_warnx("cull: out of memory");
	else if (none)
		suspend("nothing can be culled");
	finish_request(-err);
}

/*
 * The selection is complete (or err: it could not begin): take its
 * candidates, and take victims for what is missing now (the index may
 * have changed while it ran) into jobs, and submit them.
 */
static void
pass_selected(int err)
{
	uint64_t nb, nf;
	size_t k = 0, i;

	if (culler.selecting)
		k = index_select_end(culler.selecting, culler.sel);
	index_select_free(culler.selecting);
	culler.selecting = NULL;
	pass_need(&nb, &nf);
	if (err || k == 0 || (nb == 0 && nf == 0)) {
		pass_not_started(err, k == 0 && (nb != 0 || nf != 0));
		return;
	}
	if (culler.ops.kind == CULL_RENAME_TO_GRAVEYARD)
		bury_caches_size(culler.caches, JOBS_IN_FLIGHT,
		    (size_t)index_volumes() * 256);
	i = take_victims(k, nb, nf);
	fill_jobs(culler.ops.serial ? 1 : JOBS_IN_FLIGHT);
	if (culler.pending_head == NULL) {	/* out of memory */
		release_victims();
		pass_not_started(ENOMEM, 0);
		return;
	}
	log_debug("cull: pass: %zu victims of %zu candidates for %llu bytes, "
	    "%llu files", i, k, (unsigned long long)nb,
	    (unsigned long long)nf);
	submit_pending();
}

/* Every job of the pass is back: count it, then go on with a request, or
 * let check() decide. */
static void
end_pass(void)
{
	bury_caches_close(culler.caches, JOBS_IN_FLIGHT); /* all jobs back */
	culler.pass = 0;
	culler.passes++;
	culler.early_bytes = culler.early_objects = 0;	/* every cull job is done */
	culler.cull_ms += loop_now_ms() - culler.pass_start_ms;
	hist_observe(HIST_CULL_PASS, hist_now_ns() - culler.pass_start_ns);
	if (culler.req.active) {
		culler.req.objects += culler.pass_objects;
		culler.req.bytes += culler.pass_bytes;
	}
	if (!culler.init)		/* cull_fini: the reaper queue still runs */
		return;
	if (culler.pass_objects > 0)
		reap_kick();	/* no-op when inotify has it already */
	else if (culler.pass_gone == 0)
		suspend("a pass culled nothing");
	if (culler.req.active) {
		if (culler.pass_objects + culler.pass_gone == 0 ||
		    read_fs(&culler.fs) < 0) {
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
	culler.ep_reaped += bytes;
	/* more than was pending: cull jobs in flight made them (early_bytes) */
	if (objects > culler.pending_objects && culler.jobs_inflight) {
		culler.early_objects += objects - culler.pending_objects;
		culler.early_bytes += bytes > culler.pending_bytes ?
		    bytes - culler.pending_bytes : 0;
	}
	culler.pending_bytes = culler.pending_bytes > bytes ?
	    culler.pending_bytes - bytes : 0;
	culler.pending_objects = culler.pending_objects > objects ?
	    culler.pending_objects - objects : 0;
	if (!culler.pass && culler.pending_objects && all)
		culler.pending_bytes = culler.pending_objects = 0; /* all reaped */
	check();
}

/* While a pass runs, its cull jobs may still rename into graveyard/.c*. */
static int
pass_running(void)
{
	return culler.pass;
}

int
cull_request(uint32_t mode, uint64_t value,
    void (*done)(void *arg, uint64_t objects, uint64_t bytes, int err),
    void *arg)
{
	int r;

	if (!culler.init)
		return -EINVAL;
	if (mode > PROTO_CULL_TO_PERCENT ||
	    (mode == PROTO_CULL_TO_PERCENT && value > 100))
		return -EINVAL;
	if (culler.nocull)
		return -EPERM;
	if (culler.req.active)
		return -EBUSY;
	if ((r = read_fs(&culler.fs)) < 0)
		return r;
	culler.req.active = 1;
	culler.req.mode = mode;
	culler.req.value = value;
	culler.req.objects = culler.req.bytes = 0;
	culler.req.done = done;
	culler.req.arg = arg;
	culler.suspended = 0;	/* an admin asks: always try */
	if (!culler.pass)
		start_pass();
	/* else end_pass continues with the request */
	return 0;
}

/* ---- control: status, stats, larderctl cull ------------------------------- */

/* The status provider: free blocks and files against the thresholds, the
 * culling state and why, the allocation verdict, the cache's size and
 * caps, what waits in the graveyard, and the scan's progress. */
static void
status_kv(struct ctl_kv *kv)
{
	char buf[200];
	struct scan_progress p;

	if (culler.have_fs) {
		snprintf(buf, sizeof(buf), "%.1f%% (brun %u%%, bcull %u%%, "
		    "bstop %u%%)", pct(culler.fs.bavail, culler.fs.blocks),
		    culler.lim.brun, culler.lim.bcull, culler.lim.bstop);
		ctl_kv_str(kv, "cull.blocks_free", buf);
		snprintf(buf, sizeof(buf), "%.1f%% (frun %u%%, fcull %u%%, "
		    "fstop %u%%)", pct(culler.fs.ffree, culler.fs.files),
		    culler.lim.frun, culler.lim.fcull, culler.lim.fstop);
		ctl_kv_str(kv, "cull.files_free", buf);
	}
	snprintf(buf, sizeof(buf), "%s: %s", culler.nocull ? "disabled" :
	    culler.suspended ? "suspended" : culler.culling ? "culling" : "idle",
	    culler.suspended ? "everything that could be culled is in use" :
	    culler.ev.why[0] ? culler.ev.why : "not checked yet");
	ctl_kv_str(kv, "cull.state", buf);
	snprintf(buf, sizeof(buf), "%s%s", allocating() ? "yes" : "refused: ",
	    allocating() ? "" : culler.ev.refuse);
	ctl_kv_str(kv, "cull.allocate", buf);
	ctl_kv_u64(kv, "cull.cache_objects", index_objects());
	ctl_kv_u64(kv, "cull.cache_bytes", index_total_bytes());
	ctl_kv_u64(kv, "cull.max_size", culler.have_fs ?
	    cap_bytes(&culler.lim, &culler.fs) : culler.lim.max_size);
	ctl_kv_u64(kv, "cull.max_files", culler.lim.max_files);
	ctl_kv_u64(kv, "cull.graveyard_bytes", culler.pending_bytes);
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
	ctl_kv_u64(kv, "cull.objects", culler.culled_objects);
	ctl_kv_u64(kv, "cull.bytes", culler.culled_bytes);
	ctl_kv_u64(kv, "cull.unlinked_in_place", culler.unlinked_objects);
	ctl_kv_u64(kv, "cull.passes", culler.passes);
	ctl_kv_u64(kv, "cull.ms", culler.cull_ms);
	ctl_kv_u64(kv, "cull.skipped_in_use", culler.skipped_busy);
	ctl_kv_u64(kv, "cull.used_since", culler.used_since);
	ctl_kv_u64(kv, "cull.pinned_objects", index_pinned_objects());
	ctl_kv_u64(kv, "cull.pinned_bytes", index_pinned_bytes());
	ctl_kv_u64(kv, "cull.gone", culler.gone);
	ctl_kv_u64(kv, "cull.errors", culler.errors);
	ctl_kv_u64(kv, "cull.suspensions", culler.suspensions);
	ctl_kv_u64(kv, "cull.refusals", culler.refusals);
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
	if (culler.nocull) {
		control_reply_str(rq, PROTO_EREFUSED, "culling is disabled "
		    "(nocull or -N)");
		return 0;
	}
	if ((r = cull_request(mode, value, cull_replied, rq)) < 0)
		return r;
	return CTL_DEFERRED;
}

/* ---- life ------------------------------------------------------------------ */

/* 1 if ops is a backend cull_init takes: the rename backend has no
 * callback (it is cull.c's own), the kernel backend has one. */
static int
ops_valid(const struct cull_ops *ops)
{
	switch (ops->kind) {
	case CULL_RENAME_TO_GRAVEYARD:
		return ops->cull_batch == NULL;
	case CULL_KERNEL:
		return ops->cull_batch != NULL;
	}
	return 0;
}

/* The rename backend's setup: graveyard/, and the fan-out fd caches, which
 * share bury_fds_max() between them. 0 or -errno. */
static int
rename_backend_open(int rootfd)
{
	if ((culler.gravefd = open_dir_beneath(rootfd, "graveyard")) < 0)
		return culler.gravefd;
	bury_caches_init(culler.caches, JOBS_IN_FLIGHT, bury_fds_max());
	return 0;
}

/*
 * Start the culler (see cull.h): limits, the backend, the worker queue,
 * the reaper and the control hooks; then the first check. On failure
 * nothing is left running and the gate's GATE_FULL is open.
 */
int
cull_init(const struct conf *c, int rootfd, int nocull,
    const struct cull_ops *ops)
{
	static const struct cull_ops rename_ops = {
		.kind = CULL_RENAME_TO_GRAVEYARD,
	};
	int r;

	if (ops == NULL)
		ops = &rename_ops;
	if (!ops_valid(ops))
		return -EINVAL;
	memset(&culler, 0, sizeof(culler));
	set_limits(c);
	culler.rootfd = rootfd;
	culler.nocull = nocull;
	culler.nocull_flag = nocull && !c->nocull;
	culler.ops = *ops;
	culler.gravefd = -1;
	gate_open(GATE_FULL);
	if (ops->kind == CULL_RENAME_TO_GRAVEYARD &&
	    (r = rename_backend_open(rootfd)) < 0)
		return r;
	if ((culler.cq = workq_create_background("larder-cull",
	    CULL_THREADS)) == NULL) {
		r = -errno;
		goto fail;
	}
	/* the reaper starts with a full reap: what a crash left there */
	if ((r = reap_init(rootfd, reaped, pass_running)) < 0)
		goto fail;
	control_register(PROTO_CULL, handle_cull, 1);
	control_add_status(status_kv);
	control_add_stats(stats_kv);
	culler.init = 1;
	check();
	return 0;
fail:
	if (culler.cq)
		workq_destroy(culler.cq);
	if (culler.gravefd >= 0)
		close(culler.gravefd);
	memset(&culler, 0, sizeof(culler));
	return r;
}

/* Stop the culler: let the jobs in flight finish, drop those not yet
 * submitted, stop the reaper, answer a request in progress with
 * -ECANCELED, close every fd and open GATE_FULL. Blocks: shutdown only. */
void
cull_fini(void)
{
	if (!culler.init)
		return;
	culler.init = 0;
	if (culler.timer)
		loop_timer_cancel(culler.timer);
	culler.timer = NULL;
	/* let jobs in flight finish; their done() see !init and stop */
	while (culler.pending_head) {	/* never submitted */
		struct cull_job *j = culler.pending_head;

		culler.pending_head = j->next_pending;
		free(j);
	}
	culler.pending_tail = NULL;
	if (culler.sel_timer)
		loop_timer_cancel(culler.sel_timer);
	index_select_free(culler.selecting);
	release_victims();
	workq_destroy(culler.cq);
	reap_fini();
	finish_request(-ECANCELED);
	bury_caches_free(culler.caches, JOBS_IN_FLIGHT);
	if (culler.gravefd >= 0)
		close(culler.gravefd);
	free(culler.sel);
	memset(&culler, 0, sizeof(culler));
	gate_open(GATE_FULL);
}
