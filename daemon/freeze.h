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
 * are served. freeze.c closes the write gate (gate.h) for GATE_DEFER,
 * GATE_SUSPEND and GATE_STALL while those hold.
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

/* May a new write (fill, create, link, cull rename) start now? Reads the
 * write gate (gate.h): 0 while a freeze, a suspend or a stall holds it. */
int freeze_writes_ok(void);

/* What freeze.c is doing, as `larderctl status` shows it (freeze.state):
 * suspend wins over a freeze, a freeze over a stall. */
enum freeze_state {
	FREEZE_RUNNING,
	FREEZE_DEFERRING,	/* draining for a freeze; "ready" not said */
	FREEZE_DEFERRED,	/* ready: no writes start */
	FREEZE_STALLED,		/* a write stalled: frozen by someone else */
	FREEZE_SUSPENDING,	/* draining to give the write claim back */
	FREEZE_SUSPENDED,	/* write claim given back (or being retaken) */
};
enum freeze_state freeze_state(void);
const char *freeze_state_str(void);

/*
 * The module whose writes a freeze must drain registers how: the store
 * (store_quiesce.c, from store_init) or, in kernel mode, kernel.c (it
 * withdraws the cache: closes /dev/cachefiles). A freeze with defer policy,
 * and a suspend, call quiesce(arg, flags, done, darg) and go on once
 * done(darg, err) has been called (on the main thread, maybe from inside
 * quiesce); flags has FREEZE_QUIESCE_CLOSE for a suspend (close every
 * write fd too). Only one quiesce runs at a time. After thaw, resume or the
 * time limit, once nothing needs the writes stopped, freeze.c calls
 * resume(arg). NULL unsets: without a backend a quiesce is done at once and
 * no write is ever seen stalled.
 */
#define FREEZE_QUIESCE_CLOSE	0x0001
struct freeze_backend {
	void (*quiesce)(void *arg, unsigned flags,
	    void (*done)(void *darg, int err), void *darg);
	void (*resume)(void *arg);
	/* Optional: age in ms of the backend's oldest write in flight (0:
	 * none), for stall detection. */
	uint64_t (*oldest_write_ms)(void *arg);
	/* Optional: said after "writes stalled" in the log: what a freeze
	 * nobody announced means for this backend. */
	const char *stall_note;
	void *arg;
};
void freeze_set_backend(const struct freeze_backend *b);

#endif
