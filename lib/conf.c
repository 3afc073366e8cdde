/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conf.c: the cachefilesd.conf-compatible parser (larder.conf(5)).
 *
 * A file is read line by line into a fixed buffer (no line is ever longer
 * than CONF_MAX_LINE), each line is split into a keyword and its
 * arguments, the keyword is found in a sorted table and its handler checks
 * and stores the value. Checks that need the whole file (dir present,
 * stop < cull < run) run after the last line, so line order never matters.
 * Every error is reported and parsing goes on; the result is -EINVAL if
 * there was any. No global state, no I/O but reading the file, no output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "conf.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_ARGS	4	/* more words than any keyword takes */
#define QUOTE_MAX	48	/* longest value quoted in a message */

struct parser;
struct keyword;

enum argkind {
	ARG_NONE,	/* no argument (nocull) */
	ARG_WORDS,	/* blank-separated words; a word starting '#' ends them */
	ARG_REST,	/* the rest of the line, '#' included (paths, labels) */
	ARG_REFUSED,	/* not allowed in a configuration file */
};

typedef void kw_fn(struct parser *, const struct keyword *, char **, int);

struct keyword {
	const char	*name;
	enum argkind	 kind;
	int		 nargs;		/* ARG_WORDS: exactly this many */
	int		 once;		/* a repeat is an error, not a warning */
	const char	*usage;		/* the argument, for messages */
	kw_fn		*fn;
	size_t		 off;		/* where in struct conf, for shared fns */
	size_t		 loc;		/* its struct conf_loc, or 0 */
};

struct parser {
	const char	*name;		/* the file name, for messages */
	struct conf	*c;
	conf_error_fn	*err;
	void		*arg;
	unsigned	 lineno;	/* the line being parsed */
	unsigned	 nerr;
	/* the line being assembled */
	size_t		 len;
	size_t		 nul_at;	/* 1-based column of the first NUL, 0 none */
	int		 overflow;	/* more than CONF_MAX_LINE bytes */
	int		 first;		/* at the very start of the input */
	char		 line[CONF_MAX_LINE + 1];
};

static kw_fn set_string, set_threshold, set_culltable, set_nocull,
    set_resume, set_debug, set_socket, set_admin_group, set_freeze,
    set_freeze_timeout, set_max_size, set_max_files, set_backend,
    set_cull_policy, set_metrics_file, set_metrics_interval, set_limit,
    set_uid_max_pinned, set_nice, refused;
static kw_fn set_client_group, set_volume_access;

#define OFF(f)	offsetof(struct conf, f)

/* Sorted by name (strcmp): found with bsearch. check_conf tests the order. */
static const struct keyword keywords[] = {
	{ "admin_connections", ARG_WORDS, 1, 0, "N (0 to 256)", set_limit,
	    OFF(admin_connections), 0 },
	{ "admin_group", ARG_WORDS, 1, 0, "GROUP", set_admin_group, 0, 0 },
	{ "backend", ARG_WORDS, 1, 0, "userspace|kernel|auto", set_backend,
	    0, 0 },
	{ "bcull", ARG_WORDS, 1, 0, "N%", set_threshold, OFF(bcull),
	    OFF(loc_bcull) },
	{ "bind", ARG_REFUSED, 0, 0,
	    "the daemon binds the cache itself after reading the file",
	    refused, 0, 0 },
	{ "brun", ARG_WORDS, 1, 0, "N%", set_threshold, OFF(brun),
	    OFF(loc_brun) },
	{ "bstop", ARG_WORDS, 1, 0, "N%", set_threshold, OFF(bstop),
	    OFF(loc_bstop) },
	{ "client_group", ARG_WORDS, 1, 0, "GROUP", set_client_group, 0, 0 },
	{ "cull", ARG_REFUSED, 0, 0,
	    "it is a run-time command of /dev/cachefiles, not a setting",
	    refused, 0, 0 },
	{ "cull_policy", ARG_WORDS, 1, 0, "s3|lru", set_cull_policy, 0, 0 },
	{ "culltable", ARG_WORDS, 1, 0, "LOG2SIZE (12 to 20)", set_culltable,
	    0, 0 },
	{ "debug", ARG_WORDS, 1, 0, "MASK", set_debug, 0, 0 },
	{ "dir", ARG_REST, 0, 1, "PATH", set_string, OFF(dir), OFF(loc_dir) },
	{ "fcull", ARG_WORDS, 1, 0, "N%", set_threshold, OFF(fcull),
	    OFF(loc_fcull) },
	{ "freeze", ARG_WORDS, 1, 0, "refuse|defer", set_freeze, 0, 0 },
	{ "freeze_timeout", ARG_WORDS, 1, 0, "SECONDS (1 to 86400)",
	    set_freeze_timeout, 0, 0 },
	{ "frun", ARG_WORDS, 1, 0, "N%", set_threshold, OFF(frun),
	    OFF(loc_frun) },
	{ "fstop", ARG_WORDS, 1, 0, "N%", set_threshold, OFF(fstop),
	    OFF(loc_fstop) },
	{ "idle_timeout", ARG_WORDS, 1, 0, "SECONDS (0 to 86400)", set_limit,
	    OFF(idle_timeout), 0 },
	{ "inuse", ARG_REFUSED, 0, 0,
	    "it is a run-time command of /dev/cachefiles, not a setting",
	    refused, 0, 0 },
	{ "max_files", ARG_WORDS, 1, 0, "N", set_max_files, 0, 0 },
	{ "max_size", ARG_WORDS, 1, 0, "SIZE[K|M|G|T] or N%", set_max_size,
	    0, 0 },
	{ "metrics_file", ARG_REST, 0, 0, "PATH", set_metrics_file, 0, 0 },
	{ "metrics_interval", ARG_WORDS, 1, 0, "SECONDS (1 to 3600)",
	    set_metrics_interval, 0, 0 },
	{ "nice", ARG_WORDS, 1, 0, "N (-20 to 19)", set_nice, 0, 0 },
	{ "nocull", ARG_NONE, 0, 0, "", set_nocull, 0, 0 },
	{ "resume_thresholds", ARG_WORDS, 2, 0, "BLOCKS|- FILES|-",
	    set_resume, 0, 0 },
	{ "secctx", ARG_REST, 0, 0, "LABEL", set_string, OFF(secctx), 0 },
	{ "socket", ARG_REST, 0, 0, "PATH", set_socket, 0, 0 },
	{ "tag", ARG_REST, 0, 0, "NAME", set_string, OFF(tag), 0 },
	{ "uid_max_connections", ARG_WORDS, 1, 0, "N (1 to 65536)", set_limit,
	    OFF(uid_max_connections), 0 },
	{ "uid_max_cookies", ARG_WORDS, 1, 0, "N (1 to 1048576)", set_limit,
	    OFF(uid_max_cookies), 0 },
	{ "uid_max_pinned", ARG_WORDS, 1, 0, "SIZE[K|M|G|T] or N%",
	    set_uid_max_pinned, 0, 0 },
	{ "uid_max_volumes", ARG_WORDS, 1, 0, "N (1 to 65535)", set_limit,
	    OFF(uid_max_volumes), 0 },
	{ "volume_access", ARG_WORDS, 1, 0, "none|read|fill",
	    set_volume_access, 0, 0 },
};

#define NKEYWORDS	NELEM(keywords)

/* larder's own keywords: cachefilesd has none of them */
static const char *const larder_keywords[] = {
	"admin_group", "backend", "cull_policy", "freeze", "freeze_timeout",
	"max_files", "max_size", "metrics_file", "metrics_interval", "socket",
	"admin_connections", "idle_timeout", "uid_max_connections",
	"uid_max_cookies", "uid_max_pinned", "uid_max_volumes",
	"client_group", "volume_access",	/* the access model */
	"nice",
};

static const char *const freeze_names[] = {
	[CONF_FREEZE_DEFER] = "defer",
	[CONF_FREEZE_REFUSE] = "refuse",
};

static const char *const backend_names[] = {
	[CONF_BACKEND_USERSPACE] = "userspace",
	[CONF_BACKEND_KERNEL] = "kernel",
	[CONF_BACKEND_AUTO] = "auto",
};

static const char *const access_names[] = {
	[CONF_ACCESS_NONE] = "none",
	[CONF_ACCESS_READ] = "read",
	[CONF_ACCESS_FILL] = "fill",
};

const char *
conf_access_str(enum conf_access a)
{
	if ((unsigned)a < NELEM(access_names) && access_names[a])
		return access_names[a];
	return "unknown";
}

static const char *const cull_policy_names[] = {
	[CONF_CULL_S3] = "s3",
	[CONF_CULL_LRU] = "lru",
};

const char *
conf_cull_policy_str(enum conf_cull_policy p)
{
	if ((unsigned)p < NELEM(cull_policy_names) && cull_policy_names[p])
		return cull_policy_names[p];
	return "unknown";
}

const char *
conf_freeze_str(enum conf_freeze f)
{
	if ((unsigned)f < NELEM(freeze_names) && freeze_names[f])
		return freeze_names[f];
	return "unknown";
}

const char *
conf_backend_str(enum conf_backend b)
{
	if ((unsigned)b < NELEM(backend_names) && backend_names[b])
		return backend_names[b];
	return "unknown";
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->tag, "CacheFiles");
	c->brun = c->frun = CONF_DEFAULT_RUN;
	c->bcull = c->fcull = CONF_DEFAULT_CULL;
	c->bstop = c->fstop = CONF_DEFAULT_STOP;
	c->culltable = CONF_DEFAULT_CULLTABLE;
	c->resume_blocks = -1;
	c->resume_files = CONF_DEFAULT_RESUME_FILES;
#ifdef DEFAULT_SOCKET
	if (strlen(DEFAULT_SOCKET) < sizeof(c->socket))
		strcpy(c->socket, DEFAULT_SOCKET);
#endif
	c->freeze = CONF_FREEZE_DEFER;
	c->freeze_timeout = CONF_DEFAULT_FREEZE_TIMEOUT;
	c->nice = CONF_DEFAULT_NICE;
	c->backend = CONF_BACKEND_USERSPACE;
	c->metrics_interval = CONF_DEFAULT_METRICS_INTERVAL;
	c->admin_connections = CONF_DEFAULT_ADMIN_CONNECTIONS;
	c->idle_timeout = CONF_DEFAULT_IDLE_TIMEOUT;
	c->uid_max_connections = CONF_DEFAULT_UID_CONNECTIONS;
	c->uid_max_cookies = CONF_DEFAULT_UID_COOKIES;
	c->uid_max_volumes = CONF_DEFAULT_UID_VOLUMES;
	c->uid_max_pinned_percent = CONF_DEFAULT_UID_PINNED_PERCENT;
	c->volume_access = CONF_ACCESS_NONE;
}

/* Parse a run of decimal digits up to end; -EINVAL or -ERANGE. */
static int
parse_digits(const char *s, const char *end, unsigned long long *out)
{
	unsigned long long v = 0;
	unsigned d;

	if (s == end)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = *s - '0';
		if (v > (~0ULL - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
conf_parse_uint(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_digits(s, s + strlen(s), &v);
	if (r < 0)
		return r;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
conf_parse_percent(const char *s, unsigned *out)
{
	unsigned long long v;
	size_t n;
	int r;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n < 2 || s[n - 1] != '%')
		return -EINVAL;
	r = parse_digits(s, s + n - 1, &v);
	if (r < 0)
		return r;
	if (v > 100)
		return -ERANGE;
	*out = v;
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	size_t n;
	int r;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0)
		return -EINVAL;
	switch (s[n - 1]) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	}
	if (shift)
		n--;
	r = parse_digits(s, s + n, &v);
	if (r < 0)
		return r;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Parse a number in C notation (0x hex, 0 octal, else decimal). */
static int
parse_cnum(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	unsigned base = 10, d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return -EINVAL;
	} else if (s[0] == '0' && s[1]) {
		base = 8;
		s++;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (v > (~0ULL - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Report one message; a warning does not count as an error. */
static void __attribute__((format(printf, 4, 5)))
report(struct parser *p, int warn, unsigned line, const char *fmt, ...)
{
	char reason[1024], msg[PATH_MAX + sizeof(reason) + 64];
	va_list ap;

	if (!warn)
		p->nerr++;
	if (!p->err)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(msg, sizeof(msg), "%s%s:%u: %s",
		    warn ? CONF_WARNING_PREFIX : "", p->name, line, reason);
	else
		snprintf(msg, sizeof(msg), "%s%s: %s",
		    warn ? CONF_WARNING_PREFIX : "", p->name, reason);
	p->err(p->arg, msg);
}

#define lerror(p, ...)	report((p), 0, (p)->lineno, __VA_ARGS__)
#define lwarn(p, ...)	report((p), 1, (p)->lineno, __VA_ARGS__)

/* Copy s for a message, cut to QUOTE_MAX bytes with "..." (buf: 64). */
static const char *
quote(char *buf, const char *s)
{
	size_t n = strlen(s);

	if (n <= QUOTE_MAX)
		return s;
	memcpy(buf, s, QUOTE_MAX);
	strcpy(buf + QUOTE_MAX, "...");
	return buf;
}

/* Say what is wrong with a number, by the helper's error. */
static void
bad_number(struct parser *p, const struct keyword *k, const char *v, int r,
    const char *range)
{
	char q[64];

	if (r == -ERANGE)
		lerror(p, "%s: '%s' is out of range (%s)", k->name,
		    quote(q, v), range);
	else
		lerror(p, "%s: '%s' is not a valid value (expected: %s %s)",
		    k->name, quote(q, v), k->name, k->usage);
}

/* dir, tag and secctx: the rest of the line, into a fixed buffer. */
static void
set_string(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	char *dst = (char *)p->c + k->off;
	size_t size, n = strlen(argv[0]);

	(void)argc;
	if (k->off == OFF(dir))
		size = sizeof(p->c->dir);
	else if (k->off == OFF(tag))
		size = sizeof(p->c->tag);
	else
		size = sizeof(p->c->secctx);
	if (n >= size) {
		lerror(p, "%s: value is too long (%zu bytes, at most %zu)",
		    k->name, n, size - 1);
		return;
	}
	if (k->off == OFF(dir) && argv[0][0] != '/') {
		char q[64];

		lerror(p, "dir: '%s' is not an absolute path", quote(q, argv[0]));
		return;
	}
	memcpy(dst, argv[0], n + 1);
}

static void
set_threshold(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	unsigned v;
	int r;

	(void)argc;
	r = conf_parse_percent(argv[0], &v);
	if (r == 0 && v >= 100)
		r = -ERANGE;
	if (r < 0) {
		bad_number(p, k, argv[0], r, "0% to 99%");
		return;
	}
	*(unsigned *)((char *)p->c + k->off) = v;
}

static void
set_culltable(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	unsigned long long v;
	int r;

	(void)argc;
	r = conf_parse_uint(argv[0], 12, 20, &v);
	if (r < 0) {
		bad_number(p, k, argv[0], r, "12 to 20");
		return;
	}
	p->c->culltable = v;
}

static void
set_nocull(struct parser *p, const struct keyword *k, char **argv, int argc)
{
	(void)k;
	(void)argv;
	(void)argc;
	p->c->nocull = 1;
}

/* One half of resume_thresholds: '-' (ignored) or a count >= 1. */
static int
resume_value(struct parser *p, const char *what, const char *s,
    long long *out)
{
	unsigned long long v;
	char q[64];
	int r;

	if (strcmp(s, "-") == 0) {
		*out = -1;
		return 0;
	}
	r = conf_parse_uint(s, 1, LLONG_MAX, &v);
	if (r == -ERANGE) {
		lerror(p, "resume_thresholds: %s '%s' is out of range (1 to %lld,"
		    " or - to ignore it)", what, quote(q, s), LLONG_MAX);
		return r;
	}
	if (r < 0) {
		lerror(p, "resume_thresholds: %s '%s' is not a count or '-'",
		    what, quote(q, s));
		return r;
	}
	*out = v;
	return 0;
}

static void
set_resume(struct parser *p, const struct keyword *k, char **argv, int argc)
{
	long long b, f;
	int rb, rf;

	(void)k;
	(void)argc;
	rb = resume_value(p, "blocks", argv[0], &b);
	rf = resume_value(p, "files", argv[1], &f);
	if (rb == 0 && rf == 0) {
		p->c->resume_blocks = b;
		p->c->resume_files = f;
	}
}

static void
set_debug(struct parser *p, const struct keyword *k, char **argv, int argc)
{
	unsigned long long v;
	int r;

	(void)argc;
	r = parse_cnum(argv[0], 0xffffffffULL, &v);
	if (r < 0) {
		bad_number(p, k, argv[0], r, "0 to 0xffffffff");
		return;
	}
	p->c->debug = v;
}

static void
set_socket(struct parser *p, const struct keyword *k, char **argv, int argc)
{
	size_t n = strlen(argv[0]);
	char q[64];

	(void)k;
	(void)argc;
	if (argv[0][0] != '/') {
		lerror(p, "socket: '%s' is not an absolute path",
		    quote(q, argv[0]));
		return;
	}
	if (n >= sizeof(p->c->socket)) {
		lerror(p, "socket: path is too long for a unix socket"
		    " (%zu bytes, at most %zu)", n, sizeof(p->c->socket) - 1);
		return;
	}
	memcpy(p->c->socket, argv[0], n + 1);
}

/* A group name: what shadow-utils accepts, without its lax mode. */
static void
set_group(struct parser *p, const char *kw, const char *s, char *out,
    size_t outsz)
{
	size_t n = strlen(s), i;
	char q[64];

	if (n >= outsz) {
		lerror(p, "%s: name is too long (%zu bytes, at most %zu)",
		    kw, n, outsz - 1);
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    ch == '_' || (i > 0 && ((ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.')) || (i > 0 && i == n - 1 && ch == '$'))
			continue;
		lerror(p, "%s: '%s' is not a valid group name", kw,
		    quote(q, s));
		return;
	}
	memcpy(out, s, n + 1);
}

static void
set_admin_group(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	(void)argc;
	set_group(p, k->name, argv[0], p->c->admin_group,
	    sizeof(p->c->admin_group));
}

static void
set_client_group(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	(void)argc;
	set_group(p, k->name, argv[0], p->c->client_group,
	    sizeof(p->c->client_group));
}

/* Find s in names[]; -1 when absent. */
static int
lookup_name(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return i;
	return -1;
}

static void
set_freeze(struct parser *p, const struct keyword *k, char **argv, int argc)
{
	int i = lookup_name(freeze_names, NELEM(freeze_names), argv[0]);
	char q[64];

	(void)argc;
	if (i < 0) {
		lerror(p, "freeze: '%s' is not a freeze policy (expected: %s)",
		    quote(q, argv[0]), k->usage);
		return;
	}
	p->c->freeze = i;
}

static void
set_freeze_timeout(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	unsigned long long v;
	int r;

	(void)argc;
	r = conf_parse_uint(argv[0], 1, CONF_MAX_FREEZE_TIMEOUT, &v);
	if (r < 0) {
		bad_number(p, k, argv[0], r, "1 to 86400 seconds");
		return;
	}
	p->c->freeze_timeout = v;
}

/* nice: an optional '-' then digits, -20 to 19 */
static void
set_nice(struct parser *p, const struct keyword *k, char **argv, int argc)
{
	const char *s = argv[0];
	unsigned long long v;
	int neg = s[0] == '-', r;

	(void)argc;
	r = conf_parse_uint(s + neg, 0, neg ? 20 : 19, &v);
	if (r < 0) {
		bad_number(p, k, s, r, "-20 to 19");
		return;
	}
	p->c->nice = neg ? -(int)v : (int)v;
}

/* An absolute path whose last component is a file name (the writer puts
 * a temporary file beside it and renames it over). */
static void
set_metrics_file(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	const char *s = argv[0];
	size_t n = strlen(s);
	char q[64];

	(void)k;
	(void)argc;
	if (s[0] != '/') {
		lerror(p, "metrics_file: '%s' is not an absolute path",
		    quote(q, s));
		return;
	}
	/* room for the writer's ".tmp.PID" suffix */
	if (n + 16 >= sizeof(p->c->metrics_file)) {
		lerror(p, "metrics_file: path is too long (%zu bytes)", n);
		return;
	}
	if (s[n - 1] == '/' || strcmp(strrchr(s, '/'), "/.") == 0 ||
	    strcmp(strrchr(s, '/'), "/..") == 0) {
		lerror(p, "metrics_file: '%s' does not name a file",
		    quote(q, s));
		return;
	}
	memcpy(p->c->metrics_file, s, n + 1);
}

static void
set_metrics_interval(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	unsigned long long v;
	int r;

	(void)argc;
	r = conf_parse_uint(argv[0], 1, CONF_MAX_METRICS_INTERVAL, &v);
	if (r < 0) {
		bad_number(p, k, argv[0], r, "1 to 3600 seconds");
		return;
	}
	p->c->metrics_interval = v;
}

/* The per-uid limits and their kin: an unsigned in a bounded range. */
static const struct {
	const char *name;
	unsigned long long min, max;
	const char *range;
} limit_ranges[] = {
	{ "admin_connections", 0, 256, "0 to 256" },
	{ "idle_timeout", 0, 86400, "0 to 86400 seconds" },
	{ "uid_max_connections", 1, 65536, "1 to 65536" },
	{ "uid_max_cookies", 1, 1048576, "1 to 1048576" },
	{ "uid_max_volumes", 1, 65535, "1 to 65535" },
};

static void
set_limit(struct parser *p, const struct keyword *k, char **argv, int argc)
{
	unsigned long long v;
	size_t i;
	int r;

	(void)argc;
	for (i = 0; i < NELEM(limit_ranges); i++)
		if (strcmp(limit_ranges[i].name, k->name) == 0)
			break;
	if (i == NELEM(limit_ranges))
		return;		/* a table bug; check_conf covers each */
	r = conf_parse_uint(argv[0], limit_ranges[i].min, limit_ranges[i].max,
	    &v);
	if (r < 0) {
		bad_number(p, k, argv[0], r, limit_ranges[i].range);
		return;
	}
	*(unsigned *)((char *)p->c + k->off) = (unsigned)v;
}

/* SIZE or N% (of the cache filesystem) into *size or *pct; the other
 * becomes 0. */
static void
size_or_percent(struct parser *p, const struct keyword *k, const char *s,
    uint64_t *size, unsigned *pct)
{
	size_t n = strlen(s);
	uint64_t v;
	unsigned pc;
	int r;

	if (n > 0 && s[n - 1] == '%') {
		r = conf_parse_percent(s, &pc);
		if (r == 0 && pc == 0)
			r = -ERANGE;
		if (r < 0) {
			bad_number(p, k, s, r, "1% to 100%");
			return;
		}
		*size = 0;
		*pct = pc;
		return;
	}
	r = conf_parse_size(s, &v);
	if (r < 0) {
		bad_number(p, k, s, r, "at most 16 EiB");
		return;
	}
	*size = v;
	*pct = 0;
}

/* SIZE, N% of the cache filesystem, or 0 (no limit). */
static void
set_uid_max_pinned(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	(void)argc;
	size_or_percent(p, k, argv[0], &p->c->uid_max_pinned,
	    &p->c->uid_max_pinned_percent);
}

static void
set_max_size(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	(void)argc;
	size_or_percent(p, k, argv[0], &p->c->max_size,
	    &p->c->max_size_percent);
}

static void
set_max_files(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	unsigned long long v;
	int r;

	(void)argc;
	r = conf_parse_uint(argv[0], 0, UINT64_MAX, &v);
	if (r < 0) {
		bad_number(p, k, argv[0], r, "0 to 18446744073709551615");
		return;
	}
	p->c->max_files = v;
}

static void
set_backend(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	int i = lookup_name(backend_names, NELEM(backend_names), argv[0]);
	char q[64];

	(void)argc;
	if (i < 0) {
		lerror(p, "backend: '%s' is not a backend (expected: %s)",
		    quote(q, argv[0]), k->usage);
		return;
	}
	p->c->backend = i;
}

static void
set_cull_policy(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	int i = lookup_name(cull_policy_names, NELEM(cull_policy_names),
	    argv[0]);
	char q[64];

	(void)argc;
	if (i < 0) {
		lerror(p, "cull_policy: '%s' is not a policy (expected: %s)",
		    quote(q, argv[0]), k->usage);
		return;
	}
	p->c->cull_policy = i;
}

static void
set_volume_access(struct parser *p, const struct keyword *k, char **argv,
    int argc)
{
	int i = lookup_name(access_names, NELEM(access_names), argv[0]);
	char q[64];

	(void)argc;
	if (i < 0) {
		lerror(p, "volume_access: '%s' is not an access policy "
		    "(expected: %s)", quote(q, argv[0]), k->usage);
		return;
	}
	p->c->volume_access = i;
}

static void
refused(struct parser *p, const struct keyword *k, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	lerror(p, "'%s' is not permitted in a configuration file: %s",
	    k->name, k->usage);
}

static int
kwcmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct keyword *)elem)->name);
}

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Check and trim the current line: too long, a NUL byte or a control
 * character is an error (reported). Returns the line's first non-blank
 * byte, with trailing blanks and CR cut off, or NULL when there is
 * nothing to parse (an error, a blank or a comment line).
 */
static char *
clean_line(struct parser *p)
{
	char *s = p->line, *end = p->line + p->len;
	size_t i;

	/* the limit does not count a CR of a CRLF line end */
	if (p->overflow || p->len - (p->len > 0 && end[-1] == '\r') >
	    CONF_MAX_LINE - 1) {
		lerror(p, "line is too long (more than %d bytes)",
		    CONF_MAX_LINE - 1);
		return NULL;
	}
	if (p->nul_at) {
		lerror(p, "NUL byte at column %zu; the line is ignored",
		    p->nul_at);
		return NULL;
	}
	while (end > s && (is_blank(end[-1]) || end[-1] == '\r'))
		*--end = '\0';
	while (is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return NULL;
	for (i = 0; s + i < end; i++) {
		unsigned char ch = s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			lerror(p, "control character 0x%02x at column %zu",
			    ch, (size_t)(s + i - p->line) + 1);
			return NULL;
		}
	}
	return s;
}

/*
 * Cut the keyword at the start of s off (NUL-terminated in place) and
 * set *rest to what follows it, blanks skipped. Returns the keyword's
 * table entry, or NULL (reported) for an unknown keyword.
 */
static const struct keyword *
find_keyword(struct parser *p, char *s, char **rest)
{
	const struct keyword *k;
	char *kw = s;
	char q[64];

	while (*s && !is_blank(*s))
		s++;
	if (*s) {
		*s++ = '\0';
		while (is_blank(*s))
			s++;
	}
	*rest = s;
	k = bsearch(kw, keywords, NKEYWORDS, sizeof(keywords[0]), kwcmp);
	if (!k)
		lerror(p, "unknown keyword '%s'", quote(q, kw));
	return k;
}

/*
 * Split the arguments s of k (not ARG_REFUSED) into argv as k->kind
 * says, at most MAX_ARGS, cut in place, and check their number. Returns
 * argc, or -1 (reported) when they do not fit k.
 */
static int
split_args(struct parser *p, const struct keyword *k, char *s, char **argv)
{
	int argc = 0;
	char q[64];

	if (k->kind == ARG_REST) {
		if (*s == '\0') {
			lerror(p, "%s: missing argument (expected: %s %s)",
			    k->name, k->name, k->usage);
			return -1;
		}
		argv[argc++] = s;
		for (; *s; s++)
			if (is_blank(s[0]) && s[1] == '#') {
				lwarn(p, "%s: the '#' is part of the value;"
				    " comments must be on a line of their own",
				    k->name);
				break;
			}
		return argc;
	}
	while (*s && *s != '#') {
		char *w = s;

		while (*s && !is_blank(*s))
			s++;
		if (*s) {
			*s++ = '\0';
			while (is_blank(*s))
				s++;
		}
		if (argc == MAX_ARGS)
			break;
		argv[argc++] = w;
	}
	if (argc < k->nargs) {
		lerror(p, "%s: missing argument (expected: %s %s)",
		    k->name, k->name, k->usage);
		return -1;
	}
	if (argc > k->nargs) {
		if (k->nargs == 0)
			lerror(p, "%s takes no argument (got '%s')",
			    k->name, quote(q, argv[k->nargs]));
		else
			lerror(p, "%s: too many arguments, '%s' is one"
			    " too many (expected: %s %s)", k->name,
			    quote(q, argv[k->nargs]), k->name,
			    k->usage);
		return -1;
	}
	return argc;
}

/*
 * Record in seen[] that k is given on this line. Given again, it is an
 * error for a once-only keyword (returns -1, reported, seen[] kept),
 * else a warning (the last one wins). Returns 0 otherwise.
 */
static int
note_seen(struct parser *p, const struct keyword *k, unsigned *seen)
{
	size_t i = k - keywords;

	if (seen[i]) {
		if (k->once) {
			lerror(p, "%s given again (first at line %u); it may be"
			    " given only once", k->name, seen[i]);
			return -1;
		}
		lwarn(p, "%s given again (previously at line %u); the last one"
		    " wins", k->name, seen[i]);
	}
	seen[i] = p->lineno;
	return 0;
}

/*
 * Parse one line: line[0..len) with a NUL at len, no line end. The caller
 * has kept per-file state (which keywords were seen where) in seen[].
 */
static void
parse_line(struct parser *p, unsigned *seen)
{
	char *s, *argv[MAX_ARGS + 1];
	const struct keyword *k;
	unsigned nerr;
	int argc;

	s = clean_line(p);
	if (s == NULL)
		return;
	k = find_keyword(p, s, &s);
	if (k == NULL)
		return;
	if (k->kind == ARG_REFUSED) {
		k->fn(p, k, argv, 0);
		return;
	}
	argc = split_args(p, k, s, argv);
	if (argc < 0)
		return;
	argv[argc] = NULL;
	if (note_seen(p, k, seen) < 0)
		return;
	nerr = p->nerr;
	k->fn(p, k, argv, argc);
	/* a bad value keeps the earlier one, and where it came from */
	if (k->loc && p->nerr == nerr)
		((struct conf_loc *)((char *)p->c + k->loc))->line =
		    p->lineno;
}

/* Feed n bytes of input; lines are parsed as their ends arrive. */
static void
feed(struct parser *p, unsigned *seen, const char *buf, size_t n)
{
	size_t i;

	if (p->first && n > 0) {
		/* a UTF-8 byte order mark, as some editors write */
		if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
			buf += 3;
			n -= 3;
		}
		p->first = 0;
	}
	for (i = 0; i < n; i++) {
		char ch = buf[i];

		if (ch == '\n') {
			p->lineno++;
			p->line[p->len] = '\0';
			parse_line(p, seen);
			p->len = 0;
			p->nul_at = 0;
			p->overflow = 0;
			continue;
		}
		if (p->len == CONF_MAX_LINE) {
			p->overflow = 1;
			continue;
		}
		if (ch == '\0' && !p->nul_at)
			p->nul_at = p->len + 1;
		p->line[p->len++] = ch;
	}
}

/* Check what needs the whole file: dir, and stop < cull < run. */
static void
finish(struct parser *p, unsigned *seen)
{
	struct conf *c = p->c;
	static const struct {
		char pre;
		size_t run, cull, stop, lrun, lcull, lstop;
	} sets[] = {
		{ 'b', OFF(brun), OFF(bcull), OFF(bstop),
		    OFF(loc_brun), OFF(loc_bcull), OFF(loc_bstop) },
		{ 'f', OFF(frun), OFF(fcull), OFF(fstop),
		    OFF(loc_frun), OFF(loc_fcull), OFF(loc_fstop) },
	};
	const struct keyword *kd;
	size_t i, j;

	kd = bsearch("dir", keywords, NKEYWORDS, sizeof(keywords[0]), kwcmp);
	if (kd && !seen[kd - keywords])
		report(p, 0, 0, "no 'dir' line: the cache directory must be"
		    " given");
	/*
	 * A plain cachefilesd.conf (none of larder's own keywords) is run as
	 * cachefilesd would run it: backend auto, i.e. the kernel's
	 * CacheFiles when /dev/cachefiles can be opened. A file that uses
	 * any larder keyword keeps the userspace default.
	 */
	for (i = 0; i < NELEM(larder_keywords); i++) {
		kd = bsearch(larder_keywords[i], keywords, NKEYWORDS,
		    sizeof(keywords[0]), kwcmp);
		if (kd && seen[kd - keywords])
			break;
	}
	if (i == NELEM(larder_keywords))
		c->backend = CONF_BACKEND_AUTO;
	for (i = 0; i < NELEM(sets); i++) {
		/* pairs: (lower, higher) that must be strictly ordered */
		const char *names[3] = { "stop", "cull", "run" };
		size_t offs[3] = { sets[i].stop, sets[i].cull, sets[i].run };
		size_t locs[3] = { sets[i].lstop, sets[i].lcull, sets[i].lrun };

		for (j = 0; j < 2; j++) {
			unsigned lo = *(unsigned *)((char *)c + offs[j]);
			unsigned hi = *(unsigned *)((char *)c + offs[j + 1]);
			unsigned llo = ((struct conf_loc *)((char *)c +
			    locs[j]))->line;
			unsigned lhi = ((struct conf_loc *)((char *)c +
			    locs[j + 1]))->line;
			char wlo[32], whi[32];

			if (lo < hi)
				continue;
			if (llo)
				snprintf(wlo, sizeof(wlo), "line %u", llo);
			else
				snprintf(wlo, sizeof(wlo), "default");
			if (lhi)
				snprintf(whi, sizeof(whi), "line %u", lhi);
			else
				snprintf(whi, sizeof(whi), "default");
			report(p, 0, llo > lhi ? llo : lhi,
			    "%c%s %u%% (%s) must be below %c%s %u%% (%s):"
			    " need 0 <= %cstop < %ccull < %crun < 100",
			    sets[i].pre, names[j], lo, wlo,
			    sets[i].pre, names[j + 1], hi, whi,
			    sets[i].pre, sets[i].pre, sets[i].pre);
		}
	}
}

/* Set up a parser; fails only when the name does not fit c->file. */
static int
start(struct parser *p, const char *name, struct conf *c,
    conf_error_fn *err, void *arg)
{
	size_t n;

	memset(p, 0, offsetof(struct parser, line));
	p->name = name ? name : "(config)";
	p->c = c;
	p->err = err;
	p->arg = arg;
	p->first = 1;
	conf_defaults(c);
	n = strlen(p->name);
	if (n >= sizeof(c->file)) {
		report(p, 0, 0, "file name is too long");
		return -ENAMETOOLONG;
	}
	memcpy(c->file, p->name, n + 1);
	return 0;
}

/* The last line may have no newline; then the whole-file checks. */
static int
end(struct parser *p, unsigned *seen)
{
	if (p->len > 0 || p->overflow) {
		p->lineno++;
		p->line[p->len] = '\0';
		parse_line(p, seen);
	}
	finish(p, seen);
	return p->nerr ? -EINVAL : 0;
}

int
conf_parse_buf(const char *name, const char *buf, size_t len,
    struct conf *c, conf_error_fn *err, void *arg)
{
	struct parser p;
	unsigned seen[NKEYWORDS] = { 0 };
	int r;

	r = start(&p, name, c, err, arg);
	if (r < 0)
		return r;
	if (buf)
		feed(&p, seen, buf, len);
	return end(&p, seen);
}

/*
 * Contract in conf.h. larderd calls it at startup, for -t, and on reload
 * into a fresh struct (main thread; reload parses before it swaps). The
 * open is O_NONBLOCK so that a FIFO or device put in the file's place
 * cannot hang the daemon; anything but a regular file is refused before
 * a byte is read. The file is read in 16 KiB pieces and fed to the same
 * line parser as conf_parse_buf, so a line's length is bounded by the
 * parser, not by the read size.
 */
int
conf_parse(const char *file, struct conf *c, conf_error_fn *err, void *arg)
{
	struct parser p;
	unsigned seen[NKEYWORDS] = { 0 };
	char buf[16384], eb[256];
	struct stat st;
	ssize_t n;
	int fd, r;

	r = start(&p, file, c, err, arg);
	if (r < 0)
		return r;
	if (!file) {
		report(&p, 0, 0, "no file name");
		return -EINVAL;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		report(&p, 0, 0, "cannot open: %s",
		    strerror_r(-r, eb, sizeof(eb)));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		report(&p, 0, 0, "cannot stat: %s",
		    strerror_r(-r, eb, sizeof(eb)));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		report(&p, 0, 0, "not a regular file");
		goto fail;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			report(&p, 0, p.lineno + 1, "cannot read: %s",
			    strerror_r(-r, eb, sizeof(eb)));
			goto fail;
		}
		if (n == 0)
			break;
		feed(&p, seen, buf, n);
	}
	close(fd);
	return end(&p, seen);

fail:
	close(fd);
	return r;
}
