/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * meta.c: the meta thread. Batching happens on the main thread (the list of
 * queued records and the timer are main-thread state); the thread gets one
 * batch at a time as a workq job carrying the records, so a later batch
 * never overtakes an earlier one. The workq's lock is the only lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "beneath.h"
#include "access.h"
#include "log.h"
#include "loop.h"
#include "meta.h"
#include "workq.h"

/*
 * fdatasync per file or one syncfs for the batch? Measured with
 * tests/bench/bench_meta_sync (64 KiB freshly written per file, median of
 * 5; loop-mounted 300-512 MiB images on this 2-core machine, kernel 6.18):
 *
 *   files        1      2      4      8     16     32     64
 *   ext4 fdsync  0.83   3.73  15.64  17.27  19.67  75.53  73.91 ms
 *   ext4 syncfs  1.41   2.78   7.85   5.91   7.72  23.96  23.52 ms
 *   xfs  fdsync  0.61   1.43   2.93   6.90  11.60  20.56  58.00 ms
 *   xfs  syncfs  1.45   0.84   1.17   1.73   2.53   4.07   7.96 ms
 *
 * One file: fdatasync is cheaper (about half); from two files up syncfs
 * wins, by 3x at 8 files and more beyond. But syncfs also writes back
 * everything else dirty on the filesystem (other fills still in flight,
 * up to FILL_MAX_PENDING bytes), so at the break-even it can lose under
 * load: syncfs from 4 distinct files up, where it was 2x cheaper.
 */
#define SYNCFS_MIN_FILES	4

/*
 * A batch's state, which a freeze may change from another thread: the
 * meta thread runs the barrier in B_QUEUED and moves to B_WRITING before
 * its first xattr; meta_hold_records moves a batch still in B_QUEUED to
 * B_STOPPED, and then the thread writes nothing of it (it skips even the
 * barrier if it had not begun). Compare-and-swap on both sides: exactly
 * one wins.
 */
enum { B_QUEUED, B_WRITING, B_STOPPED };

struct batch {
	struct work w;
	_Atomic int state;
	struct meta_rec *recs;
	unsigned n;
	uint64_t last_seq;
	struct meta_stats st;		/* worker fills, main adds */
};

struct flush_waiter {
	struct flush_waiter *next;
	uint64_t seq;
	int all;		/* meta_flush: the held records too */
	void (*done)(void *arg);
	void *arg;
};

static struct workq *metaq;
static int cache_fd = -1, stage_fd = -1;
/* main thread state */
static struct meta_rec *q_head, *q_tail;
static unsigned q_count;
static struct batch *in_flight;
static struct loop_timer *timer;
static uint64_t queued_seq, done_seq;
static struct flush_waiter *waiters;
static struct meta_stats stats;
static int flushing;
/*
 * Records held by a freeze (meta_hold_records .. meta_release_records,
 * main thread): object and volume records stay out of batches, in their
 * order, so that a freeze's flush writes only atimes and its syncfs; a
 * batch stopped before its xattrs (stopped, until its done() comes back)
 * goes to the front of them. They are not in q_head or q_count: a batch's
 * last_seq counts them as done for meta_flush_unheld, while meta_flush's
 * waiters are parked until they are queued again. While anything is held
 * or stopped, newly queued object and volume records are held too (no
 * record for a file may overtake an older one).
 */
static struct meta_rec *held_head, *held_tail;
static unsigned held_count;
static int holding, finishing;
static struct batch *stopped;
static struct flush_waiter *parked;
/* meta thread only */
static unsigned long link_counter;

static void submit_batch(void);
static void batch_stopped_done(struct batch *b);

/*
 * A writeback kick (meta thread): start the writeback of the dirty pages
 * of objects that a stream is filling, without waiting for it
 * (sync_file_range SYNC_FILE_RANGE_WRITE), so that the barrier at the end
 * of the stream has little left to write: the stream's claim comes about
 * when a plain writer's fdatasync would return. Nothing is claimed by a
 * kick. The fds are dups, closed on the main thread when done (never the
 * last reference: the records' owners keep theirs). One kick at a time.
 */
#define KICK_MAX	8

struct kick {
	struct work w;
	int fd[KICK_MAX];
	unsigned n;
};

static int kicking;		/* a kick in flight (main thread) */
static uint64_t stream_quiet_ms = META_STREAM_QUIET_MS;
static uint64_t stream_max_ms = META_STREAM_MAX_MS;
static int barrier_gate = -1;	/* tests: meta_set_barrier_gate */

static void
kick_run(struct work *w)
{
	struct kick *k = (struct kick *)w;
	unsigned i;

	for (i = 0; i < k->n; i++)
		(void)sync_file_range(k->fd[i], 0, 0, SYNC_FILE_RANGE_WRITE);
}

static void
kick_done(struct work *w)
{
	struct kick *k = (struct kick *)w;
	unsigned i;

	for (i = 0; i < k->n; i++)
		close(k->fd[i]);
	stats.kicks += k->n;
	free(k);
	kicking = 0;
}

/* Main thread: kick the writeback of the objects of the queued records
 * touched within META_STREAM_QUIET_MS of now, unless a kick is in flight
 * (or no memory or fd is to be had: the barrier does it all then). */
static void
kick_streams(uint64_t now)
{
	struct meta_rec *r;
	struct kick *k;
	int fd;

	if (kicking || !(k = calloc(1, sizeof(*k))))
		return;
	for (r = q_head; r && k->n < KICK_MAX; r = r->next)
		if (r->kind == META_OBJECT && r->fd >= 0 && r->touched_ms &&
		    now - r->touched_ms < stream_quiet_ms &&
		    (fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0)) >= 0)
			k->fd[k->n++] = fd;
	if (k->n == 0) {
		free(k);
		return;
	}
	k->w.run = kick_run;
	k->w.done = kick_done;
	kicking = 1;
	workq_submit(metaq, &k->w);
}

/* Main thread: whether the batch due at now waits for a stream to end
 * (META_STREAM_QUIET_MS in meta.h): a queued record touched lately, and
 * the oldest not yet META_STREAM_MAX_MS old. */
static int
streaming(uint64_t now)
{
	struct meta_rec *r;

	if (!q_head || flushing || now - q_head->queued_ms >= stream_max_ms)
		return 0;
	for (r = q_head; r; r = r->next)
		if (r->touched_ms && now - r->touched_ms < stream_quiet_ms)
			return 1;
	return 0;
}

/* The batch timer: the batch goes, unless a stream is on (then its
 * writeback is kicked and the rule is looked at again in
 * META_STREAM_QUIET_MS, whatever the quiet time tests set). */
static void
on_timer(void *arg)
{
	uint64_t now = loop_now_ms();

	(void)arg;
	timer = NULL;		/* a fired timer is freed by the loop */
	if (streaming(now)) {
		stats.stream_waits++;
		kick_streams(now);
		timer = loop_timer_add(META_STREAM_QUIET_MS, on_timer, NULL);
		return;
	}
	submit_batch();
}

int
meta_init(int cachefd, int stagefd)
{
	cache_fd = cachefd;
	stage_fd = stagefd;
	/* two workers: a freeze's flush runs beside a batch it stopped
	 * (meta_hold_records); a kick may run beside a batch; batches
	 * never run side by side (in_flight) */
	metaq = workq_create("larder-meta", 2);
	if (!metaq)
		return -errno;
	return 0;
}

void
meta_fini(void)
{
	struct meta_rec *r;
	struct flush_waiter *fw;

	if (timer)
		loop_timer_cancel(timer);
	timer = NULL;
	finishing = 1;		/* the dones destroy runs submit nothing */
	workq_destroy(metaq);
	metaq = NULL;
	/* a stop quiesce releases them first (store_quiesce), so only a
	 * stop that did not finish its quiesce gets here with any */
	if (held_count)
		log_info("meta: %u records held by a freeze were not written; "
		    "what they claimed is a miss at the next start", held_count);
	while ((r = held_head) != NULL) {
		held_head = r->next;
		r->next = NULL;
		r->err = -ESHUTDOWN;
		r->done(r);
	}
	held_tail = NULL;
	held_count = 0;
	holding = finishing = 0;
	while ((fw = parked) != NULL) {
		parked = fw->next;
		fw->done(fw->arg);
		free(fw);
	}
}

unsigned
meta_pending(void)
{
	return q_count + held_count + (in_flight ? in_flight->n : 0) +
	    (stopped ? stopped->n : 0);
}

uint64_t
meta_oldest_ms(void)
{
	uint64_t now = loop_now_ms(), oldest = now;

	if (in_flight && in_flight->w.submitted_ms < oldest)
		oldest = in_flight->w.submitted_ms;
	if (q_head && q_head->queued_ms < oldest)
		oldest = q_head->queued_ms;
	return now - oldest;
}

void
meta_get_stats(struct meta_stats *s)
{
	*s = stats;
	s->held = held_count + (stopped ? stopped->n : 0);
}

/* Worker: write the xattrs of one object record. */
static int
write_object_xattrs(struct meta_rec *r, struct meta_stats *st)
{
	if (r->map && fsetxattr(r->fd, CFMT_MAP_XATTR, r->map, r->map_len,
	    0) < 0)
		return -errno;
	if (r->xattr_len && fsetxattr(r->fd, CFMT_XATTR, r->xattr,
	    r->xattr_len, 0) < 0)
		return -errno;
	st->xattr_writes++;
	return 0;
}

/* Worker: link a tmpfile at its final name, replacing what is there:
 * linked under a temporary name in the staging directory, then renamed
 * over the final name in one step. (Not in graveyard/: the reaper unlinks
 * whatever appears there.) */
static int
link_object(struct meta_rec *r, struct meta_stats *st)
{
	char proc[64], tmp[64];
	const char *last;
	int pfd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", r->fd);
	snprintf(tmp, sizeof(tmp), META_LINK_PREFIX "%ld.%lu", (long)getpid(),
	    ++link_counter);
	if (linkat(AT_FDCWD, proc, stage_fd, tmp, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	/* no symlink on the way to the final name is followed */
	if ((pfd = beneath_parent(cache_fd, r->path, &last)) < 0) {
		(void)unlinkat(stage_fd, tmp, 0);
		return pfd;
	}
	if (renameat(stage_fd, tmp, pfd, last) < 0) {
		int err = -errno;

		close(pfd);
		(void)unlinkat(stage_fd, tmp, 0);
		return err;
	}
	close(pfd);
	st->links++;
	return 0;
}

static int
write_volume_xattr(struct meta_rec *r, struct meta_stats *st)
{
	int fd, err = 0;

	fd = open_dir_beneath(cache_fd, r->path);
	if (fd < 0)
		return fd;
	/* the owner first: a crash between the two leaves a volume whose
	 * coherency data is missing (its owner remakes it), never one that
	 * has lost its owner */
	if (r->owner_len && fsetxattr(fd, ACCESS_OWNER_XATTR, r->owner,
	    r->owner_len, 0) < 0)
		err = -errno;
	else if (r->xattr_len && fsetxattr(fd, CFMT_XATTR, r->xattr,
	    r->xattr_len, 0) < 0)
		err = -errno;
	else
		st->xattr_writes++;
	close(fd);
	return err;
}

/*
 * Whether r's xattrs claim data, so that it needs the barrier first. One
 * that claims nothing (content none: what a failed barrier leaves) is
 * written without one, so a filesystem that fails every sync (EIO, or
 * EROFS after ext4 aborted its journal) cannot drive a fail -> forget ->
 * new record -> fail loop.
 */
static int
claims(const struct meta_rec *r)
{
	return r->kind == META_OBJECT && !r->no_claim;
}

/* The first claiming record of b on r's fd: r itself when none before. */
static struct meta_rec *
first_on_fd(struct batch *b, struct meta_rec *r)
{
	struct meta_rec *s;

	for (s = b->recs; s != r; s = s->next)
		if (claims(s) && s->fd == r->fd)
			break;
	return s;
}

/*
 * The barrier before any xattr claims data, over b's claiming records,
 * which span nfiles files: one syncfs of the cache at SYNCFS_MIN_FILES
 * or more, else one fdatasync per file. Each claiming record gets the
 * result of its barrier in r->err (err fields are 0 on entry); a failed
 * one is marked sync_failed (its owner drops its claim on the data).
 */
static void
barrier(struct batch *b, unsigned nfiles)
{
	struct meta_rec *r, *s;
	int err;

	if (nfiles >= SYNCFS_MIN_FILES) {
		b->st.syncfs++;
		if (syncfs(cache_fd) < 0) {
			err = -errno;
			for (r = b->recs; r; r = r->next)
				if (claims(r))
					r->err = err;
		}
	} else {
		for (r = b->recs; r; r = r->next) {
			if (!claims(r))
				continue;
			s = first_on_fd(b, r);
			if (s != r) {		/* synced with an earlier record */
				r->err = s->err;
				continue;
			}
			b->st.fdatasyncs++;
			if (fdatasync(r->fd) < 0)
				r->err = -errno;
		}
	}
	/* a failed barrier: the owner drops its claim on the data */
	for (r = b->recs; r; r = r->next)
		if (claims(r) && r->err)
			r->sync_failed = 1;
}

/*
 * After the barrier: write the xattrs of the object records it did not
 * fail and of the volume records, then link the objects that want it
 * and whose xattrs were written. Results in r->err.
 */
static void
write_claims(struct batch *b)
{
	struct meta_rec *r;

	/* only now may the xattrs claim the data */
	for (r = b->recs; r; r = r->next) {
		if (r->kind == META_OBJECT && !r->err)
			r->err = write_object_xattrs(r, &b->st);
		else if (r->kind == META_VOLUME)
			r->err = write_volume_xattr(r, &b->st);
	}
	for (r = b->recs; r; r = r->next)
		if (r->kind == META_OBJECT && r->link && !r->err)
			r->err = link_object(r, &b->st);
}

/* Set the atime of each META_ATIME record's path; results in r->err. */
static void
write_atimes(struct batch *b)
{
	struct meta_rec *r;

	for (r = b->recs; r; r = r->next) {
		if (r->kind != META_ATIME)
			continue;
		struct timespec ts[2] = { r->atime, { 0, UTIME_OMIT } };
		const char *last;
		int pfd = beneath_parent(cache_fd, r->path, &last);

		if (pfd < 0)
			r->err = pfd;
		else if (utimensat(pfd, last, ts, AT_SYMLINK_NOFOLLOW) < 0)
			r->err = -errno;
		else
			b->st.atimes++;
		if (pfd >= 0)
			close(pfd);
	}
}

/*
 * Worker: durability first (barrier), then xattrs and links
 * (write_claims), then atimes, then the syncfs that META_SYNCFS records
 * asked for. Each record's result is in r->err, its count in b->st.
 */
static void
batch_run(struct work *w)
{
	struct batch *b = (struct batch *)w;
	struct meta_rec *r;
	unsigned nfiles = 0;
	int want_syncfs = 0, err, expect = B_QUEUED;

	if (barrier_gate >= 0) {	/* tests: wait to be let through */
		uint64_t v;

		while (read(barrier_gate, &v, sizeof(v)) < 0 && errno == EINTR)
			;
	}
	if (atomic_load(&b->state) == B_STOPPED)
		return;
	for (r = b->recs; r; r = r->next) {
		r->err = 0;
		r->sync_failed = 0;
		if (r->kind == META_SYNCFS)
			want_syncfs = 1;
		if (claims(r) && first_on_fd(b, r) == r)
			nfiles++;
	}
	barrier(b, nfiles);
	/* a freeze that stopped the batch during its barrier: nothing more */
	if (!atomic_compare_exchange_strong(&b->state, &expect, B_WRITING))
		return;
	write_claims(b);
	write_atimes(b);
	if (want_syncfs) {
		b->st.syncfs++;
		err = syncfs(cache_fd) < 0 ? -errno : 0;
		for (r = b->recs; r; r = r->next)
			if (r->kind == META_SYNCFS)
				r->err = err;
	}
	for (r = b->recs; r; r = r->next)
		if (r->err)
			b->st.errors++;
}

static void
run_waiters(void)
{
	struct flush_waiter **pp = &waiters, *fw;

	while ((fw = *pp) != NULL) {
		if (fw->seq <= done_seq) {
			*pp = fw->next;
			fw->done(fw->arg);
			free(fw);
		} else
			pp = &fw->next;
	}
}

/* Main thread: how long until the oldest queued record has waited
 * META_BATCH_MS (at least 1 ms): records queued behind a batch in flight
 * have been gathering meanwhile, and a stream's last claim should not
 * wait a whole interval more once that batch is done. */
static uint64_t
batch_wait_ms(void)
{
	uint64_t age = loop_now_ms() - q_head->queued_ms;

	return age + 1 >= META_BATCH_MS ? 1 : META_BATCH_MS - age;
}

/* Main thread: the next batch goes now (a flush, or a full batch) or
 * once the oldest queued record has waited META_BATCH_MS; nothing while a
 * batch is in flight (batch_done calls again) or at meta_fini. */
static void
next_batch(void)
{
	if (in_flight || !q_head || finishing)
		return;
	if (flushing || q_count >= META_BATCH_MAX) {
		if (timer)
			loop_timer_cancel(timer);
		submit_batch();
	} else if (!timer)
		timer = loop_timer_add(batch_wait_ms(), on_timer, NULL);
}

/* Main thread: hand results back, start the next batch. */
static void
batch_done(struct work *w)
{
	struct batch *b = (struct batch *)w;
	struct meta_rec *r, *next;

	if (atomic_load(&b->state) == B_STOPPED) {
		batch_stopped_done(b);
		return;
	}
	in_flight = NULL;
	stats.batches++;
	stats.records += b->n;
	stats.fdatasyncs += b->st.fdatasyncs;
	stats.syncfs += b->st.syncfs;
	stats.xattr_writes += b->st.xattr_writes;
	stats.links += b->st.links;
	stats.atimes += b->st.atimes;
	stats.errors += b->st.errors;
	done_seq = b->last_seq;
	for (r = b->recs; r; r = next) {
		next = r->next;
		r->next = NULL;
		r->done(r);
	}
	free(b);
	next_batch();
	if (!q_head)
		flushing = 0;
	run_waiters();
}

/* Main thread: r at the end of the list head..tail. */
static void
rec_append(struct meta_rec **head, struct meta_rec **tail,
    struct meta_rec *r)
{
	r->next = NULL;
	if (*tail)
		(*tail)->next = r;
	else
		*head = r;
	*tail = r;
}

/* Main thread: park every waiting meta_flush (not meta_flush_unheld):
 * it waits for the held records too, so until they are queued again. */
static void
park_waiters(void)
{
	struct flush_waiter **pp = &waiters, *fw;

	while ((fw = *pp) != NULL) {
		if (fw->all) {
			*pp = fw->next;
			fw->next = parked;
			parked = fw;
		} else
			pp = &fw->next;
	}
}

/* Main thread: whether a freeze holds r back (meta_hold_records). */
static int
held_kind(const struct meta_rec *r)
{
	return r->kind == META_OBJECT || r->kind == META_VOLUME;
}

/* Main thread: move every queued object and volume record to the end of
 * the held list. */
static void
hold_queued(void)
{
	struct meta_rec **pp = &q_head, *r;
	unsigned moved = 0;

	q_tail = NULL;
	while ((r = *pp) != NULL) {
		if (!held_kind(r)) {
			q_tail = r;
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		rec_append(&held_head, &held_tail, r);
		held_count++;
		q_count--;
		moved++;
	}
	stats.records_held += moved;
	if (moved)
		park_waiters();
}

/* Main thread: queue the held records again, after what is queued (atimes
 * and syncfs records only: nothing else passed them), and let the parked
 * flushes wait for them. */
static void
requeue_held(void)
{
	struct meta_rec *r;
	struct flush_waiter *fw;
	uint64_t now = loop_now_ms();

	if (held_head) {
		if (q_tail)
			q_tail->next = held_head;
		else
			q_head = held_head;
		q_tail = held_tail;
		for (r = held_head; r; r = r->next) {
			r->submitted = 0;
			r->queued_ms = now;
			r->touched_ms = 0;
			q_count++;
			queued_seq++;
		}
		held_head = held_tail = NULL;
		held_count = 0;
	}
	while ((fw = parked) != NULL) {
		parked = fw->next;
		fw->seq = queued_seq;
		fw->next = waiters;
		waiters = fw;
		flushing = 1;
	}
	next_batch();
	run_waiters();
}

/* Main thread: a batch a freeze stopped is back; its records, older than
 * any held, go to the front of them (queued again at once if the freeze
 * ended meanwhile). */
static void
batch_stopped_done(struct batch *b)
{
	struct meta_rec *r, *last = NULL;

	stopped = NULL;
	stats.fdatasyncs += b->st.fdatasyncs;	/* its barrier ran, maybe */
	stats.syncfs += b->st.syncfs;
	for (r = b->recs; r; r = r->next) {
		last = r;
		held_count++;
	}
	if (last) {
		last->next = held_head;
		held_head = b->recs;
		if (!held_tail)
			held_tail = last;
	}
	free(b);
	if (!holding && !finishing)
		requeue_held();
}

/*
 * Main thread: give the meta thread the oldest META_BATCH_MAX queued
 * records (at most) as one job, unless a batch is still in flight or
 * nothing is queued (batch_done calls again). Callers have cancelled the
 * batch timer or are it (on_timer); timer is forgotten here either way.
 * Without memory for the job the records stay queued and the timer
 * tries again after META_BATCH_MS. Records are numbered in queue order,
 * so the batch's last_seq tells meta_flush's waiters when they are done.
 */
static void
submit_batch(void)
{
	struct batch *b;
	struct meta_rec *r, *last = NULL;
	unsigned n = 0;

	timer = NULL;
	if (holding || stopped || held_head)
		hold_queued();
	if (in_flight || !q_head)
		return;
	b = calloc(1, sizeof(*b));
	if (!b) {
		timer = loop_timer_add(META_BATCH_MS, on_timer, NULL);
		return;
	}
	b->recs = q_head;
	for (r = q_head; r && n < META_BATCH_MAX; r = r->next) {
		r->submitted = 1;
		last = r;
		n++;
	}
	q_head = last->next;
	last->next = NULL;
	if (!q_head)
		q_tail = NULL;
	q_count -= n;
	b->n = n;
	b->last_seq = queued_seq - q_count;	/* records are numbered in order */
	b->w.run = batch_run;
	b->w.done = batch_done;
	in_flight = b;
	workq_submit(metaq, &b->w);
}

void
meta_queue(struct meta_rec *r)
{
	r->next = NULL;
	r->submitted = 0;
	r->err = 0;
	r->sync_failed = 0;
	if (!metaq) {		/* after meta_fini (shutdown) */
		r->err = -ESHUTDOWN;
		r->done(r);
		return;
	}
	r->queued_ms = loop_now_ms();
	r->touched_ms = 0;
	rec_append(&q_head, &q_tail, r);
	q_count++;
	queued_seq++;
	next_batch();
}

void
meta_set_stream_ms(unsigned quiet, unsigned max)
{
	stream_quiet_ms = quiet;
	stream_max_ms = max;
}

void
meta_set_barrier_gate(int fd)
{
	barrier_gate = fd;
}

void
meta_touch(struct meta_rec *r)
{
	if (!r->submitted)
		r->touched_ms = loop_now_ms();
}

static void
flush(int all, void (*done)(void *arg), void *arg)
{
	struct flush_waiter *fw;

	fw = calloc(1, sizeof(*fw));
	if (!fw) {
		/* cannot wait without memory: say so at once */
		done(arg);
		return;
	}
	fw->seq = queued_seq;
	fw->all = all;
	fw->done = done;
	fw->arg = arg;
	if (all && (held_count || stopped)) {	/* until they are queued again */
		fw->next = parked;
		parked = fw;
	} else {
		fw->next = waiters;
		waiters = fw;
		if (fw->seq <= done_seq) {
			run_waiters();
			return;
		}
	}
	flushing = 1;
	next_batch();
}

void
meta_flush(void (*done)(void *arg), void *arg)
{
	flush(1, done, arg);
}

void
meta_flush_unheld(void (*done)(void *arg), void *arg)
{
	flush(0, done, arg);
}

void
meta_hold_records(void)
{
	int expect = B_QUEUED;

	holding = 1;
	/* a batch in its barrier (or not begun) writes nothing now: the
	 * freeze need not wait for that sync, and runs its own beside it
	 * (the thread has a second worker for it). One stopped batch at a
	 * time: while one is out, batches carry no object or volume record
	 * (submit_batch holds them). */
	if (in_flight && !stopped &&
	    atomic_compare_exchange_strong(&in_flight->state, &expect,
	    B_STOPPED)) {
		stopped = in_flight;
		in_flight = NULL;
		stats.batches_stopped++;
		park_waiters();
		/* held from now on: done, for meta_flush_unheld */
		done_seq = stopped->last_seq;
		run_waiters();
	}
	hold_queued();
}

void
meta_release_records(void)
{
	if (!holding)
		return;
	holding = 0;
	if (!stopped)		/* else batch_stopped_done does it */
		requeue_held();
}
