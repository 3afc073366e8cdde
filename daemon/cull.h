/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cull.h: space watch, thresholds, culling and the graveyard reaper (cull.c).
 *
 * cachefilesd's semantics: below bcull or fcull free, start culling; keep
 * culling until both brun and frun are met; below bstop or fstop refuse new
 * objects and fills (ENOBUFS) until culling frees space. max_size and
 * max_files cap the cache itself. nocull and -N disable culling.
 */
#ifndef LARDER_CULL_H
#define LARDER_CULL_H

#include <stdint.h>

struct conf;

/*
 * How one victim is removed. Userspace mode: rename it into graveyard/
 * (the reaper unlinks it later). Kernel mode: `cull NAME` on
 * /dev/cachefiles after fchdir. Called on a worker thread with copies of
 * everything it needs. Returns 0, -EBUSY (in use: skip), -ENOENT/-ESTALE
 * (already gone), or another -errno.
 */
struct cull_ops {
	int (*cull_one)(const char *volume_key, uint8_t fanout,
	    const char *name, void *arg);
	void *arg;
};

/* Start watching (timers on the main loop, reaper thread). rootfd: the
 * cache dir on the private mount. */
int cull_init(const struct conf *c, int rootfd, int nocull,
    const struct cull_ops *ops);
void cull_fini(void);
/* A new config (thresholds, caps, nocull) */
void cull_reconfigure(const struct conf *c);

/* 0 while below bstop/fstop or over a cap: fills answer ENOBUFS. */
int cull_can_allocate(void);
/* The cache grew (or the kernel says so): re-check soon. */
void cull_kick(void);
/* larderctl cull: mode/value as in proto.h; done(arg, objects, bytes,
 * err) is called on the main thread when the pass ends. */
int cull_request(uint32_t mode, uint64_t value,
    void (*done)(void *arg, uint64_t objects, uint64_t bytes, int err),
    void *arg);

#endif
