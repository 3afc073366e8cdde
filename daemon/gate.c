/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gate.c: the write gate (gate.h). A set of reason bits; writers are on
 * the main thread, readers anywhere (relaxed atomics: a reader that sees
 * the gate open a moment after it closed starts a write the closer's
 * drain then waits for, which is what the drain is for).
 */
#include <stdatomic.h>
#include <stddef.h>

#include "gate.h"

static _Atomic unsigned closed;

void
gate_close(unsigned reasons)
{
	atomic_fetch_or_explicit(&closed, reasons, memory_order_relaxed);
}

void
gate_open(unsigned reasons)
{
	atomic_fetch_and_explicit(&closed, ~reasons, memory_order_relaxed);
}

unsigned
gate_closed(void)
{
	return atomic_load_explicit(&closed, memory_order_relaxed);
}

int
gate_ok(unsigned mask)
{
	return (gate_closed() & mask) == 0;
}

const char *
gate_why(unsigned reasons)
{
	if (reasons & GATE_DEFER)
		return "cache frozen";
	if (reasons & GATE_SUSPEND)
		return "cache suspended";
	if (reasons & GATE_STALL)
		return "cache filesystem stalled (frozen?)";
	if (reasons & GATE_QUIESCE)
		return "cache quiescing";
	if (reasons & GATE_FULL)
		return "cache full";
	return NULL;
}

void
gate_reset(void)
{
	atomic_store_explicit(&closed, 0, memory_order_relaxed);
}
