/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop.h: the main thread's event loop (epoll). Every callback runs on the
 * main thread, which owns all shared state; callbacks must never block and
 * never touch the cache filesystem with a call that can wait on a freeze
 * (no write, create, rename, unlink, setxattr, fsync there: queue a job).
 */
#ifndef LARDER_LOOP_H
#define LARDER_LOOP_H

#include <stdint.h>

struct loop_watch;
struct loop_timer;

typedef void loop_fd_fn(int fd, uint32_t events, void *arg);
typedef void loop_timer_fn(void *arg);

int loop_init(void);
/* Run until loop_stop(); returns 0 or -errno if epoll fails. */
int loop_run(void);
void loop_stop(void);
void loop_fini(void);

/* Watch fd for EPOLL* events. NULL and errno on failure. The watch may be
 * deleted from any callback, including its own. */
struct loop_watch *loop_watch_add(int fd, uint32_t events, loop_fd_fn *fn,
    void *arg);
int loop_watch_mod(struct loop_watch *w, uint32_t events);
void loop_watch_del(struct loop_watch *w);

/* One-shot timer after ms milliseconds. Cancel before it fires, or not at
 * all; a fired timer is freed by the loop. */
struct loop_timer *loop_timer_add(uint64_t ms, loop_timer_fn *fn, void *arg);
void loop_timer_cancel(struct loop_timer *t);

/* Monotonic milliseconds. */
uint64_t loop_now_ms(void);

#endif
