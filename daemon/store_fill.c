/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_fill.c: fills (PROTO_WRITE): a client's bytes are copied into a
 * job (inline bytes at once, at most a message; bytes in the shared area
 * by a copy thread of their own, holding a reference on the mapping: a
 * fill of 256 MiB is never copied on the main thread, and the copy does
 * not count as the io thread's write time, which the freeze code watches
 * for stalls) and written by the io thread into the parts of the object
 * not already there (every gap); the map grows when the write is done, and
 * the answer says how many bytes from the fill's offset on the object then
 * has (never more than the map holds). Fills stuck on
 * a frozen filesystem answer ENOBUFS, and too many bytes in flight shed
 * load. The objects and their files are store.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfmt.h"
#include "control.h"
#include "cull.h"
#include "freeze.h"
#include "index.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "store_int.h"
#include "workq.h"

#define FILL_REPLY_MS		1500	/* a fill stuck longer answers ENOBUFS */
#define FILL_TICK_MS		100	/* how often stuck fills are looked at */
#define FILL_MAX_PENDING	(256ULL << 20)	/* bytes copied, not yet written */

struct fill {
	struct work w;
	struct fill *next, *prev;	/* pending list (main thread) */
	struct ctl_req *rq;		/* NULL once answered */
	struct obj *obj;
	struct ofile *of;
	uint64_t off;			/* the range the client asked for */
	uint64_t len;
	uint64_t bytes;			/* bytes copied into data */
	uint64_t submitted;
	unsigned nseg;
	struct io_seg *seg;		/* the gaps: after the struct... */
	uint8_t *data;			/* ...and their bytes after them */
	struct ctl_shm *shm;		/* copy from here first, or NULL */
	const uint8_t *src;		/* in shm: the byte at off */
	unsigned sync_fails;		/* of->sync_fails when submitted */
	int err;
	int held;			/* the kernel may still read data */
};

static struct workq *copyq;		/* copies from the shared areas */
static struct fill *pending_fills;
static uint64_t pending_bytes;		/* bytes held by fills in flight */
static struct loop_timer *fill_timer;

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

/* Copy thread: the client's bytes, as they are now, into the job, so a
 * client that changes them meanwhile changes only what it fills, never
 * what the io sees mid-write. */
static void
copy_run(struct work *w)
{
	struct fill *f = (struct fill *)w;
	uint8_t *to = f->data;
	unsigned i;

	for (i = 0; i < f->nseg; i++) {
		memcpy(to, f->src + (f->seg[i].off - f->off), f->seg[i].len);
		to += f->seg[i].len;
	}
}

/* Main thread: copied; the area may go, the write may start. */
static void
copy_done(struct work *w)
{
	struct fill *f = (struct fill *)w;

	control_shm_put(f->shm);
	f->shm = NULL;
	f->src = NULL;
	f->w.run = fill_run;
	f->w.done = fill_done;
	io_submit(&f->w);
}

static void
fill_run(struct work *w)
{
	struct fill *f = (struct fill *)w;

	if (f->of->fd < 0) {
		f->err = f->of->err ? f->of->err : -EIO;
		return;
	}
	f->err = io_write(f->of->fd, f->seg, f->nseg, &f->held);
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

static void
fill_done(struct work *w)
{
	struct fill *f = (struct fill *)w;
	struct obj *o = f->obj;
	uint8_t body[8];
	struct proto_buf b;
	uint64_t have = 0;
	uint32_t idx;
	unsigned i;
	int ok = 1;

	fill_unlink(f);
	pending_bytes -= f->bytes;
	if (f->err) {
		store_st.errors++;
		log_warnx_rl(&store_rl_io, "store: fill %s: %s", o->path,
		    strerror(-f->err));
	} else if (o->of == f->of && f->sync_fails == f->of->sync_fails) {
		/* (a barrier that failed meanwhile may have lost these
		 * pages: such a fill claims nothing) */
		for (i = 0; i < f->nseg && ok; i++)
			if (cfmt_map_add(&o->map, f->seg[i].off,
			    f->seg[i].len) < 0)
				ok = 0;
		if (ok) {
			for (i = 0; i < f->nseg; i++)
				store_st.fill_bytes += f->seg[i].len;
			store_queue_meta(o);
			if ((idx = store_obj_idx(o)) != INDEX_NONE)
				index_set_bytes(idx, store_obj_disk_bytes(o));
			cull_kick();
		} else {
			store_st.errors++;
		}
		/* the answer is what the map really has from off on: a map
		 * at its extent limit may have forgotten some of it */
		have = covered_prefix(&o->map, f->off, f->len);
	}
	if (f->rq) {
		if (f->err) {
			control_reply_str(f->rq, PROTO_ENOBUFS, "fill: %s",
			    strerror(-f->err));
		} else if (have == 0) {
			control_reply_str(f->rq, PROTO_ENOBUFS, "fill: not "
			    "kept (the object changed or its map is full)");
		} else {
			proto_buf_init(&b, body, sizeof(body));
			proto_put_u64(&b, have);
			control_reply(f->rq, PROTO_OK, body, b.off, -1);
		}
	}
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
 * FILL_REPLY_MS. The job still completes later; its bytes then count. */
static void
fill_timer_fn(void *arg)
{
	uint64_t now = loop_now_ms();
	int stop = !freeze_writes_ok();
	struct fill *f;

	(void)arg;
	fill_timer = NULL;
	for (f = pending_fills; f; f = f->next)
		if (f->rq && (stop || now - f->submitted >= FILL_REPLY_MS)) {
			store_st.stuck_fills++;
			control_reply_str(f->rq, PROTO_ENOBUFS, "the cache "
			    "filesystem does not take writes now");
			f->rq = NULL;
		}
	for (f = pending_fills; f; f = f->next)
		if (f->rq) {
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

static int
h_write(struct ctl_req *rq)
{
	const uint8_t *data, *shm;
	uint32_t id, flags;
	uint64_t off, len, shm_off, shm_size, gap, total = 0;
	struct handle *h;
	struct fill *f;
	struct obj *o;
	uint8_t body[8];
	struct proto_buf b;
	unsigned nseg, i;
	int err;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	off = proto_get_u64(&rq->body);
	len = proto_get_u64(&rq->body);
	shm_off = proto_get_u64(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(h = store_get_handle(rq, id)))
		return -ENOENT;
	if ((err = store_may_fill(rq, h)) < 0)
		return err;		/* access.h: the volume's policy */
	o = h->o;
	if (h->auxgen != o->auxgen)
		return -ESTALE;		/* another client changed the object */
	if (flags & PROTO_WRITE_SHM) {
		control_client_shm(rq->client, &shm, &shm_size);
		if (!shm || shm_off > shm_size || len > shm_size - shm_off)
			return -EINVAL;
		data = shm + shm_off;
	} else {
		if (len != proto_remaining(&rq->body))
			return -EPROTO;
		data = proto_get_raw(&rq->body, len);
	}
	if (off > o->size || len > o->size - off)
		return -EINVAL;
	if (!store_writes_ok() || o->dropped || o->v->state == VOL_FAILED) {
		store_st.enobufs++;
		control_reply_str(rq, PROTO_ENOBUFS, "%s", !freeze_writes_ok() ?
		    "cache frozen or suspended" : !cull_can_allocate() ?
		    "cache full" : "cache busy");
		return 0;
	}
	/* only the parts not already claimed: never rewrite them in place;
	 * every gap (at most one more than the map's extents), so the whole
	 * range is the daemon's once the write is done */
	nseg = gaps(&o->map, off, len, NULL, &total);
	if (nseg == 0 || len == 0) {
		proto_buf_init(&b, body, sizeof(body));
		proto_put_u64(&b, len);
		control_reply(rq, PROTO_OK, body, b.off, -1);
		return 0;
	}
	if (pending_bytes + total > FILL_MAX_PENDING) {
		/* the disk is slower than the clients: shed load */
		store_st.enobufs++;
		control_reply_str(rq, PROTO_ENOBUFS, "too many fills in flight");
		return 0;
	}
	f = malloc(sizeof(*f) + nseg * sizeof(*f->seg) + total);
	if (!f)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	f->seg = (struct io_seg *)(f + 1);
	f->data = (uint8_t *)(f->seg + nseg);
	(void)gaps(&o->map, off, len, f->seg, &total);
	/* the job owns its bytes: copied now from the message (at most
	 * 64 KiB), from the area by the copy thread */
	if ((flags & PROTO_WRITE_SHM) && copyq) {
		f->shm = control_client_shm_ref(rq->client);
		f->src = data;
	}
	total = 0;
	for (i = 0; i < nseg; i++) {
		gap = f->seg[i].len;
		if (!f->shm)
			memcpy(f->data + total, data + (f->seg[i].off - off),
			    gap);
		f->seg[i].buf = f->data + total;
		total += gap;
	}
	f->nseg = nseg;
	f->bytes = total;
	if (store_obj_file(o, 0) < 0) {
		control_shm_put(f->shm);
		free(f);
		return -ENOMEM;
	}
	f->of = o->of;
	f->of->refs++;
	f->sync_fails = f->of->sync_fails;
	f->obj = o;
	store_obj_hold(o);
	f->rq = rq;
	f->off = off;
	f->len = len;
	f->submitted = loop_now_ms();
	f->w.run = f->shm ? copy_run : fill_run;
	f->w.done = f->shm ? copy_done : fill_done;
	f->next = pending_fills;
	if (pending_fills)
		pending_fills->prev = f;
	pending_fills = f;
	store_st.fills++;
	if (o->v->idx >= 0)
		index_volume_count((uint16_t)o->v->idx, INDEX_VOL_FILLS);
	pending_bytes += total;
	if (f->shm)
		workq_submit(copyq, &f->w);
	else
		io_submit(&f->w);
	if (!fill_timer)
		fill_timer = loop_timer_add(FILL_TICK_MS, fill_timer_fn, NULL);
	return CTL_DEFERRED;
}

/* ---- life ---------------------------------------------------------------- */

/* Register PROTO_WRITE with control.c (store_init). */
void
store_fill_init(void)
{
	control_register(PROTO_WRITE, h_write, 0);
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
		f->rq = NULL;		/* their peers are gone */
}
