/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * index.c: the in-memory index of every object (see index.h).
 *
 * Layout, chosen to stay well under 64 bytes per object all included:
 *
 *  - ents[]: a flat array of 24-byte entries, grown by a sixteenth when
 *    full (realloc of a big block is an mremap, not a copy, so small steps
 *    cost little and leave at most 1/17 of it unused). An object's id is its
 *    slot; free slots are chained through ref into a free list and reused
 *    first, so ids stay dense.
 *  - names: an append-only arena addressed by a u32 offset (ref), grown by
 *    a sixteenth too. A named entry's ref points to its NUL-terminated cooked
 *    name; a nameless one's (F_NAMELESS, below) to a 12-byte record: the
 *    64-bit hash of its name and the low 32 bits of its inode number. A
 *    deleted entry leaves garbage behind; when the garbage outgrows the
 *    live bytes the arena is compacted in one O(n) pass (so index_name()
 *    pointers die at the next add or delete).
 *  - tab[]: an open-addressing (linear probing) hash table of u32 ids keyed
 *    by (vol, 64-bit hash of the name), of any size (home slot by
 *    multiply-shift), kept 1/2 to 3/4 full: it grows by half (by a quarter
 *    it took less memory but twice the CPU per add, all in rehashing);
 *    deleted from with backward shift (no tombstones). So a nameless entry
 *    costs at most 36 * 17/16 + 4 / (1/2) = 46.3 bytes, at least 41.3.
 *
 * Nameless entries (issue 15, index_add_ino): at 10 M objects the names are
 * most of the memory (a 34-byte name costs more than the rest of its entry
 * and its table slot together), yet the index needs a name only to act on
 * the object: to cull it, list it, write its atime. A nameless entry keeps
 * the name's 64-bit hash and the low 32 bits of the inode instead: 24 + 12
 * bytes whatever the name's length. index_find() and index_add() match it
 * by hash (see index.h for what a collision of 64-bit hashes could do);
 * index_add() with the name names it (the store does that when it opens an
 * object). Whoever needs the name of a nameless entry reads its fan-out
 * directory on a worker thread with index_resolve_dir(), which takes a
 * name only if both its hash and its inode match: a hash collision cannot
 * give another object's name, and the directory read never happens on the
 * main thread.
 *
 * Recency: each entry keeps its last use as a 64-bit stamp in nanoseconds
 * since the epoch from index_now(), a hybrid clock: the wall clock, but
 * always at least one more than the last stamp it gave or saw (index_add,
 * index_touch). So two uses in a row never share a stamp, whatever the
 * clock's resolution or a step back of the clock, and the stamp is a real
 * time that the store writes back as atime with full timespec precision:
 * a restart (the scan reads atime to the nanosecond) keeps the order.
 * Equal stamps can only come from the disk (atimes the kernel set with
 * its coarse clock, copied trees); they are broken by a hash of the id, so
 * neither older nor newer slots win ties systematically.
 *
 * Policy (index_set_policy): INDEX_POLICY_LRU culls in last-use order.
 * INDEX_POLICY_S3 (the default, after tests/bench/bench_replay) keeps a
 * small probationary set in front of the main one, as S3-FIFO and 2Q do:
 * an object comes in on probation and joins the main set when it is used
 * again (index_hit: a client's acquire, a newer atime in kernel mode);
 * victims are the least recently used of probation while probation holds
 * more than a tenth of the bytes, else the least recently used of the main
 * set. A one-off pass over many objects (a backup, a find | xargs cat)
 * then churns probation only and leaves the reused objects alone. One
 * flag bit per entry; the selection below is the only consumer.
 *
 * Selection: there is no per-access list. index_touch only stores a stamp,
 * which keeps the hot path a single store and costs no memory; an O(1) LRU list
 * would need two u32 links per entry (+8 bytes, a third of an entry) and
 * cache-missing writes on every access. Instead index_select_oldest does a
 * partial selection in O(n log k) with a bounded max-heap of the k oldest
 * (built in the caller's buffer, so no allocation). The culler asks for a
 * batch of 2^culltable candidates per pass and passes are rare, so a scan
 * of 1e6 entries (a few ms) per pass is cheap next to the renames it drives.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "index.h"

#define F_USED		0x01	/* slot holds an object */
#define F_CULLING	0x02	/* INDEX_CULLING */
#define F_ADIRTY	0x04	/* last use newer than the atime on disk */
#define F_MAIN		0x08	/* used again since it came in (INDEX_POLICY_S3) */
#define F_NAMELESS	0x10	/* ref: a struct nrec, not a name */

#define BYTES_BITS	48	/* disk bytes kept per object: up to 256 TiB */
#define BYTES_MAX	((UINT64_C(1) << BYTES_BITS) - 1)
#define RESOLVE_BUF	(64 * 1024)	/* getdents64 buffer */
#define SMALL_SHARE	10	/* probation: 1/10 of the bytes (S3-FIFO's) */

struct ent {
	uint64_t use;		/* last use: ns since the epoch (index_now) */
	uint64_t bv;		/* disk bytes (low 48 bits) | volume << 48 */
	uint32_t ref;		/* offset in the arena; free list link if !F_USED */
	uint16_t pins;		/* store objects holding it (saturates) */
	uint8_t fanout;
	uint8_t flags;
};

_Static_assert(sizeof(struct ent) == 24, "an entry stays 24 bytes");

/* What a nameless entry's ref points to in the arena (unaligned: memcpy). */
struct nrec {
	uint64_t hash;		/* index_name_hash() of the name */
	uint32_t ino;		/* low 32 bits of the inode number */
} __attribute__((packed));

#define NREC_SIZE	sizeof(struct nrec)
_Static_assert(NREC_SIZE == 12, "a nameless record is 12 bytes");

struct vol {
	char *key;
	uint64_t objects;
	uint64_t bytes;
	uint64_t count[INDEX_VOL_NCOUNT];	/* hits, misses, fills */
};

static struct {
	struct ent *ents;
	uint32_t nents;		/* slots in use or on the free list */
	uint32_t capents;
	uint32_t freelist;	/* INDEX_NONE: empty */
	uint64_t objects;
	uint64_t bytes;
	uint64_t pinned_bytes;
	uint64_t pinned_objects;
	uint64_t released_objects;
	uint64_t released_bytes;
	uint64_t small_bytes;	/* objects on probation (not F_MAIN) */
	int64_t clock;		/* the last stamp given or seen */
	enum index_policy policy;

	uint32_t *tab;
	uint32_t tabsize;	/* slots */

	char *names;
	uint32_t namelen;	/* bytes used (live + garbage) */
	uint32_t namecap;
	uint32_t namegarbage;

	struct vol *vols;
	unsigned nvols;
	unsigned capvols;
} ix;

static uint64_t
avalanche(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The 64-bit hash of a name (FNV-1a, then a final avalanche). Pure. */
uint64_t
index_name_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p = (const unsigned char *)name;

	while (*p)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return avalanche(h);
}

/* The home slot of (vol, name hash) in a table of size slots. */
static uint32_t
home(uint16_t vol, uint64_t h, uint32_t size)
{
	uint32_t x = (uint32_t)(avalanche(h ^ ((uint64_t)vol << 48)) >> 32);

	return (uint32_t)(((uint64_t)x * size) >> 32);
}

static uint32_t
next_slot(uint32_t i)
{
	return i + 1 == ix.tabsize ? 0 : i + 1;
}

static const char *
ent_name(const struct ent *e)
{
	return ix.names + e->ref;
}

static struct nrec
ent_nrec(const struct ent *e)
{
	struct nrec r;

	memcpy(&r, ix.names + e->ref, sizeof(r));
	return r;
}

/* The entry's name hash: kept if nameless, else computed from the name. */
static uint64_t
ent_hash(const struct ent *e)
{
	return (e->flags & F_NAMELESS) ? ent_nrec(e).hash :
	    index_name_hash(ent_name(e));
}

/* Bytes the entry takes in the arena. */
static size_t
ent_arena(const struct ent *e)
{
	return (e->flags & F_NAMELESS) ? NREC_SIZE : strlen(ent_name(e)) + 1;
}

static uint64_t
ent_bytes(const struct ent *e)
{
	return e->bv & BYTES_MAX;
}

static uint16_t
ent_vol(const struct ent *e)
{
	return (uint16_t)(e->bv >> BYTES_BITS);
}

/* Set the bytes (clamped to BYTES_MAX, which the totals then count). */
static void
ent_set(struct ent *e, uint16_t vol, uint64_t bytes)
{
	e->bv = (uint64_t)vol << BYTES_BITS |
	    (bytes > BYTES_MAX ? BYTES_MAX : bytes);
}

static int
valid(uint32_t id)
{
	return id < ix.nents && (ix.ents[id].flags & F_USED);
}

int
index_init(void)
{
	memset(&ix, 0, sizeof(ix));
	ix.freelist = INDEX_NONE;
	ix.policy = INDEX_POLICY_S3;
	ix.tab = malloc(16 * sizeof(*ix.tab));
	if (ix.tab == NULL)
		return -ENOMEM;
	memset(ix.tab, 0xff, 16 * sizeof(*ix.tab));
	ix.tabsize = 16;
	return 0;
}

void
index_fini(void)
{
	unsigned i;

	for (i = 0; i < ix.nvols; i++)
		free(ix.vols[i].key);
	free(ix.vols);
	free(ix.ents);
	free(ix.tab);
	free(ix.names);
	memset(&ix, 0, sizeof(ix));
	ix.freelist = INDEX_NONE;
}

void
index_set_policy(enum index_policy p)
{
	ix.policy = p == INDEX_POLICY_LRU ? INDEX_POLICY_LRU : INDEX_POLICY_S3;
}

enum index_policy
index_get_policy(void)
{
	return ix.policy;
}

/* The wall clock in ns since the epoch. */
static int64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
index_now(void)
{
	int64_t t = wall_ns();

	if (t <= ix.clock)
		t = ix.clock + 1;
	ix.clock = t;
	return t;
}

/*
 * A stamp from outside (the disk, a caller). One in the future (a clock
 * that was ahead, or any bits on a disk) counts as now: it must not drag
 * the clock along, nor stay newest forever. Otherwise the clock moves up
 * to it, so uses after it are newer.
 */
static uint64_t
seen(int64_t t)
{
	int64_t w;

	if (t < 0)
		t = 0;
	if (t > ix.clock) {
		w = wall_ns();
		if (t > w)
			t = w > ix.clock ? w : ix.clock;
		ix.clock = t;
	}
	return (uint64_t)t;
}

int
index_volume(const char *key)
{
	struct vol *nv;
	unsigned i, cap;

	for (i = 0; i < ix.nvols; i++)
		if (strcmp(ix.vols[i].key, key) == 0)
			return (int)i;
	if (ix.nvols >= INDEX_MAX_VOLUMES)
		return -ENOSPC;
	if (ix.nvols == ix.capvols) {
		cap = ix.capvols ? ix.capvols * 2 : 8;
		nv = realloc(ix.vols, cap * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		ix.vols = nv;
		ix.capvols = cap;
	}
	nv = &ix.vols[ix.nvols];
	memset(nv, 0, sizeof(*nv));
	if ((nv->key = strdup(key)) == NULL)
		return -ENOMEM;
	return (int)ix.nvols++;
}

void
index_volume_count(uint16_t vol, enum index_vol_count what)
{
	if (vol < ix.nvols && (unsigned)what < INDEX_VOL_NCOUNT)
		ix.vols[vol].count[what]++;
}

uint64_t
index_volume_counter(uint16_t vol, enum index_vol_count what)
{
	if (vol < ix.nvols && (unsigned)what < INDEX_VOL_NCOUNT)
		return ix.vols[vol].count[what];
	return 0;
}

const char *
index_volume_key(uint16_t vol)
{
	return vol < ix.nvols ? ix.vols[vol].key : NULL;
}

unsigned
index_volumes(void)
{
	return ix.nvols;
}

/*
 * Slot in tab[] holding the entry of (vol, name), or of the empty slot where
 * it goes; h is index_name_hash(name). A named entry matches by name, a
 * nameless one by its kept hash.
 */
static uint32_t
lookup_slot(uint16_t vol, const char *name, uint64_t h)
{
	uint32_t i = home(vol, h, ix.tabsize), id;
	const struct ent *e;

	for (;; i = next_slot(i)) {
		id = ix.tab[i];
		if (id == INDEX_NONE)
			return i;
		e = &ix.ents[id];
		if (ent_vol(e) != vol)
			continue;
		if ((e->flags & F_NAMELESS) ? ent_nrec(e).hash == h :
		    strcmp(ent_name(e), name) == 0)
			return i;
	}
}

uint32_t
index_find(uint16_t vol, const char *name)
{
	return ix.tab[lookup_slot(vol, name, index_name_hash(name))];
}

/* Grow the hash table by half and reinsert every id. */
static int
grow_table(void)
{
	uint32_t *nt, *old = ix.tab, oldsize = ix.tabsize, i, j, id;
	uint64_t size = (uint64_t)oldsize + oldsize / 2;

	if (size > UINT32_MAX)
		return -ENOMEM;
	if ((nt = malloc(size * sizeof(*nt))) == NULL)
		return -ENOMEM;
	memset(nt, 0xff, size * sizeof(*nt));
	for (i = 0; i < oldsize; i++) {
		if ((id = old[i]) == INDEX_NONE)
			continue;
		j = home(ent_vol(&ix.ents[id]), ent_hash(&ix.ents[id]),
		    (uint32_t)size);
		while (nt[j] != INDEX_NONE)
			j = j + 1 == size ? 0 : j + 1;
		nt[j] = id;
	}
	ix.tab = nt;
	ix.tabsize = (uint32_t)size;
	free(old);
	return 0;
}

/* The table slot holding id (a valid id is always in the table). */
static uint32_t
slot_of(uint32_t id)
{
	uint32_t i = home(ent_vol(&ix.ents[id]), ent_hash(&ix.ents[id]),
	    ix.tabsize);

	while (ix.tab[i] != id)
		i = next_slot(i);
	return i;
}

/* Remove the id at slot i, shifting back the entries of its cluster. */
static void
table_remove(uint32_t i)
{
	uint32_t j = i, k, id;

	for (;;) {
		ix.tab[i] = INDEX_NONE;
		for (;;) {
			j = next_slot(j);
			if ((id = ix.tab[j]) == INDEX_NONE)
				return;
			k = home(ent_vol(&ix.ents[id]), ent_hash(&ix.ents[id]),
			    ix.tabsize);
			/* move it if its home k is not cyclically in (i, j] */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		ix.tab[i] = ix.tab[j];
		i = j;
	}
}

/* Rewrite the arena with only the live names and records. */
static int
compact_names(void)
{
	uint32_t live = ix.namelen - ix.namegarbage, cap, off = 0, i;
	char *nn;
	size_t l;

	cap = live + live / 8 + 64;
	if ((nn = malloc(cap)) == NULL)
		return -ENOMEM;
	for (i = 0; i < ix.nents; i++) {
		struct ent *e = &ix.ents[i];

		if (!(e->flags & F_USED))
			continue;
		l = ent_arena(e);
		memcpy(nn + off, ix.names + e->ref, l);
		e->ref = off;
		off += l;
	}
	free(ix.names);
	ix.names = nn;
	ix.namelen = off;
	ix.namecap = cap;
	ix.namegarbage = 0;
	return 0;
}

/* Copy l bytes (a name and its NUL, or a record) into the arena; their
 * offset in *off. */
static int
store_name(const void *name, size_t l, uint32_t *off)
{
	uint64_t cap;
	char *nn;

	if (ix.namegarbage > 4096 && ix.namegarbage > ix.namelen / 2)
		(void)compact_names();	/* on ENOMEM just grow instead */
	if ((uint64_t)ix.namelen + l > ix.namecap) {
		cap = ix.namecap ? (uint64_t)ix.namecap + ix.namecap / 16 : 4096;
		if (cap < (uint64_t)ix.namelen + l)
			cap = (uint64_t)ix.namelen + l;
		if (cap > UINT32_MAX)
			return -ENOMEM;
		if ((nn = realloc(ix.names, cap)) == NULL)
			return -ENOMEM;
		ix.names = nn;
		ix.namecap = cap;
	}
	memcpy(ix.names + ix.namelen, name, l);
	*off = ix.namelen;
	ix.namelen += l;
	return 0;
}

/* A free entry slot: from the free list, or a new one at the end. */
static uint32_t
alloc_ent(void)
{
	uint32_t id, cap;
	struct ent *ne;

	if (ix.freelist != INDEX_NONE) {
		id = ix.freelist;
		ix.freelist = ix.ents[id].ref;
		return id;
	}
	if (ix.nents == ix.capents) {
		if (ix.capents >= INDEX_NONE - 1)
			return INDEX_NONE;
		cap = ix.capents ? ix.capents + ix.capents / 16 : 1024;
		if (cap < ix.capents || cap >= INDEX_NONE)
			cap = INDEX_NONE - 1;
		if ((ne = realloc(ix.ents, (size_t)cap * sizeof(*ne))) == NULL)
			return INDEX_NONE;
		ix.ents = ne;
		ix.capents = cap;
	}
	return ix.nents++;
}

/* An existing entry seen again: fan-out, a later last use, new bytes. */
static void
update_ent(uint32_t id, uint8_t fanout, uint64_t disk_bytes, int64_t last_use)
{
	uint64_t t = seen(last_use);
	struct ent *e = &ix.ents[id];

	e->fanout = fanout;
	if (t > e->use)
		e->use = t;
	index_set_bytes(id, disk_bytes);
}

/*
 * Add a new entry for (vol, h) at the empty table slot *slot (looked up
 * again if the table grows), its arena bytes rec[0..l) (a name and its
 * NUL, or a struct nrec if flags has F_NAMELESS). INDEX_NONE on ENOMEM.
 */
static uint32_t
new_ent(uint16_t vol, uint8_t fanout, const char *name, uint64_t h,
    const void *rec, size_t l, uint8_t flags, uint64_t disk_bytes,
    int64_t last_use)
{
	uint32_t slot, id, off;
	struct ent *e;

	/* keep the table at most 3/4 full */
	if ((uint64_t)(ix.objects + 1) * 4 > (uint64_t)ix.tabsize * 3 &&
	    grow_table() < 0)
		return INDEX_NONE;
	slot = lookup_slot(vol, name, h);
	if (store_name(rec, l, &off) < 0)
		return INDEX_NONE;
	if ((id = alloc_ent()) == INDEX_NONE) {
		ix.namelen -= l;	/* give the bytes back */
		return INDEX_NONE;
	}
	e = &ix.ents[id];
	ent_set(e, vol, disk_bytes);
	disk_bytes = ent_bytes(e);
	e->ref = off;
	e->use = seen(last_use);
	e->pins = 0;
	e->fanout = fanout;
	e->flags = F_USED | flags;
	ix.tab[slot] = id;
	ix.objects++;
	ix.bytes += disk_bytes;
	ix.small_bytes += disk_bytes;
	ix.vols[vol].objects++;
	ix.vols[vol].bytes += disk_bytes;
	return id;
}

/* Give a nameless entry its name (which hashes to its kept hash). */
static void
name_ent(uint32_t id, const char *name)
{
	size_t l = strlen(name) + 1;
	uint32_t off;

	/* (store_name may compact the arena: ents[id].ref is read after) */
	if (store_name(name, l, &off) < 0)
		return;		/* stays nameless: still right, just unnamed */
	ix.namegarbage += NREC_SIZE;
	ix.ents[id].ref = off;
	ix.ents[id].flags &= ~F_NAMELESS;
}

uint32_t
index_add(uint16_t vol, uint8_t fanout, const char *name, uint64_t disk_bytes,
    int64_t last_use)
{
	uint64_t h;
	uint32_t id;

	if (vol >= ix.nvols || name == NULL || *name == '\0')
		return INDEX_NONE;
	h = index_name_hash(name);
	if ((id = ix.tab[lookup_slot(vol, name, h)]) != INDEX_NONE) {
		if (ix.ents[id].flags & F_NAMELESS)
			name_ent(id, name);
		update_ent(id, fanout, disk_bytes, last_use);
		return id;
	}
	return new_ent(vol, fanout, name, h, name, strlen(name) + 1, 0,
	    disk_bytes, last_use);
}

uint32_t
index_add_ino(uint16_t vol, uint8_t fanout, const char *name, uint64_t ino,
    uint64_t disk_bytes, int64_t last_use)
{
	struct nrec r;
	uint32_t id;

	if (vol >= ix.nvols || name == NULL || *name == '\0')
		return INDEX_NONE;
	r.hash = index_name_hash(name);
	r.ino = (uint32_t)ino;
	if ((id = ix.tab[lookup_slot(vol, name, r.hash)]) != INDEX_NONE) {
		if (ix.ents[id].flags & F_NAMELESS)	/* a new file there */
			memcpy(ix.names + ix.ents[id].ref, &r, sizeof(r));
		update_ent(id, fanout, disk_bytes, last_use);
		return id;
	}
	return new_ent(vol, fanout, name, r.hash, &r, sizeof(r), F_NAMELESS,
	    disk_bytes, last_use);
}

void
index_del(uint32_t id)
{
	struct ent *e;
	uint16_t vol;
	uint64_t b;

	if (!valid(id))
		return;
	e = &ix.ents[id];
	vol = ent_vol(e);
	b = ent_bytes(e);
	table_remove(slot_of(id));
	ix.namegarbage += ent_arena(e);
	ix.objects--;
	ix.bytes -= b;
	if (!(e->flags & F_MAIN))
		ix.small_bytes -= b;
	ix.vols[vol].objects--;
	ix.vols[vol].bytes -= b;
	if (e->pins) {
		ix.pinned_bytes -= b;
		ix.pinned_objects--;
	}
	e->flags = 0;
	e->pins = 0;
	e->ref = ix.freelist;
	ix.freelist = id;
}

void
index_set_bytes(uint32_t id, uint64_t disk_bytes)
{
	struct ent *e;
	uint64_t old;
	uint16_t vol;

	if (!valid(id))
		return;
	e = &ix.ents[id];
	old = ent_bytes(e);
	vol = ent_vol(e);
	ent_set(e, vol, disk_bytes);
	disk_bytes = ent_bytes(e);
	ix.bytes = ix.bytes - old + disk_bytes;
	ix.vols[vol].bytes = ix.vols[vol].bytes - old + disk_bytes;
	if (e->pins)
		ix.pinned_bytes = ix.pinned_bytes - old + disk_bytes;
	if (!(e->flags & F_MAIN))
		ix.small_bytes = ix.small_bytes - old + disk_bytes;
}

void
index_touch(uint32_t id, int64_t when)
{
	uint64_t t;

	if (!valid(id))
		return;
	t = seen(when);
	if (t <= ix.ents[id].use)
		return;
	ix.ents[id].use = t;
	ix.ents[id].flags |= F_ADIRTY;
}

void
index_hit(uint32_t id, int64_t when)
{
	struct ent *e;

	if (!valid(id))
		return;
	index_touch(id, when);
	e = &ix.ents[id];
	if (!(e->flags & F_MAIN)) {
		e->flags |= F_MAIN;
		ix.small_bytes -= ent_bytes(e);
	}
}

void
index_pin(uint32_t id)
{
	struct ent *e;

	if (!valid(id))
		return;
	e = &ix.ents[id];
	if (e->pins == UINT16_MAX)	/* the store pins at most once */
		return;
	if (e->pins++ == 0) {
		ix.pinned_bytes += ent_bytes(e);
		ix.pinned_objects++;
	}
}

void
index_unpin(uint32_t id)
{
	struct ent *e;

	if (!valid(id) || ix.ents[id].pins == 0)
		return;
	e = &ix.ents[id];
	if (--e->pins == 0) {
		ix.pinned_bytes -= ent_bytes(e);
		ix.pinned_objects--;
		ix.released_objects++;
		ix.released_bytes += ent_bytes(e);
	}
}

void
index_set_state(uint32_t id, enum index_state st)
{
	if (!valid(id))
		return;
	if (st == INDEX_CULLING)
		ix.ents[id].flags |= F_CULLING;
	else
		ix.ents[id].flags &= ~F_CULLING;
}

uint16_t
index_vol(uint32_t id)
{
	return valid(id) ? ent_vol(&ix.ents[id]) : 0;
}

uint8_t
index_fanout(uint32_t id)
{
	return valid(id) ? ix.ents[id].fanout : 0;
}

const char *
index_name(uint32_t id)
{
	return valid(id) && !(ix.ents[id].flags & F_NAMELESS) ?
	    ent_name(&ix.ents[id]) : NULL;
}

int
index_named(uint32_t id)
{
	return valid(id) && !(ix.ents[id].flags & F_NAMELESS);
}

uint64_t
index_hash(uint32_t id)
{
	return valid(id) ? ent_hash(&ix.ents[id]) : 0;
}

uint32_t
index_ino(uint32_t id)
{
	return valid(id) && (ix.ents[id].flags & F_NAMELESS) ?
	    ent_nrec(&ix.ents[id]).ino : 0;
}

uint64_t
index_bytes(uint32_t id)
{
	return valid(id) ? ent_bytes(&ix.ents[id]) : 0;
}

int64_t
index_last_use(uint32_t id)
{
	return valid(id) ? (int64_t)ix.ents[id].use : 0;
}

unsigned
index_pins(uint32_t id)
{
	return valid(id) ? ix.ents[id].pins : 0;
}

enum index_state
index_get_state(uint32_t id)
{
	return valid(id) && (ix.ents[id].flags & F_CULLING) ? INDEX_CULLING :
	    INDEX_LIVE;
}

int
index_atime_dirty(uint32_t id)
{
	return valid(id) && (ix.ents[id].flags & F_ADIRTY) != 0;
}

void
index_atime_clean(uint32_t id)
{
	if (valid(id))
		ix.ents[id].flags &= ~F_ADIRTY;
}

uint64_t
index_objects(void)
{
	return ix.objects;
}

uint64_t
index_total_bytes(void)
{
	return ix.bytes;
}

uint64_t
index_pinned_bytes(void)
{
	return ix.pinned_bytes;
}

uint64_t
index_pinned_objects(void)
{
	return ix.pinned_objects;
}

uint64_t
index_released_objects(void)
{
	return ix.released_objects;
}

uint64_t
index_released_bytes(void)
{
	return ix.released_bytes;
}

uint64_t
index_volume_objects(uint16_t vol)
{
	return vol < ix.nvols ? ix.vols[vol].objects : 0;
}

uint64_t
index_volume_bytes(uint16_t vol)
{
	return vol < ix.nvols ? ix.vols[vol].bytes : 0;
}

uint32_t
index_slots(void)
{
	return ix.nents;
}

uint32_t
index_next(int vol, uint32_t *cursor)
{
	uint32_t budget = UINT32_MAX;

	return index_next_limit(vol, cursor, &budget);
}

uint32_t
index_next_limit(int vol, uint32_t *cursor, uint32_t *budget)
{
	uint32_t i;

	for (i = *cursor; i < ix.nents; i++) {
		if (*budget == 0) {
			*cursor = i;
			return INDEX_NONE;
		}
		(*budget)--;
		if (!(ix.ents[i].flags & F_USED))
			continue;
		if (vol >= 0 && ent_vol(&ix.ents[i]) != (uint16_t)vol)
			continue;
		*cursor = i + 1;
		return i;
	}
	*cursor = ix.nents;
	return INDEX_NONE;
}

/* Mix an id into a tie-breaker that favours neither low (old) nor high
 * (new) slots. */
static uint32_t
tiebreak(uint32_t id)
{
	id ^= id >> 16;
	id *= 0x7feb352dU;
	id ^= id >> 15;
	id *= 0x846ca68bU;
	id ^= id >> 16;
	return id;
}

static int
cullable(const struct ent *e)
{
	return (e->flags & (F_USED | F_CULLING)) == F_USED && e->pins == 0;
}

/* ---- selection in slices ----------------------------------------------- */

/* What a sliced selection keeps of an entry it saw: its last use then
 * (the heap's order must not move under it) and its hash (the entry may
 * be deleted and its id reused between slices). */
struct sel_rec {
	uint64_t use;
	uint64_t hash;
	uint32_t id;
};

/* A selection goes through two phases, each in steps of a budget: it
 * looks at every entry, then heap-sorts each heap (a sort step: one
 * extraction, about log2 n sift levels). index_select_end leaves out the
 * records whose entry changed meanwhile and merges the rest: that last
 * check must come in the same turn as the caller's use of the result
 * (a pin between a check and the cull must count). */
enum sel_phase { SEL_SCAN, SEL_SORT, SEL_DONE };

struct index_sel {
	size_t n;			/* how many to select */
	uint32_t next;			/* the next entry to look at */
	int s3;				/* two heaps: probation, main set */
	enum sel_phase phase;
	int w;				/* the heap being sorted or checked */
	size_t left;			/* SEL_SORT: unsorted in h[w] */
	size_t k[2];			/* in each heap */
	struct sel_rec *h[2];		/* h[0]: probation (or LRU), h[1]: main */
};

/* a is used later than b (newer(), on the records) */
static int
rec_newer(const struct sel_rec *a, const struct sel_rec *b)
{
	if (a->use != b->use)
		return a->use > b->use;
	if (tiebreak(a->id) != tiebreak(b->id))
		return tiebreak(a->id) > tiebreak(b->id);
	return a->id > b->id;
}

static void
rec_sift_down(struct sel_rec *h, size_t n, size_t i)
{
	struct sel_rec t;
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && rec_newer(&h[c + 1], &h[c]))
			c++;
		if (!rec_newer(&h[c], &h[i]))
			return;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

/* Offer r to the bounded max-heap h of the n oldest (k so far). */
static void
rec_offer(struct sel_rec *h, size_t *k, size_t n, const struct sel_rec *r)
{
	size_t i;
	struct sel_rec t;

	if (*k < n) {
		i = (*k)++;
		h[i] = *r;
		while (i > 0 && rec_newer(&h[i], &h[(i - 1) / 2])) {
			t = h[i];
			h[i] = h[(i - 1) / 2];
			h[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
	} else if (rec_newer(&h[0], r)) {
		h[0] = *r;
		rec_sift_down(h, *k, 0);
	}
}

struct index_sel *
index_select_begin(size_t n)
{
	struct index_sel *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->n = n;
	s->s3 = ix.policy == INDEX_POLICY_S3;
	if (n > 0 && ((s->h[0] = malloc(n * sizeof(*s->h[0]))) == NULL ||
	    (s->s3 && (s->h[1] = malloc(n * sizeof(*s->h[1]))) == NULL))) {
		index_select_free(s);
		return NULL;
	}
	return s;
}

/* SEL_SCAN: offer up to budget more entries; returns what is left of
 * the budget. */
static uint32_t
sel_scan(struct index_sel *s, uint32_t budget)
{
	struct sel_rec r;
	const struct ent *e;
	int w;

	for (; s->next < ix.nents && budget > 0; s->next++, budget--) {
		e = &ix.ents[s->next];
		if (s->n == 0 || !cullable(e))
			continue;
		r.use = e->use;
		r.hash = ent_hash(e);
		r.id = s->next;
		w = s->s3 && (e->flags & F_MAIN);
		rec_offer(s->h[w], &s->k[w], s->n, &r);
	}
	if (s->next >= ix.nents) {
		s->phase = SEL_SORT;
		s->w = 0;
		s->left = s->k[0];
	}
	return budget;
}

/* SEL_SORT: heap sort h[w] a few extractions at a time, oldest first
 * (each costs about log2 n of the budget); then the next heap. */
static uint32_t
sel_sort(struct index_sel *s, uint32_t budget)
{
	struct sel_rec t, *h = s->h[s->w];
	uint32_t cost = 1;
	size_t m;

	for (m = s->n; m > 1; m >>= 1)
		cost++;
	while (s->left > 1 && budget > 0) {	/* one at least */
		t = h[0];
		h[0] = h[s->left - 1];
		h[s->left - 1] = t;
		rec_sift_down(h, --s->left, 0);
		budget = budget > cost ? budget - cost : 0;
	}
	if (s->left <= 1) {
		if (s->s3 && s->w == 0) {
			s->w = 1;
			s->left = s->k[1];
		} else
			s->phase = SEL_DONE;
	}
	return budget;
}

/* Keep the records of h[0..k) whose entry is as it was seen: valid,
 * cullable, the same last use and hash (not used since, not reused), in
 * their order; returns how many. */
static size_t
rec_live(struct sel_rec *h, size_t k)
{
	const struct ent *e;
	size_t i, m = 0;

	for (i = 0; i < k; i++) {
		if (!valid(h[i].id))
			continue;
		e = &ix.ents[h[i].id];
		if (cullable(e) && e->use == h[i].use &&
		    ent_hash(e) == h[i].hash)
			h[m++] = h[i];
	}
	return m;
}

int
index_select_step(struct index_sel *s, uint32_t budget)
{
	while (budget > 0 && s->phase != SEL_DONE) {
		switch (s->phase) {
		case SEL_SCAN:
			budget = sel_scan(s, budget);
			break;
		case SEL_SORT:
			budget = sel_sort(s, budget);
			break;
		case SEL_DONE:
			break;
		}
	}
	return s->phase == SEL_DONE;
}

/* index_select_oldest's S3 merge, on the records: from probation (p, kp)
 * while it holds more than its share of the bytes, else from the main set
 * (m, km). */
static size_t
rec_merge(const struct sel_rec *p, size_t kp, const struct sel_rec *m,
    size_t km, uint32_t *out, size_t n)
{
	uint64_t sb = ix.small_bytes, mb = ix.bytes - ix.small_bytes, b;
	size_t k = 0, is = 0, im = 0;

	for (; k < n && (is < kp || im < km); k++) {
		if (is < kp && (im == km || sb * SMALL_SHARE > sb + mb)) {
			out[k] = p[is++].id;
			b = ent_bytes(&ix.ents[out[k]]);
			sb -= b < sb ? b : sb;
		} else {
			out[k] = m[im++].id;
			b = ent_bytes(&ix.ents[out[k]]);
			mb -= b < mb ? b : mb;
		}
	}
	return k;
}

/* The oldest n of two lists sorted oldest first, oldest first. */
static size_t
rec_by_age(const struct sel_rec *a, size_t ka, const struct sel_rec *b,
    size_t kb, uint32_t *out, size_t n)
{
	size_t k = 0, ia = 0, ib = 0;

	for (; k < n && (ia < ka || ib < kb); k++)
		out[k] = ia < ka && (ib == kb || rec_newer(&b[ib], &a[ia])) ?
		    a[ia++].id : b[ib++].id;
	return k;
}

size_t
index_select_end(struct index_sel *s, uint32_t *out)
{
	size_t k0, k1, i;

	if (s->n == 0)
		return 0;
	while (!index_select_step(s, UINT32_MAX))
		;	/* (the caller's steps should have done it) */
	k0 = rec_live(s->h[0], s->k[0]);
	if (!s->s3) {
		for (i = 0; i < k0; i++)
			out[i] = s->h[0][i].id;
		return k0;
	}
	k1 = rec_live(s->h[1], s->k[1]);
	if (ix.small_bytes == 0)	/* (as index_select_oldest: LRU) */
		return rec_by_age(s->h[0], k0, s->h[1], k1, out, s->n);
	return rec_merge(s->h[0], k0, s->h[1], k1, out, s->n);
}

void
index_select_free(struct index_sel *s)
{
	if (s == NULL)
		return;
	free(s->h[0]);
	free(s->h[1]);
	free(s);
}

/*
 * See index.h: the selection in slices (above) in one go, which is what
 * it was before slices: LRU, one pass over the entries with a bounded
 * max-heap of the n oldest cullable ones, then a heap sort; S3, the n
 * oldest of probation and the n oldest of the main set, each in its own
 * heap, then merged: from probation while it holds more than
 * 1/SMALL_SHARE of the bytes (counting down the bytes as they are taken),
 * else from the main set. O(entries * log n); 24 bytes per id (twice for
 * S3). 0 when out of memory.
 */
size_t
index_select_oldest(uint32_t *out, size_t n)
{
	struct index_sel *s;
	size_t k;

	if (n == 0 || (s = index_select_begin(n)) == NULL)
		return 0;
	while (!index_select_step(s, UINT32_MAX))
		;
	k = index_select_end(s, out);
	index_select_free(s);
	return k;
}

size_t
index_memory(void)
{
	size_t m = sizeof(ix);
	unsigned i;

	m += (size_t)ix.capents * sizeof(struct ent);
	m += (size_t)ix.tabsize * sizeof(*ix.tab);
	m += ix.namecap;
	m += (size_t)ix.capvols * sizeof(struct vol);
	for (i = 0; i < ix.nvols; i++)
		m += strlen(ix.vols[i].key) + 1;
	return m;
}

/* ---- name resolution: any thread, no index state ---------------------- */

static int
want_cmp(const void *a, const void *b)
{
	const struct index_want *x = *(struct index_want *const *)a;
	const struct index_want *y = *(struct index_want *const *)b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Match one directory entry against the wants sorted by inode in by[]. */
static size_t
match_dent(struct index_want **by, size_t n, uint64_t dino, const char *name)
{
	uint32_t ino = (uint32_t)dino;
	size_t lo = 0, hi = n, mid, hits = 0;
	uint64_t h = 0;
	int hashed = 0;

	while (lo < hi) {	/* the first want with this inode */
		mid = lo + (hi - lo) / 2;
		if (by[mid]->ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && by[lo]->ino == ino; lo++) {
		if (by[lo]->found || strlen(name) >= sizeof(by[lo]->name))
			continue;
		if (!hashed) {
			h = index_name_hash(name);
			hashed = 1;
		}
		if (by[lo]->hash != h)
			continue;
		memcpy(by[lo]->name, name, strlen(name) + 1);
		by[lo]->found = 1;
		hits++;
	}
	return hits;
}

/*
 * Resolve names in one directory (see index.h): read it once through a
 * private fd (dirfd's file position may be shared with other threads)
 * with getdents64, and for each entry whose inode's low 32 bits belong to
 * a want (binary search over the wants sorted by inode), hash its name
 * and take it only if the hash matches too. Stops early once all are
 * found. Returns how many were found, or -errno.
 */
ssize_t
index_resolve_dir(int dirfd, struct index_want *w, size_t n)
{
	struct index_want **by;
	struct dent64 *d;
	size_t i, left = 0, found = 0;
	long got = 0;
	char *buf;
	int fd;

	if (n == 0)
		return 0;
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	by = malloc(n * sizeof(*by));
	buf = malloc(RESOLVE_BUF);
	if (by == NULL || buf == NULL) {
		free(by);
		free(buf);
		close(fd);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		w[i].found = 0;
		if (w[i].name[0] == '\0')	/* not wanted (named already) */
			by[left++] = &w[i];
	}
	qsort(by, left, sizeof(*by), want_cmp);
	while (found < left &&
	    (got = syscall(SYS_getdents64, fd, buf, RESOLVE_BUF)) > 0) {
		for (i = 0; i < (size_t)got; i += d->d_reclen) {
			d = (struct dent64 *)(buf + i);
			found += match_dent(by, left, d->d_ino, d->d_name);
		}
	}
	i = got < 0 ? (size_t)errno : 0;
	free(by);
	free(buf);
	close(fd);
	return i && found < left ? -(ssize_t)i : (ssize_t)found;
}
