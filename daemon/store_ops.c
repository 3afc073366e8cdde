/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_ops.c: the cache operations of the protocol (the 200s) but fills:
 * client handles, volumes, cookies, listings and drop, and what a client
 * leaves behind when it goes. The objects they work on are store.c's (see
 * the comment there); fills (PROTO_WRITE) are store_fill.c's.
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
#include "daemon/beneath.h"
#include "control.h"
#include "cull.h"
#include "index.h"
#include "io.h"
#include "limit.h"
#include "log.h"
#include "meta.h"
#include "proto.h"
#include "store.h"
#include "store_int.h"
#include "workq.h"

/* index slots one LIST_OBJECTS page looks at, at most */
#define LIST_SCAN_MAX		65536

/* what one client holds (CTL_SLOT_STORE) */
struct sclient {
	uid_t uid;			/* the peer's (SO_PEERCRED), whose
					   limits it counts in */
	void **vols;			/* struct vol * */
	uint32_t nvols;
	void **objs;			/* struct handle * */
	uint32_t nobjs;
	int limited;			/* not an admin: limit.h */
};

struct voljob {
	struct work w;
	struct vol *v;
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

static unsigned long grave_counter;	/* main thread */
static enum access_policy access_dflt = ACCESS_NONE;	/* volume_access */
static struct log_ratelimit rl_owner;

/* ---- client handles ------------------------------------------------------ */

static struct sclient *
sclient(struct ctl_client *c)
{
	struct sclient *s = control_client_get(c, CTL_SLOT_STORE);

	if (!s && c) {
		s = calloc(1, sizeof(*s));
		if (s)
			control_client_set(c, CTL_SLOT_STORE, s);
	}
	return s;
}

/* sclient, with whose limits it counts in (from the first request) */
static struct sclient *
sclient_rq(struct ctl_req *rq)
{
	struct sclient *s = control_client_get(rq->client, CTL_SLOT_STORE);

	if (s)
		return s;
	s = sclient(rq->client);
	if (s) {
		s->uid = rq->uid;
		s->limited = !rq->admin;
	}
	return s;
}

/* ---- access (access.h decides; this applies it) -------------------------- */

void
store_set_access(int dflt)
{
	access_dflt = dflt > ACCESS_DEFAULT && dflt < ACCESS_POLICY_MAX ?
	    (enum access_policy)dflt : ACCESS_NONE;
}

/* Decide op on a volume owned as own for rq; others: see access_check. */
static int
may(const struct ctl_req *rq, const struct access_owner *own,
    enum access_op op, int others)
{
	return access_check(rq->admin, rq->uid, own, access_dflt, op, others);
}

/* Answer a refusal with its reason (returns 0: answered). */
static int
refuse(struct ctl_req *rq, int err, const char *volkey,
    const struct access_owner *own, const char *what)
{
	if (err == -EBUSY)
		control_reply_str(rq, PROTO_EBUSY, "%s: volume %s: other users "
		    "hold it; only an admin may", what, volkey);
	else
		control_reply_str(rq, PROTO_EPERM, "%s: volume %s belongs to "
		    "uid %lu (access %s): not allowed to uid %lu", what, volkey,
		    (unsigned long)own->uid,
		    access_policy_str(access_effective(own, access_dflt)),
		    (unsigned long)rq->uid);
	return 0;
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
	struct vol *v;
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
store_may_fill(struct ctl_req *rq, const struct handle *h)
{
	int err = may(rq, &h->o->v->own, ACCESS_FILL_OBJ, 0);

	if (err < 0)
		return err;
	return h->blind ? -ESTALE : 0;
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

static struct vol *
get_vol(struct ctl_req *rq, uint32_t id)
{
	struct sclient *s = control_client_get(rq->client, CTL_SLOT_STORE);

	if (!s || id == 0 || id > s->nvols)
		return NULL;
	return s->vols[id - 1];
}

struct handle *
store_get_handle(struct ctl_req *rq, uint32_t id)
{
	struct sclient *s = control_client_get(rq->client, CTL_SLOT_STORE);

	if (!s || id == 0 || id > s->nobjs)
		return NULL;
	return s->objs[id - 1];
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

static void
vol_done(struct work *w)
{
	struct voljob *j = (struct voljob *)w;
	struct vol *v = j->v;
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
vol_create(struct vol *v, int replace)
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
vol_uncount(struct vol *v)
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

static struct vol *
vol_find(const char *key)
{
	struct vol *v;

	for (v = store_vols; v; v = v->next)
		if (strcmp(v->key, key) == 0)
			return v;
	return NULL;
}

static int exists_beneath(const char *path);
static int vol_acquire(struct ctl_req *rq, struct sclient *s,
    uint32_t flags, const char *key, struct proto_bytes coh);

/*
 * A volume not in memory yet, as it is on disk: READY with its coherency
 * data (coh_bad when there is none usable) and its owner when its
 * directory exists; FAILED (made at the next acquire) when it does not.
 */
static struct vol *
vol_load(const char *key, int *errp)
{
	uint8_t xb[CFMT_VOL_XATTR_HDR + CFMT_MAX_AUX + 1];
	char name[CFMT_MAX_VOLUME_KEY + 2];
	struct stat sb;
	struct vol *v;
	ssize_t xl = -1;
	int vidx, fd;

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
	snprintf(name, sizeof(name), "I%s", key);
	if (fstatat(store_cache_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		v->state = VOL_FAILED;
		v->own.origin = ACCESS_LEGACY;	/* its maker will own it */
	} else {
		v->state = VOL_READY;
		fd = S_ISDIR(sb.st_mode) ?
		    open_dir_beneath(store_cache_fd, name) : -1;
		if (fd >= 0)
			xl = fgetxattr(fd, CFMT_XATTR, xb, sizeof(xb));
		read_owner(fd, key, &v->own);
		if (fd >= 0)
			close(fd);	/* a directory: never the last
					   reference of anything */
		if (xl >= CFMT_VOL_XATTR_HDR &&
		    xl <= CFMT_VOL_XATTR_HDR + CFMT_MAX_AUX &&
		    cfmt_vol_matches(xb, xl, xb + CFMT_VOL_XATTR_HDR,
		    xl - CFMT_VOL_XATTR_HDR)) {
			v->coh_len = xl - CFMT_VOL_XATTR_HDR;
			memcpy(v->coh, xb + CFMT_VOL_XATTR_HDR, v->coh_len);
		} else
			v->coh_bad = 1;
	}
	v->next = store_vols;
	store_vols = v;
	return v;
}

/* A FAILED volume's directories are (re)made for s: 257 directories,
 * counted against its maker unless they already are (limit.h). */
static int
vol_count(struct vol *v, struct sclient *s)
{
	int err;

	if (v->counted)
		return 0;
	if ((err = limit_volume_create(s->uid, s->limited)) < 0)
		return err;
	v->creator = s->uid;
	v->counted = s->limited;
	return 0;
}

static int
h_volume_acquire(struct ctl_req *rq)
{
	char key[CFMT_MAX_VOLUME_KEY + 1];
	struct proto_bytes coh;
	struct sclient *s;
	uint32_t flags;
	int err = 0;

	flags = proto_get_u32(&rq->body);
	if ((err = get_volume_key(&rq->body, key, sizeof(key))) < 0)
		return err;
	coh = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (coh.len > CFMT_MAX_AUX)
		return -EINVAL;
	s = sclient_rq(rq);
	if (!s)
		return -ENOMEM;
	/* counted now, given back on every way out but success (a refusal
	 * by access.h is answered in vol_acquire, which returns 1) */
	if ((err = limit_volume_add(s->uid, s->limited)) < 0)
		return err;
	err = vol_acquire(rq, s, flags, key, coh);
	if (err != 0)
		limit_volume_del(s->uid, s->limited);
	return err < 0 ? err : 0;
}

/* VOLUME_ACQUIRE once the limits let it (h_volume_acquire): 0 done, 1
 * refused by access.h (answered), or -errno. */
static int
vol_acquire(struct ctl_req *rq, struct sclient *s, uint32_t flags,
    const char *key, struct proto_bytes coh)
{
	uint8_t body[8];
	char name[CFMT_MAX_VOLUME_KEY + 2];
	struct proto_buf b;
	struct vol *v;
	uint32_t rflags = 0, id;
	int any, differs, err = 0;

	any = flags & PROTO_VOLUME_ANY_COHERENCY;
	v = vol_find(key);
	if (!v && !(v = vol_load(key, &err)))
		return err;
	snprintf(name, sizeof(name), "I%s", key);
	differs = v->coh_bad || v->coh_len != coh.len ||
	    memcmp(v->coh, coh.ptr, coh.len);
	if (v->state == VOL_FAILED && v->refs == 0 &&
	    !exists_beneath(name)) {
		/* nothing there and nobody holds it: a new volume, its
		 * maker's (access.h) */
		if (!store_writes_ok())
			return -ENOBUFS;
		if ((err = vol_count(v, s)) < 0)
			return err;
		v->own.uid = rq->uid;
		v->own.policy = ACCESS_DEFAULT;
		v->own.origin = ACCESS_RECORD;
		v->foreign = 0;
		if (!any) {
			memcpy(v->coh, coh.ptr, coh.len);
			v->coh_len = coh.len;
		}
		v->coh_bad = 0;
		if ((err = vol_create(v, 0)) < 0) {
			vol_uncount(v);		/* nothing was made */
			return err;
		}
		rflags |= PROTO_VOLUME_CREATED;
		store_st.volumes_created++;
	} else if (any ? v->coh_bad : differs) {
		/* other coherency data (or none usable): the volume starts
		 * empty, which only its owner (while no other user holds
		 * it) or an admin may do */
		if ((err = may(rq, &v->own, ACCESS_VOL_WIPE, v->foreign > 0))) {
			refuse(rq, err, key, &v->own, "changing the "
			    "coherency data");
			return 1;
		}
		/* one remaking at a time: a client flipping the coherency
		 * in a loop must not queue directory jobs without end */
		if (!store_writes_ok() || v->state == VOL_CREATING)
			return -ENOBUFS;
		if (v->state == VOL_FAILED && (err = vol_count(v, s)) < 0)
			return err;
		memcpy(v->coh, coh.ptr, any ? 0 : coh.len);
		v->coh_len = any ? 0 : coh.len;
		v->coh_bad = 0;
		store_vol_reset_objects(v);
		index_drop_volume(v->idx);
		if ((err = vol_create(v, 1)) < 0)
			return err;
		store_st.volumes_invalidated++;
		rflags |= PROTO_VOLUME_INVALIDATED;
	} else {
		if ((err = may(rq, &v->own, any ? ACCESS_VOL_ANY :
		    ACCESS_VOL_USE, 0))) {
			refuse(rq, err, key, &v->own, any ?
			    "acquiring it whatever its coherency data" :
			    "acquiring it");
			return 1;
		}
		if (v->state == VOL_FAILED) {
			if (!store_writes_ok())
				return -ENOBUFS;
			/* made again: by this uid now */
			if ((err = vol_count(v, s)) < 0)
				return err;
			if ((err = vol_create(v, 0)) < 0)
				return err;
		}
	}
	id = handle_add(&s->vols, &s->nvols, v);
	if (!id)
		return -ENOMEM;
	v->refs++;
	if (rq->uid != v->own.uid)
		v->foreign++;
	control_client_hold(rq->client, 1);
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, id);
	proto_put_u32(&b, rflags);
	control_reply(rq, PROTO_OK, body, b.off, -1);
	return 0;
}

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

static void
release_cookie(struct sclient *s, uint32_t id, int retire)
{
	struct handle *h = s->objs[id - 1];
	struct obj *o = h->o;
	uint32_t idx;

	s->objs[id - 1] = NULL;
	/* a stale or blind handle retires nothing: the object is not what
	 * it acquired */
	if (retire && h->auxgen == o->auxgen && !h->blind)
		obj_drop(o);
	limit_cookie_del(s->uid, s->limited, h->pinned);
	free(h);
	o->refs--;
	if ((idx = store_obj_idx(o)) != INDEX_NONE)
		index_touch(idx, index_now());	/* the end of that use */
	store_obj_pin(o);
	store_obj_settle(o);
}

/* Forget a client's volume handle (c: the peer, for idle_timeout) and
 * give it back to the uid's limit. */
static void
vol_release(struct sclient *s, uint32_t id, struct ctl_client *c)
{
	struct vol *v = s->vols[id - 1];

	s->vols[id - 1] = NULL;
	v->refs--;
	if (s->uid != v->own.uid && v->foreign > 0)
		v->foreign--;
	limit_volume_del(s->uid, s->limited);
	control_client_hold(c, -1);
}

static int
h_volume_relinquish(struct ctl_req *rq)
{
	struct sclient *s = control_client_get(rq->client, CTL_SLOT_STORE);
	uint32_t id, flags, i;
	char name[CFMT_MAX_VOLUME_KEY + 2];
	struct vol *v;
	int err;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(v = get_vol(rq, id)))
		return -ENOENT;
	for (i = 0; i < s->nobjs; i++)
		if (s->objs[i] && ((struct handle *)s->objs[i])->o->v == v)
			return -EBUSY;
	if ((flags & PROTO_RELINQUISH_RETIRE) && (err = may(rq, &v->own,
	    ACCESS_VOL_WIPE, v->foreign > (rq->uid != v->own.uid)))) {
		/* released, not retired (liblarder forgets the handle) */
		vol_release(s, id, rq->client);
		return refuse(rq, err, v->key, &v->own, "retiring it");
	}
	if (flags & PROTO_RELINQUISH_RETIRE)
		store_idle_evict(v);
	if ((flags & PROTO_RELINQUISH_RETIRE) && v->refs == 1 && v->objs == 0) {
		if (!store_writes_ok())
			return -ENOBUFS;
		snprintf(name, sizeof(name), "I%s", v->key);
		index_drop_volume(v->idx);
		move_to_grave(name, NULL, 'V');
		v->state = VOL_FAILED;		/* remade on next acquire */
		vol_uncount(v);
	}
	vol_release(s, id, rq->client);
	control_reply(rq, PROTO_OK, NULL, 0, -1);
	return 0;
}

/* ---- cookies ------------------------------------------------------------- */

/*
 * A read-only fd on the object's file for one client: an open file
 * description of its own, so what the client does to it (fcntl O_DIRECT,
 * O_NONBLOCK, its offset) touches nobody else. Reopened through the
 * /proc magic link of rofd, which names the open file itself, never a path
 * in the cache (a symlink planted there cannot redirect it); rofd was
 * checked a regular file when opened, and is checked again so that no
 * device's open is ever called. -1 when it cannot be had: no fd then.
 */
static int
client_fd(const struct obj *o)
{
	char proc[64];
	struct stat sb;
	int fd;

	if (fstat(o->rofd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->rofd);
	fd = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		store_st.errors++;
		log_warnx_rl(&store_rl_io, "store: reopen %s for a client: %s",
		    o->path, strerror(errno));
	}
	return fd;
}

/* Reply with the object's state; an fd of the client's own goes with it
 * when give_fd. */
static void
reply_state(struct ctl_req *rq, struct obj *o, uint32_t id, uint32_t flags,
    int give_fd)
{
	static uint8_t body[PROTO_MAX_MSG];	/* main thread only */
	struct proto_buf b;
	uint32_t i, n;
	int fd = -1;

	n = o->map.count;
	if (n > PROTO_MAX_EXTENTS) {
		n = PROTO_MAX_EXTENTS;
		flags |= PROTO_COOKIE_MAP_TRUNCATED;
	}
	if (give_fd && o->rofd >= 0 && (fd = client_fd(o)) >= 0)
		flags |= PROTO_COOKIE_HAVE_FD;
	/* a frozen or full cache still serves reads: only a volume that
	 * cannot be made disables caching */
	if (o->v->state == VOL_FAILED)
		flags |= PROTO_COOKIE_NO_CACHE;
	proto_buf_init(&b, body, PROTO_MAX_MSG - PROTO_HDR_SIZE);
	proto_put_u32(&b, id);
	proto_put_u32(&b, flags);
	proto_put_u32(&b, o->gen);
	proto_put_u32(&b, n);
	proto_put_u64(&b, o->size);
	for (i = 0; i < n; i++) {
		proto_put_u64(&b, o->map.ext[i].start);
		proto_put_u64(&b, o->map.ext[i].len);
	}
	if (flags & PROTO_COOKIE_HAVE_FD)
		store_st.served += cfmt_map_bytes(&o->map);
	control_reply(rq, PROTO_OK, body, b.off, fd);
	/* the client holds it now (or never will): this is not the last
	 * reference to the file, which rofd holds, so it never waits */
	if (fd >= 0)
		close(fd);
}

/* A stale handle: no fd, no data; the client drops what it holds. */
static void
reply_stale(struct ctl_req *rq, struct obj *o, uint32_t id)
{
	uint8_t body[32];
	struct proto_buf b;

	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, id);
	proto_put_u32(&b, PROTO_COOKIE_NEW);
	proto_put_u32(&b, o->gen + 0x80000000u);	/* never the client's */
	proto_put_u32(&b, 0);
	proto_put_u64(&b, o->size);
	control_reply(rq, PROTO_OK, body, b.off, -1);
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

/* Reply for a blind handle: no bytes, no fd, nothing to fill (its aux is
 * not the object's and it may not replace it: access.h). */
static void
reply_blind(struct ctl_req *rq, const struct handle *h, uint32_t id)
{
	uint8_t body[32];
	struct proto_buf b;

	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, id);
	proto_put_u32(&b, PROTO_COOKIE_NEW | PROTO_COOKIE_NO_CACHE);
	proto_put_u32(&b, h->o->gen + 0x80000000u);	/* never the client's */
	proto_put_u32(&b, 0);
	proto_put_u64(&b, h->size);
	control_reply(rq, PROTO_OK, body, b.off, -1);
}

static int
h_cookie_acquire(struct ctl_req *rq)
{
	uint32_t vid, flags, rflags = 0, id, idx;
	struct proto_bytes key, aux;
	struct handle *h;
	char name[CFMT_MAX_NAME];
	struct sclient *s;
	struct vol *v;
	struct obj *o;
	uint64_t size;
	unsigned fan;
	int n, any, loaded, canrep, canmake, blind = 0, err;

	vid = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	size = proto_get_u64(&rq->body);
	key = proto_get_bytes(&rq->body);
	aux = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(v = get_vol(rq, vid)))
		return -ENOENT;
	if (key.len < 1 || key.len > CFMT_MAX_COOKIE_KEY ||
	    aux.len > CFMT_MAX_AUX)
		return -EINVAL;
	n = cfmt_cook_key(key.ptr, key.len, name, sizeof(name));
	if (n < 0 || n > NAME_MAX)
		return -EINVAL;
	any = flags & PROTO_COOKIE_ANY_AUX;
	/* the volume's policy may have changed since it was acquired */
	if ((err = may(rq, &v->own, any ? ACCESS_OBJ_ANY : ACCESS_READ_OBJ,
	    0)))
		return refuse(rq, err, v->key, &v->own, any ? "acquiring an "
		    "object whatever its aux" : "acquiring an object");
	/* whether this peer may replace an object nobody else holds, and
	 * make one where there is none */
	canrep = may(rq, &v->own, ACCESS_REPLACE, 0) == 0;
	canmake = may(rq, &v->own, ACCESS_FILL_OBJ, 0) == 0;
	s = sclient_rq(rq);
	if (!s)
		return -ENOMEM;
	/* before any work: a refused acquire costs one lookup */
	if ((err = limit_cookie_add(s->uid, s->limited, size)) < 0)
		return err;
	fan = cfmt_fanout(key.ptr, key.len, v->hash);
	o = store_obj_find(v, name);
	if (o && o->idle && !store_obj_wake(o)) {
		store_obj_free(o);	/* changed or culled meanwhile: read it again */
		o = NULL;
	}
	if (!o) {
		o = store_obj_new(v, name, fan);
		if (!o) {
			limit_cookie_del(s->uid, s->limited, size);
			return -ENOMEM;
		}
		idx = store_obj_idx(o);
		/* a peer that may not replace it takes it as it is on
		 * disk, and sees it only if its aux is the object's */
		if (v->state != VOL_READY || (idx != INDEX_NONE &&
		    index_get_state(idx) == INDEX_CULLING))
			loaded = 0;
		else
			loaded = store_obj_load(o, aux.ptr, aux.len, size,
			    any || !canrep);
		if (!canrep && !any && !(loaded == 0 && canmake))
			blind = loaded <= 0 || o->size != size ||
			    o->aux_len != aux.len ||
			    memcmp(o->aux, aux.ptr, aux.len);
		else if (loaded <= 0 && !any) {
			memcpy(o->aux, aux.ptr, aux.len);
			o->aux_len = aux.len;
			o->size = size;
			/* as the kernel does: a stale object is replaced at
			 * once (by an empty one, published over its name) */
			if (loaded < 0 && store_writes_ok()) {
				store_st.invalidations++;
				(void)store_obj_file(o, 1);
			}
		}
	} else if (!any && (o->size != size || o->aux_len != aux.len ||
	    memcmp(o->aux, aux.ptr, aux.len))) {
		if (may(rq, &v->own, ACCESS_REPLACE, o->refs > 0) == 0)
			obj_replace(o, aux.ptr, aux.len, size);
		else if (canmake && o->refs == 0 && !o->on_disk && !o->of &&
		    o->rofd < 0 && o->map.count == 0) {
			/* nothing there yet (a blind acquire left this):
			 * making it is no replacement */
			memcpy(o->aux, aux.ptr, aux.len);
			o->aux_len = aux.len;
			o->size = size;
			o->auxgen++;
		} else
			blind = 1;	/* it sees nothing; nothing changes */
	}
	if (blind)
		store_st.misses++;
	else if (o->map.count)
		store_st.hits++;
	else
		store_st.misses++;
	if (o->rofd < 0 || o->dropped)
		rflags |= PROTO_COOKIE_NEW;
	if (v->idx >= 0)
		index_volume_count((uint16_t)v->idx, o->map.count ?
		    INDEX_VOL_HITS : INDEX_VOL_MISSES);
	h = malloc(sizeof(*h));
	id = h ? handle_add(&s->objs, &s->nobjs, h) : 0;
	if (!id) {
		free(h);
		/* new, or woken from the idle list (and taken off it): nobody
		 * may hold it now, so it goes back or away */
		store_obj_settle(o);
		limit_cookie_del(s->uid, s->limited, size);
		return -ENOMEM;
	}
	h->o = o;
	h->pinned = size;
	control_client_hold(rq->client, 1);
	h->auxgen = o->auxgen;
	h->blind = blind;
	h->size = size;
	store_idle_del(o);
	o->refs++;
	if ((idx = store_obj_idx(o)) != INDEX_NONE)
		index_hit(idx, index_now());	/* a new use */
	store_obj_pin(o);
	if (blind)
		reply_blind(rq, h, id);
	else
		reply_state(rq, o, id, rflags, 1);
	return 0;
}

/* May rq retire (or invalidate) the object of handle h? 0 or -errno. */
static int
may_replace(struct ctl_req *rq, const struct handle *h)
{
	return may(rq, &h->o->v->own, ACCESS_REPLACE, h->o->refs > 1);
}

static int
h_cookie_relinquish(struct ctl_req *rq)
{
	struct sclient *s = control_client_get(rq->client, CTL_SLOT_STORE);
	struct handle *h;
	uint32_t id, flags;
	int err = 0;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	if (!rq->body.err && (flags & PROTO_RELINQUISH_NOREPLY)) {
		/* the client forgot the handle already: nothing to answer,
		 * not even an error */
		if ((h = store_get_handle(rq, id))) {
			release_cookie(s, id, (flags &
			    PROTO_RELINQUISH_RETIRE) && store_writes_ok() &&
			    may_replace(rq, h) == 0);
			control_client_hold(rq->client, -1);
		}
		control_done(rq);
		return 0;
	}
	if (rq->body.err)
		return -EPROTO;
	if (!(h = store_get_handle(rq, id)))
		return -ENOENT;
	if ((flags & PROTO_RELINQUISH_RETIRE) && !store_writes_ok())
		flags = 0;	/* it stays; a cache may keep what it has */
	if ((flags & PROTO_RELINQUISH_RETIRE) && (err = may_replace(rq, h))) {
		/* released, not retired: liblarder forgets the handle */
		struct vol *v = h->o->v;

		release_cookie(s, id, 0);
		control_client_hold(rq->client, -1);
		return refuse(rq, err, v->key, &v->own, "retiring an object");
	}
	release_cookie(s, id, flags & PROTO_RELINQUISH_RETIRE);
	control_client_hold(rq->client, -1);
	control_reply(rq, PROTO_OK, NULL, 0, -1);
	return 0;
}

static int
h_cookie_refresh(struct ctl_req *rq)
{
	uint32_t id, gen;
	struct handle *h;
	struct obj *o;

	id = proto_get_u32(&rq->body);
	gen = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(h = store_get_handle(rq, id)))
		return -ENOENT;
	o = h->o;
	if (h->blind || may(rq, &o->v->own, ACCESS_READ_OBJ, 0) < 0) {
		reply_blind(rq, h, id);	/* or its policy changed */
		return 0;
	}
	if (h->auxgen != o->auxgen) {
		reply_stale(rq, o, id);
		return 0;
	}
	reply_state(rq, o, id, 0, gen != o->gen);
	return 0;
}

static int
h_invalidate(struct ctl_req *rq)
{
	struct proto_bytes aux;
	struct handle *h;
	uint32_t id;
	uint64_t size;
	struct obj *o;
	int err;

	id = proto_get_u32(&rq->body);
	(void)proto_get_u32(&rq->body);
	size = proto_get_u64(&rq->body);
	aux = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(h = store_get_handle(rq, id)))
		return -ENOENT;
	if (aux.len > CFMT_MAX_AUX)
		return -EINVAL;
	o = h->o;
	if ((err = may_replace(rq, h)))
		return refuse(rq, err, o->v->key, &o->v->own,
		    "invalidating an object");
	obj_replace(o, aux.ptr, aux.len, size);
	h->auxgen = o->auxgen;		/* this handle follows the new aux */
	h->blind = 0;
	h->size = size;
	reply_state(rq, o, id, PROTO_COOKIE_NEW, 0);
	return 0;
}

/* ---- listings and drop --------------------------------------------------- */

/* Answer a listing: patch the cursor (first u32) and the count (at cnt_off)
 * into the body built in b, send it, free the body. */
static int
reply_listing(struct ctl_req *rq, struct proto_buf *b, uint32_t next,
    size_t cnt_off, uint32_t count)
{
	size_t end = b->off;

	b->off = 0;
	proto_put_u32(b, next);
	b->off = cnt_off;
	proto_put_u32(b, count);
	control_reply(rq, PROTO_OK, b->data, end, -1);
	free(b->data);
	return 0;
}

/* LIST_VOLUMES, and with counters (LIST_VOLUME_STATS) */
static int
list_volumes(struct ctl_req *rq, int counters)
{
	struct proto_buf b;
	uint8_t *body;
	uint32_t cur, count = 0, n, next = 0;
	struct access_owner own;
	unsigned budget = LIST_BUDGET;
	const char *key;
	size_t cnt_off;

	cur = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	body = malloc(PROTO_MAX_MSG);
	if (!body)
		return -ENOMEM;
	proto_buf_init(&b, body, PROTO_MAX_MSG - PROTO_HDR_SIZE);
	proto_put_u32(&b, 0);
	cnt_off = b.off;
	proto_put_u32(&b, 0);
	n = index_volumes();
	for (; cur < n; cur++) {
		if (b.size - b.off < 2 + CFMT_MAX_VOLUME_KEY + 40 ||
		    budget == 0) {
			next = cur;
			break;
		}
		key = index_volume_key(cur);
		if (!key)
			continue;
		/* a peer sees the volumes it may list (access.h); each
		 * costs a look at the disk, so a page looks at a bounded
		 * number of them */
		if (!rq->admin) {
			budget--;
			if (owner_of(key, &own) < 0 ||
			    may(rq, &own, ACCESS_LIST, 0) < 0)
				continue;
		}
		proto_put_str(&b, key);
		proto_put_u64(&b, index_volume_objects(cur));
		proto_put_u64(&b, index_volume_bytes(cur));
		if (counters) {
			proto_put_u64(&b, index_volume_counter(cur,
			    INDEX_VOL_HITS));
			proto_put_u64(&b, index_volume_counter(cur,
			    INDEX_VOL_MISSES));
			proto_put_u64(&b, index_volume_counter(cur,
			    INDEX_VOL_FILLS));
		}
		count++;
	}
	return reply_listing(rq, &b, next, cnt_off, count);
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

static int
h_list_objects(struct ctl_req *rq)
{
	char key[CFMT_MAX_VOLUME_KEY + 1];
	uint8_t kb[CFMT_MAX_COOKIE_KEY + 1];
	struct proto_buf b;
	uint8_t *body;
	uint32_t cur, prev, id, count = 0, next = 0;
	unsigned i, nv;
	int vidx = -1, kl;
	size_t cnt_off;
	struct vol *v;
	struct obj *o;
	uint64_t osize;
	uint32_t fl, budget = LIST_SCAN_MAX;
	struct access_owner own;
	int err;
	cur = proto_get_u32(&rq->body);
	if ((kl = get_volume_key(&rq->body, key, sizeof(key))) < 0)
		return kl;
	nv = index_volumes();
	for (i = 0; i < nv; i++) {
		const char *k = index_volume_key(i);

		if (k && strcmp(k, key) == 0) {
			vidx = i;
			break;
		}
	}
	if (vidx < 0)
		return -ENOENT;
	if (!rq->admin && ((err = owner_of(key, &own)) < 0 ||
	    (err = may(rq, &own, ACCESS_LIST, 0)) < 0))
		return err == -ENOENT ? err : refuse(rq, err, key, &own,
		    "listing its objects");
	v = vol_find(key);
	body = malloc(PROTO_MAX_MSG);
	if (!body)
		return -ENOMEM;
	proto_buf_init(&b, body, PROTO_MAX_MSG - PROTO_HDR_SIZE);
	proto_put_u32(&b, 0);
	cnt_off = b.off;
	proto_put_u32(&b, 0);
	for (;;) {
		prev = cur;
		if (b.size - b.off < 2 + CFMT_MAX_NAME + 2 +
		    CFMT_MAX_COOKIE_KEY + 32) {
			next = prev ? prev : 1;
			break;
		}
		id = index_next_limit(vidx, &cur, &budget);
		if (id == INDEX_NONE) {
			/* a page looks at LIST_SCAN_MAX slots at most (a
			 * small volume among millions of objects): the
			 * client asks again from there */
			if (cur < index_slots())
				next = cur;
			break;
		}
		kl = cfmt_uncook_key(index_name(id), kb, sizeof(kb));
		o = v ? store_obj_find(v, index_name(id)) : NULL;
		osize = o ? o->size : index_bytes(id);
		fl = index_pins(id) ? PROTO_OBJECT_PINNED : 0;
		proto_put_str(&b, index_name(id));
		proto_put_bytes(&b, kb, kl < 0 ? 0 : (size_t)kl);
		proto_put_u64(&b, osize);
		proto_put_u64(&b, index_bytes(id));
		proto_put_u64(&b, (uint64_t)(index_last_use(id) / 1000000000));
		proto_put_u32(&b, fl);
		count++;
	}
	return reply_listing(rq, &b, next, cnt_off, count);
}

int
store_drop(const char *volume_key, const uint8_t *key, size_t key_len)
{
	char name[CFMT_MAX_NAME], path[META_PATH_MAX];
	unsigned nv, i;
	struct vol *v;
	struct obj *o;
	uint32_t id;
	int n, vidx = -1;

	if (cfmt_check_volume_key(volume_key, strlen(volume_key)) < 0)
		return -EINVAL;
	if (!store_writes_ok())
		return -ENOBUFS;
	v = vol_find(volume_key);
	nv = index_volumes();
	for (i = 0; i < nv; i++) {
		const char *k = index_volume_key(i);

		if (k && strcmp(k, volume_key) == 0)
			vidx = i;
	}
	if (key_len == 0) {
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
	if (key_len > CFMT_MAX_COOKIE_KEY)
		return -EINVAL;
	n = cfmt_cook_key(key, key_len, name, sizeof(name));
	if (n < 0 || n > NAME_MAX)
		return -EINVAL;
	if (v && (o = store_obj_find(v, name)) != NULL)
		return obj_drop(o);
	snprintf(path, sizeof(path), "I%s/@%02x/%s", volume_key,
	    cfmt_fanout(key, key_len, cfmt_volume_hash(volume_key,
	    strlen(volume_key))), name);
	id = vidx >= 0 ? index_find(vidx, name) : INDEX_NONE;
	if (id == INDEX_NONE && !exists_beneath(path))
		return -ENOENT;
	if (id != INDEX_NONE)
		index_del(id);
	store_st.drops++;
	if (v && (o = store_obj_new(v, name, cfmt_fanout(key, key_len, v->hash))))
		return move_to_grave(path, o, 'O');	/* acquires miss meanwhile */
	return move_to_grave(path, NULL, 'O');
}

static int
h_drop(struct ctl_req *rq)
{
	char vkey[CFMT_MAX_VOLUME_KEY + 1];
	struct proto_bytes key;
	struct access_owner own;
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
	if (!rq->admin) {
		if ((err = owner_of(vkey, &own)) < 0)
			return err;
		if ((err = may(rq, &own, ACCESS_DROP_OBJ, 0)) < 0)
			return refuse(rq, err, vkey, &own, "dropping an "
			    "object (root, admin_group or the volume's "
			    "owner)");
	}
	err = store_drop(vkey, key.ptr, key.len);
	if (err < 0)
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
	struct access_owner own;
	struct proto_buf b;
	uint8_t body[16];
	uint32_t op, pol;
	struct vol *v;
	int err;

	if ((err = get_volume_key(&rq->body, key, sizeof(key))) < 0)
		return err;
	op = proto_get_u32(&rq->body);
	pol = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (op > PROTO_ACCESS_SET || (op == PROTO_ACCESS_SET &&
	    pol >= ACCESS_POLICY_MAX))
		return -EINVAL;
	if ((err = owner_of(key, &own)) < 0)
		return err;
	if ((err = may(rq, &own, op == PROTO_ACCESS_SET ? ACCESS_VOL_POLICY :
	    ACCESS_LIST, 0)) < 0)
		return refuse(rq, err, key, &own, op == PROTO_ACCESS_SET ?
		    "setting its access policy (root, admin_group or the "
		    "volume's owner)" : "reading its access policy");
	if (op == PROTO_ACCESS_SET) {
		if (!store_writes_ok())
			return -ENOBUFS;
		own.policy = pol;
		own.origin = ACCESS_RECORD;	/* root's when it had none */
		if ((err = owner_queue(key, &own)) < 0)
			return err;
		if ((v = vol_find(key)) != NULL) {
			v->own.policy = own.policy;
			v->own.origin = ACCESS_RECORD;
		}
	}
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, (uint32_t)own.uid);
	proto_put_u32(&b, own.policy);
	proto_put_u32(&b, access_effective(&own, access_dflt));
	proto_put_u32(&b, own.origin);
	control_reply(rq, PROTO_OK, body, b.off, -1);
	return 0;
}

/* ---- disconnect ---------------------------------------------------------- */

static void
on_disconnect(struct ctl_client *c, void *p)
{
	struct sclient *s = p;
	uint32_t i;

	for (i = 0; i < s->nobjs; i++)
		if (s->objs[i])
			release_cookie(s, i + 1, 0);
	for (i = 0; i < s->nvols; i++)
		if (s->vols[i])
			vol_release(s, i + 1, c);
	free(s->objs);
	free(s->vols);
	free(s);
}

/* ---- registration -------------------------------------------------------- */

/* Register the 200s and the disconnect hook with control.c (store_init). */
void
store_ops_init(void)
{
	control_register(PROTO_VOLUME_ACQUIRE, h_volume_acquire, 0);
	control_register(PROTO_VOLUME_RELINQUISH, h_volume_relinquish, 0);
	control_register(PROTO_COOKIE_ACQUIRE, h_cookie_acquire, 0);
	control_register(PROTO_COOKIE_RELINQUISH, h_cookie_relinquish, 0);
	control_register(PROTO_COOKIE_REFRESH, h_cookie_refresh, 0);
	control_register(PROTO_INVALIDATE, h_invalidate, 0);
	control_register(PROTO_LIST_VOLUMES, h_list_volumes, 0);
	control_register(PROTO_LIST_OBJECTS, h_list_objects, 0);
	control_register(PROTO_LIST_VOLUME_STATS, h_list_volume_stats, 0);
	control_register(PROTO_DROP, h_drop, 0);	/* checks admin itself */
	control_register(PROTO_VOLUME_ACCESS, h_volume_access, 0);
	control_on_disconnect(CTL_SLOT_STORE, on_disconnect);
}
