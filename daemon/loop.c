/* SPDX-License-Identifier: GPL-2.0-or-later */
/* loop.c: epoll loop with fd watches and one-shot timers (main thread only). */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define MAX_EVENTS 64

struct loop_watch {
	int fd;
	loop_fd_fn *fn;
	void *arg;
	int dead;
	struct loop_watch *next_dead;
};

struct loop_timer {
	uint64_t due;
	loop_timer_fn *fn;
	void *arg;
	struct loop_timer *next;	/* sorted by due */
};

static int epfd = -1;
static int stopping;
static struct loop_timer *timers;
static struct loop_watch *dead_watches;

uint64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	stopping = 0;
	return 0;
}

void
loop_stop(void)
{
	stopping = 1;
}

/* Free watches deleted during the last batch of events. */
static void
reap_dead(void)
{
	struct loop_watch *w;

	while ((w = dead_watches) != NULL) {
		dead_watches = w->next_dead;
		free(w);
	}
}

void
loop_fini(void)
{
	struct loop_timer *t;

	while ((t = timers) != NULL) {
		timers = t->next;
		free(t);
	}
	reap_dead();
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

struct loop_watch *
loop_watch_add(int fd, uint32_t events, loop_fd_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct loop_watch *w;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fd = fd;
	w->fn = fn;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int saved = errno;

		free(w);
		errno = saved;
		return NULL;
	}
	return w;
}

int
loop_watch_mod(struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	return 0;
}

void
loop_watch_del(struct loop_watch *w)
{
	if (!w || w->dead)
		return;
	/* the fd may already be closed; then epoll dropped it itself */
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = 1;
	w->next_dead = dead_watches;
	dead_watches = w;
}

struct loop_timer *
loop_timer_add(uint64_t ms, loop_timer_fn *fn, void *arg)
{
	struct loop_timer *t, **pp;

	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->due = loop_now_ms() + ms;
	t->fn = fn;
	t->arg = arg;
	for (pp = &timers; *pp && (*pp)->due <= t->due; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	return t;
}

void
loop_timer_cancel(struct loop_timer *t)
{
	struct loop_timer **pp;

	for (pp = &timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			free(t);
			return;
		}
}

/* Run due timers; return the epoll timeout until the next one (-1: none). */
static int
run_timers(void)
{
	struct loop_timer *t;
	uint64_t now = loop_now_ms();

	while ((t = timers) != NULL && t->due <= now) {
		timers = t->next;
		t->fn(t->arg);
		free(t);
		now = loop_now_ms();
	}
	if (!timers)
		return -1;
	return (int)(timers->due - now > 60000 ? 60000 : timers->due - now);
}

int
loop_run(void)
{
	struct epoll_event evs[MAX_EVENTS];
	struct loop_watch *w;
	int i, n, timeout;

	while (!stopping) {
		timeout = run_timers();
		if (stopping)
			break;
		n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !stopping; i++) {
			w = evs[i].data.ptr;
			if (!w->dead)
				w->fn(w->fd, evs[i].events, w->arg);
		}
		reap_dead();
	}
	return 0;
}
