/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conf.h: cachefilesd.conf-compatible configuration (larder.conf(5)).
 *
 * conf_parse reads a whole file into a fresh struct conf, reports every
 * error through the callback as "file:line: reason", and fails (-EINVAL)
 * if there was any. Validation that needs the whole file (threshold order)
 * runs after the last line. The daemon parses into a new struct on reload
 * and swaps it in only when it is valid; it never edits the live one.
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

enum conf_freeze {
	CONF_FREEZE_DEFER = 0,	/* default */
	CONF_FREEZE_REFUSE = 1,
};

enum conf_backend {
	CONF_BACKEND_USERSPACE = 0,	/* default */
	CONF_BACKEND_KERNEL = 1,
	CONF_BACKEND_AUTO = 2,
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
	/* resume_thresholds: how much to cull before caching resumes after
	 * a stop threshold; -1 means '-' (use the run threshold) */
	long long resume_blocks;	/* absolute count of blocks, or -1 */
	long long resume_files;		/* absolute count of files, or -1 */
	unsigned long debug;		/* debug mask */

	/* larder's own keywords */
	char socket[108];		/* socket: sun_path fits 108 bytes */
	char admin_group[64];		/* admin_group: empty = root only */
	enum conf_freeze freeze;
	unsigned freeze_timeout;	/* seconds, 1..86400 */
	uint64_t max_size;		/* bytes; 0 = unlimited */
	unsigned max_size_percent;	/* percent of the filesystem; 0 = unset */
	uint64_t max_files;		/* 0 = unlimited */
	enum conf_backend backend;

	struct conf_loc loc_dir, loc_brun, loc_bcull, loc_bstop,
	    loc_frun, loc_fcull, loc_fstop;
};

/* Error sink: called once per error with "file:line: reason" (no newline). */
typedef void conf_error_fn(void *arg, const char *msg);

/* Fill c with defaults (no dir). */
void conf_defaults(struct conf *c);

/*
 * Parse file into c (which it initialises). Every error goes to err(arg,..);
 * returns 0, or -EINVAL when there was at least one error, or -errno when
 * the file cannot be read (also reported through err).
 */
int conf_parse(const char *file, struct conf *c, conf_error_fn *err,
    void *arg);

/* Parse a buffer (for tests and the fuzzer); name is used in messages. */
int conf_parse_buf(const char *name, const char *buf, size_t len,
    struct conf *c, conf_error_fn *err, void *arg);

/* Human name of the enums, for status output. */
const char *conf_freeze_str(enum conf_freeze f);
const char *conf_backend_str(enum conf_backend b);

/* Typed, bounded helpers (also used by larderctl for its arguments).
 * Each returns 0 or -EINVAL / -ERANGE. */
int conf_parse_uint(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out);
int conf_parse_percent(const char *s, unsigned *out);	/* "N%" 0..100 */
int conf_parse_size(const char *s, uint64_t *out);	/* N[KMGT] */

#endif
