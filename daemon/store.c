/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.c: the on-disk cache, byte-compatible with the kernel's cachefiles:
 * cache/I<volume key>/@00..@ff/<cooked key>, graveyard/, xattrs
 * user.CacheFiles.cache and user.larder.map (cfmt.h).
 *
 * The main thread owns every volume and object here. It only reads the
 * cache filesystem (openat O_RDONLY, fgetxattr, fstatat): anything that
 * can wait on a frozen filesystem (create, mkdir, write, rename, close of
 * a file we may hold last, setxattr, sync, utimensat) is a job on the io
 * thread (io.c) or a record for the meta thread (meta.c).
 *
 * An object in memory (struct obj) is shared by every client holding it.
 * Its rw file is a struct ofile, refcounted by the object, by the fills and
 * by the meta records that use its fd; the fd is set by the io thread in
 * the job that creates (O_TMPFILE) or opens it, and read by later io jobs
 * (same thread) or by the main thread after that job's done().
 */
#include <dirent.h>
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
#include "conf.h"
#include "control.h"
#include "cull.h"
#include "freeze.h"
#include "index.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "meta.h"
#include "proto.h"
#include "scan.h"
#include "store.h"
#include "workq.h"

#define OBJ_BUCKETS		4096
#define STAGE_DIR		"larder.new"	/* under dir, beside cache/ */
/* objects nobody holds stay in memory, without fds, least recently used
 * out first: a second acquire is then an open and a stat, not also two
 * getxattrs and a map decode */
#define IDLE_MAX		4096
#define FILL_REPLY_MS		1500	/* a fill stuck longer answers ENOBUFS */
#define FILL_TICK_MS		100	/* how often stuck fills are looked at */
#define FILL_MAX_GAPS		64
#define FILL_MAX_PENDING	(256ULL << 20)	/* bytes copied, not yet written */
#define ATIME_EVERY_MS		30000
#define ATIME_PER_PASS		4096
#define QUIESCE_POLL_MS		10
#define MAP_XATTR_MAX		(16 + 16 * CFMT_MAP_MAX_EXTENTS)
/* extents written to disk: ext4 keeps all xattrs of an inode in one 4 KiB
 * block (without ea_inode); beyond this the smallest are forgotten on disk
 * (a cache may forget, never invent) */
#define MAP_DISK_EXTENTS	200

enum vol_state { VOL_READY, VOL_CREATING, VOL_FAILED };

struct vol {
	struct vol *next;
	char key[CFMT_MAX_VOLUME_KEY + 1];
	uint32_t hash;
	uint8_t coh[CFMT_MAX_AUX];
	size_t coh_len;
	enum vol_state state;
	unsigned refs;			/* client handles */
	unsigned objs;			/* objects in memory */
	int idx;			/* index volume id */
};

struct ofile {
	int fd;				/* set by the io thread (see top) */
	int err;
	unsigned refs;
	int linked;			/* at its final name */
	int link_queued;
};

struct obj {
	struct obj *hnext;
	struct vol *v;
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
	int rofd;			/* handed to clients; -1: none */
	struct ofile *of;		/* current rw file; NULL: none open */
	struct orec *mrec;		/* meta record not yet submitted */
	uint32_t pin;			/* index id we pinned, or INDEX_NONE */
	int dropped;			/* removal queued: acquires miss */
	int on_disk;			/* rofd is the file at path */
	int idle;			/* on the idle list (no fds open) */
	struct obj *inext, *iprev;
	dev_t idle_dev;			/* the file as it was when idle began */
	ino_t idle_ino;
	struct timespec idle_ctime;
};

struct orec {
	struct meta_rec r;		/* first */
	struct obj *obj;
	struct ofile *of;
};

/* what one client holds (CTL_SLOT_STORE) */
struct sclient {
	void **vols;			/* struct vol * */
	uint32_t nvols;
	void **objs;			/* struct handle * */
	uint32_t nobjs;
};

/* A client's cookie: the object and the aux it was acquired (or last
 * invalidated) with. When another client changes the object's aux, this
 * handle is stale: its reads miss and its fills are refused, so it never
 * sees bytes stored under an aux that is not its own. */
struct handle {
	struct obj *o;
	uint32_t auxgen;
};

struct fill {
	struct work w;
	struct fill *next, *prev;	/* pending list (main thread) */
	struct ctl_req *rq;		/* NULL once answered */
	struct obj *obj;
	struct ofile *of;
	uint64_t len;			/* bytes the client asked for */
	uint64_t bytes;			/* bytes copied into data[] */
	uint64_t submitted;
	unsigned nseg;
	struct io_seg seg[FILL_MAX_GAPS];
	int err;
	uint8_t data[];
};

struct mkfile {
	struct work w;
	struct obj *obj;
	struct ofile *of;
	char dir[META_PATH_MAX];
	char path[META_PATH_MAX];
	dev_t dev;			/* open this file rw if it is still there */
	ino_t ino;
	int existing;
	int tmp;			/* result: a new tmpfile */
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

#define CLOSE_BATCH		256
#define CLOSE_DELAY_MS		5

struct closejob {
	struct work w;
	unsigned n;
	int fd[CLOSE_BATCH];
};

static struct {
	uint64_t hits, misses, fills, fill_bytes, served, invalidations,
	    errors, enobufs, volumes_created, volumes_invalidated, drops,
	    stuck_fills, strange;
} st;

static int cache_fd = -1, grave_fd = -1, stage_fd = -1, root_fd = -1;
static struct vol *vols;
static struct obj *buckets[OBJ_BUCKETS];
static unsigned nobjs;
static struct obj *idle_head, *idle_tail;	/* oldest first */
static unsigned nidle;
static struct closejob *closing;	/* fds gathered for the io thread */
static struct loop_timer *close_timer;
static struct fill *pending_fills;
static uint64_t pending_bytes;		/* bytes held by fills in flight */
static struct loop_timer *fill_timer, *atime_timer, *quiesce_timer;
static uint8_t *mapbuf;
static unsigned long grave_counter;	/* main thread */
static struct log_ratelimit rl_io, rl_meta, rl_strange;

static struct {
	int active;
	int step;
	unsigned flags;
	void (*done)(void *, int);
	void *arg;
	int err;
} qz;
static int quiesced;

static void obj_put(struct obj *o);
static void queue_meta(struct obj *o);
static void fill_timer_fn(void *arg);

/* ---- helpers ------------------------------------------------------------- */

static void
grave_name(char *out, size_t outsz, char kind)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, outsz, "%c%lx.%lx.%lu", kind, (unsigned long)getpid(),
	    (unsigned long)ts.tv_sec, grave_counter++);
}

static void
close_run(struct work *w)
{
	struct closejob *j = (struct closejob *)w;
	unsigned i;

	for (i = 0; i < j->n; i++)
		close(j->fd[i]);
}

static void
free_done(struct work *w)
{
	free(w);
}

/* Hand the fds gathered so far to the io thread. */
static void
close_flush(void *arg)
{
	struct closejob *j = closing;

	(void)arg;
	if (close_timer && arg == NULL)
		loop_timer_cancel(close_timer);
	close_timer = NULL;
	closing = NULL;
	if (j && j->n)
		io_submit(&j->w);
	else
		free(j);
}

static void
close_timer_fn(void *arg)
{
	(void)arg;
	close_timer = NULL;	/* a fired timer is freed by the loop */
	close_flush(&close_timer);
}

/*
 * Close an fd of the cache on the io thread: the last close of an unlinked
 * file frees its inode, which waits on a frozen filesystem. Closes are
 * gathered for a few ms and handed over together: one thread hop for many.
 */
static void
close_later(int fd)
{
	if (fd < 0)
		return;
	if (!closing) {
		closing = calloc(1, sizeof(*closing));
		if (!closing) {
			close(fd);	/* rare; better than leaking it */
			return;
		}
		closing->w.run = close_run;
		closing->w.done = free_done;
	}
	closing->fd[closing->n++] = fd;
	if (closing->n == CLOSE_BATCH)
		close_flush(NULL);
	else if (!close_timer)
		close_timer = loop_timer_add(CLOSE_DELAY_MS, close_timer_fn,
		    NULL);
}

static void
of_put(struct ofile *of)
{
	if (!of || --of->refs > 0)
		return;
	close_later(of->fd);
	free(of);
}

static int
writes_ok(void)
{
	return !qz.active && !quiesced && freeze_writes_ok() &&
	    cull_can_allocate();
}

static unsigned
obj_bucket(const struct vol *v, const char *name)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)v->key; *p; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % OBJ_BUCKETS;
}

static struct obj *
obj_find(const struct vol *v, const char *name)
{
	struct obj *o;

	for (o = buckets[obj_bucket(v, name)]; o; o = o->hnext)
		if (o->v == v && strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* The object's index id, looked up each time: the culler may delete and
 * reuse ids of objects nobody holds. */
static uint32_t
obj_idx(const struct obj *o)
{
	return index_find(o->v->idx, o->name);
}

/* Pin the index entry while clients hold the object, unpin after. A pinned
 * entry is never culled, so the id stays valid until we unpin it. */
static void
obj_pin(struct obj *o)
{
	uint32_t id;

	if (o->refs > 0 && o->pin == INDEX_NONE) {
		id = obj_idx(o);
		if (id != INDEX_NONE) {
			index_pin(id);
			o->pin = id;
		}
	} else if (o->refs == 0 && o->pin != INDEX_NONE) {
		index_unpin(o->pin);
		o->pin = INDEX_NONE;
	}
}

/* What the object takes on disk (what culling it gives back): its
 * allocated blocks, xattr blocks included; the map's bytes if it cannot
 * be asked (fstat of an open file never waits on a freeze). */
static uint64_t
obj_disk_bytes(const struct obj *o)
{
	struct stat sb;

	if (o->rofd >= 0 && fstat(o->rofd, &sb) == 0)
		return (uint64_t)sb.st_blocks * 512;
	return cfmt_map_bytes(&o->map);
}

/* The object is in the index now (or again): record it and pin it. */
static void
obj_indexed(struct obj *o, uint64_t bytes)
{
	uint32_t id;

	id = index_add(o->v->idx, o->fanout, o->name, bytes, time(NULL));
	if (id == INDEX_NONE)
		return;
	if (o->pin != INDEX_NONE && o->pin != id) {
		index_unpin(o->pin);
		o->pin = INDEX_NONE;
	}
	obj_pin(o);
}

/* Forget the index entry (the object leaves the disk). */
static void
obj_unindex(struct obj *o)
{
	uint32_t id;

	if (o->pin != INDEX_NONE) {
		index_unpin(o->pin);
		o->pin = INDEX_NONE;
	}
	if ((id = obj_idx(o)) != INDEX_NONE)
		index_del(id);
}

static struct obj *
obj_new(struct vol *v, const char *name, unsigned fanout)
{
	struct obj *o;
	unsigned b;

	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->v = v;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->fanout = fanout;
	snprintf(o->path, sizeof(o->path), "I%s/@%02x/%s", v->key, fanout,
	    name);
	o->rofd = -1;
	o->pin = INDEX_NONE;
	cfmt_map_init(&o->map);
	b = obj_bucket(v, name);
	o->hnext = buckets[b];
	buckets[b] = o;
	v->objs++;
	nobjs++;
	return o;
}

static void
idle_del(struct obj *o)
{
	if (!o->idle)
		return;
	if (o->iprev)
		o->iprev->inext = o->inext;
	else
		idle_head = o->inext;
	if (o->inext)
		o->inext->iprev = o->iprev;
	else
		idle_tail = o->iprev;
	o->inext = o->iprev = NULL;
	o->idle = 0;
	nidle--;
}

/* Free an object now (nobody holds it, no job uses it). */
static void
obj_free(struct obj *o)
{
	struct obj **pp;

	idle_del(o);
	obj_pin(o);
	for (pp = &buckets[obj_bucket(o->v, o->name)]; *pp; pp = &(*pp)->hnext)
		if (*pp == o) {
			*pp = o->hnext;
			break;
		}
	close_later(o->rofd);
	of_put(o->of);
	cfmt_map_free(&o->map);
	o->v->objs--;
	nobjs--;
	free(o);
}

/*
 * Nobody holds the object and no job uses it, so what is on disk is what
 * memory says: keep it on the idle list with its file's identity and
 * ctime (any xattr change moves ctime), closing every fd (a culled file
 * must not keep its space); else free it.
 */
static void
obj_put(struct obj *o)
{
	struct stat sb;

	if (o->refs > 0 || o->jobs > 0)
		return;
	obj_pin(o);
	if (o->idle)
		return;
	if (o->rofd < 0 || o->dropped || o->v->state != VOL_READY ||
	    !o->on_disk || fstat(o->rofd, &sb) < 0) {
		obj_free(o);
		return;
	}
	o->idle_dev = sb.st_dev;
	o->idle_ino = sb.st_ino;
	o->idle_ctime = sb.st_ctim;
	close_later(o->rofd);
	o->rofd = -1;
	of_put(o->of);
	o->of = NULL;
	o->idle = 1;
	o->iprev = idle_tail;
	o->inext = NULL;
	if (idle_tail)
		idle_tail->inext = o;
	else
		idle_head = o;
	idle_tail = o;
	nidle++;
	while (nidle > IDLE_MAX)
		obj_free(idle_head);
}

/* Take an idle object back: 1 if its file is still the one it was (same
 * inode, same ctime: no xattr changed), with rofd open again; else 0. */
static int
obj_wake(struct obj *o)
{
	struct stat sb;
	uint32_t idx;
	int fd;

	idle_del(o);
	idx = obj_idx(o);
	if (idx == INDEX_NONE || index_get_state(idx) != INDEX_LIVE)
		return 0;
	fd = openat(cache_fd, o->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_dev != o->idle_dev || sb.st_ino != o->idle_ino ||
	    sb.st_ctim.tv_sec != o->idle_ctime.tv_sec ||
	    sb.st_ctim.tv_nsec != o->idle_ctime.tv_nsec) {
		close(fd);	/* still linked: never the last reference */
		return 0;
	}
	o->rofd = fd;
	return 1;
}

/* The culler moved an object nobody held into the graveyard: forget the
 * idle object (it keeps no fd, so the space comes back anyway; this only
 * spares the next acquire a failed wake). Called on the main thread before
 * the index entry goes. */
static void
on_culled(void *arg, uint32_t id)
{
	const char *name = index_name(id);
	struct vol *v;
	struct obj *o;

	(void)arg;
	if (!name)
		return;
	for (v = vols; v; v = v->next)
		if (v->idx == (int)index_vol(id))
			break;
	if (!v || !(o = obj_find(v, name)))
		return;
	if (o->idle && o->refs == 0 && o->jobs == 0)
		obj_free(o);
}

/* Free the idle objects of a volume (all volumes: v NULL). */
static void
idle_evict(struct vol *v)
{
	struct obj *o, *next;

	for (o = idle_head; o; o = next) {
		next = o->inext;
		if (!v || o->v == v)
			obj_free(o);
	}
}

/* Forget the object's file and data in memory: a new generation follows. */
static void
obj_reset(struct obj *o)
{
	cfmt_map_clear(&o->map);
	o->gen++;
	close_later(o->rofd);
	o->rofd = -1;
	o->on_disk = 0;
	of_put(o->of);
	o->of = NULL;
	o->mrec = NULL;		/* a queued record still publishes the old file */
}

/* ---- object xattr and map snapshot --------------------------------------- */

static int
obj_content(const struct obj *o)
{
	if (o->map.count == 0)
		return CFMT_CONTENT_NONE;
	if (o->size > 0 && cfmt_map_covers(&o->map, 0, o->size))
		return CFMT_CONTENT_ALL;
	return CFMT_CONTENT_MAP;
}

static int
snapshot(struct obj *o, struct meta_rec *r)
{
	struct cfmt_map lim, *m = &o->map;
	struct cfmt_obj x;
	size_t len;
	int n;

	memset(&x, 0, sizeof(x));
	x.object_size = o->size;
	x.type = CFMT_TYPE_DATA;
	x.content = obj_content(o);
	x.aux_len = o->aux_len;
	memcpy(x.aux, o->aux, o->aux_len);
	n = cfmt_obj_encode(&x, r->xattr, sizeof(r->xattr));
	if (n < 0)
		return n;
	r->xattr_len = n;
	free(r->map);
	r->map = NULL;
	r->map_len = 0;
	cfmt_map_init(&lim);
	if (m->count > MAP_DISK_EXTENTS) {
		if ((n = cfmt_map_copy(&lim, m)) < 0)
			return n;
		cfmt_map_limit(&lim, MAP_DISK_EXTENTS);
		m = &lim;
		if (x.content == CFMT_CONTENT_ALL) {	/* not any more */
			x.content = CFMT_CONTENT_MAP;
			n = cfmt_obj_encode(&x, r->xattr, sizeof(r->xattr));
			if (n < 0)
				goto out;
		}
	}
	len = cfmt_map_encoded_len(m->count);
	r->map = malloc(len);
	n = r->map ? cfmt_map_encode(m, r->map, len) : -ENOMEM;
out:
	cfmt_map_free(&lim);
	if (n < 0) {
		free(r->map);
		r->map = NULL;
		return n;
	}
	r->map_len = n;
	return 0;
}

static void
meta_obj_done(struct meta_rec *r)
{
	struct orec *or = (struct orec *)r;
	struct obj *o = or->obj;
	struct ofile *of = or->of;

	if (o->mrec == or)
		o->mrec = NULL;
	if (r->err) {
		st.errors++;
		log_warnx_rl(&rl_meta, "meta: %s: %s", o->path,
		    strerror(-r->err));
		if (r->link)
			of->link_queued = 0;	/* the next record tries again */
	} else {
		if (r->link)
			of->linked = 1;
		if (o->of == of && of->linked)
			o->on_disk = 1;
		if (o->of == of && !o->dropped)
			obj_indexed(o, obj_disk_bytes(o));
	}
	free(r->map);
	of_put(of);
	free(or);
	o->jobs--;
	obj_put(o);
}

/* Queue (or refresh) the meta record that publishes the object's state. */
static void
queue_meta(struct obj *o)
{
	struct orec *or = o->mrec;

	if (!o->of || o->of->fd < 0)
		return;
	if (or && (or->r.submitted || or->of != o->of))
		or = NULL;
	if (!or) {
		or = calloc(1, sizeof(*or));
		if (!or) {
			st.errors++;
			return;
		}
		or->r.kind = META_OBJECT;
		or->r.fd = o->of->fd;
		or->r.done = meta_obj_done;
		or->obj = o;
		or->of = o->of;
		o->of->refs++;
		idle_del(o);
		o->jobs++;
		snprintf(or->r.path, sizeof(or->r.path), "%s", o->path);
		if (!o->of->linked && !o->of->link_queued) {
			or->r.link = 1;
			o->of->link_queued = 1;
		}
		if (snapshot(o, &or->r) < 0) {
			st.errors++;
			free(or->r.map);
			or->r.map = NULL;
		}
		o->mrec = or;
		meta_queue(&or->r);
		return;
	}
	if (snapshot(o, &or->r) < 0)
		st.errors++;
}

/* ---- files --------------------------------------------------------------- */

static void
mkfile_run(struct work *w)
{
	struct mkfile *j = (struct mkfile *)w;
	struct stat sb;
	int fd = -1;

	j->tmp = 0;
	if (j->existing) {
		fd = openat(cache_fd, j->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &sb) < 0 || sb.st_dev != j->dev ||
		    sb.st_ino != j->ino || !S_ISREG(sb.st_mode))) {
			close(fd);	/* replaced or culled meanwhile */
			fd = -1;
		}
	}
	if (fd < 0) {
		fd = openat(cache_fd, j->dir, O_TMPFILE | O_RDWR | O_CLOEXEC,
		    0600);
		j->tmp = 1;
	}
	if (fd < 0)
		j->of->err = -errno;
	j->of->fd = fd;
}

static void
mkfile_done(struct work *w)
{
	struct mkfile *j = (struct mkfile *)w;
	struct obj *o = j->obj;
	char proc[64];
	int fd;

	if (j->of->fd < 0) {
		st.errors++;
		log_warnx_rl(&rl_io, "store: create %s: %s", o->path,
		    strerror(-j->of->err));
		if (o->of == j->of) {
			of_put(o->of);
			o->of = NULL;
		}
	} else if (o->of == j->of && j->tmp) {
		j->of->linked = 0;
		/* readers get their own read-only open file */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", j->of->fd);
		fd = open(proc, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			st.errors++;
			log_warn("store: reopen %s read-only", o->path);
		}
		/* data of another file is not in this one */
		cfmt_map_clear(&o->map);
		close_later(o->rofd);
		o->rofd = fd;
		o->on_disk = 0;		/* until the meta thread links it */
		o->gen++;
		queue_meta(o);		/* publish it even if no fill follows */
	} else if (j->tmp) {
		j->of->linked = 0;
	} else {
		j->of->linked = 1;
	}
	of_put(j->of);
	free(j);
	o->jobs--;
	obj_put(o);
}

/* Make sure the object has a rw file (or one on the way). */
static int
obj_file(struct obj *o, int fresh)
{
	struct mkfile *j;
	struct ofile *of;
	struct stat sb;

	if (o->of)
		return 0;
	j = calloc(1, sizeof(*j));
	of = calloc(1, sizeof(*of));
	if (!j || !of) {
		free(j);
		free(of);
		return -ENOMEM;
	}
	of->fd = -1;
	of->refs = 2;		/* the object's and the job's */
	j->of = of;
	j->obj = o;
	snprintf(j->dir, sizeof(j->dir), "I%s/@%02x", o->v->key, o->fanout);
	snprintf(j->path, sizeof(j->path), "%s", o->path);
	if (!fresh && o->rofd >= 0 && fstat(o->rofd, &sb) == 0) {
		j->existing = 1;
		j->dev = sb.st_dev;
		j->ino = sb.st_ino;
	}
	j->w.run = mkfile_run;
	j->w.done = mkfile_done;
	o->of = of;
	idle_del(o);
	o->jobs++;
	io_submit(&j->w);
	return 0;
}

/* ---- loading an object --------------------------------------------------- */

/*
 * Open the object on disk read-only and check it against (aux, size), or
 * take it as it is (any). Returns 1 usable (o->rofd, map, aux, size set),
 * 0 absent, -1 there but stale (or not ours to use).
 */
static int
obj_load(struct obj *o, const uint8_t *aux, size_t aux_len, uint64_t size,
    int any)
{
	uint8_t xb[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX + 1];
	struct cfmt_obj x;
	struct stat sb;
	ssize_t xl, ml;
	int fd;

	fd = openat(cache_fd, o->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) {
			st.strange++;
			log_warnx_rl(&rl_strange, "store: open %s: %s", o->path,
			    strerror(errno));
		}
		return 0;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		st.strange++;
		log_warnx_rl(&rl_strange, "store: %s: not a regular file: "
		    "ignored", o->path);
		goto stale;
	}
	xl = fgetxattr(fd, CFMT_XATTR, xb, sizeof(xb));
	if (xl < 0)
		goto stale;
	if (any) {
		if (cfmt_obj_decode(xb, xl, &x) < 0 ||
		    x.type != CFMT_TYPE_DATA ||
		    x.content == CFMT_CONTENT_DIRTY)
			goto stale;
		size = x.object_size;
		aux = x.aux;
		aux_len = x.aux_len;
	} else if (!cfmt_obj_usable(xb, xl, aux, aux_len, size)) {
		goto stale;
	} else if (cfmt_obj_decode(xb, xl, &x) < 0)
		goto stale;
	o->size = size;
	memcpy(o->aux, aux, aux_len);
	o->aux_len = aux_len;
	cfmt_map_clear(&o->map);
	ml = fgetxattr(fd, CFMT_MAP_XATTR, mapbuf, MAP_XATTR_MAX);
	if (ml >= 0) {
		if (cfmt_map_decode(mapbuf, ml, size, &o->map) < 0) {
			cfmt_map_clear(&o->map);	/* a bad map: no data */
			log_warnx_rl(&rl_strange, "store: %s: bad map: "
			    "treated as empty", o->path);
		}
	} else if (x.content == CFMT_CONTENT_ALL && size > 0) {
		if (cfmt_map_add(&o->map, 0, size) < 0)
			cfmt_map_clear(&o->map);
	}
	/* never claim bytes past the end of the file */
	cfmt_map_truncate(&o->map, (uint64_t)sb.st_size);
	o->rofd = fd;
	o->on_disk = 1;
	o->gen++;
	if (obj_idx(o) == INDEX_NONE)
		obj_indexed(o, (uint64_t)sb.st_blocks * 512);
	return 1;
stale:
	close(fd);
	return -1;
}

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

static struct handle *
get_handle(struct ctl_req *rq, uint32_t id)
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
vol_run(struct work *w)
{
	struct voljob *j = (struct voljob *)w;
	char fan[8];
	int dfd, i;

	j->err = 0;
	if (j->replace && renameat(cache_fd, j->name, grave_fd, j->grave) < 0 &&
	    errno != ENOENT) {
		j->err = -errno;
		return;
	}
	if (mkdirat(cache_fd, j->name, 0700) < 0 && errno != EEXIST) {
		j->err = -errno;
		return;
	}
	dfd = openat(cache_fd, j->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd < 0) {
		j->err = -errno;
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
		st.errors++;
		log_warnx_rl(&rl_meta, "meta: volume %s: %s", r->path,
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
		st.errors++;
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
			st.errors++;
		} else {
			r->kind = META_VOLUME;
			r->xattr_len = n;
			snprintf(r->path, sizeof(r->path), "%s", j->name);
			r->done = vol_meta_done;
			meta_queue(r);
		}
	}
	free(j);
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

/* Objects of a volume whose directory goes away start empty. */
static void
vol_reset_objects(struct vol *v)
{
	struct obj *o;
	unsigned b;

	for (b = 0; b < OBJ_BUCKETS; b++)
		for (o = buckets[b]; o; o = o->hnext)
			if (o->v == v)
				obj_reset(o);
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

	for (v = vols; v; v = v->next)
		if (strcmp(v->key, key) == 0)
			return v;
	return NULL;
}

static int
h_volume_acquire(struct ctl_req *rq)
{
	uint8_t body[8], xb[CFMT_VOL_XATTR_HDR + CFMT_MAX_AUX + 1];
	char key[CFMT_MAX_VOLUME_KEY + 1], name[CFMT_MAX_VOLUME_KEY + 2];
	struct proto_bytes coh;
	struct proto_buf b;
	struct sclient *s;
	struct vol *v;
	struct stat sb;
	uint32_t flags, rflags = 0, id;
	ssize_t xl;
	int fd, any, err = 0, vidx;

	flags = proto_get_u32(&rq->body);
	if ((err = get_volume_key(&rq->body, key, sizeof(key))) < 0)
		return err;
	coh = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (coh.len > CFMT_MAX_AUX)
		return -EINVAL;
	any = flags & PROTO_VOLUME_ANY_COHERENCY;
	s = sclient(rq->client);
	if (!s)
		return -ENOMEM;
	v = vol_find(key);
	if (v && !any && v->state != VOL_FAILED &&
	    (v->coh_len != coh.len || memcmp(v->coh, coh.ptr, coh.len))) {
		if (!writes_ok())
			return -ENOBUFS;
		/* new coherency data: the volume starts empty */
		memcpy(v->coh, coh.ptr, coh.len);
		v->coh_len = coh.len;
		vol_reset_objects(v);
		index_drop_volume(v->idx);
		if ((err = vol_create(v, 1)) < 0)
			return err;
		st.volumes_invalidated++;
		rflags |= PROTO_VOLUME_INVALIDATED;
	} else if (v && v->state == VOL_FAILED) {
		if (!writes_ok())
			return -ENOBUFS;
		if (!any) {
			memcpy(v->coh, coh.ptr, coh.len);
			v->coh_len = coh.len;
		}
		if ((err = vol_create(v, 0)) < 0)
			return err;
	} else if (!v) {
		vidx = index_volume(key);
		if (vidx < 0)
			return vidx;
		v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		snprintf(v->key, sizeof(v->key), "%s", key);
		v->hash = cfmt_volume_hash(key, strlen(key));
		v->idx = vidx;
		memcpy(v->coh, coh.ptr, coh.len);
		v->coh_len = coh.len;
		snprintf(name, sizeof(name), "I%s", key);
		v->state = VOL_READY;
		if (fstatat(cache_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			if (!writes_ok()) {
				free(v);
				return -ENOBUFS;
			}
			err = vol_create(v, 0);
			rflags |= PROTO_VOLUME_CREATED;
			st.volumes_created++;
		} else {
			fd = S_ISDIR(sb.st_mode) ? openat(cache_fd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) :
			    -1;
			xl = fd >= 0 ? fgetxattr(fd, CFMT_XATTR, xb,
			    sizeof(xb)) : -1;
			if (fd >= 0)
				close(fd);	/* a directory: never the last
						   reference of anything */
			if (any && xl >= CFMT_VOL_XATTR_HDR &&
			    xl <= CFMT_VOL_XATTR_HDR + CFMT_MAX_AUX) {
				v->coh_len = xl - CFMT_VOL_XATTR_HDR;
				memcpy(v->coh, xb + CFMT_VOL_XATTR_HDR,
				    v->coh_len);
				err = 0;
			} else if (xl < 0 || !cfmt_vol_matches(xb, xl,
			    v->coh, v->coh_len)) {
				if (!writes_ok()) {
					free(v);
					return -ENOBUFS;
				}
				index_drop_volume(vidx);
				err = vol_create(v, 1);
				st.volumes_invalidated++;
				rflags |= PROTO_VOLUME_INVALIDATED;
			} else
				err = 0;
		}
		if (err < 0) {
			free(v);
			return err;
		}
		v->next = vols;
		vols = v;
	}
	id = handle_add(&s->vols, &s->nvols, v);
	if (!id)
		return -ENOMEM;
	v->refs++;
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, id);
	proto_put_u32(&b, rflags);
	control_reply(rq, PROTO_OK, body, b.off, -1);
	return 0;
}

static void
mv_run(struct work *w)
{
	struct mvjob *j = (struct mvjob *)w;

	j->err = 0;
	if (renameat(cache_fd, j->path, grave_fd, j->grave) < 0 &&
	    errno != ENOENT)
		j->err = -errno;
}

static void
mv_done(struct work *w)
{
	struct mvjob *j = (struct mvjob *)w;

	if (j->err) {
		st.errors++;
		log_warnx_rl(&rl_io, "store: move %s to the graveyard: %s",
		    j->path, strerror(-j->err));
	}
	cull_kick();
	if (j->obj) {
		j->obj->dropped = 0;
		j->obj->jobs--;
		obj_put(j->obj);
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
		idle_del(o);
		o->jobs++;
	}
	meta_flush(mv_after_meta, j);
	return 0;
}

/* Remove an object from disk and forget its data (retire, drop). */
static int
obj_drop(struct obj *o)
{
	obj_reset(o);
	obj_unindex(o);
	st.drops++;
	return move_to_grave(o->path, o, 'O');
}

static void
release_cookie(struct sclient *s, uint32_t id, int retire)
{
	struct handle *h = s->objs[id - 1];
	struct obj *o = h->o;
	uint32_t idx;

	s->objs[id - 1] = NULL;
	/* a stale handle retires nothing: the object is another's now */
	if (retire && h->auxgen == o->auxgen)
		obj_drop(o);
	free(h);
	o->refs--;
	if ((idx = obj_idx(o)) != INDEX_NONE)
		index_touch(idx, time(NULL));
	obj_pin(o);
	obj_put(o);
}

static int
h_volume_relinquish(struct ctl_req *rq)
{
	struct sclient *s = control_client_get(rq->client, CTL_SLOT_STORE);
	uint32_t id, flags, i;
	char name[CFMT_MAX_VOLUME_KEY + 2];
	struct vol *v;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(v = get_vol(rq, id)))
		return -ENOENT;
	for (i = 0; i < s->nobjs; i++)
		if (s->objs[i] && ((struct handle *)s->objs[i])->o->v == v)
			return -EBUSY;
	if (flags & PROTO_RELINQUISH_RETIRE)
		idle_evict(v);
	if ((flags & PROTO_RELINQUISH_RETIRE) && v->refs == 1 && v->objs == 0) {
		if (!writes_ok())
			return -ENOBUFS;
		snprintf(name, sizeof(name), "I%s", v->key);
		index_drop_volume(v->idx);
		move_to_grave(name, NULL, 'V');
		v->state = VOL_FAILED;		/* remade on next acquire */
	}
	s->vols[id - 1] = NULL;
	v->refs--;
	control_reply(rq, PROTO_OK, NULL, 0, -1);
	return 0;
}

/* ---- cookies ------------------------------------------------------------- */

/* Reply with the object's state; an fd goes with it when give_fd. */
static void
reply_state(struct ctl_req *rq, struct obj *o, uint32_t id, uint32_t flags,
    int give_fd)
{
	static uint8_t body[PROTO_MAX_MSG];	/* main thread only */
	struct proto_buf b;
	uint32_t i, n;

	n = o->map.count;
	if (n > PROTO_MAX_EXTENTS) {
		n = PROTO_MAX_EXTENTS;
		flags |= PROTO_COOKIE_MAP_TRUNCATED;
	}
	if (give_fd && o->rofd >= 0)
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
		st.served += cfmt_map_bytes(&o->map);
	control_reply(rq, PROTO_OK, body, b.off,
	    (flags & PROTO_COOKIE_HAVE_FD) ? o->rofd : -1);
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
	obj_reset(o);
	memcpy(o->aux, aux, aux_len);
	o->aux_len = aux_len;
	o->size = size;
	o->auxgen++;
	st.invalidations++;
	if (writes_ok() && o->v->state != VOL_FAILED && !o->dropped)
		(void)obj_file(o, 1);
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
	int n, any, isnew = 0, loaded;

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
	s = sclient(rq->client);
	if (!s)
		return -ENOMEM;
	fan = cfmt_fanout(key.ptr, key.len, v->hash);
	o = obj_find(v, name);
	if (o && o->idle && !obj_wake(o)) {
		obj_free(o);	/* changed or culled meanwhile: read it again */
		o = NULL;
	}
	if (!o) {
		o = obj_new(v, name, fan);
		if (!o)
			return -ENOMEM;
		isnew = 1;
		idx = obj_idx(o);
		if (v->state != VOL_READY || (idx != INDEX_NONE &&
		    index_get_state(idx) == INDEX_CULLING))
			loaded = 0;
		else
			loaded = obj_load(o, aux.ptr, aux.len, size, any);
		if (loaded <= 0 && !any) {
			memcpy(o->aux, aux.ptr, aux.len);
			o->aux_len = aux.len;
			o->size = size;
			/* as the kernel does: a stale object is replaced at
			 * once (by an empty one, published over its name) */
			if (loaded < 0 && writes_ok()) {
				st.invalidations++;
				(void)obj_file(o, 1);
			}
		}
	} else if (!any && (o->size != size || o->aux_len != aux.len ||
	    memcmp(o->aux, aux.ptr, aux.len))) {
		obj_replace(o, aux.ptr, aux.len, size);
	}
	if (o->rofd < 0 || o->dropped)
		rflags |= PROTO_COOKIE_NEW;
	if (o->map.count)
		st.hits++;
	else
		st.misses++;
	h = malloc(sizeof(*h));
	id = h ? handle_add(&s->objs, &s->nobjs, h) : 0;
	if (!id) {
		free(h);
		if (isnew)
			obj_put(o);
		return -ENOMEM;
	}
	h->o = o;
	h->auxgen = o->auxgen;
	idle_del(o);
	o->refs++;
	if ((idx = obj_idx(o)) != INDEX_NONE)
		index_touch(idx, time(NULL));
	obj_pin(o);
	reply_state(rq, o, id, rflags, 1);
	return 0;
}

static int
h_cookie_relinquish(struct ctl_req *rq)
{
	struct sclient *s = control_client_get(rq->client, CTL_SLOT_STORE);
	uint32_t id, flags;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	if (!rq->body.err && (flags & PROTO_RELINQUISH_NOREPLY)) {
		/* the client forgot the handle already: nothing to answer,
		 * not even an error */
		if (get_handle(rq, id))
			release_cookie(s, id, (flags &
			    PROTO_RELINQUISH_RETIRE) && writes_ok());
		control_done(rq);
		return 0;
	}
	if (rq->body.err)
		return -EPROTO;
	if (!get_handle(rq, id))
		return -ENOENT;
	if ((flags & PROTO_RELINQUISH_RETIRE) && !writes_ok())
		flags = 0;	/* it stays; a cache may keep what it has */
	release_cookie(s, id, flags & PROTO_RELINQUISH_RETIRE);
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
	if (!(h = get_handle(rq, id)))
		return -ENOENT;
	o = h->o;
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

	id = proto_get_u32(&rq->body);
	(void)proto_get_u32(&rq->body);
	size = proto_get_u64(&rq->body);
	aux = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(h = get_handle(rq, id)))
		return -ENOENT;
	if (aux.len > CFMT_MAX_AUX)
		return -EINVAL;
	o = h->o;
	obj_replace(o, aux.ptr, aux.len, size);
	h->auxgen = o->auxgen;		/* this handle follows the new aux */
	reply_state(rq, o, id, PROTO_COOKIE_NEW, 0);
	return 0;
}

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

static void
fill_run(struct work *w)
{
	struct fill *f = (struct fill *)w;

	if (f->of->fd < 0) {
		f->err = f->of->err ? f->of->err : -EIO;
		return;
	}
	f->err = io_write(f->of->fd, f->seg, f->nseg);
}

static void
fill_done(struct work *w)
{
	struct fill *f = (struct fill *)w;
	struct obj *o = f->obj;
	uint8_t body[8];
	struct proto_buf b;
	uint32_t idx;
	unsigned i;
	int ok = 1;

	fill_unlink(f);
	pending_bytes -= f->bytes;
	if (f->err) {
		st.errors++;
		log_warnx_rl(&rl_io, "store: fill %s: %s", o->path,
		    strerror(-f->err));
	} else if (o->of == f->of) {
		for (i = 0; i < f->nseg && ok; i++)
			if (cfmt_map_add(&o->map, f->seg[i].off,
			    f->seg[i].len) < 0)
				ok = 0;
		if (ok) {
			for (i = 0; i < f->nseg; i++)
				st.fill_bytes += f->seg[i].len;
			queue_meta(o);
			if ((idx = obj_idx(o)) != INDEX_NONE)
				index_set_bytes(idx, obj_disk_bytes(o));
			cull_kick();
		} else {
			st.errors++;
		}
	}
	if (f->rq) {
		if (f->err) {
			control_reply_str(f->rq, PROTO_ENOBUFS, "fill: %s",
			    strerror(-f->err));
		} else {
			proto_buf_init(&b, body, sizeof(body));
			proto_put_u64(&b, f->len);
			control_reply(f->rq, PROTO_OK, body, b.off, -1);
		}
	}
	of_put(f->of);
	free(f);
	o->jobs--;
	obj_put(o);
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
			st.stuck_fills++;
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

static int
h_write(struct ctl_req *rq)
{
	const uint8_t *data, *shm;
	uint32_t id, flags;
	uint64_t off, len, shm_off, shm_size, pos, end, gap, total = 0;
	struct cfmt_extent *e;
	struct handle *h;
	struct fill *f;
	struct obj *o;
	uint8_t body[8];
	struct proto_buf b;
	struct io_seg seg[FILL_MAX_GAPS];
	unsigned nseg = 0, i;

	id = proto_get_u32(&rq->body);
	flags = proto_get_u32(&rq->body);
	off = proto_get_u64(&rq->body);
	len = proto_get_u64(&rq->body);
	shm_off = proto_get_u64(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	if (!(h = get_handle(rq, id)))
		return -ENOENT;
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
	if (!writes_ok() || o->dropped || o->v->state == VOL_FAILED) {
		st.enobufs++;
		control_reply_str(rq, PROTO_ENOBUFS, "%s", !freeze_writes_ok() ?
		    "cache frozen or suspended" : !cull_can_allocate() ?
		    "cache full" : "cache busy");
		return 0;
	}
	/* only the parts not already claimed: never rewrite them in place */
	pos = off;
	end = off + len;
	for (i = 0; i < o->map.count && pos < end && nseg < FILL_MAX_GAPS;
	    i++) {
		e = &o->map.ext[i];
		if (e->start + e->len <= pos)
			continue;
		if (e->start >= end)
			break;
		if (e->start > pos) {
			seg[nseg].off = pos;
			seg[nseg].len = e->start - pos;
			nseg++;
		}
		pos = e->start + e->len;
	}
	if (pos < end && nseg < FILL_MAX_GAPS) {
		seg[nseg].off = pos;
		seg[nseg].len = end - pos;
		nseg++;
	}
	if (nseg == 0 || len == 0) {
		proto_buf_init(&b, body, sizeof(body));
		proto_put_u64(&b, len);
		control_reply(rq, PROTO_OK, body, b.off, -1);
		return 0;
	}
	for (i = 0; i < nseg; i++)
		total += seg[i].len;
	if (pending_bytes + total > FILL_MAX_PENDING) {
		/* the disk is slower than the clients: shed load */
		st.enobufs++;
		control_reply_str(rq, PROTO_ENOBUFS, "too many fills in flight");
		return 0;
	}
	f = malloc(sizeof(*f) + total);
	if (!f)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	/* the job owns its bytes: copied now, from the message or the area */
	total = 0;
	for (i = 0; i < nseg; i++) {
		gap = seg[i].len;
		memcpy(f->data + total, data + (seg[i].off - off), gap);
		f->seg[i] = seg[i];
		f->seg[i].buf = f->data + total;
		total += gap;
	}
	f->nseg = nseg;
	f->bytes = total;
	if (obj_file(o, 0) < 0) {
		free(f);
		return -ENOMEM;
	}
	f->of = o->of;
	f->of->refs++;
	f->obj = o;
	idle_del(o);
	o->jobs++;
	f->rq = rq;
	f->len = len;
	f->submitted = loop_now_ms();
	f->w.run = fill_run;
	f->w.done = fill_done;
	f->next = pending_fills;
	if (pending_fills)
		pending_fills->prev = f;
	pending_fills = f;
	st.fills++;
	pending_bytes += total;
	io_submit(&f->w);
	if (!fill_timer)
		fill_timer = loop_timer_add(FILL_TICK_MS, fill_timer_fn, NULL);
	return CTL_DEFERRED;
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

static int
h_list_volumes(struct ctl_req *rq)
{
	struct proto_buf b;
	uint8_t *body;
	uint32_t cur, count = 0, n, next = 0;
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
		if (b.size - b.off < 2 + CFMT_MAX_VOLUME_KEY + 16) {
			next = cur;
			break;
		}
		key = index_volume_key(cur);
		if (!key)
			continue;
		proto_put_str(&b, key);
		proto_put_u64(&b, index_volume_objects(cur));
		proto_put_u64(&b, index_volume_bytes(cur));
		count++;
	}
	return reply_listing(rq, &b, next, cnt_off, count);
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
	uint32_t fl;

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
		id = index_next(vidx, &cur);
		if (id == INDEX_NONE)
			break;
		kl = cfmt_uncook_key(index_name(id), kb, sizeof(kb));
		o = v ? obj_find(v, index_name(id)) : NULL;
		osize = o ? o->size : index_bytes(id);
		fl = index_pins(id) ? PROTO_OBJECT_PINNED : 0;
		proto_put_str(&b, index_name(id));
		proto_put_bytes(&b, kb, kl < 0 ? 0 : (size_t)kl);
		proto_put_u64(&b, osize);
		proto_put_u64(&b, index_bytes(id));
		proto_put_u64(&b, (uint64_t)index_last_use(id));
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
	if (!writes_ok())
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
		if (vidx < 0 && !v && faccessat(cache_fd, path, F_OK,
		    AT_SYMLINK_NOFOLLOW) < 0)
			return -ENOENT;
		if (v) {
			vol_reset_objects(v);
			v->state = VOL_FAILED;	/* remade on next acquire */
		}
		if (vidx >= 0)
			index_drop_volume(vidx);
		st.drops++;
		return move_to_grave(path, NULL, 'V');
	}
	if (key_len > CFMT_MAX_COOKIE_KEY)
		return -EINVAL;
	n = cfmt_cook_key(key, key_len, name, sizeof(name));
	if (n < 0 || n > NAME_MAX)
		return -EINVAL;
	if (v && (o = obj_find(v, name)) != NULL)
		return obj_drop(o);
	snprintf(path, sizeof(path), "I%s/@%02x/%s", volume_key,
	    cfmt_fanout(key, key_len, cfmt_volume_hash(volume_key,
	    strlen(volume_key))), name);
	id = vidx >= 0 ? index_find(vidx, name) : INDEX_NONE;
	if (id == INDEX_NONE && faccessat(cache_fd, path, F_OK,
	    AT_SYMLINK_NOFOLLOW) < 0)
		return -ENOENT;
	if (id != INDEX_NONE)
		index_del(id);
	st.drops++;
	if (v && (o = obj_new(v, name, cfmt_fanout(key, key_len, v->hash))))
		return move_to_grave(path, o, 'O');	/* acquires miss meanwhile */
	return move_to_grave(path, NULL, 'O');
}

static int
h_drop(struct ctl_req *rq)
{
	char vkey[CFMT_MAX_VOLUME_KEY + 1];
	struct proto_bytes key;
	int err;

	if ((err = get_volume_key(&rq->body, vkey, sizeof(vkey))) < 0)
		return err;
	key = proto_get_bytes(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	/* one object: any peer (a client may invalidate what it caches);
	 * a whole volume: root or admin_group (DESIGN.md) */
	if (key.len == 0 && !rq->admin) {
		control_reply_str(rq, PROTO_EPERM, "dropping a whole volume "
		    "needs root or admin_group");
		return 0;
	}
	err = store_drop(vkey, key.ptr, key.len);
	if (err < 0)
		return err;
	control_reply_str(rq, PROTO_OK, "dropped");
	return 0;
}

/* ---- disconnect ---------------------------------------------------------- */

static void
on_disconnect(struct ctl_client *c, void *p)
{
	struct sclient *s = p;
	uint32_t i;

	(void)c;
	for (i = 0; i < s->nobjs; i++)
		if (s->objs[i])
			release_cookie(s, i + 1, 0);
	for (i = 0; i < s->nvols; i++)
		if (s->vols[i])
			((struct vol *)s->vols[i])->refs--;
	free(s->objs);
	free(s->vols);
	free(s);
}

/* ---- atimes -------------------------------------------------------------- */

static void
atime_done(struct meta_rec *r)
{
	if (r->err && r->err != -ENOENT)
		log_warnx_rl(&rl_meta, "meta: atime %s: %s", r->path,
		    strerror(-r->err));
	free(r);
}

/* Queue last-use times not yet on disk as atime records. */
static void
queue_atimes(unsigned max)
{
	struct meta_rec *r;
	uint32_t cur = 0, id;
	unsigned n = 0;
	const char *vk;

	while (n < max && (id = index_next(-1, &cur)) != INDEX_NONE) {
		if (!index_atime_dirty(id) ||
		    index_get_state(id) != INDEX_LIVE)
			goto next;
		vk = index_volume_key(index_vol(id));
		r = vk ? calloc(1, sizeof(*r)) : NULL;
		if (!r)
			goto next;
		r->kind = META_ATIME;
		snprintf(r->path, sizeof(r->path), "I%s/@%02x/%s", vk,
		    index_fanout(id), index_name(id));
		r->atime.tv_sec = index_last_use(id);
		r->done = atime_done;
		meta_queue(r);
		index_atime_clean(id);
		n++;
next:
		;
	}
}

static void
atime_timer_fn(void *arg)
{
	(void)arg;
	if (writes_ok())
		queue_atimes(ATIME_PER_PASS);
	atime_timer = loop_timer_add(ATIME_EVERY_MS, atime_timer_fn, NULL);
}

/* ---- quiesce ------------------------------------------------------------- */

static void quiesce_step(void *arg);

static void
quiesce_meta_done(void *arg)
{
	(void)arg;
	qz.step = 3;
	quiesce_step(NULL);
}

static void
syncfs_done(struct meta_rec *r)
{
	if (r->err) {
		qz.err = r->err;
		log_warnx("store: syncfs: %s", strerror(-r->err));
	}
	free(r);
}

/*
 * Steps: 1 wait for the io thread (fills in flight) to drain; 2 queue
 * atimes and a syncfs, flush meta; 3 (with CLOSE) drop every rw file and
 * wait for the io thread to close them; 4 done.
 */
static void
quiesce_step(void *arg)
{
	struct meta_rec *r;
	struct obj *o;
	unsigned b;

	(void)arg;
	quiesce_timer = NULL;
	if (!qz.active)
		return;
	switch (qz.step) {
	case 1:
		close_flush(NULL);
		if (io_inflight() > 0)
			break;
		qz.step = 2;
		queue_atimes(~0U);
		r = calloc(1, sizeof(*r));
		if (r) {
			r->kind = META_SYNCFS;
			r->done = syncfs_done;
			meta_queue(r);
		}
		meta_flush(quiesce_meta_done, NULL);
		return;
	case 2:
		return;		/* waiting for meta_flush */
	case 3:
		if (qz.flags & STORE_QUIESCE_CLOSE) {
			for (b = 0; b < OBJ_BUCKETS; b++)
				for (o = buckets[b]; o; o = o->hnext) {
					of_put(o->of);
					o->of = NULL;
					o->mrec = NULL;
				}
		}
		qz.step = 4;
		/* fall through */
	case 4:
		close_flush(NULL);
		if (io_inflight() > 0)
			break;
		qz.active = 0;
		quiesced = 1;
		qz.done(qz.arg, qz.err);
		return;
	}
	quiesce_timer = loop_timer_add(QUIESCE_POLL_MS, quiesce_step, NULL);
}

void
store_quiesce(unsigned flags, void (*done)(void *arg, int err), void *arg)
{
	if (qz.active) {
		done(arg, -EBUSY);
		return;
	}
	qz.active = 1;
	qz.step = 1;
	qz.flags = flags;
	qz.done = done;
	qz.arg = arg;
	qz.err = 0;
	quiesce_step(NULL);
}

void
store_unquiesce(void)
{
	quiesced = 0;
}

uint64_t
store_oldest_write_ms(void)
{
	uint64_t a = io_oldest_ms(), m = meta_oldest_ms();

	return a > m ? a : m;
}

/* ---- startup scan (scan.c) ------------------------------------------------ */

static void
scan_done(void *arg, int err)
{
	struct scan_progress p;

	(void)arg;
	scan_get_progress(&p);
	if (err < 0)
		log_warnx("store: scan of the cache: %s", strerror(-err));
	else
		log_info("store: %llu objects, %llu bytes in the cache "
		    "(%llu ms)%s", (unsigned long long)p.objects,
		    (unsigned long long)p.bytes, (unsigned long long)p.ms,
		    p.foreign ? "; foreign entries left alone" : "");
	cull_kick();
}

/* ---- status and stats ----------------------------------------------------- */

static void
store_status(struct ctl_kv *kv)
{
	unsigned nv = 0;
	struct vol *v;

	for (v = vols; v; v = v->next)
		nv++;
	ctl_kv_u64(kv, "store.objects", index_objects());
	ctl_kv_u64(kv, "store.bytes", index_total_bytes());
	ctl_kv_u64(kv, "store.pinned_bytes", index_pinned_bytes());
	ctl_kv_u64(kv, "store.volumes_open", nv);
	ctl_kv_u64(kv, "store.objects_open", nobjs);
	ctl_kv_str(kv, "store.writes", qz.active ? "quiescing" : quiesced ?
	    "quiesced" : writes_ok() ? "on" : "off");
	ctl_kv_u64(kv, "store.io_inflight", io_inflight());
	ctl_kv_u64(kv, "store.meta_pending", meta_pending());
	ctl_kv_u64(kv, "store.oldest_write_ms", store_oldest_write_ms());
}

static void
store_stats(struct ctl_kv *kv)
{
	struct meta_stats ms;

	meta_get_stats(&ms);
	ctl_kv_u64(kv, "store.hits", st.hits);
	ctl_kv_u64(kv, "store.misses", st.misses);
	ctl_kv_u64(kv, "store.fills", st.fills);
	ctl_kv_u64(kv, "store.bytes_written", st.fill_bytes);
	ctl_kv_u64(kv, "store.bytes_served", st.served);
	ctl_kv_u64(kv, "store.invalidations", st.invalidations);
	ctl_kv_u64(kv, "store.drops", st.drops);
	ctl_kv_u64(kv, "store.enobufs", st.enobufs);
	ctl_kv_u64(kv, "store.stuck_fills", st.stuck_fills);
	ctl_kv_u64(kv, "store.volumes_created", st.volumes_created);
	ctl_kv_u64(kv, "store.volumes_invalidated", st.volumes_invalidated);
	ctl_kv_u64(kv, "store.strange", st.strange);
	ctl_kv_u64(kv, "store.errors", st.errors + ms.errors);
	ctl_kv_u64(kv, "store.uring_writes", io_uring_writes());
	ctl_kv_u64(kv, "meta.batches", ms.batches);
	ctl_kv_u64(kv, "meta.records", ms.records);
	ctl_kv_u64(kv, "meta.fdatasyncs", ms.fdatasyncs);
	ctl_kv_u64(kv, "meta.syncfs", ms.syncfs);
	ctl_kv_u64(kv, "meta.xattr_writes", ms.xattr_writes);
	ctl_kv_u64(kv, "meta.links", ms.links);
	ctl_kv_u64(kv, "meta.atimes", ms.atimes);
}

/* ---- life ---------------------------------------------------------------- */

/* What a crash left in the staging directory was never published: remove
 * it (startup only, before serving; nothing else uses the directory). */
static void
empty_stage(void)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if ((fd = dup(stage_fd)) < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && unlinkat(stage_fd, e->d_name, 0) < 0)
			log_warn("store: remove %s/%s", STAGE_DIR, e->d_name);
	closedir(d);
}

/* Make dir under root if missing (startup only, before serving). */
static int
open_dir(int at, const char *name)
{
	int fd;

	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
store_init(const struct conf *c, int rootfd)
{
	int err;

	(void)c;
	root_fd = rootfd;
	mapbuf = malloc(MAP_XATTR_MAX);
	if (!mapbuf)
		return -ENOMEM;
	if ((err = index_init()) < 0)
		return err;
	if ((cache_fd = open_dir(rootfd, "cache")) < 0)
		return cache_fd;
	if ((grave_fd = open_dir(rootfd, "graveyard")) < 0)
		return grave_fd;
	if ((stage_fd = open_dir(rootfd, STAGE_DIR)) < 0)
		return stage_fd;
	empty_stage();
	if ((err = io_init()) < 0)
		return err;
	if ((err = meta_init(cache_fd, stage_fd)) < 0)
		return err;
	control_register(PROTO_VOLUME_ACQUIRE, h_volume_acquire, 0);
	control_register(PROTO_VOLUME_RELINQUISH, h_volume_relinquish, 0);
	control_register(PROTO_COOKIE_ACQUIRE, h_cookie_acquire, 0);
	control_register(PROTO_COOKIE_RELINQUISH, h_cookie_relinquish, 0);
	control_register(PROTO_COOKIE_REFRESH, h_cookie_refresh, 0);
	control_register(PROTO_WRITE, h_write, 0);
	control_register(PROTO_INVALIDATE, h_invalidate, 0);
	control_register(PROTO_LIST_VOLUMES, h_list_volumes, 0);
	control_register(PROTO_LIST_OBJECTS, h_list_objects, 0);
	control_register(PROTO_DROP, h_drop, 0);	/* checks admin itself */
	control_on_disconnect(CTL_SLOT_STORE, on_disconnect);
	cull_on_culled(on_culled, NULL);
	control_add_status(store_status);
	control_add_stats(store_stats);
	/* the index fills in the background; clients are served meanwhile */
	if ((err = scan_start(rootfd, 0, scan_done, NULL)) < 0)
		log_warnx("store: cannot scan the cache: %s; it starts "
		    "unindexed", strerror(-err));
	atime_timer = loop_timer_add(ATIME_EVERY_MS, atime_timer_fn, NULL);
	return 0;
}

void
store_fini(void)
{
	struct vol *v;
	struct fill *f;

	if (atime_timer)
		loop_timer_cancel(atime_timer);
	if (fill_timer)
		loop_timer_cancel(fill_timer);
	if (quiesce_timer)
		loop_timer_cancel(quiesce_timer);
	atime_timer = fill_timer = quiesce_timer = NULL;
	for (f = pending_fills; f; f = f->next)
		f->rq = NULL;		/* their peers are gone */
	idle_evict(NULL);
	/* waits for the threads: only after a successful quiesce is this
	 * quick; main.c skips the flush when the filesystem is stuck */
	scan_fini();
	meta_fini();		/* its last done()s may queue closes */
	close_flush(NULL);
	io_fini();
	close_flush(NULL);	/* io_submit runs it here now */
	while ((v = vols) != NULL) {
		vols = v->next;
		free(v);
	}
	free(mapbuf);
	mapbuf = NULL;
	if (cache_fd >= 0)
		close(cache_fd);
	if (grave_fd >= 0)
		close(grave_fd);
	if (stage_fd >= 0)
		close(stage_fd);
	cache_fd = grave_fd = stage_fd = -1;
	index_fini();
}
