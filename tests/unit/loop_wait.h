/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop_wait.h: for unit tests that drive daemon/loop.c (include check.h
 * and daemon/loop.h first). loop_wait_until(fn) runs the loop until fn()
 * returns nonzero, calling it every 10 ms, and fails the test after 30 s.
 * loop_stop is final for a loop: a test calls it once.
 */
#ifndef LARDER_TEST_LOOP_WAIT_H
#define LARDER_TEST_LOOP_WAIT_H

static int (*loop_wait_fn)(void);
static unsigned loop_wait_ticks;

static void
loop_wait_tick(void *arg)
{
	(void)arg;
	if (loop_wait_fn() || ++loop_wait_ticks > 3000) {
		loop_stop();
		return;
	}
	ck_assert_ptr_nonnull(loop_timer_add(10, loop_wait_tick, NULL));
}

static void
loop_wait_until(int (*fn)(void))
{
	loop_wait_fn = fn;
	loop_wait_ticks = 0;
	ck_assert_ptr_nonnull(loop_timer_add(0, loop_wait_tick, NULL));
	loop_run();
	ck_assert_msg(fn(), "not reached in 30 s");
}

#endif
