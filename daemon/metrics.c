/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics.c: status and stats records to the Prometheus text format (see
 * metrics.h). The table below maps each key the daemon prints to a metric
 * name, a type and a HELP text; state strings become 0/1 gauges.
 *
 * Histograms (hist.h's hist.* records) become larder_<name>_duration_
 * seconds histograms; per-volume records (struct metrics_vol) become
 * larder_volume_* series, at most METRICS_MAX_VOLUMES of them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define NAME_MAX_LEN	128

enum mtype { M_COUNTER, M_GAUGE, M_UNTYPED };

struct map {
	const char *key;
	const char *name;	/* NULL: not exported */
	enum mtype type;
	unsigned scale;		/* value divided by this (ms -> s: 1000) */
	const char *help;
};

/* Sorted by key (strcmp): found with bsearch; check_metrics tests it. */
static const struct map maps[] = {
	{ "control.clients", "larder_control_clients", M_GAUGE, 1,
	    "Peers connected to the control socket" },
	{ "cull.bytes", "larder_culled_bytes_total", M_COUNTER, 1,
	    "Bytes of objects culled" },
	{ "cull.cache_bytes", "larder_cache_bytes", M_GAUGE, 1,
	    "Bytes the cached objects use on disk" },
	{ "cull.cache_objects", "larder_objects", M_GAUGE, 1,
	    "Objects in the cache" },
	{ "cull.errors", "larder_cull_errors_total", M_COUNTER, 1,
	    "Objects the culler failed to remove" },
	{ "cull.gone", "larder_cull_gone_total", M_COUNTER, 1,
	    "Cull victims that were already gone" },
	{ "cull.graveyard_bytes", "larder_graveyard_bytes", M_GAUGE, 1,
	    "Bytes culled and not yet reaped from the graveyard" },
	{ "cull.max_files", "larder_max_files", M_GAUGE, 1,
	    "Cap on the number of objects (0: none)" },
	{ "cull.max_size", "larder_max_size_bytes", M_GAUGE, 1,
	    "Cap on the cache size in bytes (0: none)" },
	{ "cull.ms", "larder_cull_duration_seconds_total", M_COUNTER, 1000,
	    "Time spent in cull passes" },
	{ "cull.objects", "larder_culled_objects_total", M_COUNTER, 1,
	    "Objects culled" },
	{ "cull.passes", "larder_cull_passes_total", M_COUNTER, 1,
	    "Cull passes run" },
	{ "cull.pinned_bytes", "larder_pinned_bytes", M_GAUGE, 1,
	    "Bytes of objects a client holds (never culled)" },
	{ "cull.pinned_objects", "larder_pinned_objects", M_GAUGE, 1,
	    "Objects a client holds (never culled)" },
	{ "cull.refusals", "larder_cull_refusals_total", M_COUNTER, 1,
	    "Cull requests refused" },
	{ "cull.skipped_in_use", "larder_cull_skipped_in_use_total", M_COUNTER,
	    1, "Cull victims skipped because they were in use" },
	{ "cull.suspensions", "larder_cull_suspensions_total", M_COUNTER, 1,
	    "Times culling was suspended (nothing cullable)" },
	{ "cull.unlinked_in_place", "larder_cull_unlinked_in_place_total",
	    M_COUNTER, 1, "Culled objects unlinked in place (small), not "
	    "renamed into the graveyard" },
	{ "cull.used_since", "larder_cull_used_since_total", M_COUNTER, 1,
	    "Cull victims used after the index heard of them: kept" },
	{ "freeze.by_pid", NULL, M_GAUGE, 1, NULL },
	{ "freeze.by_uid", NULL, M_GAUGE, 1, NULL },
	{ "freeze.freezes", "larder_freezes_total", M_COUNTER, 1,
	    "Freezes the daemon deferred for" },
	{ "freeze.fs_frozen", "larder_fs_freezes_total", M_COUNTER, 1,
	    "Times larderd froze the filesystem itself" },
	{ "freeze.refused", "larder_freezes_refused_total", M_COUNTER, 1,
	    "Freeze requests refused by policy" },
	{ "freeze.since", "larder_freeze_start_timestamp_seconds", M_GAUGE, 1,
	    "When the freeze in force began (unix time)" },
	{ "freeze.stalled_since", "larder_stall_start_timestamp_seconds",
	    M_GAUGE, 1, "When writes last stalled (unix time)" },
	{ "freeze.stalls", "larder_stalls_total", M_COUNTER, 1,
	    "Write stalls detected (an unannounced freeze)" },
	{ "freeze.suspended_by_pid", NULL, M_GAUGE, 1, NULL },
	{ "freeze.suspended_by_uid", NULL, M_GAUGE, 1, NULL },
	{ "freeze.suspended_since", "larder_suspend_start_timestamp_seconds",
	    M_GAUGE, 1, "When the suspension in force began (unix time)" },
	{ "freeze.suspends", "larder_suspends_total", M_COUNTER, 1,
	    "Suspensions (write claim given back)" },
	{ "freeze.time_left", "larder_freeze_time_left_seconds", M_GAUGE, 1,
	    "Seconds until the freeze time limit thaws" },
	{ "freeze.time_limit_thaws", "larder_freeze_time_limit_thaws_total",
	    M_COUNTER, 1, "Freezes ended by the time limit" },
	{ "freeze.timeout", "larder_freeze_timeout_seconds", M_GAUGE, 1,
	    "Freeze time limit in force" },
	{ "kernel.bad_states", "larder_kernel_bad_states_total", M_COUNTER, 1,
	    "Malformed state reads from /dev/cachefiles" },
	{ "kernel.breleased_bytes", "larder_kernel_released_bytes_total",
	    M_COUNTER, 1, "Bytes the kernel reported released" },
	{ "kernel.bytes", "larder_cache_bytes", M_GAUGE, 1,
	    "Bytes the cached objects use on disk" },
	{ "kernel.cull_backoff_ms", "larder_kernel_cull_backoff_seconds",
	    M_GAUGE, 1000, "Back-off before the next kernel cull" },
	{ "kernel.cull_busy", "larder_kernel_cull_busy_total", M_COUNTER, 1,
	    "Kernel culls refused because the object was in use" },
	{ "kernel.cull_errors", "larder_kernel_cull_errors_total", M_COUNTER, 1,
	    "Kernel culls that failed" },
	{ "kernel.cull_gone", "larder_kernel_cull_gone_total", M_COUNTER, 1,
	    "Kernel cull victims already gone" },
	{ "kernel.culled", "larder_kernel_culled_total", M_COUNTER, 1,
	    "Objects culled through /dev/cachefiles" },
	{ "kernel.freleased", "larder_kernel_released_objects_total",
	    M_COUNTER, 1, "Objects the kernel reported released" },
	{ "kernel.objects", "larder_objects", M_GAUGE, 1,
	    "Objects in the cache" },
	{ "kernel.rebinds", "larder_kernel_rebinds_total", M_COUNTER, 1,
	    "Times the cache was bound again (after a freeze)" },
	{ "kernel.scans", "larder_kernel_scans_total", M_COUNTER, 1,
	    "Scans of the kernel's cache" },
	{ "kernel.state_reads", "larder_kernel_state_reads_total", M_COUNTER, 1,
	    "State reads from /dev/cachefiles" },
	{ "kernel.volumes", "larder_volumes", M_GAUGE, 1,
	    "Volumes in the cache" },
	{ "kernel.withdrawals", "larder_kernel_withdrawals_total", M_COUNTER, 1,
	    "Times the cache was withdrawn from the kernel" },
	{ "larderd.pid", NULL, M_GAUGE, 1, NULL },
	{ "larderd.uptime", "larder_uptime_seconds", M_GAUGE, 1,
	    "Seconds since larderd started" },
	{ "limits.accept_backoffs", "larder_accept_backoffs_total",
	    M_COUNTER, 1, "Times accepting paused for want of fds (EMFILE)" },
	{ "limits.accept_errors", "larder_accept_errors_total", M_COUNTER, 1,
	    "Failed accepts on the control socket" },
	{ "limits.admin_slots_used", "larder_admin_slots_used_total",
	    M_COUNTER, 1, "Admin connections that took a reserved slot" },
	{ "limits.connections_refused", "larder_connections_refused_total",
	    M_COUNTER, 1, "Connections refused by a limit" },
	{ "limits.cookies_refused", "larder_cookies_refused_total",
	    M_COUNTER, 1, "Cookie acquires refused by a per-uid limit" },
	{ "limits.fds_closed_off_thread", "larder_fds_closed_off_thread_total",
	    M_COUNTER, 1, "Fds from peers closed on the closer thread" },
	{ "limits.fds_closing", "larder_fds_closing", M_GAUGE, 1,
	    "Fds from peers waiting to be closed" },
	{ "limits.idle_closed", "larder_idle_connections_closed_total",
	    M_COUNTER, 1, "Connections closed for being idle too long" },
	{ "limits.pinned_refused", "larder_pinned_refused_total", M_COUNTER, 1,
	    "Acquires refused by the per-uid pinned-bytes limit" },
	{ "limits.volume_creates_refused",
	    "larder_volume_creates_refused_total", M_COUNTER, 1,
	    "Volume creations refused by a limit" },
	{ "limits.volumes_refused", "larder_volumes_refused_total",
	    M_COUNTER, 1, "Volume acquires refused by a per-uid limit" },
	{ "meta.atimes", "larder_meta_atime_writes_total", M_COUNTER, 1,
	    "Last-use times written back as atime" },
	{ "meta.batches", "larder_meta_batches_total", M_COUNTER, 1,
	    "Coherency batches written" },
	{ "meta.batches_stopped", "larder_meta_batches_stopped_total",
	    M_COUNTER, 1, "Coherency batches a freeze stopped before their "
	    "xattrs" },
	{ "meta.fdatasyncs", "larder_meta_fdatasyncs_total", M_COUNTER, 1,
	    "fdatasync calls of the meta thread" },
	{ "meta.held", "larder_meta_held_records", M_GAUGE, 1,
	    "Coherency records a freeze holds back now" },
	{ "meta.links", "larder_meta_links_total", M_COUNTER, 1,
	    "New objects linked into place" },
	{ "meta.pending", "larder_meta_pending_records", M_GAUGE, 1,
	    "Coherency records queued or being written" },
	{ "meta.records", "larder_meta_records_total", M_COUNTER, 1,
	    "Coherency records written" },
	{ "meta.records_held", "larder_meta_records_held_total", M_COUNTER,
	    1, "Coherency records a freeze held back until its thaw" },
	{ "meta.stream_waits", "larder_meta_stream_waits_total", M_COUNTER,
	    1, "Coherency batches put off while a fill stream went on" },
	{ "meta.syncfs", "larder_meta_syncfs_total", M_COUNTER, 1,
	    "syncfs calls of the meta thread" },
	{ "meta.writeback_kicks", "larder_meta_writeback_kicks_total",
	    M_COUNTER, 1, "Writebacks of streamed objects started early" },
	{ "meta.xattr_writes", "larder_meta_xattr_writes_total", M_COUNTER, 1,
	    "Coherency xattrs written" },
	{ "metrics.errors", "larder_metrics_file_errors_total", M_COUNTER, 1,
	    "metrics_file writes that failed" },
	{ "metrics.skipped", "larder_metrics_file_skipped_total", M_COUNTER, 1,
	    "metrics_file writes skipped: the last one was not done" },
	{ "metrics.writes", "larder_metrics_file_writes_total", M_COUNTER, 1,
	    "metrics_file writes done" },
	{ "nice.background", "larder_nice_background", M_GAUGE, 1,
	    "Nice value of larderd's background threads (cull, scan, reaper)" },
	{ "nice.serving", "larder_nice_serving", M_GAUGE, 1,
	    "Nice value of larderd's threads on a client's path" },
	{ "nice.started", "larder_nice_started", M_GAUGE, 1,
	    "Nice value larderd was started with" },
	{ "reap.bytes", "larder_reaped_bytes_total", M_COUNTER, 1,
	    "Bytes unlinked from the graveyard" },
	{ "reap.errors", "larder_reap_errors_total", M_COUNTER, 1,
	    "Graveyard entries the reaper failed to remove" },
	{ "reap.objects", "larder_reaped_objects_total", M_COUNTER, 1,
	    "Objects unlinked from the graveyard" },
	{ "scan.bytes", "larder_scan_last_bytes", M_GAUGE, 1,
	    "Bytes found by the last (or running) scan" },
	{ "scan.errors", "larder_scan_last_errors", M_GAUGE, 1,
	    "Errors of the last (or running) scan" },
	{ "scan.ms", "larder_scan_last_duration_seconds", M_GAUGE, 1000,
	    "Duration of the last (or running) scan" },
	{ "scan.objects", "larder_scan_last_objects", M_GAUGE, 1,
	    "Objects found by the last (or running) scan" },
	{ "scan.passes", "larder_scan_passes_total", M_COUNTER, 1,
	    "Scans of the cache directory" },
	{ "store.acquires", "larder_cookie_acquires_total", M_COUNTER, 1,
	    "Cookie acquires that asked the daemon (not served locally)" },
	{ "store.bytes", "larder_cache_bytes", M_GAUGE, 1,
	    "Bytes the cached objects use on disk" },
	{ "store.bytes_served", "larder_served_bytes_total", M_COUNTER, 1,
	    "Cached bytes handed to clients (bytes out)" },
	{ "store.bytes_written", "larder_fill_bytes_total", M_COUNTER, 1,
	    "Bytes written into the cache by fills (bytes in)" },
	{ "store.closes_held", "larder_closes_held", M_GAUGE, 1,
	    "Files whose close waits for the thaw of a freeze" },
	{ "store.dropped_fills", "larder_dropped_fills_total", M_COUNTER, 1,
	    "Fills dropped unwritten by a freeze or suspend (misses)" },
	{ "store.drops", "larder_drops_total", M_COUNTER, 1,
	    "Objects dropped on request" },
	{ "store.enobufs", "larder_enobufs_total", M_COUNTER, 1,
	    "Requests answered ENOBUFS (full, frozen, suspended)" },
	{ "store.errors", "larder_store_errors_total", M_COUNTER, 1,
	    "I/O and coherency errors of the store" },
	{ "store.fills", "larder_fills_total", M_COUNTER, 1,
	    "Fills (writes into the cache)" },
	{ "store.fills_let_go", "larder_fills_let_go_total", M_COUNTER, 1,
	    "Fill writes a freeze answered and did not wait for" },
	{ "store.hits", "larder_hits_total", M_COUNTER, 1,
	    "Cookie acquires that found cached data" },
	{ "store.invalidations", "larder_invalidations_total", M_COUNTER, 1,
	    "Objects invalidated" },
	{ "store.io_inflight", "larder_io_inflight", M_GAUGE, 1,
	    "Writes in flight" },
	{ "store.late_unclaimed", "larder_late_unclaimed_fills_total",
	    M_COUNTER, 1, "Zero-copy fills written after an early answer, "
	    "not claimed" },
	{ "store.local_uses", "larder_local_acquires_total", M_COUNTER, 1,
	    "Cookie acquires liblarder served locally, as reported" },
	{ "store.meta_pending", "larder_meta_pending", M_GAUGE, 1,
	    "Coherency records waiting for the meta thread" },
	{ "store.misses", "larder_misses_total", M_COUNTER, 1,
	    "Cookie acquires that found no cached data" },
	{ "store.objects", "larder_objects", M_GAUGE, 1,
	    "Objects in the cache" },
	{ "store.objects_open", "larder_objects_open", M_GAUGE, 1,
	    "Objects clients hold open" },
	{ "store.oldest_write_ms", "larder_oldest_write_age_seconds", M_GAUGE,
	    1000, "Age of the oldest write in flight" },
	{ "store.parked_ignored", "larder_parked_ignored_total", M_COUNTER, 1,
	    "Parked-handle reports ignored (stale, forged or too many)" },
	{ "store.parked_revoked", "larder_parked_revoked_total", M_COUNTER, 1,
	    "Parked handles revoked: their object changed or left" },
	{ "store.pinned_bytes", "larder_pinned_bytes", M_GAUGE, 1,
	    "Bytes of objects a client holds (never culled)" },
	{ "store.strange", "larder_strange_files_total", M_COUNTER, 1,
	    "Strange entries found in the cache" },
	{ "store.stuck_fills", "larder_stuck_fills_total", M_COUNTER, 1,
	    "Fills that did not complete in time" },
	{ "store.sync_failures", "larder_sync_failures_total", M_COUNTER, 1,
	    "Objects whose data a failed fdatasync or syncfs made it forget" },
	{ "store.uring_writes", "larder_uring_writes_total", M_COUNTER, 1,
	    "Writes submitted through io_uring" },
	{ "store.volumes_created", "larder_volumes_created_total", M_COUNTER,
	    1, "Volumes created" },
	{ "store.volumes_invalidated", "larder_volumes_invalidated_total",
	    M_COUNTER, 1, "Volumes invalidated" },
	{ "store.volumes_open", "larder_volumes_open", M_GAUGE, 1,
	    "Volumes clients hold" },
};

/* keys PREFIX.SUFFIX: one family, SUFFIX as the value of label */
struct prefix_map {
	const char *prefix;
	const char *name;
	enum mtype type;
	const char *label;
	const char *help;
};

static const struct prefix_map prefix_maps[] = {
	{ "scan.foreign.", "larder_scan_foreign_entries_total", M_COUNTER,
	    "kind", "Foreign entries found in the cache and left alone" },
};

/* ---- output buffer ------------------------------------------------------- */

static void
out_add(struct metrics_out *o, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		if ((p = realloc(o->p, cap)) == NULL) {
			o->err = -ENOMEM;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void out_printf(struct metrics_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(struct metrics_out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		o->err = o->err ? o->err : -ENOMEM;
		return;
	}
	out_add(o, buf, n);
}

void
metrics_out_free(struct metrics_out *o)
{
	free(o->p);
	memset(o, 0, sizeof(*o));
}

/* ---- parsing ------------------------------------------------------------- */

/*
 * Contract in metrics.h. The count is checked against what the body can
 * hold before anything is allocated (a hostile count cannot make it
 * allocate more than the body's size warrants); any error frees the
 * array and leaves *out NULL. Called by larderctl (stats --prometheus,
 * top) on the reply it received, and by tests.
 */
int
metrics_parse_kv(struct proto_buf *b, struct metrics_kv **out)
{
	struct metrics_kv *kv;
	struct proto_bytes k, s;
	uint32_t n, i;

	*out = NULL;
	n = proto_get_u32(b);
	/* the smallest record: u8 kind, two empty strs */
	if (b->err || n > proto_remaining(b) / 5)
		return -EPROTO;
	if ((kv = calloc(n ? n : 1, sizeof(*kv))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n && !b->err; i++) {
		kv[i].kind = proto_get_u8(b);
		k = proto_get_bytes(b);
		kv[i].key = (const char *)k.ptr;
		kv[i].key_len = k.len;
		if (!b->err && k.len && memchr(k.ptr, '\0', k.len))
			b->err = -EPROTO;
		switch (kv[i].kind) {
		case PROTO_KV_U64:
		case PROTO_KV_S64:
			kv[i].u = proto_get_u64(b);
			break;
		case PROTO_KV_STR:
			s = proto_get_bytes(b);
			kv[i].s = (const char *)s.ptr;
			kv[i].s_len = s.len;
			if (!b->err && s.len && memchr(s.ptr, '\0', s.len))
				b->err = -EPROTO;
			break;
		default:
			b->err = -EPROTO;
		}
	}
	if (b->err) {
		free(kv);
		return -EPROTO;
	}
	*out = kv;
	return (int)n;
}

/* ---- rendering ----------------------------------------------------------- */

/* names already emitted: a family appears once (the first source wins) */
struct seen {
	char (*names)[NAME_MAX_LEN];
	size_t n, cap;
};

/* 1 if name was emitted already; else remember it (0) */
static int
seen_add(struct seen *s, const char *name, struct metrics_out *o)
{
	size_t i;
	void *p;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		if ((p = realloc(s->names, s->cap * sizeof(*s->names))) ==
		    NULL) {
			o->err = -ENOMEM;
			return 1;
		}
		s->names = p;
	}
	snprintf(s->names[s->n++], NAME_MAX_LEN, "%s", name);
	return 0;
}

static int
mapcmp(const void *k, const void *m)
{
	return strcmp(k, ((const struct map *)m)->key);
}

static const struct map *
find_map(const struct metrics_kv *kv)
{
	char key[NAME_MAX_LEN];

	if (kv->key_len == 0 || kv->key_len >= sizeof(key))
		return NULL;
	memcpy(key, kv->key, kv->key_len);
	key[kv->key_len] = '\0';
	return bsearch(key, maps, NELEM(maps), sizeof(maps[0]), mapcmp);
}

/* The str value of key in kv, NUL-terminated into buf; NULL if absent. */
static const char *
find_str(const struct metrics_kv *kv, size_t n, const char *key, char *buf,
    size_t bufsz)
{
	size_t i, klen = strlen(key);

	for (i = 0; i < n; i++) {
		if (kv[i].kind != PROTO_KV_STR || kv[i].key_len != klen ||
		    memcmp(kv[i].key, key, klen) != 0)
			continue;
		snprintf(buf, bufsz, "%.*s", (int)(kv[i].s_len < bufsz ?
		    kv[i].s_len : bufsz - 1), kv[i].s);
		return buf;
	}
	return NULL;
}

static const char *const type_names[] = {
	[M_COUNTER] = "counter",
	[M_GAUGE] = "gauge",
	[M_UNTYPED] = "untyped",
};

static void
family(struct metrics_out *o, const char *name, enum mtype t,
    const char *help)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type_names[t]);
}

static void
sample_value(struct metrics_out *o, const struct metrics_kv *kv,
    unsigned scale)
{
	if (kv->kind == PROTO_KV_S64 && scale > 1)
		out_printf(o, " %.3f\n", (double)(int64_t)kv->u / scale);
	else if (kv->kind == PROTO_KV_S64)
		out_printf(o, " %" PRId64 "\n", (int64_t)kv->u);
	else if (scale > 1)
		out_printf(o, " %.3f\n", (double)kv->u / scale);
	else
		out_printf(o, " %" PRIu64 "\n", kv->u);
}

/* A metric name for a key the table does not know: larder_ + the key with
 * every byte outside [a-zA-Z0-9_] as '_'. 0, or -1 if it cannot be one. */
static int
fallback_name(const struct metrics_kv *kv, char *name, size_t size)
{
	size_t i, n = strlen("larder_");
	unsigned char c;

	if (kv->key_len == 0 || n + kv->key_len >= size)
		return -1;
	memcpy(name, "larder_", n);
	for (i = 0; i < kv->key_len; i++) {
		c = kv->key[i];
		name[n++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')) ? c : '_';
	}
	name[n] = '\0';
	return 0;
}

/* the prefix family of a key, or NULL */
static const struct prefix_map *
prefix_of(const struct metrics_kv *kv)
{
	size_t i, n;

	for (i = 0; i < NELEM(prefix_maps); i++) {
		n = strlen(prefix_maps[i].prefix);
		if (kv->key_len > n &&
		    memcmp(kv->key, prefix_maps[i].prefix, n) == 0)
			return &prefix_maps[i];
	}
	return NULL;
}

/*
 * One sample per numeric record of kv (STATUS, then STATS: the first
 * source of a name wins through seen), under the table's name, type,
 * scale and HELP, or as an untyped larder_<key> when the table does not
 * know the key. Left to others: strings (states()), conf.* (settings,
 * not measurements), prefix families, hist.* (histograms()), keys the
 * table maps to no name. Errors accumulate in o->err.
 */
static void
numbers(struct metrics_out *o, struct seen *seen,
    const struct metrics_kv *kv, size_t n)
{
	char name[NAME_MAX_LEN], help[NAME_MAX_LEN + 64];
	const struct map *m;
	size_t i;

	for (i = 0; i < n && !o->err; i++) {
		if (kv[i].kind != PROTO_KV_U64 && kv[i].kind != PROTO_KV_S64)
			continue;
		/* the config in force is not a measurement */
		if (kv[i].key_len >= 5 && memcmp(kv[i].key, "conf.", 5) == 0)
			continue;
		if (prefix_of(&kv[i]))
			continue;
		if (kv[i].key_len > 5 && memcmp(kv[i].key, "hist.", 5) == 0)
			continue;	/* histograms() */
		m = find_map(&kv[i]);
		if (m && !m->name)
			continue;
		if (!m) {
			if (fallback_name(&kv[i], name, sizeof(name)) < 0)
				continue;
			snprintf(help, sizeof(help), "larderd key %s (no "
			    "type known)", name + strlen("larder_"));
		}
		if (seen_add(seen, m ? m->name : name, o))
			continue;
		family(o, m ? m->name : name, m ? m->type : M_UNTYPED,
		    m ? m->help : help);
		out_add(o, m ? m->name : name, strlen(m ? m->name : name));
		sample_value(o, &kv[i], m ? m->scale : 1);
	}
}

/*
 * Contract in metrics.h: decode one sequence by its lead byte, then
 * refuse bad continuation bytes, overlong forms, surrogates and values
 * past U+10FFFF (RFC 3629). Pure; label_value and larderctl's json_str
 * call it on bytes from the daemon, which are not trusted.
 */
size_t
metrics_utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * A label value as the exposition format wants it: backslash, double
 * quote and newline escaped; other control bytes and bytes that are not
 * UTF-8 become U+FFFD (so two keys may render alike: callers dedupe).
 */
static void
label_value(struct metrics_out *o, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n && !o->err) {
		if (p[i] == '\\') {
			out_add(o, "\\\\", 2);
			i++;
		} else if (p[i] == '"') {
			out_add(o, "\\\"", 2);
			i++;
		} else if (p[i] == '\n') {
			out_add(o, "\\n", 2);
			i++;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			out_add(o, "\xef\xbf\xbd", 3);
			i++;
		} else if ((k = metrics_utf8_len(p + i, n - i)) == 0) {
			out_add(o, "\xef\xbf\xbd", 3);
			i++;
		} else {
			out_add(o, s + i, k);
			i += k;
		}
	}
}

/* The keys of each prefix family, as one labelled family. */
static void
prefix_families(struct metrics_out *o, struct seen *seen,
    const struct metrics_kv *kv, size_t n)
{
	const struct prefix_map *pm;
	size_t i, j, plen;
	int head;

	for (j = 0; j < NELEM(prefix_maps); j++) {
		pm = &prefix_maps[j];
		plen = strlen(pm->prefix);
		head = 0;
		for (i = 0; i < n && !o->err; i++) {
			if (kv[i].kind == PROTO_KV_STR || prefix_of(&kv[i]) != pm)
				continue;
			if (!head) {
				if (seen_add(seen, pm->name, o))
					break;
				family(o, pm->name, pm->type, pm->help);
				head = 1;
			}
			out_printf(o, "%s{%s=\"", pm->name, pm->label);
			label_value(o, kv[i].key + plen, kv[i].key_len - plen);
			out_add(o, "\"}", 2);
			sample_value(o, &kv[i], 1);
		}
	}
}

static void
gauge01(struct metrics_out *o, struct seen *seen, const char *name,
    const char *help, int v)
{
	if (seen_add(seen, name, o))
		return;
	family(o, name, M_GAUGE, help);
	out_printf(o, "%s %d\n", name, v ? 1 : 0);
}

static int
prefixed(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* State strings as 0/1 gauges: each only when its source is there. */
static void
states(struct metrics_out *o, struct seen *seen,
    const struct metrics_kv *kv, size_t n)
{
	char b1[256], b2[256], b3[256];
	const char *backend, *st, *ks, *cst, *kcull, *fs, *claim, *alloc,
	    *version;

	version = find_str(kv, n, "larderd.version", b1, sizeof(b1));
	backend = find_str(kv, n, "larderd.backend", b2, sizeof(b2));
	if (version || backend) {
		seen_add(seen, "larder_info", o);
		family(o, "larder_info", M_GAUGE,
		    "larderd version and backend (always 1)");
		out_add(o, "larder_info{version=\"", 21);
		label_value(o, version ? version : "", version ?
		    strlen(version) : 0);
		out_add(o, "\",backend=\"", 11);
		label_value(o, backend ? backend : "", backend ?
		    strlen(backend) : 0);
		out_add(o, "\"} 1\n", 5);
	}
	st = find_str(kv, n, "larderd.state", b1, sizeof(b1));
	ks = find_str(kv, n, "kernel.state", b3, sizeof(b3));
	if (backend && strcmp(backend, "kernel") == 0 && ks)
		gauge01(o, seen, "larder_bound", "1 while the cache is bound "
		    "(kernel mode: to /dev/cachefiles) and serving",
		    strcmp(ks, "bound") == 0);
	else if (st)
		gauge01(o, seen, "larder_bound", "1 while the cache is bound "
		    "(kernel mode: to /dev/cachefiles) and serving",
		    strcmp(st, "running") == 0);

	cst = find_str(kv, n, "cull.state", b1, sizeof(b1));
	kcull = find_str(kv, n, "kernel.culling", b2, sizeof(b2));
	if (cst || kcull)
		gauge01(o, seen, "larder_culling", "1 while culling",
		    prefixed(cst, "culling") ||
		    (kcull && strcmp(kcull, "yes") == 0));
	if (cst)
		gauge01(o, seen, "larder_cull_suspended", "1 while culling is "
		    "suspended (everything cullable is in use)",
		    prefixed(cst, "suspended"));

	fs = find_str(kv, n, "freeze.state", b1, sizeof(b1));
	if (fs) {
		gauge01(o, seen, "larder_frozen", "1 while a freeze is in "
		    "force (writes deferred)", prefixed(fs, "defer"));
		gauge01(o, seen, "larder_suspended", "1 while suspended "
		    "(write claim given back)", prefixed(fs, "suspend"));
		gauge01(o, seen, "larder_stalled", "1 while writes stall "
		    "(an unannounced freeze)", strcmp(fs, "stalled") == 0);
	}
	fs = find_str(kv, n, "freeze.fs_frozen_by_larderd", b1, sizeof(b1));
	if (fs)
		gauge01(o, seen, "larder_fs_frozen", "1 while larderd holds "
		    "the filesystem frozen (FIFREEZE)", strcmp(fs, "yes") == 0);
	claim = find_str(kv, n, "mount.claim", b1, sizeof(b1));
	if (claim)
		gauge01(o, seen, "larder_write_claim_held", "1 while larderd "
		    "holds its write claim on the cache filesystem",
		    strcmp(claim, "held") == 0);
	alloc = find_str(kv, n, "cull.allocate", b1, sizeof(b1));
	if (alloc)
		gauge01(o, seen, "larder_allocating", "1 while new objects and "
		    "fills are accepted (0: below bstop/fstop or over a cap)",
		    prefixed(alloc, "yes"));
}

/* ---- histograms (hist.h's records) --------------------------------------- */

#define HIST_MAX	8	/* histograms rendered */
#define HIST_MAX_B	32	/* finite buckets each */
#define HIST_NAME_MAX	32

struct hist {
	char name[HIST_NAME_MAX + 1];
	uint64_t le[HIST_MAX_B], cnt[HIST_MAX_B];
	size_t nb;
	uint64_t inf, sum_us;
	int has_inf, has_sum, bad;
};

static const struct {
	const char *name, *help;
} hist_help[] = {
	{ "acquire", "Time larderd took to answer a cookie acquire" },
	{ "cull_pass", "Duration of a cull pass" },
	{ "fill", "Time larderd took to answer a fill (write), the write "
	    "included" },
	{ "read", "Time larderd took to answer a cookie refresh (its part of "
	    "a read: clients read the object's fd themselves)" },
};

/* Parse decimal digits p[0..n) into *v (no sign, no overflow); 0 or -1. */
static int
parse_dec(const char *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 19)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(p[i] - '0');
	}
	*v = x;
	return 0;
}

/* The histogram named by k (a "hist.NAME.REST" key), made if new; its
 * REST in *rest. NULL when the key is malformed or too many. */
static struct hist *
hist_of(struct hist *h, size_t *nh, const struct metrics_kv *kv,
    const char **rest, size_t *restlen)
{
	const char *name = kv->key + 5, *end = kv->key + kv->key_len;
	const char *dot = memchr(name, '.', (size_t)(end - name));
	size_t n, i;

	if (!dot || dot == name || (n = (size_t)(dot - name)) > HIST_NAME_MAX)
		return NULL;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_'))
			return NULL;
	*rest = dot + 1;
	*restlen = (size_t)(end - dot - 1);
	for (i = 0; i < *nh; i++)
		if (strlen(h[i].name) == n && memcmp(h[i].name, name, n) == 0)
			return &h[i];
	if (*nh == HIST_MAX)
		return NULL;
	memset(&h[*nh], 0, sizeof(h[*nh]));
	memcpy(h[*nh].name, name, n);
	return &h[(*nh)++];
}

/* A bound in us as seconds, exactly: "0.00005", "2.5", "60". */
static void
le_str(uint64_t us, char *buf, size_t size)
{
	char frac[8];
	int k;

	snprintf(frac, sizeof(frac), "%06llu",
	    (unsigned long long)(us % 1000000));
	for (k = 5; k >= 0 && frac[k] == '0'; k--)
		frac[k] = '\0';
	snprintf(buf, size, "%llu%s%s", (unsigned long long)(us / 1000000),
	    frac[0] ? "." : "", frac);
}

/*
 * hist.NAME.le_us.N / .le_us.inf / .sum_us records as Prometheus
 * histograms. A histogram whose records do not make one (bounds not
 * rising, counts falling, no +Inf, no sum) is left out whole.
 */
static void
histograms(struct metrics_out *o, struct seen *seen,
    const struct metrics_kv *kv, size_t n)
{
	struct hist h[HIST_MAX];
	char name[NAME_MAX_LEN], help[128], le[32];
	const char *rest, *hp;
	size_t nh = 0, rl, i, j;
	struct hist *x;
	uint64_t v, last;

	for (i = 0; i < n; i++) {
		if (kv[i].key_len <= 5 || memcmp(kv[i].key, "hist.", 5) != 0)
			continue;
		if (!(x = hist_of(h, &nh, &kv[i], &rest, &rl)))
			continue;
		if (kv[i].kind != PROTO_KV_U64) {
			x->bad = 1;
		} else if (rl == 6 && memcmp(rest, "sum_us", 6) == 0) {
			x->sum_us = kv[i].u;
			x->has_sum = 1;
		} else if (rl == 9 && memcmp(rest, "le_us.inf", 9) == 0) {
			x->inf = kv[i].u;
			x->has_inf = 1;
		} else if (rl > 6 && memcmp(rest, "le_us.", 6) == 0 &&
		    parse_dec(rest + 6, rl - 6, &v) == 0 &&
		    x->nb < HIST_MAX_B && !x->has_inf &&
		    (x->nb == 0 || v > x->le[x->nb - 1]) &&
		    (x->nb == 0 || kv[i].u >= x->cnt[x->nb - 1])) {
			x->le[x->nb] = v;
			x->cnt[x->nb++] = kv[i].u;
		} else
			x->bad = 1;
	}
	for (i = 0; i < nh && !o->err; i++) {
		x = &h[i];
		last = x->nb ? x->cnt[x->nb - 1] : 0;
		if (x->bad || !x->has_inf || !x->has_sum || x->inf < last)
			continue;
		snprintf(name, sizeof(name), "larder_%.32s_duration_seconds",
		    x->name);
		if (seen_add(seen, name, o))
			continue;
		hp = NULL;
		for (j = 0; j < NELEM(hist_help); j++)
			if (strcmp(hist_help[j].name, x->name) == 0)
				hp = hist_help[j].help;
		if (!hp) {
			snprintf(help, sizeof(help), "larderd histogram %.32s",
			    x->name);
			hp = help;
		}
		out_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, hp,
		    name);
		for (j = 0; j < x->nb; j++) {
			le_str(x->le[j], le, sizeof(le));
			out_printf(o, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name,
			    le, x->cnt[j]);
		}
		out_printf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name,
		    x->inf);
		out_printf(o, "%s_sum %" PRIu64 ".%06" PRIu64 "\n", name,
		    x->sum_us / 1000000, x->sum_us % 1000000);
		out_printf(o, "%s_count %" PRIu64 "\n", name, x->inf);
	}
}

/* largest first; then more objects; then by key, for a stable order */
static int
volcmp(const void *a, const void *b)
{
	const struct metrics_vol *x = a, *y = b;
	size_t n;
	int c;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->objects != y->objects)
		return x->objects > y->objects ? -1 : 1;
	n = x->key_len < y->key_len ? x->key_len : y->key_len;
	if ((c = memcmp(x->key, y->key, n)) != 0)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* The per-volume counter families, and their sums over omitted volumes. */
static const struct {
	const char *name, *other, *help;
} vol_cnt[3] = {
	{ "larder_volume_hits_total", "larder_volumes_other_hits",
	    "Cookie acquires that found cached data, per volume" },
	{ "larder_volume_misses_total", "larder_volumes_other_misses",
	    "Cookie acquires that found nothing cached, per volume" },
	{ "larder_volume_fills_total", "larder_volumes_other_fills",
	    "Fills (writes) started, per volume" },
};

/* What volumes() writes: the labelled volumes, and the others' sums. */
struct vol_series {
	struct metrics_out lab[METRICS_MAX_VOLUMES];	/* label values */
	size_t idx[METRICS_MAX_VOLUMES];	/* lab[i] is v[idx[i]]'s */
	size_t nl;				/* labelled volumes */
	uint64_t oth_obj, oth_bytes, omitted;	/* over the others */
	uint64_t oth_cnt[3];			/* as vol_cnt */
};

/*
 * Choose the labelled volumes of v[0..n) (sorted) into vs (zeroed): the
 * first METRICS_MAX_VOLUMES whose escaped label is not an earlier one's;
 * sum the rest into vs. Stops at o->err, where a label's error goes too.
 * The caller frees vs->lab[0..nl).
 */
static void
pick_labelled(struct metrics_out *o, struct vol_series *vs,
    const struct metrics_vol *v, size_t n)
{
	struct metrics_out *lab = vs->lab;
	size_t i, j;
	int dup;

	for (i = 0; i < n && !o->err; i++) {
		dup = 0;
		if (vs->nl < METRICS_MAX_VOLUMES) {
			label_value(&lab[vs->nl], v[i].key, v[i].key_len);
			if (lab[vs->nl].err)
				o->err = lab[vs->nl].err;
			for (j = 0; j < vs->nl && !dup; j++)
				dup = lab[j].len == lab[vs->nl].len &&
				    memcmp(lab[j].p ? lab[j].p : "",
				    lab[vs->nl].p ? lab[vs->nl].p : "",
				    lab[vs->nl].len) == 0;
			if (!dup) {
				vs->idx[vs->nl++] = i;
				continue;
			}
			metrics_out_free(&lab[vs->nl]);
		}
		vs->oth_obj += v[i].objects;
		vs->oth_bytes += v[i].bytes;
		vs->oth_cnt[0] += v[i].hits;
		vs->oth_cnt[1] += v[i].misses;
		vs->oth_cnt[2] += v[i].fills;
		vs->omitted++;
	}
}

/*
 * Write the larder_volume_* families for the labelled volumes of vs;
 * the counter families only when counted (some row came with them).
 */
static void
labelled_series(struct metrics_out *o, const struct vol_series *vs,
    const struct metrics_vol *v, int counted)
{
	const struct metrics_out *lab = vs->lab;
	size_t i, k;

	family(o, "larder_volume_objects", M_GAUGE, "Objects in a volume (the "
	    "largest volumes only: see larder_volumes_omitted)");
	for (i = 0; i < vs->nl; i++) {
		out_add(o, "larder_volume_objects{volume=\"", 30);
		out_add(o, lab[i].p ? lab[i].p : "", lab[i].len);
		out_printf(o, "\"} %" PRIu64 "\n", v[vs->idx[i]].objects);
	}
	family(o, "larder_volume_bytes", M_GAUGE, "Bytes a volume's objects "
	    "use on disk (the largest volumes only)");
	for (i = 0; i < vs->nl; i++) {
		out_add(o, "larder_volume_bytes{volume=\"", 28);
		out_add(o, lab[i].p ? lab[i].p : "", lab[i].len);
		out_printf(o, "\"} %" PRIu64 "\n", v[vs->idx[i]].bytes);
	}
	for (k = 0; k < 3 && counted; k++) {
		family(o, vol_cnt[k].name, M_COUNTER, vol_cnt[k].help);
		for (i = 0; i < vs->nl; i++) {
			const struct metrics_vol *x = &v[vs->idx[i]];

			out_printf(o, "%s{volume=\"", vol_cnt[k].name);
			out_add(o, lab[i].p ? lab[i].p : "", lab[i].len);
			out_printf(o, "\"} %" PRIu64 "\n", k == 0 ? x->hits :
			    k == 1 ? x->misses : x->fills);
		}
	}
}

/*
 * Write larder_volumes_omitted and the larder_volumes_other_* sums of
 * vs; the counter sums only when counted.
 */
static void
other_series(struct metrics_out *o, const struct vol_series *vs, int counted)
{
	size_t k;

	family(o, "larder_volumes_omitted", M_GAUGE, "Volumes past the label "
	    "bound (" "larder_volume_* has at most 100 series) or whose "
	    "label would repeat another's");
	out_printf(o, "larder_volumes_omitted %" PRIu64 "\n", vs->omitted);
	family(o, "larder_volumes_other_objects", M_GAUGE,
	    "Objects of the omitted volumes");
	out_printf(o, "larder_volumes_other_objects %" PRIu64 "\n",
	    vs->oth_obj);
	family(o, "larder_volumes_other_bytes", M_GAUGE,
	    "Bytes of the omitted volumes");
	out_printf(o, "larder_volumes_other_bytes %" PRIu64 "\n",
	    vs->oth_bytes);
	for (k = 0; k < 3 && counted; k++) {
		family(o, vol_cnt[k].other, M_GAUGE, k == 0 ? "Hits of the "
		    "omitted volumes (a sum over a set that changes: it may "
		    "go down)" : k == 1 ? "Misses of the omitted volumes (may "
		    "go down)" : "Fills of the omitted volumes (may go down)");
		out_printf(o, "%s %" PRIu64 "\n", vol_cnt[k].other,
		    vs->oth_cnt[k]);
	}
}

/*
 * The per-volume families. Sorts v in place (largest first, volcmp);
 * the first METRICS_MAX_VOLUMES volumes with distinct label values get
 * larder_volume_* series, the rest (and any whose escaped label repeats
 * an earlier one) are summed into larder_volumes_other_* and counted in
 * larder_volumes_omitted, so the number of series stays bounded whatever
 * the daemon lists. The hit/miss/fill families appear only when some row
 * came with counters (LIST_VOLUME_STATS). Errors accumulate in o->err.
 */
static void
volumes(struct metrics_out *o, struct seen *seen, struct metrics_vol *v,
    size_t n)
{
	struct vol_series vs;
	size_t i;
	int counted = 0;

	memset(&vs, 0, sizeof(vs));
	if (n > 1)
		qsort(v, n, sizeof(*v), volcmp);
	pick_labelled(o, &vs, v, n);
	for (i = 0; i < n; i++)
		counted |= v[i].counted;
	if (!seen_add(seen, "larder_volumes", o)) {
		family(o, "larder_volumes", M_GAUGE, "Volumes in the cache");
		out_printf(o, "larder_volumes %zu\n", n);
	}
	labelled_series(o, &vs, v, counted);
	other_series(o, &vs, counted);
	for (i = 0; i < vs.nl; i++)
		metrics_out_free(&vs.lab[i]);
}

int
metrics_render(struct metrics_out *out,
    const struct metrics_kv *status, size_t nstatus,
    const struct metrics_kv *stats, size_t nstats,
    struct metrics_vol *vols, size_t nvols, int64_t now)
{
	struct seen seen = { 0 };

	states(out, &seen, status, nstatus);
	numbers(out, &seen, status, nstatus);
	numbers(out, &seen, stats, nstats);
	prefix_families(out, &seen, status, nstatus);
	prefix_families(out, &seen, stats, nstats);
	histograms(out, &seen, stats, nstats);
	volumes(out, &seen, vols, nvols);
	family(out, "larder_metrics_generated_timestamp_seconds", M_GAUGE,
	    "When these metrics were generated (unix time)");
	out_printf(out, "larder_metrics_generated_timestamp_seconds %" PRId64
	    "\n", now);
	free(seen.names);
	return out->err;
}

int
metrics_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}
