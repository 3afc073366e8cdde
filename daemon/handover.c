/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * handover.c: fds handed from one larderd to the next (see handover.h),
 * and the sd_notify protocol with fds, done by hand: a datagram to
 * $NOTIFY_SOCKET with SCM_RIGHTS. It is small, larderd already speaks
 * the fd-less part of it the same way, and libsystemd would be a new
 * dependency of the daemon for two messages.
 *
 * Main thread only, at start and at stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "handover.h"
#include "proto.h"
#include "log.h"
#include "prio.h"

#define MAX_FDS		16	/* more than larderd ever hands over */
#define LISTEN_START	3	/* SD_LISTEN_FDS_START */
#define BARRIER_MS	5000

struct hfd {
	char name[32];
	int fd;
};

static struct hfd in[MAX_FDS];		/* came in, not yet taken */
static int nin;
static const char *source;
static char taken[256];			/* names adopted, for the log */
static struct hfd out[MAX_FDS];		/* to keep across exec */
static int nout;

/* A name larderd knows; anything else is closed. */
static int
known(const char *name)
{
	return strcmp(name, HO_CONTROL) == 0 || strcmp(name, HO_CLAIM) == 0 ||
	    strcmp(name, HO_TREE) == 0 || strcmp(name, HO_CACHEFILES) == 0;
}

/* Keep fd under name (or close it, logged, when unknown, a repeat or too
 * many); close-on-exec set either way. */
static void
add(const char *name, size_t len, int fd)
{
	char nm[32];
	int i;

	snprintf(nm, sizeof(nm), "%.*s", (int)(len < sizeof(nm) ? len :
	    sizeof(nm) - 1), name);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_warnx("handover: fd %d (%s): not open", fd, nm);
		return;
	}
	if (len >= sizeof(nm) || !known(nm)) {
		log_warnx("handover: fd %d named '%s' is nothing larderd hands "
		    "over: closed", fd, nm);
		close(fd);
		return;
	}
	for (i = 0; i < nin; i++)
		if (strcmp(in[i].name, nm) == 0)
			break;
	if (i < nin || nin == MAX_FDS) {
		log_warnx("handover: fd %d: a second '%s': closed", fd, nm);
		close(fd);
		return;
	}
	snprintf(in[nin].name, sizeof(in[nin].name), "%s", nm);
	in[nin++].fd = fd;
}

/* An fd number from an environment variable: 3 .. INT_MAX; -1 if not. */
static int
parse_fd(const char *s, size_t len)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 9)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 3 ? (int)v : -1;
}

/* systemd's LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES (sd_listen_fds(3)) */
static int
from_systemd(void)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES"), *p, *e;
	char *end;
	int n, i;

	if (!pid || !nfds)
		return 0;
	if (strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	n = (int)strtol(nfds, &end, 10);
	if (*end != '\0' || n <= 0 || n > MAX_FDS) {
		if (n > MAX_FDS)
			log_warnx("handover: LISTEN_FDS=%d: more than larderd "
			    "hands over; none taken", n);
		return 0;
	}
	source = "systemd";
	p = names ? names : "";
	for (i = 0; i < n; i++) {
		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		add(p, (size_t)(e - p), LISTEN_START + i);
		p = *e ? e + 1 : e;
	}
	return n;
}

/* LARDER_FDS=name=N:name=N from a larderd that re-executed itself */
static int
from_exec(const char *v)
{
	const char *p = v, *e, *eq;
	int n = 0, fd;

	source = "re-exec";
	while (*p) {
		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		eq = memchr(p, '=', (size_t)(e - p));
		fd = eq ? parse_fd(eq + 1, (size_t)(e - eq - 1)) : -1;
		if (fd < 0)
			log_warnx("%s: '%.*s' is not name=fd: ignored",
			    HANDOVER_ENV, (int)(e - p), p);
		else {
			add(p, (size_t)(eq - p), fd);
			n++;
		}
		p = *e ? e + 1 : e;
		if (n >= MAX_FDS)
			break;
	}
	return n;
}

int
handover_collect(void)
{
	const char *v = getenv(HANDOVER_ENV);
	int n;

	n = from_systemd();
	if (n > 0) {
		/* systemd keeps its copies until told: drop them now that
		 * ours are open, or a suspend, a freeze withdraw or a
		 * rejected fd would give back nothing */
		static const char *const names[] = { HO_CONTROL, HO_CLAIM,
		    HO_TREE, HO_CACHEFILES };
		char msg[64];
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s",
			    names[i]);
			(void)handover_notify(msg, -1);
		}
	}
	if (n == 0 && v && *v)
		n = from_exec(v);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	unsetenv(HANDOVER_ENV);
	return n;
}

const char *
handover_source(void)
{
	return source;
}

int
handover_take(const char *name)
{
	int i, fd;

	for (i = 0; i < nin; i++) {
		if (strcmp(in[i].name, name) != 0)
			continue;
		fd = in[i].fd;
		in[i] = in[--nin];
		snprintf(taken + strlen(taken), sizeof(taken) - strlen(taken),
		    "%s%s", taken[0] ? " " : "", name);
		return fd;
	}
	return -1;
}

void
handover_rejected(const char *name)
{
	char *p = taken, *e;
	size_t n = strlen(name);

	/* take name out of the adopted list */
	while ((p = strstr(p, name)) != NULL) {
		e = p + n;
		if ((p == taken || p[-1] == ' ') && (*e == ' ' || !*e)) {
			if (*e == ' ')
				e++;
			else if (p > taken)
				p--;
			memmove(p, e, strlen(e) + 1);
			return;
		}
		p = e;
	}
}

void
handover_finish(void)
{
	int i;

	for (i = 0; i < nin; i++) {
		log_warnx("handover: fd %d (%s) from %s not used: closed",
		    in[i].fd, in[i].name, source);
		close(in[i].fd);
	}
	nin = 0;
	if (source)
		log_info("handover: adopted from %s: %s", source,
		    taken[0] ? taken : "nothing");
}

int
handover_fdstore_wanted(void)
{
	const char *a = getenv("LARDER_FDSTORE"), *b = getenv("FDSTORE");
	const char *ns = getenv("NOTIFY_SOCKET");

	if (!ns || !*ns)
		return 0;
	return (a && strcmp(a, "1") == 0) || (b && strtol(b, NULL, 10) > 0);
}

/*
 * sd_notify(3) without libsystemd: one datagram with msg (e.g. "READY=1",
 * "FDSTORE=1\nFDNAME=x") to $NOTIFY_SOCKET, a path or "@" for the
 * abstract namespace, with fd attached as SCM_RIGHTS unless it is -1.
 * Main thread (startup, reload, stop). Returns 0; -ENOENT when systemd
 * did not set NOTIFY_SOCKET (callers ignore that), -EINVAL for a socket
 * name that is not usable, or the -errno of socket/sendmsg. The caller
 * keeps fd.
 */
int
handover_notify(const char *msg, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union proto_fdbuf cm;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { 0 };
	size_t n;
	int s, e;

	if (!path || !*path)
		return -ENOENT;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	mh.msg_name = &sa;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	proto_msg_fd(&mh, &cm, fd);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0) {
		e = errno;
		close(s);
		return -e;
	}
	close(s);
	return 0;
}

static int to_systemd;

void
handover_begin(int systemd)
{
	to_systemd = systemd;
}

void
handover_give(const char *name, int fd)
{
	char msg[64];
	int r;

	if (fd < 0)
		return;
	if (to_systemd) {
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
		if ((r = handover_notify(msg, fd)) < 0)
			log_warnx("handover: %s to systemd's fd store: %s",
			    name, strerror(-r));
		else
			log_info("handover: %s (fd %d) to systemd's fd store",
			    name, fd);
		return;
	}
	if (nout == MAX_FDS)
		return;
	/* a second reference to the same open file: what the teardown
	 * closes next is the other one */
	if ((r = fcntl(fd, F_DUPFD, LISTEN_START)) < 0) {
		log_warn("handover: keep %s for the exec", name);
		return;
	}
	snprintf(out[nout].name, sizeof(out[nout].name), "%s", name);
	out[nout++].fd = r;
}

int
handover_systemd_barrier(void)
{
	struct pollfd pfd;
	int p[2], r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	r = handover_notify("BARRIER=1", p[1]);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return r;
	}
	/* systemd closes its copy of the write end once it has processed
	 * everything sent before: then POLLHUP */
	pfd.fd = p[0];
	pfd.events = 0;
	do
		r = poll(&pfd, 1, BARRIER_MS);
	while (r < 0 && errno == EINTR);
	close(p[0]);
	if (r == 0)
		return -ETIMEDOUT;
	return r < 0 ? -errno : 0;
}

int
handover_exec(const char *path, char **argv)
{
	char env[MAX_FDS * 48] = "";
	size_t len = 0;
	int i;

	for (i = 0; i < nout; i++)
		len += (size_t)snprintf(env + len, sizeof(env) - len, "%s%s=%d",
		    i ? ":" : "", out[i].name, out[i].fd);
	if (setenv(HANDOVER_ENV, env, 1) < 0)
		return -errno;
	prio_export_env();
	log_info("re-executing %s with %s", path, env);
	execv(path, argv);
	i = errno;
	log_warnx("re-exec %s: %s", path, strerror(i));
	unsetenv(HANDOVER_ENV);
	unsetenv(PRIO_ENV);
	return -i;
}
