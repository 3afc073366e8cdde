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
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "workq.h"

#define IO_RING_ENTRIES	64
#define IO_MAX_CHUNK	(1U << 30)	/* one sqe never asks for more */

static struct workq *ioq;
static atomic_ullong uring_writes;

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

int
io_write(int fd, const struct io_seg *segs, unsigned n)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	uint64_t done[IO_RING_ENTRIES];
	unsigned i, base, batch, inflight;
	int err = 0, ret;

	if (!ring_ready()) {
		for (i = 0; i < n && !err; i++)
			err = write_plain(fd, &segs[i]);
		return err;
	}
	/* segments go in batches of at most the ring size; a short write is
	 * resubmitted for the rest of its segment */
	for (base = 0; base < n && !err; base += batch) {
		batch = n - base > IO_RING_ENTRIES ? IO_RING_ENTRIES : n - base;
		inflight = 0;
		for (i = 0; i < batch; i++) {
			const struct io_seg *s = &segs[base + i];

			done[i] = 0;
			if (s->len == 0)
				continue;
			sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				return -EBUSY;
			io_uring_prep_write(sqe, fd, s->buf,
			    s->len > IO_MAX_CHUNK ? IO_MAX_CHUNK : s->len,
			    s->off);
			io_uring_sqe_set_data64(sqe, i);
			inflight++;
		}
		if (inflight && (ret = io_uring_submit(&ring)) < 0)
			return ret;
		while (inflight) {
			ret = io_uring_wait_cqe(&ring, &cqe);
			if (ret == -EINTR)
				continue;
			if (ret < 0)
				return ret;
			i = io_uring_cqe_get_data64(cqe);
			ret = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			inflight--;
			atomic_fetch_add(&uring_writes, 1);
			if (i >= batch) {
				err = -EIO;
				continue;
			}
			if (ret == -EINTR || ret == -EAGAIN)
				ret = 0;	/* retry below */
			else if (ret < 0) {
				if (!err)
					err = ret;
				continue;
			} else if (ret == 0) {
				if (!err)
					err = -EIO;
				continue;
			}
			done[i] += ret;
			if (done[i] < segs[base + i].len && !err) {
				const struct io_seg *s = &segs[base + i];
				uint64_t left = s->len - done[i];

				sqe = io_uring_get_sqe(&ring);
				if (!sqe) {
					err = -EBUSY;
					continue;
				}
				io_uring_prep_write(sqe, fd, s->buf + done[i],
				    left > IO_MAX_CHUNK ? IO_MAX_CHUNK : left,
				    s->off + done[i]);
				io_uring_sqe_set_data64(sqe, i);
				inflight++;
				if ((ret = io_uring_submit(&ring)) < 0) {
					/* nothing more can complete */
					return ret;
				}
			}
		}
	}
	return err;
}
