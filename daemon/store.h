/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.h: the on-disk cache: volumes, objects, fills, invalidation
 * (store.c, store_ops.c, store_fill.c, and store_proto.c for the
 * protocol; store_int.h between them), with meta.c (coherency thread) and
 * io.c (fills via liburing).
 *
 * A plain module: every function here runs on the main thread, returns 0
 * (or a count) or -errno, and knows nothing of the control socket. The
 * protocol's cache operations (the 200s) are store_proto.c's: it decodes
 * a request, calls this API and encodes the answer; it also keeps each
 * connection's table of volume and cookie handles (the numbers a client
 * names them by) and releases them when the peer goes. store_init
 * registers those handlers with control.c.
 *
 * Who may do what (access.h) is decided here, from a struct store_peer
 * the caller fills. A refusal by a volume's access policy returns -EPERM
 * or -EBUSY (only while other users hold it) with the peer's refused,
 * key, own and effective set, so the caller can say why; every other
 * error leaves refused NULL.
 */
#ifndef LARDER_STORE_H
#define LARDER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "access.h"

struct conf;
struct cfmt_extent;
struct store_vol;		/* a volume in memory */
struct store_cookie;		/* one client's handle on an object */

/* rootfd: the cache dir on the private mount (mount_root_fd()). Makes
 * cache/ and graveyard/ if needed, registers the 200s handlers. Starts
 * only the store: main.c's list starts index and io before it, meta
 * (store_dirs) and the startup scan (store_scan_done) after it. */
int store_init(const struct conf *c, int rootfd);
/* Flushes the meta queue, writes atimes back; stops scan, meta, io and the
 * index itself, in the order its drain needs (their own fini are then
 * no-ops). */
void store_fini(void);
/* cache/ and larder.new/, open from store_init to store_fini: meta_init's
 * cachefd and stagefd. */
void store_dirs(int *cachefd, int *stagefd);
/* scan_start's done() for the startup scan: logs what it found and kicks
 * the culler. Main thread. */
void store_scan_done(void *arg, int err);

/*
 * Quiesce (store_quiesce.c), for a freeze or a suspend (through the
 * freeze backend store_init registers) and for main.c's stop: close the
 * write gate's GATE_QUIESCE (no new write starts), wait for the writes in
 * flight, flush the meta queue (every pending xattr, map, link and atime
 * record), then syncfs. With STORE_QUIESCE_CLOSE (suspend) also close
 * every write fd the store holds. Calls done(arg, err) on the main thread
 * when finished (-EBUSY at once if a quiesce runs). The gate stays closed
 * until store_unquiesce. Never blocks the main thread. With
 * STORE_QUIESCE_DROP (freeze, suspend) the fills no worker has taken yet
 * are not waited for but dropped (answered ENOBUFS, never written, never
 * in the map), as is every fill whose copy ends before store_unquiesce.
 * With STORE_QUIESCE_HOLD (freeze) the object and volume records not yet
 * written are held until store_unquiesce (meta.h: meta_hold_records), so
 * the flush is atimes and one syncfs; a quiesce without it writes them.
 */
#define STORE_QUIESCE_CLOSE	0x0001
#define STORE_QUIESCE_DROP	0x0002
#define STORE_QUIESCE_HOLD	0x0004	/* freeze: xattrs wait for the thaw */
void store_quiesce(unsigned flags, void (*done)(void *arg, int err),
    void *arg);
/* Writing may start again (after thaw or resume; reopens write fds lazily). */
void store_unquiesce(void);

/* Age in ms of the oldest write or meta record in flight (0 if none): a
 * large value means the filesystem is frozen under us. */
uint64_t store_oldest_write_ms(void);

/* The config's volume_access (enum conf_access), at start and on reload. */
void store_set_access(int dflt);

/* ---- the cache API ---- */

/* Who asks (uid and admin: the peer's, as control.c decided at connect;
 * a peer that is no admin counts in limit.h), and why a refusal refused. */
struct store_peer {
	uid_t uid;
	int admin;
	/* out, on a refusal by access.h: */
	const char *refused;		/* what was refused; NULL: no refusal */
	const char *key;		/* the volume's key */
	struct access_owner own;	/* the volume's owner and policy */
	enum access_policy effective;	/* that policy as it applies now */
};

/* store_vol_get's flags (in) and *rflags (out) */
#define STORE_VOL_ANY_COHERENCY	0x0001	/* take it whatever its coherency */
#define STORE_VOL_CREATED	0x0001	/* it was made now */
#define STORE_VOL_INVALIDATED	0x0002	/* its coherency changed: emptied */

/*
 * Take a reference on volume key for p with coherency data coh: the
 * volume is made if it is not there, emptied if its coherency data
 * differs (its owner or an admin only). Counted in limit.h until
 * store_vol_put. -EINVAL (a key or coherency data that cannot be),
 * -ENOBUFS (writes off), a limit's error, or a refusal.
 */
int store_vol_get(struct store_peer *p, const char *key, const uint8_t *coh,
    size_t coh_len, unsigned flags, struct store_vol **vp, uint32_t *rflags);
/*
 * Give back p's reference on v; with retire, also remove the volume from
 * disk if nobody else holds it (its owner or an admin only). The reference
 * is gone on 0 and on a refusal (released, not retired); on -ENOBUFS
 * (retire while writes are off) it is kept. Without retire it cannot fail.
 */
int store_vol_put(struct store_peer *p, struct store_vol *v, int retire);

/* store_view's flags */
#define STORE_COOKIE_NEW	0x0001	/* nothing there: fill it */
#define STORE_COOKIE_NO_CACHE	0x0002	/* do not fill it */
#define STORE_COOKIE_HAVE_FD	0x0004	/* fd is the client's own */

/* What a client sees of an object through its handle. */
struct store_view {
	uint32_t flags;			/* STORE_COOKIE_* */
	uint32_t gen;			/* a new one: its map changed */
	uint64_t size;
	const struct cfmt_extent *ext;	/* the bytes it has: valid until
					   the next store call */
	uint32_t n;			/* extents in ext */
	int fd;				/* a read-only fd no other client has,
					   or -1: store_view_close after
					   sending it */
	int lent;			/* fd is the object's own (lent):
					   store_view_close leaves it open */
};

/* Done with vw's fd (sent, or not to be): closed unless lent. */
void store_view_close(struct store_view *vw);

/* store_cookie_get's flags */
#define STORE_COOKIE_ANY_AUX	0x0001	/* take it whatever its aux */

/*
 * A handle on object key of v, whose aux and size are (aux, size): the
 * object is read from disk if needed, replaced if its aux differs (by a
 * peer that may) and made if missing. *view says what the handle sees,
 * with an fd when there are bytes. Counted in limit.h until
 * store_cookie_put. -EINVAL, a limit's error, -ENOMEM or a refusal.
 */
int store_cookie_get(struct store_peer *p, struct store_vol *v,
    const uint8_t *key, size_t key_len, const uint8_t *aux, size_t aux_len,
    uint64_t size, unsigned flags, struct store_cookie **hp,
    struct store_view *view);
/*
 * Free handle h; with retire also drop the object from disk if the handle
 * still sees it and p may (else retire is ignored while writes are off, or
 * a refusal is returned). h is freed on every return.
 */
int store_cookie_put(struct store_peer *p, struct store_cookie *h,
    int retire);
/* What h sees now; an fd of its own comes only if the object's map changed
 * since generation gen. Cannot fail. */
void store_cookie_refresh(struct store_peer *p, struct store_cookie *h,
    uint32_t gen, struct store_view *view);
/* The volume h's object is in. */
struct store_vol *store_cookie_vol(const struct store_cookie *h);
/* The object of h holds (aux, size) from now on, empty; h follows it.
 * -EINVAL or a refusal. */
int store_invalidate(struct store_peer *p, struct store_cookie *h,
    const uint8_t *aux, size_t aux_len, uint64_t size,
    struct store_view *view);

/* May p fill through h? 0, -EPERM (the volume's policy; no refusal text)
 * or -ESTALE (h sees nothing, or another client changed the object). */
int store_may_fill(struct store_peer *p, const struct store_cookie *h);

/* Where a fill's bytes come from: data, valid until store_fill returns;
 * hold(ctx), if set, keeps them valid (for a copy thread) until
 * release(ref) of what it returned. With zcopy, the io thread writes
 * straight from data (no copy), and release(ref) says that no byte of it
 * will be read any more: the write is done or the fill dropped (never, if
 * the kernel may still read them); a zcopy fill whose hold fails is
 * refused (-ENOMEM). */
struct store_fill_src {
	const uint8_t *data;
	void *(*hold)(void *ctx);
	void (*release)(void *ref);
	void *ctx;
	int zcopy;
};
/* A fill's answer: err 0 and have, the bytes from its offset on that the
 * object now has; or err < 0 with why (NULL: say strerror(-err)). */
typedef void store_fill_fn(void *arg, int err, uint64_t have,
    const char *why);
#define STORE_FILL_QUEUED	1
/*
 * Write [off, off + len) of h's object from src, where the object does not
 * have it yet. Returns 0 with *have set (nothing to write), or
 * STORE_FILL_QUEUED: done(arg, ...) is called once, later (or never, if
 * store_fini comes first); or -ENOBUFS with *why (writes off, or too many
 * bytes in flight); or -EINVAL, -ENOMEM. Check store_may_fill first.
 */
int store_fill(struct store_cookie *h, uint64_t off, uint64_t len,
    const struct store_fill_src *src, store_fill_fn *done, void *arg,
    uint64_t *have, const char **why);

/* One entry of a listing. */
struct store_entry {
	const char *name;		/* objects: its cooked name; volumes:
					   its key */
	const uint8_t *key;		/* objects: its key (NULL, 0: none) */
	size_t key_len;
	uint64_t size, disk_bytes;	/* volumes: objects, bytes */
	uint64_t last_use_s;
	uint64_t hits, misses, fills;	/* volumes */
	int pinned;			/* objects: a client holds it */
	int pending;			/* objects: not published yet */
};
/* A listing page: room(arg) says whether one more entry fits; put(arg,
 * e) adds it. need[0..nneed): the nameless index entries (index.h) met
 * instead of being put, at most STORE_LIST_NEED: with nneed > 0 the page
 * is incomplete; the caller names them on a worker (store_list_names)
 * and lists the page again, with skip_nameless set: what could not be
 * named then (a directory that cannot be read, an entry being culled) is
 * left out of the page. */
#define STORE_LIST_NEED	256
struct store_lister {
	int (*room)(void *arg);
	void (*put)(void *arg, const struct store_entry *e);
	void *arg;
	uint32_t need[STORE_LIST_NEED];
	size_t nneed;
	int skip_nameless;
};
/* The volumes from cursor cur on that p may list; *next: where the next
 * page starts, 0 when done. */
void store_list_volumes(struct store_peer *p, uint32_t cur,
    const struct store_lister *l, uint32_t *next);
/* The objects of volume key from cursor cur on: first those a get already
 * serves but not yet published (pending), then those on disk. 0, -ENOENT
 * or a refusal. */
int store_list_objects(struct store_peer *p, const char *key, uint32_t cur,
    struct store_lister *l, uint32_t *next);
/* Name l's need[] on a worker (names.h: never reading a directory on the
 * main thread); done(arg) on the main thread. 0, or -errno (no done). */
int store_list_names(const struct store_lister *l, void (*done)(void *arg),
    void *arg);

/* May p do op to volume key? 0, -ENOENT (no such volume) or a refusal of
 * what. */
int store_vol_check(struct store_peer *p, const char *key, enum access_op op,
    const char *what);
/* Volume key's owner and policy, in *own, *effective; with set, p sets
 * its policy to pol first. -EINVAL, -ENOENT, -ENOBUFS or a refusal. */
int store_vol_policy(struct store_peer *p, const char *key, int set,
    uint32_t pol, struct access_owner *own, enum access_policy *effective);

/* larderctl invalidate VOLUME [KEY]: drop an object or a whole volume
 * (no access check: see store_vol_check). */
int store_drop(const char *volume_key, const uint8_t *key, size_t key_len);

#endif
