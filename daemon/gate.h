/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gate.h: the write gate (gate.c). One place says whether a new write may
 * start: a fill, an object or volume creation, a link, a cull rename.
 * Several owners close it, each for its own reason, and it is open only
 * when no reason holds:
 *
 *   GATE_DEFER    freeze.c: a freeze handshake is draining or ready
 *   GATE_SUSPEND  freeze.c: suspending or suspended (write claim given back)
 *   GATE_STALL    freeze.c: a write stalled (the fs was frozen unannounced)
 *   GATE_QUIESCE  the store is draining its writes and its meta queue
 *   GATE_FULL     cull.c: below bstop/fstop or over a cap (fills and new
 *                 objects only: culling itself must go on, see GATE_SPACE)
 *
 * Closing and opening happen on the main thread; reading is one relaxed
 * atomic load and may happen on any thread. A reason closed twice is
 * closed once (the bits are a set, not counters).
 */
#ifndef LARDER_GATE_H
#define LARDER_GATE_H

enum gate_reason {
	GATE_DEFER	= 1u << 0,
	GATE_SUSPEND	= 1u << 1,
	GATE_STALL	= 1u << 2,
	GATE_QUIESCE	= 1u << 3,
	GATE_FULL	= 1u << 4,
};

/* The reasons that stop every write but a cull rename (which frees space,
 * so GATE_FULL must not stop it). */
#define GATE_FS	(GATE_DEFER | GATE_SUSPEND | GATE_STALL | GATE_QUIESCE)

void gate_close(unsigned reasons);
void gate_open(unsigned reasons);

/* The reasons holding now (0: open). */
unsigned gate_closed(void);

/* 1 if none of the reasons in mask holds. */
int gate_ok(unsigned mask);

/* Why writes are refused, for an error message or the status: the first
 * reason of `reasons` in the order above ("cache frozen", ...); NULL for 0. */
const char *gate_why(unsigned reasons);

/* Tests: open every reason. */
void gate_reset(void);

#endif
