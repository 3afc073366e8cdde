/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * index.c: the in-memory index of every object (see index.h).
 *
 * Layout, chosen to stay well under 64 bytes per object all included:
 *
 *  - ents[]: a flat array of 24-byte entries, grown by half when full. An
 *    object's id is its slot; free slots are chained through name_off into
 *    a free list and reused first, so ids stay dense.
 *  - names: an append-only arena of NUL-terminated cooked names addressed
 *    by a u32 offset. A deleted or renamed entry leaves garbage behind; when
 *    the garbage outgrows the live bytes the arena is compacted in one O(n)
 *    pass (so index_name() pointers die at the next add or delete).
 *  - tab[]: an open-addressing (linear probing) hash table of u32 ids keyed
 *    by hash(vol, name), a power of two kept at most 3/4 full, deleted from
 *    with backward shift (no tombstones).
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/index.h"

#define F_USED		0x01	/* slot holds an object */
#define F_CULLING	0x02	/* INDEX_CULLING */
#define F_ADIRTY	0x04	/* last use newer than the atime on disk */
#define F_MAIN		0x08	/* used again since it came in (INDEX_POLICY_S3) */

#define BYTES_BITS	48	/* disk bytes kept per object: up to 256 TiB */
#define BYTES_MAX	((UINT64_C(1) << BYTES_BITS) - 1)
#define SMALL_SHARE	10	/* probation: 1/10 of the bytes (S3-FIFO's) */

struct ent {
	uint64_t use;		/* last use: ns since the epoch (index_now) */
	uint64_t bv;		/* disk bytes (low 48 bits) | volume << 48 */
	uint32_t name_off;	/* offset in the arena; free list link if !F_USED */
	uint16_t pins;		/* store objects holding it (saturates) */
	uint8_t fanout;
	uint8_t flags;
};

_Static_assert(sizeof(struct ent) == 24, "an entry stays 24 bytes");

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
	uint32_t tabmask;	/* size - 1 */

	char *names;
	uint32_t namelen;	/* bytes used (live + garbage) */
	uint32_t namecap;
	uint32_t namegarbage;

	struct vol *vols;
	unsigned nvols;
	unsigned capvols;
} ix;

/* Hash a (volume, name) pair (FNV-1a, then a final avalanche). */
static uint32_t
hash(uint16_t vol, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ vol;
	const unsigned char *p = (const unsigned char *)name;

	while (*p)
		h = (h ^ *p++) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

static const char *
ent_name(const struct ent *e)
{
	return ix.names + e->name_off;
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
	ix.tabmask = 15;
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

/* Slot in tab[] holding id, or of the empty slot where (vol, name) goes. */
static uint32_t
lookup_slot(uint16_t vol, const char *name, uint32_t h)
{
	uint32_t i = h & ix.tabmask, id;

	for (;; i = (i + 1) & ix.tabmask) {
		id = ix.tab[i];
		if (id == INDEX_NONE)
			return i;
		if (ent_vol(&ix.ents[id]) == vol &&
		    strcmp(ent_name(&ix.ents[id]), name) == 0)
			return i;
	}
}

uint32_t
index_find(uint16_t vol, const char *name)
{
	return ix.tab[lookup_slot(vol, name, hash(vol, name))];
}

/* Double the hash table and reinsert every id. */
static int
grow_table(void)
{
	uint32_t *nt, *old = ix.tab, oldmask = ix.tabmask, i, j, id;
	size_t size = ((size_t)oldmask + 1) * 2;

	if (size > UINT32_MAX)
		return -ENOMEM;
	if ((nt = malloc(size * sizeof(*nt))) == NULL)
		return -ENOMEM;
	memset(nt, 0xff, size * sizeof(*nt));
	for (i = 0; i <= oldmask; i++) {
		if ((id = old[i]) == INDEX_NONE)
			continue;
		j = hash(ent_vol(&ix.ents[id]), ent_name(&ix.ents[id])) &
		    (size - 1);
		while (nt[j] != INDEX_NONE)
			j = (j + 1) & (size - 1);
		nt[j] = id;
	}
	ix.tab = nt;
	ix.tabmask = size - 1;
	free(old);
	return 0;
}

/* Remove the id at slot i, shifting back the entries of its cluster. */
static void
table_remove(uint32_t i)
{
	uint32_t j = i, k, id;

	for (;;) {
		ix.tab[i] = INDEX_NONE;
		for (;;) {
			j = (j + 1) & ix.tabmask;
			if ((id = ix.tab[j]) == INDEX_NONE)
				return;
			k = hash(ent_vol(&ix.ents[id]), ent_name(&ix.ents[id])) &
			    ix.tabmask;
			/* move it if its home k is not cyclically in (i, j] */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		ix.tab[i] = ix.tab[j];
		i = j;
	}
}

/* Rewrite the arena with only the live names. */
static int
compact_names(void)
{
	uint32_t live = ix.namelen - ix.namegarbage, cap, off = 0, i;
	char *nn;
	size_t l;

	cap = live + live / 2 + 64;
	if ((nn = malloc(cap)) == NULL)
		return -ENOMEM;
	for (i = 0; i < ix.nents; i++) {
		struct ent *e = &ix.ents[i];

		if (!(e->flags & F_USED))
			continue;
		l = strlen(ent_name(e)) + 1;
		memcpy(nn + off, ent_name(e), l);
		e->name_off = off;
		off += l;
	}
	free(ix.names);
	ix.names = nn;
	ix.namelen = off;
	ix.namecap = cap;
	ix.namegarbage = 0;
	return 0;
}

/* Copy name into the arena; its offset in *off. */
static int
store_name(const char *name, uint32_t *off)
{
	size_t l = strlen(name) + 1;
	uint64_t cap;
	char *nn;

	if (ix.namegarbage > 4096 && ix.namegarbage > ix.namelen / 2)
		(void)compact_names();	/* on ENOMEM just grow instead */
	if ((uint64_t)ix.namelen + l > ix.namecap) {
		cap = ix.namecap ? (uint64_t)ix.namecap + ix.namecap / 2 : 4096;
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
		ix.freelist = ix.ents[id].name_off;
		return id;
	}
	if (ix.nents == ix.capents) {
		if (ix.capents >= INDEX_NONE - 1)
			return INDEX_NONE;
		cap = ix.capents ? ix.capents + ix.capents / 2 : 1024;
		if (cap < ix.capents || cap >= INDEX_NONE)
			cap = INDEX_NONE - 1;
		if ((ne = realloc(ix.ents, (size_t)cap * sizeof(*ne))) == NULL)
			return INDEX_NONE;
		ix.ents = ne;
		ix.capents = cap;
	}
	return ix.nents++;
}

uint32_t
index_add(uint16_t vol, uint8_t fanout, const char *name, uint64_t disk_bytes,
    int64_t last_use)
{
	uint32_t h, slot, id, off;
	struct ent *e;

	if (vol >= ix.nvols || name == NULL || *name == '\0')
		return INDEX_NONE;
	h = hash(vol, name);
	slot = lookup_slot(vol, name, h);
	if ((id = ix.tab[slot]) != INDEX_NONE) {
		uint64_t t = seen(last_use);

		e = &ix.ents[id];
		e->fanout = fanout;
		if (t > e->use)
			e->use = t;
		index_set_bytes(id, disk_bytes);
		return id;
	}
	/* keep the table at most 3/4 full */
	if ((uint64_t)(ix.objects + 1) * 4 > ((uint64_t)ix.tabmask + 1) * 3) {
		if (grow_table() < 0)
			return INDEX_NONE;
		slot = lookup_slot(vol, name, h);
	}
	if (store_name(name, &off) < 0)
		return INDEX_NONE;
	if ((id = alloc_ent()) == INDEX_NONE) {
		ix.namelen -= strlen(name) + 1;	/* give the name back */
		return INDEX_NONE;
	}
	e = &ix.ents[id];
	ent_set(e, vol, disk_bytes);
	disk_bytes = ent_bytes(e);
	e->name_off = off;
	e->use = seen(last_use);
	e->pins = 0;
	e->fanout = fanout;
	e->flags = F_USED;
	ix.tab[slot] = id;
	ix.objects++;
	ix.bytes += disk_bytes;
	ix.small_bytes += disk_bytes;
	ix.vols[vol].objects++;
	ix.vols[vol].bytes += disk_bytes;
	return id;
}

void
index_del(uint32_t id)
{
	struct ent *e;
	const char *name;
	uint16_t vol;
	uint64_t b;

	if (!valid(id))
		return;
	e = &ix.ents[id];
	name = ent_name(e);
	vol = ent_vol(e);
	b = ent_bytes(e);
	table_remove(lookup_slot(vol, name, hash(vol, name)));
	ix.namegarbage += strlen(name) + 1;
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
	e->name_off = ix.freelist;
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
	return valid(id) ? ent_name(&ix.ents[id]) : NULL;
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

/* a is used later than b (the heap's order: newest at the root) */
static int
newer(uint32_t a, uint32_t b)
{
	uint64_t ta = ix.ents[a].use, tb = ix.ents[b].use;

	if (ta != tb)
		return ta > tb;
	if (tiebreak(a) != tiebreak(b))
		return tiebreak(a) > tiebreak(b);
	return a > b;
}

static void
sift_down(uint32_t *h, size_t n, size_t i)
{
	size_t c;
	uint32_t t;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && newer(h[c + 1], h[c]))
			c++;
		if (!newer(h[c], h[i]))
			return;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

static void
sift_up(uint32_t *h, size_t i)
{
	uint32_t t;

	while (i > 0 && newer(h[i], h[(i - 1) / 2])) {
		t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* Offer id to the bounded max-heap h of the n oldest (k so far). */
static void
heap_offer(uint32_t *h, size_t *k, size_t n, uint32_t id)
{
	if (*k < n) {
		h[*k] = id;
		sift_up(h, (*k)++);
	} else if (newer(h[0], id)) {
		h[0] = id;
		sift_down(h, *k, 0);
	}
}

/* Heap sort h[0..k): oldest first. */
static void
heap_sort(uint32_t *h, size_t k)
{
	size_t i;
	uint32_t t;

	for (i = k; i > 1; i--) {
		t = h[0];
		h[0] = h[i - 1];
		h[i - 1] = t;
		sift_down(h, i - 1, 0);
	}
}

static int
cullable(const struct ent *e)
{
	return (e->flags & (F_USED | F_CULLING)) == F_USED && e->pins == 0;
}

size_t
index_select_oldest(uint32_t *out, size_t n)
{
	size_t k = 0, ks = 0, km = 0, is, im;
	uint64_t sb, mb, b;
	uint32_t id, *sm;
	const struct ent *e;

	if (n == 0)
		return 0;
	if (ix.policy == INDEX_POLICY_LRU || ix.small_bytes == 0 ||
	    (sm = malloc(2 * n * sizeof(*sm))) == NULL) {
		/* (plain LRU also when out of memory: still a fair order) */
		for (id = 0; id < ix.nents; id++)
			if (cullable(&ix.ents[id]))
				heap_offer(out, &k, n, id);
		heap_sort(out, k);
		return k;
	}
	/* the n oldest of probation in sm[0..n), of the main set after */
	for (id = 0; id < ix.nents; id++) {
		e = &ix.ents[id];
		if (!cullable(e))
			continue;
		if (e->flags & F_MAIN)
			heap_offer(sm + n, &km, n, id);
		else
			heap_offer(sm, &ks, n, id);
	}
	heap_sort(sm, ks);
	heap_sort(sm + n, km);
	/* probation first while it holds more than its share of the bytes
	 * (pinned ones count: they take the room all the same) */
	sb = ix.small_bytes;
	mb = ix.bytes - sb;
	for (is = im = 0; k < n && (is < ks || im < km); k++) {
		if (is < ks && (im == km || sb * SMALL_SHARE > sb + mb)) {
			out[k] = sm[is++];
			b = ent_bytes(&ix.ents[out[k]]);
			sb -= b < sb ? b : sb;
		} else {
			out[k] = sm[n + im++];
			b = ent_bytes(&ix.ents[out[k]]);
			mb -= b < mb ? b : mb;
		}
	}
	free(sm);
	return k;
}

size_t
index_memory(void)
{
	size_t m = sizeof(ix);
	unsigned i;

	m += (size_t)ix.capents * sizeof(struct ent);
	m += ((size_t)ix.tabmask + 1) * sizeof(*ix.tab);
	m += ix.namecap;
	m += (size_t)ix.capvols * sizeof(struct vol);
	for (i = 0; i < ix.nvols; i++)
		m += strlen(ix.vols[i].key) + 1;
	return m;
}
