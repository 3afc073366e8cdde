/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_int.h: what store.c (objects, files, metadata, life), store_ops.c
 * (volumes, cookies, listings, drop), store_fill.c (fills) and
 * store_proto.c (the protocol's handlers) share; the main thread owns all
 * of it (see store.c). Other modules use store.h.
 */
#ifndef LARDER_STORE_INT_H
#define LARDER_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "access.h"
#include "cfmt.h"
#include "log.h"
#include "meta.h"

struct orec;

enum vol_state { VOL_READY, VOL_CREATING, VOL_FAILED };

struct store_vol {
	struct store_vol *next;
	char key[CFMT_MAX_VOLUME_KEY + 1];
	uint32_t hash;
	uint8_t coh[CFMT_MAX_AUX];
	size_t coh_len;
	enum vol_state state;
	unsigned refs;			/* client handles */
	unsigned objs;			/* objects in memory */
	int idx;			/* index volume id */
	struct access_owner own;	/* its owner and policy (access.h) */
	unsigned foreign;		/* handles of uids other than own.uid */
	int coh_bad;			/* no usable coherency data on disk */
	uid_t creator;			/* who made its directories... */
	int counted;			/* ...if limit.h counts them */
};

struct ofile {
	int fd;				/* set by the io thread (see store.c) */
	int err;
	unsigned refs;
	int linked;			/* at its final name */
	int link_queued;
	unsigned sync_fails;		/* durability barriers that failed */
};

struct obj {
	struct obj *hnext;
	struct store_vol *v;
	char name[CFMT_MAX_NAME];
	uint8_t fanout;
	char path[META_PATH_MAX];	/* relative to cache/ */
	unsigned refs;			/* cookie handles */
	unsigned jobs;			/* jobs and records in flight */
	uint32_t gen;
	uint32_t auxgen;		/* bumped when aux or size change */
	uint64_t size;
	uint8_t aux[CFMT_MAX_AUX];
	uint8_t aux_len;
	struct cfmt_map map;
	int rofd;			/* read-only fd of the object's file,
					   -1: none; set by store_obj_set_rofd */
	int rofd_lent;			/* rofd was handed to a client as it
					   is (its open file description is
					   that client's too): the next client
					   gets a reopen of its own */
	struct ofile *of;		/* current rw file; NULL: none open */
	struct orec *mrec;		/* meta record not yet submitted */
	uint32_t pin;			/* index id we pinned, or INDEX_NONE */
	int dropped;			/* removal queued: acquires miss */
	int on_disk;			/* rofd is the file at path */
	int idle;			/* on the idle list (no rw file; rofd
					   kept for at most idle_fds_max) */
	struct obj *inext, *iprev;
	dev_t idle_dev;			/* the file as it was when idle began */
	ino_t idle_ino;
	struct timespec idle_ctime;
	struct store_cookie *watch;	/* handles that own a GENTAB slot */
};

/* A client's cookie: the object and the aux it was acquired (or last
 * invalidated) with. When another client changes the object's aux, this
 * handle is stale: its reads miss and its fills are refused, so it never
 * sees bytes stored under an aux that is not its own. */
struct store_cookie {
	struct obj *o;
	uint32_t auxgen;
	int blind;			/* sees no bytes: its aux is not the
					   object's, and it may not replace it
					   (access.h) */
	uint64_t size;			/* the size it was acquired with */
	uint64_t pinned;		/* bytes counted in limit.h */
	/* a GENTAB slot (store_proto.c) and being on o->watch: */
	uint64_t *genp;			/* the slot's generation; NULL: none */
	struct store_cookie *wnext, *wprev;
	void *owner;			/* store_proto.c's client, and... */
	uint32_t id;			/* ...the handle's number there */
	int parked;			/* revocable: not in o->refs, unpinned */
};

struct store_counters {
	uint64_t hits, misses, fills, fill_bytes, served, invalidations,
	    errors, enobufs, volumes_created, volumes_invalidated, drops,
	    stuck_fills, strange, sync_failures, dropped_fills;
	uint64_t late_unclaimed;	/* zero-copy fills written after an
					   early ENOBUFS: not claimed */
	uint64_t fills_let_go;		/* writes a freeze did not wait for */
	uint64_t acquires;		/* COOKIE_ACQUIRE requests */
	uint64_t local_uses, parked_revoked, parked_ignored;	/* GENTAB */
};

/* ---- store.c ---- */

extern struct store_counters store_st;
extern int store_cache_fd, store_grave_fd;	/* cache/, graveyard/ */
extern struct store_vol *store_vols;
extern struct log_ratelimit store_rl_io, store_rl_meta;

void store_ofile_put(struct ofile *of);
struct obj *store_obj_find(const struct store_vol *v, const char *name);
uint32_t store_obj_idx(const struct obj *o);
void store_obj_pin(struct obj *o);
uint64_t store_obj_disk_bytes(const struct obj *o);
void store_obj_unindex(struct obj *o);
struct obj *store_obj_new(struct store_vol *v, const char *name, unsigned fanout);
void store_idle_del(struct obj *o);	/* take off the idle list */
void store_obj_free(struct obj *o);
/* Nobody holds o and no job uses it: keep it idle, or free it. */
void store_obj_settle(struct obj *o);
/* A read-only open file of its own of what fd is open on, reopened
 * through its /proc magic link (never a path in the cache): the fd, or -1
 * (errno set). */
int store_reopen_ro(int fd);
/* o's rofd is fd now (-1: none): the old one closed later, not lent. */
void store_obj_set_rofd(struct obj *o, int fd);
/* A job or record uses o from now on (off the idle list), until
 * store_obj_release, which may keep it idle or free it. */
void store_obj_hold(struct obj *o);
void store_obj_release(struct obj *o);
int store_obj_wake(struct obj *o);
void store_idle_evict(struct store_vol *v);
/* Every object in memory, one by one: the one after o (first: o NULL);
 * NULL at the end. */
struct obj *store_obj_next(const struct obj *o);	/* all volumes: NULL */
void store_obj_reset(struct obj *o);
void store_vol_reset_objects(struct store_vol *v);
void store_queue_meta(struct obj *o);
int store_obj_file(struct obj *o, int fresh);
/* For a freeze's quiesce: every creation of an object's file and every
 * batch of closes still queued for the io thread is dropped: a creation
 * is never run (the object is left without a rw file; its next fill asks
 * for one again), a batch of closes passes through and joins the closes
 * held until the thaw (store_close_hold). Returns how many were dropped
 * now; *dropped is how many dropped ones are still on the io thread's
 * queue (they do nothing there). */
unsigned store_io_drop(unsigned *dropped);
int store_obj_load(struct obj *o, const uint8_t *aux, size_t aux_len,
    uint64_t size, int any);

/* for store_quiesce.c: hand the closes gathered so far to the io thread
 * (or keep them while held); hold closes from now on (1) or hand every
 * held one over (0); queue every atime not yet on disk; drop every
 * object's rw file */
void store_close_flush(void);
void store_close_hold(int hold);
/* fds whose close waits for the end of the hold (the status shows it) */
unsigned store_closes_held(void);
void store_queue_all_atimes(void);
void store_close_rw_files(void);

/* ---- store_quiesce.c ---- */

/* Writes may start: the write gate is open (not quiescing or quiesced,
 * not frozen, suspended or stalled, not full). Any thread. */
int store_writes_ok(void);
/* "quiescing", "quiesced", "on" or "off", for the status */
const char *store_writes_str(void);
/* From store_init: register the store as freeze.c's backend. */
void store_quiesce_init(void);
/* From store_fini: cancel a quiesce's poll timer, unregister. */
void store_quiesce_fini(void);

/* ---- store_ops.c: parked handles (GENTAB, proto.h 102 and 207) ---- */

/* Bump h's slot generation (a release store: readers of the table see it
 * before anything the daemon does next). */
void store_slot_bump(struct store_cookie *h);
/* Before o changes or goes: bump the slot of every handle on o->watch and
 * release every parked one (its client finds the new generation and asks
 * again). */
void store_watch_revoke(struct obj *o);
/* Every parked handle of every object (suspend). */
void store_watch_revoke_all(void);
/* h (new, not parked) owns the slot at genp, as handle id of owner. */
void store_cookie_watch(struct store_cookie *h, uint64_t *genp, void *owner,
    uint32_t id);
/* Park h (PROTO_PARK_PARK): 0, or -ESTALE when h was released instead
 * (blind or stale, or no slot); h may be freed on return either way. */
int store_cookie_park(struct store_peer *p, struct store_cookie *h);
/* Parked h was used again (PROTO_PARK_USE): recency and hits. */
void store_cookie_use(struct store_cookie *h);
/* Parked h is released (PROTO_PARK_RELEASE, disconnect): freed. */
void store_cookie_unpark_free(struct store_cookie *h);

/* ---- store_proto.c ---- */

/* A parked handle is gone (revoked or released): forget its number and
 * slot in its client's tables. Called by store_ops.c before it frees h. */
void store_proto_forget(struct store_cookie *h);

/* Register the 200s and the disconnect hook with control.c (store_init). */
void store_proto_init(void);

/* ---- store_fill.c ---- */

void store_fill_init(void);
void store_fill_fini(void);
/* For a quiesce (freeze, suspend): every fill no worker has taken yet is
 * dropped (answered ENOBUFS, never written, nothing claimed in the map),
 * and so is every fill whose copy finishes, until store_fill_undrop. A
 * fill the io thread is writing is not: it completes. Returns how many
 * were dropped now. */
unsigned store_fill_drop(void);
void store_fill_undrop(void);
/*
 * For a freeze's quiesce, once the fills are dropped: 1 when the io thread
 * has nothing but fills and others (jobs known to do nothing: dropped
 * creations), each fill dropped or wholly the kernel's (io.h:
 * IO_INKERNEL): those being written are then let go (IO_LETGO: io_write
 * starts no more requests for them) and answered ENOBUFS ("not waited
 * for"), *n counting them; their writes finish in the background. A copied
 * fill's bytes are still claimed when written (the claim's record waits
 * for the thaw like every other), a zero-copy fill's never (the client
 * may change its area after the answer). 0: look again later (another
 * job is on the io thread, or a write is not all the kernel's yet).
 */
int store_fill_let_go(unsigned others, unsigned *n);

#endif
