/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bury.c: the culler's rename backend (see bury.h).
 *
 * Each batch renames its victims into a directory of its own,
 * graveyard/.c<pid>.<seq>, and at the end renames that directory to
 * graveyard/c<pid>.<seq>, which is when the reaper (told by inotify) takes
 * it whole. So renames and unlinks never wait on the same directory lock,
 * and no directory grows to the size of a pass. A crash leaves either kind
 * behind; the full reap at start removes both. Victims are named
 * c<pid>.<seq>.<i> (unique in graveyard/ itself, where they go if the
 * job's directory cannot be made). <seq> is the job's, given by the main
 * thread: the workers share no counter.
 *
 * A victim of at most BURY_UNLINK_MAX bytes on disk is unlinked in place
 * instead, as the kernel's cachefiles does with every file it culls:
 * freeing a few blocks costs no more than the rename would, and the
 * rename plus the reaper's unlink made culling a tenth of a cache of
 * 4 KiB objects 1.5 times as slow as a plain unlink loop (issue 15;
 * tests/bench/README-cull.md). What the graveyard is for, keeping a
 * slow unlink (a big file's extents) off the cull workers and the cull's
 * bytes countable until they are really free, matters for big objects;
 * they still go there. The job's directory is made at its first rename.
 *
 * Opening cache/I<volume>/@xx for every victim costs a path walk and a
 * close around each rename, and the renames are the part of culling the
 * kernel serialises (all cross-directory renames of a filesystem take one
 * mutex), so a job keeps what it opened in the cache it was lent.
 *
 * Locks: none (see bury.h for who owns what).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfmt.h"
#include "beneath.h"
#include "bury.h"

#define FDS_MAX		4096
#define BURY_UNLINK_MAX	(1u << 20)	/* bytes on disk: unlinked in place */

/* ---- the caches (main thread) ------------------------------------------- */

unsigned
bury_fds_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 256;
	return rl.rlim_cur / 4 < FDS_MAX ? rl.rlim_cur / 4 : FDS_MAX;
}

void
bury_caches_init(struct bury_cache *c, unsigned n, unsigned fds_max)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		c[i].fds = NULL;
		c[i].nslots = 0;
		c[i].nopen = 0;
		c[i].maxopen = fds_max / n;
		c[i].lent = 0;
	}
}

void
bury_caches_size(struct bury_cache *c, unsigned n, size_t nslots)
{
	unsigned k;
	size_t i;
	int *t;

	for (k = 0; k < n; k++) {
		if (nslots <= c[k].nslots ||
		    (t = realloc(c[k].fds, nslots * sizeof(*t))) == NULL)
			continue;
		for (i = c[k].nslots; i < nslots; i++)
			t[i] = -1;
		c[k].fds = t;
		c[k].nslots = nslots;
	}
}

void
bury_caches_close(struct bury_cache *c, unsigned n)
{
	unsigned k;
	size_t i;

	for (k = 0; k < n; k++)
		for (i = 0; c[k].nopen > 0 && i < c[k].nslots; i++)
			if (c[k].fds[i] >= 0) {
				close(c[k].fds[i]);
				c[k].fds[i] = -1;
				c[k].nopen--;
			}
}

void
bury_caches_free(struct bury_cache *c, unsigned n)
{
	unsigned k;

	bury_caches_close(c, n);
	for (k = 0; k < n; k++) {
		free(c[k].fds);
		c[k].fds = NULL;
		c[k].nslots = 0;
	}
}

struct bury_cache *
bury_cache_lend(struct bury_cache *c, unsigned n)
{
	unsigned k;

	for (k = 0; k < n; k++)
		if (!c[k].lent) {
			c[k].lent = 1;
			return &c[k];
		}
	return NULL;
}

void
bury_cache_return(struct bury_cache *c)
{
	if (c)
		c->lent = 0;
}

/* ---- a batch (a cull worker) --------------------------------------------- */

/* Make and open the job's graveyard directory, named in dname; -1 if it
 * cannot be had (the victims then go to graveyard/ itself). */
static int
job_dir_open(const struct bury_job *bj, char *dname, size_t len)
{
	snprintf(dname, len, ".c%lx.%lx", (unsigned long)getpid(), bj->seq);
	if (mkdirat(bj->gravefd, dname, 0700) < 0)
		return -1;
	return openat(bj->gravefd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/* Hand the job's directory to the reaper: rename it to its name without
 * the dot. */
static void
job_dir_publish(const struct bury_job *bj, int dfd, const char *dname)
{
	if (dfd < 0)
		return;
	close(dfd);
	/* if this fails the directory stays until the next start */
	(void)renameat(bj->gravefd, dname, bj->gravefd, dname + 1);
}

/* The fd of v's cache/I<volume_key>/@<fanout>, kept in the job's cache up
 * to its maxopen; *own: the caller closes it. */
static int
fanout_fd(const struct bury_job *bj, const struct cull_victim *v, int *own)
{
	size_t slot = (size_t)v->vol * 256 + v->fanout;
	struct bury_cache *c = bj->cache;
	char path[16 + CFMT_MAX_VOLUME_KEY];
	int fd;

	*own = 0;
	if (c && slot < c->nslots && c->fds[slot] >= 0)
		return c->fds[slot];
	snprintf(path, sizeof(path), "cache/I%s/@%02x", v->volume_key,
	    v->fanout);
	if ((fd = open_dir_beneath(bj->rootfd, path)) < 0)
		return fd == -ENOENT ? -ESTALE : fd;
	if (c && slot < c->nslots && c->nopen < c->maxopen) {
		c->fds[slot] = fd;
		c->nopen++;
	} else
		*own = 1;
	return fd;
}

/* The job's graveyard directory, made at its first rename. */
struct job_dir {
	char name[48];
	int fd;			/* -1: not made (yet) */
	int tried;
};

/* Unlink victim v in place (small), or rename it as victim i into the
 * job's directory (made now if it is the first), else into graveyard/. */
static int
bury_one(const struct bury_job *bj, struct cull_victim *v, unsigned i,
    struct job_dir *jd)
{
	char grave[64];
	int dfd, own, r = 0;

	if ((dfd = fanout_fd(bj, v, &own)) < 0)
		return dfd;
	if (v->bytes <= BURY_UNLINK_MAX) {
		if (unlinkat(dfd, v->name, 0) == 0)
			v->unlinked = 1;
		else
			r = errno == ENOENT ? -ESTALE : -errno;
		goto out;
	}
	if (!jd->tried) {
		jd->tried = 1;
		jd->fd = job_dir_open(bj, jd->name, sizeof(jd->name));
	}
	snprintf(grave, sizeof(grave), "c%lx.%lx.%x", (unsigned long)getpid(),
	    bj->seq, i);
	if (renameat(dfd, v->name, jd->fd >= 0 ? jd->fd : bj->gravefd,
	    grave) < 0) {
		r = -errno;
		/* ENOENT: the object is gone, or our target directory */
		if (r == -ENOENT)
			r = faccessat(dfd, v->name, F_OK,
			    AT_SYMLINK_NOFOLLOW) == 0 ? -EIO : -ESTALE;
	}
out:
	if (own)
		close(dfd);
	return r;
}

/* (No CULL_USED_SINCE here: the store sees every use, the index is
 * exact.) */
void
bury_batch(struct cull_victim *v, unsigned n, const struct bury_job *bj)
{
	struct job_dir jd = { .fd = -1 };
	unsigned i;

	for (i = 0; i < n; i++)
		v[i].res = bury_one(bj, &v[i], i, &jd);
	job_dir_publish(bj, jd.fd, jd.name);
}
