/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log.h: the daemon's only way to say things (stderr or syslog). */
#ifndef LARDER_LOG_H
#define LARDER_LOG_H

#include <stdarg.h>

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

/* to_stderr: 1 stderr (foreground, systemd), 0 syslog (daemonised).
 * debug: 0 quiet, 1.. more with each -d. */
void log_init(const char *ident, int to_stderr, int debug);
void log_set_debug(int debug);
int log_get_debug(void);
void log_to_syslog(void);

void log_warn(const char *fmt, ...) LOG_FMT(1, 2);	/* appends strerror(errno) */
void log_warnx(const char *fmt, ...) LOG_FMT(1, 2);
void log_info(const char *fmt, ...) LOG_FMT(1, 2);
void log_debug(const char *fmt, ...) LOG_FMT(1, 2);	/* only with -d */
void fatal(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));

/*
 * Rate-limited warning: at most one line per struct per 60 seconds; the
 * rest are counted and the count is reported with the next line that gets
 * through. Pass a static (zeroed) struct per call site; any thread may
 * share it: the fields are atomic and no lock is taken.
 */
struct log_ratelimit {
	_Atomic long long last;		/* monotonic seconds of the last line */
	_Atomic unsigned long suppressed;
};
void log_warnx_rl(struct log_ratelimit *rl, const char *fmt, ...) LOG_FMT(2, 3);

#endif
