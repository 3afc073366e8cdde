/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * caps.h: drop every capability the configuration does not need (caps.c).
 *
 * Call once on the main thread after the steps that need privilege
 * (control_open, mount_open, the kernel's bind) and BEFORE any thread is
 * started (store_init, freeze_init, workq_create): capabilities and the
 * bounding set are per thread in Linux, and a thread inherits them from
 * the thread that creates it, so threads started earlier would keep
 * everything.
 *
 * What is kept:
 *   CAP_SYS_ADMIN  with `freeze defer' (FIFREEZE/FITHAW for freeze --fs)
 *                  and in kernel mode (/dev/cachefiles); dropped with
 *                  `freeze refuse' in userspace mode.
 *   CAP_DAC_OVERRIDE  in kernel mode only: the kernel's cache I/O runs
 *                  with larderd's credentials at bind, on mode-0000
 *                  objects. In kernel mode, call it before the bind, so
 *                  the kernel's copy has no more than this either.
 *   nothing else: larderd stays uid 0, owns every file of the cache, links
 *   tmpfiles through /proc/self/fd (no CAP_DAC_READ_SEARCH) and changes the
 *   socket's group at control_open, before the drop.
 * The bounding set loses everything not kept, so not even a bug that
 * execs a program can get them back.
 */
#ifndef LARDER_CAPS_H
#define LARDER_CAPS_H

#include <stddef.h>

struct conf;
struct ctl_kv;

#define CAPS_KERNEL_MODE	0x0001

/* Returns 0, or -errno with a message for the admin in err. Without the
 * privilege to change capabilities (not root), keeps what it has and
 * returns 0 after dropping what it may. */
int caps_drop(const struct conf *c, unsigned flags, char *err, size_t errsz);

/* status provider: "caps.kept" (names, or "none"), "caps.why" */
void caps_status(struct ctl_kv *kv);

#endif
