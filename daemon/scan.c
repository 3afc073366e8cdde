/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * scan.c: build the index from <dir>/cache (see scan.h).
 *
 * Two kinds of job run on the "scan" work queue (2 threads):
 *  - a list job reads cache/ and each volume directory, and stats the 256
 *    fan-out directories of each volume (for their mtime);
 *  - dir jobs each read DIRS_PER_JOB fan-out directories with getdents64,
 *    check every name, and statx the candidates in batches of up to
 *    RING_DEPTH through io_uring.
 * Jobs carry copies of everything they need (the root fd, volume keys) and
 * hand back plain arrays; only the main thread touches the index and this
 * file's state. The queue's lock is workq's; nothing here takes a lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cfmt.h"
#include "index.h"
#include "beneath.h"
#include "log.h"
#include "loop.h"
#include "scan.h"
#include "workq.h"

#define SCAN_THREADS	2
#define DIRS_PER_JOB	8
#define JOBS_IN_FLIGHT	4	/* two running, two queued: no thread idles */
#define RING_DEPTH	256
#define MAX_FOREIGN_RECS 16	/* per job, for the log; all are counted */
#define MAX_FOREIGN_LOGGED 64	/* per pass */
#define DENTS_BUF	(64 * 1024)

enum foreign_kind {
	FK_SYMLINK, FK_FIFO, FK_SOCKET, FK_DEVICE, FK_DIR, FK_NAME,
	FK_BADKEY, FK_MISPLACED, FK_OLD, FK_MAX
};

static const char *const fk_name[FK_MAX] = {
	"symlink", "fifo", "socket", "device", "directory", "unknown name",
	"name does not uncook", "wrong fan-out directory", "pre-5.17 index tree",
};
static const char *const fk_key[FK_MAX] = {
	"scan.foreign.symlink", "scan.foreign.fifo", "scan.foreign.socket",
	"scan.foreign.device", "scan.foreign.dir", "scan.foreign.name",
	"scan.foreign.badkey", "scan.foreign.misplaced", "scan.foreign.old",
};

struct foreign_rec {
	uint8_t kind;
	char path[16 + CFMT_NAME_MAX * 2];
};

struct foreign_list {
	uint64_t count[FK_MAX];
	unsigned nrec;
	struct foreign_rec rec[MAX_FOREIGN_RECS];
};

/* ---- list job --------------------------------------------------------- */

struct vinfo {
	char key[CFMT_MAX_VOLUME_KEY + 1];
	uint8_t present[32];		/* bitmap of fan-out dirs found */
	int64_t mtime[256];		/* their mtimes, ns */
};

struct list_job {
	struct work w;
	int rootfd;
	int err;
	struct vinfo *vols;
	unsigned nvols, capvols;
	uint64_t errors;
	struct foreign_list fl;
};

/* ---- dir job ---------------------------------------------------------- */

struct jdir {
	uint32_t sdir;			/* index in scan.dirs */
	uint16_t vol;
	uint8_t fanout;
	uint32_t vhash;
	char vkey[CFMT_MAX_VOLUME_KEY + 1];
};

struct obj_rec {
	uint32_t name_off;
	uint16_t dir;			/* index in job->dirs */
	uint64_t bytes;
	int64_t atime;
	uint64_t ino;			/* for SCAN_NAMELESS */
};

struct dir_job {
	struct work w;
	int rootfd;
	unsigned flags;
	unsigned ndirs;
	struct jdir dirs[DIRS_PER_JOB];
	struct obj_rec *objs;
	size_t nobjs, capobjs;
	char *names;
	size_t namelen, namecap;
	uint64_t errors;
	struct foreign_list fl;
	struct statx *stx;		/* RING_DEPTH results (worker only) */
};

/* ---- main-thread state -------------------------------------------------- */

struct sdir {
	uint16_t vol;
	uint8_t fanout;
	uint8_t listed;			/* found by the latest listing */
	uint8_t changed;		/* to scan in this pass */
	int64_t mtime;			/* ns, when last listed */
};

static struct {
	struct workq *q;
	int rootfd;
	unsigned flags;
	int running;
	int stopping;			/* scan_fini: submit nothing more */
	int rescan;
	void (*done)(void *, int);
	void *done_arg;

	struct sdir *dirs;
	uint32_t ndirs, capdirs;
	uint32_t *dirmap;		/* vol * 256 + fanout -> sdir, or NONE */
	unsigned dirmap_vols;

	uint32_t *todo;			/* sdir indices to scan this pass */
	uint32_t ntodo, next_todo;
	unsigned inflight;

	uint8_t *seen;			/* rescan: bitmap over index ids */
	size_t seen_bytes;

	uint64_t start_ms;
	uint64_t logged;		/* foreign entries logged this pass */
	struct scan_progress p;
	uint64_t foreign[FK_MAX];
	uint64_t passes;
} scan;

static struct log_ratelimit error_rl;

/* ---- worker side ---------------------------------------------------------- */

static void
add_foreign(struct foreign_list *fl, enum foreign_kind k, const char *dir,
    const char *name)
{
	fl->count[k]++;
	if (fl->nrec < MAX_FOREIGN_RECS) {
		fl->rec[fl->nrec].kind = k;
		snprintf(fl->rec[fl->nrec].path, sizeof(fl->rec[0].path),
		    "%s%s%s", dir, *dir ? "/" : "", name);
		fl->nrec++;
	}
}

static enum foreign_kind
kind_of_type(unsigned dtype)
{
	switch (dtype) {
	case DT_LNK:
		return FK_SYMLINK;
	case DT_FIFO:
		return FK_FIFO;
	case DT_SOCK:
		return FK_SOCKET;
	case DT_CHR:
	case DT_BLK:
		return FK_DEVICE;
	case DT_DIR:
		return FK_DIR;
	default:
		return FK_NAME;
	}
}

static unsigned
dtype_of_mode(mode_t m)
{
	return IFTODT(m);
}

/* d_type, asking the filesystem when it does not say (never follows). */
static unsigned
entry_type(int dirfd, const char *name, unsigned dtype)
{
	struct stat st;

	if (dtype != DT_UNKNOWN)
		return dtype;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return dtype_of_mode(st.st_mode);
}

struct dents {
	char *buf;
	long len, pos;
	int fd;
};

/* Next entry other than . and ..; NULL at the end, *err on failure. */
static struct dent64 *
next_dent(struct dents *d, int *err)
{
	struct dent64 *e;

	for (;;) {
		if (d->pos >= d->len) {
			d->len = syscall(SYS_getdents64, d->fd, d->buf,
			    DENTS_BUF);
			d->pos = 0;
			if (d->len < 0) {
				*err = -errno;
				return NULL;
			}
			if (d->len == 0)
				return NULL;
		}
		e = (struct dent64 *)(d->buf + d->pos);
		d->pos += e->d_reclen;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		return e;
	}
}

static int
parse_fanout(const char *name)
{
	static const char hex[] = "0123456789abcdef";
	const char *a, *b;

	if (name[0] != '@' || !name[1] || !name[2] || name[3])
		return -1;
	if (!(a = strchr(hex, name[1])) || !(b = strchr(hex, name[2])))
		return -1;
	return (int)((a - hex) << 4 | (b - hex));
}

/* List one volume directory: its fan-out dirs and their mtimes. */
static void
list_volume(struct list_job *j, int cachefd, const char *vname)
{
	struct vinfo *v;
	struct dents d;
	struct dent64 *e;
	struct stat st;
	char path[8 + CFMT_NAME_MAX];
	int err = 0, f;
	unsigned t;

	if (j->nvols == j->capvols) {
		unsigned cap = j->capvols ? j->capvols * 2 : 8;
		struct vinfo *nv = realloc(j->vols, cap * sizeof(*nv));

		if (nv == NULL) {
			j->errors++;
			return;
		}
		j->vols = nv;
		j->capvols = cap;
	}
	snprintf(path, sizeof(path), "cache/%s", vname);
	if ((d.fd = openat(cachefd, vname, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0) {
		j->errors++;
		return;
	}
	v = &j->vols[j->nvols];
	memset(v->present, 0, sizeof(v->present));
	snprintf(v->key, sizeof(v->key), "%s", vname + 1);
	d.buf = malloc(DENTS_BUF);
	d.len = d.pos = 0;
	if (d.buf == NULL) {
		close(d.fd);
		j->errors++;
		return;
	}
	while ((e = next_dent(&d, &err)) != NULL) {
		t = entry_type(d.fd, e->d_name, e->d_type);
		if (t == DT_DIR && (f = parse_fanout(e->d_name)) >= 0 &&
		    fstatat(d.fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			v->present[f / 8] |= 1 << (f % 8);
			v->mtime[f] = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			    st.st_mtim.tv_nsec;
			continue;
		}
		add_foreign(&j->fl, t == DT_DIR || t == DT_REG ||
		    t == DT_UNKNOWN ? FK_NAME : kind_of_type(t), path,
		    e->d_name);
	}
	if (err)
		j->errors++;
	free(d.buf);
	close(d.fd);
	j->nvols++;
}

/*
 * The list job (worker): read cache/ and list every volume directory in
 * it (list_volume: its fan-out directories and their mtimes) into the
 * job's vols[]; the pre-5.17 J and + trees and anything else unknown are
 * counted as foreign and left alone. j->err is set if cache/ cannot be
 * read; nothing here touches the index.
 */
static void
list_run(struct work *w)
{
	struct list_job *j = (struct list_job *)w;
	struct dents d;
	struct dent64 *e;
	unsigned t;
	int err = 0, cachefd;

	if ((cachefd = open_dir_beneath(j->rootfd, "cache")) < 0) {
		j->err = cachefd;
		return;
	}
	d.fd = cachefd;
	d.len = d.pos = 0;
	if ((d.buf = malloc(DENTS_BUF)) == NULL) {
		j->err = -ENOMEM;
		close(cachefd);
		return;
	}
	while ((e = next_dent(&d, &err)) != NULL) {
		t = entry_type(cachefd, e->d_name, e->d_type);
		if (e->d_name[0] == 'I' && t == DT_DIR &&
		    cfmt_check_volume_key(e->d_name + 1,
		    strlen(e->d_name + 1)) == 0)
			list_volume(j, cachefd, e->d_name);
		else if ((e->d_name[0] == 'J' || e->d_name[0] == '+') &&
		    t == DT_DIR)
			add_foreign(&j->fl, FK_OLD, "cache", e->d_name);
		else
			add_foreign(&j->fl, t == DT_DIR || t == DT_REG ||
			    t == DT_UNKNOWN ? FK_NAME : kind_of_type(t),
			    "cache", e->d_name);
	}
	if (err)
		j->err = err;
	free(d.buf);
	close(cachefd);
}

static int
grow_objs(struct dir_job *j, size_t namelen)
{
	if (j->nobjs == j->capobjs) {
		size_t cap = j->capobjs ? j->capobjs * 2 : 4096;
		struct obj_rec *no = realloc(j->objs, cap * sizeof(*no));

		if (no == NULL)
			return -ENOMEM;
		j->objs = no;
		j->capobjs = cap;
	}
	if (j->namelen + namelen > j->namecap) {
		size_t cap = j->namecap ? j->namecap * 2 : 65536;
		char *nn;

		while (cap < j->namelen + namelen)
			cap *= 2;
		if ((nn = realloc(j->names, cap)) == NULL)
			return -ENOMEM;
		j->names = nn;
		j->namecap = cap;
	}
	return 0;
}

/* Does the object's xattr say it could be served? (SCAN_XATTR) */
static int
xattr_ok(int dirfd, const char *name)
{
	uint8_t buf[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX];
	struct cfmt_obj o;
	ssize_t n;
	int fd;

	/* opened for reading only once fstat says a regular file: whatever
	 * was planted here since the statx, its driver's open is not called */
	fd = beneath_open_reg(dirfd, name, O_RDONLY | O_NOATIME | O_NONBLOCK);
	if (fd < 0)
		return 0;
	n = fgetxattr(fd, CFMT_XATTR, buf, sizeof(buf));
	close(fd);
	if (n < 0 || cfmt_obj_decode(buf, n, &o) < 0)
		return 0;
	return o.type == CFMT_TYPE_DATA && o.content != CFMT_CONTENT_DIRTY &&
	    (size_t)n == (size_t)CFMT_OBJ_XATTR_HDR + o.aux_len;
}

/* Keep or reject one statx result for job->objs[i]. */
static void
take_stat(struct dir_job *j, int dirfd, const char *dpath, size_t i,
    const struct statx *stx)
{
	struct obj_rec *o = &j->objs[i];
	const char *name = j->names + o->name_off;

	if (!S_ISREG(stx->stx_mode)) {
		add_foreign(&j->fl, kind_of_type(dtype_of_mode(stx->stx_mode)),
		    dpath, name);
		o->name_off = UINT32_MAX;
		return;
	}
	o->bytes = (uint64_t)stx->stx_blocks * 512;
	o->ino = stx->stx_ino;
	/* in ns, as index_now() stamps (and the store writes back); an atime
	 * past 2262 (any bits on a disk are possible) saturates */
	if (stx->stx_atime.tv_sec < 0)
		o->atime = 0;
	else if (stx->stx_atime.tv_sec >= INT64_MAX / 1000000000 - 1)
		o->atime = INT64_MAX;
	else
		o->atime = stx->stx_atime.tv_sec * 1000000000 +
		    (stx->stx_atime.tv_nsec % 1000000000);
	if ((j->flags & SCAN_XATTR) && !xattr_ok(dirfd, name))
		o->atime = 0;
}

#define STATX_WANT (STATX_TYPE | STATX_MODE | STATX_ATIME | STATX_BLOCKS | \
	STATX_INO)
#define STATX_FLAGS (AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)

/* statx objs[from..nobjs) of one dir, RING_DEPTH at a time. */
static void
stat_batch(struct dir_job *j, struct io_uring *ring, int dirfd,
    const char *dpath, size_t from)
{
	struct statx *stx = j->stx;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	size_t i, n, k;
	int r;

	for (i = from; i < j->nobjs; i += n) {
		n = j->nobjs - i < RING_DEPTH ? j->nobjs - i : RING_DEPTH;
		if (ring == NULL) {
			for (k = 0; k < n; k++) {
				r = statx(dirfd, j->names + j->objs[i + k].name_off,
				    STATX_FLAGS, STATX_WANT, &stx[k]);
				if (r < 0) {
					if (errno != ENOENT)
						j->errors++;
					j->objs[i + k].name_off = UINT32_MAX;
				} else
					take_stat(j, dirfd, dpath, i + k, &stx[k]);
			}
			continue;
		}
		for (k = 0; k < n; k++) {
			sqe = io_uring_get_sqe(ring);
			io_uring_prep_statx(sqe, dirfd,
			    j->names + j->objs[i + k].name_off, STATX_FLAGS,
			    STATX_WANT, &stx[k]);
			io_uring_sqe_set_data64(sqe, k);
		}
		r = io_uring_submit_and_wait(ring, n);
		for (k = 0; k < n; k++) {
			if ((r = io_uring_wait_cqe(ring, &cqe)) < 0) {
				/* cannot happen with n submitted; be safe */
				for (; k < n; k++)
					j->objs[i + k].name_off = UINT32_MAX;
				j->errors++;
				break;
			}
			size_t x = io_uring_cqe_get_data64(cqe);

			if (cqe->res < 0) {
				if (cqe->res != -ENOENT)
					j->errors++;
				j->objs[i + x].name_off = UINT32_MAX;
			} else
				take_stat(j, dirfd, dpath, i + x, &stx[x]);
			io_uring_cqe_seen(ring, cqe);
		}
	}
}

/*
 * One fan-out directory of a dir job (worker): read it with getdents64
 * into dbuf, keep the names that are regular files (or of unknown type),
 * uncook and sit in the right fan-out directory (the others are counted
 * as foreign), append them to the job's objs[] and names, then statx them
 * all (stat_batch, through ring if not NULL), which drops what is not a
 * regular file after all and fills in bytes, atime and inode.
 */
static void
scan_one_dir(struct dir_job *j, unsigned di, struct io_uring *ring,
    char *dbuf)
{
	struct jdir *jd = &j->dirs[di];
	uint8_t key[CFMT_MAX_COOKIE_KEY];
	char dpath[16 + CFMT_NAME_MAX];
	struct dents d;
	struct dent64 *e;
	size_t from = j->nobjs, l;
	int err = 0, kl;
	unsigned t;

	snprintf(dpath, sizeof(dpath), "cache/I%s/@%02x", jd->vkey,
	    jd->fanout);
	if ((d.fd = open_dir_beneath(j->rootfd, dpath)) < 0) {
		if (d.fd != -ENOENT)
			j->errors++;
		return;
	}
	d.buf = dbuf;
	d.len = d.pos = 0;
	while ((e = next_dent(&d, &err)) != NULL) {
		t = e->d_type;
		if (t != DT_REG && t != DT_UNKNOWN) {
			add_foreign(&j->fl, kind_of_type(t), dpath, e->d_name);
			continue;
		}
		kl = cfmt_uncook_key(e->d_name, key, sizeof(key));
		if (kl < 0) {
			add_foreign(&j->fl, FK_BADKEY, dpath, e->d_name);
			continue;
		}
		if (cfmt_fanout(key, kl, jd->vhash) != jd->fanout) {
			add_foreign(&j->fl, FK_MISPLACED, dpath, e->d_name);
			continue;
		}
		l = strlen(e->d_name) + 1;
		if (grow_objs(j, l) < 0) {
			j->errors++;
			break;
		}
		memcpy(j->names + j->namelen, e->d_name, l);
		j->objs[j->nobjs].name_off = j->namelen;
		j->objs[j->nobjs].dir = di;
		j->nobjs++;
		j->namelen += l;
	}
	if (err) {
		j->errors++;
		log_warnx_rl(&error_rl, "scan: getdents %s: %s", dpath,
		    strerror(-err));
	}
	stat_batch(j, ring, d.fd, dpath, from);
	close(d.fd);
}

/*
 * One ring per scan thread, made on its first job and closed when the
 * thread ends (workq_destroy): rings are not shared, and not set up again
 * for every job.
 */
static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;

static void
ring_free(void *p)
{
	io_uring_queue_exit(p);
	free(p);
}

static void
ring_key_init(void)
{
	if (pthread_key_create(&ring_key, ring_free) != 0)
		ring_key = (pthread_key_t)-1;
}

static struct io_uring *
thread_ring(void)
{
	struct io_uring *r;
	unsigned maxw[2] = { 0, 8 };

	pthread_once(&ring_once, ring_key_init);
	if (ring_key == (pthread_key_t)-1)
		return NULL;
	if ((r = pthread_getspecific(ring_key)) != NULL)
		return r;
	if ((r = malloc(sizeof(*r))) == NULL)
		return NULL;
	if (io_uring_queue_init(RING_DEPTH, r, 0) < 0) {
		free(r);
		return NULL;
	}
	/* statx runs on io-wq: a few workers per ring are plenty */
	(void)io_uring_register_iowq_max_workers(r, maxw);
	if (pthread_setspecific(ring_key, r) != 0) {
		ring_free(r);
		return NULL;
	}
	return r;
}

static void
dir_run(struct work *w)
{
	struct dir_job *j = (struct dir_job *)w;
	struct io_uring *rp = NULL;
	char *dbuf;
	unsigned i;

	dbuf = malloc(DENTS_BUF);
	j->stx = malloc(RING_DEPTH * sizeof(*j->stx));
	if (dbuf == NULL || j->stx == NULL) {
		free(dbuf);
		free(j->stx);
		j->stx = NULL;
		j->errors++;
		return;
	}
	if (!(j->flags & SCAN_SYNC))
		rp = thread_ring();	/* NULL: plain statx */
	for (i = 0; i < j->ndirs; i++)
		scan_one_dir(j, i, rp, dbuf);
	free(j->stx);
	j->stx = NULL;
	free(dbuf);
}

/* ---- main thread ------------------------------------------------------ */

static void
log_foreign(const struct foreign_list *fl)
{
	unsigned i;

	for (i = 0; i < FK_MAX; i++) {
		scan.foreign[i] += fl->count[i];
		scan.p.foreign += fl->count[i];
	}
	/* each one once, up to MAX_FOREIGN_LOGGED per pass; the summary at
	 * the end of the pass counts them all */
	for (i = 0; i < fl->nrec; i++)
		if (scan.logged++ < MAX_FOREIGN_LOGGED)
			log_warnx("scan: foreign entry left alone: %s: %s",
			    fl->rec[i].path, fk_name[fl->rec[i].kind]);
}

static void finish(int err);
static void dir_done(struct work *w);

static uint32_t
find_sdir(uint16_t vol, uint8_t fanout)
{
	if (vol >= scan.dirmap_vols)
		return INDEX_NONE;
	return scan.dirmap[(size_t)vol * 256 + fanout];
}

/* A fan-out directory seen for the first time: append it to scan.dirs
 * (listed, to scan) and map (vol, fanout) to it; its index in *out.
 * -ENOMEM if either array cannot grow. */
static int
add_sdir(uint16_t vol, uint8_t fanout, int64_t mtime, uint32_t *out)
{
	uint32_t *nm;
	struct sdir *nd;
	unsigned nv;

	if (vol >= scan.dirmap_vols) {
		nv = vol + 8;
		nm = realloc(scan.dirmap, (size_t)nv * 256 * sizeof(*nm));
		if (nm == NULL)
			return -ENOMEM;
		memset(nm + (size_t)scan.dirmap_vols * 256, 0xff,
		    (size_t)(nv - scan.dirmap_vols) * 256 * sizeof(*nm));
		scan.dirmap = nm;
		scan.dirmap_vols = nv;
	}
	if (scan.ndirs == scan.capdirs) {
		uint32_t cap = scan.capdirs ? scan.capdirs * 2 : 1024;

		if ((nd = realloc(scan.dirs, cap * sizeof(*nd))) == NULL)
			return -ENOMEM;
		scan.dirs = nd;
		scan.capdirs = cap;
	}
	nd = &scan.dirs[scan.ndirs];
	nd->vol = vol;
	nd->fanout = fanout;
	nd->mtime = mtime;
	nd->listed = 1;
	nd->changed = 1;
	scan.dirmap[(size_t)vol * 256 + fanout] = scan.ndirs;
	*out = scan.ndirs++;
	return 0;
}

/* Keep JOBS_IN_FLIGHT dir jobs queued; finish when all are back. */
static void
pump(void)
{
	struct dir_job *j;
	struct sdir *sd;
	const char *vkey;

	if (scan.stopping)
		return;
	while (scan.inflight < JOBS_IN_FLIGHT && scan.next_todo < scan.ntodo) {
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			log_warnx("scan: out of memory");
			scan.next_todo = scan.ntodo;
			break;
		}
		j->w.run = dir_run;
		j->w.done = dir_done;
		j->rootfd = scan.rootfd;
		j->flags = scan.flags;
		while (j->ndirs < DIRS_PER_JOB && scan.next_todo < scan.ntodo) {
			struct jdir *jd = &j->dirs[j->ndirs++];

			jd->sdir = scan.todo[scan.next_todo++];
			sd = &scan.dirs[jd->sdir];
			jd->vol = sd->vol;
			jd->fanout = sd->fanout;
			vkey = index_volume_key(sd->vol);
			snprintf(jd->vkey, sizeof(jd->vkey), "%s", vkey);
			jd->vhash = cfmt_volume_hash(vkey, strlen(vkey));
		}
		scan.inflight++;
		workq_submit(scan.q, &j->w);
	}
	if (scan.inflight == 0 && scan.next_todo >= scan.ntodo)
		finish(0);
}

static void
mark_seen(uint32_t id)
{
	size_t need = (size_t)id / 8 + 1, cap;
	uint8_t *ns;

	if (need > scan.seen_bytes) {
		cap = need * 2;
		if ((ns = realloc(scan.seen, cap)) == NULL)
			return;		/* unmarked: swept later, re-found next time */
		memset(ns + scan.seen_bytes, 0, cap - scan.seen_bytes);
		scan.seen = ns;
		scan.seen_bytes = cap;
	}
	scan.seen[id / 8] |= 1 << (id % 8);
}

static int
is_seen(uint32_t id)
{
	return (size_t)id / 8 < scan.seen_bytes &&
	    (scan.seen[id / 8] & (1 << (id % 8)));
}

/*
 * A dir job is back (main thread): add its objects to the index (by name,
 * or by name hash and inode with SCAN_NAMELESS), mark them seen for a
 * rescan's sweep, count them, its errors and its foreign entries, free
 * the job and queue the next ones (pump).
 */
static void
dir_done(struct work *w)
{
	struct dir_job *j = (struct dir_job *)w;
	struct obj_rec *o;
	struct jdir *jd;
	uint32_t id;
	size_t i;

	for (i = 0; i < j->nobjs; i++) {
		o = &j->objs[i];
		if (o->name_off == UINT32_MAX)
			continue;
		jd = &j->dirs[o->dir];
		if (j->flags & SCAN_NAMELESS)
			id = index_add_ino(jd->vol, jd->fanout,
			    j->names + o->name_off, o->ino, o->bytes, o->atime);
		else
			id = index_add(jd->vol, jd->fanout,
			    j->names + o->name_off, o->bytes, o->atime);
		if (id == INDEX_NONE) {
			scan.p.errors++;
			log_warnx_rl(&error_rl, "scan: index %s: out of memory",
			    j->names + o->name_off);
			continue;
		}
		if (scan.rescan)
			mark_seen(id);
		scan.p.objects++;
		scan.p.bytes += o->bytes;
	}
	log_foreign(&j->fl);
	scan.p.errors += j->errors;
	scan.p.dirs_done += j->ndirs;
	scan.inflight--;
	free(j->objs);
	free(j->names);
	free(j);
	pump();
}

/*
 * The list job is back (main thread): give each volume its index id, note
 * each fan-out directory found (new ones, and on a rescan those whose
 * mtime changed, are to scan; those no longer listed are swept at the
 * end), build the todo list and start the dir jobs (pump). A cache/ that
 * could not be read ends the scan with its error.
 */
static void
list_done(struct work *w)
{
	struct list_job *j = (struct list_job *)w;
	struct sdir *sd;
	struct vinfo *v;
	unsigned i, f;
	uint32_t s;
	int vol;

	log_foreign(&j->fl);
	scan.p.errors += j->errors;
	if (j->err < 0) {
		int err = j->err;

		log_warnx("scan: cannot read cache/: %s", strerror(-err));
		free(j->vols);
		free(j);
		finish(err);
		return;
	}
	for (s = 0; s < scan.ndirs; s++)
		scan.dirs[s].listed = scan.dirs[s].changed = 0;
	for (i = 0; i < j->nvols; i++) {
		v = &j->vols[i];
		if ((vol = index_volume(v->key)) < 0) {
			scan.p.errors++;
			log_warnx("scan: volume %s: %s", v->key,
			    strerror(-vol));
			continue;
		}
		for (f = 0; f < 256; f++) {
			if (!(v->present[f / 8] & (1 << (f % 8))))
				continue;
			s = find_sdir(vol, f);
			if (s == INDEX_NONE) {
				if (add_sdir(vol, f, v->mtime[f], &s) < 0)
					scan.p.errors++;
				continue;
			}
			sd = &scan.dirs[s];
			sd->listed = 1;
			if (!scan.rescan || sd->mtime != v->mtime[f]) {
				sd->changed = 1;
				sd->mtime = v->mtime[f];
			}
		}
	}
	free(j->vols);
	free(j);
	if (scan.stopping)
		return;
	/* what to scan: changed dirs; gone dirs are swept at the end */
	free(scan.todo);
	scan.ntodo = scan.next_todo = 0;
	if ((scan.todo = malloc(((size_t)scan.ndirs + 1) *
	    sizeof(*scan.todo))) == NULL) {
		finish(-ENOMEM);
		return;
	}
	for (s = 0; s < scan.ndirs; s++) {
		if (!scan.dirs[s].listed)
			scan.dirs[s].changed = 1;	/* gone: sweep it */
		else if (scan.dirs[s].changed)
			scan.todo[scan.ntodo++] = s;
	}
	scan.p.dirs_total = scan.ntodo;
	pump();
}

/* Rescan: drop objects of rescanned (or vanished) dirs that were not seen. */
static void
sweep(void)
{
	uint32_t cur = 0, id, s;
	uint64_t dropped = 0;

	while ((id = index_next(-1, &cur)) != INDEX_NONE) {
		s = find_sdir(index_vol(id), index_fanout(id));
		if (s != INDEX_NONE && !scan.dirs[s].changed)
			continue;
		if (is_seen(id) || index_pins(id) ||
		    index_get_state(id) == INDEX_CULLING)
			continue;
		index_del(id);
		dropped++;
	}
	if (dropped)
		log_debug("scan: rescan dropped %llu objects gone from disk",
		    (unsigned long long)dropped);
}

static void
finish(int err)
{
	void (*done)(void *, int) = scan.done;

	if (scan.rescan && err == 0)
		sweep();
	free(scan.seen);
	scan.seen = NULL;
	scan.seen_bytes = 0;
	scan.running = scan.p.running = 0;
	scan.p.ms = loop_now_ms() - scan.start_ms;
	scan.passes++;
	if (!scan.rescan)
		log_info("scan: %llu objects, %llu bytes, %u directories in "
		    "%llu ms; %llu foreign entries left alone, %llu errors",
		    (unsigned long long)scan.p.objects,
		    (unsigned long long)scan.p.bytes, scan.p.dirs_done,
		    (unsigned long long)scan.p.ms,
		    (unsigned long long)scan.p.foreign,
		    (unsigned long long)scan.p.errors);
	scan.done = NULL;
	if (done)
		done(scan.done_arg, err);
}

static int
start(int rootfd, unsigned flags, int rescan, void (*done)(void *, int),
    void *arg)
{
	struct list_job *j;

	if (scan.running)
		return -EBUSY;
	if (scan.q == NULL && (scan.q =
	    workq_create_background("larder-scan", SCAN_THREADS)) == NULL)
		return -errno;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	scan.rootfd = rootfd;
	scan.flags = flags;
	scan.rescan = rescan;
	scan.done = done;
	scan.done_arg = arg;
	scan.running = 1;
	memset(&scan.p, 0, sizeof(scan.p));
	scan.logged = 0;
	scan.p.running = 1;
	scan.start_ms = loop_now_ms();
	j->w.run = list_run;
	j->w.done = list_done;
	j->rootfd = rootfd;
	workq_submit(scan.q, &j->w);
	return 0;
}

int
scan_start(int rootfd, unsigned flags, void (*done)(void *, int), void *arg)
{
	return start(rootfd, flags, 0, done, arg);
}

int
scan_rescan_changed(void (*done)(void *, int), void *arg)
{
	if (scan.q == NULL)
		return -EINVAL;		/* no first scan */
	return start(scan.rootfd, scan.flags, 1, done, arg);
}

int
scan_running(void)
{
	return scan.running;
}

void
scan_get_progress(struct scan_progress *p)
{
	*p = scan.p;
	if (scan.running)
		p->ms = loop_now_ms() - scan.start_ms;
}

const char *
scan_state(void)
{
	return scan.running ? "running" : scan.passes ? "done" : "not started";
}

void
scan_stats(void (*put)(void *arg, const char *key, uint64_t v), void *arg)
{
	unsigned i;

	put(arg, "scan.passes", scan.passes);
	put(arg, "scan.objects", scan.p.objects);
	put(arg, "scan.bytes", scan.p.bytes);
	put(arg, "scan.ms", scan.p.ms);
	put(arg, "scan.errors", scan.p.errors);
	for (i = 0; i < FK_MAX; i++)
		put(arg, fk_key[i], scan.foreign[i]);
}

void
scan_fini(void)
{
	scan.stopping = 1;
	if (scan.q)
		workq_destroy(scan.q);
	free(scan.dirs);
	free(scan.dirmap);
	free(scan.todo);
	free(scan.seen);
	memset(&scan, 0, sizeof(scan));
}
