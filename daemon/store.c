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
 *
 * This file has the objects, their files and metadata, atimes, status
 * and life; store_quiesce.c drains the store for a freeze or a stop. The cache operations of the protocol are in
 * store_ops.c (client handles, volumes, cookies, listings and drop) and
 * store_fill.c (fills); store_int.h is what the three share.
 */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cfmt.h"
#include "beneath.h"
#include "conf.h"
#include "control.h"
#include "cull.h"
#include "gate.h"
#include "index.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "meta.h"
#include "names.h"
#include "scan.h"
#include "store.h"
#include "store_int.h"
#include "workq.h"

#define OBJ_BUCKETS		4096
#define STAGE_DIR		"larder.new"	/* under dir, beside cache/ */
/* objects nobody holds stay in memory, without fds, least recently used
 * out first: a second acquire is then an open and a stat, not also two
 * getxattrs and a map decode */
#define IDLE_MAX		4096
#define IDLE_FDS_MAX		1024	/* idle objects keeping their fd: an
					   acquire of one costs an fstat, not
					   a path walk and two opens */
#define ATIME_EVERY_MS		30000
#define ATIME_PER_PASS		4096
#define MAP_XATTR_MAX		(16 + 16 * CFMT_MAP_MAX_EXTENTS)
/* extents written to disk: ext4 keeps all xattrs of an inode in one 4 KiB
 * block (without ea_inode); beyond this the smallest are forgotten on disk
 * (a cache may forget, never invent) */
#define MAP_DISK_EXTENTS	200

struct orec {
	struct meta_rec r;		/* first */
	struct obj *obj;
	struct ofile *of;
};

/* Who may act on a creation or a batch of closes on the io thread's
 * queue: as a fill's stage (store_fill.c), one compare-and-swap each way,
 * so a job is either dropped (store_io_drop) or run, never both. */
enum job_stage {
	JOB_QUEUED,			/* on the io thread's queue */
	JOB_RUNNING,			/* the io thread has it */
	JOB_DROPPED,			/* passes through doing nothing */
};

/* The head of such a job (first in its struct: the work is at its start) */
struct iojob {
	struct work w;
	_Atomic int stage;		/* enum job_stage */
	LIST_ENTRY(iojob) link;		/* pending_jobs (main thread) */
};

/* submitted, done not yet run */
static LIST_HEAD(, iojob) pending_jobs = LIST_HEAD_INITIALIZER(pending_jobs);

struct mkfile {
	struct iojob job;
	struct obj *obj;
	struct ofile *of;
	char dir[META_PATH_MAX];
	char path[META_PATH_MAX];
	dev_t dev;			/* open this file rw if it is still there */
	ino_t ino;
	int existing;
	int tmp;			/* result: a new tmpfile */
};

#define CLOSE_BATCH		256
#define CLOSE_DELAY_MS		5

struct closejob {
	struct iojob job;
	struct closejob *held_next;	/* on held_closes */
	unsigned n;
	int fd[CLOSE_BATCH];
};

struct store_counters store_st;
int store_cache_fd = -1, store_grave_fd = -1;
static int stage_fd = -1, root_fd = -1;
struct store_vol *store_vols;
static struct obj *buckets[OBJ_BUCKETS];
static unsigned nobjs;
static struct obj *idle_head, *idle_tail;	/* oldest first */
static unsigned nidle;
static unsigned nidle_fds;		/* idle objects that keep rofd */
static unsigned idle_fds_max;		/* store_init: IDLE_FDS_MAX or less */
static struct closejob *closing;	/* fds gathered for the io thread */
static struct loop_timer *close_timer;
/* While a freeze's quiesce holds closes (store_close_hold): the batches
 * kept back until the thaw, and how many fds they have. */
static struct closejob *held_closes;
static unsigned held_fds;
static int closes_held;
static struct loop_timer *atime_timer;
static uint8_t *mapbuf;
struct log_ratelimit store_rl_io, store_rl_meta;
/* data lost to a failed barrier: never hidden behind other meta errors */
static struct log_ratelimit store_rl_forget;
static struct log_ratelimit rl_strange;

/* ---- droppable io jobs (store_io_drop) ------------------------------------ */

/* Main thread: hand j (queued) to the io thread. */
static void
job_submit(struct iojob *j)
{
	atomic_store(&j->stage, JOB_QUEUED);
	LIST_INSERT_HEAD(&pending_jobs, j, link);
	io_submit(&j->w);
}

/* Io thread: may j run? Not once dropped. */
static int
job_start(struct iojob *j)
{
	int queued = JOB_QUEUED;

	return atomic_compare_exchange_strong(&j->stage, &queued,
	    JOB_RUNNING);
}

/* Main thread, in j's done: off the pending list; was it dropped? */
static int
job_end(struct iojob *j)
{
	LIST_REMOVE(j, link);
	return atomic_load(&j->stage) == JOB_DROPPED;
}

/* Contract in store_int.h. */
unsigned
store_io_drop(unsigned *dropped)
{
	struct iojob *j;
	unsigned n = 0;
	int queued;

	*dropped = 0;
	LIST_FOREACH(j, &pending_jobs, link) {
		queued = JOB_QUEUED;
		n += atomic_compare_exchange_strong(&j->stage, &queued,
		    JOB_DROPPED);
		*dropped += atomic_load(&j->stage) == JOB_DROPPED;
	}
	return n;
}

/* ---- helpers ------------------------------------------------------------- */

static void
close_run(struct work *w)
{
	struct closejob *j = (struct closejob *)w;
	unsigned i;

	if (!job_start(&j->job))
		return;		/* dropped: kept for later (close_done) */
	for (i = 0; i < j->n; i++)
		close(j->fd[i]);
}

/* Main thread: a close job is done; one dropped by a freeze (store_io_drop)
 * closed nothing: it joins the closes held until the thaw, or goes again
 * if the hold ended meanwhile. */
static void
close_done(struct work *w)
{
	struct closejob *j = (struct closejob *)w;

	if (!job_end(&j->job)) {
		free(j);
		return;
	}
	if (closes_held) {
		j->held_next = held_closes;
		held_closes = j;
		held_fds += j->n;
	} else
		job_submit(&j->job);
}

/*
 * Hand the fds gathered so far to the io thread, or, while a freeze holds
 * closes, keep them for the thaw: the last close of a dropped fill's
 * unlinked file frees its inode, a write the freeze's "ready" promised
 * not to make, and waiting for such closes is what the quiesce would
 * otherwise spend its time on (up to 0.25 ms each, measured on ext4).
 * Held fds are bounded by idle_fds_max; beyond it a batch goes to the io
 * thread anyway (which then may wait for the thaw, as the stall
 * detection handles) rather than run the daemon out of fds.
 */
static void
close_flush(void *arg)
{
	struct closejob *j = closing;

	(void)arg;
	if (close_timer && arg == NULL)
		loop_timer_cancel(close_timer);
	close_timer = NULL;
	closing = NULL;
	if (!j || !j->n) {
		free(j);
		return;
	}
	if (closes_held && held_fds + j->n <= idle_fds_max) {
		j->held_next = held_closes;
		held_closes = j;
		held_fds += j->n;
		return;
	}
	job_submit(&j->job);
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
		closing->job.w.run = close_run;
		closing->job.w.done = close_done;
	}
	closing->fd[closing->n++] = fd;
	if (closing->n == CLOSE_BATCH)
		close_flush(NULL);
	else if (!close_timer)
		close_timer = loop_timer_add(CLOSE_DELAY_MS, close_timer_fn,
		    NULL);
}

void
store_ofile_put(struct ofile *of)
{
	if (!of || --of->refs > 0)
		return;
	close_later(of->fd);
	free(of);
}

static unsigned
obj_bucket(const struct store_vol *v, const char *name)
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

struct obj *
store_obj_find(const struct store_vol *v, const char *name)
{
	struct obj *o;

	for (o = buckets[obj_bucket(v, name)]; o; o = o->hnext)
		if (o->v == v && strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* The object's index id, looked up each time: the culler may delete and
 * reuse ids of objects nobody holds. */
uint32_t
store_obj_idx(const struct obj *o)
{
	return index_find(o->v->idx, o->name);
}

/* Pin the index entry while clients hold the object, unpin after. A pinned
 * entry is never culled, so the id stays valid until we unpin it. */
void
store_obj_pin(struct obj *o)
{
	uint32_t id;

	if (o->refs > 0 && o->pin == INDEX_NONE) {
		id = store_obj_idx(o);
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
uint64_t
store_obj_disk_bytes(const struct obj *o)
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

	id = index_add(o->v->idx, o->fanout, o->name, bytes, index_now());
	if (id == INDEX_NONE)
		return;
	if (o->pin != INDEX_NONE && o->pin != id) {
		index_unpin(o->pin);
		o->pin = INDEX_NONE;
	}
	store_obj_pin(o);
}

/* Forget the index entry (the object leaves the disk). */
void
store_obj_unindex(struct obj *o)
{
	uint32_t id;

	if (o->pin != INDEX_NONE) {
		index_unpin(o->pin);
		o->pin = INDEX_NONE;
	}
	if ((id = store_obj_idx(o)) != INDEX_NONE)
		index_del(id);
}

struct obj *
store_obj_new(struct store_vol *v, const char *name, unsigned fanout)
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

void
store_idle_del(struct obj *o)
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
	if (o->rofd >= 0)
		nidle_fds--;
}

int
store_reopen_ro(int fd)
{
	char proc[40];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

void
store_obj_set_rofd(struct obj *o, int fd)
{
	if (o->idle && o->rofd >= 0)
		nidle_fds--;
	close_later(o->rofd);
	o->rofd = fd;
	o->rofd_lent = 0;
	if (o->idle && fd >= 0)
		nidle_fds++;
}

/* rofd (kept while o goes idle) as an open file description of the
 * daemon's own again: a lent one (view_data) may be a client's, which
 * keeps it after relinquishing (liblarder parks it), and two clients must
 * never share one. 0, or -1: o keeps no fd. */
static int
rofd_own(struct obj *o)
{
	int fd;

	if (!o->rofd_lent)
		return 0;
	if ((fd = store_reopen_ro(o->rofd)) < 0)
		return -1;
	store_obj_set_rofd(o, fd);
	return 0;
}

/* Free an object now (nobody holds it, no job uses it). */
void
store_obj_free(struct obj *o)
{
	struct obj **pp;

	store_watch_revoke(o);
	store_idle_del(o);
	store_obj_pin(o);
	for (pp = &buckets[obj_bucket(o->v, o->name)]; *pp; pp = &(*pp)->hnext)
		if (*pp == o) {
			*pp = o->hnext;
			break;
		}
	store_obj_set_rofd(o, -1);
	store_ofile_put(o->of);
	cfmt_map_free(&o->map);
	o->v->objs--;
	nobjs--;
	free(o);
}

/*
 * Nobody holds the object and no job uses it, so what is on disk is what
 * memory says: keep it on the idle list with its file's identity and
 * ctime (any xattr change moves ctime); else free it. The rw file is
 * closed; rofd is kept (an open file of the daemon's own, rofd_own) for
 * up to idle_fds_max idle objects, so that taking one back costs an fstat
 * (store_obj_wake). A culled idle object closes it before the culler
 * moves the file (on_victim), so a cull's space still comes back when
 * the reaper unlinks it.
 */
void
store_obj_settle(struct obj *o)
{
	struct stat sb;

	if (o->refs > 0 || o->jobs > 0)
		return;
	store_obj_pin(o);
	if (o->idle)
		return;
	if (o->rofd < 0 || o->dropped || o->v->state != VOL_READY ||
	    !o->on_disk || fstat(o->rofd, &sb) < 0) {
		store_obj_free(o);
		return;
	}
	o->idle_dev = sb.st_dev;
	o->idle_ino = sb.st_ino;
	o->idle_ctime = sb.st_ctim;
	if (nidle_fds >= idle_fds_max || rofd_own(o) < 0)
		store_obj_set_rofd(o, -1);
	store_ofile_put(o->of);
	o->of = NULL;
	o->idle = 1;
	if (o->rofd >= 0)
		nidle_fds++;
	o->iprev = idle_tail;
	o->inext = NULL;
	if (idle_tail)
		idle_tail->inext = o;
	else
		idle_head = o;
	idle_tail = o;
	nidle++;
	while (nidle > IDLE_MAX)
		store_obj_free(idle_head);
}

void
store_obj_hold(struct obj *o)
{
	store_idle_del(o);
	o->jobs++;
}

void
store_obj_release(struct obj *o)
{
	o->jobs--;
	store_obj_settle(o);
}

/* sb is the file o was when it went idle: same inode, same ctime (an
 * xattr or data change, a rename or a link moves ctime), still linked. */
static int
idle_same(const struct obj *o, const struct stat *sb)
{
	return S_ISREG(sb->st_mode) && sb->st_nlink > 0 &&
	    sb->st_dev == o->idle_dev && sb->st_ino == o->idle_ino &&
	    sb->st_ctim.tv_sec == o->idle_ctime.tv_sec &&
	    sb->st_ctim.tv_nsec == o->idle_ctime.tv_nsec;
}

/* Take an idle object back: 1 if its file is still the one it was
 * (idle_same), with rofd open (kept, or opened again by its path); else
 * 0 (the caller frees it and reads it from disk anew). */
int
store_obj_wake(struct obj *o)
{
	struct stat sb;
	uint32_t idx;
	int fd;

	store_idle_del(o);
	idx = store_obj_idx(o);
	if (idx == INDEX_NONE || index_get_state(idx) != INDEX_LIVE)
		return 0;
	if (o->rofd >= 0) {
		/* a file renamed over its name or unlinked keeps its inode
		 * here, but not its links or its ctime */
		if (fstat(o->rofd, &sb) == 0 && idle_same(o, &sb))
			return 1;
		store_obj_set_rofd(o, -1);
		return 0;
	}
	fd = beneath_open_reg_stat(store_cache_fd, o->path,
	    O_RDONLY | O_NONBLOCK, &sb);
	if (fd < 0)
		return 0;
	if (!idle_same(o, &sb)) {
		close(fd);	/* still linked: never the last reference */
		return 0;
	}
	store_obj_set_rofd(o, fd);
	return 1;
}

/* The object in memory of index entry id, or NULL. */
static struct obj *
obj_of_id(uint32_t id)
{
	const char *name = index_name(id);
	struct store_vol *v;

	if (!name)
		return NULL;
	for (v = store_vols; v; v = v->next)
		if (v->idx == (int)index_vol(id))
			break;
	return v ? store_obj_find(v, name) : NULL;
}

/* The culler moved an object nobody held into the graveyard: forget the
 * idle object (it keeps no fd, so the space comes back anyway; this only
 * spares the next acquire a failed wake). Called on the main thread before
 * the index entry goes. */
static void
on_culled(void *arg, uint32_t id)
{
	struct obj *o = obj_of_id(id);

	(void)arg;
	if (!o)
		return;
	if (o->idle && o->refs == 0 && o->jobs == 0)
		store_obj_free(o);
}

/* The object the culler picked (id) before it renames it: bump the slots
 * of its parked handles first (nothing else holds it: it is unpinned),
 * and close an idle object's kept fd now, so that the culled file's
 * space comes back when the reaper unlinks it (not at a later close).
 * The file is still linked here, so this close never frees an inode
 * (which would wait on a frozen filesystem); one unlinked by someone
 * else, or while writes are off, is closed on the io thread. */
static void
on_victim(void *arg, uint32_t id)
{
	struct obj *o = obj_of_id(id);
	struct stat sb;

	(void)arg;
	if (!o)
		return;
	store_watch_revoke(o);
	if (o->idle && o->rofd >= 0) {
		if (gate_ok(GATE_DEFER | GATE_SUSPEND | GATE_STALL) &&
		    fstat(o->rofd, &sb) == 0 && sb.st_nlink > 0) {
			close(o->rofd);
			o->rofd = -1;
			nidle_fds--;
		} else
			store_obj_set_rofd(o, -1);
	}
}

/* Free the idle objects of a volume (all volumes: v NULL). */
void
store_idle_evict(struct store_vol *v)
{
	struct obj *o, *next;

	for (o = idle_head; o; o = next) {
		next = o->inext;
		if (!v || o->v == v)
			store_obj_free(o);
	}
}

struct obj *
store_obj_next(const struct obj *o)
{
	unsigned b = 0;

	if (o) {
		if (o->hnext)
			return o->hnext;
		b = obj_bucket(o->v, o->name) + 1;
	}
	for (; b < OBJ_BUCKETS; b++)
		if (buckets[b])
			return buckets[b];
	return NULL;
}

/* Forget the object's file and data in memory: a new generation follows. */
void
store_obj_reset(struct obj *o)
{
	store_watch_revoke(o);		/* parked clients ask again */
	cfmt_map_clear(&o->map);
	o->gen++;
	store_obj_set_rofd(o, -1);
	o->on_disk = 0;
	store_ofile_put(o->of);
	o->of = NULL;
	o->mrec = NULL;		/* a queued record still publishes the old file */
}

/* Objects of a volume whose directory goes away start empty. */
void
store_vol_reset_objects(struct store_vol *v)
{
	struct obj *o;
	unsigned b;

	for (b = 0; b < OBJ_BUCKETS; b++)
		for (o = buckets[b]; o; o = o->hnext)
			if (o->v == v)
				store_obj_reset(o);
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

/* Encode the object xattr x into r. */
static int
snapshot_xattr(const struct cfmt_obj *x, struct meta_rec *r)
{
	int n = cfmt_obj_encode(x, r->xattr, sizeof(r->xattr));

	if (n < 0)
		return n;
	r->xattr_len = n;
	return 0;
}

/* Encode the object's map into r->map (malloc'd), trimmed to
 * MAP_DISK_EXTENTS; a trimmed map no longer covers everything, so x
 * (content all) is then encoded again as content map. */
static int
snapshot_map(const struct obj *o, struct cfmt_obj *x, struct meta_rec *r)
{
	const struct cfmt_map *m = &o->map;
	struct cfmt_map lim;
	size_t len;
	int n = 0;

	cfmt_map_init(&lim);
	if (m->count > MAP_DISK_EXTENTS) {
		if ((n = cfmt_map_copy(&lim, m)) < 0)
			return n;
		cfmt_map_limit(&lim, MAP_DISK_EXTENTS);
		m = &lim;
		if (x->content == CFMT_CONTENT_ALL) {	/* not any more */
			x->content = CFMT_CONTENT_MAP;
			if ((n = snapshot_xattr(x, r)) < 0)
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

/* Describe the object as it is now in meta record r: its xattr and map. */
static int
snapshot(struct obj *o, struct meta_rec *r)
{
	struct cfmt_obj x;
	int n;

	memset(&x, 0, sizeof(x));
	x.object_size = o->size;
	x.type = CFMT_TYPE_DATA;
	x.content = obj_content(o);
	r->no_claim = x.content == CFMT_CONTENT_NONE;
	x.aux_len = o->aux_len;
	memcpy(x.aux, o->aux, o->aux_len);
	if ((n = snapshot_xattr(&x, r)) < 0)
		return n;
	free(r->map);
	r->map = NULL;
	r->map_len = 0;
	return snapshot_map(o, &x, r);
}

/*
 * The data of the object's file could not be made durable (fdatasync or
 * syncfs failed: which pages were lost is not known), so memory must not
 * claim any of it: the map empties, and the record still queued (or a new
 * one) writes that to the xattrs. Later fills write the bytes again; the
 * next barrier reports any new failure. Readers that already hold a map
 * keep it until they refresh: the gen tells them to.
 */
static void
forget_data(struct obj *o)
{
	uint32_t idx;

	store_st.sync_failures++;
	o->of->sync_fails++;	/* fills written before it claim nothing */
	cfmt_map_clear(&o->map);
	o->gen++;
	if ((idx = store_obj_idx(o)) != INDEX_NONE)
		index_set_bytes(idx, store_obj_disk_bytes(o));
	store_queue_meta(o);
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
		store_st.errors++;
		if (r->sync_failed)
			log_warnx_rl(&store_rl_forget, "meta: %s: %s; its data "
			    "is forgotten", o->path, strerror(-r->err));
		else
			log_warnx_rl(&store_rl_meta, "meta: %s: %s", o->path,
			    strerror(-r->err));
		if (r->link)
			of->link_queued = 0;	/* the next record tries again */
		if (r->sync_failed && o->of == of)
			forget_data(o);
	} else {
		if (r->link)
			of->linked = 1;
		if (o->of == of && of->linked)
			o->on_disk = 1;
		if (o->of == of && !o->dropped)
			obj_indexed(o, store_obj_disk_bytes(o));
	}
	free(r->map);
	store_ofile_put(of);
	free(or);
	store_obj_release(o);
}

/* A new meta record for o's current file, linking it at o's path if it
 * is not linked (or being linked) yet; NULL: -ENOMEM. */
static struct orec *
orec_new(struct obj *o)
{
	struct orec *or = calloc(1, sizeof(*or));

	if (!or)
		return NULL;
	or->r.kind = META_OBJECT;
	or->r.fd = o->of->fd;
	or->r.done = meta_obj_done;
	or->obj = o;
	or->of = o->of;
	o->of->refs++;
	store_obj_hold(o);
	snprintf(or->r.path, sizeof(or->r.path), "%s", o->path);
	if (!o->of->linked && !o->of->link_queued) {
		or->r.link = 1;
		o->of->link_queued = 1;
	}
	return or;
}

/* Queue (or refresh) the meta record that publishes the object's state. */
void
store_queue_meta(struct obj *o)
{
	struct orec *or = o->mrec;

	if (!o->of || o->of->fd < 0)
		return;
	if (or && !or->r.submitted && or->of == o->of) {
		if (snapshot(o, &or->r) < 0)
			store_st.errors++;
		meta_touch(&or->r);	/* a stream: put the barrier off */
		return;
	}
	if (!(or = orec_new(o))) {
		store_st.errors++;
		return;
	}
	if (snapshot(o, &or->r) < 0) {
		store_st.errors++;
		free(or->r.map);
		or->r.map = NULL;
	}
	o->mrec = or;
	meta_queue(&or->r);
}

/* ---- files --------------------------------------------------------------- */

static void
mkfile_run(struct work *w)
{
	struct mkfile *j = (struct mkfile *)w;
	struct stat sb;
	int fd = -1;

	j->tmp = 0;
	if (!job_start(&j->job)) {
		j->of->err = -ECANCELED;	/* dropped: nothing done */
		return;
	}
	if (j->existing) {
		fd = beneath_open_reg(store_cache_fd, j->path, O_RDWR);
		if (fd >= 0 && (fstat(fd, &sb) < 0 || sb.st_dev != j->dev ||
		    sb.st_ino != j->ino || !S_ISREG(sb.st_mode))) {
			close(fd);	/* replaced or culled meanwhile */
			fd = -1;
		}
	}
	if (fd < 0) {
		fd = beneath_open(store_cache_fd, j->dir, O_TMPFILE | O_RDWR,
		    0600);
		j->tmp = 1;
	}
	if (fd < 0) {
		j->of->err = fd;
		fd = -1;
	}
	j->of->fd = fd;
}

/* A new tmpfile is the object's file now: readers get their own
 * read-only open file of it, and it holds none of the old file's data. */
static void
mkfile_took_tmp(struct obj *o, struct ofile *of)
{
	int fd;

	of->linked = 0;
	if ((fd = store_reopen_ro(of->fd)) < 0) {
		store_st.errors++;
		log_warn("store: reopen %s read-only", o->path);
	}
	cfmt_map_clear(&o->map);
	store_obj_set_rofd(o, fd);
	o->on_disk = 0;		/* until the meta thread links it */
	o->gen++;
	store_queue_meta(o);	/* publish it even if no fill follows */
}

static void
mkfile_done(struct work *w)
{
	struct mkfile *j = (struct mkfile *)w;
	struct obj *o = j->obj;

	/* a dropped creation is no error: the next fill asks again */
	if (!job_end(&j->job) && j->of->fd < 0) {
		store_st.errors++;
		log_warnx_rl(&store_rl_io, "store: create %s: %s", o->path,
		    strerror(-j->of->err));
	}
	if (j->of->fd < 0) {
		if (o->of == j->of) {
			store_ofile_put(o->of);
			o->of = NULL;
		}
	} else if (o->of == j->of && j->tmp)
		mkfile_took_tmp(o, j->of);
	else
		j->of->linked = !j->tmp;
	store_ofile_put(j->of);
	free(j);
	store_obj_release(o);
}

/* Make sure the object has a rw file (or one on the way). */
int
store_obj_file(struct obj *o, int fresh)
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
	j->job.w.run = mkfile_run;
	j->job.w.done = mkfile_done;
	o->of = of;
	store_obj_hold(o);
	job_submit(&j->job);
	return 0;
}


/* ---- loading an object --------------------------------------------------- */

/* Open the object's file read-only: 1 (*fdp set), 0 if absent, -1 if
 * what is there is no regular file (counted and logged as strange). */
static int
obj_open_checked(const struct obj *o, struct stat *sb, int *fdp)
{
	int fd;

	/* a fifo or device node planted here is never opened for I/O, and
	 * no symlink on the way is followed */
	fd = beneath_open_reg(store_cache_fd, o->path, O_RDONLY | O_NONBLOCK);
	if (fd == -ENOENT)
		return 0;
	if (fd >= 0 && fstat(fd, sb) == 0 && S_ISREG(sb->st_mode)) {
		*fdp = fd;
		return 1;
	}
	store_st.strange++;
	if (fd >= 0 || fd == -EINVAL)
		log_warnx_rl(&rl_strange, "store: %s: not a regular file: "
		    "ignored", o->path);
	else
		log_warnx_rl(&rl_strange, "store: open %s: %s", o->path,
		    strerror(-fd));
	if (fd >= 0)
		close(fd);
	return fd >= 0 || fd == -EINVAL ? -1 : 0;
}

/* Read the object xattr of fd into *x: usable with (aux, size), or as it
 * is (any: data, not dirty)? 0 or -1. */
static int
obj_read_xattr(int fd, const uint8_t *aux, size_t aux_len, uint64_t size,
    int any, struct cfmt_obj *x)
{
	uint8_t xb[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX + 1];
	ssize_t xl;

	xl = fgetxattr(fd, CFMT_XATTR, xb, sizeof(xb));
	if (xl < 0)
		return -1;
	if (any)
		return cfmt_obj_decode(xb, xl, x) < 0 ||
		    x->type != CFMT_TYPE_DATA ||
		    x->content == CFMT_CONTENT_DIRTY ? -1 : 0;
	if (!cfmt_obj_usable(xb, xl, aux, aux_len, size))
		return -1;
	return cfmt_obj_decode(xb, xl, x) < 0 ? -1 : 0;
}

/* Read the object's map from fd (content: the xattr's), never past the
 * file's end (st_size). */
static void
obj_read_map(struct obj *o, int fd, int content, uint64_t st_size)
{
	ssize_t ml;

	cfmt_map_clear(&o->map);
	ml = fgetxattr(fd, CFMT_MAP_XATTR, mapbuf, MAP_XATTR_MAX);
	if (ml >= 0) {
		if (cfmt_map_decode(mapbuf, ml, o->size, &o->map) < 0) {
			cfmt_map_clear(&o->map);	/* a bad map: no data */
			log_warnx_rl(&rl_strange, "store: %s: bad map: "
			    "treated as empty", o->path);
		}
	} else if (content == CFMT_CONTENT_ALL && o->size > 0) {
		if (cfmt_map_add(&o->map, 0, o->size) < 0)
			cfmt_map_clear(&o->map);
	}
	/* never claim bytes past the end of the file */
	cfmt_map_truncate(&o->map, st_size);
}

/*
 * Open the object on disk read-only and check it against (aux, size), or
 * take it as it is (any). Returns 1 usable (o->rofd, map, aux, size set),
 * 0 absent, -1 there but stale (or not ours to use).
 */
int
store_obj_load(struct obj *o, const uint8_t *aux, size_t aux_len,
    uint64_t size, int any)
{
	struct cfmt_obj x;
	struct stat sb;
	uint32_t idx;
	int fd, n;

	if ((n = obj_open_checked(o, &sb, &fd)) <= 0)
		return n;
	if (obj_read_xattr(fd, aux, aux_len, size, any, &x) < 0) {
		close(fd);
		return -1;
	}
	if (any) {
		size = x.object_size;
		aux = x.aux;
		aux_len = x.aux_len;
	}
	o->size = size;
	memcpy(o->aux, aux, aux_len);
	o->aux_len = aux_len;
	obj_read_map(o, fd, x.content, (uint64_t)sb.st_size);
	store_obj_set_rofd(o, fd);
	o->on_disk = 1;
	o->gen++;
	if ((idx = store_obj_idx(o)) == INDEX_NONE)
		obj_indexed(o, (uint64_t)sb.st_blocks * 512);
	else if (!index_named(idx))	/* scanned nameless: name it, so
					   its atime is written back */
		index_add(o->v->idx, o->fanout, o->name,
		    (uint64_t)sb.st_blocks * 512, index_last_use(idx));
	return 1;
}

/* ---- atimes -------------------------------------------------------------- */

static void
atime_done(struct meta_rec *r)
{
	if (r->err && r->err != -ENOENT)
		log_warnx_rl(&store_rl_meta, "meta: atime %s: %s", r->path,
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
		/* a nameless entry (scanned, never opened since) is skipped:
		 * its name would take a directory read, and its atime is
		 * the disk's but for a busy victim's or a failed cull's
		 * touch, which a restart loses (recency, not a byte) */
		if (!index_atime_dirty(id) || !index_named(id) ||
		    index_get_state(id) != INDEX_LIVE)
			goto next;
		vk = index_volume_key(index_vol(id));
		r = vk ? calloc(1, sizeof(*r)) : NULL;
		if (!r)
			goto next;
		r->kind = META_ATIME;
		snprintf(r->path, sizeof(r->path), "I%s/@%02x/%s", vk,
		    index_fanout(id), index_name(id));
		/* the whole stamp: the order survives a restart */
		r->atime.tv_sec = index_last_use(id) / 1000000000;
		r->atime.tv_nsec = index_last_use(id) % 1000000000;
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
	if (store_writes_ok())
		queue_atimes(ATIME_PER_PASS);
	atime_timer = loop_timer_add(ATIME_EVERY_MS, atime_timer_fn, NULL);
}

/* ---- hooks for store_quiesce.c ------------------------------------------ */

void
store_close_flush(void)
{
	close_flush(NULL);
}

unsigned
store_closes_held(void)
{
	return held_fds + (closes_held && closing ? closing->n : 0);
}

void
store_close_hold(int hold)
{
	struct closejob *j;

	closes_held = hold;
	if (hold)
		return;
	while ((j = held_closes) != NULL) {
		held_closes = j->held_next;
		job_submit(&j->job);
	}
	held_fds = 0;
}

void
store_queue_all_atimes(void)
{
	queue_atimes(~0U);
}

/* Drop every object's rw file (suspend: no write fd may stay open). */
void
store_close_rw_files(void)
{
	struct obj *o;
	unsigned b;

	store_watch_revoke_all();	/* suspend: parked clients ask again */
	for (b = 0; b < OBJ_BUCKETS; b++)
		for (o = buckets[b]; o; o = o->hnext) {
			store_ofile_put(o->of);
			o->of = NULL;
			o->mrec = NULL;
		}
}

/* ---- startup scan (scan.c) ------------------------------------------------ */

void
store_scan_done(void *arg, int err)
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
	struct store_vol *v;

	for (v = store_vols; v; v = v->next)
		nv++;
	ctl_kv_u64(kv, "store.objects", index_objects());
	ctl_kv_u64(kv, "store.bytes", index_total_bytes());
	ctl_kv_u64(kv, "store.pinned_bytes", index_pinned_bytes());
	ctl_kv_u64(kv, "store.volumes_open", nv);
	ctl_kv_u64(kv, "store.objects_open", nobjs);
	ctl_kv_str(kv, "store.writes", store_writes_str());
	ctl_kv_u64(kv, "store.io_inflight", io_inflight());
	ctl_kv_u64(kv, "store.closes_held", store_closes_held());
	ctl_kv_u64(kv, "store.meta_pending", meta_pending());
	ctl_kv_u64(kv, "store.oldest_write_ms", store_oldest_write_ms());
}

/* The store's counters and the meta thread's, for STATS (larderctl stats;
 * metrics.c exports them too). */
static void
store_stats(struct ctl_kv *kv)
{
	struct meta_stats ms;

	meta_get_stats(&ms);
	ctl_kv_u64(kv, "store.hits", store_st.hits);
	ctl_kv_u64(kv, "store.misses", store_st.misses);
	ctl_kv_u64(kv, "store.acquires", store_st.acquires);
	ctl_kv_u64(kv, "store.local_uses", store_st.local_uses);
	ctl_kv_u64(kv, "store.parked_revoked", store_st.parked_revoked);
	ctl_kv_u64(kv, "store.parked_ignored", store_st.parked_ignored);
	ctl_kv_u64(kv, "store.fills", store_st.fills);
	ctl_kv_u64(kv, "store.bytes_written", store_st.fill_bytes);
	ctl_kv_u64(kv, "store.bytes_served", store_st.served);
	ctl_kv_u64(kv, "store.invalidations", store_st.invalidations);
	ctl_kv_u64(kv, "store.drops", store_st.drops);
	ctl_kv_u64(kv, "store.enobufs", store_st.enobufs);
	ctl_kv_u64(kv, "store.stuck_fills", store_st.stuck_fills);
	ctl_kv_u64(kv, "store.late_unclaimed", store_st.late_unclaimed);
	ctl_kv_u64(kv, "store.fills_let_go", store_st.fills_let_go);
	ctl_kv_u64(kv, "store.dropped_fills", store_st.dropped_fills);
	ctl_kv_u64(kv, "store.volumes_created", store_st.volumes_created);
	ctl_kv_u64(kv, "store.volumes_invalidated",
	    store_st.volumes_invalidated);
	ctl_kv_u64(kv, "store.strange", store_st.strange);
	ctl_kv_u64(kv, "store.sync_failures", store_st.sync_failures);
	ctl_kv_u64(kv, "store.errors", store_st.errors + ms.errors);
	ctl_kv_u64(kv, "store.uring_writes", io_uring_writes());
	ctl_kv_u64(kv, "meta.batches", ms.batches);
	ctl_kv_u64(kv, "meta.records", ms.records);
	ctl_kv_u64(kv, "meta.fdatasyncs", ms.fdatasyncs);
	ctl_kv_u64(kv, "meta.syncfs", ms.syncfs);
	ctl_kv_u64(kv, "meta.xattr_writes", ms.xattr_writes);
	ctl_kv_u64(kv, "meta.links", ms.links);
	ctl_kv_u64(kv, "meta.atimes", ms.atimes);
	ctl_kv_u64(kv, "meta.stream_waits", ms.stream_waits);
	ctl_kv_u64(kv, "meta.writeback_kicks", ms.kicks);
	ctl_kv_u64(kv, "meta.records_held", ms.records_held);
	ctl_kv_u64(kv, "meta.batches_stopped", ms.batches_stopped);
	ctl_kv_u64(kv, "meta.held", ms.held);
	ctl_kv_u64(kv, "meta.pending", meta_pending());
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

void
store_dirs(int *cachefd, int *stagefd)
{
	*cachefd = store_cache_fd;
	*stagefd = stage_fd;
}

/* How many idle objects may keep an fd: IDLE_FDS_MAX, or an eighth of
 * the fd limit if that is less (clients, fills and the culler's directory
 * caches need the rest). */
static unsigned
idle_fds_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 64;
	if (rl.rlim_cur == RLIM_INFINITY)
		return IDLE_FDS_MAX;
	return rl.rlim_cur / 8 < IDLE_FDS_MAX ? rl.rlim_cur / 8 : IDLE_FDS_MAX;
}

/* Open cache/, graveyard/ and larder.new/ under rootfd (made if missing),
 * register with control.c, cull.c and freeze.c (store.h); main.c starts
 * io, meta, the index and the scan around it. Startup only: may block. */
int
store_init(const struct conf *c, int rootfd)
{
	store_set_access(c->volume_access);
	root_fd = rootfd;
	idle_fds_max = idle_fds_budget();
	mapbuf = malloc(MAP_XATTR_MAX);
	if (!mapbuf)
		return -ENOMEM;
	if ((store_cache_fd = open_dir(rootfd, "cache")) < 0)
		return store_cache_fd;
	if ((store_grave_fd = open_dir(rootfd, "graveyard")) < 0)
		return store_grave_fd;
	if ((stage_fd = open_dir(rootfd, STAGE_DIR)) < 0)
		return stage_fd;
	empty_stage();
	store_proto_init();
	store_fill_init();
	cull_on_culled(on_culled, NULL);
	cull_on_victim(on_victim, NULL);
	control_add_status(store_status);
	control_add_stats(store_stats);
	atime_timer = loop_timer_add(ATIME_EVERY_MS, atime_timer_fn, NULL);
	store_quiesce_init();	/* freeze and suspend drain the store */
	return 0;
}

/* Stop the timers, fills and threads (waiting for them: quick only after
 * a quiesce), then free the volumes and close the directories. */
void
store_fini(void)
{
	struct store_vol *v;

	if (atime_timer)
		loop_timer_cancel(atime_timer);
	atime_timer = NULL;
	store_quiesce_fini();
	store_fill_fini();
	store_idle_evict(NULL);
	/* waits for the threads: only after a successful quiesce is this
	 * quick; main.c skips the flush when the filesystem is stuck */
	scan_fini();
	names_fini();
	meta_fini();		/* its last done()s may queue closes */
	store_close_hold(0);
	close_flush(NULL);
	io_fini();
	close_flush(NULL);	/* io_submit runs it here now */
	while ((v = store_vols) != NULL) {
		store_vols = v->next;
		free(v);
	}
	free(mapbuf);
	mapbuf = NULL;
	if (store_cache_fd >= 0)
		close(store_cache_fd);
	if (store_grave_fd >= 0)
		close(store_grave_fd);
	if (stage_fd >= 0)
		close(stage_fd);
	store_cache_fd = store_grave_fd = stage_fd = -1;
	index_fini();
}
