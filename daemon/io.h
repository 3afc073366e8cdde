/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * io.h: the io thread (io.c): every operation of the store that modifies
 * the cache filesystem apart from xattrs, syncs and atimes (those are the
 * meta thread's): creating tmpfiles, mkdir, renames into the graveyard, and
 * the data writes of fills, which go through a liburing ring owned by the
 * io thread.
 *
 * One io thread, so jobs run in the order they were submitted: a fill
 * queued after the creation of its object or volume runs after it.
 * Main thread: io_submit, io_inflight, io_oldest_ms. Worker: io_write.
 */
#ifndef LARDER_IO_H
#define LARDER_IO_H

#include <stddef.h>
#include <stdint.h>

struct work;

int io_init(void);
/* Wait for every queued job (shutdown only: blocks). */
void io_fini(void);
void io_submit(struct work *w);
unsigned io_inflight(void);
uint64_t io_oldest_ms(void);

/* One piece of a fill: len bytes at buf go to offset off. */
struct io_seg {
	uint64_t off;
	uint64_t len;
	const uint8_t *buf;
};

/*
 * Where a write stands, for a freeze that does not wait for it (track
 * below). Only the io thread moves IO_IDLE or IO_INKERNEL to IO_ISSUING
 * and IO_ISSUING to IO_INKERNEL; only another thread (the main thread's
 * quiesce) moves IO_INKERNEL to IO_LETGO, with a compare-and-swap, so
 * either io_write starts another request or it was let go, never both.
 */
enum io_track_state {
	IO_IDLE,		/* nothing handed to the kernel yet */
	IO_ISSUING,		/* requests being queued and submitted */
	IO_INKERNEL,		/* every request so far is the kernel's */
	IO_LETGO,		/* start no more: what is left is not written */
};

/*
 * Io thread only: write every segment to fd through the thread's io_uring
 * ring (short writes are resubmitted). Returns 0 or -errno of the first
 * failure. Falls back to pwrite when the ring cannot be set up. On return
 * no request reads the segments' buffers any more, so the caller may free
 * them; except when the ring stopped answering while requests were in
 * flight (the ring is then given up): *held is set, and the buffers must
 * never be freed or reused (a late write would carry other bytes).
 *
 * track (NULL: not tracked) says where the write stands (enum
 * io_track_state; starts at IO_IDLE). Once it has been moved to IO_LETGO
 * no request is started any more (no next batch, no rest of a short
 * write): the requests in flight are reaped and, if anything was left
 * unwritten, -ECANCELED is returned. The pwrite fallback never says
 * IO_INKERNEL (a pwrite between two calls is not the kernel's yet).
 */
int io_write(int fd, const struct io_seg *segs, unsigned n, int *held,
    _Atomic int *track);

/* Tests: the io thread reads the eventfd fd (blocking) each time io_write
 * has moved its track to IO_INKERNEL, so a test can hold a write "in the
 * kernel" (-1: off); io_inkernel_gated says how many times it came to
 * that read. */
void io_set_inkernel_gate(int fd);
unsigned io_inkernel_gated(void);

/* counters for STATS */
uint64_t io_uring_writes(void);

#endif
