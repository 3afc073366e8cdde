/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.c: stderr or syslog logging with levels and rate limiting.
 *
 * Threads: any thread may log, and nothing here takes a lock (DESIGN.md:
 * no I/O under a lock). A line is formatted into a buffer on the caller's
 * stack and leaves in one writev(2) on stderr, so lines from different
 * threads do not interleave: a pipe takes a write of up to PIPE_BUF
 * (4096) bytes whole, and a line here is at most LOG_LINE_MAX + the
 * ident; a file opened O_APPEND (the system tests' logs) and journald's
 * unix stream socket take such a write in one piece too (check_log tests
 * the pipe and the socket). syslog(3) builds and sends each message in
 * one call itself. The rate limiter's
 * state and the debug level (set again on reload) are atomic. log_init
 * and log_to_syslog are for the main thread at startup, before it starts
 * any other thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define RATELIMIT_SECONDS 60
#define LOG_LINE_MAX 1024	/* message and ": strerror", with its NUL */

/* + 64: the ident ("larderd"), ": " and the newline */
_Static_assert(LOG_LINE_MAX + 64 <= PIPE_BUF,
    "a log line must fit one atomic pipe write");

static const char *log_ident = "larderd";
static int log_stderr = 1;
static _Atomic int log_debug_level;

void
log_init(const char *ident, int to_stderr, int debug)
{
	log_ident = ident;
	log_stderr = to_stderr;
	atomic_store_explicit(&log_debug_level, debug, memory_order_relaxed);
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_to_syslog(void)
{
	if (log_stderr) {
		log_stderr = 0;
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void
log_set_debug(int debug)
{
	atomic_store_explicit(&log_debug_level, debug, memory_order_relaxed);
}

int
log_get_debug(void)
{
	return atomic_load_explicit(&log_debug_level, memory_order_relaxed);
}

/*
 * Write "ident: msg\n" to stderr in one writev, the way the stdio version
 * did under a lock: no lock now, the single call keeps the line whole.
 * A short write (a full disk behind a redirected stderr, a signal) is
 * finished with further writes; EINTR retries; other errors are dropped,
 * there is nowhere left to report them.
 */
static void
emit_stderr(const char *msg)
{
	struct iovec iov[4] = {
		{ .iov_base = (void *)log_ident, .iov_len = strlen(log_ident) },
		{ .iov_base = (void *)": ", .iov_len = 2 },
		{ .iov_base = (void *)msg, .iov_len = strlen(msg) },
		{ .iov_base = (void *)"\n", .iov_len = 1 },
	};
	struct iovec *v = iov;
	int cnt = 4;
	ssize_t n;

	while (cnt > 0) {
		n = writev(STDERR_FILENO, v, cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		while (cnt > 0 && (size_t)n >= v->iov_len) {
			n -= v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= n;
		}
	}
}

/* Emit one line; err >= 0 appends ": strerror(err)". Keeps errno. */
static void
vlog(int pri, int err, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (err >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	if (log_stderr)
		emit_stderr(msg);
	else
		syslog(pri, "%s", msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, -1, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, -1, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_get_debug() < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, -1, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, -1, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * The limiter without a lock: the caller that moves rl->last forward
 * (compare-and-swap) prints and collects the suppressed count; every
 * other caller in the interval adds one to it. Each suppressed call is
 * counted exactly once: in the next line that gets through, or, when it
 * lost the race for an interval's start, possibly in the winner's line.
 */
void
log_warnx_rl(struct log_ratelimit *rl, const char *fmt, ...)
{
	struct timespec ts;
	unsigned long suppressed;
	long long now, last;
	char msg[900];
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec ? ts.tv_sec : 1;
	last = atomic_load(&rl->last);
	if ((last && now - last < RATELIMIT_SECONDS) ||
	    !atomic_compare_exchange_strong(&rl->last, &last, now)) {
		atomic_fetch_add(&rl->suppressed, 1);
		return;
	}
	suppressed = atomic_exchange(&rl->suppressed, 0);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (suppressed)
		log_warnx("%s (%lu similar messages suppressed)", msg, suppressed);
	else
		log_warnx("%s", msg);
}
