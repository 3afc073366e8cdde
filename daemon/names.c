/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * names.c: names of nameless index entries, found again by reading their
 * fan-out directories on a worker (see names.h).
 *
 * names_resolve copies what the worker needs of each nameless entry (id,
 * volume key, fan-out, name hash, inode) into a job, sorted by directory,
 * so that the worker ("larder-names", one thread, started on first use)
 * reads each directory once for all of its entries. Back on the main
 * thread, names_done checks that each entry is still the one it copied
 * (same volume, hash and inode, still nameless) before it names or drops
 * it: the index may have changed while the worker read.
 *
 * Threads: the job is the worker's alone between submit and done; the
 * index is touched only in names_done (main thread).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beneath.h"
#include "cfmt.h"
#include "index.h"
#include "names.h"
#include "workq.h"

struct name_item {
	uint32_t id;
	uint16_t vol;
	uint8_t fanout;
	int res;		/* 1 found, 0 not there, -errno: unknown */
	char vkey[CFMT_MAX_VOLUME_KEY + 1];
};

struct names_job {
	struct work w;
	int cachefd;
	void (*done)(void *);
	void *arg;
	size_t n;
	struct name_item it[NAMES_MAX];
	struct index_want want[NAMES_MAX];	/* want[i] is it[i]'s */
};

static struct workq *names_q;

ssize_t
names_resolve_in(int fd, const char *prefix, const char *vkey,
    uint8_t fanout, struct index_want *w, size_t n)
{
	char path[16 + CFMT_MAX_VOLUME_KEY];
	ssize_t r;
	int dfd;

	snprintf(path, sizeof(path), "%sI%s/@%02x", prefix, vkey, fanout);
	if ((dfd = open_dir_beneath(fd, path)) < 0)
		return dfd == -ENOENT || dfd == -ENOTDIR ? -ESTALE : dfd;
	r = index_resolve_dir(dfd, w, n);
	close(dfd);
	return r;
}

/* same directory */
static int
same_dir(const struct name_item *a, const struct name_item *b)
{
	return a->vol == b->vol && a->fanout == b->fanout;
}

/* Worker: one read per run of items in the same directory. */
static void
names_run(struct work *w)
{
	struct names_job *j = (struct names_job *)w;
	size_t i, e, k;
	ssize_t r;

	for (i = 0; i < j->n; i = e) {
		for (e = i + 1; e < j->n && same_dir(&j->it[e], &j->it[i]); e++)
			;
		r = names_resolve_in(j->cachefd, "", j->it[i].vkey,
		    j->it[i].fanout, &j->want[i], e - i);
		for (k = i; k < e; k++)
			j->it[k].res = j->want[k].found ? 1 :
			    r == -ESTALE || r >= 0 ? 0 : (int)r;
	}
}

/* Main thread: name item i's entry, or drop it when its file is gone,
 * if it is still the entry the job copied. */
static void
names_take(const struct names_job *j, size_t i)
{
	const struct name_item *it = &j->it[i];
	const struct index_want *w = &j->want[i];
	uint32_t id = it->id;

	if (index_named(id) || index_vol(id) != it->vol ||
	    index_hash(id) != w->hash || index_ino(id) != w->ino)
		return;		/* changed meanwhile: not ours to judge */
	if (it->res == 1)
		index_add(it->vol, it->fanout, w->name, index_bytes(id),
		    index_last_use(id));
	else if (it->res == 0 && index_pins(id) == 0 &&
	    index_get_state(id) == INDEX_LIVE)
		index_del(id);
}

static void
names_done(struct work *w)
{
	struct names_job *j = (struct names_job *)w;
	size_t i;

	for (i = 0; i < j->n; i++)
		names_take(j, i);
	j->done(j->arg);
	free(j);
}

static int
item_cmp(const void *a, const void *b)
{
	const struct name_item *x = a, *y = b;

	if (x->vol != y->vol)
		return x->vol < y->vol ? -1 : 1;
	return x->fanout < y->fanout ? -1 : x->fanout > y->fanout;
}

/* Copy nameless id into the job as its next item (sorted later). */
static void
job_item(struct names_job *j, uint32_t id)
{
	struct name_item *it = &j->it[j->n++];
	const char *vk = index_volume_key(index_vol(id));

	it->id = id;
	it->vol = index_vol(id);
	it->fanout = index_fanout(id);
	it->res = -EIO;
	snprintf(it->vkey, sizeof(it->vkey), "%s", vk ? vk : "");
}

int
names_resolve(int cachefd, const uint32_t *ids, size_t n,
    void (*done)(void *arg), void *arg)
{
	struct names_job *j;
	size_t i;

	if (n > NAMES_MAX)
		return -EINVAL;
	if (names_q == NULL &&
	    (names_q = workq_create_background("larder-names", 1)) == NULL)
		return -errno;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->w.run = names_run;
	j->w.done = names_done;
	j->cachefd = cachefd;
	j->done = done;
	j->arg = arg;
	for (i = 0; i < n; i++)
		if (!index_named(ids[i]) && index_hash(ids[i]) != 0)
			job_item(j, ids[i]);
	qsort(j->it, j->n, sizeof(j->it[0]), item_cmp);
	for (i = 0; i < j->n; i++) {
		j->want[i].hash = index_hash(j->it[i].id);
		j->want[i].ino = index_ino(j->it[i].id);
		j->want[i].name[0] = '\0';
	}
	workq_submit(names_q, &j->w);
	return 0;
}

void
names_fini(void)
{
	if (names_q)
		workq_destroy(names_q);
	names_q = NULL;
}
