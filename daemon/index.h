/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * index.h: the in-memory index of every object in the cache (index.c).
 * Main thread only. Compact: aim for at most 64 bytes per object.
 *
 * Objects are identified by (volume id, cooked name) and handled by a
 * 32-bit id that stays valid until index_del. The store keeps the index up
 * to date as it creates, uses, resizes and deletes objects; the startup scan
 * fills it; the culler picks victims from it. No periodic rescans.
 */
#ifndef LARDER_INDEX_H
#define LARDER_INDEX_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#define INDEX_NONE	UINT32_MAX
#define INDEX_MAX_VOLUMES 65535

enum index_state {
	INDEX_LIVE = 0,		/* on disk under its name */
	INDEX_CULLING = 1,	/* being moved to the graveyard: not usable */
};

enum index_policy {
	INDEX_POLICY_S3 = 0,	/* probation in front of the main set (default) */
	INDEX_POLICY_LRU = 1,	/* least recently used first */
};

int index_init(void);
void index_fini(void);
/* Which objects index_select_oldest puts first (see index.c). */
void index_set_policy(enum index_policy p);
enum index_policy index_get_policy(void);

/*
 * A use stamp for now: nanoseconds since the epoch (CLOCK_REALTIME), but
 * always greater than every stamp returned before or passed to index_add
 * and index_touch, so uses in a row are ordered in a row.
 */
int64_t index_now(void);

/* Volumes: an id per volume key (created on first use). -errno on error. */
int index_volume(const char *key);
const char *index_volume_key(uint16_t vol);	/* NULL if no such id */
unsigned index_volumes(void);			/* ids are 0 .. n-1 */

/* Find an object; INDEX_NONE if absent. */
uint32_t index_find(uint16_t vol, const char *name);
/* Add (or update, if present) an object, last used at last_use (ns since
 * the epoch; index_now() for now); INDEX_NONE on ENOMEM. A new object is
 * on probation until index_hit. Disk bytes are kept up to 2^48 - 1. */
uint32_t index_add(uint16_t vol, uint8_t fanout, const char *name,
    uint64_t disk_bytes, int64_t last_use);
void index_del(uint32_t id);

/*
 * Nameless entries (issue 15: memory at 10 M objects). index_add_ino adds
 * (or updates) an object like index_add but keeps only the 64-bit hash of
 * its name and the low 32 bits of its inode number, not the name: 36 bytes
 * per object whatever the name's length. For such an entry index_name()
 * is NULL and index_named() 0 until index_add() with its name names it
 * (the store does when it opens the object). index_find() and index_add()
 * match a nameless entry by hash: only two names of one volume with equal
 * 64-bit hashes (about n / 2^64 per lookup, 5e-13 at 10 M objects) could
 * be taken one for the other, and then only for bookkeeping (recency,
 * pins), never for a name: a name comes from index_resolve_dir, which
 * checks the inode too.
 */
uint32_t index_add_ino(uint16_t vol, uint8_t fanout, const char *name,
    uint64_t ino, uint64_t disk_bytes, int64_t last_use);
int index_named(uint32_t id);		/* index_name() gives the name */
uint64_t index_hash(uint32_t id);	/* index_name_hash() of its name */
uint32_t index_ino(uint32_t id);	/* low 32 bits; 0 if named */
/* The 64-bit hash the index keeps of a name. Pure: any thread. */
uint64_t index_name_hash(const char *name);

/*
 * Find names in one fan-out directory, for nameless entries, on a worker
 * thread (it reads the whole directory: never on the main thread). Any
 * thread; touches no index state. Fill each want's hash and ino from
 * index_hash() and index_ino() and name[0] = '\0'; the directory entry
 * whose inode's low 32 bits and name hash both match is copied to name,
 * found = 1. Wants with name[0] != '\0' are left alone. Returns how many
 * were found, or -errno if the directory could not be read (some may have
 * been found). The caller acts on the name as on any name it was given
 * (the file may be replaced meanwhile, as any name's).
 */
/* a getdents64(2) record (index_resolve_dir and scan.c read directories) */
struct dent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct index_want {
	uint64_t hash;
	uint32_t ino;
	int found;
	char name[256];
};
ssize_t index_resolve_dir(int dirfd, struct index_want *w, size_t n);

void index_set_bytes(uint32_t id, uint64_t disk_bytes);
/* Record a use at when, ns since the epoch (last use only moves forward;
 * index_now() for now). index_touch: recency only (the end of a use, a
 * busy victim); index_hit: a new use (a client's acquire, a newer atime
 * from the kernel), which also takes the object off probation. */
void index_touch(uint32_t id, int64_t when);
void index_hit(uint32_t id, int64_t when);
void index_pin(uint32_t id);		/* a client holds it: never culled */
void index_unpin(uint32_t id);
void index_set_state(uint32_t id, enum index_state st);

uint16_t index_vol(uint32_t id);
uint8_t index_fanout(uint32_t id);
/* NUL-terminated cooked name; valid until the next index_add or index_del
 * (the name arena may be compacted or moved then): copy it to keep it.
 * NULL for a nameless entry (index_add_ino). */
const char *index_name(uint32_t id);
uint64_t index_bytes(uint32_t id);
int64_t index_last_use(uint32_t id);	/* ns since the epoch */
unsigned index_pins(uint32_t id);
enum index_state index_get_state(uint32_t id);

/* atime write-back: last use not yet written to disk as atime */
int index_atime_dirty(uint32_t id);
void index_atime_clean(uint32_t id);

uint64_t index_objects(void);
uint64_t index_total_bytes(void);
uint64_t index_pinned_bytes(void);
uint64_t index_pinned_objects(void);	/* objects with pins > 0 */
/* releases so far (a pin count dropping to 0), and their bytes: what
 * resume_thresholds counts */
uint64_t index_released_objects(void);
uint64_t index_released_bytes(void);
/* per-volume totals */
uint64_t index_volume_objects(uint16_t vol);
uint64_t index_volume_bytes(uint16_t vol);
/* Per-volume counters for the metrics (main thread, like the rest). */
enum index_vol_count {
	INDEX_VOL_HITS = 0,
	INDEX_VOL_MISSES,
	INDEX_VOL_FILLS,
	INDEX_VOL_NCOUNT
};
void index_volume_count(uint16_t vol, enum index_vol_count what);
uint64_t index_volume_counter(uint16_t vol, enum index_vol_count what);

/* Iterate over the objects of vol (or all, vol < 0) in no particular order:
 * start with cursor 0; returns an id and sets *cursor, INDEX_NONE at end. */
uint32_t index_next(int vol, uint32_t *cursor);
/* The same, looking at no more than *budget slots (counted down): at
 * INDEX_NONE, *cursor < the end means the budget ran out there. */
uint32_t index_next_limit(int vol, uint32_t *cursor, uint32_t *budget);
/* the slot past the last (for index_next_limit's caller) */
uint32_t index_slots(void);

/* Fill out with up to n LIVE, unpinned objects, the first to cull first
 * (the policy's order; least recently used first under LRU). Returns how
 * many. */
size_t index_select_oldest(uint32_t *out, size_t n);

/*
 * The same selection in slices, so that the main thread never spends
 * seconds at once on it (issue 15: 8 to 13 s at 10 M objects): begin,
 * then index_select_step does about budget entries' worth of work each
 * time (look at entries, then sort what it kept) and returns 1 when all
 * is done (the index may change between steps), then
 * index_select_end puts up to n ids in out, in the policy's order,
 * leaving out those that changed since they were seen (deleted, reused,
 * used since, pinned or being culled: a later pass sees them as they
 * are). Without changes between steps it gives what index_select_oldest
 * gives. Entries added behind the cursor wait for the next selection.
 * begin: NULL on ENOMEM. Memory: 24 bytes per selected id (twice under
 * S3).
 */
#define INDEX_SELECT_SLICE	16384	/* entries per step: the culler's */
struct index_sel;
struct index_sel *index_select_begin(size_t n);
int index_select_step(struct index_sel *s, uint32_t budget);
size_t index_select_end(struct index_sel *s, uint32_t *out);
void index_select_free(struct index_sel *s);

/* bytes of memory the index uses now (for bytes/object figures) */
size_t index_memory(void);

#endif
