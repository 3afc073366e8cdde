/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prio.c: the nice value of larderd's threads (prio.h says which run at
 * which). Why a boost: bench-freeze.sh (64 clients filling at once on a
 * 2-CPU machine, kernel 6.18) found larderd's io-uring worker runnable
 * for 20-50 ms before each 1 MiB write it made, since it shared the CPUs
 * equally with 64 busy clients; a freeze then waited a median 242 ms for
 * the write in flight. At nice -10 (about 9 times the weight of a nice 0
 * thread) the same wait was 6 ms (tests/bench/README.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "control.h"
#include "log.h"
#include "prio.h"

static struct {
	int started;		/* the nice larderd was started with */
	int serving;		/* the main thread's, after prio_start */
	int background;		/* what background threads take */
} prio;

/* The calling thread's nice value (Linux: per thread), or fallback. */
static int
thread_nice(int fallback)
{
	int n;

	errno = 0;
	n = getpriority(PRIO_PROCESS, 0);
	return n == -1 && errno ? fallback : n;
}

/* The nice of the first image, across a re-exec (prio_export_env): a
 * number from -20 to 19, else -1000. */
static int
env_started(void)
{
	const char *e = getenv(PRIO_ENV);
	char *end;
	long v;

	if (e == NULL)
		return -1000;
	errno = 0;
	v = strtol(e, &end, 10);
	unsetenv(PRIO_ENV);
	return errno || end == e || *end || v < -20 || v > 19 ? -1000 : (int)v;
}

void
prio_start(int nice)
{
	int e = env_started();

	prio.started = prio.serving = thread_nice(0);
	if (e != -1000)
		prio.started = e;	/* a re-exec: the thread kept its nice */
	if (nice != prio.started) {
		if (setpriority(PRIO_PROCESS, 0, nice) == 0)
			prio.serving = nice;
		else
			log_warnx("nice %d not applied (%s): larderd runs at "
			    "nice %d. Give it CAP_SYS_NICE (or an RLIMIT_NICE "
			    "that allows it), or under systemd set Nice=%d in "
			    "the unit (systemctl edit larderd)", nice,
			    strerror(errno), prio.started, nice);
	}
	prio.background = prio.serving > prio.started ? prio.serving :
	    prio.started;
}

void
prio_export_env(void)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", prio.started);
	(void)setenv(PRIO_ENV, v, 1);
}

void
prio_background(void)
{
	if (thread_nice(prio.background) != prio.background)
		(void)setpriority(PRIO_PROCESS, 0, prio.background);
}

void
prio_status(struct ctl_kv *kv)
{
	ctl_kv_s64(kv, "nice.serving", prio.serving);
	ctl_kv_s64(kv, "nice.background", prio.background);
	ctl_kv_s64(kv, "nice.started", prio.started);
}
