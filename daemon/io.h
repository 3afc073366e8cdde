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
 * Io thread only: write every segment to fd through the thread's io_uring
 * ring (short writes are resubmitted). Returns 0 or -errno of the first
 * failure. Falls back to pwrite when the ring cannot be set up. On return
 * no request reads the segments' buffers any more, so the caller may free
 * them; except when the ring stopped answering while requests were in
 * flight (the ring is then given up): *held is set, and the buffers must
 * never be freed or reused (a late write would carry other bytes).
 */
int io_write(int fd, const struct io_seg *segs, unsigned n, int *held);

/* counters for STATS */
uint64_t io_uring_writes(void);

#endif
