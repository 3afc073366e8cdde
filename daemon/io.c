/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * io.c: the io thread and its io_uring ring. The thread is a one-worker
 * workq (workq.h): jobs are run in submission order; the ring is the
 * thread's own (created lazily on the thread), so no lock guards it.
 */
#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "workq.h"

#define IO_RING_ENTRIES	64
#define IO_MAX_CHUNK	(1U << 30)	/* one sqe never asks for more */
#define IO_WAIT_TRIES	1000		/* a ring short of resources... */
#define IO_WAIT_PAUSE_NS	1000000	/* ...is given a second in all */

static struct workq *ioq;
static atomic_ullong uring_writes;
static atomic_int inkernel_gate = -1;	/* tests: io_set_inkernel_gate */
static atomic_uint inkernel_gated;

/* io thread only */
static __thread struct io_uring ring;
static __thread int ring_state;		/* 0 not tried, 1 ready, -1 failed */

int
io_init(void)
{
	ioq = workq_create("larder-io", 1);
	if (!ioq)
		return -errno;
	return 0;
}

void
io_fini(void)
{
	/* the ring belongs to the io thread and goes away with it */
	workq_destroy(ioq);
	ioq = NULL;
}

void
io_submit(struct work *w)
{
	if (!ioq) {		/* after io_fini (shutdown): run it here */
		w->run(w);
		w->done(w);
		return;
	}
	workq_submit(ioq, w);
}

unsigned
io_inflight(void)
{
	return ioq ? workq_inflight(ioq) : 0;
}

uint64_t
io_oldest_ms(void)
{
	return ioq ? workq_oldest_ms(ioq) : 0;
}

uint64_t
io_uring_writes(void)
{
	return atomic_load(&uring_writes);
}

/* Plain pwrite loop: when the ring is unavailable. */
static int
write_plain(int fd, const struct io_seg *s)
{
	uint64_t done = 0;
	ssize_t n;

	while (done < s->len) {
		size_t chunk = s->len - done > IO_MAX_CHUNK ? IO_MAX_CHUNK :
		    s->len - done;

		n = pwrite(fd, s->buf + done, chunk, s->off + done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += n;
	}
	return 0;
}

static int
ring_ready(void)
{
	int err;

	if (ring_state == 0) {
		err = io_uring_queue_init(IO_RING_ENTRIES, &ring, 0);
		if (err < 0) {
			log_warnx("io: io_uring_queue_init: %s; using pwrite",
			    strerror(-err));
			ring_state = -1;
		} else
			ring_state = 1;
	}
	return ring_state == 1;
}

/* Queue one write of what is left of segment s (done bytes written) as
 * request i; -EBUSY when the submission queue is full. */
static int
queue_write(int fd, const struct io_seg *s, uint64_t done, unsigned i)
{
	struct io_uring_sqe *sqe;
	uint64_t left = s->len - done;

	sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_write(sqe, fd, s->buf + done,
	    left > IO_MAX_CHUNK ? IO_MAX_CHUNK : left, s->off + done);
	io_uring_sqe_set_data64(sqe, i);
	return 0;
}

/* An io_uring call failed with ret: whether to try again (interrupted,
 * or short of resources: IO_WAIT_TRIES times, IO_WAIT_PAUSE_NS apart). */
static int
ring_retry(int ret, unsigned *tries)
{
	struct timespec pause = { 0, IO_WAIT_PAUSE_NS };

	if (ret == -EINTR)
		return 1;
	if ((ret != -EAGAIN && ret != -EBUSY) || ++*tries >= IO_WAIT_TRIES)
		return 0;
	nanosleep(&pause, NULL);
	return 1;
}

/* track's write is the kernel's now (if io_write was issuing: never over
 * IO_LETGO); a test may hold the io thread here (io_set_inkernel_gate). */
static void
track_inkernel(_Atomic int *track)
{
	int issuing = IO_ISSUING;
	int gate = atomic_load(&inkernel_gate);
	uint64_t v;

	if (track == NULL || !atomic_compare_exchange_strong(track, &issuing,
	    IO_INKERNEL))
		return;
	if (gate >= 0) {
		atomic_fetch_add(&inkernel_gated, 1);
		(void)!read(gate, &v, sizeof(v));
	}
}

/* May io_write start another request of track's write? Not once it has
 * been let go (IO_LETGO). */
static int
track_issue(_Atomic int *track)
{
	int s;

	if (track == NULL)
		return 1;
	s = atomic_load(track);
	if (s == IO_ISSUING)
		return 1;
	return s != IO_LETGO && atomic_compare_exchange_strong(track, &s,
	    IO_ISSUING);
}

/*
 * Submit what is queued (the write is then the kernel's: track) and wait
 * for a completion. Interrupted or short of resources, it tries again
 * (ring_retry); any other failure means the ring no longer answers: it is
 * given up (pwrite from now on) and the kernel may still hold requests.
 */
static int
submit_and_wait(_Atomic int *track)
{
	struct io_uring_cqe *cqe;
	unsigned tries = 0;
	int ret;

	while ((ret = io_uring_submit(&ring)) < 0 && ring_retry(ret, &tries))
		;
	if (ret >= 0) {
		track_inkernel(track);
		while ((ret = io_uring_wait_cqe(&ring, &cqe)) < 0 &&
		    ring_retry(ret, &tries))
			;
	}
	if (ret >= 0)
		return 0;
	log_warnx("io: io_uring submit or wait: %s; using pwrite",
	    strerror(-ret));
	ring_state = -1;
	return ret;
}

/* Queue what is left of segment s (done bytes written) as request i, if
 * track's write may still start requests: 0, -ECANCELED (let go), or
 * -EBUSY (the submission queue is full). */
static int
queue_more(int fd, const struct io_seg *s, uint64_t done, unsigned i,
    _Atomic int *track)
{
	if (!track_issue(track))
		return -ECANCELED;
	return queue_write(fd, s, done, i);
}

/*
 * Contract in io.h (io thread; 0 or the first -errno; *held; track). How:
 * the segments go in batches of at most IO_RING_ENTRIES, each one sqe
 * tagged with its index in the batch; a batch is fully reaped before the
 * next is queued, so a failure (or a let-go) stops queueing but never
 * leaves an sqe behind, except when submit_and_wait gives the ring up
 * (*held). Without a ring every segment is a pwrite loop (write_plain).
 */
int
io_write(int fd, const struct io_seg *segs, unsigned n, int *held,
    _Atomic int *track)
{
	struct io_uring_cqe *cqe;
	uint64_t done[IO_RING_ENTRIES];
	unsigned i, base, batch, inflight;
	int err = 0, ret;

	*held = 0;
	if (!ring_ready()) {
		if (!track_issue(track))
			return -ECANCELED;
		for (i = 0; i < n && !err; i++)
			err = write_plain(fd, &segs[i]);
		return err;
	}
	/* segments go in batches of at most the ring size; a short write is
	 * queued again for the rest of its segment. Whatever was queued is
	 * reaped before returning, failure or not: the caller frees the
	 * buffers next. */
	for (base = 0; base < n && !err; base += batch) {
		batch = n - base > IO_RING_ENTRIES ? IO_RING_ENTRIES : n - base;
		inflight = 0;
		for (i = 0; i < batch && !err; i++) {
			done[i] = 0;
			if (segs[base + i].len == 0)
				continue;
			if ((err = queue_more(fd, &segs[base + i], 0, i,
			    track)) == 0)
				inflight++;
		}
		while (inflight) {
			if ((ret = submit_and_wait(track)) < 0) {
				*held = 1;	/* the kernel may still read them */
				return ret;
			}
			while (inflight && io_uring_peek_cqe(&ring, &cqe) == 0) {
				i = io_uring_cqe_get_data64(cqe);
				ret = cqe->res;
				io_uring_cqe_seen(&ring, cqe);
				atomic_fetch_add(&uring_writes, 1);
				if (i >= batch) {	/* not ours: cannot be */
					if (!err)
						err = -EIO;
					continue;
				}
				inflight--;
				if (ret == -EINTR || ret == -EAGAIN)
					ret = 0;	/* again below */
				else if (ret <= 0) {
					if (!err)
						err = ret < 0 ? ret : -EIO;
					continue;
				}
				done[i] += ret;
				if (done[i] < segs[base + i].len && !err) {
					if ((ret = queue_more(fd,
					    &segs[base + i], done[i], i,
					    track)) < 0)
						err = ret;
					else
						inflight++;
				}
			}
		}
	}
	return err;
}

void
io_set_inkernel_gate(int fd)
{
	atomic_store(&inkernel_gate, fd);
}

unsigned
io_inkernel_gated(void)
{
	return atomic_load(&inkernel_gated);
}
