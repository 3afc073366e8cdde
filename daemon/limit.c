/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * limit.c: the per-uid limits and their kin (see limit.h). Main thread
 * only, but for close_run, which runs on the closer thread.
 *
 * Each uid that holds anything has a struct uidl in a small hash table;
 * it is freed when it holds nothing. Every check is O(1): a flood of
 * connections or acquires costs one lookup each, never a walk.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "limit.h"
#include "log.h"
#include "loop.h"
#include "workq.h"

#define UID_BUCKETS		256
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		2000
#define BACKOFF_QUIET_MS	10000	/* no failure this long: a new run */

struct uidl {
	struct uidl *next;
	uid_t uid;
	unsigned conns, cookies, volumes, created;
	uint64_t pinned;
};

struct closejob {
	struct work w;
	int fd;
};

static struct uidl *uids[UID_BUCKETS];
static struct {
	unsigned admin_conns, uid_conns, uid_cookies, uid_volumes;
	uint64_t uid_pinned;		/* 0: no limit */
	uint64_t idle_ms;
} L = {
	CONF_DEFAULT_ADMIN_CONNECTIONS, CONF_DEFAULT_UID_CONNECTIONS,
	CONF_DEFAULT_UID_COOKIES, CONF_DEFAULT_UID_VOLUMES, 0,
	CONF_DEFAULT_IDLE_TIMEOUT * 1000ULL,
};
static struct {
	uint64_t conns_refused, admin_slots_used, cookies_refused,
	    volumes_refused, creates_refused, pinned_refused, idle_closed, accept_errors,
	    accept_backoffs, fds_closed;
} st;
static uint64_t backoff_ms;		/* current back-off; 0: none */
static uint64_t last_fail_ms;
static int warned;			/* the run of failures was logged */
static struct workq *closer;
static struct log_ratelimit rl_refused;

void
limit_configure(const struct conf *c, int fsfd)
{
	struct statvfs sv;

	L.admin_conns = c->admin_connections;
	L.uid_conns = c->uid_max_connections;
	L.uid_cookies = c->uid_max_cookies;
	L.uid_volumes = c->uid_max_volumes;
	L.idle_ms = (uint64_t)c->idle_timeout * 1000;
	L.uid_pinned = c->uid_max_pinned;
	if (c->uid_max_pinned_percent && fsfd >= 0 &&
	    fstatvfs(fsfd, &sv) == 0)
		L.uid_pinned = (uint64_t)sv.f_blocks * sv.f_frsize / 100 *
		    c->uid_max_pinned_percent;
}

/* The uid's record; created when create, NULL if none (or no memory). */
static struct uidl *
uid_get(uid_t uid, int create)
{
	struct uidl *u, **up = &uids[uid % UID_BUCKETS];

	for (u = *up; u; u = u->next)
		if (u->uid == uid)
			return u;
	if (!create)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (u) {
		u->uid = uid;
		u->next = *up;
		*up = u;
	}
	return u;
}

/* Free the record once the uid holds nothing. */
static void
uid_maybe_free(struct uidl *u)
{
	struct uidl **up;

	if (u->conns || u->cookies || u->volumes || u->created || u->pinned)
		return;
	for (up = &uids[u->uid % UID_BUCKETS]; *up; up = &(*up)->next)
		if (*up == u) {
			*up = u->next;
			free(u);
			return;
		}
}

/*
 * Admit a connection (contract in limit.h). Main thread, from control.c's
 * accept, before the connection is kept; a 0 must be paired with one
 * limit_conn_del. The last admin_connections of max slots are for
 * admins: a client gets -EMFILE already when only those are left, an
 * admin only when all are taken (an admin in the reserve counts in
 * limits.admin_slots_used). Admins have no per-uid count. Each refusal
 * is counted and logged, rate-limited.
 */
int
limit_conn_add(uid_t uid, int admin, unsigned total, unsigned max)
{
	struct uidl *u;
	unsigned open_slots = max > L.admin_conns ? max - L.admin_conns : 0;

	if (admin) {
		if (total >= max)
			goto full;
		if (total >= open_slots)
			st.admin_slots_used++;
		return 0;
	}
	if (total >= open_slots)
		goto full;
	u = uid_get(uid, 1);
	if (!u)
		return -ENOMEM;
	if (u->conns >= L.uid_conns) {
		st.conns_refused++;
		log_warnx_rl(&rl_refused, "limits: uid %ld has %u connections "
		    "(uid_max_connections): refusing one", (long)uid, u->conns);
		return -EUSERS;
	}
	u->conns++;
	return 0;
full:
	st.conns_refused++;
	log_warnx_rl(&rl_refused, "limits: %u connections%s: refusing one of "
	    "uid %ld", total, admin ? "" : " (the rest is admin_connections)",
	    (long)uid);
	return -EMFILE;
}

void
limit_conn_del(uid_t uid, int admin)
{
	struct uidl *u;

	if (admin || !(u = uid_get(uid, 0)))
		return;
	if (u->conns)
		u->conns--;
	uid_maybe_free(u);
}

/*
 * Admit a cookie of bytes for uid (contract in limit.h): main thread, at
 * cookie acquire; a 0 must be paired with limit_cookie_del with the same
 * bytes. limited 0 (root, admins) always passes and counts nothing.
 * Checks uid_max_cookies, then uid_max_pinned against the bytes its
 * cookies already hold (overflow-safe); each refusal is counted and
 * logged, rate-limited.
 */
int
limit_cookie_add(uid_t uid, int limited, uint64_t bytes)
{
	struct uidl *u;

	if (!limited)
		return 0;
	u = uid_get(uid, 1);
	if (!u)
		return -ENOMEM;
	if (u->cookies >= L.uid_cookies) {
		st.cookies_refused++;
		log_warnx_rl(&rl_refused, "limits: uid %ld holds %u cookies "
		    "(uid_max_cookies): refusing one", (long)uid, u->cookies);
		uid_maybe_free(u);
		return -ECANCELED;
	}
	if (L.uid_pinned && (bytes > L.uid_pinned ||
	    u->pinned > L.uid_pinned - bytes)) {
		st.pinned_refused++;
		log_warnx_rl(&rl_refused, "limits: uid %ld holds objects of "
		    "%llu bytes (uid_max_pinned %llu): refusing one of %llu",
		    (long)uid, (unsigned long long)u->pinned,
		    (unsigned long long)L.uid_pinned,
		    (unsigned long long)bytes);
		uid_maybe_free(u);
		return -ECANCELED;
	}
	u->cookies++;
	u->pinned += bytes;
	return 0;
}

void
limit_cookie_del(uid_t uid, int limited, uint64_t bytes)
{
	struct uidl *u;

	if (!limited || !(u = uid_get(uid, 0)))
		return;
	if (u->cookies)
		u->cookies--;
	u->pinned = u->pinned > bytes ? u->pinned - bytes : 0;
	uid_maybe_free(u);
}

/* One more of what uid has at offset off of its struct uidl, up to max:
 * 0, -ENOMEM, or -ECANCELED with *refused counted and a log line "uid U
 * <has> N <what>: refusing one". */
static int
count_add(uid_t uid, int limited, size_t off, unsigned max,
    uint64_t *refused, const char *has, const char *what)
{
	struct uidl *u;
	unsigned *n;

	if (!limited)
		return 0;
	u = uid_get(uid, 1);
	if (!u)
		return -ENOMEM;
	n = (unsigned *)((char *)u + off);
	if (*n >= max) {
		(*refused)++;
		log_warnx_rl(&rl_refused, "limits: uid %ld %s %u %s: refusing "
		    "one", (long)uid, has, *n, what);
		uid_maybe_free(u);
		return -ECANCELED;
	}
	(*n)++;
	return 0;
}

/* One less of what count_add counted (never below 0). */
static void
count_del(uid_t uid, size_t off)
{
	struct uidl *u = uid_get(uid, 0);
	unsigned *n;

	if (!u)
		return;
	n = (unsigned *)((char *)u + off);
	if (*n)
		(*n)--;
	uid_maybe_free(u);
}

int
limit_volume_add(uid_t uid, int limited)
{
	return count_add(uid, limited, offsetof(struct uidl, volumes),
	    L.uid_volumes, &st.volumes_refused, "holds",
	    "volumes (uid_max_volumes)");
}

void
limit_volume_del(uid_t uid, int limited)
{
	if (limited)
		count_del(uid, offsetof(struct uidl, volumes));
}

int
limit_volume_create(uid_t uid, int limited)
{
	return count_add(uid, limited, offsetof(struct uidl, created),
	    L.uid_volumes, &st.creates_refused, "made",
	    "volumes still there (uid_max_volumes)");
}

void
limit_volume_gone(uid_t uid)
{
	count_del(uid, offsetof(struct uidl, created));
}

uint64_t
limit_idle_ms(void)
{
	return L.idle_ms;
}

void
limit_idle_closed(void)
{
	st.idle_closed++;
}

uint64_t
limit_accept_failed(int err)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return 0;
	st.accept_errors++;
	st.accept_backoffs++;
	last_fail_ms = loop_now_ms();
	if (!warned) {
		/* once per run of failures, not once per try (a run ends
		 * after BACKOFF_QUIET_MS without one) */
		log_warnx("control: accept: %s: not accepting for a while "
		    "(raise LimitNOFILE, or lower the uid_max_* limits)",
		    strerror(err));
		warned = 1;
	}
	if (!backoff_ms)
		backoff_ms = BACKOFF_MIN_MS;
	else if (backoff_ms < BACKOFF_MAX_MS)
		backoff_ms *= 2;
	return backoff_ms;
}

void
limit_accept_ok(void)
{
	backoff_ms = 0;
	if (warned && loop_now_ms() - last_fail_ms >= BACKOFF_QUIET_MS) {
		log_info("control: accepting connections again");
		warned = 0;
	}
}

/* ---- the closer thread --------------------------------------------------- */

static void
close_run(struct work *w)
{
	close(((struct closejob *)w)->fd);
}

static void
close_done(struct work *w)
{
	st.fds_closed++;
	free(w);
}

void
limit_close_fd(int fd)
{
	struct closejob *j;

	if (fd < 0)
		return;
	/* made at first use: after the privilege drop, which is per thread */
	if (!closer)
		closer = workq_create("larder-close", 1);
	j = closer ? calloc(1, sizeof(*j)) : NULL;
	if (!j) {
		/* never on the main thread: keeping it is the lesser harm */
		log_warnx("limits: cannot hand fd %d to the closer thread: "
		    "keeping it open", fd);
		return;
	}
	j->fd = fd;
	j->w.run = close_run;
	j->w.done = close_done;
	workq_submit(closer, &j->w);
}

static void
limit_kv(struct ctl_kv *kv)
{
	ctl_kv_u64(kv, "limits.connections_refused", st.conns_refused);
	ctl_kv_u64(kv, "limits.admin_slots_used", st.admin_slots_used);
	ctl_kv_u64(kv, "limits.cookies_refused", st.cookies_refused);
	ctl_kv_u64(kv, "limits.volumes_refused", st.volumes_refused);
	ctl_kv_u64(kv, "limits.volume_creates_refused", st.creates_refused);
	ctl_kv_u64(kv, "limits.pinned_refused", st.pinned_refused);
	ctl_kv_u64(kv, "limits.idle_closed", st.idle_closed);
	ctl_kv_u64(kv, "limits.accept_errors", st.accept_errors);
	ctl_kv_u64(kv, "limits.accept_backoffs", st.accept_backoffs);
	ctl_kv_u64(kv, "limits.fds_closed_off_thread", st.fds_closed);
	ctl_kv_u64(kv, "limits.fds_closing",
	    closer ? workq_inflight(closer) : 0);
}

void
limit_init(void)
{
	control_add_stats(limit_kv);
}

void
limit_fini(void)
{
	struct uidl *u;
	unsigned i;

	/* a close stuck on a dead FUSE server would hang the join: the
	 * process is ending anyway, so leave that thread be */
	if (closer && workq_inflight(closer) == 0)
		workq_destroy(closer);
	closer = NULL;
	for (i = 0; i < UID_BUCKETS; i++)
		while ((u = uids[i]) != NULL) {
			uids[i] = u->next;
			free(u);
		}
}
