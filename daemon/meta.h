/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * meta.h: the meta thread (meta.c), the only thread that calls setxattr,
 * fdatasync, syncfs, sync_file_range, utimensat and that links new
 * objects into place.
 *
 * The main thread queues records; meta.c batches them on the main thread
 * (up to META_BATCH_MAX records or META_BATCH_MS milliseconds) and hands
 * one batch at a time to the meta thread. For a batch the thread first
 * makes the data of every file in it durable (fdatasync per file, or one
 * syncfs when the batch spans many files), then writes the xattrs, then
 * links new objects into place (linkat into <dir>/larder.new/ under a temporary
 * name, renameat over the final name), then writes atimes. So no xattr or
 * map on disk ever claims data that is not yet durable, and after a crash
 * an object is either absent or whole. Each record's done() runs on the
 * main thread with rec->err set.
 */
#ifndef LARDER_META_H
#define LARDER_META_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cfmt.h"

#define META_BATCH_MAX	64
#define META_BATCH_MS	20
/*
 * A batch whose timer fires while some queued record is still being
 * refreshed by its owner (meta_touch: a fill stream into the object) is
 * put off by META_STREAM_QUIET_MS at a time, until no record was touched
 * for that long, or the oldest queued record has waited
 * META_STREAM_MAX_MS: no barrier (fdatasync or syncfs) waits on the disk
 * in the middle of a stream, and one barrier covers the whole stream.
 * Meanwhile the meta thread starts the writeback of the streamed objects
 * without waiting for it (meta.c, kicks), so that barrier finds little
 * left to write. A flush (freeze, suspend, shutdown) or a full batch
 * still goes at once.
 */
#define META_STREAM_QUIET_MS	2
#define META_STREAM_MAX_MS	200

enum meta_kind {
	META_OBJECT = 1,	/* sync fd, xattrs, maybe link at path */
	META_VOLUME = 2,	/* volume xattrs on the directory at path:
				   user.CacheFiles.cache unless xattr_len is
				   0, then user.larder.owner if owner_len */
	META_ATIME = 3,		/* utimensat(path, atime) */
	META_SYNCFS = 4,	/* one syncfs of the cache filesystem */
};

/*
 * meta.c publishes a new object by linking its tmpfile as
 * <dir>/larder.new/META_LINK_PREFIX<pid>.<n> and renaming that over the
 * final name at once; store_init empties larder.new/ at start (what a crash
 * left there was never published). Nothing is staged in graveyard/, so
 * the reaper never sees these names.
 */
#define META_LINK_PREFIX	"Lnew."

#define META_PATH_MAX	(1 + CFMT_MAX_VOLUME_KEY + 5 + CFMT_MAX_NAME + 1)

struct meta_rec {
	struct meta_rec *next;		/* meta.c's lists */
	enum meta_kind kind;
	int submitted;			/* handed to the thread: do not edit */
	int fd;				/* META_OBJECT: the object (kept open by the owner) */
	int link;			/* META_OBJECT: link the tmpfile fd at path */
	int no_claim;			/* META_OBJECT: the xattrs claim no data
					 * (content none): no barrier first */
	uint8_t xattr[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX];
	size_t xattr_len;		/* 0: no user.CacheFiles.cache write */
	uint8_t *map;			/* malloc'd encoded user.larder.map, or NULL */
	size_t map_len;
	uint8_t owner[8];		/* META_VOLUME: user.larder.owner */
	size_t owner_len;		/* 0: no owner record write */
	char path[META_PATH_MAX];	/* relative to cache/ */
	struct timespec atime;
	uint64_t queued_ms;
	uint64_t touched_ms;		/* meta_touch, 0: never */
	int err;			/* result, -errno */
	int sync_failed;		/* result: the data is not durable */
	void (*done)(struct meta_rec *r);	/* main thread; may free r */
	void *arg;
};

/* cachefd: cache/; stagefd: <dir>/larder.new/, where new objects are
 * linked before they are renamed into place (both on the private mount,
 * kept open by the store) */
int meta_init(int cachefd, int stagefd);
void meta_fini(void);
/* Queue a record (main thread). */
void meta_queue(struct meta_rec *r);
/* Its owner refreshed r, queued and not submitted (main thread). */
void meta_touch(struct meta_rec *r);
/* Tests: the stream rule's quiet time and bound (META_STREAM_*_MS). */
void meta_set_stream_ms(unsigned quiet, unsigned max);
/* Tests: the thread reads 8 bytes from fd (an eventfd) before each batch,
 * so a test can hold a batch where a barrier would run; -1: no wait. */
void meta_set_barrier_gate(int fd);
/* Hand everything queued to the thread now and call done(arg) once it and
 * everything before it is finished. */
void meta_flush(void (*done)(void *arg), void *arg);
/*
 * A freeze's flush (store_quiesce.c). From meta_hold_records until
 * meta_release_records no object or volume record is written: those
 * queued, and those queued meanwhile, are held back in their order; a
 * batch in flight that has not begun its xattrs is stopped (the thread
 * skips the rest of it; its records go to the front of the held ones), so
 * the freeze does not wait for that batch's barrier. meta_flush_unheld
 * then waits only for what is not held (atimes, a syncfs record): the one
 * sync a freeze pays. The frozen filesystem thus holds what a power cut at
 * the freeze would have left, which is consistent (see the top), plus the
 * drained writes' data and the atimes: what the held records would claim
 * is a miss there, never a wrong byte. meta_flush (a graveyard move needs
 * it: no pending link may bring a file back after it) waits for held
 * records too: its waiter is parked until they are queued again, at the
 * release (or when a stopped batch comes back after it). A record held at
 * meta_fini is done with -ESHUTDOWN.
 */
void meta_flush_unheld(void (*done)(void *arg), void *arg);
void meta_hold_records(void);
void meta_release_records(void);
/* records queued (held too) or in flight; age of the oldest queued or in
 * flight, not held */
unsigned meta_pending(void);
uint64_t meta_oldest_ms(void);

struct meta_stats {
	uint64_t batches, records, fdatasyncs, syncfs, xattr_writes, links,
	    atimes, errors;
	uint64_t stream_waits;		/* batches put off for a stream */
	uint64_t kicks;			/* writebacks started during them */
	uint64_t records_held;		/* records a freeze held back */
	uint64_t batches_stopped;	/* batches a freeze stopped */
	uint64_t held;			/* held now (a gauge) */
};
void meta_get_stats(struct meta_stats *s);

#endif
