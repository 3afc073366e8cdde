/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conf.h: cachefilesd.conf-compatible configuration (larder.conf(5)).
 *
 * conf_parse reads a whole file into a fresh struct conf, reports every
 * error through the callback as "file:line: reason", and fails (-EINVAL)
 * if there was any. Validation that needs the whole file (threshold order)
 * runs after the last line. The daemon parses into a new struct on reload
 * and swaps it in only when it is valid; it never edits the live one.
 *
 * Warnings (a repeated tag or secctx, a '#' inside a dir value, ...) go
 * through the same callback, prefixed with CONF_WARNING_PREFIX
 * ("warning: file:line: reason"); they do not make the parse fail.
 * Whole-file messages have no line: "file: reason".
 *
 * The parser keeps no global state and does not print: it is thread-safe.
 */
#ifndef LARDER_CONF_H
#define LARDER_CONF_H

#include <stdint.h>
#include <limits.h>

#define CONF_MAX_LINE		4096
#define CONF_DEFAULT_RUN	7	/* the kernel's defaults, in percent */
#define CONF_DEFAULT_CULL	5
#define CONF_DEFAULT_STOP	1
#define CONF_DEFAULT_CULLTABLE	12
#define CONF_DEFAULT_FREEZE_TIMEOUT 60
#define CONF_DEFAULT_RESUME_FILES 5	/* cachefilesd's default */
#define CONF_MAX_FREEZE_TIMEOUT	86400
/* nice of the threads on a client's path (daemon/prio.h) */
#define CONF_DEFAULT_NICE	(-10)
#define CONF_DEFAULT_METRICS_INTERVAL 15	/* seconds */
#define CONF_MAX_METRICS_INTERVAL 3600
/* per-uid limits (limits.c; larder.conf(5)); see larderd.service's
 * LimitNOFILE= for how they fit the daemon's fds */
#define CONF_DEFAULT_ADMIN_CONNECTIONS	16	/* of the 512 slots */
#define CONF_DEFAULT_IDLE_TIMEOUT	300	/* seconds; 0 = never */
#define CONF_DEFAULT_UID_CONNECTIONS	64
#define CONF_DEFAULT_UID_COOKIES	8192
#define CONF_DEFAULT_UID_VOLUMES	64
#define CONF_DEFAULT_UID_PINNED_PERCENT	50
#define CONF_WARNING_PREFIX	"warning: "

enum conf_freeze {
	CONF_FREEZE_DEFER = 0,	/* default */
	CONF_FREEZE_REFUSE = 1,
};

enum conf_backend {
	CONF_BACKEND_USERSPACE = 0,	/* default */
	CONF_BACKEND_KERNEL = 1,
	CONF_BACKEND_AUTO = 2,
};

/* which objects the culler takes first (index.c's policies) */
enum conf_cull_policy {
	CONF_CULL_S3 = 0,	/* default: probation in front of the main set */
	CONF_CULL_LRU = 1,	/* least recently used first */
};

/* volume_access: what users other than a volume's owner may do there
 * (the numbers are daemon/access.h's enum access_policy) */
enum conf_access {
	CONF_ACCESS_NONE = 1,	/* default */
	CONF_ACCESS_READ = 2,
	CONF_ACCESS_FILL = 3,
};

/* where a keyword was set, for messages at validation time */
struct conf_loc {
	unsigned line;		/* 0: not set in the file (default) */
};

struct conf {
	char file[PATH_MAX];		/* the file it was read from */
	char dir[PATH_MAX];		/* dir: required */
	char tag[128];			/* tag: default "CacheFiles" */
	char secctx[256];		/* secctx: empty when unset */
	unsigned brun, bcull, bstop;	/* percent of blocks */
	unsigned frun, fcull, fstop;	/* percent of files */
	unsigned culltable;		/* 12..20: log2 of cull candidates per pass */
	int nocull;			/* nocull: never cull */
	/* resume_thresholds (cachefilesd): once a scan found nothing to
	 * cull, scanning resumes only after the kernel released this many
	 * blocks or files; -1 means '-' (this threshold is ignored).
	 * Defaults as cachefilesd: blocks -1, files 5. */
	long long resume_blocks;	/* absolute count of blocks (>= 1), or -1 */
	long long resume_files;		/* absolute count of files (>= 1), or -1 */
	unsigned long debug;		/* debug mask */

	/* larder's own keywords */
	char socket[108];		/* socket: sun_path fits 108 bytes */
	char admin_group[64];		/* admin_group: empty = root only */
	char client_group[64];		/* client_group: empty = admins only */
	enum conf_access volume_access;	/* default policy of volumes */
	enum conf_freeze freeze;
	unsigned freeze_timeout;	/* seconds, 1..86400 */
	int nice;			/* -20..19, the serving threads' */
	uint64_t max_size;		/* bytes; 0 = unlimited */
	unsigned max_size_percent;	/* percent of the filesystem; 0 = unset */
	uint64_t max_files;		/* 0 = unlimited */
	enum conf_backend backend;
	enum conf_cull_policy cull_policy;
	char metrics_file[PATH_MAX];	/* metrics_file: empty = none */
	unsigned metrics_interval;	/* seconds, 1..3600 */
	/* limits per peer uid (admins are exempt) and for admins */
	unsigned admin_connections;	/* slots only admins may take */
	unsigned idle_timeout;		/* seconds; 0 = never */
	unsigned uid_max_connections;
	unsigned uid_max_cookies;	/* cookies held at once */
	unsigned uid_max_volumes;	/* volume handles held at once */
	uint64_t uid_max_pinned;	/* bytes; 0 = see _percent */
	unsigned uid_max_pinned_percent; /* of the cache fs; 0 = unset */

	struct conf_loc loc_dir, loc_brun, loc_bcull, loc_bstop,
	    loc_frun, loc_fcull, loc_fstop;
};

/* Error sink: called once per error with "file:line: reason" (no newline),
 * and once per warning with CONF_WARNING_PREFIX "file:line: reason".
 * err may be NULL (errors are then only counted). */
typedef void conf_error_fn(void *arg, const char *msg);

/* Whether a message given to conf_error_fn is a warning, not an error. */
static inline int
conf_is_warning(const char *msg)
{
	const char *p = CONF_WARNING_PREFIX;

	while (*p && *msg == *p)
		p++, msg++;
	return *p == '\0';
}

/* Fill c with defaults (no dir; socket DEFAULT_SOCKET when config.h has it). */
void conf_defaults(struct conf *c);

/*
 * Parse file into c (which it initialises). Every error goes to err(arg,..);
 * returns 0, or -EINVAL when there was at least one error, or -errno when
 * the file cannot be read (also reported through err). file must be a
 * regular file. On failure c holds a partial parse: do not use it.
 */
int conf_parse(const char *file, struct conf *c, conf_error_fn *err,
    void *arg);

/* Parse a buffer (for tests and the fuzzer); name is used in messages. */
int conf_parse_buf(const char *name, const char *buf, size_t len,
    struct conf *c, conf_error_fn *err, void *arg);

/* Human name of the enums, for status output. */
const char *conf_freeze_str(enum conf_freeze f);
const char *conf_backend_str(enum conf_backend b);
const char *conf_cull_policy_str(enum conf_cull_policy p);
const char *conf_access_str(enum conf_access a);

/* Typed, bounded helpers (also used by larderctl for its arguments).
 * Each returns 0, -EINVAL (not of the form) or -ERANGE (too big, or
 * outside min..max); *out is only written on success. Decimal digits only:
 * no sign, no blanks, nothing after the number. */
int conf_parse_uint(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out);
int conf_parse_percent(const char *s, unsigned *out);	/* "N%" 0..100 */
/* N, or N followed by K, M, G or T (either case; powers of 1024) */
int conf_parse_size(const char *s, uint64_t *out);

#endif
