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

void
prio_start(int nice)
{
	prio.started = prio.serving = thread_nice(0);
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
