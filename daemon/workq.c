/* SPDX-License-Identifier: GPL-2.0-or-later */
/* workq.c: worker threads with a FIFO in and an eventfd back to the loop. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "prio.h"
#include "workq.h"

struct workq {
	char name[16];
	/* lock guards everything below it; held only to move list links */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work *head, *tail;	/* queued, FIFO */
	struct work *done_head, *done_tail;
	struct work **running;		/* one slot per thread */
	unsigned inflight;		/* queued + running + done not yet reaped */
	int stopping;
	int background;			/* workers take prio_background */

	unsigned nthreads;
	pthread_t *threads;
	int efd;
	struct loop_watch *watch;
};

struct worker_arg {
	struct workq *q;
	unsigned slot;
};

static void
append(struct work **head, struct work **tail, struct work *w)
{
	w->next = NULL;
	if (*tail)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
}

/*
 * A worker thread (p: its malloc'd struct worker_arg, freed here). Takes
 * jobs in FIFO order; the lock is held only to move list links and set
 * the running slot (workq_oldest_ms reads it), never across w->run. A
 * finished job goes on the done list and the eventfd is bumped for the
 * main thread's reap(), which runs done(); w must not be touched after
 * it is on that list. Returns once the queue is stopping and empty, so
 * workq_destroy's join runs every queued job first.
 */
static void *
worker(void *p)
{
	struct worker_arg wa = *(struct worker_arg *)p;
	struct workq *q = wa.q;
	struct work *w;
	uint64_t one = 1;

	free(p);
	pthread_setname_np(pthread_self(), q->name);
	if (q->background)
		prio_background();
	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		w = q->head;
		if (!w) {	/* stopping and drained */
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		q->head = w->next;
		if (!q->head)
			q->tail = NULL;
		w->started_ms = loop_now_ms();
		q->running[wa.slot] = w;
		pthread_mutex_unlock(&q->lock);

		w->run(w);

		pthread_mutex_lock(&q->lock);
		q->running[wa.slot] = NULL;
		append(&q->done_head, &q->done_tail, w);
		pthread_mutex_unlock(&q->lock);
		/* outside the lock: a write to an eventfd never blocks here */
		if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("%s: eventfd write", q->name);
	}
}

/* Main thread: run done() for everything the workers finished. */
static void
reap(struct workq *q)
{
	struct work *list, *w;
	uint64_t v;

	if (read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("%s: eventfd read", q->name);
	pthread_mutex_lock(&q->lock);
	list = q->done_head;
	q->done_head = q->done_tail = NULL;
	pthread_mutex_unlock(&q->lock);
	while ((w = list) != NULL) {
		list = w->next;
		pthread_mutex_lock(&q->lock);
		q->inflight--;
		pthread_mutex_unlock(&q->lock);
		w->done(w);
	}
}

static void
on_event(int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	reap(arg);
}

/*
 * Contract in workq.h. Main thread (the eventfd watch joins its loop);
 * name is cut to 15 bytes for pthread_setname_np. A thread that fails to
 * start undoes the whole queue through workq_destroy (joining those
 * already started); an earlier failure frees by hand. errno is kept from
 * the failing call.
 */
static struct workq *
create(const char *name, unsigned nthreads, int background)
{
	struct workq *q;
	struct worker_arg *wa;
	unsigned i;
	int err;

	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->background = background;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->threads = calloc(nthreads, sizeof(*q->threads));
	q->running = calloc(nthreads, sizeof(*q->running));
	if (q->efd < 0 || !q->threads || !q->running)
		goto fail;
	q->watch = loop_watch_add(q->efd, EPOLLIN, on_event, q);
	if (!q->watch)
		goto fail;
	for (i = 0; i < nthreads; i++) {
		wa = malloc(sizeof(*wa));
		if (!wa)
			goto fail_threads;
		wa->q = q;
		wa->slot = i;
		err = pthread_create(&q->threads[i], NULL, worker, wa);
		if (err) {
			free(wa);
			errno = err;
			goto fail_threads;
		}
		q->nthreads++;
	}
	return q;

fail_threads:
	err = errno;
	workq_destroy(q);
	errno = err;
	return NULL;
fail:
	err = errno;
	if (q->watch)
		loop_watch_del(q->watch);
	if (q->efd >= 0)
		close(q->efd);
	free(q->threads);
	free(q->running);
	free(q);
	errno = err;
	return NULL;
}

struct workq *
workq_create(const char *name, unsigned nthreads)
{
	return create(name, nthreads, 0);
}

struct workq *
workq_create_background(const char *name, unsigned nthreads)
{
	return create(name, nthreads, 1);
}

void
workq_submit(struct workq *q, struct work *w)
{
	w->submitted_ms = loop_now_ms();
	w->started_ms = 0;
	pthread_mutex_lock(&q->lock);
	append(&q->head, &q->tail, w);
	q->inflight++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

unsigned
workq_inflight(struct workq *q)
{
	unsigned n;

	pthread_mutex_lock(&q->lock);
	n = q->inflight;
	pthread_mutex_unlock(&q->lock);
	return n;
}

uint64_t
workq_oldest_ms(struct workq *q)
{
	uint64_t now = loop_now_ms(), oldest = now;
	unsigned i;

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->nthreads; i++)
		if (q->running[i] && q->running[i]->started_ms < oldest)
			oldest = q->running[i]->started_ms;
	if (q->head && q->head->submitted_ms < oldest)
		oldest = q->head->submitted_ms;
	pthread_mutex_unlock(&q->lock);
	return now - oldest;
}

void
workq_destroy(struct workq *q)
{
	unsigned i;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	reap(q);
	loop_watch_del(q->watch);
	close(q->efd);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q->threads);
	free(q->running);
	free(q);
}
