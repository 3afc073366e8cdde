/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_proto.c: the protocol's cache operations (the 200s), as thin
 * handlers over the store's API (store.h): each decodes a request, calls
 * the store, and encodes the answer (a refusal by access.h with its
 * reason). Here too is what the store API leaves to its caller: each
 * connection's tables of volume and cookie handles (the numbers a client
 * names them by; CTL_SLOT_STORE), the peer's hold on its connection
 * (control_client_hold) and the release of everything a peer held when it
 * goes. Main thread only, like control.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfmt.h"
#include "control.h"
#include "proto.h"
#include "store.h"
#include "store_int.h"

/* what one client holds (CTL_SLOT_STORE) */
struct sclient {
	struct store_peer peer;		/* its uid (SO_PEERCRED), whose
					   limits it counts in, and admin */
	struct store_vol **vols;
	uint32_t nvols;
	struct store_cookie **objs;
	uint32_t nobjs;
	struct ctl_client *client;
	int gone;			/* disconnecting */
	/* GENTAB: the generation table (proto.h 102) and its free slots */
	uint64_t *gt;
	uint32_t nslots;
	uint32_t *freeslots;
	uint32_t nfree;
	uint32_t nparked;		/* parked handles, at most PARK_MAX */
};

/* slots in a connection's generation table (32 KiB) and the most parked
 * handles it may have: liblarder keeps fewer (CLIENT_IDLE_MAX) */
#define GENTAB_SLOTS		4096
#define PARK_MAX		1024

/* ---- client handles ------------------------------------------------------ */

/* The peer's table, made at its first request (NULL: -ENOMEM). */
static struct sclient *
sclient_rq(struct ctl_req *rq)
{
	struct sclient *s = control_client_get(rq->client, CTL_SLOT_STORE);

	if (s || !rq->client)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->peer.uid = rq->uid;
	s->peer.admin = rq->admin;
	s->client = rq->client;
	control_client_set(rq->client, CTL_SLOT_STORE, s);
	return s;
}

static struct sclient *
sclient_of(struct ctl_req *rq)
{
	return control_client_get(rq->client, CTL_SLOT_STORE);
}

/* Who asks, for the store (access.h's decisions are made there). */
static struct store_peer
peer_of(const struct ctl_req *rq)
{
	struct store_peer p;

	memset(&p, 0, sizeof(p));
	p.uid = rq->uid;
	p.admin = rq->admin;
	return p;
}

/* Put p in a free slot of *arr; the handle is slot + 1, 0 on ENOMEM. */
static uint32_t
handle_add(void ***arr, uint32_t *n, void *p)
{
	void **na;
	uint32_t i;

	for (i = 0; i < *n; i++)
		if (!(*arr)[i]) {
			(*arr)[i] = p;
			return i + 1;
		}
	if (*n >= 65536)
		return 0;
	na = realloc(*arr, (*n + 16) * sizeof(*na));
	if (!na)
		return 0;
	memset(na + *n, 0, 16 * sizeof(*na));
	*arr = na;
	na[*n] = p;
	*n += 16;
	return i + 1;
}

static struct store_vol *
get_vol(struct ctl_req *rq, uint32_t id)
{
	struct sclient *s = sclient_of(rq);

	if (!s || id == 0 || id > s->nvols)
		return NULL;
	return s->vols[id - 1];
}

/* Handle id of the peer, parked or not. */
static struct store_cookie *
any_cookie(struct ctl_req *rq, uint32_t id)
{
	struct sclient *s = sclient_of(rq);

	if (!s || id == 0 || id > s->nobjs)
		return NULL;
	return s->objs[id - 1];
}

/* Handle id of the peer for the cookie operations: a parked one is only
 * named in COOKIE_PARKED (the client gave it up; it is revocable). */
static struct store_cookie *
get_cookie(struct ctl_req *rq, uint32_t id)
{
	struct store_cookie *h = any_cookie(rq, id);

	return h && !h->parked ? h : NULL;
}

/* A volume key from the wire: -EPROTO if the message is short, -EINVAL if
 * the key cannot be a volume key (too long, NUL, '/', ...). */
static int
get_volume_key(struct proto_buf *b, char *out, size_t outsz)
{
	struct proto_bytes k = proto_get_bytes(b);

	if (b->err)
		return -EPROTO;
	if (k.len >= outsz || cfmt_check_volume_key(k.ptr, k.len) < 0)
		return -EINVAL;
	memcpy(out, k.ptr, k.len);
	out[k.len] = '\0';
	return 0;
}

/* Answer a refusal with its reason (p: what the store said). */
static void
refuse(struct ctl_req *rq, int err, const struct store_peer *p)
{
	if (err == -EBUSY)
		control_reply_str(rq, PROTO_EBUSY, "%s: volume %s: other users "
		    "hold it; only an admin may", p->refused, p->key);
	else
		control_reply_str(rq, PROTO_EPERM, "%s: volume %s belongs to "
		    "uid %lu (access %s): not allowed to uid %lu", p->refused,
		    p->key, (unsigned long)p->own.uid,
		    access_policy_str(p->effective), (unsigned long)rq->uid);
}

/* A handler's way out after a store call: a refusal is answered here
 * (returns 0), any other error goes to control.c to answer. */
static int
fail(struct ctl_req *rq, int err, const struct store_peer *p)
{
	if (err < 0 && p->refused) {
		refuse(rq, err, p);
		return 0;
	}
	return err;
}

/* ---- volumes ------------------------------------------------------------- */

/* VOLUME_ACQUIRE: u32 flags, str key, bytes coherency; answers u32 handle,
 * u32 flags (created, invalidated). */
static int
h_volume_acquire(struct ctl_req *rq)
{
	char key[CFMT_MAX_VOLUME_KEY + 1];
	struct store_peer p = peer_of(rq);
	struct proto_bytes coh;
	struct store_vol *v;
	struct sclient *s;
	uint32_t flags, rflags, id;
	uint8_t body[8];
	struct proto_buf b;
	int err;

	flags = proto_get_u32(&rq->body);
	if ((err = get_volume_key(&rq->body, key, sizeof(key))) < 0)
		return err;
	coh = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (coh.len > CFMT_MAX_AUX)
		return -EINVAL;
	if (!(s = sclient_rq(rq)))
		return -ENOMEM;
	if ((err = store_vol_get(&p, key, coh.ptr, coh.len,
	    flags & PROTO_VOLUME_ANY_COHERENCY ? STORE_VOL_ANY_COHERENCY : 0,
	    &v, &rflags)) < 0)
		return fail(rq, err, &p);
	if (!(id = handle_add((void ***)&s->vols, &s->nvols, v))) {
		(void)store_vol_put(&p, v, 0);
		return -ENOMEM;
	}
	control_client_hold(rq->client, 1);
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, id);
	proto_put_u32(&b, (rflags & STORE_VOL_CREATED ? PROTO_VOLUME_CREATED :
	    0) | (rflags & STORE_VOL_INVALIDATED ? PROTO_VOLUME_INVALIDATED :
	    0));
	control_reply(rq, PROTO_OK, body, b.off, -1);
	return 0;
}

/* Does the peer hold a cookie in v? */
static int
holds_cookies(const struct sclient *s, const struct store_vol *v)
{
	uint32_t i;

	for (i = 0; i < s->nobjs; i++)
		if (s->objs[i] && store_cookie_vol(s->objs[i]) == v)
			return 1;
	return 0;
}

static int
h_volume_relinquish(struct ctl_req *rq)
{
	struct store_peer p = peer_of(rq);
	struct sclient *s = sclient_of(rq);
	struct store_vol *v;
	uint32_t id, flags;
	int err;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(v = get_vol(rq, id)))
		return -ENOENT;
	if (holds_cookies(s, v))
		return -EBUSY;
	err = store_vol_put(&p, v, (flags & PROTO_RELINQUISH_RETIRE) != 0);
	if (err < 0 && !p.refused)
		return err;		/* kept */
	s->vols[id - 1] = NULL;
	control_client_hold(rq->client, -1);
	if (err < 0)
		return fail(rq, err, &p);	/* released, not retired */
	control_reply(rq, PROTO_OK, NULL, 0, -1);
	return 0;
}

/* ---- cookies ------------------------------------------------------------- */

/* The slot and generation fields of an acquire reply (proto.h 102), on a
 * connection that has a generation table. */
static void
put_slot(struct proto_buf *b, const struct sclient *s,
    const struct store_cookie *h)
{
	if (!s || !s->gt)
		return;
	proto_put_u32(b, h->genp ? (uint32_t)(h->genp - s->gt) :
	    PROTO_SLOT_NONE);
	proto_put_u64(b, h->genp ? __atomic_load_n(h->genp, __ATOMIC_RELAXED) :
	    0);
}

/* Give new handle h (number id) a slot of the peer's table, if it has one
 * and a slot is free (else h cannot be parked: nothing else changes). */
static void
give_slot(struct sclient *s, struct store_cookie *h, uint32_t id)
{
	if (!s->gt || s->nfree == 0)
		return;
	store_cookie_watch(h, &s->gt[s->freeslots[--s->nfree]], s, id);
}

void
store_proto_forget(struct store_cookie *h)
{
	struct sclient *s = h->owner;

	if (!s)
		return;
	if (h->id >= 1 && h->id <= s->nobjs && s->objs[h->id - 1] == h) {
		s->objs[h->id - 1] = NULL;
		if (!s->gone)
			control_client_hold(s->client, -1);
	}
	if (h->parked && s->nparked > 0)
		s->nparked--;
	if (h->genp && s->nfree < s->nslots)
		s->freeslots[s->nfree++] = (uint32_t)(h->genp - s->gt);
	h->owner = NULL;
}

/* Answer with what a cookie handle sees, and its fd if any (which is
 * closed here: the client holds it now, or never will; never the last
 * reference of the file, which the store holds). */
static void
reply_view_slot(struct ctl_req *rq, uint32_t id, struct store_view *vw,
    uint32_t flags, const struct store_cookie *slotted)
{
	static uint8_t body[PROTO_MAX_MSG];	/* main thread only */
	struct proto_buf b;
	uint32_t i, n = vw->n;

	if (n > PROTO_MAX_EXTENTS) {
		n = PROTO_MAX_EXTENTS;
		flags |= PROTO_COOKIE_MAP_TRUNCATED;
	}
	flags |= (vw->flags & STORE_COOKIE_NEW ? PROTO_COOKIE_NEW : 0) |
	    (vw->flags & STORE_COOKIE_NO_CACHE ? PROTO_COOKIE_NO_CACHE : 0) |
	    (vw->flags & STORE_COOKIE_HAVE_FD ? PROTO_COOKIE_HAVE_FD : 0);
	proto_buf_init(&b, body, PROTO_MAX_MSG - PROTO_HDR_SIZE);
	proto_put_u32(&b, id);
	proto_put_u32(&b, flags);
	proto_put_u32(&b, vw->gen);
	proto_put_u32(&b, n);
	proto_put_u64(&b, vw->size);
	for (i = 0; i < n; i++) {
		proto_put_u64(&b, vw->ext[i].start);
		proto_put_u64(&b, vw->ext[i].len);
	}
	if (slotted)
		put_slot(&b, sclient_of(rq), slotted);
	control_reply(rq, PROTO_OK, body, b.off, vw->fd);
	store_view_close(vw);
}

static void
reply_view(struct ctl_req *rq, uint32_t id, struct store_view *vw,
    uint32_t flags)
{
	reply_view_slot(rq, id, vw, flags, NULL);
}

/* COOKIE_ACQUIRE: u32 volume handle, u32 flags, u64 size, bytes key, bytes
 * aux; answers with what the new handle sees (reply_view) and its fd. */
static int
h_cookie_acquire(struct ctl_req *rq)
{
	struct store_peer p = peer_of(rq);
	struct proto_bytes key, aux;
	struct store_cookie *h;
	struct store_view vw;
	struct store_vol *v;
	struct sclient *s;
	uint32_t vid, flags, id;
	uint64_t size;
	int err;

	vid = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	size = proto_get_u64(&rq->body);
	key = proto_get_bytes(&rq->body);
	aux = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(v = get_vol(rq, vid)))
		return -ENOENT;
	if (!(s = sclient_rq(rq)))
		return -ENOMEM;
	if ((err = store_cookie_get(&p, v, key.ptr, key.len, aux.ptr, aux.len,
	    size, flags & PROTO_COOKIE_ANY_AUX ? STORE_COOKIE_ANY_AUX : 0, &h,
	    &vw)) < 0)
		return fail(rq, err, &p);
	if (!(id = handle_add((void ***)&s->objs, &s->nobjs, h))) {
		store_view_close(&vw);	/* the store holds the file too */
		(void)store_cookie_put(&p, h, 0);
		return -ENOMEM;
	}
	control_client_hold(rq->client, 1);
	give_slot(s, h, id);
	reply_view_slot(rq, id, &vw, 0, h);
	return 0;
}

/* COOKIE_RELINQUISH: u32 handle, u32 flags (retire, noreply); the handle
 * is gone whatever the answer. */
static int
h_cookie_relinquish(struct ctl_req *rq)
{
	struct store_peer p = peer_of(rq);
	struct store_cookie *h;
	uint32_t id, flags;
	int err;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	if (!rq->body.err && (flags & PROTO_RELINQUISH_NOREPLY)) {
		/* the client forgot the handle already: nothing to answer,
		 * not even an error */
		if ((h = get_cookie(rq, id))) {
			sclient_of(rq)->objs[id - 1] = NULL;
			(void)store_cookie_put(&p, h,
			    (flags & PROTO_RELINQUISH_RETIRE) != 0);
			control_client_hold(rq->client, -1);
		}
		control_done(rq);
		return 0;
	}
	if (rq->body.err)
		return -EPROTO;
	if (!(h = get_cookie(rq, id)))
		return -ENOENT;
	sclient_of(rq)->objs[id - 1] = NULL;
	err = store_cookie_put(&p, h, (flags & PROTO_RELINQUISH_RETIRE) != 0);
	control_client_hold(rq->client, -1);
	if (err < 0)
		return fail(rq, err, &p);	/* released, not retired:
						   liblarder forgets it */
	control_reply(rq, PROTO_OK, NULL, 0, -1);
	return 0;
}

static int
h_cookie_refresh(struct ctl_req *rq)
{
	struct store_peer p = peer_of(rq);
	struct store_cookie *h;
	struct store_view vw;
	uint32_t id, gen;

	id = proto_get_u32(&rq->body);
	gen = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(h = get_cookie(rq, id)))
		return -ENOENT;
	store_cookie_refresh(&p, h, gen, &vw);
	reply_view(rq, id, &vw, 0);
	return 0;
}

static int
h_invalidate(struct ctl_req *rq)
{
	struct store_peer p = peer_of(rq);
	struct proto_bytes aux;
	struct store_cookie *h;
	struct store_view vw;
	uint64_t size;
	uint32_t id;
	int err;

	id = proto_get_u32(&rq->body);
	(void)proto_get_u32(&rq->body);
	size = proto_get_u64(&rq->body);
	aux = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(h = get_cookie(rq, id)))
		return -ENOENT;
	if ((err = store_invalidate(&p, h, aux.ptr, aux.len, size, &vw)) < 0)
		return fail(rq, err, &p);
	reply_view(rq, id, &vw, 0);
	return 0;
}

/* ---- fills --------------------------------------------------------------- */

static void *
shm_hold(void *ctx)
{
	return control_client_shm_ref(ctx);
}

static void
shm_release(void *ref)
{
	control_shm_put(ref);
}

/* A zero-copy fill's hold on the slots of the area it reads from. */
struct zc_hold {
	struct ctl_shm *sh;
	uint64_t off, len;		/* in the area; len > 0 */
};

/* Add delta to the pins of every slot [off, off + len) of sh touches. */
static void
zc_pin(struct ctl_shm *sh, uint64_t off, uint64_t len, int delta)
{
	uint64_t slot = proto_shm_slot(sh->size), k;

	for (k = off / slot; k <= (off + len - 1) / slot &&
	    k < PROTO_SHM_SLOTS; k++)
		sh->pins[k] += delta;
}

/* store_fill_src hold for PROTO_WRITE_ZCOPY: a reference on the mapping,
 * and the fill's slots pinned (reported busy) until zc_release. */
static void *
zc_hold(void *ctx)
{
	const struct zc_hold *want = ctx;
	struct zc_hold *zh;

	if (!(zh = malloc(sizeof(*zh))))
		return NULL;
	*zh = *want;
	zh->sh->refs++;
	zc_pin(zh->sh, zh->off, zh->len, 1);
	return zh;
}

/* No byte of the fill's slots will be read any more. */
static void
zc_release(void *ref)
{
	struct zc_hold *zh = ref;

	zc_pin(zh->sh, zh->off, zh->len, -1);
	control_shm_put(zh->sh);
	free(zh);
}

/* The peer's busy mask (PROTO_WRITE_ZCOPY replies): its slots that a
 * zero-copy fill may still read. */
static uint64_t
shm_busy(struct ctl_client *c)
{
	struct ctl_shm *sh = control_client_shm_ref(c);
	uint64_t busy = 0;
	unsigned k;

	if (!sh)
		return 0;
	for (k = 0; k < PROTO_SHM_SLOTS; k++)
		if (sh->pins[k])
			busy |= 1ULL << k;
	control_shm_put(sh);
	return busy;
}

/* Whether rq (a WRITE) asked for the busy mask: its flags, read again. */
static int
wants_busy(const struct ctl_req *rq)
{
	struct proto_buf b = rq->body;

	b.off = PROTO_HDR_SIZE + 4;	/* u32 cookie_id, then u32 flags */
	return (proto_get_u32(&b) & PROTO_WRITE_ZCOPY) != 0;
}

/* Answer a WRITE: u64 have (status OK), or a reason; then the busy mask
 * if it asked for one. */
static void
write_reply(struct ctl_req *rq, uint16_t status, uint64_t have,
    const char *why)
{
	uint8_t body[PROTO_MAX_STR + 16];
	struct proto_buf b;

	proto_buf_init(&b, body, sizeof(body));
	if (status == PROTO_OK)
		proto_put_u64(&b, have);
	else
		proto_put_str(&b, why);
	if (wants_busy(rq))
		proto_put_u64(&b, shm_busy(rq->client));
	control_reply(rq, status, body, b.off, -1);
}

/* A fill's answer (store_fill_fn): the bytes the object has from the
 * fill's offset on, or ENOBUFS with why. */
static void
fill_answered(void *arg, int err, uint64_t have, const char *why)
{
	struct ctl_req *rq = arg;
	char text[PROTO_MAX_STR];

	if (err < 0) {
		if (!why) {
			snprintf(text, sizeof(text), "fill: %s", strerror(-err));
			why = text;
		}
		write_reply(rq, PROTO_ENOBUFS, 0, why);
		return;
	}
	write_reply(rq, PROTO_OK, have, NULL);
}

/* Where a fill's bytes are: in the peer's shared area (held for the copy
 * thread, or with zc for the io thread to write from it: zc must then
 * live until store_fill returns) or inline after the header. */
static int
fill_src(struct ctl_req *rq, uint32_t flags, uint64_t len, uint64_t shm_off,
    struct store_fill_src *src, struct zc_hold *zc)
{
	const uint8_t *shm;
	uint64_t shm_size;

	memset(src, 0, sizeof(*src));
	if (flags & PROTO_WRITE_SHM) {
		control_client_shm(rq->client, &shm, &shm_size);
		if (!shm || shm_off > shm_size || len > shm_size - shm_off)
			return -EINVAL;
		src->data = shm + shm_off;
		src->hold = shm_hold;
		src->release = shm_release;
		src->ctx = rq->client;
		if ((flags & PROTO_WRITE_ZCOPY) && len > 0) {
			zc->sh = control_client_shm_ref(rq->client);
			control_shm_put(zc->sh);	/* the client holds it */
			zc->off = shm_off;
			zc->len = len;
			src->hold = zc_hold;
			src->release = zc_release;
			src->ctx = zc;
			src->zcopy = 1;
		}
		return 0;
	}
	if (len != proto_remaining(&rq->body))
		return -EPROTO;
	src->data = proto_get_raw(&rq->body, len);
	return 0;
}

/* WRITE: u32 handle, u32 flags, u64 off, u64 len, u64 shm offset, then
 * the bytes inline unless in the shared area; answered now or when the
 * fill is done (CTL_DEFERRED): u64 bytes the object has from off on (and
 * the busy mask with PROTO_WRITE_ZCOPY). */
static int
h_write(struct ctl_req *rq)
{
	struct store_peer p = peer_of(rq);
	struct store_fill_src src;
	struct store_cookie *h;
	struct zc_hold zc;
	uint64_t off, len, shm_off, have = 0;
	const char *why = NULL;
	uint32_t id, flags;
	int err;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	off = proto_get_u64(&rq->body);
	len = proto_get_u64(&rq->body);
	shm_off = proto_get_u64(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(h = get_cookie(rq, id)))
		return -ENOENT;
	if ((err = store_may_fill(&p, h)) < 0)
		return err;	/* the volume's policy, or a stale handle */
	if ((err = fill_src(rq, flags, len, shm_off, &src, &zc)) < 0)
		return err;
	err = store_fill(h, off, len, &src, fill_answered, rq, &have, &why);
	if (err == STORE_FILL_QUEUED)
		return CTL_DEFERRED;
	if (err == -ENOBUFS && why) {
		write_reply(rq, PROTO_ENOBUFS, 0, why);
		return 0;
	}
	if (err < 0)
		return err;
	fill_answered(rq, 0, have, NULL);
	return 0;
}

/* ---- listings ------------------------------------------------------------ */

/* A listing page being built: body, and where its count goes. */
struct page {
	struct proto_buf b;
	size_t cnt_off;
	uint32_t count;
	size_t entry_max;		/* the most one entry takes */
	int counters;			/* volumes: with hits, misses, fills */
};

/* Start a page of a listing (entry_max: the most an entry takes). */
static int
page_init(struct page *pg, size_t entry_max, int counters)
{
	uint8_t *body = malloc(PROTO_MAX_MSG);

	if (!body)
		return -ENOMEM;
	memset(pg, 0, sizeof(*pg));
	proto_buf_init(&pg->b, body, PROTO_MAX_MSG - PROTO_HDR_SIZE);
	proto_put_u32(&pg->b, 0);
	pg->cnt_off = pg->b.off;
	proto_put_u32(&pg->b, 0);
	pg->entry_max = entry_max;
	pg->counters = counters;
	return 0;
}

static int
page_room(void *arg)
{
	struct page *pg = arg;

	return pg->b.size - pg->b.off >= pg->entry_max;
}

static void
page_put_volume(void *arg, const struct store_entry *e)
{
	struct page *pg = arg;

	proto_put_str(&pg->b, e->name);
	proto_put_u64(&pg->b, e->size);
	proto_put_u64(&pg->b, e->disk_bytes);
	if (pg->counters) {
		proto_put_u64(&pg->b, e->hits);
		proto_put_u64(&pg->b, e->misses);
		proto_put_u64(&pg->b, e->fills);
	}
	pg->count++;
}

static void
page_put_object(void *arg, const struct store_entry *e)
{
	struct page *pg = arg;

	proto_put_str(&pg->b, e->name);
	proto_put_bytes(&pg->b, e->key, e->key_len);
	proto_put_u64(&pg->b, e->size);
	proto_put_u64(&pg->b, e->disk_bytes);
	proto_put_u64(&pg->b, e->last_use_s);
	proto_put_u32(&pg->b, e->pinned ? PROTO_OBJECT_PINNED : 0);
	pg->count++;
}

/* Answer a listing: patch the cursor (first u32) and the count into the
 * page, send it, free it. */
static int
reply_page(struct ctl_req *rq, struct page *pg, uint32_t next)
{
	size_t end = pg->b.off;

	pg->b.off = 0;
	proto_put_u32(&pg->b, next);
	pg->b.off = pg->cnt_off;
	proto_put_u32(&pg->b, pg->count);
	control_reply(rq, PROTO_OK, pg->b.data, end, -1);
	free(pg->b.data);
	return 0;
}

/* LIST_VOLUMES, and with counters (LIST_VOLUME_STATS) */
static int
list_volumes(struct ctl_req *rq, int counters)
{
	struct store_peer p = peer_of(rq);
	struct store_lister l = { .room = page_room, .put = page_put_volume };
	struct page pg;
	uint32_t cur, next;
	int err;

	cur = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if ((err = page_init(&pg, 2 + CFMT_MAX_VOLUME_KEY + 40, counters)) < 0)
		return err;
	l.arg = &pg;
	store_list_volumes(&p, cur, &l, &next);
	return reply_page(rq, &pg, next);
}

static int
h_list_volumes(struct ctl_req *rq)
{
	return list_volumes(rq, 0);
}

static int
h_list_volume_stats(struct ctl_req *rq)
{
	return list_volumes(rq, 1);
}

/* A listing whose page met nameless entries: asked again once the names
 * worker has named them (store_list_names). */
struct list_later {
	struct ctl_req *rq;
	uint32_t cur;
	char key[CFMT_MAX_VOLUME_KEY + 1];
	struct store_lister l;
};

static void list_again(void *arg);

/*
 * One page of volume key's objects from cursor cur, into a fresh lister
 * (*lp, allocated here, kept for a later try): answered (0), or deferred
 * (CTL_DEFERRED: the page met nameless entries, list_again tries again
 * once they are named), or -errno for the caller to answer.
 */
static int
list_page(struct ctl_req *rq, const char *key, uint32_t cur,
    struct list_later **lp)
{
	struct store_peer p = peer_of(rq);
	struct list_later *ll = *lp;
	struct page pg;
	uint32_t next;
	int err;

	if (ll == NULL && (ll = *lp = calloc(1, sizeof(*ll))) == NULL)
		return -ENOMEM;
	ll->rq = rq;
	ll->cur = cur;
	if (key != ll->key)	/* (list_again passes ll's own) */
		snprintf(ll->key, sizeof(ll->key), "%s", key);
	ll->l.room = page_room;
	ll->l.put = page_put_object;
	ll->l.skip_nameless = ll->l.nneed > 0;	/* named the last time */
	ll->l.nneed = 0;
	if ((err = page_init(&pg, 2 + CFMT_MAX_NAME + 2 + CFMT_MAX_COOKIE_KEY +
	    32, 0)) < 0)
		return err;
	ll->l.arg = &pg;
	if ((err = store_list_objects(&p, key, cur, &ll->l, &next)) < 0) {
		free(pg.b.data);
		return fail(rq, err, &p);
	}
	if (ll->l.nneed > 0) {	/* a worker names them, then again */
		free(pg.b.data);
		if ((err = store_list_names(&ll->l, list_again, ll)) < 0)
			return err;
		*lp = NULL;	/* list_again's now */
		return CTL_DEFERRED;
	}
	return reply_page(rq, &pg, next);
}

/* The names a page needed are known: list it again (main thread). */
static void
list_again(void *arg)
{
	struct list_later *ll = arg;
	struct ctl_req *rq = ll->rq;
	int err = list_page(rq, ll->key, ll->cur, &ll);

	if (err < 0)
		control_reply_str(rq, proto_status_from_errno(-err),
		    "listing: %s", strerror(-err));
	free(ll);	/* NULL when deferred again */
}

static int
h_list_objects(struct ctl_req *rq)
{
	char key[CFMT_MAX_VOLUME_KEY + 1];
	struct list_later *ll = NULL;
	uint32_t cur;
	int err;

	cur = proto_get_u32(&rq->body);
	if ((err = get_volume_key(&rq->body, key, sizeof(key))) < 0)
		return err;
	err = list_page(rq, key, cur, &ll);
	free(ll);
	return err;
}

/* ---- drop and access policies -------------------------------------------- */

static int
h_drop(struct ctl_req *rq)
{
	char vkey[CFMT_MAX_VOLUME_KEY + 1];
	struct store_peer p = peer_of(rq);
	struct proto_bytes key;
	int err;

	if ((err = get_volume_key(&rq->body, vkey, sizeof(vkey))) < 0)
		return err;
	key = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	/* a whole volume: root or admin_group (DESIGN.md); one object:
	 * also the volume's owner (access.h) */
	if (key.len == 0 && !rq->admin) {
		control_reply_str(rq, PROTO_EPERM, "dropping a whole volume "
		    "needs root or admin_group");
		return 0;
	}
	if (!rq->admin && (err = store_vol_check(&p, vkey, ACCESS_DROP_OBJ,
	    "dropping an object (root, admin_group or the volume's "
	    "owner)")) < 0)
		return fail(rq, err, &p);
	if ((err = store_drop(vkey, key.ptr, key.len)) < 0)
		return err;
	control_reply_str(rq, PROTO_OK, "dropped");
	return 0;
}

/* VOLUME_ACCESS: a volume's owner and policy; its owner or an admin may
 * set the policy (access.h). */
static int
h_volume_access(struct ctl_req *rq)
{
	char key[CFMT_MAX_VOLUME_KEY + 1];
	struct store_peer p = peer_of(rq);
	struct access_owner own;
	enum access_policy eff;
	struct proto_buf b;
	uint8_t body[16];
	uint32_t op, pol;
	int err;

	if ((err = get_volume_key(&rq->body, key, sizeof(key))) < 0)
		return err;
	op = proto_get_u32(&rq->body);
	pol = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (op > PROTO_ACCESS_SET)
		return -EINVAL;
	if ((err = store_vol_policy(&p, key, op == PROTO_ACCESS_SET, pol, &own,
	    &eff)) < 0)
		return fail(rq, err, &p);
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, (uint32_t)own.uid);
	proto_put_u32(&b, own.policy);
	proto_put_u32(&b, eff);
	proto_put_u32(&b, own.origin);
	control_reply(rq, PROTO_OK, body, b.off, -1);
	return 0;
}

/* ---- generation table and parked handles --------------------------------- */

/*
 * A read-only fd of a new memfd of slots generations, mapped writable here
 * (*mem). Sealed: no shrink or grow (no SIGBUS for either side) and no new
 * writable mapping or write() (F_SEAL_FUTURE_WRITE): the fd the client gets
 * is O_RDONLY, reopened through /proc, and reopening it again for writing
 * gives nothing it can write with. -errno.
 */
static int
gentab_make(uint32_t slots, uint64_t **mem)
{
	size_t len = (size_t)slots * sizeof(uint64_t);
	char proc[64];
	void *p;
	int fd, ro, err;

	fd = memfd_create("larder-gentab", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	(void)fchmod(fd, 0400);
	if (ftruncate(fd, len) < 0)
		goto fail;
	/* populated now: no page fault on an acquire's path later */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
	    fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
		munmap(p, len);
		goto fail;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((ro = open(proc, O_RDONLY | O_CLOEXEC)) < 0) {
		munmap(p, len);
		goto fail;
	}
	close(fd);
	*mem = p;
	return ro;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* GENTAB: make this connection's generation table; reply u32 slots and
 * its read-only fd. Once per connection. */
static int
h_gentab(struct ctl_req *rq)
{
	uint8_t body[4];
	struct proto_buf b;
	struct sclient *s;
	uint32_t i;
	int fd;

	if (!(s = sclient_rq(rq)))
		return -ENOMEM;
	if (s->gt)
		return -EBUSY;
	if (!(s->freeslots = malloc(GENTAB_SLOTS * sizeof(uint32_t))))
		return -ENOMEM;
	if ((fd = gentab_make(GENTAB_SLOTS, &s->gt)) < 0) {
		free(s->freeslots);
		s->freeslots = NULL;
		return fd;
	}
	s->nslots = GENTAB_SLOTS;
	for (i = 0; i < GENTAB_SLOTS; i++)	/* slot 0 is given first */
		s->freeslots[i] = GENTAB_SLOTS - 1 - i;
	s->nfree = GENTAB_SLOTS;
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, GENTAB_SLOTS);
	control_reply(rq, PROTO_OK, body, b.off, fd);
	close(fd);
	return 0;
}

/* One COOKIE_PARKED entry (proto.h 207): applied only when handle id is
 * the peer's, owns slot, and gen is the slot's generation now (a release
 * of a handle whose object changed while held is the exception: PARK of
 * a held handle with an old generation releases it). Else ignored. */
static void
parked_entry(struct ctl_req *rq, struct sclient *s, uint32_t id, uint32_t op,
    uint32_t slot, uint64_t gen)
{
	struct store_peer p = peer_of(rq);
	struct store_cookie *h = any_cookie(rq, id);
	int current;

	if (!h || !s->gt || slot >= s->nslots || h->genp != &s->gt[slot])
		goto ignored;
	current = gen == *h->genp;
	if (op == PROTO_PARK_PARK && !h->parked) {
		if (!current || s->nparked >= PARK_MAX) {
			(void)store_cookie_put(&p, h, 0);	/* released */
			return;
		}
		s->nparked++;	/* before: the park may revoke h at once */
		if (store_cookie_park(&p, h) < 0)
			s->nparked--;
		return;
	}
	if (!h->parked || !current)
		goto ignored;
	if (op == PROTO_PARK_USE) {
		store_cookie_use(h);
		return;
	}
	if (op == PROTO_PARK_RELEASE) {
		store_cookie_unpark_free(h);
		return;
	}
ignored:
	store_st.parked_ignored++;
}

/* COOKIE_PARKED: u32 count, count x (u32 id, u32 op, u32 slot, u64 gen);
 * never answered. A short or oversized batch applies what came whole. */
static int
h_cookie_parked(struct ctl_req *rq)
{
	struct sclient *s = sclient_of(rq);
	uint32_t n, i, id, op, slot;
	uint64_t gen;

	n = proto_get_u32(&rq->body);
	if (rq->body.err || !s || n == 0 || n > PROTO_MAX_PARKED)
		store_st.parked_ignored++;
	else
		for (i = 0; i < n; i++) {
			id = proto_get_u32(&rq->body);
			op = proto_get_u32(&rq->body);
			slot = proto_get_u32(&rq->body);
			gen = proto_get_u64(&rq->body);
			if (rq->body.err) {
				store_st.parked_ignored++;
				break;
			}
			parked_entry(rq, s, id, op, slot, gen);
		}
	control_done(rq);
	return 0;
}

/* ---- disconnect and registration ----------------------------------------- */

/* The peer went: release every cookie, then every volume it held. */
static void
on_disconnect(struct ctl_client *c, void *arg)
{
	struct sclient *s = arg;
	uint32_t i;

	s->gone = 1;
	for (i = 0; i < s->nobjs; i++)
		if (s->objs[i] && s->objs[i]->parked)
			store_cookie_unpark_free(s->objs[i]);
		else if (s->objs[i])
			(void)store_cookie_put(&s->peer, s->objs[i], 0);
	for (i = 0; i < s->nvols; i++)
		if (s->vols[i]) {
			(void)store_vol_put(&s->peer, s->vols[i], 0);
			control_client_hold(c, -1);
		}
	free(s->objs);
	free(s->vols);
	if (s->gt)
		munmap(s->gt, (size_t)s->nslots * sizeof(uint64_t));
	free(s->freeslots);
	free(s);
}

void
store_proto_init(void)
{
	control_register(PROTO_VOLUME_ACQUIRE, h_volume_acquire, 0);
	control_register(PROTO_VOLUME_RELINQUISH, h_volume_relinquish, 0);
	control_register(PROTO_COOKIE_ACQUIRE, h_cookie_acquire, 0);
	control_register(PROTO_COOKIE_RELINQUISH, h_cookie_relinquish, 0);
	control_register(PROTO_COOKIE_REFRESH, h_cookie_refresh, 0);
	control_register(PROTO_INVALIDATE, h_invalidate, 0);
	control_register(PROTO_GENTAB, h_gentab, 0);
	control_register(PROTO_COOKIE_PARKED, h_cookie_parked, 0);
	control_register(PROTO_WRITE, h_write, 0);
	control_register(PROTO_LIST_VOLUMES, h_list_volumes, 0);
	control_register(PROTO_LIST_OBJECTS, h_list_objects, 0);
	control_register(PROTO_LIST_VOLUME_STATS, h_list_volume_stats, 0);
	control_register(PROTO_DROP, h_drop, 0);	/* checks admin itself */
	control_register(PROTO_VOLUME_ACCESS, h_volume_access, 0);
	control_on_disconnect(CTL_SLOT_STORE, on_disconnect);
}
