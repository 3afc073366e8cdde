/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * freeze.c: the freeze handshake, stall detection and suspend/resume.
 *
 * Three independent reasons stop new writes, and freeze_writes_ok() is 1
 * only when none holds:
 *
 *   defer    `larderctl freeze` under `freeze defer`: drain and flush
 *            (store_quiesce), answer "ready", optionally FIFREEZE the
 *            filesystem ourselves with a time limit. Ends with `thaw` or
 *            when the time limit runs out.
 *   suspend  `larderctl suspend`: drain, flush, close every write fd and
 *            give back the write claim. Ends with `resume`.
 *   stalled  nobody asked, but a write has been in flight for longer than
 *            STALL_MS: someone froze the filesystem under us. Ends by
 *            itself when the stuck write completes.
 *
 * Only one store_quiesce runs at a time; requests that arrive while it
 * runs wait for it (up to MAX_WAITERS each). FIFREEZE and FITHAW run on a
 * one-thread work queue of their own, in submission order, because
 * FIFREEZE waits for the filesystem's writers to drain. Resume takes the
 * write claim on a second one-thread queue: opening a file for writing can
 * wait on a freeze made by someone else. The main thread never calls
 * anything here that can wait on a frozen filesystem.
 *
 * Locking: the work queue's own lock only (workq.c); the jobs carry an fd
 * number and the operation, nothing of the main thread's state.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "freeze.h"
#include "log.h"
#include "loop.h"
#include "mount.h"
#include "store.h"
#include "workq.h"

#define STALL_TICK_MS	100	/* how often the age of the oldest write is read */
#define STALL_MS	500	/* a write older than this: the fs is frozen */
/* ... unless the cache's block device still completes writes: then it is
 * slow (a big fdatasync, dirty throttling), not frozen, up to this age */
#define SLOW_MAX_MS	30000
#define CALM_MS		2000	/* writes flowing this long end a stall episode */
#define MAX_WAITERS	8	/* requests waiting on one quiesce or fs job */
#define MAX_TIMEOUT	86400

enum fs_state {
	FS_NONE,		/* we did not freeze the filesystem */
	FS_FREEZING,		/* FIFREEZE job queued or running */
	FS_FROZEN,		/* frozen by us */
	FS_THAWING,		/* FITHAW job queued or running */
};

struct fsjob {
	struct work w;
	int rootfd;		/* the clone root (O_PATH); owned by mount.c */
	unsigned long op;	/* FIFREEZE or FITHAW */
	int err;		/* 0 or errno, set by run() */
	int timed_out;		/* FITHAW because the time limit ran out */
};

static struct {
	enum conf_freeze policy;
	unsigned conf_timeout;		/* freeze_timeout, seconds */
	struct workq *q;		/* FIFREEZE, FITHAW, in order */
	struct workq *claimq;		/* resume's claim (may wait on a
					   freeze someone else made) */

	/* defer: the freeze handshake */
	int defer;
	int want_fs;			/* --fs was asked */
	unsigned timeout;		/* seconds, of the current freeze */
	time_t since;			/* unix time the current state began */
	uid_t by_uid;
	pid_t by_pid;
	struct loop_timer *limit;	/* time limit of the freeze */
	uint64_t limit_at;		/* loop_now_ms() when it fires */
	enum fs_state fs;
	int last_refused;		/* the last freeze was refused */
	int forced_ready;		/* ready without quiesce: fs frozen by
					   someone else (writes stalled) */
	int thaw_by_limit;		/* FIFREEZE running when the limit fired */
	int stopping;			/* freeze_fini: queue no more jobs */
	struct ctl_req *freeze_wait[MAX_WAITERS];	/* answered when ready */
	unsigned nfreeze_wait;
	struct ctl_req *thaw_wait[MAX_WAITERS];	/* answered when thawed */
	unsigned nthaw_wait;

	/* suspend */
	int suspend;			/* asked; claim released once quiesced */
	int suspended;			/* claim released */
	time_t suspend_since;
	uid_t suspend_uid;
	pid_t suspend_pid;
	struct ctl_req *suspend_wait[MAX_WAITERS];
	unsigned nsuspend_wait;
	int resuming;			/* claim job queued or running */
	struct ctl_req *resume_wait[MAX_WAITERS];
	unsigned nresume_wait;

	/* store_quiesce */
	int quiescing;			/* a store_quiesce is running */
	int quiesced;			/* the store is quiesced (until unquiesce) */
	int closed;			/* ... with STORE_QUIESCE_CLOSE */
	unsigned quiesce_flags;		/* of the store_quiesce running */

	/* stall */
	int stalled;
	time_t stalled_since;		/* start of the stall episode */
	uint64_t flowing_since;		/* loop ms writes flow again; 0: no
					   episode open */
	struct loop_timer *tick;
	int64_t dev_writes;		/* device writes done at the last tick,
					   -1: unknown */

	/* counters for stats */
	uint64_t n_freezes, n_refused, n_fs_frozen, n_limit_thaws, n_stalls,
	    n_suspends;
} f;

static const struct freeze_backend *backend;	/* NULL: the store */

static void quiesce_done(void *arg, int err);
static void maybe_unquiesce(void);

int
freeze_writes_ok(void)
{
	return !f.defer && !f.suspend && !f.stalled;
}

const char *
freeze_state_str(void)
{
	if (f.suspend)
		return f.suspended ? "suspended" : "suspending";
	if (f.defer) {
		if (f.nfreeze_wait > 0 || f.quiescing || f.fs == FS_FREEZING)
			return "deferring";
		return "deferred";
	}
	if (f.stalled)
		return "stalled";
	return "running";
}

/* Park rq in one of the wait lists; -EBUSY when it is full. */
static int
wait_add(struct ctl_req **list, unsigned *n, struct ctl_req *rq)
{
	if (*n >= MAX_WAITERS)
		return -EBUSY;
	list[(*n)++] = rq;
	return 0;
}

/* Answer every request in a wait list the same way. */
static void
wait_reply(struct ctl_req **list, unsigned *n, uint16_t status,
    const char *msg)
{
	unsigned i, cnt = *n;

	*n = 0;
	for (i = 0; i < cnt; i++)
		control_reply_str(list[i], status, "%s", msg);
}

/* The store, or the backend that replaces it (kernel mode), quiesces. */
static void
start_quiesce(unsigned flags)
{
	f.quiescing = 1;
	f.quiesce_flags = flags;
	if (backend != NULL)
		backend->quiesce(backend->arg, quiesce_done, &f);
	else
		store_quiesce(flags, quiesce_done, &f);
}

/* Start a store_quiesce unless one runs or the store is already quiesced
 * the way it is needed now. */
static void
quiesce(void)
{
	unsigned flags = f.suspend ? STORE_QUIESCE_CLOSE : 0;

	if (f.quiescing)
		return;		/* quiesce_done looks again */
	if (f.quiesced && (f.closed || !(flags & STORE_QUIESCE_CLOSE))) {
		quiesce_done(&f, 0);
		return;
	}
	start_quiesce(flags);
}

static void
fs_job_run(struct work *w)
{
	struct fsjob *j = (struct fsjob *)w;
	int fd;

	j->err = 0;
	fd = openat(j->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		j->err = errno;
		return;
	}
	if (ioctl(fd, j->op, 0) == -1)
		j->err = errno;
	close(fd);
}

static void fs_job_done(struct work *w);

/* Queue FIFREEZE or FITHAW on the clone (worker thread). */
static int
fs_job(unsigned long op, int timed_out)
{
	struct fsjob *j;

	if (f.stopping)
		return -ESHUTDOWN;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->w.run = fs_job_run;
	j->w.done = fs_job_done;
	j->rootfd = mount_root_fd();
	j->op = op;
	j->timed_out = timed_out;
	f.fs = op == FIFREEZE ? FS_FREEZING : FS_THAWING;
	workq_submit(f.q, &j->w);
	return 0;
}

static void
limit_fired(void *arg)
{
	(void)arg;
	f.limit = NULL;
	if (!f.defer)
		return;
	log_info("freeze: time limit of %u s reached; ending the freeze",
	    f.timeout);
	f.n_limit_thaws++;
	f.defer = 0;
	f.want_fs = 0;
	/* nothing waits for "ready" any more */
	wait_reply(f.freeze_wait, &f.nfreeze_wait, PROTO_ERR,
	    "freeze ended: time limit reached before ready");
	f.forced_ready = 0;
	if (f.fs == FS_FROZEN) {
		if (fs_job(FITHAW, 1) < 0)
			log_warnx("freeze: thaw: out of memory");
	} else if (f.fs == FS_FREEZING)
		f.thaw_by_limit = 1;	/* fs_job_done thaws */
	f.since = time(NULL);
	maybe_unquiesce();
}

static void
arm_limit(void)
{
	if (f.limit != NULL)
		loop_timer_cancel(f.limit);
	f.limit = loop_timer_add((uint64_t)f.timeout * 1000, limit_fired, NULL);
	f.limit_at = loop_now_ms() + (uint64_t)f.timeout * 1000;
	if (f.limit == NULL)
		log_warn("freeze: time limit timer");
}

/* The freeze cannot be done: undo it and tell everyone waiting why. */
static void
cancel_freeze(uint16_t status, const char *msg)
{
	log_warnx("freeze: %s", msg);
	f.defer = 0;
	f.want_fs = 0;
	f.forced_ready = 0;
	if (f.limit != NULL) {
		loop_timer_cancel(f.limit);
		f.limit = NULL;
	}
	wait_reply(f.freeze_wait, &f.nfreeze_wait, status, msg);
	maybe_unquiesce();
}

/* Answer the freeze requests waiting for "ready" once the store is
 * quiesced (or the fs is frozen by someone else already), after freezing
 * the fs ourselves if --fs was asked. Safe to call at any time. */
static void
deferral_ready(const char *why)
{
	char msg[256];

	if (!f.defer || f.nfreeze_wait == 0)
		return;
	if (!f.forced_ready && (f.quiescing || !f.quiesced))
		return;		/* quiesce_done calls again */
	if (f.fs == FS_FREEZING || f.fs == FS_THAWING)
		return;		/* fs_job_done calls again */
	if (f.want_fs && f.fs == FS_NONE && mount_root_fd() < 0) {
		/* no private mount (kernel mode before its bind) */
		cancel_freeze(PROTO_ERR, "cannot freeze the filesystem: no "
		    "private mount; freeze cancelled, writing resumes");
		return;
	}
	if (f.want_fs && f.fs == FS_NONE) {
		if (fs_job(FIFREEZE, 0) < 0)
			wait_reply(f.freeze_wait, &f.nfreeze_wait, PROTO_ENOMEM,
			    "cannot queue FIFREEZE");
		return;		/* fs_job_done calls again */
	}
	if (f.fs == FS_FROZEN)
		snprintf(msg, sizeof(msg), "ready: writes stopped and flushed; "
		    "filesystem frozen by larderd, thawed at the latest in %u s",
		    f.timeout);
	else
		snprintf(msg, sizeof(msg), "ready: %s; writing resumes after "
		    "thaw or in %u s at the latest", why != NULL ? why :
		    "writes stopped and flushed", f.timeout);
	log_info("freeze: %s", msg);
	wait_reply(f.freeze_wait, &f.nfreeze_wait, PROTO_OK, msg);
}

static void
fs_job_done(struct work *w)
{
	struct fsjob *j = (struct fsjob *)w;
	char msg[256];
	int err = j->err, freeze = j->op == FIFREEZE;
	int timed_out = j->timed_out;

	free(j);
	if (freeze) {
		if (err == 0) {
			f.fs = FS_FROZEN;
			f.n_fs_frozen++;
			log_info("freeze: filesystem frozen (FIFREEZE), time "
			    "limit %u s", f.timeout);
			if (!f.defer) {
				/* thawed or timed out while FIFREEZE ran */
				if (fs_job(FITHAW, f.thaw_by_limit) < 0)
					log_warnx("freeze: thaw: cannot queue "
					    "FITHAW");
				f.thaw_by_limit = 0;
				return;
			}
			deferral_ready(NULL);
			return;
		}
		f.fs = FS_NONE;
		f.thaw_by_limit = 0;
		if (!f.defer) {
			maybe_unquiesce();
			wait_reply(f.thaw_wait, &f.nthaw_wait, PROTO_OK,
			    "thawed: larderd had not frozen the filesystem; "
			    "writing resumed");
			return;
		}
		if (err == EBUSY) {
			/* frozen already, by someone else: not ours to thaw */
			log_info("freeze: filesystem was already frozen by "
			    "someone else; larderd will not thaw it");
			f.want_fs = 0;
			deferral_ready("writes stopped and flushed; the "
			    "filesystem was already frozen by someone else");
			return;
		}
		snprintf(msg, sizeof(msg), "cannot freeze the filesystem "
		    "(FIFREEZE): %s%s; freeze cancelled, writing resumes",
		    strerror(err), err == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		cancel_freeze(proto_status_from_errno(err), msg);
		return;
	}

	/* FITHAW */
	if (err != 0 && err != EINVAL) {
		/* EINVAL: not frozen (someone thawed it); anything else:
		 * still frozen, try again on the next thaw */
		f.fs = FS_FROZEN;
		snprintf(msg, sizeof(msg), "thaw (FITHAW) failed: %s",
		    strerror(err));
		log_warnx("freeze: %s", msg);
		wait_reply(f.thaw_wait, &f.nthaw_wait,
		    proto_status_from_errno(err), msg);
		return;
	}
	f.fs = FS_NONE;
	if (timed_out)
		log_info("freeze: thawed: time limit of %u s reached",
		    f.timeout);
	else
		log_info("freeze: thawed on request");
	maybe_unquiesce();	/* before the answer: a fill after it works */
	wait_reply(f.thaw_wait, &f.nthaw_wait, PROTO_OK, f.defer ?
	    "thawed: filesystem thawed; a new freeze is under way" :
	    f.suspend ? "thawed: filesystem thawed; writing stays stopped "
	    "(suspended)" : "thawed: filesystem thawed, writing resumed");
	/* a new freeze may have come while thawing */
	deferral_ready(NULL);
}

/* Writing may start again once nobody needs the store quiet and the
 * filesystem is no longer frozen by us (a kernel-mode backend rebinding
 * on a frozen filesystem would block the main thread). */
static void
maybe_unquiesce(void)
{
	if (f.defer || f.suspend || f.quiescing || !f.quiesced ||
	    f.fs != FS_NONE)
		return;
	f.quiesced = 0;
	f.closed = 0;
	if (backend != NULL)
		backend->resume(backend->arg);
	else
		store_unquiesce();
	log_info("freeze: writing resumed");
}

static void
quiesce_done(void *arg, int err)
{
	char msg[256];

	(void)arg;
	f.quiescing = 0;
	if (err < 0) {
		snprintf(msg, sizeof(msg), "could not drain and flush the "
		    "cache: %s; writing resumes", strerror(-err));
		log_warnx("freeze: %s", msg);
		f.defer = 0;
		f.forced_ready = 0;
		f.want_fs = 0;
		if (f.limit != NULL) {
			loop_timer_cancel(f.limit);
			f.limit = NULL;
		}
		wait_reply(f.freeze_wait, &f.nfreeze_wait,
		    proto_status_from_errno(-err), msg);
		f.suspend = 0;
		wait_reply(f.suspend_wait, &f.nsuspend_wait,
		    proto_status_from_errno(-err), msg);
		f.quiesced = 1;		/* writes were stopped: undo that */
		maybe_unquiesce();
		return;
	}
	f.quiesced = 1;
	if (f.quiesce_flags & STORE_QUIESCE_CLOSE)
		f.closed = 1;
	f.quiesce_flags = 0;
	if (f.suspend && !f.closed) {
		/* a suspend came while a plain quiesce ran: close too */
		start_quiesce(STORE_QUIESCE_CLOSE);
		return;
	}
	if (f.suspend && !f.suspended) {
		mount_release();
		f.suspended = 1;
		f.suspend_since = time(NULL);
		log_info("suspend: writes stopped, flushed, write claim "
		    "released");
		wait_reply(f.suspend_wait, &f.nsuspend_wait, PROTO_OK,
		    "suspended: writes stopped and flushed, write claim "
		    "released; the filesystem may be remounted read-only");
	}
	deferral_ready(NULL);
	maybe_unquiesce();
}

/* ---- handlers ----------------------------------------------------------- */

static int
h_freeze(struct ctl_req *rq)
{
	uint32_t flags, timeout;
	char when[32];
	struct tm tm;

	flags = proto_get_u32(&rq->body);
	timeout = proto_get_u32(&rq->body);
	if (rq->body.err != 0)
		return -EPROTO;
	if ((flags & ~(uint32_t)PROTO_FREEZE_FS) != 0) {
		control_reply_str(rq, PROTO_EINVAL, "unknown freeze flags %#x",
		    flags);
		return 0;
	}
	if (timeout > MAX_TIMEOUT) {
		control_reply_str(rq, PROTO_EINVAL, "time limit %u s is above "
		    "%u s", timeout, MAX_TIMEOUT);
		return 0;
	}
	if (f.policy == CONF_FREEZE_REFUSE) {
		f.n_refused++;
		f.last_refused = 1;
		log_info("freeze: refused for uid %u pid %d: freeze policy is "
		    "refuse", (unsigned)rq->uid, (int)rq->pid);
		control_reply_str(rq, PROTO_EREFUSED, "freeze refused: the "
		    "freeze policy is refuse (larder.conf: freeze refuse); "
		    "nothing was changed");
		return 0;
	}
	f.last_refused = 0;
	if (f.defer) {
		/* already deferred or deferring: join it */
		localtime_r(&f.since, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		if ((flags & PROTO_FREEZE_FS) && !f.want_fs)
			f.want_fs = 1;
		if (timeout != 0 && timeout != f.timeout) {
			f.timeout = timeout;
			arm_limit();
		}
		if (f.nfreeze_wait == 0 && (f.quiesced || f.forced_ready) &&
		    (!f.want_fs || f.fs == FS_FROZEN)) {
			control_reply_str(rq, PROTO_OK, "ready: already deferred "
			    "since %s (uid %u pid %d)%s; thawed at the latest "
			    "in %llu s", when, (unsigned)f.by_uid, (int)f.by_pid,
			    f.fs == FS_FROZEN ? ", filesystem frozen by larderd" :
			    "", (unsigned long long)((f.limit_at -
			    (loop_now_ms() < f.limit_at ? loop_now_ms() :
			    f.limit_at)) / 1000));
			return 0;
		}
		if (wait_add(f.freeze_wait, &f.nfreeze_wait, rq) < 0)
			return -EBUSY;
		deferral_ready(NULL);
		return CTL_DEFERRED;
	}
	if (wait_add(f.freeze_wait, &f.nfreeze_wait, rq) < 0)
		return -EBUSY;
	f.defer = 1;
	f.forced_ready = 0;
	f.want_fs = (flags & PROTO_FREEZE_FS) != 0;
	f.timeout = timeout != 0 ? timeout : f.conf_timeout;
	f.since = time(NULL);
	f.by_uid = rq->uid;
	f.by_pid = rq->pid;
	f.n_freezes++;
	log_info("freeze: asked by uid %u pid %d%s, time limit %u s; "
	    "stopping writes", (unsigned)rq->uid, (int)rq->pid,
	    f.want_fs ? " (with --fs)" : "", f.timeout);
	arm_limit();
	quiesce();
	if (f.stalled) {
		/* the fs is frozen already (a write is stuck): nothing more
		 * can be written before a thaw, so say ready now; the quiesce
		 * finishes after the thaw */
		f.forced_ready = 1;
		deferral_ready("writes stopped; the filesystem is already "
		    "frozen by someone else (writes stalled)");
	}
	return CTL_DEFERRED;
}

static int
h_thaw(struct ctl_req *rq)
{
	char msg[256];

	if (!f.defer) {
		if (f.fs != FS_NONE) {
			/* a time limit ended the freeze and the thaw job runs,
			 * or an earlier FITHAW failed: try again */
			if (wait_add(f.thaw_wait, &f.nthaw_wait, rq) < 0)
				return -EBUSY;
			if (f.fs == FS_FROZEN && fs_job(FITHAW, 0) < 0) {
				f.nthaw_wait--;
				return -ENOMEM;
			}
			return CTL_DEFERRED;
		}
		if (f.last_refused)
			snprintf(msg, sizeof(msg), "not frozen: the last freeze "
			    "was refused; nothing to do");
		else if (f.stalled)
			snprintf(msg, sizeof(msg), "not frozen by larderd; but "
			    "writes are stalled: the filesystem seems frozen by "
			    "someone else (fsfreeze -u it)");
		else
			snprintf(msg, sizeof(msg), "not frozen: nothing to do");
		control_reply_str(rq, PROTO_OK, "%s", msg);
		return 0;
	}
	log_info("freeze: thaw asked by uid %u pid %d", (unsigned)rq->uid,
	    (int)rq->pid);
	f.defer = 0;
	f.want_fs = 0;
	f.forced_ready = 0;
	f.since = time(NULL);
	if (f.limit != NULL) {
		loop_timer_cancel(f.limit);
		f.limit = NULL;
	}
	wait_reply(f.freeze_wait, &f.nfreeze_wait, PROTO_ERR,
	    "freeze cancelled by a thaw before it was ready");
	if (f.fs == FS_FROZEN || f.fs == FS_FREEZING) {
		if (wait_add(f.thaw_wait, &f.nthaw_wait, rq) < 0)
			return -EBUSY;
		if (f.fs == FS_FROZEN && fs_job(FITHAW, 0) < 0) {
			f.nthaw_wait--;
			return -ENOMEM;
		}
		/* FS_FREEZING: fs_job_done sees !defer and thaws */
		maybe_unquiesce();
		return CTL_DEFERRED;
	}
	if (f.fs == FS_THAWING) {
		if (wait_add(f.thaw_wait, &f.nthaw_wait, rq) < 0)
			return -EBUSY;
		maybe_unquiesce();
		return CTL_DEFERRED;
	}
	maybe_unquiesce();
	control_reply_str(rq, PROTO_OK, "thawed on request: writing %s",
	    f.suspend ? "stays stopped (suspended)" : "resumed");
	return 0;
}

static int
h_suspend(struct ctl_req *rq)
{
	if (f.suspended) {
		control_reply_str(rq, PROTO_OK, "already suspended: write claim "
		    "released");
		return 0;
	}
	if (f.stalled && !f.suspend) {
		control_reply_str(rq, PROTO_EBUSY, "cannot suspend: writes are "
		    "stalled (the filesystem seems frozen); thaw it first");
		return 0;
	}
	if (wait_add(f.suspend_wait, &f.nsuspend_wait, rq) < 0)
		return -EBUSY;
	if (!f.suspend) {
		f.suspend = 1;
		f.suspend_uid = rq->uid;
		f.suspend_pid = rq->pid;
		f.suspend_since = time(NULL);
		f.n_suspends++;
		log_info("suspend: asked by uid %u pid %d; stopping writes",
		    (unsigned)rq->uid, (int)rq->pid);
		quiesce();
	}
	return CTL_DEFERRED;
}

struct claimjob {
	struct work w;
	int fd;			/* the claim, or -errno */
};

/* Worker: open and lock larder.lock (may wait on a frozen filesystem). */
static void
claim_run(struct work *w)
{
	struct claimjob *j = (struct claimjob *)w;

	j->fd = mount_claim_open();
}

static void
claim_done(struct work *w)
{
	struct claimjob *j = (struct claimjob *)w;
	char msg[256];
	int fd = j->fd;

	free(j);
	f.resuming = 0;
	if (f.stopping) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cannot resume: %s%s; still "
		    "suspended", strerror(-fd), fd == -EROFS ? " (the "
		    "filesystem is read-only: remount it read-write first)" :
		    fd == -EBUSY ? " (another process holds larder.lock)" : "");
		log_warnx("resume: take the write claim: %s", strerror(-fd));
		wait_reply(f.resume_wait, &f.nresume_wait,
		    proto_status_from_errno(-fd), msg);
		return;
	}
	mount_claim_set(fd);
	f.suspend = 0;
	f.suspended = 0;
	f.suspend_since = time(NULL);
	maybe_unquiesce();
	wait_reply(f.resume_wait, &f.nresume_wait, PROTO_OK, f.defer ?
	    "resumed: write claim taken, writing stays stopped (deferred "
	    "for a freeze)" : "resumed: write claim taken, writing resumed");
}

static int
h_resume(struct ctl_req *rq)
{
	struct claimjob *j;

	if (!f.suspend) {
		control_reply_str(rq, PROTO_OK, "not suspended: nothing to do");
		return 0;
	}
	if (!f.suspended) {
		control_reply_str(rq, PROTO_EBUSY, "a suspend is in progress "
		    "(draining writes); try again");
		return 0;
	}
	if (f.fs != FS_NONE) {
		control_reply_str(rq, PROTO_EBUSY, "the filesystem is frozen by "
		    "larderd: thaw first, then resume");
		return 0;
	}
	if (wait_add(f.resume_wait, &f.nresume_wait, rq) < 0)
		return -EBUSY;
	if (f.resuming)
		return CTL_DEFERRED;
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		f.nresume_wait--;
		return -ENOMEM;
	}
	log_info("resume: asked by uid %u pid %d; taking the write claim",
	    (unsigned)rq->uid, (int)rq->pid);
	j->w.run = claim_run;
	j->w.done = claim_done;
	f.resuming = 1;
	workq_submit(f.claimq, &j->w);
	return CTL_DEFERRED;
}

/* ---- stall detection -------------------------------------------------- */

/* Write I/Os the cache's block device has completed (the fifth field of
 * /sys/dev/block/MAJ:MIN/stat), or -1 when it has no such device (btrfs,
 * network, tmpfs). Reads sysfs: never waits on the cache filesystem. */
static int64_t
dev_writes_done(void)
{
	char path[64], buf[512];
	unsigned long long v[5];
	struct stat sb;
	ssize_t n;
	int fd, root = mount_root_fd();

	if (root < 0 || fstat(root, &sb) < 0)
		return -1;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat",
	    major(sb.st_dev), minor(sb.st_dev));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	    &v[3], &v[4]) != 5 || v[4] > INT64_MAX)
		return -1;
	return (int64_t)v[4];
}

/*
 * Every STALL_TICK_MS: a write (io or meta) in flight for STALL_MS or more
 * means the filesystem is frozen under us: stop starting writes until it
 * completes. A freeze often shows as several stalls in a row (the stuck
 * write completes, the next one sticks), so a stall episode, logged once
 * each way, ends only after writes have flowed for CALM_MS. A frozen
 * filesystem sends nothing to its device, so while the device completes
 * writes a long write is only slow (writeback of a large fill, dirty
 * throttling on a slow disk), up to SLOW_MAX_MS.
 */
static void
stall_tick(void *arg)
{
	uint64_t age, now = loop_now_ms();
	int64_t w;
	int progress;

	(void)arg;
	f.tick = loop_timer_add(STALL_TICK_MS, stall_tick, NULL);
	if (f.tick == NULL)
		log_warn("freeze: stall timer");
	age = backend != NULL && backend->oldest_write_ms != NULL ?
	    backend->oldest_write_ms(backend->arg) : store_oldest_write_ms();
	w = dev_writes_done();
	progress = w >= 0 && f.dev_writes >= 0 && w != f.dev_writes;
	f.dev_writes = w;
	if (!f.stalled) {
		if (f.flowing_since != 0 && now - f.flowing_since >= CALM_MS) {
			f.flowing_since = 0;
			log_warnx("writes flow again after %lld s: cache "
			    "filesystem thawed; fills resume",
			    (long long)(time(NULL) - f.stalled_since));
		}
		/* while we froze it ourselves, a stuck write is no news */
		if (age < STALL_MS || f.fs == FS_FROZEN || f.suspended)
			return;
		if (progress && age < SLOW_MAX_MS)
			return;		/* slow, not frozen */
		f.stalled = 1;
		if (f.flowing_since != 0) {
			/* the same episode: the next write stuck too */
			f.flowing_since = 0;
			log_debug("writes stalled again for %llu ms",
			    (unsigned long long)age);
		} else {
			f.stalled_since = time(NULL);
			f.n_stalls++;
			log_warnx("writes stalled for %llu ms: cache filesystem "
			    "frozen? %s", (unsigned long long)age,
			    backend != NULL && backend->stall_note != NULL ?
			    backend->stall_note :
			    "serving reads, refusing fills");
		}
		if (f.defer && f.nfreeze_wait > 0) {
			f.forced_ready = 1;
			deferral_ready("writes stopped; the filesystem is "
			    "already frozen by someone else (writes stalled)");
		}
		return;
	}
	if (age >= STALL_MS)
		return;
	/* the stuck write completed: let writes start again, on probation */
	f.stalled = 0;
	f.flowing_since = now != 0 ? now : 1;
}

/* ---- status, stats, life ---------------------------------------------- */

static void
freeze_status(struct ctl_kv *kv)
{
	uint64_t now = loop_now_ms();

	ctl_kv_str(kv, "freeze.state", freeze_state_str());
	ctl_kv_str(kv, "freeze.policy", conf_freeze_str(f.policy));
	ctl_kv_u64(kv, "freeze.timeout", f.conf_timeout);
	if (f.defer) {
		ctl_kv_s64(kv, "freeze.since", (int64_t)f.since);
		ctl_kv_u64(kv, "freeze.by_uid", f.by_uid);
		ctl_kv_s64(kv, "freeze.by_pid", f.by_pid);
		ctl_kv_u64(kv, "freeze.time_left",
		    f.limit != NULL && f.limit_at > now ?
		    (f.limit_at - now + 999) / 1000 : 0);
	}
	ctl_kv_str(kv, "freeze.fs_frozen_by_larderd",
	    f.fs == FS_FROZEN ? "yes" : f.fs == FS_FREEZING ? "freezing" :
	    f.fs == FS_THAWING ? "thawing" : "no");
	if (f.suspend) {
		ctl_kv_s64(kv, "freeze.suspended_since",
		    (int64_t)f.suspend_since);
		ctl_kv_u64(kv, "freeze.suspended_by_uid", f.suspend_uid);
		ctl_kv_s64(kv, "freeze.suspended_by_pid", f.suspend_pid);
	}
	if (f.stalled || f.flowing_since != 0)
		ctl_kv_s64(kv, "freeze.stalled_since", (int64_t)f.stalled_since);
}

static void
freeze_stats(struct ctl_kv *kv)
{
	ctl_kv_u64(kv, "freeze.freezes", f.n_freezes);
	ctl_kv_u64(kv, "freeze.refused", f.n_refused);
	ctl_kv_u64(kv, "freeze.fs_frozen", f.n_fs_frozen);
	ctl_kv_u64(kv, "freeze.time_limit_thaws", f.n_limit_thaws);
	ctl_kv_u64(kv, "freeze.stalls", f.n_stalls);
	ctl_kv_u64(kv, "freeze.suspends", f.n_suspends);
}

void
freeze_set_backend(const struct freeze_backend *b)
{
	backend = b;
}

void
freeze_reconfigure(const struct conf *c)
{
	f.policy = c->freeze;
	f.conf_timeout = c->freeze_timeout > 0 && c->freeze_timeout <=
	    MAX_TIMEOUT ? c->freeze_timeout : CONF_DEFAULT_FREEZE_TIMEOUT;
}

int
freeze_init(const struct conf *c)
{
	memset(&f, 0, sizeof(f));
	f.dev_writes = -1;
	freeze_reconfigure(c);
	f.since = time(NULL);
	f.q = workq_create("larder-freeze", 1);
	if (f.q == NULL)
		return -errno;
	f.claimq = workq_create("larder-claim", 1);
	if (f.claimq == NULL)
		return -errno;
	f.tick = loop_timer_add(STALL_TICK_MS, stall_tick, NULL);
	if (f.tick == NULL)
		return -errno;
	control_register(PROTO_FREEZE, h_freeze, 1);
	control_register(PROTO_THAW, h_thaw, 1);
	control_register(PROTO_SUSPEND, h_suspend, 1);
	control_register(PROTO_RESUME, h_resume, 1);
	control_add_status(freeze_status);
	control_add_stats(freeze_stats);
	return 0;
}

void
freeze_fini(void)
{
	int fd;

	if (f.tick != NULL) {
		loop_timer_cancel(f.tick);
		f.tick = NULL;
	}
	if (f.limit != NULL) {
		loop_timer_cancel(f.limit);
		f.limit = NULL;
	}
	wait_reply(f.freeze_wait, &f.nfreeze_wait, PROTO_ERR,
	    "larderd is stopping");
	wait_reply(f.suspend_wait, &f.nsuspend_wait, PROTO_ERR,
	    "larderd is stopping");
	f.defer = 0;
	f.stopping = 1;
	if (f.q != NULL) {
		/* runs every queued FIFREEZE/FITHAW and its done() */
		workq_destroy(f.q);
		f.q = NULL;
	}
	if (f.claimq != NULL) {
		/* a claim stuck on a frozen fs holds this up until the thaw;
		 * main.c's stop timer bounds the whole shutdown */
		workq_destroy(f.claimq);
		f.claimq = NULL;
	}
	wait_reply(f.thaw_wait, &f.nthaw_wait, PROTO_OK, "thawed (larderd is "
	    "stopping)");
	wait_reply(f.resume_wait, &f.nresume_wait, PROTO_ERR, "larderd is "
	    "stopping");
	if (f.fs == FS_FROZEN && mount_root_fd() != -1) {
		fd = openat(mount_root_fd(), ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (fd == -1 || ioctl(fd, FITHAW, 0) == -1)
			log_warn("freeze: thaw at exit");
		else
			log_info("freeze: thawed: larderd is stopping");
		if (fd != -1)
			close(fd);
	}
	f.fs = FS_NONE;
}
