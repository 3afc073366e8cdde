/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kernel.h: kernel mode (kernel.c), larderd as a drop-in replacement for
 * cachefilesd on the kernel's /dev/cachefiles.
 *
 * In kernel mode the kernel's CacheFiles writes the cache; larderd
 * configures and binds it, keeps the index of the kernel's tree, and culls
 * it with `inuse` and `cull` through the same index and culler as
 * userspace mode. The cache directory is the private mount (mount.h,
 * MOUNT_ATTACH_PRIVATE | MOUNT_KEEP_ATIME): larderd unshares its mount
 * namespace, attaches the clone at a private path and binds the kernel
 * there, holding the write claim on it.
 *
 * Startup order (main.c's kernel-mode list, main thread): log_init,
 *   daemonise, pidfile, loop_init, signals, control_open, freeze_init,
 *   kernel_open, mount_open (MOUNT_ATTACH_PRIVATE | MOUNT_KEEP_ATIME),
 *   index_init, kernel_start, loop_run; then the reverse: kernel_stop,
 *   index_fini, mount_close, freeze_fini. No store_init in kernel mode: the kernel is
 *   the store. kernel_start registers its freeze backend hook (freeze.h)
 *   and starts culling (cull_init) itself once its first scan has filled
 *   the index.
 */
#ifndef LARDER_KERNEL_H
#define LARDER_KERNEL_H

struct conf;

#define KERNEL_DEVICE	"/dev/cachefiles"

/* kernel_start flags */
#define KERNEL_NOCULL	0x0001	/* -N: never cull (the config's nocull too) */

/*
 * Whether kernel mode can run here: 1 if /dev/cachefiles exists and can be
 * opened (it is closed again at once), or is busy (another daemon holds
 * it: kernel_start then fails with a clear message); 0 otherwise
 * (no CacheFiles module loaded, no device, not root). For `backend auto`.
 */
int kernel_available(void);

/*
 * Open /dev/cachefiles, or take the bound one the larderd before us handed
 * over (handover.h): before the private mount, so that the usual failure,
 * EBUSY while cachefilesd runs, comes before anything is made. 0 or -errno
 * (logged, with what to do); kernel_stop closes it.
 */
int kernel_open(void);

/*
 * Start kernel mode on the device kernel_open opened, the private mount
 * main.c made and claimed, and an index_init'ed index: send the config (thresholds
 * in an order the kernel accepts), bind, build the index from the
 * kernel's tree, start culling, register the status and stats providers
 * and watch the device on the main loop. Every failure is logged ("file:line: reason" for a config
 * line the kernel refuses). Returns 0 or -errno; on failure everything
 * taken is given back.
 */
int kernel_start(const struct conf *c, unsigned flags);

/* Withdraw the cache (close /dev/cachefiles), stop culling and scanning.
 * The private mount and the index stay (main.c closes them after). Safe
 * to call after a failed start, and twice. */
void kernel_stop(void);

/* At a stop that hands over (handover.h): give the bound device (not
 * while withdrawn); main.c gives the claim (mount_handover). Before
 * kernel_stop. */
void kernel_handover(void);

/* A new config (SIGHUP / larderctl reload): culling thresholds and caps
 * apply at once; the kernel keeps the thresholds it computed at bind until
 * the next bind (a freeze with defer policy rebinds). */
void kernel_reconfigure(const struct conf *c);

#endif
