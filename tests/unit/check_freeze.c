/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_freeze.c: freeze.c's state machines (the defer handshake with and
 * without --fs, suspend/resume, stall detection) driven event by event,
 * without root and without a filesystem:
 *
 *   - the backend is a fake whose quiesce completes (or fails) when the
 *     test says so;
 *   - the FIFREEZE/FITHAW and claim jobs go to a list here instead of the
 *     worker queues (freeze.c's submit_job), and the test completes them
 *     with the result it wants, on this thread, as the loop would;
 *   - control.c's reply and registration functions and mount.c's root and
 *     claim functions are replaced below (control.o and mount.o are not
 *     linked in: a second definition would fail the link);
 *   - the time limit and the stall timer are called directly, with the
 *     ages and times the test chooses.
 *
 * Each scenario of the table is a list of events, each followed by the
 * state freeze_state() must report, whether writes may start
 * (freeze_writes_ok) and what was answered meanwhile.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/freeze.c"

/* ---- what control.c would do ------------------------------------------- */

#define MAX_REPLIES	32

/* the answers given during the current step */
static char replies[MAX_REPLIES][512];
static unsigned nreplies;

static void
record(const char *fmt, ...)
{
	va_list ap;

	ck_assert_uint_lt(nreplies, MAX_REPLIES);
	va_start(ap, fmt);
	vsnprintf(replies[nreplies++], sizeof(replies[0]), fmt, ap);
	va_end(ap);
}

void
control_reply_str(struct ctl_req *rq, uint16_t status, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record("%u %s", (unsigned)status, msg);
	free(rq);
}

void
control_register(uint16_t type, ctl_handler_fn *fn, int admin_only)
{
	(void)type;
	(void)fn;
	ck_assert_int_eq(admin_only, 1);
}

void
control_add_status(ctl_kv_fn *fn)
{
	(void)fn;
}

void
control_add_stats(ctl_kv_fn *fn)
{
	(void)fn;
}

void
ctl_kv_str(struct ctl_kv *kv, const char *key, const char *v)
{
	(void)kv;
	(void)key;
	(void)v;
}

void
ctl_kv_u64(struct ctl_kv *kv, const char *key, uint64_t v)
{
	(void)kv;
	(void)key;
	(void)v;
}

void
ctl_kv_s64(struct ctl_kv *kv, const char *key, int64_t v)
{
	(void)kv;
	(void)key;
	(void)v;
}

/* ---- what mount.c would do ----------------------------------------------- */

static int root_fd = -1;	/* /dev/null: no block device behind it */
static int released, claimed;

int
mount_root_fd(void)
{
	return root_fd;
}

void
mount_release(void)
{
	released++;
}

int
mount_claim_open(void)
{
	ck_abort_msg("the claim job runs on a worker, not here");
	return -EINVAL;
}

void
mount_claim_set(int fd)
{
	claimed++;
	close(fd);
}

/* ---- the fake backend and the fake worker queues ------------------------- */

static struct {
	char state;			/* as struct step's backend */
	unsigned quiesces, resumes;
	unsigned flags;			/* of the last quiesce */
	void (*done)(void *, int);	/* the quiesce running, or NULL */
	void *darg;
} fb;

static void
fb_quiesce(void *arg, unsigned flags, void (*done)(void *darg, int err),
    void *darg)
{
	(void)arg;
	ck_assert_ptr_null(fb.done);	/* one at a time */
	fb.quiesces++;
	fb.state = 'q';
	fb.flags = flags;
	fb.done = done;
	fb.darg = darg;
}

static void
fb_resume(void *arg)
{
	(void)arg;
	ck_assert_ptr_null(fb.done);
	ck_assert_int_eq(fb.state, 'd');
	fb.state = 'w';
	fb.resumes++;
}

static const struct freeze_backend fake_backend = {
	.quiesce = fb_quiesce, .resume = fb_resume,
	.stall_note = "(fake backend)",
};

/* jobs submitted, oldest first */
static struct work *jobs[16];
static unsigned njobs;

static void
fake_submit(struct workq *q, struct work *w)
{
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_lt(njobs, 16);
	jobs[njobs++] = w;
}

static struct work *
job_pop(void)
{
	struct work *w;

	ck_assert_uint_gt(njobs, 0);
	w = jobs[0];
	memmove(jobs, jobs + 1, --njobs * sizeof(jobs[0]));
	return w;
}

/* The oldest job is FIFREEZE or FITHAW (op); it ends with err (errno). */
static void
fs_job_finish(unsigned long op, int err)
{
	struct fsjob *j = (struct fsjob *)job_pop();

	ck_assert_ptr_eq(j->w.run, fs_job_run);
	ck_assert_uint_eq(j->op, op);
	j->err = err;
	j->w.done(&j->w);
}

/* The oldest job is a claim; it ends with fd (or -errno). */
static void
claim_finish(int fd)
{
	struct claimjob *j = (struct claimjob *)job_pop();

	ck_assert_ptr_eq(j->w.run, claim_run);
	j->fd = fd;
	j->w.done(&j->w);
}

/* ---- events ---------------------------------------------------------------- */

enum ev {
	EV_END,
	EV_FREEZE,		/* larderctl freeze */
	EV_FREEZE_FS,		/* larderctl freeze --fs */
	EV_FREEZE_T5,		/* larderctl freeze --timeout 5 */
	EV_THAW,
	EV_SUSPEND,
	EV_RESUME,
	EV_REFUSE,		/* reload: freeze refuse */
	EV_QUIESCED,		/* the backend's quiesce completes */
	EV_QUIESCE_FAIL,	/* ... fails with EIO */
	EV_FROZEN,		/* FIFREEZE succeeds */
	EV_FREEZE_EBUSY,	/* FIFREEZE: frozen by someone else */
	EV_FREEZE_EPERM,	/* FIFREEZE: no CAP_SYS_ADMIN */
	EV_THAWED,		/* FITHAW succeeds */
	EV_THAW_EIO,		/* FITHAW fails */
	EV_CLAIM,		/* the claim job takes the claim */
	EV_CLAIM_EROFS,		/* ... cannot: read-only */
	EV_LIMIT,		/* the time limit fires */
	EV_STUCK,		/* stall tick: a write 1 s old, no device progress */
	EV_SLOW,		/* stall tick: a write 1 s old, the device writes */
	EV_FLOW,		/* stall tick: no write in flight */
	EV_CALM,		/* stall tick: CALM_MS later, none in flight */
};

static uint64_t now_ms = 1000;

/* A request with a body of flags and timeout, as larderctl sends. */
static struct ctl_req *
rq_new(uint32_t flags, uint32_t timeout)
{
	struct ctl_req *rq = calloc(1, sizeof(*rq) + 8);
	uint8_t *data = (uint8_t *)(rq + 1);

	ck_assert_ptr_nonnull(rq);
	proto_buf_init(&rq->body, data, 8);
	proto_put_u32(&rq->body, flags);
	proto_put_u32(&rq->body, timeout);
	proto_buf_init(&rq->body, data, 8);
	rq->uid = 0;
	rq->pid = 42;
	return rq;
}

/* Call a handler as control.c does: an error return is answered. */
static void
handle(ctl_handler_fn *h, uint32_t flags, uint32_t timeout)
{
	struct ctl_req *rq = rq_new(flags, timeout);
	int r = h(rq);

	if (r < 0) {
		record("error %d", r);
		free(rq);
	}
}

static void
fire_limit(void)
{
	ck_assert_ptr_nonnull(fz.limit);
	loop_timer_cancel(fz.limit);
	limit_fired(NULL);
}

static void
quiesce_finish(int err)
{
	void (*done)(void *, int) = fb.done;

	ck_assert_ptr_nonnull(done);
	fb.done = NULL;
	fb.state = 'd';		/* writes stopped, even when it failed */
	done(fb.darg, err);
}

/* Feed one event to freeze.c. */
static void
feed(enum ev ev)
{
	switch (ev) {
	case EV_END:
		break;
	case EV_FREEZE:
		handle(h_freeze, 0, 0);
		break;
	case EV_FREEZE_FS:
		handle(h_freeze, PROTO_FREEZE_FS, 0);
		break;
	case EV_FREEZE_T5:
		handle(h_freeze, 0, 5);
		break;
	case EV_THAW:
		handle(h_thaw, 0, 0);
		break;
	case EV_SUSPEND:
		handle(h_suspend, 0, 0);
		break;
	case EV_RESUME:
		handle(h_resume, 0, 0);
		break;
	case EV_REFUSE:
		fz.policy = CONF_FREEZE_REFUSE;
		break;
	case EV_QUIESCED:
		quiesce_finish(0);
		break;
	case EV_QUIESCE_FAIL:
		quiesce_finish(-EIO);
		break;
	case EV_FROZEN:
		fs_job_finish(FIFREEZE, 0);
		break;
	case EV_FREEZE_EBUSY:
		fs_job_finish(FIFREEZE, EBUSY);
		break;
	case EV_FREEZE_EPERM:
		fs_job_finish(FIFREEZE, EPERM);
		break;
	case EV_THAWED:
		fs_job_finish(FITHAW, 0);
		break;
	case EV_THAW_EIO:
		fs_job_finish(FITHAW, EIO);
		break;
	case EV_CLAIM:
		claim_finish(open("/dev/null", O_RDONLY | O_CLOEXEC));
		break;
	case EV_CLAIM_EROFS:
		claim_finish(-EROFS);
		break;
	case EV_LIMIT:
		fire_limit();
		break;
	case EV_STUCK:
		stall_check(1000, 0, now_ms);
		break;
	case EV_SLOW:
		stall_check(1000, 1, now_ms);
		break;
	case EV_FLOW:
		stall_check(0, 0, now_ms);
		break;
	case EV_CALM:
		now_ms += CALM_MS;
		stall_check(0, 0, now_ms);
		break;
	}
}

/* ---- the transition table --------------------------------------------------- */

#define R	FREEZE_RUNNING
#define DING	FREEZE_DEFERRING
#define DED	FREEZE_DEFERRED
#define ST	FREEZE_STALLED
#define SING	FREEZE_SUSPENDING
#define SED	FREEZE_SUSPENDED

struct step {
	enum ev ev;
	enum freeze_state state;	/* freeze_state() after it */
	int writes;			/* freeze_writes_ok() after it */
	char backend;			/* the fake backend after it: 'w'
					   writing, 'q' quiescing, 'd' drained
					   (quiesced, not resumed) */
	/* every answer given during the step, in order, "|"-separated, each
	 * "STATUS text" matched as a prefix of the answer ("": none) */
	const char *answers;
};

struct scenario {
	const char *name;
	struct step steps[12];
};

#define OK	"0 "
#define ERR	"1 "

static const struct scenario table[] = {
	{ "defer: freeze, ready, thaw", {
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_QUIESCED, DED, 0, 'd', OK "ready: writes stopped and flushed;" },
		{ EV_THAW, R, 1, 'w', OK "thawed on request: writing resumed" },
	} },
	{ "defer: a thaw before ready cancels the freeze", {
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_THAW, R, 1, 'q', ERR "freeze cancelled by a thaw before it was "
		    "ready|" OK "thawed on request: writing resumed" },
		{ EV_QUIESCED, R, 1, 'w', "" },
	} },
	{ "defer: policy refuse", {
		{ EV_REFUSE, R, 1, 'w', "" },
		{ EV_FREEZE, R, 1, 'w', "8 freeze refused: the freeze policy is "
		    "refuse" },
		{ EV_THAW, R, 1, 'w', OK "not frozen: the last freeze was refused" },
	} },
	{ "defer: thaw without a freeze", {
		{ EV_THAW, R, 1, 'w', OK "not frozen: nothing to do" },
	} },
	{ "defer: a second freeze joins a ready one", {
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_QUIESCED, DED, 0, 'd', OK "ready:" },
		{ EV_FREEZE, DED, 0, 'd', OK "ready: already deferred since" },
		{ EV_FREEZE_FS, DING, 0, 'd', "" },
		{ EV_FROZEN, DED, 0, 'd', OK "ready: writes stopped and flushed; "
		    "filesystem frozen by larderd" },
		{ EV_THAW, R, 1, 'd', "" },
		{ EV_THAWED, R, 1, 'w', OK "thawed: filesystem thawed, writing "
		    "resumed" },
	} },
	{ "defer: two freezes wait for one quiesce", {
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_QUIESCED, DED, 0, 'd', OK "ready:|" OK "ready:" },
		{ EV_THAW, R, 1, 'w', OK "thawed on request" },
	} },
	{ "defer: time limit after ready", {
		{ EV_FREEZE_T5, DING, 0, 'q', "" },
		{ EV_QUIESCED, DED, 0, 'd', OK "ready: writes stopped and flushed; "
		    "writing resumes after thaw or in 5 s" },
		{ EV_LIMIT, R, 1, 'w', "" },
		{ EV_THAW, R, 1, 'w', OK "not frozen: nothing to do" },
	} },
	{ "defer: time limit before ready", {
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_LIMIT, R, 1, 'q', ERR "freeze ended: time limit reached before "
		    "ready" },
		{ EV_QUIESCED, R, 1, 'w', "" },
	} },
	{ "defer: the quiesce fails", {
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_QUIESCE_FAIL, R, 1, 'w', "11 could not drain and flush the "
		    "cache" },
	} },
	{ "fs: freeze --fs, ready, thaw", {
		{ EV_FREEZE_FS, DING, 0, 'q', "" },
		{ EV_QUIESCED, DING, 0, 'd', "" },
		{ EV_FROZEN, DED, 0, 'd', OK "ready: writes stopped and flushed; "
		    "filesystem frozen by larderd" },
		{ EV_THAW, R, 1, 'd', "" },
		{ EV_THAWED, R, 1, 'w', OK "thawed: filesystem thawed, writing "
		    "resumed" },
	} },
	{ "fs: already frozen by someone else", {
		{ EV_FREEZE_FS, DING, 0, 'q', "" },
		{ EV_QUIESCED, DING, 0, 'd', "" },
		{ EV_FREEZE_EBUSY, DED, 0, 'd', OK "ready: writes stopped and "
		    "flushed; the filesystem was already frozen by someone "
		    "else" },
		{ EV_THAW, R, 1, 'w', OK "thawed on request" },
	} },
	{ "fs: FIFREEZE not permitted", {
		{ EV_FREEZE_FS, DING, 0, 'q', "" },
		{ EV_QUIESCED, DING, 0, 'd', "" },
		{ EV_FREEZE_EPERM, R, 1, 'w', "7 cannot freeze the filesystem "
		    "(FIFREEZE): Operation not permitted (needs CAP_SYS_ADMIN)" },
	} },
	{ "fs: the time limit fires while FIFREEZE runs", {
		{ EV_FREEZE_FS, DING, 0, 'q', "" },
		{ EV_QUIESCED, DING, 0, 'd', "" },
		{ EV_LIMIT, R, 1, 'd', ERR "freeze ended: time limit reached" },
		{ EV_FROZEN, R, 1, 'd', "" },	/* thawed again at once */
		{ EV_THAWED, R, 1, 'w', "" },
		{ EV_THAW, R, 1, 'w', OK "not frozen: nothing to do" },
	} },
	{ "fs: the time limit thaws, a thaw waits for it", {
		{ EV_FREEZE_FS, DING, 0, 'q', "" },
		{ EV_QUIESCED, DING, 0, 'd', "" },
		{ EV_FROZEN, DED, 0, 'd', OK "ready:" },
		{ EV_LIMIT, R, 1, 'd', "" },
		{ EV_THAW, R, 1, 'd', "" },
		{ EV_THAWED, R, 1, 'w', OK "thawed: filesystem thawed, writing "
		    "resumed" },
	} },
	{ "fs: FITHAW fails, the next thaw retries", {
		{ EV_FREEZE_FS, DING, 0, 'q', "" },
		{ EV_QUIESCED, DING, 0, 'd', "" },
		{ EV_FROZEN, DED, 0, 'd', OK "ready:" },
		{ EV_THAW, R, 1, 'd', "" },
		{ EV_THAW_EIO, R, 1, 'd', "11 thaw (FITHAW) failed" },
		{ EV_RESUME, R, 1, 'd', OK "not suspended" },
		{ EV_THAW, R, 1, 'd', "" },
		{ EV_THAWED, R, 1, 'w', OK "thawed: filesystem thawed, writing "
		    "resumed" },
	} },
	{ "fs: a thaw while FIFREEZE runs", {
		{ EV_FREEZE_FS, DING, 0, 'q', "" },
		{ EV_QUIESCED, DING, 0, 'd', "" },
		{ EV_THAW, R, 1, 'd', ERR "freeze cancelled by a thaw" },
		{ EV_FREEZE_EBUSY, R, 1, 'w', OK "thawed: larderd had not frozen "
		    "the filesystem" },
	} },
	{ "suspend: suspend, resume", {
		{ EV_SUSPEND, SING, 0, 'q', "" },
		{ EV_RESUME, SING, 0, 'q', "9 a suspend is in progress" },
		{ EV_QUIESCED, SED, 0, 'd', OK "suspended: writes stopped and "
		    "flushed, write claim released" },
		{ EV_SUSPEND, SED, 0, 'd', OK "already suspended" },
		{ EV_RESUME, SED, 0, 'd', "" },
		{ EV_CLAIM, R, 1, 'w', OK "resumed: write claim taken, writing "
		    "resumed" },
		{ EV_RESUME, R, 1, 'w', OK "not suspended: nothing to do" },
	} },
	{ "suspend: the claim cannot be taken", {
		{ EV_SUSPEND, SING, 0, 'q', "" },
		{ EV_QUIESCED, SED, 0, 'd', OK "suspended:" },
		{ EV_RESUME, SED, 0, 'd', "" },
		{ EV_CLAIM_EROFS, SED, 0, 'd', "6 cannot resume: Read-only file "
		    "system (the filesystem is read-only" },
		{ EV_RESUME, SED, 0, 'd', "" },
		{ EV_CLAIM, R, 1, 'w', OK "resumed:" },
	} },
	{ "suspend: the quiesce fails", {
		{ EV_SUSPEND, SING, 0, 'q', "" },
		{ EV_QUIESCE_FAIL, R, 1, 'w', "11 could not drain and flush" },
	} },
	{ "suspend: a freeze during a suspend", {
		{ EV_SUSPEND, SING, 0, 'q', "" },
		{ EV_QUIESCED, SED, 0, 'd', OK "suspended:" },
		{ EV_FREEZE, SED, 0, 'd', OK "ready: writes stopped and flushed" },
		{ EV_THAW, SED, 0, 'd', OK "thawed on request: writing stays "
		    "stopped (suspended)" },
		{ EV_RESUME, SED, 0, 'd', "" },
		{ EV_CLAIM, R, 1, 'w', OK "resumed: write claim taken, writing "
		    "resumed" },
	} },
	{ "suspend: a suspend during a freeze's quiesce", {
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_SUSPEND, SING, 0, 'q', "" },
		{ EV_QUIESCED, SING, 0, 'q', "" },	/* and quiesces again, closing */
		{ EV_QUIESCED, SED, 0, 'd', OK "suspended:|" OK "ready:" },
		{ EV_RESUME, SED, 0, 'd', "" },
		{ EV_CLAIM, DED, 0, 'd', OK "resumed: write claim taken, writing "
		    "stays stopped (deferred for a freeze)" },
		{ EV_THAW, R, 1, 'w', OK "thawed on request: writing resumed" },
	} },
	{ "suspend: resume while frozen by larderd", {
		{ EV_SUSPEND, SING, 0, 'q', "" },
		{ EV_QUIESCED, SED, 0, 'd', OK "suspended:" },
		{ EV_FREEZE_FS, SED, 0, 'd', "" },
		{ EV_FROZEN, SED, 0, 'd', OK "ready:" },
		{ EV_RESUME, SED, 0, 'd', "9 the filesystem is frozen by larderd" },
		{ EV_THAW, SED, 0, 'd', "" },
		{ EV_THAWED, SED, 0, 'd', OK "thawed: filesystem thawed; writing "
		    "stays stopped (suspended)" },
	} },
	{ "stall: begins and ends", {
		{ EV_FLOW, R, 1, 'w', "" },
		{ EV_STUCK, ST, 0, 'w', "" },
		{ EV_THAW, ST, 0, 'w', OK "not frozen by larderd; but writes are "
		    "stalled" },
		{ EV_SUSPEND, ST, 0, 'w', "9 cannot suspend: writes are stalled" },
		{ EV_FLOW, R, 1, 'w', "" },	/* on probation */
		{ EV_STUCK, ST, 0, 'w', "" },	/* the same episode */
		{ EV_FLOW, R, 1, 'w', "" },
		{ EV_CALM, R, 1, 'w', "" },	/* the episode ends */
	} },
	{ "stall: a slow device is not a stall", {
		{ EV_SLOW, R, 1, 'w', "" },
		{ EV_STUCK, ST, 0, 'w', "" },
	} },
	{ "stall: a freeze during a stall is ready at once", {
		{ EV_STUCK, ST, 0, 'w', "" },
		{ EV_FREEZE, DING, 0, 'q', OK "ready: writes stopped; the filesystem "
		    "is already frozen by someone else (writes stalled)" },
		{ EV_FLOW, DING, 0, 'q', "" },	/* the quiesce still runs */
		{ EV_QUIESCED, DED, 0, 'd', "" },
		{ EV_THAW, R, 1, 'w', OK "thawed on request: writing resumed" },
	} },
	{ "stall: a stall while deferring answers ready", {
		{ EV_FREEZE, DING, 0, 'q', "" },
		{ EV_STUCK, DING, 0, 'q', OK "ready: writes stopped; the filesystem "
		    "is already frozen by someone else" },
		{ EV_FREEZE, DING, 0, 'q', OK "ready: already deferred" },
		{ EV_FLOW, DING, 0, 'q', "" },
		{ EV_QUIESCED, DED, 0, 'd', "" },
		{ EV_THAW, R, 1, 'w', OK "thawed on request" },
	} },
	{ "stall: ignored while larderd froze the fs or is suspended", {
		{ EV_FREEZE_FS, DING, 0, 'q', "" },
		{ EV_QUIESCED, DING, 0, 'd', "" },
		{ EV_FROZEN, DED, 0, 'd', OK "ready:" },
		{ EV_STUCK, DED, 0, 'd', "" },
		{ EV_THAW, R, 1, 'd', "" },
		{ EV_THAWED, R, 1, 'w', OK "thawed:" },
		{ EV_SUSPEND, SING, 0, 'q', "" },
		{ EV_QUIESCED, SED, 0, 'd', OK "suspended:" },
		{ EV_STUCK, SED, 0, 'd', "" },
		{ EV_RESUME, SED, 0, 'd', "" },
		{ EV_CLAIM, R, 1, 'w', OK "resumed:" },
	} },
};

/* Each "|"-separated part of want is the prefix of one answer, in order. */
static void
check_answers(const char *name, unsigned i, const char *want)
{
	const char *p = want;
	unsigned n = 0;
	size_t len;

	while (*p != '\0') {
		len = strcspn(p, "|");
		ck_assert_msg(n < nreplies, "%s, step %u: answer %u missing "
		    "(want \"%.*s\")", name, i, n, (int)len, p);
		ck_assert_msg(strncmp(replies[n], p, len) == 0, "%s, step %u: "
		    "answer %u is \"%s\", want \"%.*s\"", name, i, n,
		    replies[n], (int)len, p);
		n++;
		p += len;
		if (*p == '|')
			p++;
	}
	ck_assert_msg(n == nreplies, "%s, step %u: %u answers, want %u (the "
	    "next: \"%s\")", name, i, nreplies, n, replies[n]);
}

START_TEST(test_transitions)
{
	const struct scenario *sc = &table[_i];
	const struct step *s;
	unsigned i;

	for (i = 0; i < 12 && sc->steps[i].ev != EV_END; i++) {
		s = &sc->steps[i];
		nreplies = 0;
		feed(s->ev);
		ck_assert_msg(freeze_state() == s->state, "%s, step %u: state "
		    "%s, want %d", sc->name, i, freeze_state_str(), s->state);
		ck_assert_msg(freeze_writes_ok() == s->writes, "%s, step %u: "
		    "writes_ok %d", sc->name, i, freeze_writes_ok());
		ck_assert_msg(fb.state == s->backend, "%s, step %u: backend "
		    "'%c'", sc->name, i, fb.state);
		check_answers(sc->name, i, s->answers);
	}
	/* whatever happened, nothing is left half done */
	ck_assert_uint_eq(njobs, 0);
	ck_assert_uint_eq(fz.freeze_wait.n + fz.thaw_wait.n +
	    fz.suspend_wait.n + fz.resume_wait.n, 0);
}
END_TEST

/* ---- contracts the table does not show ------------------------------------- */

/* Writing resumes (the backend's resume) only once nothing needs the
 * backend quiet: not while the fs is frozen by us, not while suspended. */
START_TEST(test_resume_once)
{
	feed(EV_FREEZE_FS);
	feed(EV_QUIESCED);
	ck_assert_uint_eq(fb.flags, 0);
	feed(EV_FROZEN);
	feed(EV_THAW);
	ck_assert_uint_eq(fb.resumes, 0);	/* still frozen */
	feed(EV_THAWED);
	ck_assert_uint_eq(fb.resumes, 1);

	feed(EV_SUSPEND);
	ck_assert_uint_eq(fb.flags, FREEZE_QUIESCE_CLOSE);
	feed(EV_QUIESCED);
	ck_assert_int_eq(released, 1);
	feed(EV_FREEZE);		/* closed already: no second quiesce */
	ck_assert_uint_eq(fb.quiesces, 2);
	feed(EV_THAW);
	ck_assert_uint_eq(fb.resumes, 1);	/* suspended */
	feed(EV_RESUME);
	feed(EV_CLAIM);
	ck_assert_int_eq(claimed, 1);
	ck_assert_uint_eq(fb.resumes, 2);
	ck_assert_uint_eq(fz.n_freezes, 2);
	ck_assert_uint_eq(fz.n_suspends, 1);
	ck_assert_uint_eq(fz.n_fs_frozen, 1);
}
END_TEST

/* A suspend during a plain quiesce needs a second, closing one. */
START_TEST(test_suspend_closes)
{
	feed(EV_FREEZE);
	feed(EV_SUSPEND);
	ck_assert_uint_eq(fb.quiesces, 1);
	feed(EV_QUIESCED);
	ck_assert_uint_eq(fb.quiesces, 2);
	ck_assert_uint_eq(fb.flags, FREEZE_QUIESCE_CLOSE);
	ck_assert_int_eq(released, 0);
	feed(EV_QUIESCED);
	ck_assert_int_eq(released, 1);
}
END_TEST

/* At most MAX_WAITERS requests wait on one quiesce; the next is refused
 * with EBUSY and the others are all answered. */
START_TEST(test_waiters)
{
	unsigned i;

	nreplies = 0;
	for (i = 0; i < MAX_WAITERS; i++)
		feed(EV_FREEZE);
	ck_assert_uint_eq(nreplies, 0);
	feed(EV_FREEZE);
	ck_assert_uint_eq(nreplies, 1);
	ck_assert_str_eq(replies[0], "error -16");
	nreplies = 0;
	feed(EV_QUIESCED);
	ck_assert_uint_eq(nreplies, MAX_WAITERS);
	for (i = 0; i < MAX_WAITERS; i++)
		ck_assert_msg(strncmp(replies[i], OK "ready:", 8) == 0,
		    "answer %u: %s", i, replies[i]);
	ck_assert_uint_eq(fb.quiesces, 1);
}
END_TEST

/* The time limit's FITHAW says why it thaws; so does the counter. */
START_TEST(test_limit_thaw)
{
	struct fsjob *j;

	feed(EV_FREEZE_FS);
	feed(EV_QUIESCED);
	feed(EV_FROZEN);
	feed(EV_LIMIT);
	ck_assert_uint_eq(njobs, 1);
	j = (struct fsjob *)jobs[0];
	ck_assert_uint_eq(j->op, FITHAW);
	ck_assert_int_eq(j->timed_out, 1);
	ck_assert_uint_eq(fz.n_limit_thaws, 1);
	ck_assert_ptr_null(fz.limit);
	feed(EV_THAWED);
	ck_assert_uint_eq(fb.resumes, 1);
}
END_TEST

/* The gate bits are freeze.c's own: the store's GATE_QUIESCE and cull's
 * GATE_FULL do not change freeze_writes_ok, and every bit of freeze.c's is
 * open again once its machine is back at rest. */
START_TEST(test_gate)
{
	gate_close(GATE_QUIESCE | GATE_FULL);
	ck_assert_int_eq(freeze_writes_ok(), 1);
	feed(EV_FREEZE);
	ck_assert_uint_eq(gate_closed(), GATE_DEFER | GATE_QUIESCE |
	    GATE_FULL);
	feed(EV_STUCK);
	ck_assert_uint_eq(gate_closed() & GATE_STALL, GATE_STALL);
	feed(EV_QUIESCED);
	feed(EV_THAW);
	feed(EV_FLOW);
	ck_assert_uint_eq(gate_closed(), GATE_QUIESCE | GATE_FULL);
	feed(EV_SUSPEND);
	ck_assert_uint_eq(gate_closed() & GATE_SUSPEND, GATE_SUSPEND);
}
END_TEST

/* A stall episode ends only after writes have flowed for CALM_MS: a write
 * stuck again before that is the same episode (counted once). */
START_TEST(test_stall_episode)
{
	feed(EV_STUCK);
	feed(EV_FLOW);
	feed(EV_STUCK);
	ck_assert_uint_eq(fz.n_stalls, 1);
	feed(EV_FLOW);
	feed(EV_CALM);
	ck_assert_int_eq(fz.stall, STALL_NONE);
	feed(EV_STUCK);
	ck_assert_uint_eq(fz.n_stalls, 2);
	/* a long write while the device writes is slow, up to SLOW_MAX_MS */
	feed(EV_FLOW);
	feed(EV_CALM);
	stall_check(SLOW_MAX_MS - 1, 1, now_ms);
	ck_assert_int_eq(fz.stall, STALL_NONE);
	stall_check(SLOW_MAX_MS, 1, now_ms);
	ck_assert_int_eq(fz.stall, STALL_STALLED);
}
END_TEST

/* Without a backend a quiesce is done at once. */
START_TEST(test_no_backend)
{
	freeze_set_backend(NULL);
	nreplies = 0;
	feed(EV_FREEZE);
	ck_assert_uint_eq(nreplies, 1);
	ck_assert_int_eq(strncmp(replies[0], OK "ready:", 8), 0);
	ck_assert_int_eq(freeze_state(), FREEZE_DEFERRED);
	feed(EV_THAW);
	ck_assert_int_eq(freeze_state(), FREEZE_RUNNING);
}
END_TEST

/* freeze_fini answers every request still waiting. */
START_TEST(test_fini)
{
	feed(EV_FREEZE);
	feed(EV_SUSPEND);
	nreplies = 0;
	freeze_fini();
	ck_assert_uint_eq(nreplies, 2);
	ck_assert_str_eq(replies[0], ERR "larderd is stopping");
	ck_assert_str_eq(replies[1], ERR "larderd is stopping");
	fz.tick = NULL;		/* teardown: nothing more to stop */
}
END_TEST

static void
setup(void)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	conf_defaults(&c);
	ck_assert_int_eq(loop_init(), 0);
	root_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(root_fd, 0);
	memset(&fb, 0, sizeof(fb));
	fb.state = 'w';
	njobs = nreplies = 0;
	released = claimed = 0;
	gate_reset();
	ck_assert_int_eq(freeze_init(&c), 0);
	submit_job = fake_submit;
	freeze_set_backend(&fake_backend);
}

static void
teardown(void)
{
	if (fz.tick != NULL) {
		fz.fs = FS_NONE;	/* no FITHAW on /dev/null */
		freeze_fini();
	}
	close(root_fd);
	loop_fini();
}

static Suite *
freeze_suite(void)
{
	Suite *s = suite_create("freeze");
	TCase *tc = tcase_create("machines");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_transitions, 0,
	    (int)(sizeof(table) / sizeof(table[0])));
	tcase_add_test(tc, test_resume_once);
	tcase_add_test(tc, test_suspend_closes);
	tcase_add_test(tc, test_waiters);
	tcase_add_test(tc, test_limit_thaw);
	tcase_add_test(tc, test_gate);
	tcase_add_test(tc, test_stall_episode);
	tcase_add_test(tc, test_no_backend);
	tcase_add_test(tc, test_fini);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(freeze_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
