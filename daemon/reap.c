/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reap.c: the graveyard reaper (see reap.h).
 *
 * The reaper ("larder-reap", one thread) empties graveyard/ with
 * unlinkat, removing directories (a whole volume moved there) depth first,
 * never following a symlink. It runs at start and whenever something
 * arrives (inotify) or reap_kick is called; a kick that comes while it
 * runs makes it go again once more. Space counts as freed when it is
 * unlinked: each reap's objects and bytes go back to the client (cull.c)
 * through reaped().
 *
 * The main thread owns the state below: the names inotify reported, the
 * flags and the counters. A reap job carries the names it unlinks.
 *
 * Locks: none here; the work queue has its own (workq.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "log.h"
#include "loop.h"
#include "reap.h"
#include "workq.h"

#define REAP_MIN_AGE	5	/* s: a full reap leaves younger entries */

struct reap_job {
	struct work w;
	int rootfd;
	int full;			/* read the whole graveyard */
	int skip_jobdirs;		/* a pass runs: leave .c* alone */
	time_t now;			/* full: leave entries younger than
					   REAP_MIN_AGE alone */
	uint64_t skipped;
	char *names;			/* else these, NUL-separated */
	size_t nameslen;
	uint64_t objects, bytes, errors;
	int err;
};

static struct {
	int init;
	int rootfd;
	void (*reaped)(uint64_t, uint64_t, int);
	int (*pass_running)(void);
	struct workq *rq;

	int reaping, reap_again;
	struct loop_timer *timer;	/* a full reap left young entries */
	/* graveyard/ watched with inotify: what appeared there, for the
	 * reaper to unlink by name (no readdir of a huge directory) */
	int ifd;
	struct loop_watch *iwatch;
	char *rnames;
	size_t rlen, rcap;
	int rfull;			/* overflow, or no inotify: readdir */

	/* counters */
	uint64_t reaped_objects, reaped_bytes, reap_errors;
} rs = { .ifd = -1 };

static struct log_ratelimit rl_reap;

/* ---- worker side -------------------------------------------------------- */

static void remove_entry(struct reap_job *j, int dirfd, const char *name,
    const struct stat *st, int depth);

/*
 * Remove everything in dirfd (depth first, no symlink followed). Plain
 * unlinkat, one by one: measured against io_uring unlinkat batches (which
 * all contend on graveyard/'s inode lock), this was twice as fast.
 */
static void
empty_dir(struct reap_job *j, int dirfd, int depth)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = dup(dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		j->errors++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (depth == 0 && j->skip_jobdirs && e->d_name[0] == '.' &&
		    e->d_name[1] == 'c')
			continue;	/* a cull job still renames into it */
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				j->errors++;
			continue;
		}
		/* a margin only: nothing live passes through graveyard/
		 * (the store stages new objects in larder.new/), but what
		 * arrives while a full reap lists it is left for the next
		 * look, named by inotify, rather than raced */
		if (depth == 0 && st.st_ctime + REAP_MIN_AGE > j->now) {
			j->skipped++;
			continue;
		}
		remove_entry(j, dirfd, e->d_name, &st, depth);
	}
	closedir(d);
}

/* Remove dirfd/name (st: its lstat), a directory with everything in it,
 * and count what went. */
static void
remove_entry(struct reap_job *j, int dirfd, const char *name,
    const struct stat *st, int depth)
{
	int sub;

	if (S_ISDIR(st->st_mode)) {
		if (depth > 16) {	/* not ours: a volume is 2 deep */
			j->errors++;
			return;
		}
		sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (sub >= 0) {
			empty_dir(j, sub, depth + 1);
			close(sub);
		}
		if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0) {
			if (errno != ENOENT)
				j->errors++;
			return;
		}
	} else if (unlinkat(dirfd, name, 0) < 0) {
		if (errno != ENOENT)
			j->errors++;
		return;
	} else
		j->objects++;
	j->bytes += (uint64_t)st->st_blocks * 512;
}

/* Remove the entries named in the job (as inotify saw them arrive). */
static void
unlink_names(struct reap_job *j, int gfd)
{
	struct stat st;
	const char *n;

	for (n = j->names; n < j->names + j->nameslen; n += strlen(n) + 1) {
		if (fstatat(gfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				j->errors++;
			continue;	/* gone already (an earlier full pass) */
		}
		remove_entry(j, gfd, n, &st, 0);
	}
}

/* Worker: unlink the names in the job, or everything in graveyard/. */
static void
job_run(struct work *w)
{
	struct reap_job *j = (struct reap_job *)w;
	int gfd;

	if ((gfd = open_dir_beneath(j->rootfd, "graveyard")) < 0) {
		j->err = gfd;
		return;
	}
	j->now = time(NULL);
	if (j->full)
		empty_dir(j, gfd, 0);
	else
		unlink_names(j, gfd);
	close(gfd);
}

/* ---- main thread -------------------------------------------------------- */

/* Entries a full reap found too young: look again. */
static void
look_again(void *arg)
{
	(void)arg;
	rs.timer = NULL;
	rs.rfull = 1;
	reap_kick();
}

/* Count and log a reap, go again if kicked meanwhile, then tell the
 * client. The kick comes first: reaped() may start a pass, and the job
 * made by the kick belongs to the state this reap ended in. */
static void
job_done(struct work *w)
{
	struct reap_job *j = (struct reap_job *)w;
	uint64_t objects = j->objects, bytes = j->bytes;
	int all = j->full && !rs.reap_again;

	rs.reaping = 0;
	rs.reaped_objects += j->objects;
	rs.reaped_bytes += j->bytes;
	rs.reap_errors += j->errors;
	if (j->err < 0)
		log_warnx_rl(&rl_reap, "cull: reap graveyard: %s",
		    strerror(-j->err));
	else if (j->errors)
		log_warnx_rl(&rl_reap, "cull: reap graveyard: %llu entries "
		    "could not be removed", (unsigned long long)j->errors);
	if (j->skipped && rs.init && !rs.timer)
		rs.timer = loop_timer_add((REAP_MIN_AGE + 1) * 1000,
		    look_again, NULL);
	free(j->names);
	free(j);
	if (!rs.init)
		return;
	if (rs.reap_again) {
		rs.reap_again = 0;
		reap_kick();
	}
	if (rs.reaped)
		rs.reaped(objects, bytes, all);
}

void
reap_kick(void)
{
	struct reap_job *j;

	if (!rs.init)
		return;
	if (rs.reaping) {
		rs.reap_again = 1;
		return;
	}
	if (!rs.rfull && rs.rlen == 0)
		return;		/* nothing new */
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;
	j->w.run = job_run;
	j->w.done = job_done;
	j->rootfd = rs.rootfd;
	j->full = rs.rfull;
	j->skip_jobdirs = rs.pass_running ? rs.pass_running() : 0;
	if (!j->full) {		/* hand the names over */
		j->names = rs.rnames;
		j->nameslen = rs.rlen;
		rs.rnames = NULL;
		rs.rlen = rs.rcap = 0;
	}
	rs.rfull = rs.ifd < 0;	/* without inotify, always read it all */
	rs.rlen = 0;
	rs.reaping = 1;
	workq_submit(rs.rq, &j->w);
}

/* Remember a name that appeared in graveyard/. */
static void
note_name(const char *name)
{
	size_t l = strlen(name) + 1;
	char *nn;

	if (rs.rfull || name[0] == '.')
		return;		/* a cull job's directory, not published yet */
	if (rs.rlen + l > rs.rcap) {
		size_t cap = rs.rcap ? rs.rcap * 2 : 65536;

		if (cap > ((size_t)64 << 20) ||
		    (nn = realloc(rs.rnames, cap)) == NULL) {
			rs.rfull = 1;	/* too many: read the directory */
			return;
		}
		rs.rnames = nn;
		rs.rcap = cap;
	}
	memcpy(rs.rnames + rs.rlen, name, l);
	rs.rlen += l;
}

/* inotify on graveyard/: whatever arrives there is reaped (our culls, the
 * store's moves, the kernel's in kernel mode). No polling. */
static void
graveyard_event(int fd, uint32_t events, void *arg)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;

	(void)events;
	(void)arg;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				rs.rfull = 1;
			else if (ev->len > 0 && ev->name[0])
				note_name(ev->name);
		}
	}
	reap_kick();
}

int
reap_busy(void)
{
	return rs.reaping;
}

int
reap_watching(void)
{
	return rs.ifd >= 0;
}

void
reap_stats(void (*put)(void *arg, const char *key, uint64_t v), void *arg)
{
	put(arg, "reap.objects", rs.reaped_objects);
	put(arg, "reap.bytes", rs.reaped_bytes);
	put(arg, "reap.errors", rs.reap_errors);
}

/* ---- life --------------------------------------------------------------- */

/* Watch graveyard/ with inotify (rs.ifd, rs.iwatch); rs.ifd stays -1 if
 * that cannot be done. */
static void
watch_graveyard(int rootfd)
{
	char path[64];
	int fd;

	if ((fd = open_dir_beneath(rootfd, "graveyard")) < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rs.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rs.ifd >= 0 && (inotify_add_watch(rs.ifd, path,
	    IN_MOVED_TO | IN_ONLYDIR) < 0 ||
	    (rs.iwatch = loop_watch_add(rs.ifd, EPOLLIN,
	    graveyard_event, NULL)) == NULL)) {
		close(rs.ifd);
		rs.ifd = -1;
	}
	close(fd);
}

/* Start the reaper (see reap.h): its worker, the inotify watch on
 * graveyard/ (or a warning that every reap reads it whole), and a full
 * reap of what a crash left. */
int
reap_init(int rootfd,
    void (*reaped)(uint64_t objects, uint64_t bytes, int all),
    int (*pass_running)(void))
{
	memset(&rs, 0, sizeof(rs));
	rs.ifd = -1;
	rs.rootfd = rootfd;
	rs.reaped = reaped;
	rs.pass_running = pass_running;
	if ((rs.rq = workq_create_background("larder-reap", 1)) == NULL)
		return -errno;
	watch_graveyard(rootfd);
	if (rs.ifd < 0)
		log_warnx("cull: cannot watch graveyard/ (inotify): it is "
		    "read whole after every pass instead");
	rs.init = 1;
	rs.rfull = 1;
	reap_kick();		/* what a crash left in the graveyard */
	return 0;
}

void
reap_fini(void)
{
	if (!rs.init)
		return;
	rs.init = 0;
	if (rs.timer)
		loop_timer_cancel(rs.timer);
	rs.timer = NULL;
	if (rs.iwatch)
		loop_watch_del(rs.iwatch);
	if (rs.ifd >= 0)
		close(rs.ifd);
	rs.iwatch = NULL;
	rs.ifd = -1;
	/* let the job in flight finish; its done() sees !init and stops */
	workq_destroy(rs.rq);
	free(rs.rnames);
	memset(&rs, 0, sizeof(rs));
	rs.ifd = -1;
}
