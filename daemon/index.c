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
 * LRU: there is no per-access list. index_touch only stores a time, which
 * keeps the hot path a single store and costs no memory; an O(1) LRU list
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

#include "daemon/index.h"

#define F_USED		0x01	/* slot holds an object */
#define F_CULLING	0x02	/* INDEX_CULLING */
#define F_ADIRTY	0x04	/* last use newer than the atime on disk */

struct ent {
	uint64_t bytes;		/* disk bytes */
	uint32_t name_off;	/* offset in the arena; free list link if !F_USED */
	uint32_t last_use;	/* unix seconds, clamped to 0 .. 2^32-1 */
	uint32_t pins;		/* clients holding it */
	uint16_t vol;
	uint8_t fanout;
	uint8_t flags;
};

struct vol {
	char *key;
	uint64_t objects;
	uint64_t bytes;
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
		if (ix.ents[id].vol == vol &&
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
		j = hash(ix.ents[id].vol, ent_name(&ix.ents[id])) & (size - 1);
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
			k = hash(ix.ents[id].vol, ent_name(&ix.ents[id])) &
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

static uint32_t
clamp_time(int64_t t)
{
	if (t < 0)
		return 0;
	if (t > (int64_t)UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)t;
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
		e = &ix.ents[id];
		e->fanout = fanout;
		if (clamp_time(last_use) > e->last_use)
			e->last_use = clamp_time(last_use);
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
	e->bytes = disk_bytes;
	e->name_off = off;
	e->last_use = clamp_time(last_use);
	e->pins = 0;
	e->vol = vol;
	e->fanout = fanout;
	e->flags = F_USED;
	ix.tab[slot] = id;
	ix.objects++;
	ix.bytes += disk_bytes;
	ix.vols[vol].objects++;
	ix.vols[vol].bytes += disk_bytes;
	return id;
}

void
index_del(uint32_t id)
{
	struct ent *e;
	const char *name;

	if (!valid(id))
		return;
	e = &ix.ents[id];
	name = ent_name(e);
	table_remove(lookup_slot(e->vol, name, hash(e->vol, name)));
	ix.namegarbage += strlen(name) + 1;
	ix.objects--;
	ix.bytes -= e->bytes;
	ix.vols[e->vol].objects--;
	ix.vols[e->vol].bytes -= e->bytes;
	if (e->pins) {
		ix.pinned_bytes -= e->bytes;
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

	if (!valid(id))
		return;
	e = &ix.ents[id];
	ix.bytes = ix.bytes - e->bytes + disk_bytes;
	ix.vols[e->vol].bytes = ix.vols[e->vol].bytes - e->bytes + disk_bytes;
	if (e->pins)
		ix.pinned_bytes = ix.pinned_bytes - e->bytes + disk_bytes;
	e->bytes = disk_bytes;
}

void
index_touch(uint32_t id, int64_t when)
{
	uint32_t t = clamp_time(when);

	if (!valid(id) || t <= ix.ents[id].last_use)
		return;
	ix.ents[id].last_use = t;
	ix.ents[id].flags |= F_ADIRTY;
}

void
index_pin(uint32_t id)
{
	struct ent *e;

	if (!valid(id))
		return;
	e = &ix.ents[id];
	if (e->pins == UINT32_MAX)
		return;
	if (e->pins++ == 0) {
		ix.pinned_bytes += e->bytes;
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
		ix.pinned_bytes -= e->bytes;
		ix.pinned_objects--;
		ix.released_objects++;
		ix.released_bytes += e->bytes;
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
	return valid(id) ? ix.ents[id].vol : 0;
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
	return valid(id) ? ix.ents[id].bytes : 0;
}

int64_t
index_last_use(uint32_t id)
{
	return valid(id) ? (int64_t)ix.ents[id].last_use : 0;
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
index_next(int vol, uint32_t *cursor)
{
	uint32_t i;

	for (i = *cursor; i < ix.nents; i++) {
		if (!(ix.ents[i].flags & F_USED))
			continue;
		if (vol >= 0 && ix.ents[i].vol != (uint16_t)vol)
			continue;
		*cursor = i + 1;
		return i;
	}
	*cursor = ix.nents;
	return INDEX_NONE;
}

/* a is used later than b (the heap's order: newest at the root) */
static int
newer(uint32_t a, uint32_t b)
{
	uint32_t ta = ix.ents[a].last_use, tb = ix.ents[b].last_use;

	return ta != tb ? ta > tb : a > b;
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

size_t
index_select_oldest(uint32_t *out, size_t n)
{
	size_t k = 0, i;
	uint32_t id, t;
	const struct ent *e;

	if (n == 0)
		return 0;
	/* max-heap (newest at out[0]) of the n oldest seen so far */
	for (id = 0; id < ix.nents; id++) {
		e = &ix.ents[id];
		if ((e->flags & (F_USED | F_CULLING)) != F_USED || e->pins)
			continue;
		if (k < n) {
			out[k] = id;
			sift_up(out, k++);
		} else if (newer(out[0], id)) {
			out[0] = id;
			sift_down(out, k, 0);
		}
	}
	/* heap sort: repeatedly move the newest to the end */
	for (i = k; i > 1; i--) {
		t = out[0];
		out[0] = out[i - 1];
		out[i - 1] = t;
		sift_down(out, i - 1, 0);
	}
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
