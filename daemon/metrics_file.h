/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics_file.h: the metrics_file writer (larder.conf(5)): every
 * metrics_interval seconds the main thread renders the metrics (metrics.h)
 * in memory and hands the text to a writer thread, which writes it to
 * PATH.tmp and renames that over PATH, for node_exporter's textfile
 * collector.
 *
 * The main thread never touches the filesystem here: its cost per tick is
 * the STATUS and STATS records, one pass over the index's volumes and the
 * rendering, all in memory. When the previous write has not finished (a
 * slow or frozen filesystem under PATH), the tick is skipped and counted
 * (metrics.skipped), never queued: at most one write is ever pending.
 */
#ifndef LARDER_METRICS_FILE_H
#define LARDER_METRICS_FILE_H

struct conf;

/* Start writing (at once, then every interval) if c names a file. Call
 * after the status and stats providers are registered. 0 or -errno. */
int metrics_file_start(const struct conf *c);
/* Per-volume hits, misses and fills are the store's (userspace mode);
 * kernel mode has none to give: call with 0 there. Default 1. */
void metrics_file_volume_counters(int on);
/* A reloaded config: a new path (the old file is removed), interval, or
 * none. */
void metrics_file_reconfigure(const struct conf *c);
/* Stop: the writer removes the file and exits; waited for at most about
 * a second (a writer stuck on a frozen filesystem is left behind). */
void metrics_file_stop(void);

#endif
