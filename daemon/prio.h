/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prio.h: the nice value of larderd's threads.
 *
 * The threads on a client's path (main, io, copy, meta, freeze, closer,
 * kernel mode's) run at larder.conf's `nice' (default -10), so that many
 * busy clients on few CPUs cannot starve the daemon that serves them all.
 * Background threads (cull, scan, reaper, names, metrics writer) run at
 * the nice larderd was started with, or at `nice' if that is higher.
 * Linux keeps a nice value per thread, and a new thread takes its
 * creator's: prio_start must run before any thread is made.
 */
#ifndef LARDER_PRIO_H
#define LARDER_PRIO_H

struct ctl_kv;

/* How a re-exec (handover.c) tells the new image the nice the first one
 * was started with: the main thread keeps the serving nice across exec. */
#define PRIO_ENV	"LARDER_NICE_STARTED"

/* Set the calling (main) thread's nice to `nice', remembering the one
 * larderd started with (or the one PRIO_ENV says, which it unsets). A nice it may not set (EPERM: no CAP_SYS_NICE, or
 * a seccomp filter such as systemd's ~@resources) is logged with what to
 * do and the thread keeps its nice: never an error. */
void prio_start(int nice);

/* Put the started nice in PRIO_ENV, for a re-exec. */
void prio_export_env(void);

/* The calling thread takes the background nice (a higher nice value is
 * always allowed; a filter that refuses it leaves the thread as is). */
void prio_background(void);

/* STATUS: nice.serving, nice.background, nice.started (conf.nice is
 * main.c's). */
void prio_status(struct ctl_kv *kv);

#endif
