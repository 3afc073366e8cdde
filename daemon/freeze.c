/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * freeze.c: the freeze handshake, stall detection and suspend/resume.
 *
 * Three independent reasons stop new writes, each an explicit state
 * machine closing its own bit of the write gate (gate.h) while it holds;
 * freeze_writes_ok() is 1 only when none holds:
 *
 *   defer    `larderctl freeze` under `freeze defer` (enum defer_state):
 *            NONE -> DEFERRING (the backend quiesces, then our FIFREEZE
 *            with --fs) -> DEFERRED ("ready" said), or FORCED when a stall
 *            shows the filesystem frozen by someone else before the
 *            quiesce is done. Ends (end_defer) with `thaw`, the time limit,
 *            a failure or larderd stopping. The filesystem frozen by us
 *            (enum fs_state) may outlive the freeze while FITHAW runs.
 *   suspend  `larderctl suspend` (enum suspend_state): SUSPENDING (drain,
 *            flush, close every write fd) -> SUSPENDED (write claim given
 *            back) -> RESUMING (claim being retaken) -> NONE.
 *   stall    nobody asked, but a write has been in flight for longer than
 *            STALL_MS (enum stall_state): STALLED until the stuck write
 *            completes, then CALMING until writes have flowed for CALM_MS.
 *
 * The backend (freeze.h: the store, or kernel mode) does the quiescing;
 * enum quiesce_state is what freeze.c knows of it. Only one quiesce runs at
 * a time; requests that arrive while it runs wait for it (up to
 * MAX_WAITERS each). Every event (a request, a job's or a quiesce's
 * completion, a timer) is one function that moves the machines.
 *
 * FIFREEZE and FITHAW run on a one-thread work queue of their own, in
 * submission order, because FIFREEZE waits for the filesystem's writers to
 * drain. Resume takes the write claim on a second one-thread queue:
 * opening a file for writing can wait on a freeze made by someone else.
 * The main thread never calls anything here that can wait on a frozen
 * filesystem. Both queues are fed through submit_job, which
 * tests/unit/check_freeze.c replaces to complete the jobs itself.
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
#include "gate.h"
#include "log.h"
#include "loop.h"
#include "mount.h"
#include "workq.h"

#define STALL_TICK_MS	100	/* how often the age of the oldest write is read */
#define STALL_MS	500	/* a write older than this: the fs is frozen */
/* ... unless the cache's block device still completes writes: then it is
 * slow (a big fdatasync, dirty throttling), not frozen, up to this age */
#define SLOW_MAX_MS	30000
#define CALM_MS		2000	/* writes flowing this long end a stall episode */
#define MAX_WAITERS	8	/* requests waiting on one quiesce or fs job */
#define MAX_TIMEOUT	86400

enum defer_state {
	DEFER_NONE,		/* no freeze */
	DEFER_REFUSED,		/* no freeze; the last one asked was refused */
	DEFER_DEFERRING,	/* requests wait for "ready": the backend
				   quiesces, or our FIFREEZE or FITHAW runs */
	DEFER_FORCED,		/* ready before the quiesce is done: the fs is
				   frozen by someone else (writes stalled) */
	DEFER_DEFERRED,		/* ready: quiesced (frozen by us with --fs);
				   nobody waits */
};

/* how the last freeze ended (end_defer) */
enum defer_end {
	END_THAW,		/* larderctl thaw */
	END_LIMIT,		/* the time limit ran out */
	END_FAILED,		/* it could not be done */
	END_STOP,		/* larderd stops */
};

enum fs_state {
	FS_NONE,		/* we did not freeze the filesystem */
	FS_FREEZING,		/* FIFREEZE job queued or running */
	FS_FROZEN,		/* frozen by us */
	FS_THAWING,		/* FITHAW job queued or running */
};

enum quiesce_state {
	Q_OFF,			/* writing: the backend is not quiesced */
	Q_QUIESCING,		/* its quiesce runs */
	Q_CLOSING,		/* ... with FREEZE_QUIESCE_CLOSE */
	Q_QUIESCED,		/* quiesced, until resume() */
	Q_CLOSED,		/* quiesced with FREEZE_QUIESCE_CLOSE */
};

enum suspend_state {
	SUSPEND_NONE,
	SUSPEND_SUSPENDING,	/* waiting for a closing quiesce */
	SUSPEND_SUSPENDED,	/* write claim released */
	SUSPEND_RESUMING,	/* claim job queued or running */
};

enum stall_state {
	STALL_NONE,
	STALL_STALLED,		/* a write is stuck: writes stopped */
	STALL_CALMING,		/* it completed; the episode ends after
				   CALM_MS of writes flowing */
};

struct fsjob {
	struct work w;
	int rootfd;		/* the clone root (O_PATH); owned by mount.c */
	unsigned long op;	/* FIFREEZE or FITHAW */
	int err;		/* 0 or errno, set by run() */
	int timed_out;		/* FITHAW because the time limit ran out */
};

struct claimjob {
	struct work w;
	int fd;			/* the claim, or -errno */
};

/* requests waiting for one outcome */
struct waiters {
	struct ctl_req *rq[MAX_WAITERS];
	unsigned n;
};

static struct {
	enum conf_freeze policy;
	unsigned conf_timeout;		/* freeze_timeout, seconds */
	struct workq *q;		/* FIFREEZE, FITHAW, in order; NULL
					   once freeze_fini began */
	struct workq *claimq;		/* resume's claim (may wait on a
					   freeze someone else made) */
	enum quiesce_state quiesce;

	/* defer: the freeze handshake */
	enum defer_state defer;
	enum defer_end ended;		/* how the last freeze ended */
	int want_fs;			/* --fs was asked (of this freeze) */
	unsigned timeout;		/* seconds, of the current freeze */
	time_t since;			/* unix time the current state began */
	uid_t by_uid;
	pid_t by_pid;
	struct loop_timer *limit;	/* time limit of the freeze */
	uint64_t limit_at;		/* loop_now_ms() when it fires */
	uint64_t asked_at;		/* loop_now_ms() of the freeze request */
	enum fs_state fs;
	struct waiters freeze_wait;	/* answered when ready */
	struct waiters thaw_wait;	/* answered when thawed */

	/* suspend */
	enum suspend_state suspend;
	time_t suspend_since;
	uid_t suspend_uid;
	pid_t suspend_pid;
	struct waiters suspend_wait;
	struct waiters resume_wait;

	/* stall */
	enum stall_state stall;
	time_t stalled_since;		/* start of the stall episode */
	uint64_t flowing_since;		/* loop ms writes flow again (CALMING) */
	struct loop_timer *tick;
	int64_t dev_writes;		/* device writes done at the last tick,
					   -1: unknown */

	/* counters for stats */
	uint64_t n_freezes, n_refused, n_fs_frozen, n_limit_thaws, n_stalls,
	    n_suspends;
} fz;

static const struct freeze_backend *backend;	/* NULL: nothing to quiesce */

/* The worker queues' entry; check_freeze.c completes jobs itself. */
static void (*submit_job)(struct workq *q, struct work *w) = workq_submit;

static void quiesce_done(void *arg, int err);
static void maybe_unquiesce(void);

/* ---- the machines' states and the write gate ----------------------------- */

static int
defer_on(void)
{
	return fz.defer == DEFER_DEFERRING || fz.defer == DEFER_FORCED ||
	    fz.defer == DEFER_DEFERRED;
}

static int
quiesced(void)
{
	return fz.quiesce == Q_QUIESCED || fz.quiesce == Q_CLOSED;
}

static int
quiescing(void)
{
	return fz.quiesce == Q_QUIESCING || fz.quiesce == Q_CLOSING;
}

static void
gate_set(unsigned reason, int closed)
{
	if (closed)
		gate_close(reason);
	else
		gate_open(reason);
}

static void
set_defer(enum defer_state s)
{
	fz.defer = s;
	gate_set(GATE_DEFER, defer_on());
}

static void
set_suspend(enum suspend_state s)
{
	fz.suspend = s;
	gate_set(GATE_SUSPEND, s != SUSPEND_NONE);
}

static void
set_stall(enum stall_state s)
{
	fz.stall = s;
	gate_set(GATE_STALL, s == STALL_STALLED);
}

int
freeze_writes_ok(void)
{
	return gate_ok(GATE_DEFER | GATE_SUSPEND | GATE_STALL);
}

enum freeze_state
freeze_state(void)
{
	switch (fz.suspend) {
	case SUSPEND_SUSPENDING:
		return FREEZE_SUSPENDING;
	case SUSPEND_SUSPENDED:
	case SUSPEND_RESUMING:
		return FREEZE_SUSPENDED;
	case SUSPEND_NONE:
		break;
	}
	switch (fz.defer) {
	case DEFER_DEFERRING:
	case DEFER_FORCED:
		return FREEZE_DEFERRING;
	case DEFER_DEFERRED:
		return FREEZE_DEFERRED;
	case DEFER_NONE:
	case DEFER_REFUSED:
		break;
	}
	return fz.stall == STALL_STALLED ? FREEZE_STALLED : FREEZE_RUNNING;
}

const char *
freeze_state_str(void)
{
	static const char *const names[] = {
		[FREEZE_RUNNING] = "running",
		[FREEZE_DEFERRING] = "deferring",
		[FREEZE_DEFERRED] = "deferred",
		[FREEZE_STALLED] = "stalled",
		[FREEZE_SUSPENDING] = "suspending",
		[FREEZE_SUSPENDED] = "suspended",
	};

	return names[freeze_state()];
}

/* Park rq in a wait list; -EBUSY when it is full. */
static int
wait_add(struct waiters *w, struct ctl_req *rq)
{
	if (w->n >= MAX_WAITERS)
		return -EBUSY;
	w->rq[w->n++] = rq;
	return 0;
}

/* Answer every request in a wait list the same way. */
static void
wait_reply(struct waiters *w, uint16_t status, const char *msg)
{
	unsigned i, cnt = w->n;

	w->n = 0;
	for (i = 0; i < cnt; i++)
		control_reply_str(w->rq[i], status, "%s", msg);
}

/* ---- the backend's quiesce ------------------------------------------------ */

/* The backend quiesces (at once when there is none). */
static void
start_quiesce(unsigned flags)
{
	fz.quiesce = flags & FREEZE_QUIESCE_CLOSE ? Q_CLOSING : Q_QUIESCING;
	if (backend != NULL)
		backend->quiesce(backend->arg, flags, quiesce_done, NULL);
	else
		quiesce_done(NULL, 0);
}

/* Start a quiesce unless one runs or the backend is already quiesced the
 * way it is needed now (closed for a suspend). */
static void
quiesce(void)
{
	unsigned flags = fz.suspend != SUSPEND_NONE ? FREEZE_QUIESCE_CLOSE : 0;

	if (quiescing())
		return;		/* quiesce_done looks again */
	if (fz.quiesce == Q_CLOSED || (fz.quiesce == Q_QUIESCED && !flags)) {
		quiesce_done(NULL, 0);
		return;
	}
	start_quiesce(flags);
}

/* Writing may start again once nobody needs the backend quiet and the
 * filesystem is no longer frozen by us (a kernel-mode backend rebinding
 * on a frozen filesystem would block the main thread). */
static void
maybe_unquiesce(void)
{
	if (defer_on() || fz.suspend != SUSPEND_NONE || !quiesced() ||
	    fz.fs != FS_NONE)
		return;
	fz.quiesce = Q_OFF;
	if (backend != NULL)
		backend->resume(backend->arg);
	log_info("freeze: writing resumed");
}

/* ---- the filesystem frozen by us ------------------------------------------ */

/* FIFREEZE or FITHAW the filesystem under rootfd; 0 or errno. */
static int
fs_ioctl(int rootfd, unsigned long op)
{
	int fd, err = 0;

	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return errno;
	if (ioctl(fd, op, 0) == -1)
		err = errno;
	close(fd);
	return err;
}

static void
fs_job_run(struct work *w)
{
	struct fsjob *j = (struct fsjob *)w;

	j->err = fs_ioctl(j->rootfd, j->op);
}

static void fs_job_done(struct work *w);

/* Queue FIFREEZE or FITHAW on the clone (worker thread). */
static int
fs_job(unsigned long op, int timed_out)
{
	struct fsjob *j;

	if (fz.q == NULL)
		return -ESHUTDOWN;	/* freeze_fini */
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->w.run = fs_job_run;
	j->w.done = fs_job_done;
	j->rootfd = mount_root_fd();
	j->op = op;
	j->timed_out = timed_out;
	fz.fs = op == FIFREEZE ? FS_FREEZING : FS_THAWING;
	submit_job(fz.q, &j->w);
	return 0;
}

/* ---- the defer handshake -------------------------------------------------- */

/*
 * End the freeze, whatever ended it (why): answer the requests still
 * waiting for "ready" with status and msg, open the gate's GATE_DEFER,
 * thaw the filesystem if we froze it (a FIFREEZE still running is thawed
 * by fifreeze_done), and let writing resume if nothing else stops it (not
 * when larderd stops: freeze_fini thaws by itself). Returns 0, or -errno
 * when the FITHAW job could not be queued (the fs stays FS_FROZEN).
 */
static int
end_defer(enum defer_end why, uint16_t status, const char *msg)
{
	int r = 0;

	set_defer(DEFER_NONE);
	fz.ended = why;
	fz.want_fs = 0;
	fz.since = time(NULL);
	if (fz.limit != NULL) {
		loop_timer_cancel(fz.limit);
		fz.limit = NULL;
	}
	wait_reply(&fz.freeze_wait, status, msg);
	if (fz.fs == FS_FROZEN)
		r = fs_job(FITHAW, why == END_LIMIT);
	if (why != END_STOP)
		maybe_unquiesce();
	return r;
}

/* The freeze cannot be done: undo it and tell everyone waiting why. */
static void
cancel_freeze(uint16_t status, const char *msg)
{
	log_warnx("freeze: %s", msg);
	end_defer(END_FAILED, status, msg);
}

/*
 * Event "something the freeze waits for is done": answer the requests
 * waiting for "ready" once the backend is quiesced (or, FORCED, the fs is
 * frozen by someone else already), after freezing the fs ourselves if
 * --fs was asked. why: the reason said with "ready" (NULL: the usual).
 * Safe to call at any time.
 */
static void
defer_advance(const char *why)
{
	char msg[256];

	if (!defer_on() || fz.freeze_wait.n == 0)
		return;
	if (fz.defer == DEFER_DEFERRING && !quiesced())
		return;		/* quiesce_done calls again */
	if (fz.fs == FS_FREEZING || fz.fs == FS_THAWING)
		return;		/* fs_job_done calls again */
	if (fz.want_fs && fz.fs == FS_NONE && mount_root_fd() < 0) {
		/* no private mount (kernel mode before its bind) */
		cancel_freeze(PROTO_ERR, "cannot freeze the filesystem: no "
		    "private mount; freeze cancelled, writing resumes");
		return;
	}
	if (fz.want_fs && fz.fs == FS_NONE) {
		if (fs_job(FIFREEZE, 0) < 0) {
			wait_reply(&fz.freeze_wait, PROTO_ENOMEM,
			    "cannot queue FIFREEZE");
			if (fz.defer == DEFER_DEFERRING)
				set_defer(DEFER_DEFERRED);
		}
		return;		/* fs_job_done calls again */
	}
	if (fz.fs == FS_FROZEN)
		snprintf(msg, sizeof(msg), "ready: writes stopped and flushed; "
		    "filesystem frozen by larderd, thawed at the latest in %u s",
		    fz.timeout);
	else
		snprintf(msg, sizeof(msg), "ready: %s; writing resumes after "
		    "thaw or in %u s at the latest", why != NULL ? why :
		    "writes stopped and flushed", fz.timeout);
	log_info("freeze: %s (%llu ms after the request)", msg,
	    (unsigned long long)(loop_now_ms() - fz.asked_at));
	wait_reply(&fz.freeze_wait, PROTO_OK, msg);
	if (fz.defer == DEFER_DEFERRING)
		set_defer(DEFER_DEFERRED);
}

/* Event "the filesystem is frozen by someone else" (a write stalled): a
 * freeze still draining may say ready without waiting for the quiesce. */
static void
defer_forced(void)
{
	if (fz.defer != DEFER_DEFERRING || quiesced())
		return;
	set_defer(DEFER_FORCED);
	defer_advance("writes stopped; the filesystem is already frozen by "
	    "someone else (writes stalled)");
}

/* Event "the time limit ran out": end the freeze, thaw if we froze. */
static void
limit_fired(void *arg)
{
	(void)arg;
	fz.limit = NULL;
	if (!defer_on())
		return;
	log_info("freeze: time limit of %u s reached; ending the freeze",
	    fz.timeout);
	fz.n_limit_thaws++;
	if (end_defer(END_LIMIT, PROTO_ERR, "freeze ended: time limit reached "
	    "before ready") < 0)
		log_warnx("freeze: thaw: out of memory");
}

static void
arm_limit(void)
{
	if (fz.limit != NULL)
		loop_timer_cancel(fz.limit);
	fz.limit = loop_timer_add((uint64_t)fz.timeout * 1000, limit_fired,
	    NULL);
	fz.limit_at = loop_now_ms() + (uint64_t)fz.timeout * 1000;
	if (fz.limit == NULL)
		log_warn("freeze: time limit timer");
}

/* Event "FIFREEZE succeeded": ready, or thaw again at once when the freeze
 * ended while FIFREEZE ran. */
static void
fifreeze_done(void)
{
	fz.fs = FS_FROZEN;
	fz.n_fs_frozen++;
	log_info("freeze: filesystem frozen (FIFREEZE), time limit %u s",
	    fz.timeout);
	if (defer_on()) {
		defer_advance(NULL);
		return;
	}
	if (fs_job(FITHAW, fz.ended == END_LIMIT) < 0)
		log_warnx("freeze: thaw: cannot queue FITHAW");
}

/* Event "FIFREEZE failed" (err: errno). */
static void
fifreeze_failed(int err)
{
	char msg[256];

	fz.fs = FS_NONE;
	if (!defer_on()) {
		/* the freeze ended while FIFREEZE ran */
		maybe_unquiesce();
		wait_reply(&fz.thaw_wait, PROTO_OK, "thawed: larderd had not "
		    "frozen the filesystem; writing resumed");
		return;
	}
	if (err == EBUSY) {
		/* frozen already, by someone else: not ours to thaw */
		log_info("freeze: filesystem was already frozen by someone "
		    "else; larderd will not thaw it");
		fz.want_fs = 0;
		defer_advance("writes stopped and flushed; the filesystem was "
		    "already frozen by someone else");
		return;
	}
	snprintf(msg, sizeof(msg), "cannot freeze the filesystem (FIFREEZE): "
	    "%s%s; freeze cancelled, writing resumes", strerror(err),
	    err == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
	cancel_freeze(proto_status_from_errno(err), msg);
}

/* Event "FITHAW finished" (err: errno; EINVAL: it was not frozen, someone
 * thawed it). */
static void
fithaw_done(int err, int timed_out)
{
	char msg[256];

	if (err != 0 && err != EINVAL) {
		/* still frozen: try again on the next thaw */
		fz.fs = FS_FROZEN;
		snprintf(msg, sizeof(msg), "thaw (FITHAW) failed: %s",
		    strerror(err));
		log_warnx("freeze: %s", msg);
		wait_reply(&fz.thaw_wait, proto_status_from_errno(err), msg);
		return;
	}
	fz.fs = FS_NONE;
	if (timed_out)
		log_info("freeze: thawed: time limit of %u s reached",
		    fz.timeout);
	else
		log_info("freeze: thawed on request");
	maybe_unquiesce();	/* before the answer: a fill after it works */
	wait_reply(&fz.thaw_wait, PROTO_OK, defer_on() ?
	    "thawed: filesystem thawed; a new freeze is under way" :
	    fz.suspend != SUSPEND_NONE ? "thawed: filesystem thawed; writing "
	    "stays stopped (suspended)" : "thawed: filesystem thawed, writing "
	    "resumed");
	/* a new freeze may have come while thawing */
	defer_advance(NULL);
}

/* A FIFREEZE or FITHAW job finished (main thread): its event. */
static void
fs_job_done(struct work *w)
{
	struct fsjob *j = (struct fsjob *)w;
	int err = j->err, timed_out = j->timed_out;
	unsigned long op = j->op;

	free(j);
	if (op == FIFREEZE && err == 0)
		fifreeze_done();
	else if (op == FIFREEZE)
		fifreeze_failed(err);
	else
		fithaw_done(err, timed_out);
}

/* ---- suspend -------------------------------------------------------------- */

/* Event "the backend is quiesced" for a suspend: close too if that quiesce
 * did not, then give the write claim back. */
static void
suspend_advance(void)
{
	if (fz.suspend != SUSPEND_SUSPENDING)
		return;
	if (fz.quiesce != Q_CLOSED) {
		/* a suspend came while a plain quiesce ran: close too */
		start_quiesce(FREEZE_QUIESCE_CLOSE);
		return;
	}
	mount_release();
	set_suspend(SUSPEND_SUSPENDED);
	fz.suspend_since = time(NULL);
	log_info("suspend: writes stopped, flushed, write claim released");
	wait_reply(&fz.suspend_wait, PROTO_OK, "suspended: writes stopped and "
	    "flushed, write claim released; the filesystem may be remounted "
	    "read-only");
}

/* Event "the quiesce failed": nothing that needed it can go on. */
static void
quiesce_failed(int err)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "could not drain and flush the cache: %s; "
	    "writing resumes", strerror(-err));
	log_warnx("freeze: %s", msg);
	fz.quiesce = Q_QUIESCED;	/* writes were stopped: undo that */
	if (defer_on())
		end_defer(END_FAILED, proto_status_from_errno(-err), msg);
	if (fz.suspend == SUSPEND_SUSPENDING)
		set_suspend(SUSPEND_NONE);
	wait_reply(&fz.suspend_wait, proto_status_from_errno(-err), msg);
	maybe_unquiesce();
}

/* The backend's done(): its quiesce finished (err < 0: failed). */
static void
quiesce_done(void *arg, int err)
{
	(void)arg;
	if (err < 0) {
		quiesce_failed(err);
		return;
	}
	if (fz.quiesce == Q_QUIESCING)
		fz.quiesce = Q_QUIESCED;
	else if (fz.quiesce == Q_CLOSING)
		fz.quiesce = Q_CLOSED;
	suspend_advance();
	if (quiescing())
		return;		/* the closing quiesce calls again */
	if (fz.defer == DEFER_FORCED)
		set_defer(fz.freeze_wait.n > 0 ? DEFER_DEFERRING :
		    DEFER_DEFERRED);
	defer_advance(NULL);
	maybe_unquiesce();
}

/* ---- handlers ----------------------------------------------------------- */

/* Event "freeze asked" under `freeze refuse`. */
static void
freeze_refuse(struct ctl_req *rq)
{
	fz.n_refused++;
	if (!defer_on())
		set_defer(DEFER_REFUSED);
	log_info("freeze: refused for uid %u pid %d: freeze policy is refuse",
	    (unsigned)rq->uid, (int)rq->pid);
	control_reply_str(rq, PROTO_EREFUSED, "freeze refused: the freeze "
	    "policy is refuse (larder.conf: freeze refuse); nothing was "
	    "changed");
}

/* Event "freeze asked" while one is on: join it; ready at once if it is
 * and nothing more is asked (--fs), else wait with the others. Returns
 * what the handler returns. */
static int
freeze_join(struct ctl_req *rq, uint32_t flags, uint32_t timeout)
{
	uint64_t now = loop_now_ms();
	char when[32];
	struct tm tm;

	localtime_r(&fz.since, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (flags & PROTO_FREEZE_FS)
		fz.want_fs = 1;
	if (timeout != 0 && timeout != fz.timeout) {
		fz.timeout = timeout;
		arm_limit();
	}
	if (fz.defer != DEFER_DEFERRING &&
	    (!fz.want_fs || fz.fs == FS_FROZEN)) {
		control_reply_str(rq, PROTO_OK, "ready: already deferred since "
		    "%s (uid %u pid %d)%s; thawed at the latest in %llu s",
		    when, (unsigned)fz.by_uid, (int)fz.by_pid,
		    fz.fs == FS_FROZEN ? ", filesystem frozen by larderd" : "",
		    (unsigned long long)((fz.limit_at - (now < fz.limit_at ?
		    now : fz.limit_at)) / 1000));
		return 0;
	}
	if (wait_add(&fz.freeze_wait, rq) < 0)
		return -EBUSY;
	if (fz.defer == DEFER_DEFERRED)
		set_defer(DEFER_DEFERRING);	/* --fs: FIFREEZE first */
	defer_advance(NULL);
	return CTL_DEFERRED;
}

/* Event "freeze asked" while none is on: stop writes, quiesce, arm the
 * time limit; ready comes later (defer_advance). */
static int
freeze_begin(struct ctl_req *rq, uint32_t flags, uint32_t timeout)
{
	if (wait_add(&fz.freeze_wait, rq) < 0)
		return -EBUSY;
	set_defer(DEFER_DEFERRING);
	fz.want_fs = (flags & PROTO_FREEZE_FS) != 0;
	fz.timeout = timeout != 0 ? timeout : fz.conf_timeout;
	fz.since = time(NULL);
	fz.asked_at = loop_now_ms();
	fz.by_uid = rq->uid;
	fz.by_pid = rq->pid;
	fz.n_freezes++;
	log_info("freeze: asked by uid %u pid %d%s, time limit %u s; "
	    "stopping writes", (unsigned)rq->uid, (int)rq->pid,
	    fz.want_fs ? " (with --fs)" : "", fz.timeout);
	arm_limit();
	quiesce();
	/* the fs is frozen already (a write is stuck): nothing more can be
	 * written before a thaw, so say ready now; the quiesce finishes
	 * after the thaw */
	if (fz.stall == STALL_STALLED)
		defer_forced();
	return CTL_DEFERRED;
}

/* Event "freeze asked" (FREEZE: u32 flags, u32 timeout): refuse, join
 * the freeze on, or begin one. */
static int
h_freeze(struct ctl_req *rq)
{
	uint32_t flags, timeout;

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
	if (fz.policy == CONF_FREEZE_REFUSE) {
		freeze_refuse(rq);
		return 0;
	}
	if (defer_on())
		return freeze_join(rq, flags, timeout);
	return freeze_begin(rq, flags, timeout);
}

/* Event "thaw asked" with no freeze on: a thaw of ours may still run (the
 * time limit ended the freeze) or have failed: wait for it or retry;
 * otherwise say why there is nothing to do. */
static int
thaw_unfrozen(struct ctl_req *rq)
{
	const char *msg;

	if (fz.fs != FS_NONE) {
		if (wait_add(&fz.thaw_wait, rq) < 0)
			return -EBUSY;
		if (fz.fs == FS_FROZEN && fs_job(FITHAW, 0) < 0) {
			fz.thaw_wait.n--;
			return -ENOMEM;
		}
		return CTL_DEFERRED;
	}
	if (fz.defer == DEFER_REFUSED)
		msg = "not frozen: the last freeze was refused; nothing to do";
	else if (fz.stall == STALL_STALLED)
		msg = "not frozen by larderd; but writes are stalled: the "
		    "filesystem seems frozen by someone else (fsfreeze -u it)";
	else
		msg = "not frozen: nothing to do";
	control_reply_str(rq, PROTO_OK, "%s", msg);
	return 0;
}

/* Event "thaw asked": end the freeze; answered once our FITHAW is done. */
static int
h_thaw(struct ctl_req *rq)
{
	int r;

	if (!defer_on())
		return thaw_unfrozen(rq);
	log_info("freeze: thaw asked by uid %u pid %d", (unsigned)rq->uid,
	    (int)rq->pid);
	r = end_defer(END_THAW, PROTO_ERR, "freeze cancelled by a thaw before "
	    "it was ready");
	if (r < 0)
		return r;
	if (fz.fs != FS_NONE) {
		/* FITHAW queued, or FIFREEZE running: fifreeze_done thaws */
		if (wait_add(&fz.thaw_wait, rq) < 0)
			return -EBUSY;
		return CTL_DEFERRED;
	}
	control_reply_str(rq, PROTO_OK, "thawed on request: writing %s",
	    fz.suspend != SUSPEND_NONE ? "stays stopped (suspended)" :
	    "resumed");
	return 0;
}

/* Event "suspend asked": stop writes, quiesce closing every write fd,
 * give the write claim back (suspend_advance). */
static int
h_suspend(struct ctl_req *rq)
{
	if (fz.suspend == SUSPEND_SUSPENDED || fz.suspend == SUSPEND_RESUMING) {
		control_reply_str(rq, PROTO_OK, "already suspended: write claim "
		    "released");
		return 0;
	}
	if (fz.stall == STALL_STALLED && fz.suspend == SUSPEND_NONE) {
		control_reply_str(rq, PROTO_EBUSY, "cannot suspend: writes are "
		    "stalled (the filesystem seems frozen); thaw it first");
		return 0;
	}
	if (wait_add(&fz.suspend_wait, rq) < 0)
		return -EBUSY;
	if (fz.suspend == SUSPEND_NONE) {
		set_suspend(SUSPEND_SUSPENDING);
		fz.suspend_uid = rq->uid;
		fz.suspend_pid = rq->pid;
		fz.suspend_since = time(NULL);
		fz.n_suspends++;
		log_info("suspend: asked by uid %u pid %d; stopping writes",
		    (unsigned)rq->uid, (int)rq->pid);
		quiesce();
	}
	return CTL_DEFERRED;
}

/* Worker: open and lock larder.lock (may wait on a frozen filesystem). */
static void
claim_run(struct work *w)
{
	struct claimjob *j = (struct claimjob *)w;

	j->fd = mount_claim_open();
}

/* Event "the claim job finished": resumed, or still suspended. */
static void
claim_done(struct work *w)
{
	struct claimjob *j = (struct claimjob *)w;
	char msg[256];
	int fd = j->fd;

	free(j);
	if (fz.claimq == NULL) {
		/* freeze_fini */
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0) {
		set_suspend(SUSPEND_SUSPENDED);
		snprintf(msg, sizeof(msg), "cannot resume: %s%s; still "
		    "suspended", strerror(-fd), fd == -EROFS ? " (the "
		    "filesystem is read-only: remount it read-write first)" :
		    fd == -EBUSY ? " (another process holds larder.lock)" : "");
		log_warnx("resume: take the write claim: %s", strerror(-fd));
		wait_reply(&fz.resume_wait, proto_status_from_errno(-fd), msg);
		return;
	}
	mount_claim_set(fd);
	set_suspend(SUSPEND_NONE);
	fz.suspend_since = time(NULL);
	maybe_unquiesce();
	wait_reply(&fz.resume_wait, PROTO_OK, defer_on() ? "resumed: write "
	    "claim taken, writing stays stopped (deferred for a freeze)" :
	    "resumed: write claim taken, writing resumed");
}

/* Queue the claim job that ends a suspend; -ENOMEM. */
static int
claim_start(void)
{
	struct claimjob *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -ENOMEM;
	j->w.run = claim_run;
	j->w.done = claim_done;
	set_suspend(SUSPEND_RESUMING);
	submit_job(fz.claimq, &j->w);
	return 0;
}

/* Event "resume asked": take the write claim back (on the claim worker),
 * unless there is nothing to resume or it cannot be done now. */
static int
h_resume(struct ctl_req *rq)
{
	if (fz.suspend == SUSPEND_NONE) {
		control_reply_str(rq, PROTO_OK, "not suspended: nothing to do");
		return 0;
	}
	if (fz.suspend == SUSPEND_SUSPENDING) {
		control_reply_str(rq, PROTO_EBUSY, "a suspend is in progress "
		    "(draining writes); try again");
		return 0;
	}
	if (fz.fs != FS_NONE) {
		control_reply_str(rq, PROTO_EBUSY, "the filesystem is frozen by "
		    "larderd: thaw first, then resume");
		return 0;
	}
	if (wait_add(&fz.resume_wait, rq) < 0)
		return -EBUSY;
	if (fz.suspend == SUSPEND_RESUMING)
		return CTL_DEFERRED;
	if (claim_start() < 0) {
		fz.resume_wait.n--;
		return -ENOMEM;
	}
	log_info("resume: asked by uid %u pid %d; taking the write claim",
	    (unsigned)rq->uid, (int)rq->pid);
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

/* Event "a write is stuck" (age ms old): stop starting writes. A stall
 * soon after the last one ended is the same episode, logged once. */
static void
stall_begin(uint64_t age)
{
	if (fz.stall == STALL_CALMING) {
		/* the same episode: the next write stuck too */
		fz.flowing_since = 0;
		log_debug("writes stalled again for %llu ms",
		    (unsigned long long)age);
	} else {
		fz.stalled_since = time(NULL);
		fz.n_stalls++;
		log_warnx("writes stalled for %llu ms: cache filesystem "
		    "frozen? %s", (unsigned long long)age, backend != NULL &&
		    backend->stall_note != NULL ? backend->stall_note : "");
	}
	set_stall(STALL_STALLED);
	defer_forced();
}

/*
 * Event "the oldest write in flight is age ms old" (now: loop ms;
 * progress: the cache's block device completed writes since the last
 * look). A write in flight for STALL_MS or more means the filesystem is
 * frozen under us: stop starting writes until it completes. A freeze often
 * shows as several stalls in a row (the stuck write completes, the next
 * one sticks), so a stall episode, logged once each way, ends only after
 * writes have flowed for CALM_MS. A frozen filesystem sends nothing to its
 * device, so while the device completes writes a long write is only slow
 * (writeback of a large fill, dirty throttling on a slow disk), up to
 * SLOW_MAX_MS.
 */
static void
stall_check(uint64_t age, int progress, uint64_t now)
{
	if (fz.stall == STALL_STALLED) {
		if (age >= STALL_MS)
			return;
		/* the stuck write completed: writes start again, on
		 * probation */
		fz.flowing_since = now != 0 ? now : 1;
		set_stall(STALL_CALMING);
		return;
	}
	if (fz.stall == STALL_CALMING && now - fz.flowing_since >= CALM_MS) {
		fz.flowing_since = 0;
		set_stall(STALL_NONE);
		log_warnx("writes flow again after %lld s: cache filesystem "
		    "thawed; fills resume",
		    (long long)(time(NULL) - fz.stalled_since));
	}
	/* while we froze it ourselves, a stuck write is no news; nor after
	 * "ready": a fill write the freeze let go (store_fill_let_go) may
	 * wait for the thaw of the freeze that follows */
	if (age < STALL_MS || fz.fs == FS_FROZEN ||
	    fz.defer == DEFER_DEFERRED ||
	    fz.suspend == SUSPEND_SUSPENDED || fz.suspend == SUSPEND_RESUMING)
		return;
	if (progress && age < SLOW_MAX_MS)
		return;		/* slow, not frozen */
	stall_begin(age);
}

/* Every STALL_TICK_MS: read the age of the backend's oldest write and the
 * device's write count, and look for a stall. */
static void
stall_tick(void *arg)
{
	uint64_t age = 0;
	int64_t w;
	int progress;

	(void)arg;
	fz.tick = loop_timer_add(STALL_TICK_MS, stall_tick, NULL);
	if (fz.tick == NULL)
		log_warn("freeze: stall timer");
	if (backend != NULL && backend->oldest_write_ms != NULL)
		age = backend->oldest_write_ms(backend->arg);
	w = dev_writes_done();
	progress = w >= 0 && fz.dev_writes >= 0 && w != fz.dev_writes;
	fz.dev_writes = w;
	stall_check(age, progress, loop_now_ms());
}

/* ---- status, stats, life ---------------------------------------------- */

static void
freeze_status(struct ctl_kv *kv)
{
	uint64_t now = loop_now_ms();

	ctl_kv_str(kv, "freeze.state", freeze_state_str());
	ctl_kv_str(kv, "freeze.policy", conf_freeze_str(fz.policy));
	ctl_kv_u64(kv, "freeze.timeout", fz.conf_timeout);
	if (defer_on()) {
		ctl_kv_s64(kv, "freeze.since", (int64_t)fz.since);
		ctl_kv_u64(kv, "freeze.by_uid", fz.by_uid);
		ctl_kv_s64(kv, "freeze.by_pid", fz.by_pid);
		ctl_kv_u64(kv, "freeze.time_left",
		    fz.limit != NULL && fz.limit_at > now ?
		    (fz.limit_at - now + 999) / 1000 : 0);
	}
	ctl_kv_str(kv, "freeze.fs_frozen_by_larderd",
	    fz.fs == FS_FROZEN ? "yes" : fz.fs == FS_FREEZING ? "freezing" :
	    fz.fs == FS_THAWING ? "thawing" : "no");
	if (fz.suspend != SUSPEND_NONE) {
		ctl_kv_s64(kv, "freeze.suspended_since",
		    (int64_t)fz.suspend_since);
		ctl_kv_u64(kv, "freeze.suspended_by_uid", fz.suspend_uid);
		ctl_kv_s64(kv, "freeze.suspended_by_pid", fz.suspend_pid);
	}
	if (fz.stall != STALL_NONE)
		ctl_kv_s64(kv, "freeze.stalled_since",
		    (int64_t)fz.stalled_since);
}

static void
freeze_stats(struct ctl_kv *kv)
{
	ctl_kv_u64(kv, "freeze.freezes", fz.n_freezes);
	ctl_kv_u64(kv, "freeze.refused", fz.n_refused);
	ctl_kv_u64(kv, "freeze.fs_frozen", fz.n_fs_frozen);
	ctl_kv_u64(kv, "freeze.time_limit_thaws", fz.n_limit_thaws);
	ctl_kv_u64(kv, "freeze.stalls", fz.n_stalls);
	ctl_kv_u64(kv, "freeze.suspends", fz.n_suspends);
}

void
freeze_set_backend(const struct freeze_backend *b)
{
	backend = b;
}

void
freeze_reconfigure(const struct conf *c)
{
	fz.policy = c->freeze;
	fz.conf_timeout = c->freeze_timeout > 0 && c->freeze_timeout <=
	    MAX_TIMEOUT ? c->freeze_timeout : CONF_DEFAULT_FREEZE_TIMEOUT;
}

int
freeze_init(const struct conf *c)
{
	memset(&fz, 0, sizeof(fz));
	gate_open(GATE_DEFER | GATE_SUSPEND | GATE_STALL);
	fz.dev_writes = -1;
	freeze_reconfigure(c);
	fz.since = time(NULL);
	fz.q = workq_create("larder-freeze", 1);
	if (fz.q == NULL)
		return -errno;
	fz.claimq = workq_create("larder-claim", 1);
	if (fz.claimq == NULL)
		return -errno;
	fz.tick = loop_timer_add(STALL_TICK_MS, stall_tick, NULL);
	if (fz.tick == NULL)
		return -errno;
	control_register(PROTO_FREEZE, h_freeze, 1);
	control_register(PROTO_THAW, h_thaw, 1);
	control_register(PROTO_SUSPEND, h_suspend, 1);
	control_register(PROTO_RESUME, h_resume, 1);
	control_add_status(freeze_status);
	control_add_stats(freeze_stats);
	return 0;
}

/*
 * Stop: answer every request still waiting, end the freeze, let the
 * queued FIFREEZE/FITHAW jobs and a claim job finish (their done()s see
 * the queues gone and queue nothing more), and thaw the filesystem here if
 * larderd froze it. May wait for a claim stuck on a frozen filesystem
 * until it is thawed (main.c's stop timer bounds the shutdown).
 */
void
freeze_fini(void)
{
	struct workq *q = fz.q, *claimq = fz.claimq;

	if (fz.tick != NULL) {
		loop_timer_cancel(fz.tick);
		fz.tick = NULL;
	}
	/* fs_job and claim_done: stopping */
	fz.q = NULL;
	fz.claimq = NULL;
	if (defer_on())
		end_defer(END_STOP, PROTO_ERR, "larderd is stopping");
	wait_reply(&fz.suspend_wait, PROTO_ERR, "larderd is stopping");
	/* runs every queued FIFREEZE/FITHAW and its done() */
	workq_destroy(q);
	/* a claim stuck on a frozen fs holds this up until the thaw */
	workq_destroy(claimq);
	wait_reply(&fz.thaw_wait, PROTO_OK, "thawed (larderd is stopping)");
	wait_reply(&fz.resume_wait, PROTO_ERR, "larderd is stopping");
	if (fz.fs == FS_FROZEN && mount_root_fd() != -1) {
		if (fs_ioctl(mount_root_fd(), FITHAW) != 0)
			log_warn("freeze: thaw at exit");
		else
			log_info("freeze: thawed: larderd is stopping");
	}
	fz.fs = FS_NONE;
}
