/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_fill.c: fills (PROTO_WRITE): a client's bytes are written by the
 * io thread into the parts of the object not already there (every gap).
 * Bytes in the shared area of a client that keeps its hands off busy
 * slots (PROTO_WRITE_ZCOPY) are written straight from the daemon's
 * mapping of it (zero-copy: the job holds the mapping and the slots, and
 * lets them go once no byte will be read any more: the write done, or the
 * fill dropped; never while the kernel may still read them). Other bytes
 * are copied into the job first: inline bytes at once (at most a
 * message), bytes in the area of an older client by a copy thread of
 * their own, holding a reference on the mapping (so a fill of 256 MiB is
 * never copied on the main thread, and the copy does not count as the io
 * thread's write time, which the freeze code watches for stalls). The
 * map grows when the write is done, and
 * the answer says how many bytes from the fill's offset on the object then
 * has (never more than the map holds). Fills stuck on
 * a frozen filesystem answer ENOBUFS, and too many bytes in flight shed
 * load. The objects and their files are store.c's.
 *
 * A fill's stage (enum fill_stage) says who may still act on it: queued
 * (for the copy thread or the io thread), copying, writing (io_write has
 * been called: the kernel may have the bytes, or read them from the
 * area), or dropped. A quiesce that
 * drops (store_fill_drop, for a freeze or a suspend) moves every queued
 * fill to dropped: answered ENOBUFS at once, never written, never in the
 * map, so it is a miss and a later fill fills its range. The worker that
 * takes a job moves it from queued to copying or writing first; the two
 * moves are one compare-and-swap each, so a fill is either dropped or
 * written whole, never both. A dropped zero-copy fill lets its slots go
 * at once (the io thread will not read them).
 *
 * A client may change its area while a zero-copy fill reads it: the
 * write then carries some mix of its bytes, into the gaps of the range it
 * asked for in an object it may fill (the range and the slots were
 * checked against the object and the mapping before the job was queued),
 * which is no more than it could do by sending other bytes. The mapping
 * is sealed against shrinking, so the read never faults.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cfmt.h"
#include "cull.h"
#include "gate.h"
#include "index.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "store_int.h"
#include "workq.h"

#define FILL_REPLY_MS		1500	/* a fill stuck longer answers ENOBUFS */
#define FILL_TICK_MS		100	/* how often stuck fills are looked at */
#define FILL_MAX_PENDING	(256ULL << 20)	/* bytes copied, not yet written */

enum fill_stage {
	FILL_QUEUED,			/* for the copy or the io thread */
	FILL_COPYING,			/* the copy thread has it */
	FILL_WRITING,			/* the io thread writes it */
	FILL_DROPPED,			/* never written (store_fill_drop) */
};

struct fill {
	struct work w;
	_Atomic int stage;		/* enum fill_stage */
	struct fill *next, *prev;	/* pending list (main thread) */
	store_fill_fn *answer;		/* NULL once answered */
	void *arg;
	struct obj *obj;
	struct ofile *of;
	uint64_t off;			/* the range the client asked for */
	uint64_t len;
	uint64_t bytes;			/* bytes copied into data */
	uint64_t submitted;
	unsigned nseg;
	struct io_seg *seg;		/* the gaps: after the struct... */
	uint8_t *data;			/* ...and their bytes after them */
	void *ref;			/* copy from src first: held by */
	void (*release)(void *ref);	/* release(ref) until copied */
	const uint8_t *src;		/* the byte at off */
	unsigned sync_fails;		/* of->sync_fails when submitted */
	int err;
	int held;			/* the kernel may still read data */
	int zcopy;			/* data is the client's area: release
					   (ref) once nothing reads it */
	int early;			/* answered before the write was done */
	_Atomic int track;		/* io.h: enum io_track_state */
};

static struct workq *copyq;		/* copies from the shared areas */
static struct fill *pending_fills;
static uint64_t pending_bytes;		/* bytes held by fills in flight */
static struct loop_timer *fill_timer;
static int dropping;			/* store_fill_drop until _undrop */
static unsigned fills_on_io;		/* fill jobs the io thread has (queued,
					   running or done not yet reaped) */

/* ---- fills --------------------------------------------------------------- */

static void
fill_unlink(struct fill *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else if (pending_fills == f)
		pending_fills = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
}

static void fill_run(struct work *w);
static void fill_done(struct work *w);
static int fill_drop_one(struct fill *f);

/* Main thread: no byte of f's zero-copy source will be read any more:
 * let the client's area (its slots) go. */
static void
fill_unhold(struct fill *f)
{
	f->release(f->ref);
	f->ref = NULL;
}

/* Copy thread: the client's bytes, as they are now, into the job, so a
 * client that changes them meanwhile changes only what it fills, never
 * what the io sees mid-write. */
static void
copy_run(struct work *w)
{
	struct fill *f = (struct fill *)w;
	uint8_t *to = f->data;
	int queued = FILL_QUEUED;
	unsigned i;

	if (!atomic_compare_exchange_strong(&f->stage, &queued, FILL_COPYING))
		return;		/* dropped meanwhile: nothing to copy */
	for (i = 0; i < f->nseg; i++) {
		memcpy(to, f->src + (f->seg[i].off - f->off), f->seg[i].len);
		to += f->seg[i].len;
	}
}

/* Main thread: copied (or dropped); the area may go, the write may
 * start, unless a dropping quiesce began meanwhile: then the fill is
 * dropped here (fill_drop_one) and goes through the io thread only to
 * be finished in order (fill_run does nothing for it). */
static void
copy_done(struct work *w)
{
	struct fill *f = (struct fill *)w;

	f->release(f->ref);
	f->ref = NULL;
	f->src = NULL;
	f->w.run = fill_run;
	f->w.done = fill_done;
	if (atomic_load(&f->stage) == FILL_COPYING)
		atomic_store(&f->stage, FILL_QUEUED);	/* no thread has it */
	if (dropping)
		fill_drop_one(f);
	fills_on_io++;
	io_submit(&f->w);
}

static void
fill_run(struct work *w)
{
	struct fill *f = (struct fill *)w;
	int queued = FILL_QUEUED;

	if (!atomic_compare_exchange_strong(&f->stage, &queued, FILL_WRITING))
		return;		/* dropped: not a byte written */
	if (f->of->fd < 0) {
		f->err = f->of->err ? f->of->err : -EIO;
		return;
	}
	f->err = io_write(f->of->fd, f->seg, f->nseg, &f->held, &f->track);
}

/* How many bytes from off on the map has, up to len. */
static uint64_t
covered_prefix(const struct cfmt_map *m, uint64_t off, uint64_t len)
{
	uint64_t pos = off, end = off + len;
	uint32_t i;

	for (i = 0; i < m->count && pos < end; i++) {
		const struct cfmt_extent *e = &m->ext[i];

		if (e->start + e->len <= pos)
			continue;
		if (e->start > pos)
			break;
		pos = e->start + e->len;
	}
	return (pos < end ? pos : end) - off;
}

/* The write of f is done: the map grows by its gaps (unless its file
 * changed or lost data meanwhile); returns the bytes the object has from
 * the fill's offset on (0: nothing kept). */
static uint64_t
fill_claim(struct fill *f)
{
	struct obj *o = f->obj;
	uint32_t idx;
	unsigned i;

	if (o->of != f->of || f->sync_fails != f->of->sync_fails)
		return 0;	/* (a barrier that failed meanwhile may have
				   lost these pages: such a fill claims
				   nothing) */
	for (i = 0; i < f->nseg; i++)
		if (cfmt_map_add(&o->map, f->seg[i].off, f->seg[i].len) < 0)
			break;
	if (i == f->nseg) {
		for (i = 0; i < f->nseg; i++)
			store_st.fill_bytes += f->seg[i].len;
		store_queue_meta(o);
		if ((idx = store_obj_idx(o)) != INDEX_NONE)
			index_set_bytes(idx, store_obj_disk_bytes(o));
		cull_kick();
	} else
		store_st.errors++;
	/* the answer is what the map really has from off on: a map at its
	 * extent limit may have forgotten some of it */
	return covered_prefix(&o->map, f->off, f->len);
}

/* Answer f's caller, once. */
static void
fill_answer(struct fill *f, int err, uint64_t have, const char *why)
{
	store_fill_fn *fn = f->answer;

	f->answer = NULL;
	if (fn)
		fn(f->arg, err, have, why);
}

/* The write of f (not dropped) is done: claim its gaps and answer by
 * what the map then has, or the error. */
static void
fill_settle(struct fill *f)
{
	uint64_t have;

	if (f->err == -ECANCELED) {
		/* let go by a freeze before all of it was handed to the
		 * kernel (answered then), or its file's creation was dropped
		 * by a freeze (store_io_drop): nothing claimed, a miss */
		fill_answer(f, -ENOBUFS, 0, "fill dropped: the cache is "
		    "freezing");
	} else if (f->err) {
		store_st.errors++;
		log_warnx_rl(&store_rl_io, "store: fill %s: %s", f->obj->path,
		    strerror(-f->err));
		fill_answer(f, f->err, 0, NULL);
	} else if (f->zcopy && f->early) {
		/* the client heard ENOBUFS and may have changed those bytes
		 * of its area since (liblarder's larder_fill_buffer gives the
		 * area to the application): they may be anything, so they
		 * are never claimed; the range stays a gap, a miss */
		store_st.late_unclaimed++;
	} else if ((have = fill_claim(f)) == 0)
		fill_answer(f, -ENOBUFS, 0, "fill: not kept (the object "
		    "changed or its map is full)");
	else
		fill_answer(f, 0, have, NULL);
}

/* Main thread: f's job is done (written, failed, or dropped and passed
 * through): settle it unless dropped (answered then, nothing to claim),
 * and let its file, object and memory go. */
static void
fill_done(struct work *w)
{
	struct fill *f = (struct fill *)w;
	struct obj *o = f->obj;

	fill_unlink(f);
	fills_on_io--;
	pending_bytes -= f->bytes;
	if (f->ref && !f->held)
		fill_unhold(f);	/* before the answer: its busy mask */
	if (atomic_load(&f->stage) != FILL_DROPPED)
		fill_settle(f);
	store_ofile_put(f->of);
	if (f->held)	/* never reused: a late write must carry these bytes */
		log_warnx("store: fill %s: %llu bytes kept for a write the "
		    "kernel may still do", o->path,
		    (unsigned long long)f->bytes);
	else
		free(f);
	store_obj_release(o);
}

/* Fills stuck on the io thread (frozen fs) answer ENOBUFS: at once when
 * freeze.c has seen the stall (or a freeze or suspend began), else after
 * FILL_REPLY_MS. The job still completes later; its bytes then count,
 * unless they were the client's area (zero-copy: see fill_settle).
 * While a dropping quiesce runs, a fill being written is not answered
 * early: the quiesce waits for that write, and its answer then says what
 * the map kept (a stall still answers it at once). */
static void
fill_timer_fn(void *arg)
{
	uint64_t now = loop_now_ms();
	int stop = !gate_ok(GATE_DEFER | GATE_SUSPEND | GATE_STALL);
	int stall = !gate_ok(GATE_STALL);
	struct fill *f;

	(void)arg;
	fill_timer = NULL;
	for (f = pending_fills; f; f = f->next)
		if (f->answer && dropping && !stall &&
		    atomic_load(&f->stage) == FILL_WRITING &&
		    now - f->submitted < FILL_REPLY_MS)
			continue;
		else if (f->answer && (stop || now - f->submitted >=
		    FILL_REPLY_MS)) {
			store_st.stuck_fills++;
			f->early = 1;
			fill_answer(f, -ENOBUFS, 0, "the cache filesystem does "
			    "not take writes now");
		}
	for (f = pending_fills; f; f = f->next)
		if (f->answer) {
			fill_timer = loop_timer_add(FILL_TICK_MS,
			    fill_timer_fn, NULL);
			break;
		}
}

/* The parts of [off, off + len) the map does not have: their number; with
 * seg, also each one (buf unset); *total is their bytes. */
static unsigned
gaps(const struct cfmt_map *m, uint64_t off, uint64_t len,
    struct io_seg *seg, uint64_t *total)
{
	uint64_t pos = off, end = off + len;
	unsigned n = 0;
	uint32_t i;

	*total = 0;
	for (i = 0; i < m->count && pos < end; i++) {
		const struct cfmt_extent *e = &m->ext[i];

		if (e->start + e->len <= pos)
			continue;
		if (e->start >= end)
			break;
		if (e->start > pos) {
			if (seg) {
				seg[n].off = pos;
				seg[n].len = e->start - pos;
			}
			*total += e->start - pos;
			n++;
		}
		pos = e->start + e->len;
	}
	if (pos < end) {
		if (seg) {
			seg[n].off = pos;
			seg[n].len = end - pos;
		}
		*total += end - pos;
		n++;
	}
	return n;
}

/* Writes to o may not start now: why, or NULL if they may. */
static const char *
fill_refused(const struct obj *o)
{
	if (store_writes_ok() && !o->dropped && o->v->state != VOL_FAILED)
		return NULL;
	if (!gate_ok(GATE_DEFER | GATE_SUSPEND | GATE_STALL))
		return "cache frozen or suspended";
	return !gate_ok(GATE_FULL) ? "cache full" : "cache busy";
}

/* fill_new's end for a zero-copy fill f (its gaps found): the segments
 * point into the client's area, held (the slots pinned) until released.
 * NULL (f freed): the hold failed. */
static struct fill *
fill_new_zcopy(struct fill *f, uint64_t off, uint64_t len, unsigned nseg,
    uint64_t total, const struct store_fill_src *src)
{
	unsigned i;

	if (!(f->ref = src->hold(src->ctx))) {
		free(f);
		return NULL;
	}
	f->release = src->release;
	f->zcopy = 1;
	for (i = 0; i < nseg; i++)
		f->seg[i].buf = src->data + (f->seg[i].off - off);
	f->nseg = nseg;
	f->bytes = total;
	f->off = off;
	f->len = len;
	return f;
}

/* A fill job for the nseg gaps (total bytes) of [off, off + len) of o,
 * with its bytes: copied from data now, or later by the copy thread from
 * what src holds. NULL: -ENOMEM. */
static struct fill *
fill_new(const struct obj *o, uint64_t off, uint64_t len, unsigned nseg,
    uint64_t total, const struct store_fill_src *src)
{
	struct fill *f;
	uint64_t at = 0;
	unsigned i;

	f = malloc(sizeof(*f) + nseg * sizeof(*f->seg) +
	    (src->zcopy ? 0 : total));
	if (!f)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->seg = (struct io_seg *)(f + 1);
	f->data = (uint8_t *)(f->seg + nseg);
	(void)gaps(&o->map, off, len, f->seg, &total);
	if (src->zcopy)
		return fill_new_zcopy(f, off, len, nseg, total, src);
	/* the job owns its bytes: copied now from the message (at most
	 * 64 KiB), from the area by the copy thread */
	if (src->hold && copyq && (f->ref = src->hold(src->ctx)) != NULL) {
		f->release = src->release;
		f->src = src->data;
	}
	for (i = 0; i < nseg; i++) {
		if (!f->ref)
			memcpy(f->data + at, src->data + (f->seg[i].off - off),
			    f->seg[i].len);
		f->seg[i].buf = f->data + at;
		at += f->seg[i].len;
	}
	f->nseg = nseg;
	f->bytes = at;
	f->off = off;
	f->len = len;
	return f;
}

/* Hand f (for o's rw file) to the copy thread or the io thread. */
static void
fill_start(struct fill *f, struct obj *o)
{
	int copy = f->ref && !f->zcopy;

	f->of = o->of;
	f->of->refs++;
	f->sync_fails = f->of->sync_fails;
	f->obj = o;
	store_obj_hold(o);
	f->submitted = loop_now_ms();
	f->w.run = copy ? copy_run : fill_run;
	f->w.done = copy ? copy_done : fill_done;
	f->next = pending_fills;
	if (pending_fills)
		pending_fills->prev = f;
	pending_fills = f;
	store_st.fills++;
	if (o->v->idx >= 0)
		index_volume_count((uint16_t)o->v->idx, INDEX_VOL_FILLS);
	pending_bytes += f->bytes;
	if (copy)
		workq_submit(copyq, &f->w);
	else {
		fills_on_io++;
		io_submit(&f->w);
	}
	if (!fill_timer)
		fill_timer = loop_timer_add(FILL_TICK_MS, fill_timer_fn, NULL);
}

/* Check the range and the write gate, find the gaps, and queue a job for
 * them (store.h has the contract). */
int
store_fill(struct store_cookie *h, uint64_t off, uint64_t len,
    const struct store_fill_src *src, store_fill_fn *done, void *arg,
    uint64_t *have, const char **why)
{
	struct obj *o = h->o;
	uint64_t total = 0;
	struct fill *f;
	unsigned nseg;

	if (off > o->size || len > o->size - off)
		return -EINVAL;
	if ((*why = fill_refused(o)) != NULL) {
		store_st.enobufs++;
		return -ENOBUFS;
	}
	/* only the parts not already claimed: never rewrite them in place;
	 * every gap (at most one more than the map's extents), so the whole
	 * range is the daemon's once the write is done */
	nseg = gaps(&o->map, off, len, NULL, &total);
	if (nseg == 0 || len == 0) {
		*have = len;
		return 0;
	}
	if (pending_bytes + total > FILL_MAX_PENDING) {
		/* the disk is slower than the clients: shed load */
		store_st.enobufs++;
		*why = "too many fills in flight";
		return -ENOBUFS;
	}
	if (!(f = fill_new(o, off, len, nseg, total, src)))
		return -ENOMEM;
	if (store_obj_file(o, 0) < 0) {
		if (f->ref)
			f->release(f->ref);
		free(f);
		return -ENOMEM;
	}
	f->answer = done;
	f->arg = arg;
	fill_start(f, o);
	return STORE_FILL_QUEUED;
}

/* ---- dropping fills for a quiesce ---------------------------------------- */

/* Main thread: drop f if no worker has taken it (queued): answer ENOBUFS
 * now; its job still passes through its queue, doing nothing, and
 * fill_done frees it without touching the map (nothing was claimed: the
 * map only grows when a write is done). Returns 1 if dropped. */
static int
fill_drop_one(struct fill *f)
{
	int queued = FILL_QUEUED;

	if (!atomic_compare_exchange_strong(&f->stage, &queued, FILL_DROPPED))
		return 0;	/* copying, writing or already dropped */
	if (f->zcopy)
		fill_unhold(f);	/* the io thread will not read it */
	store_st.dropped_fills++;
	fill_answer(f, -ENOBUFS, 0, "fill dropped: the cache is freezing");
	return 1;
}

/* Contract in store_int.h. */
unsigned
store_fill_drop(void)
{
	struct fill *f;
	unsigned n = 0;

	dropping = 1;
	for (f = pending_fills; f; f = f->next)
		n += fill_drop_one(f);
	return n;
}

/* Contract in store_int.h. */
int
store_fill_let_go(unsigned others, unsigned *n)
{
	struct fill *f;
	int inkernel;

	if (io_inflight() != fills_on_io + others)
		return 0;	/* another job (a create, a close) is there */
	for (f = pending_fills; f; f = f->next)
		if (atomic_load(&f->stage) == FILL_WRITING &&
		    (inkernel = atomic_load(&f->track)) != IO_INKERNEL &&
		    inkernel != IO_LETGO)
			return 0;	/* not (all) handed to the kernel yet */
	for (f = pending_fills; f; f = f->next) {
		if (atomic_load(&f->stage) != FILL_WRITING)
			continue;
		inkernel = IO_INKERNEL;
		if (!atomic_compare_exchange_strong(&f->track, &inkernel,
		    IO_LETGO)) {
			if (inkernel == IO_LETGO)
				continue;	/* let go at an earlier look */
			return 0;	/* it starts more: look again */
		}
		(*n)++;
		store_st.fills_let_go++;
		if (f->answer) {
			f->early = 1;
			fill_answer(f, -ENOBUFS, 0, "fill not waited for: the "
			    "cache is freezing");
		}
	}
	return 1;
}

void
store_fill_undrop(void)
{
	dropping = 0;
}

/* ---- life ---------------------------------------------------------------- */

/* Start the copy thread (store_init). */
void
store_fill_init(void)
{
	/* without it, fills from the area are copied here, as before */
	if (!(copyq = workq_create("larder-copy", 1)))
		log_warn("store: copy thread");
}

/* Stop looking at stuck fills; the peers of those in flight are gone
 * (store_fini). */
void
store_fill_fini(void)
{
	struct fill *f;

	/* copies in flight finish and go on to the io thread, still up */
	if (copyq)
		workq_destroy(copyq);
	copyq = NULL;
	if (fill_timer)
		loop_timer_cancel(fill_timer);
	fill_timer = NULL;
	for (f = pending_fills; f; f = f->next)
		f->answer = NULL;	/* their peers are gone */
}
