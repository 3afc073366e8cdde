/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_ops.c: the cache API but fills (store.h): volumes, cookies,
 * listings, access policies and drop. Each call is a few named steps
 * (find or load, decide, change, describe); the protocol's handlers that
 * call them are store_proto.c's. The objects they work on are store.c's
 * (see the comment there); fills are store_fill.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cfmt.h"
#include "beneath.h"
#include "cull.h"
#include "index.h"
#include "io.h"
#include "limit.h"
#include "log.h"
#include "meta.h"
#include "names.h"
#include "store.h"
#include "store_int.h"
#include "workq.h"

struct voljob {
	struct work w;
	struct store_vol *v;
	int replace;			/* move the old dir to the graveyard */
	int err;
	char name[CFMT_MAX_VOLUME_KEY + 2];
	char grave[64];
};

struct mvjob {				/* rename something into graveyard/ */
	struct work w;
	char path[META_PATH_MAX];
	char grave[64];
	struct obj *obj;		/* kept alive (dropped) until done */
	int err;
};

/* volumes a non-admin's LIST_VOLUMES page looks at (each one may be a
 * vol_find and a getxattr on the main thread) */
#define LIST_BUDGET		256
/* index slots one LIST_OBJECTS page looks at, at most */
#define LIST_SCAN_MAX		65536
/* cursors of a listing's first part, the objects not published yet */
#define LIST_PENDING		0x80000000u

static unsigned long grave_counter;	/* main thread */
static enum access_policy access_dflt = ACCESS_NONE;	/* volume_access */
static struct log_ratelimit rl_owner;

/* ---- access (access.h decides; this applies it) -------------------------- */

void
store_set_access(int dflt)
{
	access_dflt = dflt > ACCESS_DEFAULT && dflt < ACCESS_POLICY_MAX ?
	    (enum access_policy)dflt : ACCESS_NONE;
}

/* Decide op on a volume owned as own for p; others: see access_check. */
static int
may(const struct store_peer *p, const struct access_owner *own,
    enum access_op op, int others)
{
	return access_check(p->admin, p->uid, own, access_dflt, op, others);
}

/* Record a refusal (err from may) of what on volume key owned as own in p
 * for the caller to explain; returns err. */
static int
refused(struct store_peer *p, int err, const char *key,
    const struct access_owner *own, const char *what)
{
	p->refused = what;
	p->key = key;
	p->own = *own;
	p->effective = access_effective(own, access_dflt);
	return err;
}

/* may, recording a refusal of what (see refused). */
static int
check(struct store_peer *p, const struct store_vol *v, enum access_op op,
    int others, const char *what)
{
	int err = may(p, &v->own, op, others);

	return err ? refused(p, err, v->key, &v->own, what) : 0;
}

/* Read a volume directory's owner record (fd: the directory; -1: what
 * is there is no directory). Anything unreadable is root's, access none. */
static void
read_owner(int fd, const char *key, struct access_owner *own)
{
	uint8_t ob[ACCESS_OWNER_LEN + 1];
	ssize_t ol;
	int e = 0;

	ol = fd >= 0 ? fgetxattr(fd, ACCESS_OWNER_XATTR, ob, sizeof(ob)) : -1;
	if (fd < 0 || (ol < 0 && (e = errno) != ENODATA)) {
		own->uid = 0;
		own->policy = ACCESS_NONE;
		own->origin = ACCESS_BAD;
		if (fd >= 0)
			log_warnx_rl(&rl_owner, "store: volume %s: owner "
			    "record: %s: root's, access none", key,
			    strerror(e));
		return;
	}
	if (access_owner_decode(ob, ol, own) < 0)
		log_warnx_rl(&rl_owner, "store: volume %s: owner record of "
		    "%zd bytes does not decode: root's, access none", key, ol);
}

/*
 * The owner of volume key: the one in memory, else the record on disk
 * (nothing is made or indexed). -ENOENT when there is no such volume.
 */
static int
owner_of(const char *key, struct access_owner *own)
{
	char name[CFMT_MAX_VOLUME_KEY + 2];
	struct store_vol *v;
	int fd;

	for (v = store_vols; v; v = v->next)
		if (strcmp(v->key, key) == 0)
			break;
	if (v && v->state != VOL_FAILED) {
		*own = v->own;
		return 0;
	}
	snprintf(name, sizeof(name), "I%s", key);
	fd = open_dir_beneath(store_cache_fd, name);
	if (fd == -ENOENT)
		return -ENOENT;
	read_owner(fd, key, own);	/* fd < 0: not a directory: root's */
	if (fd >= 0)
		close(fd);
	return 0;
}

int
store_vol_check(struct store_peer *p, const char *key, enum access_op op,
    const char *what)
{
	struct access_owner own;
	int err;

	if ((err = owner_of(key, &own)) < 0)
		return err;
	if ((err = may(p, &own, op, 0)) < 0)
		return refused(p, err, key, &own, what);
	return 0;
}

/* ---- volumes ------------------------------------------------------------- */

static void
grave_name(char *out, size_t outsz, char kind)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, outsz, "%c%lx.%lx.%lu", kind, (unsigned long)getpid(),
	    (unsigned long)ts.tv_sec, grave_counter++);
}

static void
vol_run(struct work *w)
{
	struct voljob *j = (struct voljob *)w;
	char fan[8];
	int dfd, i;

	j->err = 0;
	if (j->replace && renameat(store_cache_fd, j->name, store_grave_fd,
	    j->grave) < 0 && errno != ENOENT) {
		j->err = -errno;
		return;
	}
	if (mkdirat(store_cache_fd, j->name, 0700) < 0 && errno != EEXIST) {
		j->err = -errno;
		return;
	}
	dfd = open_dir_beneath(store_cache_fd, j->name);
	if (dfd < 0) {
		j->err = dfd;
		return;
	}
	for (i = 0; i < 256; i++) {
		snprintf(fan, sizeof(fan), "@%02x", i);
		if (mkdirat(dfd, fan, 0700) < 0 && errno != EEXIST) {
			j->err = -errno;
			break;
		}
	}
	close(dfd);
}

static void
vol_meta_done(struct meta_rec *r)
{
	if (r->err) {
		store_st.errors++;
		log_warnx_rl(&store_rl_meta, "meta: volume %s: %s", r->path,
		    strerror(-r->err));
	}
	free(r);
}

/* Main thread, after vol_run: the volume is READY with its coherency and
 * owner records queued for the meta thread, or FAILED (made again at the
 * next acquire). */
static void
vol_done(struct work *w)
{
	struct voljob *j = (struct voljob *)w;
	struct store_vol *v = j->v;
	struct meta_rec *r;
	int n;

	if (j->err) {
		store_st.errors++;
		log_warnx("store: make volume %s: %s", j->name,
		    strerror(-j->err));
		v->state = VOL_FAILED;
	} else {
		v->state = VOL_READY;
		r = calloc(1, sizeof(*r));
		n = r ? cfmt_vol_encode(v->coh, v->coh_len, r->xattr,
		    sizeof(r->xattr)) : -ENOMEM;
		if (n < 0) {
			free(r);
			store_st.errors++;
		} else {
			r->kind = META_VOLUME;
			r->xattr_len = n;
			n = access_owner_encode(&v->own, r->owner,
			    sizeof(r->owner));
			r->owner_len = n > 0 ? (size_t)n : 0;
			snprintf(r->path, sizeof(r->path), "%s", j->name);
			r->done = vol_meta_done;
			meta_queue(r);
		}
	}
	free(j);
}

/* Write a volume's owner record again (its policy changed). */
static int
owner_queue(const char *key, const struct access_owner *own)
{
	struct meta_rec *r = calloc(1, sizeof(*r));
	int n;

	if (!r)
		return -ENOMEM;
	n = access_owner_encode(own, r->owner, sizeof(r->owner));
	if (n < 0) {
		free(r);
		return n;
	}
	r->kind = META_VOLUME;
	r->owner_len = n;
	snprintf(r->path, sizeof(r->path), "I%s", key);
	r->done = vol_meta_done;
	meta_queue(r);
	return 0;
}

/* Queue the making (or remaking) of a volume's directories. */
static int
vol_create(struct store_vol *v, int replace)
{
	struct voljob *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->v = v;
	j->replace = replace;
	snprintf(j->name, sizeof(j->name), "I%s", v->key);
	grave_name(j->grave, sizeof(j->grave), 'V');
	j->w.run = vol_run;
	j->w.done = vol_done;
	v->state = VOL_CREATING;
	io_submit(&j->w);
	return 0;
}

/* The volume's directories went to the graveyard: its maker may make
 * another. */
static void
vol_uncount(struct store_vol *v)
{
	if (v && v->counted) {
		limit_volume_gone(v->creator);
		v->counted = 0;
	}
}

static void
index_drop_volume(int vidx)
{
	uint32_t cur = 0, id;

	while ((id = index_next(vidx, &cur)) != INDEX_NONE)
		index_del(id);
}

static struct store_vol *
vol_find(const char *key)
{
	struct store_vol *v;

	for (v = store_vols; v; v = v->next)
		if (strcmp(v->key, key) == 0)
			return v;
	return NULL;
}

/* The index's number of volume key, or -1 if it has none. */
static int
index_vol_of(const char *key)
{
	unsigned i, nv = index_volumes();

	for (i = 0; i < nv; i++) {
		const char *k = index_volume_key(i);

		if (k && strcmp(k, key) == 0)
			return i;
	}
	return -1;
}

static int exists_beneath(const char *path);

/* Read volume v's coherency data and owner from its directory (READY:
 * something is there), or leave it FAILED (made at the next acquire). */
static void
vol_read_disk(struct store_vol *v)
{
	uint8_t xb[CFMT_VOL_XATTR_HDR + CFMT_MAX_AUX + 1];
	char name[CFMT_MAX_VOLUME_KEY + 2];
	struct stat sb;
	ssize_t xl = -1;
	int fd;

	snprintf(name, sizeof(name), "I%s", v->key);
	if (fstatat(store_cache_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		v->state = VOL_FAILED;
		v->own.origin = ACCESS_LEGACY;	/* its maker will own it */
		return;
	}
	v->state = VOL_READY;
	fd = S_ISDIR(sb.st_mode) ? open_dir_beneath(store_cache_fd, name) : -1;
	if (fd >= 0)
		xl = fgetxattr(fd, CFMT_XATTR, xb, sizeof(xb));
	read_owner(fd, v->key, &v->own);
	if (fd >= 0)
		close(fd);	/* a directory: never the last reference */
	if (xl >= CFMT_VOL_XATTR_HDR && xl <= CFMT_VOL_XATTR_HDR + CFMT_MAX_AUX &&
	    cfmt_vol_matches(xb, xl, xb + CFMT_VOL_XATTR_HDR,
	    xl - CFMT_VOL_XATTR_HDR)) {
		v->coh_len = xl - CFMT_VOL_XATTR_HDR;
		memcpy(v->coh, xb + CFMT_VOL_XATTR_HDR, v->coh_len);
	} else
		v->coh_bad = 1;
}

/*
 * A volume not in memory yet, as it is on disk: READY with its coherency
 * data (coh_bad when there is none usable) and its owner when its
 * directory exists; FAILED (made at the next acquire) when it does not.
 */
static struct store_vol *
vol_load(const char *key, int *errp)
{
	struct store_vol *v;
	int vidx;

	vidx = index_volume(key);
	if (vidx < 0) {
		*errp = vidx;
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		*errp = -ENOMEM;
		return NULL;
	}
	snprintf(v->key, sizeof(v->key), "%s", key);
	v->hash = cfmt_volume_hash(key, strlen(key));
	v->idx = vidx;
	vol_read_disk(v);
	v->next = store_vols;
	store_vols = v;
	return v;
}

/* A FAILED volume's directories are (re)made for p: 257 directories,
 * counted against its maker unless they already are (limit.h). */
static int
vol_count(struct store_vol *v, const struct store_peer *p)
{
	int err;

	if (v->counted)
		return 0;
	if ((err = limit_volume_create(p->uid, !p->admin)) < 0)
		return err;
	v->creator = p->uid;
	v->counted = !p->admin;
	return 0;
}

/* Do coherency data (coh, coh_len) differ from the volume's? */
static int
coh_differs(const struct store_vol *v, const uint8_t *coh, size_t coh_len)
{
	return v->coh_bad || v->coh_len != coh_len ||
	    memcmp(v->coh, coh, coh_len) != 0;
}

/* Nothing on disk and nobody holds v: make it, p's (access.h), with coh
 * (none with any). */
static int
vol_make_new(struct store_peer *p, struct store_vol *v, const uint8_t *coh,
    size_t coh_len, int any)
{
	int err;

	if (!store_writes_ok())
		return -ENOBUFS;
	if ((err = vol_count(v, p)) < 0)
		return err;
	v->own.uid = p->uid;
	v->own.policy = ACCESS_DEFAULT;
	v->own.origin = ACCESS_RECORD;
	v->foreign = 0;
	if (!any) {
		memcpy(v->coh, coh, coh_len);
		v->coh_len = coh_len;
	}
	v->coh_bad = 0;
	if ((err = vol_create(v, 0)) < 0) {
		vol_uncount(v);		/* nothing was made */
		return err;
	}
	store_st.volumes_created++;
	return 0;
}

/* Other coherency data (or none usable): v starts empty with coh, which
 * only its owner (while no other user holds it) or an admin may do. */
static int
vol_wipe(struct store_peer *p, struct store_vol *v, const uint8_t *coh,
    size_t coh_len, int any)
{
	int err;

	if ((err = check(p, v, ACCESS_VOL_WIPE, v->foreign > 0,
	    "changing the coherency data")))
		return err;
	/* one remaking at a time: a client flipping the coherency in a
	 * loop must not queue directory jobs without end */
	if (!store_writes_ok() || v->state == VOL_CREATING)
		return -ENOBUFS;
	if (v->state == VOL_FAILED && (err = vol_count(v, p)) < 0)
		return err;
	memcpy(v->coh, coh, any ? 0 : coh_len);
	v->coh_len = any ? 0 : coh_len;
	v->coh_bad = 0;
	store_vol_reset_objects(v);
	index_drop_volume(v->idx);
	if ((err = vol_create(v, 1)) < 0)
		return err;
	store_st.volumes_invalidated++;
	return 0;
}

/* v as it is (its coherency data match, or any): p may use it? Remade if
 * its directories went (by p now). */
static int
vol_use(struct store_peer *p, struct store_vol *v, int any)
{
	int err;

	if ((err = check(p, v, any ? ACCESS_VOL_ANY : ACCESS_VOL_USE, 0, any ?
	    "acquiring it whatever its coherency data" : "acquiring it")))
		return err;
	if (v->state != VOL_FAILED)
		return 0;
	if (!store_writes_ok())
		return -ENOBUFS;
	if ((err = vol_count(v, p)) < 0)
		return err;
	return vol_create(v, 0);
}

/* store_vol_get once the limits let it: made, wiped or used as it is. */
static int
vol_acquire(struct store_peer *p, const char *key, const uint8_t *coh,
    size_t coh_len, int any, struct store_vol **vp, uint32_t *rflags)
{
	char name[CFMT_MAX_VOLUME_KEY + 2];
	struct store_vol *v;
	int err = 0;

	v = vol_find(key);
	if (!v && !(v = vol_load(key, &err)))
		return err;
	snprintf(name, sizeof(name), "I%s", key);
	if (v->state == VOL_FAILED && v->refs == 0 && !exists_beneath(name)) {
		err = vol_make_new(p, v, coh, coh_len, any);
		*rflags = STORE_VOL_CREATED;
	} else if (any ? v->coh_bad : coh_differs(v, coh, coh_len)) {
		err = vol_wipe(p, v, coh, coh_len, any);
		*rflags = STORE_VOL_INVALIDATED;
	} else
		err = vol_use(p, v, any);
	if (err < 0)
		return err;
	v->refs++;
	if (p->uid != v->own.uid)
		v->foreign++;
	*vp = v;
	return 0;
}

int
store_vol_get(struct store_peer *p, const char *key, const uint8_t *coh,
    size_t coh_len, unsigned flags, struct store_vol **vp, uint32_t *rflags)
{
	int err;

	p->refused = NULL;
	*rflags = 0;
	if (cfmt_check_volume_key(key, strlen(key)) < 0 ||
	    coh_len > CFMT_MAX_AUX)
		return -EINVAL;
	/* counted now, given back on every way out but success */
	if ((err = limit_volume_add(p->uid, !p->admin)) < 0)
		return err;
	err = vol_acquire(p, key, coh, coh_len,
	    (flags & STORE_VOL_ANY_COHERENCY) != 0, vp, rflags);
	if (err < 0)
		limit_volume_del(p->uid, !p->admin);
	return err;
}

/* Forget p's reference on v and give it back to the uid's limit. */
static void
vol_release(struct store_peer *p, struct store_vol *v)
{
	v->refs--;
	if (p->uid != v->own.uid && v->foreign > 0)
		v->foreign--;
	limit_volume_del(p->uid, !p->admin);
}

static int move_to_grave(const char *path, struct obj *o, char kind);

/* Remove v's directories (retire): its objects are forgotten, it is
 * remade at the next acquire. */
static void
vol_retire(struct store_vol *v)
{
	char name[CFMT_MAX_VOLUME_KEY + 2];

	snprintf(name, sizeof(name), "I%s", v->key);
	index_drop_volume(v->idx);
	move_to_grave(name, NULL, 'V');
	v->state = VOL_FAILED;
	vol_uncount(v);
}

int
store_vol_put(struct store_peer *p, struct store_vol *v, int retire)
{
	int err;

	p->refused = NULL;
	if (retire && (err = check(p, v, ACCESS_VOL_WIPE,
	    v->foreign > (p->uid != v->own.uid), "retiring it"))) {
		vol_release(p, v);	/* released, not retired */
		return err;
	}
	if (retire)
		store_idle_evict(v);
	if (retire && v->refs == 1 && v->objs == 0) {
		if (!store_writes_ok())
			return -ENOBUFS;
		vol_retire(v);
	}
	vol_release(p, v);
	return 0;
}

/* ---- graveyard ----------------------------------------------------------- */

/* Is there anything at path under cache/, reached without following a
 * symlink? */
static int
exists_beneath(const char *path)
{
	int fd = beneath_open(store_cache_fd, path, O_PATH, 0);

	if (fd < 0)
		return fd == -ELOOP;	/* a symlink is something to drop */
	close(fd);
	return 1;
}

static void
mv_run(struct work *w)
{
	struct mvjob *j = (struct mvjob *)w;
	const char *last;
	int pfd;

	j->err = 0;
	if ((pfd = beneath_parent(store_cache_fd, j->path, &last)) < 0) {
		if (pfd != -ENOENT)
			j->err = pfd;
		return;
	}
	if (renameat(pfd, last, store_grave_fd, j->grave) < 0 &&
	    errno != ENOENT)
		j->err = -errno;
	close(pfd);
}

static void
mv_done(struct work *w)
{
	struct mvjob *j = (struct mvjob *)w;

	if (j->err) {
		store_st.errors++;
		log_warnx_rl(&store_rl_io,
		    "store: move %s to the graveyard: %s", j->path,
		    strerror(-j->err));
	}
	cull_kick();
	if (j->obj) {
		j->obj->dropped = 0;
		store_obj_release(j->obj);
	}
	free(j);
}

/* Submit a graveyard move once every meta record queued before it is done,
 * so no pending link can bring the file back after it. */
static void
mv_after_meta(void *arg)
{
	io_submit(arg);
}

static int
move_to_grave(const char *path, struct obj *o, char kind)
{
	struct mvjob *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	snprintf(j->path, sizeof(j->path), "%s", path);
	grave_name(j->grave, sizeof(j->grave), kind);
	j->w.run = mv_run;
	j->w.done = mv_done;
	if (o) {
		j->obj = o;
		o->dropped = 1;
		store_obj_hold(o);
	}
	meta_flush(mv_after_meta, j);
	return 0;
}

/* Remove an object from disk and forget its data (retire, drop). */
static int
obj_drop(struct obj *o)
{
	store_obj_reset(o);
	store_obj_unindex(o);
	store_st.drops++;
	return move_to_grave(o->path, o, 'O');
}

/* ---- cookies ------------------------------------------------------------- */

static void cookie_free(struct store_peer *p, struct store_cookie *h,
    int retire);

/*
 * A read-only fd on the object's file for one client: an open file
 * description no other client has, so what the client does to it (fcntl
 * O_DIRECT, O_NONBLOCK, its offset) touches nobody else. The first
 * client of a rofd gets rofd itself, lent (vw->lent: no open, no close;
 * the daemon never reads through rofd, it only fstats it and reopens it,
 * so the client's flags do not touch it either); the others a reopen
 * through the /proc magic link of rofd, which names the open file itself,
 * never a path in the cache (a symlink planted there cannot redirect it).
 * rofd is always a regular file (every open of one checks it, and an
 * open file never changes type), so no device's open is ever called. A
 * lent rofd is the daemon's own again before another client can get it
 * (rofd_own, when the object goes idle, or a new rofd). -1 when it
 * cannot be had: no fd then.
 */
static int
client_fd(struct obj *o, int *lent)
{
	int fd;

	if (!o->rofd_lent) {
		o->rofd_lent = 1;
		*lent = 1;
		return o->rofd;
	}
	if ((fd = store_reopen_ro(o->rofd)) < 0) {
		store_st.errors++;
		log_warnx_rl(&store_rl_io, "store: reopen %s for a client: %s",
		    o->path, strerror(errno));
	}
	return fd;
}

void
store_view_close(struct store_view *vw)
{
	if (vw->fd >= 0 && !vw->lent)
		close(vw->fd);
	vw->fd = -1;
	vw->lent = 0;
}

/* What h sees of its object: its map and, with give_fd, an fd no other
 * client has (client_fd; flags: STORE_COOKIE_NEW when there is nothing to
 * see yet). */
static void
view_data(struct obj *o, uint32_t flags, int give_fd, struct store_view *vw)
{
	vw->flags = flags;
	vw->fd = -1;
	vw->lent = 0;
	if (give_fd && o->rofd >= 0 && (vw->fd = client_fd(o, &vw->lent)) >= 0) {
		vw->flags |= STORE_COOKIE_HAVE_FD;
		store_st.served += cfmt_map_bytes(&o->map);
	}
	/* a frozen or full cache still serves reads: only a volume that
	 * cannot be made disables caching */
	if (o->v->state == VOL_FAILED)
		vw->flags |= STORE_COOKIE_NO_CACHE;
	vw->gen = o->gen;
	vw->size = o->size;
	vw->ext = o->map.ext;
	vw->n = o->map.count;
}

/* A handle that sees nothing: no fd, no data, a gen never the client's;
 * flags say whether it may fill (stale: no; blind: no caching at all). */
static void
view_none(const struct obj *o, uint32_t flags, uint64_t size,
    struct store_view *vw)
{
	memset(vw, 0, sizeof(*vw));
	vw->flags = flags;
	vw->gen = o->gen + 0x80000000u;
	vw->size = size;
	vw->fd = -1;
	vw->lent = 0;
}

/* What h sees: nothing when blind (its aux is not the object's and it may
 * not replace it: access.h), else its object's data. */
static void
view_of(const struct store_cookie *h, uint32_t flags, int give_fd,
    struct store_view *vw)
{
	if (h->blind)
		view_none(h->o, STORE_COOKIE_NEW | STORE_COOKIE_NO_CACHE,
		    h->size, vw);
	else
		view_data(h->o, flags, give_fd, vw);
}

/* The object is to hold (aux, size) from now on: a new, empty generation
 * whose file replaces the old one when it is published. */
static void
obj_replace(struct obj *o, const uint8_t *aux, size_t aux_len, uint64_t size)
{
	store_obj_reset(o);
	memcpy(o->aux, aux, aux_len);
	o->aux_len = aux_len;
	o->size = size;
	o->auxgen++;
	store_st.invalidations++;
	if (store_writes_ok() && o->v->state != VOL_FAILED && !o->dropped)
		(void)store_obj_file(o, 1);
}

/* Do (aux, size) differ from what the object holds? */
static int
aux_differs(const struct obj *o, const uint8_t *aux, size_t aux_len,
    uint64_t size)
{
	return o->size != size || o->aux_len != aux_len ||
	    memcmp(o->aux, aux, aux_len) != 0;
}

/* The object takes (aux, size) without being replaced: nothing of it is
 * there yet. */
static void
obj_set_aux(struct obj *o, const uint8_t *aux, size_t aux_len, uint64_t size)
{
	memcpy(o->aux, aux, aux_len);
	o->aux_len = aux_len;
	o->size = size;
}

/* What a cookie acquire asks for. */
struct want {
	const uint8_t *aux;
	size_t aux_len;
	uint64_t size;
	int any;			/* whatever its aux */
	int canrep;			/* the peer may replace it */
	int canmake;			/* the peer may make it */
};

/*
 * A new object read from disk for w: returns 1 if the handle is blind.
 * A peer that may not replace it takes it as it is on disk, and sees it
 * only if its aux is the object's; else a stale one is replaced at once,
 * as the kernel does (by an empty one, published over its name).
 */
static int
obj_first_load(struct obj *o, const struct want *w)
{
	struct store_vol *v = o->v;
	uint32_t idx = store_obj_idx(o);
	int loaded;

	if (v->state != VOL_READY || (idx != INDEX_NONE &&
	    index_get_state(idx) == INDEX_CULLING))
		loaded = 0;
	else
		loaded = store_obj_load(o, w->aux, w->aux_len, w->size,
		    w->any || !w->canrep);
	if (!w->canrep && !w->any && !(loaded == 0 && w->canmake))
		return loaded <= 0 || aux_differs(o, w->aux, w->aux_len,
		    w->size);
	if (loaded <= 0 && !w->any) {
		obj_set_aux(o, w->aux, w->aux_len, w->size);
		if (loaded < 0 && store_writes_ok()) {
			store_st.invalidations++;
			(void)store_obj_file(o, 1);
		}
	}
	return 0;
}

/* An object in memory whose aux differs from w's: replaced if p may, made
 * if there is nothing yet (a blind acquire left this), else the handle is
 * blind (returns 1) and nothing changes. */
static int
obj_other_aux(struct store_peer *p, struct obj *o, const struct want *w)
{
	if (may(p, &o->v->own, ACCESS_REPLACE, o->refs > 0) == 0) {
		obj_replace(o, w->aux, w->aux_len, w->size);
		return 0;
	}
	if (w->canmake && o->refs == 0 && !o->on_disk && !o->of &&
	    o->rofd < 0 && o->map.count == 0) {
		obj_set_aux(o, w->aux, w->aux_len, w->size);
		o->auxgen++;
		return 0;
	}
	return 1;
}

/* The object named name in v for w, found, woken, or read from disk;
 * *blind: the handle sees nothing. NULL: -ENOMEM. */
static struct obj *
cookie_obj(struct store_peer *p, struct store_vol *v, const char *name,
    unsigned fan, const struct want *w, int *blind)
{
	struct obj *o = store_obj_find(v, name);

	*blind = 0;
	if (o && o->idle && !store_obj_wake(o)) {
		store_obj_free(o);	/* changed or culled meanwhile */
		o = NULL;
	}
	if (!o) {
		if (!(o = store_obj_new(v, name, fan)))
			return NULL;
		*blind = obj_first_load(o, w);
	} else if (!w->any && aux_differs(o, w->aux, w->aux_len, w->size))
		*blind = obj_other_aux(p, o, w);
	return o;
}

/* Count an acquire's hit or miss, in the stats and the volume's. */
static void
count_acquire(const struct obj *o, int blind)
{
	if (!blind && o->map.count)
		store_st.hits++;
	else
		store_st.misses++;
	if (o->v->idx >= 0)
		index_volume_count((uint16_t)o->v->idx, o->map.count ?
		    INDEX_VOL_HITS : INDEX_VOL_MISSES);
}

/* A new handle of p on o; NULL: -ENOMEM (o may go back to idle). */
static struct store_cookie *
cookie_new(struct obj *o, uint64_t size, int blind)
{
	struct store_cookie *h = malloc(sizeof(*h));
	uint32_t idx;

	if (!h) {
		store_obj_settle(o);	/* nobody holds it now */
		return NULL;
	}
	h->o = o;
	h->pinned = size;
	h->auxgen = o->auxgen;
	h->blind = blind;
	h->size = size;
	h->genp = NULL;
	h->wnext = h->wprev = NULL;
	h->owner = NULL;
	h->id = 0;
	h->parked = 0;
	store_idle_del(o);
	o->refs++;
	if ((idx = store_obj_idx(o)) != INDEX_NONE)
		index_hit(idx, index_now());	/* a new use */
	store_obj_pin(o);
	return h;
}

/* Check a cookie acquire on v for p: the key's name, and may p read
 * (and replace, and make) objects here? */
static int
cookie_check(struct store_peer *p, struct store_vol *v, const uint8_t *key,
    size_t key_len, size_t aux_len, char *name, struct want *w)
{
	int n, err;

	if (key_len < 1 || key_len > CFMT_MAX_COOKIE_KEY ||
	    aux_len > CFMT_MAX_AUX)
		return -EINVAL;
	n = cfmt_cook_key(key, key_len, name, CFMT_MAX_NAME);
	if (n < 0 || n > NAME_MAX)
		return -EINVAL;
	/* the volume's policy may have changed since it was acquired */
	if ((err = check(p, v, w->any ? ACCESS_OBJ_ANY : ACCESS_READ_OBJ, 0,
	    w->any ? "acquiring an object whatever its aux" :
	    "acquiring an object")))
		return err;
	w->canrep = may(p, &v->own, ACCESS_REPLACE, 0) == 0;
	w->canmake = may(p, &v->own, ACCESS_FILL_OBJ, 0) == 0;
	return 0;
}

int
store_cookie_get(struct store_peer *p, struct store_vol *v,
    const uint8_t *key, size_t key_len, const uint8_t *aux, size_t aux_len,
    uint64_t size, unsigned flags, struct store_cookie **hp,
    struct store_view *view)
{
	struct want w = { aux, aux_len, size, (flags & STORE_COOKIE_ANY_AUX)
	    != 0, 0, 0 };
	char name[CFMT_MAX_NAME];
	struct store_cookie *h;
	struct obj *o;
	int blind, err;

	p->refused = NULL;
	store_st.acquires++;
	if ((err = cookie_check(p, v, key, key_len, aux_len, name, &w)) < 0)
		return err;
	/* before any work: a refused acquire costs one lookup */
	if ((err = limit_cookie_add(p->uid, !p->admin, size)) < 0)
		return err;
	o = cookie_obj(p, v, name, cfmt_fanout(key, key_len, v->hash), &w,
	    &blind);
	if (o)
		count_acquire(o, blind);
	if (!o || !(h = cookie_new(o, size, blind))) {
		limit_cookie_del(p->uid, !p->admin, size);
		return -ENOMEM;
	}
	view_of(h, o->rofd < 0 || o->dropped ? STORE_COOKIE_NEW : 0, 1, view);
	*hp = h;
	return 0;
}

struct store_vol *
store_cookie_vol(const struct store_cookie *h)
{
	return h->o->v;
}

/* ---- parked handles (GENTAB) --------------------------------------------- */

void
store_slot_bump(struct store_cookie *h)
{
	if (h->genp)
		__atomic_store_n(h->genp, *h->genp + 1, __ATOMIC_RELEASE);
}

void
store_cookie_watch(struct store_cookie *h, uint64_t *genp, void *owner,
    uint32_t id)
{
	h->genp = genp;
	h->owner = owner;
	h->id = id;
	h->wprev = NULL;
	h->wnext = h->o->watch;
	if (h->wnext)
		h->wnext->wprev = h;
	h->o->watch = h;
}

/* h's slot ends: bump it (before anything else happens), leave o->watch
 * and the client's tables. */
static void
watch_end(struct store_cookie *h)
{
	if (!h->genp)
		return;
	store_slot_bump(h);
	if (h->wprev)
		h->wprev->wnext = h->wnext;
	else
		h->o->watch = h->wnext;
	if (h->wnext)
		h->wnext->wprev = h->wprev;
	store_proto_forget(h);
	h->genp = NULL;
}

/* Free a parked handle: o never counted it (refs, pin, limits). */
static void
parked_free(struct store_cookie *h)
{
	watch_end(h);
	free(h);
}

void
store_watch_revoke(struct obj *o)
{
	struct store_cookie *h, *next;

	for (h = o->watch; h; h = next) {
		next = h->wnext;
		if (h->parked) {
			store_st.parked_revoked++;
			parked_free(h);
		} else
			store_slot_bump(h);
	}
}

void
store_watch_revoke_all(void)
{
	struct obj *o;

	for (o = store_obj_next(NULL); o; o = store_obj_next(o))
		if (o->watch)
			store_watch_revoke(o);
}

/*
 * Park h: it stops counting as a hold of its object (refs, pin, limits),
 * so the culler may take the object (after store_watch_revoke bumps the
 * slot), and its use ends now. A blind or stale handle (another peer
 * changed the object) is released instead. Returns 0 parked (h may be
 * gone already: revoked when its object left memory), -ESTALE released
 * (h freed).
 */
int
store_cookie_park(struct store_peer *p, struct store_cookie *h)
{
	struct obj *o = h->o;
	uint32_t idx;

	if (h->blind || h->auxgen != o->auxgen || !h->genp) {
		cookie_free(p, h, 0);
		return -ESTALE;
	}
	h->parked = 1;
	limit_cookie_del(p->uid, !p->admin, h->pinned);
	h->pinned = 0;
	o->refs--;
	if ((idx = store_obj_idx(o)) != INDEX_NONE)
		index_touch(idx, index_now());	/* the end of that use */
	store_obj_pin(o);
	store_obj_settle(o);
	return 0;
}

/* The client used parked h again without asking: a new use (recency,
 * hits); h stays parked. */
void
store_cookie_use(struct store_cookie *h)
{
	uint32_t idx;

	if ((idx = store_obj_idx(h->o)) != INDEX_NONE)
		index_hit(idx, index_now());
	count_acquire(h->o, 0);
	store_st.local_uses++;
}

/* The client forgot parked h. */
void
store_cookie_unpark_free(struct store_cookie *h)
{
	parked_free(h);
}

/* Free an active h (retire: also drop its object from disk). */
static void
cookie_free(struct store_peer *p, struct store_cookie *h, int retire)
{
	struct obj *o = h->o;
	uint32_t idx;

	watch_end(h);

	/* a stale or blind handle retires nothing: the object is not what
	 * it acquired */
	if (retire && h->auxgen == o->auxgen && !h->blind)
		obj_drop(o);
	limit_cookie_del(p->uid, !p->admin, h->pinned);
	free(h);
	o->refs--;
	if ((idx = store_obj_idx(o)) != INDEX_NONE)
		index_touch(idx, index_now());	/* the end of that use */
	store_obj_pin(o);
	store_obj_settle(o);
}

int
store_cookie_put(struct store_peer *p, struct store_cookie *h, int retire)
{
	int err;

	p->refused = NULL;
	if (retire && !store_writes_ok())
		retire = 0;	/* it stays; a cache may keep what it has */
	if (retire && (err = check(p, h->o->v, ACCESS_REPLACE, h->o->refs > 1,
	    "retiring an object"))) {
		cookie_free(p, h, 0);	/* released, not retired */
		return err;
	}
	cookie_free(p, h, retire);
	return 0;
}

void
store_cookie_refresh(struct store_peer *p, struct store_cookie *h,
    uint32_t gen, struct store_view *view)
{
	struct obj *o = h->o;

	if (h->blind || may(p, &o->v->own, ACCESS_READ_OBJ, 0) < 0)
		view_none(o, STORE_COOKIE_NEW | STORE_COOKIE_NO_CACHE, h->size,
		    view);	/* blind, or its policy changed */
	else if (h->auxgen != o->auxgen)
		view_none(o, STORE_COOKIE_NEW, o->size, view);	/* stale */
	else
		view_data(o, 0, gen != o->gen, view);
}

int
store_invalidate(struct store_peer *p, struct store_cookie *h,
    const uint8_t *aux, size_t aux_len, uint64_t size,
    struct store_view *view)
{
	struct obj *o = h->o;
	int err;

	p->refused = NULL;
	if (aux_len > CFMT_MAX_AUX)
		return -EINVAL;
	if ((err = check(p, o->v, ACCESS_REPLACE, o->refs > 1,
	    "invalidating an object")))
		return err;
	obj_replace(o, aux, aux_len, size);
	h->auxgen = o->auxgen;		/* this handle follows the new aux */
	h->blind = 0;
	h->size = size;
	view_data(o, STORE_COOKIE_NEW, 0, view);
	return 0;
}

int
store_may_fill(struct store_peer *p, const struct store_cookie *h)
{
	int err = may(p, &h->o->v->own, ACCESS_FILL_OBJ, 0);

	if (err < 0)
		return err;
	if (h->blind || h->auxgen != h->o->auxgen)
		return -ESTALE;		/* another client changed the object */
	return 0;
}

/* ---- listings ------------------------------------------------------------ */

/* Put the index's volumes from cur on that p may see into l, a non-admin
 * looking at LIST_BUDGET of them a page (store.h). */
void
store_list_volumes(struct store_peer *p, uint32_t cur,
    const struct store_lister *l, uint32_t *next)
{
	struct store_entry e;
	struct access_owner own;
	unsigned budget = LIST_BUDGET;
	uint32_t n = index_volumes();

	*next = 0;
	for (; cur < n; cur++) {
		if (!l->room(l->arg) || budget == 0) {
			*next = cur;
			break;
		}
		memset(&e, 0, sizeof(e));
		if (!(e.name = index_volume_key(cur)))
			continue;
		/* a peer sees the volumes it may list (access.h); each
		 * costs a look at the disk, so a page looks at a bounded
		 * number of them */
		if (!p->admin) {
			budget--;
			if (owner_of(e.name, &own) < 0 ||
			    may(p, &own, ACCESS_LIST, 0) < 0)
				continue;
		}
		e.size = index_volume_objects(cur);
		e.disk_bytes = index_volume_bytes(cur);
		e.hits = index_volume_counter(cur, INDEX_VOL_HITS);
		e.misses = index_volume_counter(cur, INDEX_VOL_MISSES);
		e.fills = index_volume_counter(cur, INDEX_VOL_FILLS);
		l->put(l->arg, &e);
	}
}

/* An object get serves that the meta thread has not published (nor
 * indexed) yet. */
static int
obj_pending(const struct obj *o)
{
	return o->rofd >= 0 && !o->on_disk && !o->dropped &&
	    store_obj_idx(o) == INDEX_NONE;
}

/* Describe object o (index entry id, or INDEX_NONE: pending) in e; kb
 * holds its key. */
static void
entry_of(const struct obj *o, const char *name, uint32_t id, uint8_t *kb,
    struct store_entry *e)
{
	int kl = cfmt_uncook_key(name, kb, CFMT_MAX_COOKIE_KEY + 1);

	memset(e, 0, sizeof(*e));
	e->name = name;
	e->key = kb;
	e->key_len = kl < 0 ? 0 : (size_t)kl;
	e->size = o ? o->size : index_bytes(id);
	if (id == INDEX_NONE) {
		e->disk_bytes = store_obj_disk_bytes(o);
		e->last_use_s = (uint64_t)(index_now() / 1000000000);
		e->pinned = o->refs > 0;
		e->pending = 1;
		return;
	}
	e->disk_bytes = index_bytes(id);
	e->last_use_s = (uint64_t)(index_last_use(id) / 1000000000);
	e->pinned = index_pins(id) > 0;
}

/* The first part of a listing: v's pending objects from the k-th on.
 * Returns 1 when the page is full; else 0, all listed. Either way *next
 * is where the next page starts. */
static int
list_pending(const struct store_vol *v, uint32_t k,
    const struct store_lister *l, uint32_t *next)
{
	uint8_t kb[CFMT_MAX_COOKIE_KEY + 1];
	struct store_entry e;
	struct obj *o = NULL;
	uint32_t i = 0;

	while ((o = store_obj_next(o)) != NULL) {
		if (o->v != v || !obj_pending(o))
			continue;
		if (i++ < k)
			continue;
		if (!l->room(l->arg)) {
			*next = LIST_PENDING | (i - 1);
			return 1;
		}
		entry_of(o, o->name, INDEX_NONE, kb, &e);
		l->put(l->arg, &e);
	}
	*next = LIST_PENDING | i;
	return 0;
}

/* The objects of index volume vidx (v: in memory, or NULL) from index
 * cursor cur on. */
static void
list_indexed(int vidx, const struct store_vol *v, uint32_t cur,
    struct store_lister *l, uint32_t *next)
{
	uint8_t kb[CFMT_MAX_COOKIE_KEY + 1];
	uint32_t prev, id, budget = LIST_SCAN_MAX;
	struct store_entry e;

	for (;;) {
		prev = cur;
		if (!l->room(l->arg)) {
			*next = prev ? prev : 1;
			return;
		}
		id = index_next_limit(vidx, &cur, &budget);
		if (id == INDEX_NONE) {
			/* a page looks at LIST_SCAN_MAX slots at most (a
			 * small volume among millions of objects): the
			 * client asks again from there */
			if (cur < index_slots())
				*next = cur;
			return;
		}
		if (!index_named(id)) {	/* named on a worker, then again */
			if (l->skip_nameless)
				continue;
			if (l->nneed == STORE_LIST_NEED)
				return;
			l->need[l->nneed++] = id;
			continue;
		}
		entry_of(v ? store_obj_find(v, index_name(id)) : NULL,
		    index_name(id), id, kb, &e);
		l->put(l->arg, &e);
	}
}

int
store_list_names(const struct store_lister *l, void (*done)(void *arg),
    void *arg)
{
	return names_resolve(store_cache_fd, l->need, l->nneed, done, arg);
}

int
store_list_objects(struct store_peer *p, const char *key, uint32_t cur,
    struct store_lister *l, uint32_t *next)
{
	struct store_vol *v;
	int vidx, err;

	p->refused = NULL;
	*next = 0;
	if ((vidx = index_vol_of(key)) < 0)
		return -ENOENT;
	if (!p->admin && (err = store_vol_check(p, key, ACCESS_LIST,
	    "listing its objects")) < 0)
		return err;
	v = vol_find(key);
	/* cursor 0 starts with the pending objects, LIST_PENDING | k goes
	 * on with the k-th of them; others are the index's */
	if (v && (cur == 0 || (cur & LIST_PENDING)) &&
	    (list_pending(v, cur & ~LIST_PENDING, l, next) ||
	    !l->room(l->arg)))
		return 0;	/* the index from its start on the next page */
	if (cur & LIST_PENDING)
		cur = 0;
	*next = 0;
	list_indexed(vidx, v, cur, l, next);
	return 0;
}

/* ---- access policies and drop -------------------------------------------- */

int
store_vol_policy(struct store_peer *p, const char *key, int set,
    uint32_t pol, struct access_owner *own, enum access_policy *effective)
{
	struct store_vol *v;
	int err;

	p->refused = NULL;
	if (set && pol >= ACCESS_POLICY_MAX)
		return -EINVAL;
	if ((err = owner_of(key, own)) < 0)
		return err;
	if ((err = may(p, own, set ? ACCESS_VOL_POLICY : ACCESS_LIST, 0)) < 0)
		return refused(p, err, key, own, set ? "setting its access "
		    "policy (root, admin_group or the volume's owner)" :
		    "reading its access policy");
	if (set) {
		if (!store_writes_ok())
			return -ENOBUFS;
		own->policy = pol;
		own->origin = ACCESS_RECORD;	/* root's when it had none */
		if ((err = owner_queue(key, own)) < 0)
			return err;
		if ((v = vol_find(key)) != NULL) {
			v->own.policy = own->policy;
			v->own.origin = ACCESS_RECORD;
		}
	}
	*effective = access_effective(own, access_dflt);
	return 0;
}

/* Drop a whole volume (store_drop): -EBUSY while clients hold it. */
static int
drop_volume(const char *volume_key, struct store_vol *v, int vidx)
{
	char path[META_PATH_MAX];

	if (v && v->refs > 0)
		return -EBUSY;
	snprintf(path, sizeof(path), "I%s", volume_key);
	if (vidx < 0 && !v && !exists_beneath(path))
		return -ENOENT;
	if (v) {
		store_vol_reset_objects(v);
		v->state = VOL_FAILED;	/* remade on next acquire */
		vol_uncount(v);
	}
	if (vidx >= 0)
		index_drop_volume(vidx);
	store_st.drops++;
	return move_to_grave(path, NULL, 'V');
}

/* Drop one object not in memory (store_drop): while it moves, an object
 * in memory marked dropped makes acquires miss. */
static int
drop_object(const char *volume_key, struct store_vol *v, int vidx,
    const uint8_t *key, size_t key_len, const char *name)
{
	char path[META_PATH_MAX];
	struct obj *o;
	uint32_t id;

	snprintf(path, sizeof(path), "I%s/@%02x/%s", volume_key,
	    cfmt_fanout(key, key_len, cfmt_volume_hash(volume_key,
	    strlen(volume_key))), name);
	id = vidx >= 0 ? index_find(vidx, name) : INDEX_NONE;
	if (id == INDEX_NONE && !exists_beneath(path))
		return -ENOENT;
	if (id != INDEX_NONE)
		index_del(id);
	store_st.drops++;
	if (v && (o = store_obj_new(v, name, cfmt_fanout(key, key_len,
	    v->hash))))
		return move_to_grave(path, o, 'O');
	return move_to_grave(path, NULL, 'O');
}

int
store_drop(const char *volume_key, const uint8_t *key, size_t key_len)
{
	char name[CFMT_MAX_NAME];
	struct store_vol *v;
	struct obj *o;
	int n, vidx;

	if (cfmt_check_volume_key(volume_key, strlen(volume_key)) < 0)
		return -EINVAL;
	if (!store_writes_ok())
		return -ENOBUFS;
	v = vol_find(volume_key);
	vidx = index_vol_of(volume_key);
	if (key_len == 0)
		return drop_volume(volume_key, v, vidx);
	if (key_len > CFMT_MAX_COOKIE_KEY)
		return -EINVAL;
	n = cfmt_cook_key(key, key_len, name, sizeof(name));
	if (n < 0 || n > NAME_MAX)
		return -EINVAL;
	if (v && (o = store_obj_find(v, name)) != NULL)
		return obj_drop(o);
	return drop_object(volume_key, v, vidx, key, key_len, name);
}
