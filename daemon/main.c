/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.c: larderd's flags, startup order, signals, sd_notify and teardown.
 *
 * Startup is one ordered list of steps per mode (user_steps, kernel_steps:
 * chrony's Initialise/Finalise), each starting one module; a step that
 * fails unwinds the ones before it in reverse and exits 1 with its line.
 * Teardown (SIGTERM/SIGINT) first quiesces the store (fills stop, meta
 * queue flushed, atimes written back, bounded in time), then runs the
 * same list in reverse: release the claim, remove the socket, exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conf.h"
#include "caps.h"
#include "beneath.h"
#include "control.h"
#include "cull.h"
#include "freeze.h"
#include "handover.h"
#include "hist.h"
#include "log.h"
#include "metrics_file.h"
#include "loop.h"
#include "mount.h"
#include "prio.h"
#include "store.h"
#include "index.h"
#include "io.h"
#include "kernel.h"
#include "limit.h"
#include "meta.h"
#include "scan.h"

#define STOP_TIMEOUT_MS	20000	/* how long shutdown waits for the cache fs */

/* in force; no module keeps a pointer into it (each copies what it
 * uses), so a reload frees the one it replaces */
static struct conf *conf;
static int nocull_flag, to_stderr, foreground, debug;
static const char *pidfile;
static int pidfile_written;
static time_t started;
static const char *state = "starting";
static struct loop_timer *watchdog_timer, *stop_timer;
static uint64_t watchdog_ms;
static int kernel_mode;
static int stopping;
static int stop_stuck;			/* the cache fs never answered */
static int sig_fd = -1;
static struct loop_watch *sig_watch;
static int reexec;			/* SIGUSR2: stop, then exec ourselves */
static int handing_over;		/* the stop hands the fds on */
static char exe[PATH_MAX];		/* our binary's path, for the re-exec */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: larderd [-dsnNtv] [-f FILE] [-p PIDFILE]\n"
"       larderd -R [-f FILE]\n"
"  -d          more debug output (repeat for more)\n"
"  -s          log to stderr, not syslog\n"
"  -n          stay in the foreground\n"
"  -N          never cull\n"
"  -f FILE     config file [%s, else %s]\n"
"  -p PIDFILE  write the pid there [%s when daemonised]\n"
"  -t          check the config and what a start needs (dir, socket dir,\n"
"              /dev/cachefiles), print `configuration OK' or the errors\n"
"  -R          tell the larderd serving FILE's socket to re-execute its\n"
"              binary (an upgraded one) keeping its fds: the cache stays\n"
"              (the same as sending it SIGUSR2)\n"
"  -v          print the version\n"
"  -h, --help  this text\n", DEFAULT_CONF_FILE, CACHEFILESD_CONF_FILE,
	    DEFAULT_PIDFILE);
}

/* ---- sd_notify without libsystemd ---------------------------------------- */

/* One message to the service manager, if there is one (handover.c has
 * the protocol: one datagram, optionally with an fd). */
static void
sd_notify(const char *msg)
{
	int err = handover_notify(msg, -1);

	if (err < 0 && err != -ENOENT)
		log_debug("sd_notify: %s", strerror(-err));
}

static void
on_watchdog(void *arg)
{
	(void)arg;
	sd_notify("WATCHDOG=1");
	watchdog_timer = loop_timer_add(watchdog_ms, on_watchdog, NULL);
}

static void
watchdog_start(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;

	if (!us || conf_parse_uint(us, 1, ~0ULL, &v) < 0)
		return;
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return;
	watchdog_ms = v / 2000;		/* ping at half the interval */
	if (watchdog_ms == 0)
		watchdog_ms = 1;
	on_watchdog(NULL);
}

/* ---- config -------------------------------------------------------------- */

struct errsink {
	int to_stdout;		/* -t prints to stdout */
	int count;
	char first[512];
};

static void
conf_err(void *arg, const char *msg)
{
	struct errsink *e = arg;

	if (conf_is_warning(msg)) {
		if (e->to_stdout)
			printf("%s\n", msg);
		else
			log_warnx("config: %s", msg);
		return;
	}
	if (e->count++ == 0)
		snprintf(e->first, sizeof(e->first), "%s", msg);
	if (e->to_stdout)
		printf("%s\n", msg);
	else
		log_warnx("config: %s", msg);
}

static const char *
default_conf(void)
{
	if (access(DEFAULT_CONF_FILE, F_OK) == 0)
		return DEFAULT_CONF_FILE;
	return CACHEFILESD_CONF_FILE;
}

/*
 * What a start needs of the cache dir: a directory, owned by larderd's
 * user and writable by nobody else (whoever can write in it can plant
 * entries for larderd, running with privileges, to act on). 0, or -errno
 * with what to do about it in err.
 */
static int
check_cache_dir(const char *dir, char *err, size_t errsz)
{
	struct stat sb;
	int e;

	if (stat(dir, &sb) < 0) {
		e = errno;
		if (e == ENOENT)
			snprintf(err, errsz, "cache dir %s does not exist: "
			    "create it (mkdir -m 0700 %s) or change `dir'",
			    dir, dir);
		else
			snprintf(err, errsz, "cache dir %s: %s", dir,
			    strerror(e));
		return -e;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errsz, "cache dir %s is not a directory: change "
		    "`dir'", dir);
		return -ENOTDIR;
	}
	if (sb.st_uid != geteuid()) {
		snprintf(err, errsz, "cache dir %s is owned by uid %lu, not by "
		    "larderd's uid %lu: chown %lu %s", dir,
		    (unsigned long)sb.st_uid, (unsigned long)geteuid(),
		    (unsigned long)geteuid(), dir);
		return -EPERM;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errsz, "cache dir %s is writable by %s (mode "
		    "%04o): chmod go-w %s", dir, (sb.st_mode & S_IWOTH) ?
		    "others" : "its group", (unsigned)(sb.st_mode & 07777),
		    dir);
		return -EPERM;
	}
	return 0;
}

/* Can the socket be made at path? Its directory, or the nearest existing
 * ancestor (the rest is made at start), must be a directory we may write
 * in. 0, or -errno with what is wrong in err. */
static int
check_socket_dir(const char *path, char *err, size_t errsz)
{
	struct sockaddr_un sa;
	char dir[PATH_MAX], *p;
	struct stat sb;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errsz, "socket %s: longer than %zu bytes: choose "
		    "a shorter `socket'", path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		snprintf(dir, sizeof(dir), "/");
	else
		*p = '\0';
	while (stat(dir, &sb) < 0) {
		if (errno != ENOENT || (p = strrchr(dir, '/')) == NULL) {
			snprintf(err, errsz, "socket %s: directory %s: %s",
			    path, dir, strerror(errno));
			return -errno;
		}
		if (p == dir)
			p[1] = '\0';
		else
			*p = '\0';
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errsz, "socket %s: %s is not a directory", path,
		    dir);
		return -ENOTDIR;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, errsz, "socket %s: cannot write in %s: %s", path,
		    dir, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * larderd -t, after the config parsed: check what a start would check
 * before it changes anything (the cache dir, the socket's directory, the
 * kernel device for `backend kernel'), and say which backend `backend
 * auto' would pick. Prints each problem; the number of errors.
 */
static int
check_start(const struct conf *c, const char *file)
{
	const char *sock = c->socket[0] ? c->socket : DEFAULT_SOCKET;
	char err[3 * PATH_MAX];
	int bad = 0;

	if (!c->dir[0]) {
		printf("%s: no dir line: add `dir /path/to/cache'\n", file);
		bad++;
	} else if (check_cache_dir(c->dir, err, sizeof(err)) < 0) {
		printf("%s\n", err);
		bad++;
	}
	if (check_socket_dir(sock, err, sizeof(err)) < 0) {
		printf("%s\n", err);
		bad++;
	}
	if (c->backend == CONF_BACKEND_KERNEL ||
	    c->backend == CONF_BACKEND_AUTO) {
		int fd = open(KERNEL_DEVICE, O_RDWR | O_CLOEXEC), e = errno;
		int kernel = c->backend == CONF_BACKEND_KERNEL;

		if (fd >= 0)
			close(fd);
		if (fd >= 0 && !kernel)
			printf("backend auto: a start would use kernel mode "
			    "(%s opens)\n", KERNEL_DEVICE);
		else if (fd < 0 && e == EBUSY)
			printf("%s: in use by a running cache daemon (larderd "
			    "or cachefilesd): a start now would fail until it "
			    "stops%s\n", KERNEL_DEVICE, kernel ? "" :
			    "; backend auto would then use kernel mode");
		else if (fd < 0 && !kernel)
			printf("backend auto: a start would use userspace mode "
			    "(%s: %s)\n", KERNEL_DEVICE, strerror(e));
		else if (fd < 0 && (e == ENOENT || e == ENXIO ||
		    e == ENODEV)) {
			printf("backend kernel: %s: %s: load the cachefiles "
			    "module (modprobe cachefiles)\n", KERNEL_DEVICE,
			    strerror(e));
			bad++;
		} else if (fd < 0) {
			printf("backend kernel: %s: %s%s\n", KERNEL_DEVICE,
			    strerror(e), e == EACCES || e == EPERM ?
			    " (kernel mode needs root with CAP_SYS_ADMIN)" :
			    "");
			bad++;
		}
	}
	return bad;
}

/* The gid of a group keyword's name; (gid_t)-1 when unset or unknown. */
static gid_t
group_gid(const char *name, const char *kw, const char *without)
{
	struct group gr, *grp = NULL;
	char buf[4096];

	if (!name[0])
		return (gid_t)-1;
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &grp) != 0 || !grp) {
		log_warnx("config: %s %s: no such group; %s", kw, name,
		    without);
		return (gid_t)-1;
	}
	return grp->gr_gid;
}

static gid_t
admin_gid(const struct conf *c)
{
	return group_gid(c->admin_group, "admin_group", "admin commands "
	    "need root");
}

static gid_t
client_gid(const struct conf *c)
{
	return group_gid(c->client_group, "client_group", "only admins may "
	    "connect");
}

/*
 * Re-read the config into a new struct, hand it to every module, and free
 * the one it replaces. What cannot change while running (dir, socket,
 * backend) keeps its old value, with a warning. Returns 0 or -errno; *why
 * gets the first error.
 */
static int
reload(char *why, size_t whysz)
{
	struct errsink e = { 0 };
	struct conf *c, *old;
	int err;

	c = malloc(sizeof(*c));
	if (!c) {
		snprintf(why, whysz, "out of memory");
		return -ENOMEM;
	}
	err = conf_parse(conf->file, c, conf_err, &e);
	if (err < 0) {
		log_warnx("reload: %s: %d error%s; keeping the config in "
		    "force", conf->file, e.count, e.count == 1 ? "" : "s");
		snprintf(why, whysz, "%s", e.count ? e.first : strerror(-err));
		free(c);
		return err < 0 ? err : -EINVAL;
	}
	if (strcmp(c->dir, conf->dir) != 0) {
		log_warnx("reload: dir changed: needs a restart; keeping %s",
		    conf->dir);
		memcpy(c->dir, conf->dir, sizeof(c->dir));
	}
	if (strcmp(c->socket, conf->socket) != 0) {
		log_warnx("reload: socket changed: needs a restart; keeping %s",
		    conf->socket);
		memcpy(c->socket, conf->socket, sizeof(c->socket));
	}
	if (c->backend != conf->backend) {
		log_warnx("reload: backend changed: needs a restart");
		c->backend = conf->backend;
	}
	if (c->nice != conf->nice) {
		log_warnx("reload: nice changed: needs a restart; keeping %d",
		    conf->nice);
		c->nice = conf->nice;
	}
	old = conf;
	conf = c;
	if (!debug)
		log_set_debug(c->debug ? 1 : 0);
	control_set_groups(admin_gid(c), client_gid(c));
	limit_configure(c, kernel_mode ? -1 : mount_root_fd());
	if (kernel_mode)
		kernel_reconfigure(c);
	else {
		cull_reconfigure(c);
		store_set_access(c->volume_access);
	}
	freeze_reconfigure(c);
	metrics_file_reconfigure(c);
	/* every module copied what it uses out of c (none keeps the
	 * pointer), so the old one has no reader left */
	free(old);
	log_info("reload: %s in force", c->file);
	snprintf(why, whysz, "reloaded %.400s", c->file);
	return 0;
}

static int
handle_reload(struct ctl_req *rq)
{
	char why[512];
	int err = reload(why, sizeof(why));

	control_reply_str(rq, err < 0 ? PROTO_EINVAL : PROTO_OK, "%s", why);
	return 0;
}

/* STATUS: the daemon and the config in force. */
static void
main_status(struct ctl_kv *kv)
{
	char buf[64];

	ctl_kv_u64(kv, "larderd.pid", (uint64_t)getpid());
	ctl_kv_str(kv, "larderd.version", LARDER_VERSION);
	ctl_kv_str(kv, "larderd.state", state);
	ctl_kv_str(kv, "larderd.backend", kernel_mode ? "kernel" :
	    "userspace");
	ctl_kv_str(kv, "larderd.dir", conf->dir);
	ctl_kv_s64(kv, "larderd.uptime", (int64_t)(time(NULL) - started));
	ctl_kv_str(kv, "conf.file", conf->file);
	ctl_kv_str(kv, "conf.dir", conf->dir);
	ctl_kv_str(kv, "conf.tag", conf->tag);
	ctl_kv_str(kv, "conf.secctx", conf->secctx);
	snprintf(buf, sizeof(buf), "%u%% %u%% %u%%", conf->brun, conf->bcull,
	    conf->bstop);
	ctl_kv_str(kv, "conf.blocks", buf);
	snprintf(buf, sizeof(buf), "%u%% %u%% %u%%", conf->frun, conf->fcull,
	    conf->fstop);
	ctl_kv_str(kv, "conf.files", buf);
	ctl_kv_u64(kv, "conf.culltable", conf->culltable);
	ctl_kv_str(kv, "conf.cull_policy",
	    conf_cull_policy_str(conf->cull_policy));
	ctl_kv_u64(kv, "conf.nocull", conf->nocull || nocull_flag);
	ctl_kv_s64(kv, "conf.resume_blocks", conf->resume_blocks);
	ctl_kv_s64(kv, "conf.resume_files", conf->resume_files);
	ctl_kv_u64(kv, "conf.debug", conf->debug);
	ctl_kv_str(kv, "conf.socket", conf->socket);
	ctl_kv_str(kv, "conf.admin_group", conf->admin_group);
	ctl_kv_str(kv, "conf.client_group", conf->client_group);
	ctl_kv_str(kv, "conf.volume_access",
	    conf_access_str(conf->volume_access));
	ctl_kv_str(kv, "conf.freeze", conf_freeze_str(conf->freeze));
	ctl_kv_u64(kv, "conf.freeze_timeout", conf->freeze_timeout);
	ctl_kv_s64(kv, "conf.nice", conf->nice);
	ctl_kv_u64(kv, "conf.max_size", conf->max_size);
	ctl_kv_u64(kv, "conf.max_size_percent", conf->max_size_percent);
	ctl_kv_u64(kv, "conf.max_files", conf->max_files);
	ctl_kv_str(kv, "conf.backend", conf_backend_str(conf->backend));
}

/* ---- signals ------------------------------------------------------------- */

static void
stopped(void *arg, int err)
{
	(void)arg;
	if (stop_timer)
		loop_timer_cancel(stop_timer);
	stop_timer = NULL;
	if (err < 0)
		log_warnx("stop: flushing the cache: %s", strerror(-err));
	loop_stop();
}

static void
stop_timeout(void *arg)
{
	(void)arg;
	stop_timer = NULL;
	log_warnx("stop: the cache filesystem does not answer (frozen?) "
	    "after %d s: exiting without flushing", STOP_TIMEOUT_MS / 1000);
	stop_stuck = 1;
	loop_stop();
}

static void
begin_stop(void)
{
	if (stopping)
		return;
	stopping = 1;
	if (reexec || handover_fdstore_wanted()) {
		/* the socket stays (connects wait in its backlog), the
		 * fds go to the successor (handover.h) */
		handing_over = 1;
		control_hand_over();
	}
	state = reexec ? "re-executing" : "stopping";
	/* systemd: a re-exec keeps the main pid; its READY=1 ends the
	 * reload */
	sd_notify(reexec ? "RELOADING=1\nSTATUS=re-executing" :
	    "STOPPING=1\nSTATUS=stopping");
	log_info("%s", reexec ? "stopping to re-execute (SIGUSR2)" :
	    handing_over ? "stopping; handing the fds to systemd's fd store" :
	    "stopping");
	control_stop_accepting();
	if (kernel_mode) {
		loop_stop();
		return;
	}
	stop_timer = loop_timer_add(STOP_TIMEOUT_MS, stop_timeout, NULL);
	store_quiesce(0, stopped, NULL);
}

/* The signalfd is readable: SIGTERM/SIGINT stop, SIGUSR2 stops to
 * re-execute (if our path is known and no stop runs), SIGHUP reloads. */
static void
on_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;
	char why[512];

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_stop();
			break;
		case SIGUSR2:
			if (!exe[0]) {
				log_warnx("SIGUSR2: re-exec: larderd's own "
				    "path is unknown; ignored");
				break;
			}
			if (stopping) {
				log_warnx("SIGUSR2: stopping already; no "
				    "re-exec");
				break;
			}
			reexec = 1;
			begin_stop();
			break;
		case SIGHUP:
			log_info("SIGHUP: reloading %s", conf->file);
			if (reload(why, sizeof(why)) == 0)
				sd_notify("STATUS=running (config reloaded)");
			break;
		}
	}
}

/*
 * Raise the soft fd limit to the hard one. Every object a client holds
 * keeps an fd here, and so do a cull pass's directories; the soft limit
 * of 1024 is for programs that use select(), which larderd does not.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("setrlimit RLIMIT_NOFILE");
	else
		log_debug("fd limit raised to %llu",
		    (unsigned long long)rl.rlim_cur);
}

static int
signals_init(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!(sig_watch = loop_watch_add(fd, EPOLLIN, on_signal, NULL)))
		return -errno;
	sig_fd = fd;
	return 0;
}

/* ---- daemon -------------------------------------------------------------- */

static void
daemonise(void)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fatal("setsid");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		fatal("chdir /");
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (!to_stderr)
			dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static void
write_pidfile(void)
{
	FILE *f;

	if (!pidfile)
		return;
	f = fopen(pidfile, "we");
	if (!f)
		fatal("pidfile %s: cannot write it: check the directory "
		    "exists and is writable", pidfile);
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0)
		fatal("pidfile %s", pidfile);
	pidfile_written = 1;
}

/* Hand the fds on at a stop that hands over: to systemd's fd store, or
 * kept for the exec. Before any teardown closes them. */
static void
give_fds(void)
{
	int r;

	if (!handing_over)
		return;
	handover_begin(!reexec);
	handover_give(HO_CONTROL, control_listen_fd());
	if (kernel_mode)
		kernel_handover();
	mount_handover();
	if (!reexec && (r = handover_systemd_barrier()) < 0)
		log_warnx("handover: systemd did not confirm the fd store "
		    "(%s): the fds may be lost", strerror(-r));
}

/* larderd -R: SIGUSR2 to the larderd answering on the config's socket
 * (its pid from the socket's peer credentials). */
static int
signal_reexec(const char *file)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct errsink e = { .to_stdout = 1 };
	struct ucred cr;
	socklen_t len = sizeof(cr);
	const char *path;
	int fd;

	if (conf_parse(file, conf, conf_err, &e) < 0)
		return 1;
	path = conf->socket[0] ? conf->socket : DEFAULT_SOCKET;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "larderd: no larderd answers on %s: %s\n", path,
		    strerror(errno));
		return 5;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    cr.pid <= 0) {
		fprintf(stderr, "larderd: %s: no peer credentials\n", path);
		return 1;
	}
	close(fd);
	if (kill(cr.pid, SIGUSR2) < 0) {
		fprintf(stderr, "larderd: signal pid %ld: %s\n", (long)cr.pid,
		    strerror(errno));
		return 1;
	}
	printf("larderd pid %ld re-executes (SIGUSR2)\n", (long)cr.pid);
	return 0;
}

/* ---- the startup lists ---------------------------------------------------- */

/*
 * One step of startup (chrony's Initialise/Finalise, as a table): init
 * starts one module and returns 0, or -errno with the line to exit with in
 * why; fini undoes it. Either may be NULL. start_steps runs a list in
 * order; on a failure it runs the fini of the steps already done in
 * reverse, then exits 1 with the failed step's line. finish_steps runs
 * every fini of a list in reverse at the stop.
 */
struct step {
	const char *name;
	int (*init)(char *why, size_t whysz);
	void (*fini)(void);
};

static const char *conf_file;		/* the -f FILE in force, for messages */

static int
step_pidfile(char *why, size_t whysz)
{
	(void)why;
	(void)whysz;
	write_pidfile();	/* the first step: nothing to unwind */
	return 0;
}

static void
unlink_pidfile(void)
{
	/* a re-exec keeps the pid, so the file stays right */
	if (pidfile_written && !reexec)
		unlink(pidfile);
	pidfile_written = 0;
}

static int
step_loop(char *why, size_t whysz)
{
	int rc = loop_init();

	if (rc < 0)
		snprintf(why, whysz, "epoll: %s", strerror(-rc));
	return rc;
}

static int
step_signals(char *why, size_t whysz)
{
	int rc = signals_init();

	if (rc < 0) {
		snprintf(why, whysz, "signals: %s", strerror(-rc));
		return rc;
	}
	control_add_status(main_status);	/* first in STATUS */
	control_add_stats(hist_stats);
	control_register(PROTO_RELOAD, handle_reload, 1);
	return 0;
}

static void
signals_fini(void)
{
	loop_watch_del(sig_watch);
	sig_watch = NULL;
	if (sig_fd >= 0)
		close(sig_fd);
	sig_fd = -1;
}

/* The nice of the threads to come (prio.h): before any thread is made,
 * and before the capability drop (lowering it needs CAP_SYS_NICE). */
static int
step_priority(char *why, size_t whysz)
{
	(void)why;
	(void)whysz;
	prio_start(conf->nice);
	control_add_status(prio_status);
	return 0;
}

/* The control socket (the one handed over, if it checks out), or what to
 * do about it; the limits of the config. */
static int
step_control(char *why, size_t whysz)
{
	const char *path = conf->socket[0] ? conf->socket : DEFAULT_SOCKET;
	int rc, fd;

	if ((fd = handover_take(HO_CONTROL)) >= 0 &&
	    control_adopt(fd, path, admin_gid(conf), client_gid(conf)) == 0)
		rc = 0;
	else
		rc = control_open(path, admin_gid(conf), client_gid(conf));
	if (rc == -EADDRINUSE)
		snprintf(why, whysz, "socket %s: another larderd answers there: "
		    "stop it first, or set another `socket' in %s", path,
		    conf_file);
	else if (rc < 0)
		snprintf(why, whysz, "socket %s: %s: check its directory and "
		    "`socket' in %s", path, strerror(-rc), conf_file);
	if (rc < 0)
		return rc;
	limit_configure(conf, kernel_mode ? -1 : mount_root_fd());
	return 0;
}

/* Drop every capability the configuration does not need; before any
 * thread starts, since capabilities are per thread (caps.h). */
static int
drop_caps(unsigned flags, char *why, size_t whysz)
{
	char err[256];
	int rc;

	if ((rc = caps_drop(conf, flags, err, sizeof(err))) < 0) {
		snprintf(why, whysz, "capabilities: %s", err);
		return rc;
	}
	control_add_status(caps_status);
	return 0;
}

static int
step_caps(char *why, size_t whysz)
{
	/* the last privileged step is behind us, and no thread runs yet */
	return drop_caps(0, why, whysz);
}

static int
step_caps_kernel(char *why, size_t whysz)
{
	/*
	 * Before the bind and before any thread: the kernel copies
	 * larderd's credentials at bind (and at every re-bind after a
	 * freeze) and does all cache I/O with them, on objects it creates
	 * mode 0000, so it gets CAP_DAC_OVERRIDE and CAP_SYS_ADMIN and
	 * nothing else (cachefilesd keeps all).
	 */
	return drop_caps(CAPS_KERNEL_MODE, why, whysz);
}

static int
step_mount(char *why, size_t whysz)
{
	int rc = mount_open(conf->dir, 0, why, whysz);

	if (rc == 0)
		control_add_status(mount_status);
	return rc;
}

/* The private mount the kernel is bound on: attached at a private path,
 * atime kept (kernel.h), and claimed. */
static int
step_mount_kernel(char *why, size_t whysz)
{
	char err[512];
	int rc;

	err[0] = '\0';
	snprintf(why, whysz, "kernel mode: cannot start (see above)");
	rc = mount_open(conf->dir, MOUNT_ATTACH_PRIVATE | MOUNT_KEEP_ATIME,
	    err, sizeof(err));
	if (rc < 0) {
		log_warnx("%s: %s", conf->dir, err[0] ? err : strerror(-rc));
		return rc;
	}
	if (!mount_claimed() && (rc = mount_claim()) < 0) {
		log_warnx("%s: cannot take the write claim: %s", conf->dir,
		    strerror(-rc));
		return rc;
	}
	return 0;
}

/* The line a failed step of the store's exits with: the one store_init
 * gave when it started index, io and meta itself. rc passes through. */
static int
store_failed(int rc, char *why, size_t whysz)
{
	if (rc < 0)
		snprintf(why, whysz, "store %s: %s: check the cache directory",
		    conf->dir, strerror(-rc));
	return rc;
}

static int
step_index(char *why, size_t whysz)
{
	return store_failed(index_init(), why, whysz);
}

static int
step_index_kernel(char *why, size_t whysz)
{
	int rc = index_init();

	if (rc < 0) {
		log_warnx("kernel: index: %s", strerror(-rc));
		snprintf(why, whysz, "kernel mode: cannot start (see above)");
	}
	return rc;
}

static int
step_io(char *why, size_t whysz)
{
	return store_failed(io_init(), why, whysz);
}

static int
step_store(char *why, size_t whysz)
{
	return store_failed(store_init(conf, mount_root_fd()), why, whysz);
}

static int
step_meta(char *why, size_t whysz)
{
	int cachefd, stagefd;

	store_dirs(&cachefd, &stagefd);
	return store_failed(meta_init(cachefd, stagefd), why, whysz);
}

static int
step_scan(char *why, size_t whysz)
{
	int rc;

	(void)why;
	(void)whysz;
	/* the index fills in the background; clients are served meanwhile.
	 * Nameless (names.h): the store names what it opens, the culler
	 * and the listing find other names by readdir on a worker */
	if ((rc = scan_start(mount_root_fd(), SCAN_NAMELESS,
	    store_scan_done, NULL)) < 0)
		log_warnx("store: cannot scan the cache: %s; it starts "
		    "unindexed", strerror(-rc));
	return 0;
}

static int
step_cull(char *why, size_t whysz)
{
	int rc = cull_init(conf, mount_root_fd(), nocull_flag || conf->nocull,
	    NULL);

	if (rc < 0)
		snprintf(why, whysz, "cull %s: %s", conf->dir, strerror(-rc));
	return rc;
}

/* At the stop: drop every peer (what they hold is released while the
 * store still runs); then, if the cache fs never answered the quiesce,
 * exit at once. */
static void
peers_fini(void)
{
	control_close();
	if (stop_stuck) {
		/* threads sit in calls a frozen filesystem holds: joining
		 * them would hang; nothing on disk claims unwritten data */
		if (pidfile_written)
			unlink(pidfile);
		log_info("stopped (cache filesystem stuck)");
		_exit(0);
	}
}

static int
step_freeze(char *why, size_t whysz)
{
	int rc = freeze_init(conf);

	if (rc < 0)
		snprintf(why, whysz, "freeze: %s", strerror(-rc));
	return rc;
}

static int
step_monitor(char *why, size_t whysz)
{
	(void)why;
	(void)whysz;
	if (mount_monitor_start() < 0)
		log_warnx("mount: cannot watch the mount table; remounts "
		    "will not be logged");
	return 0;
}

static int
step_kernel_device(char *why, size_t whysz)
{
	int rc = kernel_open();

	if (rc < 0)
		snprintf(why, whysz, "kernel mode: cannot start (see above)");
	return rc;
}

static int
step_kernel(char *why, size_t whysz)
{
	int rc = kernel_start(conf, nocull_flag || conf->nocull ?
	    KERNEL_NOCULL : 0);

	if (rc < 0)
		snprintf(why, whysz, "kernel mode: cannot start (see above)");
	return rc;
}

static void
timers_fini(void)
{
	if (watchdog_timer)
		loop_timer_cancel(watchdog_timer);
	if (stop_timer)
		loop_timer_cancel(stop_timer);
	watchdog_timer = stop_timer = NULL;
}

/* What the larderd before us handed over and nobody adopted is closed
 * now; at the stop, the fds go to the successor (give_fds). */
static int
step_handover(char *why, size_t whysz)
{
	(void)why;
	(void)whysz;
	handover_finish();
	return 0;
}

static int
step_metrics(char *why, size_t whysz)
{
	(void)why;
	(void)whysz;
	if (kernel_mode)
		metrics_file_volume_counters(0);	/* the kernel serves */
	metrics_file_start(conf);
	return 0;
}

/* userspace mode: larderd is the store */
static const struct step user_steps[] = {
	{ "pidfile", step_pidfile, unlink_pidfile },
	{ "loop", step_loop, loop_fini },
	{ "signals", step_signals, signals_fini },
	{ "priority", step_priority, NULL },
	{ "mount", step_mount, mount_close },
	{ "control", step_control, control_close },
	{ "caps", step_caps, NULL },
	{ "index", step_index, index_fini },
	{ "io", step_io, io_fini },
	/* store_fini stops scan, meta, io and the index itself, in the order
	 * its drain needs (store.h): it evicts its idle objects while meta
	 * still runs (their atimes go to disk through it), then stops scan and
	 * meta, flushes its closes through io, then stops io. So meta and
	 * scan have no fini here (theirs would run first, in reverse), and
	 * io_fini and index_fini after it are no-ops but for a failed start */
	{ "store", step_store, store_fini },
	{ "meta", step_meta, NULL },
	{ "scan", step_scan, NULL },
	{ "cull", step_cull, cull_fini },
	{ "peers", NULL, peers_fini },
	{ "freeze", step_freeze, freeze_fini },
	{ "monitor", step_monitor, NULL },	/* mount_close stops it */
	{ "timers", NULL, timers_fini },
	{ "handover", step_handover, give_fds },
	{ "metrics", step_metrics, metrics_file_stop },
};

/* kernel mode: the kernel is the store (kernel.h) */
static const struct step kernel_steps[] = {
	{ "pidfile", step_pidfile, unlink_pidfile },
	{ "loop", step_loop, loop_fini },
	{ "signals", step_signals, signals_fini },
	{ "priority", step_priority, NULL },
	{ "control", step_control, control_close },
	{ "caps", step_caps_kernel, NULL },
	{ "freeze", step_freeze, freeze_fini },
	/* the device before the mount: EBUSY (cachefilesd runs) is the
	 * usual failure; kernel_stop closes it, after the step below */
	{ "device", step_kernel_device, kernel_stop },
	{ "mount", step_mount_kernel, mount_close },
	{ "index", step_index_kernel, index_fini },
	{ "kernel", step_kernel, kernel_stop },
	{ "timers", NULL, timers_fini },
	{ "handover", step_handover, give_fds },
	{ "metrics", step_metrics, metrics_file_stop },
};

#define NSTEPS(a)	(sizeof(a) / sizeof((a)[0]))

/* Run the fini of steps[0..n) in reverse. */
static void
finish_steps(const struct step *steps, size_t n)
{
	while (n-- > 0)
		if (steps[n].fini) {
			log_debug("stop: %s", steps[n].name);
			steps[n].fini();
		}
}

/* Run steps in order; on a failure unwind the ones done and exit 1 with
 * the failed step's line. */
static void
start_steps(const struct step *steps, size_t n)
{
	char why[3 * PATH_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!steps[i].init)
			continue;
		log_debug("start: %s", steps[i].name);
		why[0] = '\0';
		if (steps[i].init(why, sizeof(why)) < 0) {
			finish_steps(steps, i);
			fatalx("%s", why[0] ? why : steps[i].name);
		}
	}
}

/* ---- main ------------------------------------------------------------------- */

/* Parse the flags into the globals; *file gets -f's. -1 to go on, else
 * the exit code (-v, -h, a usage error). */
static int
parse_flags(int argc, char **argv, const char **file, int *test,
    int *signal_r)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "dsnNf:p:tRvh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd': debug++; break;
		case 's': to_stderr = 1; break;
		case 'n': foreground = 1; break;
		case 'N': nocull_flag = 1; break;
		case 'f': *file = optarg; break;
		case 'p': pidfile = optarg; break;
		case 't': *test = 1; break;
		case 'R': *signal_r = 1; break;
		case 'v':
			printf("larderd %s\n", LARDER_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* larderd -t: parse and check what a start would check; the exit code. */
static int
test_config(const char *file)
{
	struct errsink e = { .to_stdout = 1 };

	if (conf_parse(file, conf, conf_err, &e) < 0)
		return 1;
	if (check_start(conf, file) > 0)
		return 1;
	printf("configuration OK\n");
	return 0;
}

/*
 * Everything before the lists: the log, what a larderd before us handed
 * over, our own path (for a re-exec), the config and the cache dir's
 * checks, the mode, the fd limit, and daemonising. Exits 1 with the
 * reason on a bad config or cache dir.
 */
static void
prepare(const char *file)
{
	struct errsink e = { 0 };
	char err[3 * PATH_MAX];
	ssize_t n;

	if (getenv("NOTIFY_SOCKET") != NULL)
		foreground = to_stderr = 1;	/* journald reads stderr */
	/* as cachefilesd: stderr with -s (or systemd), else syslog */
	log_init("larderd", to_stderr, debug);
	/* what a larderd before us handed over (each adopter checks its
	 * own; the rest is closed at handover_finish) */
	(void)handover_collect();
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0 &&
	    exe[0] == '/' && !strstr(exe, " (deleted)"))
		exe[n] = '\0';
	else
		exe[0] = '\0';
	if (conf_parse(file, conf, conf_err, &e) < 0)
		fatalx("config %s: %d error%s: fix %s and start again", file,
		    e.count, e.count == 1 ? "" : "s", e.count > 1 ? "them" :
		    "it");
	if (!debug && conf->debug)
		log_set_debug(1);
	if (beneath_fallback())
		log_info("openat2 is refused here (a seccomp filter, or a "
		    "kernel before 5.6): paths in the cache are resolved one "
		    "openat at a time, with the same checks");
	if (!conf->dir[0])
		fatalx("config %s: no dir line: add `dir /path/to/cache'",
		    file);
	if (check_cache_dir(conf->dir, err, sizeof(err)) < 0)
		fatalx("%s", err);
	kernel_mode = conf->backend == CONF_BACKEND_KERNEL ||
	    (conf->backend == CONF_BACKEND_AUTO && kernel_available());
	started = time(NULL);
	raise_nofile();
	if (!foreground) {
		/* re-executed: we are the daemon already (same pid) */
		if (!handover_source() ||
		    strcmp(handover_source(), "re-exec") != 0)
			daemonise();
		if (!to_stderr)
			log_to_syslog();
		if (!pidfile)
			pidfile = DEFAULT_PIDFILE;
	}
}

/* Serve until a stop; the loop's result. */
static int
serve(void)
{
	int rc;

	state = "running";
	if (!kernel_mode)
		log_info("larderd %s: serving %s on %s", LARDER_VERSION,
		    conf->dir, conf->socket);
	sd_notify(kernel_mode ? "READY=1\nSTATUS=running (kernel mode)" :
	    "READY=1\nSTATUS=running");
	watchdog_start();
	rc = loop_run();
	if (rc < 0)
		log_warnx("main loop: %s", strerror(-rc));
	return rc;
}

/* After the stop: exec the new binary (same pid, same argv, the fds in
 * LARDER_FDS: handover.h; signals unblocked for it). Returns only if the
 * exec failed. */
static int
reexec_self(char **argv)
{
	sigset_t set;

	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	(void)handover_exec(exe, argv);
	log_warnx("stopped: the re-exec failed; the cache is given back");
	return 1;
}

/* Flags, the config, then the mode's list of steps, the loop, and the
 * list in reverse; a re-exec at the end if SIGUSR2 asked for one. */
int
main(int argc, char **argv)
{
	const struct step *steps;
	const char *file = NULL;
	char abspath[PATH_MAX];
	int rc, test = 0, signal_r = 0;
	size_t n;

	if ((rc = parse_flags(argc, argv, &file, &test, &signal_r)) >= 0)
		return rc;
	if (!file)
		file = default_conf();
	/* reloads happen after the chdir("/") of daemonising */
	if (realpath(file, abspath))
		file = abspath;
	conf_file = file;
	conf = malloc(sizeof(*conf));
	if (!conf) {
		fprintf(stderr, "larderd: out of memory\n");
		return 1;
	}
	if (signal_r)
		return signal_reexec(file);
	if (test)
		return test_config(file);
	prepare(file);
	steps = kernel_mode ? kernel_steps : user_steps;
	n = kernel_mode ? NSTEPS(kernel_steps) : NSTEPS(user_steps);
	start_steps(steps, n);
	rc = serve();
	finish_steps(steps, n);
	free(conf);
	if (reexec)
		return reexec_self(argv);
	log_info("stopped");
	return rc < 0 ? 1 : 0;
}
