/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check_workq.c: the main loop (timers, watches) and worker queues. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon/loop.h"
#include "daemon/workq.h"

static int fired[4];

static void
on_timer(void *arg)
{
	fired[(long)arg]++;
	if ((long)arg == 2)
		loop_stop();
}

START_TEST(timers_fire_in_order_and_cancel)
{
	struct loop_timer *t;

	ck_assert_int_eq(loop_init(), 0);
	memset(fired, 0, sizeof(fired));
	loop_timer_add(5, on_timer, (void *)0);
	t = loop_timer_add(10, on_timer, (void *)1);
	loop_timer_add(30, on_timer, (void *)2);
	loop_timer_cancel(t);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(fired[0], 1);
	ck_assert_int_eq(fired[1], 0);
	ck_assert_int_eq(fired[2], 1);
	loop_fini();
}
END_TEST

struct pipe_ctx {
	int fds[2];
	int reads;
	struct loop_watch *w;
};

static void
on_readable(int fd, uint32_t events, void *arg)
{
	struct pipe_ctx *p = arg;
	char c;

	ck_assert(events & EPOLLIN);
	ck_assert_int_eq(read(fd, &c, 1), 1);
	p->reads++;
	/* deleting the watch from its own callback must be safe */
	loop_watch_del(p->w);
	loop_stop();
}

START_TEST(watch_delete_from_callback)
{
	struct pipe_ctx p = { .reads = 0 };

	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(pipe(p.fds), 0);
	p.w = loop_watch_add(p.fds[0], EPOLLIN, on_readable, &p);
	ck_assert_ptr_nonnull(p.w);
	ck_assert_int_eq(write(p.fds[1], "x", 1), 1);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(p.reads, 1);
	close(p.fds[0]);
	close(p.fds[1]);
	loop_fini();
}
END_TEST

#define NJOBS 2000

struct job {
	struct work w;
	int n;
	int result;
};

static int done_count, done_sum, order_ok = 1, last_done = -1;
static struct workq *q1;

static void
job_run(struct work *w)
{
	struct job *j = (struct job *)w;

	j->result = j->n * 2;	/* worker side: only the job's own bytes */
}

static void
job_done(struct work *w)
{
	struct job *j = (struct job *)w;

	done_count++;
	done_sum += j->result;
	if (j->n < last_done)
		order_ok = 0;
	last_done = j->n;
	free(j);
	if (done_count == NJOBS)
		loop_stop();
}

START_TEST(workq_runs_every_job_once)
{
	int i, expect = 0;

	ck_assert_int_eq(loop_init(), 0);
	q1 = workq_create("test", 1);
	ck_assert_ptr_nonnull(q1);
	for (i = 0; i < NJOBS; i++) {
		struct job *j = calloc(1, sizeof(*j));

		j->n = i;
		j->w.run = job_run;
		j->w.done = job_done;
		workq_submit(q1, &j->w);
		expect += 2 * i;
	}
	ck_assert_uint_eq(workq_inflight(q1), NJOBS);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(done_count, NJOBS);
	ck_assert_int_eq(done_sum, expect);
	ck_assert_int_eq(order_ok, 1);	/* one worker: FIFO completion */
	ck_assert_uint_eq(workq_inflight(q1), 0);
	ck_assert_uint_eq(workq_oldest_ms(q1), 0);
	workq_destroy(q1);
	loop_fini();
}
END_TEST

static int block_fd[2];
static int stuck_done;

static void
stuck_run(struct work *w)
{
	char c;

	(void)w;
	/* a worker blocked like one writing to a frozen filesystem */
	ck_assert_int_eq(read(block_fd[0], &c, 1), 1);
}

static void
stuck_done_fn(struct work *w)
{
	(void)w;
	stuck_done = 1;
	loop_stop();
}

static void
check_age(void *arg)
{
	struct workq *q = arg;

	/* the main loop keeps running while the worker is stuck */
	ck_assert_uint_ge(workq_oldest_ms(q), 40);
	ck_assert_int_eq(stuck_done, 0);
	ck_assert_int_eq(write(block_fd[1], "x", 1), 1);
}

START_TEST(stuck_worker_is_visible_and_does_not_block_loop)
{
	struct work w = { .run = stuck_run, .done = stuck_done_fn };
	struct workq *q;

	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(pipe(block_fd), 0);
	q = workq_create("stuck", 2);
	ck_assert_ptr_nonnull(q);
	workq_submit(q, &w);
	loop_timer_add(60, check_age, q);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(stuck_done, 1);
	workq_destroy(q);
	close(block_fd[0]);
	close(block_fd[1]);
	loop_fini();
}
END_TEST

START_TEST(destroy_drains_queued_work)
{
	int i;

	ck_assert_int_eq(loop_init(), 0);
	done_count = done_sum = 0;
	last_done = -1;
	q1 = workq_create("drain", 2);
	for (i = 0; i < 100; i++) {
		struct job *j = calloc(1, sizeof(*j));

		j->n = i;
		j->w.run = job_run;
		j->w.done = job_done;
		workq_submit(q1, &j->w);
	}
	workq_destroy(q1);	/* runs every done() before returning */
	ck_assert_int_eq(done_count, 100);
	loop_fini();
}
END_TEST

static Suite *
workq_suite(void)
{
	Suite *s = suite_create("loop+workq");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, timers_fire_in_order_and_cancel);
	tcase_add_test(tc, watch_delete_from_callback);
	tcase_add_test(tc, workq_runs_every_job_once);
	tcase_add_test(tc, stuck_worker_is_visible_and_does_not_block_loop);
	tcase_add_test(tc, destroy_drains_queued_work);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(workq_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
