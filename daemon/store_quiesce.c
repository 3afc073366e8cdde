/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_quiesce.c: draining the store's writes (store.h: store_quiesce),
 * whether the store may start a write (store_writes_ok), and the store as
 * freeze.c's backend (freeze.h: struct freeze_backend), registered by
 * store_init.
 *
 * A quiesce is a named sequence of steps, polled every QUIESCE_FAST_MS at
 * first, then every QUIESCE_POLL_MS, while it waits for the io thread.
 * At its start, a freeze's quiesce (not a suspend's) holds every close
 * until store_unquiesce (store_close_hold: the last close of a file may
 * write, and waiting for a batch of them once cost a freeze 60 ms):
 *
 *   QZ_DRAIN_IO      with STORE_QUIESCE_DROP (freeze, suspend) every
 *                    fill not yet taken by a worker is dropped first
 *                    (store_fill_drop: answered ENOBUFS, never written,
 *                    a miss); then what the io thread has in flight
 *                    finishes: creations, closes, the dropped jobs
 *                    passing through (which do nothing), and the writes
 *                    of fills. A freeze (STORE_QUIESCE_HOLD) drops the
 *                    creations of files and the closes still queued
 *                    (store_io_drop: the next fill asks for the file
 *                    again; the closes wait for the thaw with the
 *                    others), then waits for every job but a fill write
 *                    wholly handed to the kernel: that one is let go
 *                    (store_fill_let_go: answered ENOBUFS, its io_write
 *                    starts no more requests) and finishes in the
 *                    background. A write
 *                    the kernel has taken cannot be called back, and
 *                    waiting for it cost the freeze a journal commit or
 *                    more (5 ms median, up to 122 ms, under
 *                    bench-freeze.sh); a kernel freeze waits for it
 *                    anyway (FIFREEZE waits for the writers inside), and
 *                    it claims nothing before the thaw (its record is
 *                    held like every other), so any image taken after
 *                    "ready" has it as a miss at worst. "Ready" thus
 *                    promises that larderd starts no write until thaw.
 *                    A suspend must close every write fd, so it waits
 *                    for every job. Maps and xattrs of the writes done
 *                    are queued for the meta flush below.
 *   QZ_FLUSH_META    every atime not yet on disk and a syncfs are queued,
 *                    and the meta queue is flushed (meta_flush_unheld):
 *                    with STORE_QUIESCE_HOLD (freeze) but for the claims
 *                    of data, which wait for the thaw (meta.h), so the
 *                    flush needs no barrier and its syncfs is the only
 *                    sync a freeze waits for; a suspend writes them, as
 *                    it must close every write fd
 *   QZ_CLOSE_FILES   (STORE_QUIESCE_CLOSE) every rw file is dropped
 *   QZ_DRAIN_CLOSES  the io thread closes what was dropped
 *   QZ_QUIESCED      done(arg, err) has been called; until store_unquiesce
 *
 * The write gate's GATE_QUIESCE is closed from the first step until
 * store_unquiesce: this is the only place that says whether the store is
 * quiesced. Main thread only, but store_writes_ok (a gate read).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "freeze.h"
#include "gate.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "meta.h"
#include "store.h"
#include "store_int.h"

#define QUIESCE_POLL_MS		10
#define QUIESCE_FAST_MS		1	/* the first QUIESCE_FAST_POLLS polls: */
#define QUIESCE_FAST_POLLS	50	/* a drain that only waits for the
					   writes started takes a few ms, and a
					   freeze's "ready" waits for it */

enum qz_step {
	QZ_OFF,			/* writing */
	QZ_DRAIN_IO,
	QZ_FLUSH_META,
	QZ_CLOSE_FILES,
	QZ_DRAIN_CLOSES,
	QZ_QUIESCED,
};

static struct {
	enum qz_step step;
	unsigned flags;			/* STORE_QUIESCE_* of this quiesce */
	void (*done)(void *, int);
	void *arg;
	int err;			/* of the syncfs */
	struct loop_timer *timer;	/* the next poll */
	unsigned polls;			/* polls so far */
	unsigned let_go;		/* fill writes not waited for */
	uint64_t t_start, t_io, t_meta;	/* loop_now_ms() at start, after
					   QZ_DRAIN_IO, after QZ_FLUSH_META */
} drain;

int
store_writes_ok(void)
{
	return gate_ok(GATE_FS | GATE_FULL);
}

const char *
store_writes_str(void)
{
	if (drain.step == QZ_QUIESCED)
		return "quiesced";
	if (drain.step != QZ_OFF)
		return "quiescing";
	return store_writes_ok() ? "on" : "off";
}

static void quiesce_step(void *arg);

/* QZ_DRAIN_IO may end: the io thread is idle; or, for a freeze, it has
 * only fill writes that are the kernel's (let go now) and jobs that do
 * nothing (dropped fills, creations and closes: store_io_drop). */
static int
io_settled(void)
{
	unsigned others;

	if (io_inflight() == 0)
		return 1;
	if (!(drain.flags & STORE_QUIESCE_HOLD))
		return 0;
	(void)store_io_drop(&others);
	return store_fill_let_go(others, &drain.let_go);
}

static void
quiesce_meta_done(void *arg)
{
	(void)arg;
	drain.t_meta = loop_now_ms();
	drain.step = QZ_CLOSE_FILES;
	quiesce_step(NULL);
}

static void
syncfs_done(struct meta_rec *r)
{
	if (r->err) {
		drain.err = r->err;
		log_warnx("store: syncfs: %s", strerror(-r->err));
	}
	free(r);
}

/* Queue every atime not yet on disk and a syncfs, then flush the meta
 * queue; quiesce_meta_done goes on. */
static void
flush_meta(void)
{
	struct meta_rec *r;

	store_queue_all_atimes();
	r = calloc(1, sizeof(*r));
	if (r) {
		r->kind = META_SYNCFS;
		r->done = syncfs_done;
		meta_queue(r);
	}
	meta_flush_unheld(quiesce_meta_done, NULL);
}

/*
 * Take the quiesce as far as it goes now: every step that need not wait
 * runs at once; a step waiting for the io thread polls again (in
 * QUIESCE_FAST_MS, later QUIESCE_POLL_MS); QZ_FLUSH_META waits for
 * meta_flush's callback.
 */
static void
quiesce_step(void *arg)
{
	struct meta_stats ms;

	(void)arg;
	drain.timer = NULL;
	switch (drain.step) {
	case QZ_OFF:
	case QZ_QUIESCED:
	case QZ_FLUSH_META:		/* waiting for meta_flush */
		return;
	case QZ_DRAIN_IO:
		store_close_flush();
		if (!io_settled())
			break;
		drain.t_io = loop_now_ms();
		drain.step = QZ_FLUSH_META;
		flush_meta();
		return;
	case QZ_CLOSE_FILES:
		if (drain.flags & STORE_QUIESCE_CLOSE)
			store_close_rw_files();
		drain.step = QZ_DRAIN_CLOSES;
		/* fall through */
	case QZ_DRAIN_CLOSES:
		/* a freeze holds its closes and lets fill writes go (above) */
		store_close_flush();
		if (!(drain.flags & STORE_QUIESCE_HOLD) && io_inflight() > 0)
			break;
		drain.step = QZ_QUIESCED;
		meta_get_stats(&ms);
		log_info("store: quiesced in %llu ms (writes in flight %llu, "
		    "meta flush and syncs %llu, closes %llu; coherency "
		    "records held until the thaw %llu; fill writes left to "
		    "the kernel %u)",
		    (unsigned long long)(loop_now_ms() - drain.t_start),
		    (unsigned long long)(drain.t_io - drain.t_start),
		    (unsigned long long)(drain.t_meta - drain.t_io),
		    (unsigned long long)(loop_now_ms() - drain.t_meta),
		    (unsigned long long)ms.held, drain.let_go);
		drain.done(drain.arg, drain.err);
		return;
	}
	drain.timer = loop_timer_add(drain.polls++ < QUIESCE_FAST_POLLS ?
	    QUIESCE_FAST_MS : QUIESCE_POLL_MS, quiesce_step, NULL);
}

void
store_quiesce(unsigned flags, void (*done)(void *arg, int err), void *arg)
{
	if (drain.step != QZ_OFF && drain.step != QZ_QUIESCED) {
		done(arg, -EBUSY);
		return;
	}
	gate_close(GATE_QUIESCE);
	drain.step = QZ_DRAIN_IO;
	drain.flags = flags;
	drain.done = done;
	drain.arg = arg;
	drain.err = 0;
	drain.polls = 0;
	drain.let_go = 0;
	drain.t_start = loop_now_ms();
	/* a freeze keeps the fds it would close until the thaw; a suspend
	 * closes every one (and now those a freeze kept) */
	store_close_hold(!(flags & STORE_QUIESCE_CLOSE));
	/* a freeze holds back the claims not yet written (meta.h); any other
	 * quiesce (a suspend, a stop, even during a freeze) writes them */
	if (flags & STORE_QUIESCE_HOLD)
		meta_hold_records();
	else
		meta_release_records();
	if (flags & STORE_QUIESCE_DROP) {
		unsigned n = store_fill_drop();

		if (n > 0)
			log_info("store: quiesce: %u fills dropped", n);
	}
	quiesce_step(NULL);
}

void
store_unquiesce(void)
{
	if (drain.step != QZ_QUIESCED)
		return;		/* not quiesced, or a quiesce still runs */
	drain.step = QZ_OFF;
	meta_release_records();
	store_close_hold(0);
	store_fill_undrop();
	gate_open(GATE_QUIESCE);
}

uint64_t
store_oldest_write_ms(void)
{
	uint64_t a = io_oldest_ms(), m = meta_oldest_ms();

	return a > m ? a : m;
}

/* ---- the store as freeze.c's backend --------------------------------------- */

static void
backend_quiesce(void *arg, unsigned flags, void (*done)(void *darg, int err),
    void *darg)
{
	(void)arg;
	/* a freeze or a suspend drops the fills not yet written: a cache
	 * may miss, and waiting for them is what made a freeze slow */
	store_quiesce(STORE_QUIESCE_DROP |
	    (flags & FREEZE_QUIESCE_CLOSE ? STORE_QUIESCE_CLOSE :
	    STORE_QUIESCE_HOLD), done, darg);
}

static void
backend_resume(void *arg)
{
	(void)arg;
	store_unquiesce();
}

static uint64_t
backend_oldest_write_ms(void *arg)
{
	(void)arg;
	return store_oldest_write_ms();
}

static const struct freeze_backend store_backend = {
	.quiesce = backend_quiesce,
	.resume = backend_resume,
	.oldest_write_ms = backend_oldest_write_ms,
	.stall_note = "serving reads, refusing fills",
};

void
store_quiesce_init(void)
{
	freeze_set_backend(&store_backend);
}

void
store_quiesce_fini(void)
{
	if (drain.timer != NULL)
		loop_timer_cancel(drain.timer);
	drain.timer = NULL;
	freeze_set_backend(NULL);
}
