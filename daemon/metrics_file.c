/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics_file.c: the metrics_file writer (see metrics_file.h).
 *
 * Main thread: a timer renders the metrics and, if the writer is idle,
 * hands it one job (the text and the paths). Writer thread: writes PATH.tmp
 * (created afresh with O_EXCL|O_NOFOLLOW, so a link planted there is never
 * followed), renames it over PATH, and reports the outcome. The queue lock
 * guards only the job slot and the counters; no I/O is done under it, and
 * the writer never logs (the main thread logs what it reports).
 *
 * No fsync: the file is rewritten every interval, and after a crash the
 * daemon rewrites it within one interval of starting; an fsync would cost
 * a journal commit per interval for nothing, and is the call most likely
 * to block on a frozen filesystem (the writer would then hold its one job
 * longer, and ticks are skipped meanwhile).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "index.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "metrics_file.h"
#include "prio.h"

#define STOP_WAIT_MS	1000

struct job {
	char path[PATH_MAX];		/* write here; empty: no write */
	char old[PATH_MAX];		/* remove this first; empty: none */
	char *data;
	size_t len;
};

static struct {
	/* main thread only */
	char path[PATH_MAX];
	char old[PATH_MAX];		/* to remove with the next job */
	unsigned interval;
	struct loop_timer *timer;
	int started;			/* thread running */
	int registered;			/* stats provider */
	uint64_t busy_since;		/* loop_now_ms of the pending job */
	int last_err;			/* logged already */
	struct log_ratelimit rl;
	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv, done_cv;
	pthread_t th;
	struct job *job;		/* handed over, not yet taken */
	int busy;			/* a job is pending or being written */
	int stop, exited;
	int err;			/* outcome of the last job: 0 or -errno */
	uint64_t writes, errors, skipped;
} W = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.done_cv = PTHREAD_COND_INITIALIZER,
};

/* ---- writer thread ------------------------------------------------------- */

/* PATH.tmp, then rename over PATH. 0 or -errno. */
static int
write_file(const struct job *j)
{
	char tmp[PATH_MAX + 8];
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", j->path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* what a crash left; a link planted there is removed, not followed */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0)
		return -errno;
	/* node_exporter runs as another user: readable whatever the umask */
	if (fchmod(fd, 0644) < 0 || (err = metrics_write_all(fd, j->data, j->len)) < 0) {
		err = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, j->path) < 0) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err ? err : -EIO;
}

/*
 * The writer thread's body: take the one job slot under W.mu, do the
 * job's unlink and write with the lock released, then report err and
 * the counters under it and mark itself idle (W.busy = 0, which lets the
 * next tick hand a job). Exits once W.stop is set and the slot is empty,
 * so a removal job queued with the stop is still done; W.exited and
 * done_cv tell metrics_file_stop. Never logs.
 */
static void *
writer(void *arg)
{
	struct job *j;
	int err;

	(void)arg;
	pthread_setname_np(pthread_self(), "larder-metrics");
	prio_background();
	pthread_mutex_lock(&W.mu);
	for (;;) {
		while (!W.job && !W.stop)
			pthread_cond_wait(&W.cv, &W.mu);
		if (!W.job)
			break;
		j = W.job;
		W.job = NULL;
		pthread_mutex_unlock(&W.mu);

		err = 0;
		if (j->old[0] && unlink(j->old) < 0 && errno != ENOENT)
			err = -errno;
		if (j->path[0])
			err = write_file(j);
		free(j->data);
		free(j);

		pthread_mutex_lock(&W.mu);
		W.err = err;
		if (err < 0)
			W.errors++;
		else
			W.writes++;
		W.busy = 0;
	}
	W.exited = 1;
	pthread_cond_broadcast(&W.done_cv);
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

/* ---- main thread --------------------------------------------------------- */

static int volume_counters = 1;

void
metrics_file_volume_counters(int on)
{
	volume_counters = on;
}

/* The metrics as text into *out; 0 or -errno. */
static int
render(struct metrics_out *out)
{
	struct metrics_kv *st = NULL, *ss = NULL;
	struct metrics_vol *v = NULL;
	struct proto_buf b1, b2;
	uint8_t *m1, *m2;
	unsigned nv, i, k = 0;
	const char *key;
	int n1 = 0, n2 = 0, err;

	m1 = malloc(PROTO_MAX_MSG);
	m2 = malloc(PROTO_MAX_MSG);
	nv = index_volumes();
	v = calloc(nv ? nv : 1, sizeof(*v));
	err = -ENOMEM;
	if (!m1 || !m2 || !v)
		goto out;
	proto_buf_init(&b1, m1, PROTO_MAX_MSG);
	proto_buf_init(&b2, m2, PROTO_MAX_MSG);
	if ((err = control_kv_body(0, &b1)) < 0 ||
	    (err = control_kv_body(1, &b2)) < 0)
		goto out;
	/* read back what was written, as larderctl reads a reply */
	proto_buf_init(&b1, m1, b1.off);
	proto_buf_init(&b2, m2, b2.off);
	if ((err = n1 = metrics_parse_kv(&b1, &st)) < 0 ||
	    (err = n2 = metrics_parse_kv(&b2, &ss)) < 0)
		goto out;
	for (i = 0; i < nv; i++) {
		if ((key = index_volume_key(i)) == NULL)
			continue;
		v[k].key = key;
		v[k].key_len = strlen(key);
		v[k].objects = index_volume_objects(i);
		v[k].bytes = index_volume_bytes(i);
		v[k].counted = volume_counters;
		v[k].hits = index_volume_counter(i, INDEX_VOL_HITS);
		v[k].misses = index_volume_counter(i, INDEX_VOL_MISSES);
		v[k].fills = index_volume_counter(i, INDEX_VOL_FILLS);
		k++;
	}
	err = metrics_render(out, st, n1, ss, n2, v, k, (int64_t)time(NULL));
out:
	free(st);
	free(ss);
	free(v);
	free(m1);
	free(m2);
	return err;
}

static void tick(void *arg);

static void
arm(uint64_t ms)
{
	if (W.timer)
		loop_timer_cancel(W.timer);
	W.timer = loop_timer_add(ms, tick, NULL);
	if (!W.timer)
		log_warnx("metrics: cannot arm a timer: %s is no longer "
		    "written", W.path);
}

static int
start_thread(void)
{
	int err;

	if (W.started)
		return 0;
	W.stop = W.exited = 0;
	if ((err = pthread_create(&W.th, NULL, writer, NULL)) != 0)
		return -err;
	W.started = 1;
	return 0;
}

/* Render and hand over, unless the last job is still under way. */
static void
tick(void *arg)
{
	struct metrics_out out = { 0 };
	struct job *j;
	int busy, err;

	(void)arg;
	W.timer = NULL;
	pthread_mutex_lock(&W.mu);
	busy = W.busy;
	err = W.err;
	if (busy)
		W.skipped++;
	pthread_mutex_unlock(&W.mu);
	if (err < 0 && err != W.last_err)
		log_warnx("metrics: %s: %s", W.path[0] ? W.path : W.old,
		    strerror(-err));
	else if (err == 0 && W.last_err < 0)
		log_info("metrics: %s written again", W.path);
	W.last_err = err;
	if (busy) {
		log_warnx_rl(&W.rl, "metrics: %s: the last write is not done "
		    "after %llu ms (a slow or frozen filesystem?): skipping",
		    W.path, (unsigned long long)(loop_now_ms() - W.busy_since));
		goto rearm;
	}
	if (!W.path[0] && !W.old[0])
		return;
	if (start_thread() < 0) {
		log_warnx("metrics: cannot start the writer thread");
		goto rearm;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto rearm;
	if (W.path[0]) {
		if ((err = render(&out)) < 0) {
			log_warnx_rl(&W.rl, "metrics: rendering: %s",
			    strerror(-err));
			metrics_out_free(&out);
			free(j);
			goto rearm;
		}
		memcpy(j->path, W.path, sizeof(j->path));
		j->data = out.p;	/* the writer frees it */
		j->len = out.len;
	}
	memcpy(j->old, W.old, sizeof(j->old));
	W.old[0] = '\0';
	W.busy_since = loop_now_ms();
	pthread_mutex_lock(&W.mu);
	W.job = j;
	W.busy = 1;
	pthread_cond_signal(&W.cv);
	pthread_mutex_unlock(&W.mu);
rearm:
	if (W.path[0] || W.old[0])
		arm((uint64_t)W.interval * 1000);
}

static void
stats_kv(struct ctl_kv *kv)
{
	uint64_t writes, errors, skipped;

	pthread_mutex_lock(&W.mu);
	writes = W.writes;
	errors = W.errors;
	skipped = W.skipped;
	pthread_mutex_unlock(&W.mu);
	ctl_kv_u64(kv, "metrics.writes", writes);
	ctl_kv_u64(kv, "metrics.errors", errors);
	ctl_kv_u64(kv, "metrics.skipped", skipped);
}

int
metrics_file_start(const struct conf *c)
{
	if (!W.registered) {
		control_add_stats(stats_kv);
		W.registered = 1;
	}
	metrics_file_reconfigure(c);
	return 0;
}

void
metrics_file_reconfigure(const struct conf *c)
{
	int changed = strcmp(c->metrics_file, W.path) != 0;

	if (changed && W.path[0]) {
		/* the old file would go stale: remove it with the next job */
		memcpy(W.old, W.path, sizeof(W.old));
	}
	memcpy(W.path, c->metrics_file, sizeof(W.path));
	if (changed || c->metrics_interval != W.interval) {
		W.interval = c->metrics_interval ? c->metrics_interval :
		    CONF_DEFAULT_METRICS_INTERVAL;
		if (W.path[0] || W.old[0])
			arm(0);
		else if (W.timer) {
			loop_timer_cancel(W.timer);
			W.timer = NULL;
		}
	}
	if (changed && W.path[0])
		log_info("metrics: writing %s every %u s", W.path, W.interval);
}

/*
 * Contract in metrics_file.h. Main thread, at shutdown, before the loop
 * goes away (it cancels the timer). The removal of PATH rides in the job
 * slot with the stop; when the slot is still taken (a write not yet
 * started) the removal is dropped and the file stays. Waits on done_cv
 * until STOP_WAIT_MS has passed: a writer that is not back by then (I/O
 * blocked on a frozen filesystem) is detached, never joined.
 */
void
metrics_file_stop(void)
{
	struct timespec deadline;
	struct job *j = NULL;
	int exited;

	if (W.timer)
		loop_timer_cancel(W.timer);
	W.timer = NULL;
	if (!W.started)
		return;
	/* a stopped daemon's last numbers must not be scraped as current */
	if (W.path[0] && (j = calloc(1, sizeof(*j))) != NULL)
		memcpy(j->old, W.path, sizeof(j->old));
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STOP_WAIT_MS / 1000;
	pthread_mutex_lock(&W.mu);
	if (j && !W.job) {
		W.job = j;
		j = NULL;
	}
	W.stop = 1;
	pthread_cond_signal(&W.cv);
	while (!W.exited &&
	    pthread_cond_timedwait(&W.done_cv, &W.mu, &deadline) == 0)
		;
	exited = W.exited;
	pthread_mutex_unlock(&W.mu);
	free(j);
	if (exited)
		pthread_join(W.th, NULL);
	else {
		log_warnx("metrics: the writer is stuck on %s (a frozen "
		    "filesystem?): not waiting for it", W.path);
		pthread_detach(W.th);
	}
	W.started = 0;
}
