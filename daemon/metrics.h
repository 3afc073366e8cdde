/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics.h: the daemon's status and stats in the Prometheus text
 * exposition format (version 0.0.4, what node_exporter's textfile
 * collector reads), rendered from the same key/value records that STATUS
 * and STATS carry (proto.h). Shared by larderctl (stats --prometheus)
 * and larderd's metrics_file writer (metrics_file.c).
 *
 * Pure code: no I/O, no globals, no daemon state; it links into larderctl
 * with liblarder only. Every input is treated as hostile: keys and string
 * values come from a socket, volume keys are chosen by clients.
 *
 * Names carry the `larder_' prefix and their unit (`_bytes', `_seconds',
 * `_total' for counters); every family has HELP and TYPE lines. Keys the
 * table in metrics.c does not know are exported as `untyped' under a name
 * made from the key, so a counter added to the daemon is never lost.
 */
#ifndef LARDER_METRICS_H
#define LARDER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* at most this many volumes get labelled series; the rest are summed */
#define METRICS_MAX_VOLUMES	100

/* one STATUS or STATS record, pointing into the message it came from */
struct metrics_kv {
	const char *key;
	size_t key_len;
	uint8_t kind;			/* PROTO_KV_U64, _S64, _STR */
	uint64_t u;
	const char *s;
	size_t s_len;
};

/* one volume (LIST_VOLUMES row, or the daemon's index) */
struct metrics_vol {
	const char *key;
	size_t key_len;
	uint64_t objects;
	uint64_t bytes;
	int counted;			/* hits, misses, fills are there */
	uint64_t hits, misses, fills;	/* since larderd started */
};

/* a growing text buffer; err is -ENOMEM once an append failed */
struct metrics_out {
	char *p;
	size_t len, cap;
	int err;
};

/*
 * Parse a STATUS/STATS body (u32 count, then count records) into a
 * malloc'd array (*kv, free() it) that points into b's data. Returns the
 * number of records, or -EPROTO (malformed: a bad kind, a NUL inside a
 * str, a count larger than the body can hold) or -ENOMEM.
 */
int metrics_parse_kv(struct proto_buf *b, struct metrics_kv **kv);

/*
 * Append the exposition of status, stats and vols (volumes: at most
 * METRICS_MAX_VOLUMES of them, the largest by bytes, get labelled
 * series (objects, bytes, and hits, misses, fills for those counted);
 * the others are summed into larder_volumes_other_*) to out.
 * now: unix time for larder_metrics_generated_timestamp_seconds (no
 * sample carries a timestamp: the textfile collector refuses them).
 * vols may be reordered. Returns 0 or -ENOMEM.
 */
int metrics_render(struct metrics_out *out,
    const struct metrics_kv *status, size_t nstatus,
    const struct metrics_kv *stats, size_t nstats,
    struct metrics_vol *vols, size_t nvols, int64_t now);

void metrics_out_free(struct metrics_out *out);

/* Length of the valid UTF-8 sequence at p (at most n bytes; n >= 1), 0 if
 * it is not one: overlong forms, surrogates and values past U+10FFFF are
 * not. (Also larderctl's JSON output.) */
size_t metrics_utf8_len(const unsigned char *p, size_t n);

/* Write all n bytes of buf to fd, again after EINTR: 0 or -errno (the
 * metrics file's writer and larderctl's output). */
int metrics_write_all(int fd, const void *buf, size_t n);

#endif
