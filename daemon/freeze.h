/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * freeze.h: the freeze handshake, unannounced-freeze (stall) detection and
 * suspend/resume (freeze.c). Main thread only.
 *
 * States: RUNNING; DEFERRING (draining for a freeze); DEFERRED (ready:
 * no writes start; optionally the fs is frozen by us, with a time limit);
 * STALLED (a write stalled: someone froze the fs without asking);
 * SUSPENDING/SUSPENDED (write claim given back). In every state but
 * RUNNING, fills answer ENOBUFS at once (or are queued, bounded) and reads
 * are served.
 */
#ifndef LARDER_FREEZE_H
#define LARDER_FREEZE_H

#include <stdint.h>

struct conf;

/* After loop_init, mount_open and store_init: registers the FREEZE, THAW,
 * SUSPEND and RESUME handlers (admin only) and the "freeze." status and
 * stats providers, starts its FIFREEZE/FITHAW worker and the stall timer. */
int freeze_init(const struct conf *c);
/* reload: new policy and freeze_timeout apply to the next freeze */
void freeze_reconfigure(const struct conf *c);
/* Before store_fini, control_close and mount_close: answers requests still
 * waiting, thaws the fs if larderd froze it. */
void freeze_fini(void);

/* May a new write (fill, create, link, cull rename) start now? */
int freeze_writes_ok(void);
const char *freeze_state_str(void);

/*
 * A backend other than the store (kernel mode: kernel.c) registers how it
 * quiesces. With a backend set, a freeze with defer policy calls
 * quiesce(arg, done, darg) instead of store_quiesce and answers ready once
 * done(darg, err) has been called (on the main thread); kernel mode
 * withdraws the cache there (closes /dev/cachefiles). After thaw, or when
 * the time limit thawed the fs, freeze.c calls resume(arg). NULL unsets.
 */
struct freeze_backend {
	void (*quiesce)(void *arg, void (*done)(void *darg, int err),
	    void *darg);
	void (*resume)(void *arg);
	/* Optional: age in ms of the backend's oldest write in flight (0:
	 * none), for stall detection; without it the store's is used. */
	uint64_t (*oldest_write_ms)(void *arg);
	/* Optional: said after "writes stalled" in the log: what a freeze
	 * nobody announced means in this mode. */
	const char *stall_note;
	void *arg;
};
void freeze_set_backend(const struct freeze_backend *b);

#endif
