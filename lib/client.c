/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.c: liblarder, the client side of the wire protocol (proto.h).
 *
 * One connection is one SOCK_SEQPACKET socket and one mutex. Every request
 * and its reply happen under the mutex, so one request is in flight at a
 * time (besides relinquishes sent ahead, below) and seq numbers only ever
 * check the daemon. The mutex also guards the volume and cookie lists,
 * each cookie's extent map (struct cfmt_map, lib/cfmt.c) and its object
 * fd slot.
 *
 * Reads do no I/O under the mutex: under it larder_read checks the map and
 * takes a reference on the cookie's object fd (struct objfd); it preads
 * with the mutex released and drops the reference after. A refresh that
 * brings a new fd swaps the slot; the old fd is closed when its last
 * reader is done. So reads of cached ranges run in parallel from several
 * threads and never wait for a request in flight.
 *
 * A cookie relinquish without retire is sent ahead, with no reply at all
 * when the daemon takes PROTO_RELINQUISH_NOREPLY, else with its reply read
 * on the way by the next request (l->pend): no round trip per object for
 * clients that open and close at a high rate, and with NOREPLY no reply
 * that wakes the client while it waits for the next one.
 *
 * Every reply is hostile until checked: header (version, len, type, seq,
 * PROTO_F_REPLY), every count against the bytes that are there, every
 * extent against the object size. A header that does not answer the
 * request means the stream can no longer be trusted: the connection is
 * marked broken and every later request fails with -EPROTO. A malformed
 * body fails only that call. An fd that arrives where none was announced
 * is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cfmt.h"
#include "client.h"
#include "larder/larder.h"
#include "proto.h"

#define MAX_PENDING	32
#define AW_MAX		LARDER_WRITES_STARTED_MAX
#define IDLE_BUCKETS	256
#define ALIVE_MS	10	/* trust a quiet socket this long (daemon_gone) */
/* Zero-copy fills: regions of the area, each with one fill in flight at
 * most. 4 (1 MiB chunks of the default area) measured best of 2, 4 and 8
 * (bench_fill, 256 MiB in 4 MiB writes, in-memory image, this 2-CPU
 * machine under load: median ack ratios 0.44-0.47, 0.46-0.51 and
 * 0.34-0.43): fewer chunks overlap less, more pay more round trips. */
#define ZC_REGIONS	4

/* An object fd shared by the cookie and the reads in flight. */
struct objfd {
	int fd;
	unsigned refs;		/* under the connection mutex */
};

struct larder_cookie {
	struct larder_volume *vol;
	LIST_ENTRY(larder_cookie) entry;	/* v->cookies, or an idle bucket */
	TAILQ_ENTRY(larder_cookie) lru;		/* idle only: oldest first */
	uint32_t id;
	uint32_t flags;		/* PROTO_COOKIE_* of the last reply */
	uint32_t gen;		/* generation of obj; 0 without one */
	uint64_t size;		/* as acquired or invalidated */
	struct objfd *obj;	/* NULL: no fd held */
	struct cfmt_map map;	/* cached ranges of obj */
	/* GENTAB (proto.h 102): the handle's slot and the generation it had
	 * when acquired; what it was acquired with, to find it again */
	uint32_t slot;		/* PROTO_SLOT_NONE: cannot be parked */
	uint64_t sgen;
	int parked;		/* the daemon has it parked (revocable) */
	int idle;		/* in the idle cache */
	int stale;		/* a started write was answered ESTALE: the
				   next one refreshes first */
	uint32_t acq_flags;	/* PROTO_COOKIE_* it was acquired with */
	uint32_t hash;
	uint16_t key_len;
	uint8_t aux_len;
	uint8_t key[PROTO_MAX_COOKIE_KEY];
	uint8_t aux[PROTO_MAX_AUX];
};

/* one COOKIE_PARKED entry waiting to be sent */
struct park_ent {
	uint32_t id, op, slot;
	uint64_t gen;
};

struct larder_volume {
	struct larder *l;
	LIST_ENTRY(larder_volume) entry;
	LIST_HEAD(, larder_cookie) cookies;
	uint32_t id;
};

struct larder {
	pthread_mutex_t lock;
	int sock;
	int broken;		/* 0, or the -errno every request now gets */
	uint32_t seq;
	uint32_t max_inline;
	uint32_t features;	/* PROTO_FEATURE_* the daemon announced */
	uint8_t *shm;		/* the fill area, NULL when not in use */
	size_t shm_size;	/* usable: what the daemon accepted */
	size_t shm_map;		/* mapped length */
	uint64_t zc_busy;	/* slots of the area not to touch: written
				   from by fills in flight, or still read
				   by the daemon (PROTO_WRITE_ZCOPY) */
	unsigned zc_peak;	/* the most zero-copy fills in flight */
	int area_user;		/* larder_fill_buffer gave the area to the
				   caller: the library copies nothing into
				   it any more */
	LIST_HEAD(, larder_volume) volumes;
	/* GENTAB: the daemon's read-only generation table, the parked cookies
	 * kept here (idle: relinquished, not told to the daemon) and the
	 * COOKIE_PARKED entries not sent yet (see idle_*, park_*) */
	const uint64_t *gt;	/* NULL: no table, every acquire asks */
	uint32_t nslots;
	LIST_HEAD(, larder_cookie) idle[IDLE_BUCKETS];
	TAILQ_HEAD(, larder_cookie) idle_lru;
	unsigned nidle;
	struct park_ent park[PROTO_PARK_BATCH];
	unsigned npark;
	uint64_t park_first_ms;	/* when park[0] was queued */
	uint64_t local_acquires;
	uint64_t alive_ms;	/* when daemon_gone last looked */
	/* requests sent without waiting for their reply (relinquish) */
	struct {
		uint16_t type;
		uint32_t seq;
	} pend[MAX_PENDING];
	unsigned npend;
	/* writes started (larder_write_start), not yet waited for, in the
	 * order they were started; answered ones keep their result */
	struct awrite {
		struct larder_cookie *c;
		uint32_t seq;
		int answered;
		uint64_t off;
		size_t len;
		ssize_t n;	/* bytes accepted or -errno, once answered */
	} aw[AW_MAX];
	unsigned naw;
	char reason[PROTO_MAX_STR];
	uint8_t tx[PROTO_MAX_MSG];
	uint8_t rx[PROTO_MAX_MSG];
};

/* ---- object fds ---------------------------------------------------------- */

static struct objfd *
obj_new(int fd)
{
	struct objfd *o = malloc(sizeof(*o));

	if (o == NULL)
		return NULL;
	o->fd = fd;
	o->refs = 1;
	return o;
}

/* Drop a reference; called under the mutex. The close of a read-only fd
 * of a local file does no I/O. */
static void
obj_put(struct objfd *o)
{
	if (o && --o->refs == 0) {
		close(o->fd);
		free(o);
	}
}

/* Forget the cookie's object: its fd and its map. */
static void
cookie_drop_obj(struct larder_cookie *c)
{
	obj_put(c->obj);
	c->obj = NULL;
	c->gen = 0;
	cfmt_map_clear(&c->map);
}

/* ---- request/reply ------------------------------------------------------- */

static void
begin(struct larder *l, struct proto_buf *b, uint16_t type)
{
	proto_buf_init(b, l->tx, sizeof(l->tx));
	if (++l->seq == 0)
		l->seq = 1;
	proto_begin(b, type, l->seq, 0, 0);
}

static void
set_broken(struct larder *l, int err)
{
	if (!l->broken)
		l->broken = err;
}

/*
 * Receive one reply and check its header; called with the mutex held.
 * A failure here leaves the stream out of step, so the connection is
 * marked broken. On success rep is positioned at the body and *fdp holds
 * a received fd or -1.
 */
static int
recv_one(struct larder *l, struct proto_buf *rep, struct proto_hdr *h,
    int *fdp)
{
	int n, err;

	n = proto_recv(l->sock, l->rx, sizeof(l->rx), fdp);
	if (n <= 0) {
		/* EOF or a dead socket; an oversized packet (-EMSGSIZE) is
		 * a daemon that does not speak this protocol */
		err = n == 0 || n == -ECONNRESET || n == -ENOTCONN ?
		    -ECONNRESET : n == -EMSGSIZE ? -EPROTO : n;
		if (err != -EINTR && err != -ENOMEM && err != -ENOBUFS)
			set_broken(l, err);
		return err;
	}
	proto_buf_init(rep, l->rx, sizeof(l->rx));
	if (proto_parse_hdr(rep, h, n) < 0 || !(h->flags & PROTO_F_REPLY)) {
		if (*fdp >= 0)
			close(*fdp);
		*fdp = -1;
		set_broken(l, -EPROTO);
		return -EPROTO;
	}
	return 0;
}

/* If h (body in rep) answers a write started with larder_write_start,
 * keep its result and return 1: the bytes accepted enter the cookie's map
 * now (its object cannot have changed since the start: refresh,
 * invalidate and relinquish wait for the cookie's started writes first).
 * ESTALE (the object was replaced) is kept as ENOBUFS, and the cookie's
 * next write refreshes first. */
static int
aw_answer(struct larder *l, const struct proto_hdr *h, struct proto_buf *rep)
{
	char why[PROTO_MAX_STR];
	struct awrite *a = NULL;
	uint64_t accepted, busy;
	unsigned i;
	ssize_t n;

	if (h->type != PROTO_WRITE)
		return 0;
	for (i = 0; i < l->naw && !a; i++)
		if (!l->aw[i].answered && l->aw[i].seq == h->seq)
			a = &l->aw[i];
	if (!a)
		return 0;
	if (h->status == PROTO_OK) {
		accepted = proto_get_u64(rep);
		n = rep->err || accepted > a->len ? -EPROTO : (ssize_t)accepted;
	} else {	/* its reason is not kept: l->reason is the call's */
		n = proto_status_to_errno(h->status);
		if (n == 0)
			n = -EIO;
		if (proto_remaining(rep) > 0)
			(void)proto_get_str(rep, why, sizeof(why));
	}
	/* the slots the daemon still reads, after an early answer: the
	 * caller's business, kept for client_zc_state */
	busy = proto_get_u64(rep);
	if (!rep->err)
		l->zc_busy = busy;
	if (n == -ESTALE) {
		a->c->stale = 1;
		n = -ENOBUFS;
	}
	/* without a map entry the bytes read as a miss */
	if (n > 0 && cfmt_map_add(&a->c->map, a->off, n) < 0)
		cfmt_map_clear(&a->c->map);
	a->n = n == 0 ? -ENOBUFS : n;	/* len > 0: none taken */
	a->answered = 1;
	return 1;
}

/* If h (body in rep) answers a request whose reply nobody waits for (a
 * relinquish sent ahead, a write started), take it and return 1. */
static int
take_pending(struct larder *l, const struct proto_hdr *h,
    struct proto_buf *rep)
{
	unsigned i;

	if (aw_answer(l, h, rep))
		return 1;

	/* a COOKIE_PARKED is never answered, but a daemon short of memory
	 * answers anything it could not take: nothing to do with it */
	if (h->type == PROTO_COOKIE_PARKED)
		return 1;
	for (i = 0; i < l->npend; i++) {
		if (l->pend[i].seq != h->seq || l->pend[i].type != h->type)
			continue;
		l->pend[i] = l->pend[--l->npend];
		return 1;
	}
	return 0;
}

/* Wait for one reply of a request sent ahead; its status is not wanted. */
static int
drain_one(struct larder *l)
{
	struct proto_buf rep;
	struct proto_hdr h;
	int fd, err;

	if ((err = recv_one(l, &rep, &h, &fd)) < 0)
		return err;
	if (fd >= 0)
		close(fd);
	if (!take_pending(l, &h, &rep)) {
		set_broken(l, -EPROTO);
		return -EPROTO;
	}
	return 0;
}

/* ---- parked cookies: the batch ------------------------------------------ */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send the COOKIE_PARKED entries queued (no reply comes); under the mutex.
 * They are forgotten whatever happens: the daemon ignores what it cannot
 * apply, and a dead connection releases everything. */
static int
park_flush(struct larder *l)
{
	uint8_t buf[PROTO_HDR_SIZE + 4 + PROTO_PARK_BATCH * PROTO_PARK_ENTRY];
	struct proto_buf b;
	unsigned i;
	int err;

	if (l->npark == 0 || l->broken)
		return l->broken;
	proto_buf_init(&b, buf, sizeof(buf));
	/* seq 0: no reply is matched to it (l->seq stays the last request's) */
	proto_begin(&b, PROTO_COOKIE_PARKED, 0, 0, 0);
	proto_put_u32(&b, l->npark);
	for (i = 0; i < l->npark; i++) {
		proto_put_u32(&b, l->park[i].id);
		proto_put_u32(&b, l->park[i].op);
		proto_put_u32(&b, l->park[i].slot);
		proto_put_u64(&b, l->park[i].gen);
	}
	l->npark = 0;
	if ((err = proto_finish(&b)) < 0)
		return err;
	if ((err = proto_send(l->sock, b.data, b.off, -1)) < 0 &&
	    (err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN))
		set_broken(l, -ECONNRESET);
	return err;
}

/* Flush the batch if its oldest entry is PROTO_PARK_AGE_MS old. */
static void
park_tick(struct larder *l)
{
	if (l->npark && now_ms() - l->park_first_ms >= PROTO_PARK_AGE_MS)
		(void)park_flush(l);
}

/* Queue op on handle id, slot, generation gen; a full batch is sent. */
static void
park_add(struct larder *l, uint32_t id, uint32_t op, uint32_t slot,
    uint64_t gen)
{
	struct park_ent *e;

	if (l->npark == 0)
		l->park_first_ms = now_ms();
	e = &l->park[l->npark++];
	e->id = id;
	e->op = op;
	e->slot = slot;
	e->gen = gen;
	if (l->npark == PROTO_PARK_BATCH)
		(void)park_flush(l);
	else
		park_tick(l);
}

/* Send the request in b (with send_fd if >= 0); called with the mutex.
 * The parked-cookie entries queued go first, so the daemon sees every
 * use and release in the order they happened. */
static int
send_req(struct larder *l, struct proto_buf *b, int send_fd)
{
	int err;

	l->reason[0] = '\0';
	if (l->broken)
		return l->broken;
	if (l->npark && (err = park_flush(l)) < 0)
		return err;
	if ((err = proto_finish(b)) < 0)
		return err;
	if ((err = proto_send(l->sock, b->data, b->off, send_fd)) < 0) {
		if (err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN)
			set_broken(l, -ECONNRESET);
		return err;
	}
	return 0;
}

/* An error reply's status as -errno; its reason (if any) into l->reason,
 * and rep positioned after it. */
static int
reply_error(struct larder *l, struct proto_buf *rep, uint16_t status)
{
	int err = proto_status_to_errno(status);

	if (proto_remaining(rep) > 0 &&
	    proto_get_str(rep, l->reason, sizeof(l->reason)) < 0)
		l->reason[0] = '\0';
	return err ? err : -EIO;
}

/*
 * Send the request in b (with send_fd if >= 0) and receive its reply;
 * called with the mutex held. Replies to requests sent ahead (relinquish)
 * may come first and are taken on the way. On return 0 (PROTO_OK), rep is
 * positioned at the reply body and *fdp holds a received fd or -1 (when
 * fdp is NULL any fd is closed). An error reply gives its status as
 * -errno, with its reason in l->reason.
 */
static int
call(struct larder *l, struct proto_buf *b, int send_fd, struct proto_buf *rep,
    int *fdp)
{
	struct proto_hdr h;
	uint16_t type;
	uint32_t seq;
	int fd = -1, err;

	if (fdp)
		*fdp = -1;
	type = b->data[2] | b->data[3] << 8;
	seq = l->seq;
	if ((err = send_req(l, b, send_fd)) < 0)
		return err;
	for (;;) {
		if ((err = recv_one(l, rep, &h, &fd)) < 0)
			return err;
		if (h.type == type && h.seq == seq)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
		if (!take_pending(l, &h, rep)) {
			set_broken(l, -EPROTO);
			return -EPROTO;
		}
	}
	if (h.status != PROTO_OK) {
		err = reply_error(l, rep, h.status);
		goto fail;
	}
	if (fdp)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return err;
}

/* ---- cookie state -------------------------------------------------------- */

struct cookie_state {
	uint32_t id;
	uint32_t flags;
	uint32_t gen;
	uint64_t size;
	struct cfmt_map map;
};

/* Decode a proto_cookie_state, checking every extent. 0 or -EPROTO/-ENOMEM;
 * on success st->map must be freed by the caller. */
static int
get_cookie_state(struct proto_buf *b, struct cookie_state *st)
{
	uint32_t i, nr;
	uint64_t start, len, end = 0;
	int err;

	cfmt_map_init(&st->map);
	st->id = proto_get_u32(b);
	st->flags = proto_get_u32(b);
	st->gen = proto_get_u32(b);
	nr = proto_get_u32(b);
	st->size = proto_get_u64(b);
	if (b->err)
		return -EPROTO;
	if (nr > PROTO_MAX_EXTENTS || (size_t)nr * 16 > proto_remaining(b))
		return -EPROTO;
	for (i = 0; i < nr; i++) {
		start = proto_get_u64(b);
		len = proto_get_u64(b);
		/* sorted, non-empty, non-overlapping, inside the object */
		if (b->err || len == 0 || start < end || start > st->size ||
		    len > st->size - start) {
			err = -EPROTO;
			goto fail;
		}
		end = start + len;
		if ((err = cfmt_map_add(&st->map, start, len)) < 0)
			goto fail;
	}
	return 0;
fail:
	cfmt_map_free(&st->map);
	return err;
}

/* Take an object fd from the daemon: it must be a regular file. */
static int
check_obj_fd(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -EPROTO;
	return 0;
}

/*
 * Apply a decoded state (and maybe an fd) to a cookie, under the mutex.
 * With a new fd the map is the daemon's; for the same generation it is
 * merged with what this connection wrote; without an fd for another
 * generation the cookie holds nothing. Consumes fd and st->map.
 */
static int
cookie_apply(struct larder_cookie *c, struct cookie_state *st, int fd)
{
	struct objfd *o;
	uint32_t i;
	int err = 0;

	c->flags = st->flags;
	if (fd >= 0) {
		if ((o = obj_new(fd)) == NULL) {
			close(fd);
			cfmt_map_free(&st->map);
			cookie_drop_obj(c);
			return -ENOMEM;
		}
		cookie_drop_obj(c);
		c->obj = o;
		c->gen = st->gen;
		cfmt_map_free(&c->map);
		c->map = st->map;
		return 0;
	}
	if (c->obj == NULL || st->gen != c->gen) {
		cookie_drop_obj(c);
		cfmt_map_free(&st->map);
		return 0;
	}
	for (i = 0; i < st->map.count && err == 0; i++)
		err = cfmt_map_add(&c->map, st->map.ext[i].start,
		    st->map.ext[i].len);
	cfmt_map_free(&st->map);
	return err;
}

/*
 * Receive the fd that a cookie reply announces: an fd without
 * PROTO_COOKIE_HAVE_FD is closed, HAVE_FD without an fd is an error.
 */
static int
reply_fd(struct cookie_state *st, int *fd)
{
	if (!(st->flags & PROTO_COOKIE_HAVE_FD)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return 0;
	}
	if (*fd < 0 || check_obj_fd(*fd) < 0)
		return -EPROTO;
	return 0;
}

static int promote(struct larder_cookie *c);
static void aw_settle(struct larder *l, const struct larder_cookie *c);
static void aw_forget(struct larder *l, const struct larder_cookie *c);

/* COOKIE_REFRESH, under the mutex (a parked cookie is acquired anew). */
static int
refresh(struct larder_cookie *c)
{
	struct larder *l = c->vol->l;
	struct proto_buf b, r;
	struct cookie_state st;
	int err, fd;

	aw_settle(l, c);	/* their bytes are in this object's map */
	if (c->parked)
		return promote(c);
	begin(l, &b, PROTO_COOKIE_REFRESH);
	proto_put_u32(&b, c->id);
	proto_put_u32(&b, c->obj ? c->gen : 0);
	if ((err = call(l, &b, -1, &r, &fd)) < 0)
		return err;
	if ((err = get_cookie_state(&r, &st)) < 0)
		goto fail;
	if (st.id != c->id || (err = reply_fd(&st, &fd)) < 0) {
		cfmt_map_free(&st.map);
		err = -EPROTO;
		goto fail;
	}
	return cookie_apply(c, &st, fd);
fail:
	if (fd >= 0)
		close(fd);
	return err;
}

/* ---- parked cookies: the idle cache ------------------------------------- */

static uint32_t
key_hash(const struct larder_volume *v, const void *key, size_t len)
{
	const uint8_t *p = key;
	uint32_t h = 2166136261u ^ v->id;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Does c's handle still stand as it was acquired? One acquire load of the
 * slot's generation, which the daemon bumps before it changes anything. */
static int
gen_current(const struct larder *l, const struct larder_cookie *c)
{
	return __atomic_load_n(&l->gt[c->slot], __ATOMIC_ACQUIRE) == c->sgen;
}

static void
idle_del(struct larder *l, struct larder_cookie *c)
{
	LIST_REMOVE(c, entry);
	TAILQ_REMOVE(&l->idle_lru, c, lru);
	c->idle = 0;
	l->nidle--;
}

static void
cookie_destroy(struct larder_cookie *c)
{
	cookie_drop_obj(c);
	cfmt_map_free(&c->map);
	free(c);
}

/* Forget idle cookie c: release its handle if it still stands. */
static void
idle_drop(struct larder *l, struct larder_cookie *c)
{
	idle_del(l, c);
	if (gen_current(l, c))
		park_add(l, c->id, PROTO_PARK_RELEASE, c->slot, c->sgen);
	cookie_destroy(c);
}

/* Keep c (parked) idle; the least recently relinquished goes when full. */
static void
idle_add(struct larder *l, struct larder_cookie *c)
{
	if (l->nidle >= CLIENT_IDLE_MAX)
		idle_drop(l, TAILQ_FIRST(&l->idle_lru));
	LIST_INSERT_HEAD(&l->idle[c->hash % IDLE_BUCKETS], c, entry);
	TAILQ_INSERT_TAIL(&l->idle_lru, c, lru);
	c->idle = 1;
	l->nidle++;
}

/* Take out of the cache an idle cookie of v acquired with (key, aux,
 * size) whose handle still stands; NULL if none. Those of the key whose
 * handle the daemon revoked are dropped on the way. */
static struct larder_cookie *
idle_take(struct larder_volume *v, const void *key, size_t key_len,
    const void *aux, size_t aux_len, uint64_t size)
{
	struct larder *l = v->l;
	uint32_t h = key_hash(v, key, key_len);
	struct larder_cookie *c, *next;

	for (c = LIST_FIRST(&l->idle[h % IDLE_BUCKETS]); c; c = next) {
		next = LIST_NEXT(c, entry);
		if (c->vol != v || c->hash != h || c->key_len != key_len ||
		    memcmp(c->key, key, key_len) != 0)
			continue;
		if (!gen_current(l, c)) {
			idle_drop(l, c);
			continue;
		}
		if (c->size != size || c->aux_len != aux_len ||
		    memcmp(c->aux, aux, aux_len) != 0)
			continue;
		idle_del(l, c);
		return c;
	}
	return NULL;
}

/*
 * Has the daemon gone (the socket is at EOF or failed)? Then its table
 * is frozen: a restarted daemon cannot move these generations, so nothing
 * may be served from it. One non-blocking peek, under the mutex, at most
 * every ALIVE_MS (a syscall costs more than the rest of a local acquire):
 * a daemon that died is noticed that much later at most, far less than a
 * new one takes to start and change anything.
 */
static int
daemon_gone(struct larder *l)
{
	uint64_t now;
	char b;
	ssize_t n;

	if (l->broken)
		return 1;
	now = now_ms();
	if (l->alive_ms && now - l->alive_ms < ALIVE_MS)
		return 0;
	l->alive_ms = now;
	n = recv(l->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR)) {
		set_broken(l, -ECONNRESET);
		return 1;
	}
	return 0;
}

/* Drop every idle cookie (of v; all: v NULL). */
static void
idle_drop_all(struct larder *l, const struct larder_volume *v)
{
	struct larder_cookie *c, *next;

	for (c = TAILQ_FIRST(&l->idle_lru); c; c = next) {
		next = TAILQ_NEXT(c, lru);
		if (!v || c->vol == v)
			idle_drop(l, c);
	}
}

/*
 * Relinquish c (no retire) by parking it: the daemon is told in the next
 * batch (PROTO_PARK_PARK) and c waits in the idle cache for an acquire of
 * the same key, aux and size. Returns 0, or -1 if c cannot be parked (no
 * slot, no fd, acquired with flags): the caller relinquishes it.
 */
static int
park_cookie(struct larder *l, struct larder_cookie *c)
{
	if (!l->gt || c->slot == PROTO_SLOT_NONE || c->acq_flags ||
	    c->obj == NULL || l->broken)
		return -1;
	LIST_REMOVE(c, entry);
	if (!c->parked) {
		park_add(l, c->id, PROTO_PARK_PARK, c->slot, c->sgen);
		c->parked = 1;
	}
	if (!gen_current(l, c)) {
		/* the object changed meanwhile: the daemon releases it */
		cookie_destroy(c);
		return 0;
	}
	idle_add(l, c);
	return 0;
}

/* ---- connection ---------------------------------------------------------- */

const char *
client_default_socket(void)
{
	const char *p = getenv("LARDER_SOCKET");

	return p && *p ? p : DEFAULT_SOCKET;
}

/* Make the fill area: a sealed memfd (the daemon may rely on its size). */
static int
make_shm(size_t size, int *fdp, uint8_t **mem)
{
	void *p;
	int fd, err;

	fd = memfd_create("larder-fill", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	*fdp = fd;
	*mem = p;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* HELLO: offer the area (if any) and learn the daemon's limits. */
static int
hello(struct larder *l, int shm_fd, size_t shm_size)
{
	struct proto_buf b, r;
	uint32_t version, max_inline;
	uint64_t accepted;
	int err;

	begin(l, &b, PROTO_HELLO);
	proto_put_u32(&b, shm_fd >= 0 ? PROTO_HELLO_SHM : 0);
	proto_put_u64(&b, shm_fd >= 0 ? shm_size : 0);
	if ((err = call(l, &b, shm_fd, &r, NULL)) < 0)
		return err;
	version = proto_get_u32(&r);
	max_inline = proto_get_u32(&r);
	accepted = proto_get_u64(&r);
	(void)proto_get_u32(&r);	/* daemon pid */
	if (r.err || version != PROTO_VERSION || max_inline == 0)
		return -EPROTO;
	/* features: only from daemons that send them */
	l->features = proto_remaining(&r) >= 4 ? proto_get_u32(&r) : 0;
	if (accepted > (shm_fd >= 0 ? shm_size : 0))
		return -EPROTO;
	l->max_inline = max_inline < PROTO_MAX_INLINE ? max_inline :
	    PROTO_MAX_INLINE;
	l->shm_size = accepted;
	return 0;
}

/*
 * GENTAB: map the daemon's generation table read-only. A refusal, or a
 * table that does not check out (no fd, not a sealed file of the size
 * announced), leaves the connection without one: every acquire then asks
 * the daemon. Only a broken connection is an error.
 */
static int
gentab(struct larder *l)
{
	struct proto_buf b, r;
	struct stat sb;
	uint32_t slots;
	void *p;
	int fd, err, seals;

	begin(l, &b, PROTO_GENTAB);
	if ((err = call(l, &b, -1, &r, &fd)) < 0)
		return l->broken ? err : 0;
	slots = proto_get_u32(&r);
	if (r.err || fd < 0 || slots == 0 || slots > PROTO_MAX_SLOTS)
		goto out;
	seals = fcntl(fd, F_GET_SEALS);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size < (uint64_t)slots * sizeof(uint64_t) ||
	    seals < 0 || !(seals & F_SEAL_SHRINK))
		goto out;
	p = mmap(NULL, (size_t)slots * sizeof(uint64_t), PROT_READ,
	    MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		goto out;
	l->gt = p;
	l->nslots = slots;
out:
	if (fd >= 0)
		close(fd);
	return 0;
}

/*
 * larder_connect's body (contract in larder.h; flags in client.h). Any
 * thread; the connection is not shared until it is returned, so no lock
 * here. Connects the SEQPACKET socket, makes the sealed memfd fill area
 * unless CLIENT_NO_SHM, and says HELLO: the daemon may take less of the
 * area, or none (fills then go inline); the memfd itself is closed either
 * way (the mapping and the daemon's copy stay). Every failure undoes all
 * of it and returns -errno with *out NULL.
 */
int
client_connect(const char *path, size_t shm_size, int flags,
    struct larder **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct larder *l;
	uint8_t *mem = NULL;
	size_t map_size = 0;
	int shm_fd = -1, err;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (path == NULL)
		path = client_default_socket();
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if (shm_size == 0)
		shm_size = CLIENT_DEFAULT_SHM;
	if (shm_size > PROTO_MAX_SHM)
		return -EINVAL;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	LIST_INIT(&l->volumes);
	TAILQ_INIT(&l->idle_lru);	/* the buckets are zeroed: empty */
	if ((err = -pthread_mutex_init(&l->lock, NULL)) < 0) {
		free(l);
		return err;
	}
	l->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (l->sock < 0) {
		err = -errno;
		goto fail;
	}
	if (connect(l->sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		goto fail;
	}
	if (!(flags & CLIENT_NO_SHM)) {
		if ((err = make_shm(shm_size, &shm_fd, &mem)) < 0)
			goto fail;
		map_size = shm_size;
	}
	err = hello(l, shm_fd, shm_size);
	if (shm_fd >= 0)
		close(shm_fd);	/* the mapping and the daemon's copy stay */
	if (err == 0 && (l->features & PROTO_FEATURE_GENTAB) &&
	    !(flags & CLIENT_NO_GENTAB) && !getenv("LARDER_NO_GENTAB"))
		err = gentab(l);
	if (err < 0)
		goto fail;
	if (l->shm_size > 0) {
		/* use what the daemon accepted, unmap all of it at the end */
		l->shm = mem;
		l->shm_map = map_size;
	} else if (mem)
		munmap(mem, map_size);
	*out = l;
	return 0;
fail:
	if (mem)
		munmap(mem, map_size);
	if (l->gt)
		munmap((void *)l->gt, (size_t)l->nslots * sizeof(uint64_t));
	if (l->sock >= 0)
		close(l->sock);
	pthread_mutex_destroy(&l->lock);
	free(l);
	return err;
}

int
larder_connect(const char *socket_path, size_t shm_size, struct larder **out)
{
	return client_connect(socket_path, shm_size, 0, out);
}

static void
free_cookie(struct larder_cookie *c)
{
	LIST_REMOVE(c, entry);
	cookie_drop_obj(c);
	cfmt_map_free(&c->map);
	free(c);
}

static void
free_volume(struct larder_volume *v)
{
	struct larder_cookie *c;

	while ((c = LIST_FIRST(&v->cookies)) != NULL)
		free_cookie(c);
	LIST_REMOVE(v, entry);
	free(v);
}

void
larder_disconnect(struct larder *l)
{
	struct larder_volume *v;

	struct larder_cookie *c;

	if (l == NULL)
		return;
	(void)park_flush(l);	/* the last uses, for recency */
	/* closing the socket makes the daemon release what we held */
	close(l->sock);
	while ((c = TAILQ_FIRST(&l->idle_lru)) != NULL) {
		idle_del(l, c);
		cookie_destroy(c);
	}
	while ((v = LIST_FIRST(&l->volumes)) != NULL)
		free_volume(v);
	if (l->gt)
		munmap((void *)l->gt, (size_t)l->nslots * sizeof(uint64_t));
	if (l->shm)
		munmap(l->shm, l->shm_map);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int
client_has_shm(const struct larder *l)
{
	return l->shm != NULL;
}

int
client_has_gentab(const struct larder *l)
{
	return l->gt != NULL;
}

uint64_t
client_local_acquires(struct larder *l)
{
	uint64_t n;

	pthread_mutex_lock(&l->lock);
	n = l->local_acquires;
	pthread_mutex_unlock(&l->lock);
	return n;
}

void
client_zc_state(struct larder *l, uint64_t *busy, unsigned *peak)
{
	pthread_mutex_lock(&l->lock);
	*busy = l->zc_busy;
	*peak = l->zc_peak;
	pthread_mutex_unlock(&l->lock);
}

const char *
client_reason(struct larder *l)
{
	return l->reason;
}

int
client_request(struct larder *l, uint16_t type, const void *body, size_t len,
    void *rbuf, size_t rbufsz, size_t *rlen)
{
	struct proto_buf b, r;
	size_t n;
	int err;

	if (l == NULL || (len && body == NULL))
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	begin(l, &b, type);
	proto_put_raw(&b, body, len);
	err = call(l, &b, -1, &r, NULL);
	if (err == 0) {
		n = proto_remaining(&r);
		if (n > rbufsz)
			err = -EMSGSIZE;
		else {
			if (n)
				memcpy(rbuf, r.data + r.off, n);
			if (rlen)
				*rlen = n;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

/* ---- volumes ------------------------------------------------------------- */

/*
 * larder_volume_acquire's body with PROTO_VOLUME_* flags (larderctl asks
 * for any coherency). The key is checked here as far as the library can
 * (length, no '/'); the daemon checks the rest. One round trip under the
 * connection mutex; the volume joins l's list only when the daemon gave
 * it an id. Returns 0 or -errno (the daemon's status, or -EPROTO for a
 * short reply) with *out NULL.
 */
int
client_volume_acquire(struct larder *l, const char *key, const void *coh,
    size_t coh_len, uint32_t flags, struct larder_volume **out)
{
	struct larder_volume *v;
	struct proto_buf b, r;
	size_t klen;
	int err;

	if (out)
		*out = NULL;
	if (l == NULL || key == NULL || out == NULL ||
	    (coh_len && coh == NULL))
		return -EINVAL;
	klen = strlen(key);
	if (klen == 0 || klen > PROTO_MAX_VOLUME_KEY || coh_len > PROTO_MAX_AUX ||
	    strchr(key, '/'))
		return -EINVAL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -ENOMEM;
	LIST_INIT(&v->cookies);
	v->l = l;

	pthread_mutex_lock(&l->lock);
	begin(l, &b, PROTO_VOLUME_ACQUIRE);
	proto_put_u32(&b, flags);
	proto_put_str(&b, key);
	proto_put_bytes(&b, coh, coh_len);
	if ((err = call(l, &b, -1, &r, NULL)) == 0) {
		v->id = proto_get_u32(&r);
		(void)proto_get_u32(&r);	/* PROTO_VOLUME_* result bits */
		if (r.err)
			err = -EPROTO;
	}
	if (err == 0)
		LIST_INSERT_HEAD(&l->volumes, v, entry);
	pthread_mutex_unlock(&l->lock);
	if (err < 0) {
		free(v);
		return err;
	}
	*out = v;
	return 0;
}

int
larder_volume_acquire(struct larder *l, const char *key, const void *coherency,
    size_t coherency_len, struct larder_volume **out)
{
	return client_volume_acquire(l, key, coherency, coherency_len, 0, out);
}

int
larder_volume_relinquish(struct larder_volume *v, int retire)
{
	struct larder *l;
	struct proto_buf b, r;
	int err;

	if (v == NULL)
		return -EINVAL;
	l = v->l;
	pthread_mutex_lock(&l->lock);
	if (!LIST_EMPTY(&v->cookies)) {
		pthread_mutex_unlock(&l->lock);
		return -EBUSY;
	}
	idle_drop_all(l, v);	/* released before the volume, in order */
	begin(l, &b, PROTO_VOLUME_RELINQUISH);
	proto_put_u32(&b, v->id);
	proto_put_u32(&b, retire ? PROTO_RELINQUISH_RETIRE : 0);
	err = call(l, &b, -1, &r, NULL);
	free_volume(v);
	pthread_mutex_unlock(&l->lock);
	return err;
}

/* ---- cookies ------------------------------------------------------------- */

/*
 * One COOKIE_ACQUIRE round trip for c (its volume, key, aux and size set),
 * under the connection mutex. The reply (cookie state: id, size, flags,
 * map, an fd when an object exists, and with a GENTAB the slot and its
 * generation) is checked before it is used: an announced fd must be there
 * and be a regular file (reply_fd; an unannounced one is closed), the
 * size must be the one asked for unless PROTO_COOKIE_ANY_AUX (then the
 * object's), the slot inside the table. With an fd c takes it and the map
 * (cookie_apply); without, nothing is readable yet. On failure everything
 * received is closed or freed and c is as it was.
 */
static int
acquire_rt(struct larder_cookie *c, uint32_t flags)
{
	struct larder_volume *v = c->vol;
	struct larder *l = v->l;
	struct cookie_state st;
	struct proto_buf b, r;
	uint32_t slot = PROTO_SLOT_NONE;
	uint64_t sgen = 0;
	int err, fd = -1;

	begin(l, &b, PROTO_COOKIE_ACQUIRE);
	proto_put_u32(&b, v->id);
	proto_put_u32(&b, flags);
	proto_put_u64(&b, c->size);
	proto_put_bytes(&b, c->key, c->key_len);
	proto_put_bytes(&b, c->aux, c->aux_len);
	if ((err = call(l, &b, -1, &r, &fd)) < 0)
		goto fail;
	if ((err = get_cookie_state(&r, &st)) < 0)
		goto fail;
	if (l->gt) {
		slot = proto_get_u32(&r);
		sgen = proto_get_u64(&r);
	}
	if ((err = reply_fd(&st, &fd)) < 0 || r.err ||
	    (slot != PROTO_SLOT_NONE && slot >= l->nslots) ||
	    (!(flags & PROTO_COOKIE_ANY_AUX) && st.size != c->size) ||
	    st.size > INT64_MAX) {
		cfmt_map_free(&st.map);
		err = -EPROTO;
		goto fail;
	}
	c->id = st.id;
	c->size = st.size;
	c->slot = slot;
	c->sgen = sgen;
	c->parked = 0;
	c->acq_flags = flags;
	if (fd >= 0)
		return cookie_apply(c, &st, fd);
	c->flags = st.flags;	/* no object yet: nothing to read */
	cfmt_map_free(&st.map);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * A parked cookie needs the daemon (a miss, a write, an invalidate, a
 * retire): acquire it anew with what it was acquired with, and release
 * the parked handle (in the next batch). Under the mutex. On failure c
 * holds no object and stays parked under its old handle.
 */
static int
promote(struct larder_cookie *c)
{
	struct larder *l = c->vol->l;
	uint32_t id = c->id, slot = c->slot;
	uint64_t gen = c->sgen;
	int err;

	aw_settle(l, c);
	cookie_drop_obj(c);
	if ((err = acquire_rt(c, c->acq_flags)) < 0)
		return err;
	park_add(l, id, PROTO_PARK_RELEASE, slot, gen);
	return 0;
}

/*
 * larder_cookie_acquire's body with PROTO_COOKIE_* flags. Under the
 * connection mutex: an idle parked cookie of the same volume, key, aux and
 * size whose slot generation has not moved is taken back with no round
 * trip (its use goes to the daemon in the next batch); else one round
 * trip (acquire_rt). On failure *out stays NULL.
 */
int
client_cookie_acquire(struct larder_volume *v, const void *key, size_t key_len,
    const void *aux, size_t aux_len, uint64_t object_size, uint32_t flags,
    struct larder_cookie **out)
{
	struct larder *l;
	struct larder_cookie *c;
	int err;

	if (out)
		*out = NULL;
	if (v == NULL || key == NULL || out == NULL || (aux_len && aux == NULL))
		return -EINVAL;
	if (key_len == 0 || key_len > PROTO_MAX_COOKIE_KEY ||
	    aux_len > PROTO_MAX_AUX || object_size > INT64_MAX)
		return -EINVAL;
	l = v->l;
	pthread_mutex_lock(&l->lock);
	if (flags == 0 && l->gt && l->nidle && !daemon_gone(l) &&
	    (c = idle_take(v, key, key_len, aux, aux_len, object_size))) {
		park_add(l, c->id, PROTO_PARK_USE, c->slot, c->sgen);
		l->local_acquires++;
		goto done;
	}
	park_tick(l);
	pthread_mutex_unlock(&l->lock);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->vol = v;
	cfmt_map_init(&c->map);
	c->size = object_size;
	c->key_len = key_len;
	memcpy(c->key, key, key_len);
	c->aux_len = aux_len;
	if (aux_len)
		memcpy(c->aux, aux, aux_len);
	c->hash = key_hash(v, key, key_len);
	pthread_mutex_lock(&l->lock);
	if ((err = acquire_rt(c, flags)) < 0) {
		pthread_mutex_unlock(&l->lock);
		cookie_destroy(c);
		return err;
	}
done:
	LIST_INSERT_HEAD(&v->cookies, c, entry);
	pthread_mutex_unlock(&l->lock);
	*out = c;
	return 0;
}

int
larder_cookie_acquire(struct larder_volume *v, const void *key, size_t key_len,
    const void *aux, size_t aux_len, uint64_t object_size,
    struct larder_cookie **out)
{
	return client_cookie_acquire(v, key, key_len, aux, aux_len,
	    object_size, 0, out);
}

uint32_t
client_cookie_flags(const struct larder_cookie *c)
{
	return c ? c->flags : 0;
}

int
client_cookie_fd(struct larder_cookie *c)
{
	struct larder *l;
	int fd;

	if (c == NULL)
		return -1;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	fd = c->obj ? c->obj->fd : -1;
	pthread_mutex_unlock(&l->lock);
	return fd;
}

/*
 * Relinquish a cookie. Without retire the request is sent ahead and its
 * reply read on the way by the next request (its status would change
 * nothing: the handle is gone either way), which saves a round trip for
 * clients that open and close objects at a high rate. The daemon reads
 * requests in order, so it has released the cookie before it sees
 * anything this connection sends later.
 */
int
larder_cookie_relinquish(struct larder_cookie *c, int retire)
{
	struct larder *l;
	struct proto_buf b, r;
	int err = 0;

	if (c == NULL)
		return -EINVAL;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	aw_forget(l, c);	/* its started writes: answered, results dropped */
	if (!retire && park_cookie(l, c) == 0) {
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	if (!retire && c->parked) {
		/* taken back, then its object changed: just let it go */
		LIST_REMOVE(c, entry);
		park_add(l, c->id, PROTO_PARK_RELEASE, c->slot, c->sgen);
		cookie_destroy(c);
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	if (c->parked && (err = promote(c)) < 0) {
		/* cannot retire it: release the parked handle */
		LIST_REMOVE(c, entry);
		park_add(l, c->id, PROTO_PARK_RELEASE, c->slot, c->sgen);
		cookie_destroy(c);
		pthread_mutex_unlock(&l->lock);
		return err;
	}
	if (l->npend == MAX_PENDING)
		err = drain_one(l);
	begin(l, &b, PROTO_COOKIE_RELINQUISH);
	proto_put_u32(&b, c->id);
	if (!retire && (l->features & PROTO_FEATURE_NOREPLY)) {
		proto_put_u32(&b, PROTO_RELINQUISH_NOREPLY);
		err = send_req(l, &b, -1);
		free_cookie(c);
		pthread_mutex_unlock(&l->lock);
		return err;
	}
	proto_put_u32(&b, retire ? PROTO_RELINQUISH_RETIRE : 0);
	if (retire)
		err = call(l, &b, -1, &r, NULL);
	else if (err == 0 && (err = send_req(l, &b, -1)) == 0) {
		l->pend[l->npend].type = PROTO_COOKIE_RELINQUISH;
		l->pend[l->npend].seq = l->seq;
		l->npend++;
	}
	free_cookie(c);
	pthread_mutex_unlock(&l->lock);
	return err;
}

uint64_t
larder_cookie_size(const struct larder_cookie *c)
{
	struct larder *l;
	uint64_t size;

	if (c == NULL)
		return 0;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	size = c->size;
	pthread_mutex_unlock(&l->lock);
	return size;
}

/* A parked cookie whose generation moved holds nothing any more: its
 * next read asks the daemon (promote). Under the mutex. */
static void
parked_check(struct larder *l, struct larder_cookie *c)
{
	park_tick(l);
	if (c->parked && c->obj && !gen_current(l, c))
		cookie_drop_obj(c);
}

/* Check [off, off + len) against the cookie's size. */
static int
check_range(const struct larder_cookie *c, uint64_t off, size_t len)
{
	if (len > SSIZE_MAX || off > c->size || len > c->size - off)
		return -EINVAL;
	return 0;
}

/* pread all of len bytes; the count (short only at EOF) or -errno */
static ssize_t
pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (uint8_t *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/*
 * Contract in larder.h. Any thread, several at once: under the mutex only
 * the range check, the map lookup and a reference on the object fd; the
 * pread runs with the mutex released. A miss in the local map asks the
 * daemon once (refresh) and looks again. A file shorter than the map
 * says means the map cannot be trusted: it is cleared (unless a refresh
 * meanwhile brought another object) and the read is tried once more
 * after a refresh, else -ENODATA. A pread error is returned as is.
 */
ssize_t
larder_read(struct larder_cookie *c, void *buf, size_t len, uint64_t offset)
{
	struct larder *l;
	struct objfd *o;
	ssize_t n;
	int err, tries;

	if (c == NULL || (len && buf == NULL))
		return -EINVAL;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	if ((err = check_range(c, offset, len)) < 0 || len == 0) {
		pthread_mutex_unlock(&l->lock);
		return err;
	}
	parked_check(l, c);
	for (tries = 0; tries < 2; tries++) {
		if (tries > 0 && (err = refresh(c)) < 0)
			break;
		err = -ENODATA;
		if (c->obj == NULL || !cfmt_map_covers(&c->map, offset, len))
			continue;
		o = c->obj;
		o->refs++;
		pthread_mutex_unlock(&l->lock);
		n = pread_full(o->fd, buf, len, offset);
		pthread_mutex_lock(&l->lock);
		obj_put(o);
		if (n == (ssize_t)len) {
			pthread_mutex_unlock(&l->lock);
			return n;
		}
		if (n < 0) {
			err = n;
			break;
		}
		/* the file is shorter than the map says: trust neither */
		if (o == c->obj)
			cfmt_map_clear(&c->map);
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

int
larder_is_cached(struct larder_cookie *c, uint64_t offset, size_t len)
{
	struct larder *l;
	int err, yes;

	if (c == NULL)
		return -EINVAL;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	if ((err = check_range(c, offset, len)) < 0) {
		pthread_mutex_unlock(&l->lock);
		return err;
	}
	parked_check(l, c);
	yes = c->obj && cfmt_map_covers(&c->map, offset, len);
	if (!yes && (err = refresh(c)) == 0)
		yes = c->obj && cfmt_map_covers(&c->map, offset, len);
	pthread_mutex_unlock(&l->lock);
	return err < 0 ? err : yes;
}

/* ---- zero-copy fills (PROTO_WRITE_ZCOPY) -------------------------------- */

/*
 * With a daemon that announces PROTO_FEATURE_ZCOPY, a large write is cut
 * into chunks, one per region of the area (ZC_REGIONS regions of
 * PROTO_SHM_SLOTS / ZC_REGIONS slots each), and up to ZC_REGIONS chunks
 * are in flight at once: the copy of chunk i + 1 into its region runs
 * while the daemon writes chunk i straight from the area. A region is
 * taken only when none of its slots is busy (l->zc_busy): in flight, or
 * still read by the daemon after it answered (a fill stuck on a frozen
 * filesystem answers ENOBUFS early and its write may happen later). Each
 * reply's busy mask says which slots the daemon still reads; slots with
 * a request in flight stay busy whatever it says. When every region is
 * held by the daemon, the chunk goes inline (its reply brings the mask).
 * Replies are matched by seq (an early answer may overtake another), and
 * taken in order of offset: the call returns the bytes accepted in a row
 * from its offset, like one request at a time would.
 *
 * Once larder_fill_buffer gave the area to the caller, there are no
 * regions: a write of bytes inside the area goes as ZC_USER requests of
 * up to ZC_USER_CHUNK bytes at their own offset in it (no copy), up to
 * ZC_REGIONS in flight; the busy mask is then the caller's business
 * (larder.h: change the bytes only after the call returned), and a write
 * of other bytes goes inline.
 */

#define ZC_NONE		(-2)	/* no region free now: wait for a reply */
#define ZC_INLINE	(-1)	/* every region held by the daemon */
#define ZC_USER		(-3)	/* the caller's bytes, already in the area
				   (larder_fill_buffer): sent where they are */
/* At most this many of them per request: a 4 MiB call is one write on
 * the daemon's io thread (each request more costs the io thread and the
 * kernel's io worker a wake-up each, and no copy overlaps them), while a
 * call of a big area still keeps up to ZC_REGIONS requests in flight. */
#define ZC_USER_CHUNK	(4u << 20)

struct zc_req {
	uint32_t seq;
	int region;		/* ZC_INLINE: bytes in the message */
	uint64_t off;		/* in the object */
	size_t len;
	ssize_t n;		/* bytes accepted or -errno, once answered */
	int answered;
};

struct zc_run {
	struct larder_cookie *c;
	const uint8_t *buf;	/* the caller's bytes, from offset */
	uint64_t offset;
	size_t len;
	size_t next;		/* bytes of buf sent */
	size_t done;		/* bytes accepted in a row from offset */
	struct zc_req q[ZC_REGIONS];	/* in flight, in order of offset */
	unsigned nq;
	int stop;		/* a chunk short or failed: send no more */
	ssize_t err;		/* what stopped it (0: a short chunk) */
	int user;		/* buf is in the area (ZC_USER chunks) */
};

/* The slots of region r, as a mask. */
static uint64_t
region_slots(int r)
{
	unsigned per = PROTO_SHM_SLOTS / ZC_REGIONS;

	return ((1ULL << per) - 1) << (r * per);
}

/* Region r's bytes in the area: its length (0: none), *at its start. */
static size_t
region_span(const struct larder *l, int r, size_t *at)
{
	uint64_t slot = proto_shm_slot(l->shm_size);
	uint64_t start = (uint64_t)r * (PROTO_SHM_SLOTS / ZC_REGIONS) * slot;
	uint64_t end = start + (PROTO_SHM_SLOTS / ZC_REGIONS) * slot;

	if (end > l->shm_size)
		end = l->shm_size;
	*at = start;
	return start < end ? end - start : 0;
}

/* Where the next chunk of z goes: a free region, ZC_INLINE, or ZC_NONE. */
static int
zc_pick(const struct zc_run *z)
{
	const struct larder *l = z->c->vol->l;
	size_t at;
	int r;

	if (z->nq == ZC_REGIONS)
		return ZC_NONE;
	if (z->user)
		return ZC_USER;
	for (r = 0; r < ZC_REGIONS; r++)
		if (!(l->zc_busy & region_slots(r)) && region_span(l, r, &at))
			return r;
	return z->nq ? ZC_NONE : ZC_INLINE;
}

/* Send z's next chunk from region r (or inline): copied into the region
 * first, its slots busy from now on. 0 or -errno. */
static int
zc_send(struct zc_run *z, int r)
{
	struct larder *l = z->c->vol->l;
	struct zc_req *q = &z->q[z->nq];
	struct proto_buf b;
	size_t at = 0, chunk;
	int err;

	if (r == ZC_USER) {	/* the caller's bytes, where they are */
		chunk = ZC_USER_CHUNK;
		at = (size_t)(z->buf + z->next - l->shm);
	} else
		chunk = r >= 0 ? region_span(l, r, &at) : l->max_inline;
	if (chunk > z->len - z->next)
		chunk = z->len - z->next;
	begin(l, &b, PROTO_WRITE);
	proto_put_u32(&b, z->c->id);
	proto_put_u32(&b, PROTO_WRITE_ZCOPY |
	    (r >= 0 || r == ZC_USER ? PROTO_WRITE_SHM : 0));
	proto_put_u64(&b, z->offset + z->next);
	proto_put_u64(&b, chunk);
	proto_put_u64(&b, at);
	if (r >= 0)
		memcpy(l->shm + at, z->buf + z->next, chunk);
	else if (r == ZC_INLINE)
		proto_put_raw(&b, z->buf + z->next, chunk);
	if ((err = send_req(l, &b, -1)) < 0)
		return err;
	q->seq = l->seq;
	q->region = r;
	q->off = z->offset + z->next;
	q->len = chunk;
	q->n = 0;
	q->answered = 0;
	z->nq++;
	z->next += chunk;
	if (z->nq > l->zc_peak)
		l->zc_peak = z->nq;
	if (r >= 0)
		l->zc_busy |= region_slots(r);
	return 0;
}

/* A reply's busy mask (has: whether it carried one) for q, just
 * answered: slots of requests still in flight stay busy; q's region is
 * free unless the mask says the daemon still reads it. */
static void
zc_busy(struct zc_run *z, const struct zc_req *q, int has, uint64_t busy)
{
	struct larder *l = z->c->vol->l;
	uint64_t flying = 0;
	unsigned i;

	for (i = 0; i < z->nq; i++)
		if (!z->q[i].answered && z->q[i].region >= 0)
			flying |= region_slots(z->q[i].region);
	if (has)
		l->zc_busy = flying | (busy & ~flying);
	else if (q->region >= 0)	/* refused unread: nothing held */
		l->zc_busy &= ~region_slots(q->region);
}

/* Receive one reply: of a relinquish sent ahead, or of one of z's
 * writes (its answer, and the busy mask). 0 or -errno (broken). */
static int
zc_recv(struct zc_run *z)
{
	struct larder *l = z->c->vol->l;
	struct proto_buf rep;
	struct proto_hdr h;
	struct zc_req *q = NULL;
	uint64_t accepted;
	unsigned i;
	int fd, err;

	if ((err = recv_one(l, &rep, &h, &fd)) < 0)
		return err;
	if (fd >= 0)
		close(fd);
	for (i = 0; i < z->nq && h.type == PROTO_WRITE; i++)
		if (!z->q[i].answered && z->q[i].seq == h.seq)
			q = &z->q[i];
	if (!q) {
		if (take_pending(l, &h, &rep))
			return 0;
		set_broken(l, -EPROTO);
		return -EPROTO;
	}
	q->answered = 1;
	if (h.status == PROTO_OK) {
		accepted = proto_get_u64(&rep);
		q->n = rep.err || accepted > q->len ? -EPROTO : (ssize_t)accepted;
	} else
		q->n = reply_error(l, &rep, h.status);
	accepted = proto_get_u64(&rep);		/* the busy mask, if there */
	zc_busy(z, q, !rep.err, accepted);
	return 0;
}

/* Take z's answered chunks in order of offset: their bytes enter the
 * map; the first short or failed one stops z (the bytes accepted in a
 * row end there). */
static void
zc_settle(struct zc_run *z)
{
	struct zc_req q;

	while (z->nq > 0 && z->q[0].answered) {
		q = z->q[0];
		memmove(z->q, z->q + 1, --z->nq * sizeof(q));
		/* without a map entry the bytes read as a miss */
		if (q.n > 0 && cfmt_map_add(&z->c->map, q.off, q.n) < 0)
			cfmt_map_clear(&z->c->map);
		if (z->stop)
			continue;
		if (q.n > 0)
			z->done += q.n;
		if (q.n != (ssize_t)q.len) {
			z->stop = 1;
			z->err = q.n < 0 ? q.n : 0;
		}
	}
}

/* Send z's chunks and take their answers until all are answered, or it
 * stopped and those in flight are answered. 0, or -errno when the
 * connection failed (it is then broken: answers may be lost). */
static int
zc_pump(struct zc_run *z)
{
	int r, err;

	while ((!z->stop && z->next < z->len) || z->nq > 0) {
		if (!z->stop && z->next < z->len &&
		    (r = zc_pick(z)) != ZC_NONE) {
			if ((err = zc_send(z, r)) < 0) {
				z->stop = 1;
				z->err = err;
			}
			continue;
		}
		if ((err = zc_recv(z)) < 0) {
			set_broken(z->c->vol->l, err);
			return err;
		}
		zc_settle(z);
	}
	return 0;
}

/* larder_write through the area, zero-copy and pipelined; under the
 * mutex. Same answer as the one-at-a-time loop: the bytes accepted in a
 * row from offset, else the error, or -ENOBUFS for none. */
static ssize_t
write_zc(struct larder_cookie *c, const uint8_t *buf, size_t len,
    uint64_t offset, int user)
{
	struct zc_run z = { .c = c, .buf = buf, .offset = offset, .len = len,
	    .user = user };
	int retried = 0, err;

	for (;;) {
		if ((err = zc_pump(&z)) < 0)
			z.err = err;
		if (err < 0 || z.err != -ESTALE || retried)
			break;
		/* the object was replaced under us: pick it up, go on */
		retried = 1;
		if ((err = refresh(c)) < 0) {
			z.err = err;
			break;
		}
		z.stop = 0;
		z.err = 0;
		z.next = z.done;
	}
	if (z.done > 0 || len == 0)
		return z.done;
	return z.err < 0 ? z.err : -ENOBUFS;
}

/* Whether [buf, buf + len) (len > 0) lies in l's area. */
static int
in_area(const struct larder *l, const void *buf, size_t len)
{
	uintptr_t p = (uintptr_t)buf, a = (uintptr_t)l->shm;

	return l->shm && len > 0 && p >= a && p - a <= l->shm_size &&
	    len <= l->shm_size - (p - a);
}

/* Contract in larder.h. */
void *
larder_fill_buffer(struct larder *l, size_t *size)
{
	void *p = NULL;

	if (l == NULL)
		return NULL;
	pthread_mutex_lock(&l->lock);
	if (l->shm && (l->features & PROTO_FEATURE_ZCOPY)) {
		l->area_user = 1;
		p = l->shm;
	}
	if (size)
		*size = p ? l->shm_size : 0;
	pthread_mutex_unlock(&l->lock);
	return p;
}

/* ---- writes started, waited for later ----------------------------------- */

/* Receive one reply and take it (a started write's, or a relinquish's
 * sent ahead); under the mutex. Once the connection is broken, every
 * started write not answered gets its error. 0 or -errno. */
static int
aw_recv(struct larder *l)
{
	struct proto_buf rep;
	struct proto_hdr h;
	unsigned i;
	int fd = -1, err;

	if (!l->broken && (err = recv_one(l, &rep, &h, &fd)) < 0)
		set_broken(l, err);	/* out of step if we went on */
	if (!l->broken) {
		if (fd >= 0)
			close(fd);
		if (!take_pending(l, &h, &rep))
			set_broken(l, -EPROTO);
	}
	if (!l->broken)
		return 0;
	for (i = 0; i < l->naw; i++)
		if (!l->aw[i].answered) {
			l->aw[i].answered = 1;
			l->aw[i].n = l->broken;
		}
	return l->broken;
}

/* The index of c's oldest started write, answered or not when any is 1,
 * or -1. */
static int
aw_find(const struct larder *l, const struct larder_cookie *c, int any)
{
	unsigned i;

	for (i = 0; i < l->naw; i++)
		if (l->aw[i].c == c && (any || !l->aw[i].answered))
			return (int)i;
	return -1;
}

/* Wait until every write c started is answered (their bytes then are in
 * c's map); under the mutex. Done before c's object or map may change. */
static void
aw_settle(struct larder *l, const struct larder_cookie *c)
{
	while (aw_find(l, c, 0) >= 0)
		(void)aw_recv(l);
}

/* Remove started write i, keeping the others in order. */
static void
aw_remove(struct larder *l, unsigned i)
{
	memmove(&l->aw[i], &l->aw[i + 1], (--l->naw - i) * sizeof(l->aw[0]));
}

/* Settle c's started writes and forget their results (c goes away). */
static void
aw_forget(struct larder *l, const struct larder_cookie *c)
{
	int i;

	aw_settle(l, c);
	while ((i = aw_find(l, c, 1)) >= 0)
		aw_remove(l, (unsigned)i);
}

/*
 * Contract in larder.h. Under the mutex: one WRITE from where the bytes
 * are in the area (PROTO_WRITE_ZCOPY), its reply taken later by whatever
 * receives next on the connection (aw_answer).
 */
int
larder_write_start(struct larder_cookie *c, const void *buf, size_t len,
    uint64_t offset)
{
	struct larder *l;
	struct proto_buf b;
	struct awrite *a;
	int err;

	if (c == NULL || buf == NULL)
		return -EINVAL;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	if ((err = check_range(c, offset, len)) < 0)
		goto out;
	if (!l->area_user || !in_area(l, buf, len)) {
		err = -EINVAL;
		goto out;
	}
	if (l->naw == AW_MAX) {
		err = -EBUSY;
		goto out;
	}
	if (c->parked && (err = promote(c)) < 0)
		goto out;
	if (c->stale) {		/* the object was replaced: pick it up */
		if ((err = refresh(c)) < 0)
			goto out;
		c->stale = 0;
	}
	begin(l, &b, PROTO_WRITE);
	proto_put_u32(&b, c->id);
	proto_put_u32(&b, PROTO_WRITE_ZCOPY | PROTO_WRITE_SHM);
	proto_put_u64(&b, offset);
	proto_put_u64(&b, len);
	proto_put_u64(&b, (uint64_t)((const uint8_t *)buf - l->shm));
	if ((err = send_req(l, &b, -1)) < 0)
		goto out;
	a = &l->aw[l->naw++];
	a->c = c;
	a->seq = l->seq;
	a->answered = 0;
	a->off = offset;
	a->len = len;
	a->n = 0;
out:
	pthread_mutex_unlock(&l->lock);
	return err;
}

/* Contract in larder.h. Under the mutex: replies are received (and taken
 * by whatever they answer) until c's oldest started write is answered. */
ssize_t
larder_write_wait(struct larder_cookie *c)
{
	struct larder *l;
	ssize_t n;
	int i;

	if (c == NULL)
		return -EINVAL;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	if ((i = aw_find(l, c, 1)) < 0) {
		pthread_mutex_unlock(&l->lock);
		return -ENOENT;
	}
	while (!l->aw[i].answered)
		(void)aw_recv(l);
	n = l->aw[i].n;
	aw_remove(l, (unsigned)i);
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* One WRITE message of len bytes at off (inline, or from the area when
 * shm); under the mutex. Returns the bytes accepted or -errno. */
static ssize_t
write_one(struct larder_cookie *c, const uint8_t *buf, size_t len,
    uint64_t off, int shm)
{
	struct larder *l = c->vol->l;
	struct proto_buf b, r;
	uint64_t accepted;
	int err;

	begin(l, &b, PROTO_WRITE);
	proto_put_u32(&b, c->id);
	proto_put_u32(&b, shm ? PROTO_WRITE_SHM : 0);
	proto_put_u64(&b, off);
	proto_put_u64(&b, len);
	proto_put_u64(&b, 0);
	if (shm)
		memcpy(l->shm, buf, len);
	else
		proto_put_raw(&b, buf, len);
	if ((err = call(l, &b, -1, &r, NULL)) < 0)
		return err;
	accepted = proto_get_u64(&r);
	if (r.err || accepted > len)
		return -EPROTO;
	return accepted;
}

/*
 * Contract in larder.h. Under the connection mutex for the whole call:
 * with a daemon that takes PROTO_WRITE_ZCOPY, a write larger than
 * max_inline goes through the area pipelined (write_zc). Else one WRITE
 * per chunk, through the shared area when there is one and the
 * write is larger than max_inline, else inline; stops at the first short
 * or failed chunk. -ESTALE (the object was replaced) refreshes once and
 * goes on. Each accepted range enters the local map at once (if that
 * fails, the map is cleared: a miss, never a false hit). Returns the
 * bytes accepted from offset on, else the error, or -ENOBUFS for none.
 */
ssize_t
larder_write(struct larder_cookie *c, const void *buf, size_t len,
    uint64_t offset)
{
	struct larder *l;
	size_t done = 0, chunk;
	ssize_t n = 0;
	int shm, retried = 0, err;

	if (c == NULL || (len && buf == NULL))
		return -EINVAL;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	if ((err = check_range(c, offset, len)) < 0) {
		pthread_mutex_unlock(&l->lock);
		return err;
	}
	if (c->parked && (err = promote(c)) < 0) {
		pthread_mutex_unlock(&l->lock);
		return err;
	}
	shm = l->shm != NULL && len > l->max_inline;
	if (l->area_user) {
		/* the area is the caller's: its bytes in it go from where
		 * they are, any other bytes inline */
		if (in_area(l, buf, len)) {
			n = write_zc(c, buf, len, offset, 1);
			pthread_mutex_unlock(&l->lock);
			return n;
		}
		shm = 0;
	} else if (shm && (l->features & PROTO_FEATURE_ZCOPY)) {
		n = write_zc(c, buf, len, offset, 0);
		pthread_mutex_unlock(&l->lock);
		return n;
	}
	while (done < len) {
		chunk = len - done;
		if (chunk > (shm ? l->shm_size : l->max_inline))
			chunk = shm ? l->shm_size : l->max_inline;
		n = write_one(c, (const uint8_t *)buf + done, chunk,
		    offset + done, shm);
		if (n == -ESTALE && !retried) {
			/* the object was replaced under us: pick it up */
			retried = 1;
			if ((n = refresh(c)) == 0)
				continue;
		}
		if (n <= 0)
			break;
		if ((err = cfmt_map_add(&c->map, offset + done, n)) < 0) {
			/* without a map entry the bytes read as a miss */
			cfmt_map_clear(&c->map);
		}
		done += n;
		if ((size_t)n < chunk)
			break;
	}
	pthread_mutex_unlock(&l->lock);
	if (done > 0 || len == 0)
		return done;
	return n < 0 ? n : -ENOBUFS;
}

/*
 * Contract in larder.h. Under the connection mutex: the cookie's object
 * fd and map are dropped first, whatever the daemon answers, so no read
 * can return bytes of the old object after this call; then one
 * INVALIDATE round trip, whose reply must name this cookie and new_size.
 * Returns 0 or -errno; on error the cookie is empty but keeps its size.
 */
int
larder_invalidate(struct larder_cookie *c, const void *aux, size_t aux_len,
    uint64_t new_size)
{
	struct larder *l;
	struct cookie_state st;
	struct proto_buf b, r;
	int err;

	if (c == NULL || (aux_len && aux == NULL) || aux_len > PROTO_MAX_AUX ||
	    new_size > INT64_MAX)
		return -EINVAL;
	l = c->vol->l;
	pthread_mutex_lock(&l->lock);
	/* writes started on the old object: answered before its map goes */
	aw_settle(l, c);
	/* whatever the daemon says, the old object is no longer ours */
	cookie_drop_obj(c);
	if (c->parked && (err = promote(c)) < 0) {
		pthread_mutex_unlock(&l->lock);
		return err;
	}
	cookie_drop_obj(c);
	begin(l, &b, PROTO_INVALIDATE);
	proto_put_u32(&b, c->id);
	proto_put_u32(&b, 0);
	proto_put_u64(&b, new_size);
	proto_put_bytes(&b, aux, aux_len);
	if ((err = call(l, &b, -1, &r, NULL)) == 0) {
		if ((err = get_cookie_state(&r, &st)) == 0) {
			if (st.id != c->id || st.size != new_size)
				err = -EPROTO;
			else {
				c->flags = st.flags;
				c->size = new_size;
			}
			cfmt_map_free(&st.map);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

/* ---- errors -------------------------------------------------------------- */

const char *
larder_strerror(int err)
{
	const char *s;

	switch (-err) {
	case 0: return "success";
	case ENODATA: return "range not cached";
	case ENOBUFS: return "cache cannot take the data now";
	case EPROTO: return "protocol error (daemon speaks another protocol?)";
	case ECANCELED: return "refused by policy";
	case ECONNRESET: return "connection to the daemon lost";
	case ENOENT: return "no such object, or no daemon at the socket";
	case ESTALE: return "object changed under the request";
	}
	s = err < 0 ? strerrordesc_np(-err) : NULL;
	return s ? s : "unknown error";
}
