/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_io.c: io_write (io.c) never returns while the kernel may still
 * read the segments' buffers (the caller frees them next), whatever fails
 * on the way: a full submission queue, a wait cut short, a ring that stops
 * answering; and a write let go (a freeze that does not wait for it)
 * starts no request after that. Faults are injected at io.c's liburing
 * calls; the writes are real, to a file in /tmp.
 */
#include <check.h>
#include <stdatomic.h>
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/io.h"

static int fail_sqe_at = -1;	/* that get_sqe (counting from 0) gives NULL */
static int nsqe;
static int wait_soft;		/* waits that say -EAGAIN */
static int wait_hard;		/* waits that fail with -EIO */
static unsigned long submitted, seen;

static struct io_uring_sqe *
t_get_sqe(struct io_uring *r)
{
	if (nsqe++ == fail_sqe_at)
		return NULL;
	return io_uring_get_sqe(r);
}

/* Submit for real (counted). */
static int
t_submit(struct io_uring *r)
{
	int n = io_uring_submit(r);

	if (n > 0)
		submitted += n;
	return n;
}

static _Atomic int *letgo_at_wait;	/* let this track go at a wait */

/* Wait for real; or pretend the wait failed (the requests were
 * submitted: the kernel may still hold them). */
static int
t_wait_cqe(struct io_uring *r, struct io_uring_cqe **c)
{
	if (letgo_at_wait) {	/* what store_fill_let_go does */
		int k = IO_INKERNEL;

		ck_assert(atomic_compare_exchange_strong(letgo_at_wait, &k,
		    IO_LETGO));
		letgo_at_wait = NULL;
	}
	if (wait_hard)
		return -EIO;
	if (wait_soft > 0) {
		wait_soft--;
		return -EAGAIN;
	}
	return io_uring_wait_cqe(r, c);
}

static void
t_cqe_seen(struct io_uring *r, struct io_uring_cqe *c)
{
	seen++;
	io_uring_cqe_seen(r, c);
}

#define io_uring_get_sqe t_get_sqe
#define io_uring_submit t_submit
#define io_uring_wait_cqe t_wait_cqe
#define io_uring_cqe_seen t_cqe_seen
#include "daemon/io.c"

#define NSEG	200
#define SEGLEN	1000

static struct io_seg segs[NSEG];
static uint8_t *bufs;

/* A file and NSEG segments (every other SEGLEN bytes) with known bytes. */
static int
setup(void)
{
	char path[] = "/tmp/check_io.XXXXXX";
	unsigned i, j;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	bufs = malloc(NSEG * SEGLEN);
	ck_assert_ptr_nonnull(bufs);
	for (i = 0; i < NSEG; i++) {
		for (j = 0; j < SEGLEN; j++)
			bufs[i * SEGLEN + j] = (uint8_t)(i * 7 + j);
		segs[i].off = (uint64_t)i * 2 * SEGLEN;
		segs[i].len = SEGLEN;
		segs[i].buf = bufs + i * SEGLEN;
	}
	nsqe = 0;
	submitted = seen = 0;
	return fd;
}

static void
teardown(int fd)
{
	close(fd);
	free(bufs);
}

/* Nothing queued and not submitted, nothing submitted and not reaped. */
static void
assert_quiet(void)
{
	if (ring_state == 1)
		ck_assert_uint_eq(io_uring_sq_ready(&ring), 0);
	ck_assert_uint_eq(submitted, seen);
}

static void
assert_written(int fd, unsigned n)
{
	uint8_t got[SEGLEN];
	unsigned i;

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(pread(fd, got, SEGLEN, segs[i].off), SEGLEN);
		ck_assert_mem_eq(got, segs[i].buf, SEGLEN);
	}
}

START_TEST(many_segments_all_written)
{
	int fd = setup(), held = -1;

	ck_assert_int_eq(io_write(fd, segs, NSEG, &held, NULL), 0);
	ck_assert_int_eq(held, 0);
	ck_assert_int_eq(ring_state, 1);
	ck_assert_uint_eq(seen, NSEG);
	assert_quiet();
	assert_written(fd, NSEG);
	teardown(fd);
}
END_TEST

START_TEST(full_queue_reaps_what_it_queued)
{
	int fd = setup(), held = -1;

	fail_sqe_at = 2;	/* the third of five segments finds no sqe */
	ck_assert_int_eq(io_write(fd, segs, 5, &held, NULL), -EBUSY);
	ck_assert_int_eq(held, 0);
	assert_quiet();
	ck_assert_uint_eq(seen, 2);
	assert_written(fd, 2);
	teardown(fd);
}
END_TEST

START_TEST(short_of_resources_waits_again)
{
	int fd = setup(), held = -1;

	wait_soft = 3;
	ck_assert_int_eq(io_write(fd, segs, NSEG, &held, NULL), 0);
	ck_assert_int_eq(held, 0);
	assert_quiet();
	assert_written(fd, NSEG);
	teardown(fd);
}
END_TEST

START_TEST(dead_ring_says_buffers_held)
{
	int fd = setup(), held = -1;

	wait_hard = 1;
	ck_assert_int_lt(io_write(fd, segs, 5, &held, NULL), 0);
	ck_assert_int_eq(held, 1);	/* the caller must keep the buffers */
	ck_assert_int_eq(ring_state, -1);
	/* the ring is given up: pwrite from now on */
	wait_hard = 0;
	submitted = seen = 0;
	ck_assert_int_eq(io_write(fd, segs, NSEG, &held, NULL), 0);
	ck_assert_int_eq(held, 0);
	ck_assert_uint_eq(submitted, 0);
	assert_written(fd, NSEG);
	close(fd);
	/* bufs not freed: the kernel may still read five of them */
}
END_TEST

START_TEST(tracked_write_ends_in_the_kernel)
{
	int fd = setup(), held = -1;
	_Atomic int track = IO_IDLE;

	ck_assert_int_eq(io_write(fd, segs, NSEG, &held, &track), 0);
	ck_assert_int_eq(atomic_load(&track), IO_INKERNEL);
	assert_quiet();
	assert_written(fd, NSEG);
	teardown(fd);
}
END_TEST

START_TEST(let_go_write_starts_nothing)
{
	int fd = setup(), held = -1;
	_Atomic int track = IO_LETGO;
	uint8_t got[SEGLEN];

	ck_assert_int_eq(io_write(fd, segs, NSEG, &held, &track), -ECANCELED);
	ck_assert_int_eq(held, 0);
	ck_assert_uint_eq(submitted, 0);
	ck_assert_int_eq(pread(fd, got, SEGLEN, 0), 0);	/* empty file */
	teardown(fd);
}
END_TEST

/* Let go while the first batch (IO_RING_ENTRIES segments) is the
 * kernel's: that batch is reaped, no later one is queued. */
START_TEST(let_go_between_batches_stops_there)
{
	int fd = setup(), held = -1;
	_Atomic int track = IO_IDLE;
	uint8_t got[SEGLEN];

	letgo_at_wait = &track;
	ck_assert_int_eq(io_write(fd, segs, NSEG, &held, &track), -ECANCELED);
	ck_assert_ptr_null(letgo_at_wait);	/* it did wait */
	ck_assert_int_eq(held, 0);
	ck_assert_int_eq(atomic_load(&track), IO_LETGO);
	ck_assert_uint_eq(submitted, IO_RING_ENTRIES);
	assert_quiet();
	assert_written(fd, IO_RING_ENTRIES);
	/* the file ends with the first batch: nothing of the next one */
	ck_assert_int_eq(pread(fd, got, SEGLEN, segs[IO_RING_ENTRIES].off), 0);
	teardown(fd);
}
END_TEST

static Suite *
io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("io_write");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, many_segments_all_written);
	tcase_add_test(tc, full_queue_reaps_what_it_queued);
	tcase_add_test(tc, short_of_resources_waits_again);
	tcase_add_test(tc, dead_ring_says_buffers_held);
	tcase_add_test(tc, tracked_write_ends_in_the_kernel);
	tcase_add_test(tc, let_go_write_starts_nothing);
	tcase_add_test(tc, let_go_between_batches_stops_there);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(io_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
