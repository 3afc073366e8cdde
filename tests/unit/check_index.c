/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check_index.c: the in-memory object index (daemon/index.c). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/index.h"

/* Deterministic PRNG (xorshift64*), so a failure can be replayed. */
static uint64_t rng = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static void
setup(void)
{
	ck_assert_int_eq(index_init(), 0);
}

static void
teardown(void)
{
	index_fini();
}

START_TEST(test_volumes)
{
	int a, b;

	ck_assert_uint_eq(index_volumes(), 0);
	ck_assert_ptr_null(index_volume_key(0));
	a = index_volume("9p,hostshare,mycache");
	b = index_volume("nfs,abc");
	ck_assert_int_eq(a, 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(index_volume("9p,hostshare,mycache"), 0);
	ck_assert_str_eq(index_volume_key(1), "nfs,abc");
	ck_assert_uint_eq(index_volumes(), 2);
	ck_assert_ptr_null(index_volume_key(2));
}
END_TEST

START_TEST(test_basic)
{
	uint32_t id, id2, cur;
	int v = index_volume("v");
	int w = index_volume("w");

	ck_assert_uint_eq(index_find(v, "Dfoo"), INDEX_NONE);
	/* no such volume, empty name */
	ck_assert_uint_eq(index_add(7, 0, "Dx", 1, 1), INDEX_NONE);
	ck_assert_uint_eq(index_add(v, 0, "", 1, 1), INDEX_NONE);

	id = index_add(v, 0x3a, "Dfoo", 4096, 1000);
	ck_assert_uint_ne(id, INDEX_NONE);
	ck_assert_uint_eq(index_find(v, "Dfoo"), id);
	ck_assert_uint_eq(index_find(w, "Dfoo"), INDEX_NONE);
	ck_assert_uint_eq(index_vol(id), v);
	ck_assert_uint_eq(index_fanout(id), 0x3a);
	ck_assert_str_eq(index_name(id), "Dfoo");
	ck_assert_uint_eq(index_bytes(id), 4096);
	ck_assert_int_eq(index_last_use(id), 1000);
	ck_assert_uint_eq(index_pins(id), 0);
	ck_assert_int_eq(index_get_state(id), INDEX_LIVE);
	ck_assert_int_eq(index_atime_dirty(id), 0);

	/* same name in another volume is another object */
	id2 = index_add(w, 1, "Dfoo", 100, 5);
	ck_assert_uint_ne(id2, id);
	ck_assert_uint_eq(index_objects(), 2);
	ck_assert_uint_eq(index_total_bytes(), 4196);
	ck_assert_uint_eq(index_volume_objects(v), 1);
	ck_assert_uint_eq(index_volume_bytes(w), 100);

	/* update in place: bytes replaced, last use only forward */
	ck_assert_uint_eq(index_add(v, 0x3b, "Dfoo", 8192, 500), id);
	ck_assert_uint_eq(index_bytes(id), 8192);
	ck_assert_int_eq(index_last_use(id), 1000);
	ck_assert_uint_eq(index_fanout(id), 0x3b);
	ck_assert_uint_eq(index_objects(), 2);
	ck_assert_uint_eq(index_total_bytes(), 8292);

	/* touch */
	index_touch(id, 900);
	ck_assert_int_eq(index_last_use(id), 1000);
	ck_assert_int_eq(index_atime_dirty(id), 0);
	index_touch(id, 2000);
	ck_assert_int_eq(index_last_use(id), 2000);
	ck_assert_int_eq(index_atime_dirty(id), 1);
	index_atime_clean(id);
	ck_assert_int_eq(index_atime_dirty(id), 0);
	/* times clamp instead of wrapping */
	index_touch(id2, -5);
	ck_assert_int_eq(index_last_use(id2), 5);
	index_touch(id2, (int64_t)1 << 40);	/* ns: 1099 s after 1970 */
	ck_assert_int_eq(index_last_use(id2), (int64_t)1 << 40);
	/* a stamp in the future counts as now, and uses after it are newer */
	index_touch(id2, INT64_MAX);
	ck_assert_int_lt(index_last_use(id2), INT64_MAX);
	ck_assert_int_gt(index_now(), index_last_use(id2));

	/* pins and pinned bytes */
	index_pin(id);
	index_pin(id);
	ck_assert_uint_eq(index_pins(id), 2);
	ck_assert_uint_eq(index_pinned_bytes(), 8192);
	ck_assert_uint_eq(index_pinned_objects(), 1);
	index_set_bytes(id, 10000);
	ck_assert_uint_eq(index_pinned_bytes(), 10000);
	ck_assert_uint_eq(index_volume_bytes(v), 10000);
	index_unpin(id);
	ck_assert_uint_eq(index_pinned_bytes(), 10000);
	index_unpin(id);
	index_unpin(id);	/* extra unpin is harmless */
	ck_assert_uint_eq(index_pins(id), 0);
	ck_assert_uint_eq(index_pinned_bytes(), 0);
	ck_assert_uint_eq(index_pinned_objects(), 0);

	index_set_state(id, INDEX_CULLING);
	ck_assert_int_eq(index_get_state(id), INDEX_CULLING);
	index_set_state(id, INDEX_LIVE);
	ck_assert_int_eq(index_get_state(id), INDEX_LIVE);

	/* iteration */
	cur = 0;
	ck_assert_uint_eq(index_next(w, &cur), id2);
	ck_assert_uint_eq(index_next(w, &cur), INDEX_NONE);
	cur = 0;
	ck_assert_uint_ne(index_next(-1, &cur), INDEX_NONE);
	ck_assert_uint_ne(index_next(-1, &cur), INDEX_NONE);
	ck_assert_uint_eq(index_next(-1, &cur), INDEX_NONE);

	/* delete: everything gone, id reused, getters safe on dead ids */
	index_pin(id);
	index_del(id);
	ck_assert_uint_eq(index_pinned_bytes(), 0);
	ck_assert_uint_eq(index_find(v, "Dfoo"), INDEX_NONE);
	ck_assert_ptr_null(index_name(id));
	ck_assert_uint_eq(index_bytes(id), 0);
	ck_assert_uint_eq(index_objects(), 1);
	ck_assert_uint_eq(index_volume_objects(v), 0);
	ck_assert_uint_eq(index_volume_bytes(v), 0);
	index_del(id);		/* double delete is harmless */
	index_del(INDEX_NONE);
	ck_assert_uint_eq(index_add(v, 2, "Dbar", 1, 1), id);
	ck_assert_uint_eq(index_find(w, "Dfoo"), id2);
}
END_TEST

/* the reference model: one slot per possible (vol, key number) */
#define NVOL 3
#define NKEY 3000
struct ref {
	int present;
	uint32_t id;
	uint64_t bytes;
	int64_t last;
	unsigned pins;
	int culling;
	uint8_t fanout;
};
static struct ref model[NVOL][NKEY];

static void
mkname(char *buf, size_t sz, unsigned k)
{
	/* vary lengths so the arena has holes of every size */
	snprintf(buf, sz, "D%u%.*s", k, (int)(k % 37),
	    "qwertyuiopasdfghjklzxcvbnmQWERTYUIOPAS");
}

static void
check_model(void)
{
	uint64_t objs = 0, bytes = 0, pb = 0, po = 0, vo[NVOL] = {0},
	    vb[NVOL] = {0};
	char name[80];
	unsigned v, k;
	uint32_t cur = 0, n = 0;

	for (v = 0; v < NVOL; v++)
		for (k = 0; k < NKEY; k++) {
			struct ref *r = &model[v][k];

			mkname(name, sizeof(name), k);
			if (!r->present) {
				ck_assert_uint_eq(index_find(v, name),
				    INDEX_NONE);
				continue;
			}
			ck_assert_uint_eq(index_find(v, name), r->id);
			ck_assert_str_eq(index_name(r->id), name);
			ck_assert_uint_eq(index_bytes(r->id), r->bytes);
			ck_assert_int_eq(index_last_use(r->id), r->last);
			ck_assert_uint_eq(index_pins(r->id), r->pins);
			ck_assert_uint_eq(index_fanout(r->id), r->fanout);
			ck_assert_int_eq(index_get_state(r->id),
			    r->culling ? INDEX_CULLING : INDEX_LIVE);
			objs++;
			bytes += r->bytes;
			vo[v]++;
			vb[v] += r->bytes;
			if (r->pins) {
				pb += r->bytes;
				po++;
			}
		}
	ck_assert_uint_eq(index_objects(), objs);
	ck_assert_uint_eq(index_total_bytes(), bytes);
	ck_assert_uint_eq(index_pinned_bytes(), pb);
	ck_assert_uint_eq(index_pinned_objects(), po);
	for (v = 0; v < NVOL; v++) {
		ck_assert_uint_eq(index_volume_objects(v), vo[v]);
		ck_assert_uint_eq(index_volume_bytes(v), vb[v]);
	}
	while (index_next(-1, &cur) != INDEX_NONE)
		n++;
	ck_assert_uint_eq(n, objs);
}

/* the selection the index must make, computed the slow way */
static void
check_select(size_t want)
{
	static uint32_t out[NVOL * NKEY];
	static struct { int64_t last; uint32_t id; } cand[NVOL * NKEY];
	size_t nc = 0, got, i, j;
	unsigned v, k;

	for (v = 0; v < NVOL; v++)
		for (k = 0; k < NKEY; k++) {
			struct ref *r = &model[v][k];

			if (r->present && !r->pins && !r->culling) {
				cand[nc].last = r->last;
				cand[nc++].id = r->id;
			}
		}
	/* insertion-free check: every selected id is a candidate, ordered,
	 * and no unselected candidate is older than the newest selected */
	got = index_select_oldest(out, want);
	ck_assert_uint_eq(got, want < nc ? want : nc);
	for (i = 0; i < got; i++) {
		int found = 0;

		for (j = 0; j < nc && !found; j++)
			found = cand[j].id == out[i];
		ck_assert_msg(found, "selected id %u is pinned/culling/absent",
		    out[i]);
		if (i > 0)
			ck_assert_int_le(index_last_use(out[i - 1]),
			    index_last_use(out[i]));
	}
	if (got > 0 && got < nc) {
		int64_t newest = index_last_use(out[got - 1]);
		size_t older = 0;

		for (j = 0; j < nc; j++)
			older += cand[j].last < newest;
		ck_assert_uint_le(older, got);
	}
}

START_TEST(test_random)
{
	char name[80];
	unsigned v, k, op, i;
	struct ref *r;

	memset(model, 0, sizeof(model));
	for (v = 0; v < NVOL; v++) {
		snprintf(name, sizeof(name), "vol%u", v);
		ck_assert_int_eq(index_volume(name), (int)v);
	}
	for (i = 0; i < 100000; i++) {
		v = rnd() % NVOL;
		k = rnd() % NKEY;
		r = &model[v][k];
		mkname(name, sizeof(name), k);
		op = rnd() % 100;
		if (op < 35) {
			uint64_t b = rnd() % 1000000;
			int64_t t = rnd() % 100000;
			uint8_t f = rnd() & 0xff;
			uint32_t id = index_add(v, f, name, b, t);

			ck_assert_uint_ne(id, INDEX_NONE);
			if (r->present) {
				ck_assert_uint_eq(id, r->id);
				if (t > r->last)
					r->last = t;
			} else {
				memset(r, 0, sizeof(*r));
				r->present = 1;
				r->id = id;
				r->last = t;
			}
			r->bytes = b;
			r->fanout = f;
		} else if (op < 55) {
			if (r->present) {
				index_del(r->id);
				r->present = 0;
			}
		} else if (!r->present) {
			continue;
		} else if (op < 70) {
			int64_t t = rnd() % 100000;

			index_touch(r->id, t);
			if (t > r->last)
				r->last = t;
		} else if (op < 78) {
			index_pin(r->id);
			r->pins++;
		} else if (op < 86) {
			index_unpin(r->id);
			if (r->pins)
				r->pins--;
		} else if (op < 92) {
			r->culling = !r->culling;
			index_set_state(r->id, r->culling ? INDEX_CULLING :
			    INDEX_LIVE);
		} else {
			r->bytes = rnd() % 1000000;
			index_set_bytes(r->id, r->bytes);
		}
		if (i % 10000 == 0) {
			check_model();
			check_select(1 + rnd() % 500);
		}
	}
	check_model();
	check_select(1);
	check_select(64);
	check_select(NVOL * NKEY);
}
END_TEST

START_TEST(test_select)
{
	uint32_t out[8], ids[6];
	size_t n;
	int v = index_volume("v");

	ck_assert_uint_eq(index_select_oldest(out, 8), 0);
	ids[0] = index_add(v, 0, "Da", 1, 50);
	ids[1] = index_add(v, 0, "Db", 1, 10);
	ids[2] = index_add(v, 0, "Dc", 1, 30);
	ids[3] = index_add(v, 0, "Dd", 1, 20);
	ids[4] = index_add(v, 0, "De", 1, 40);
	ids[5] = index_add(v, 0, "Df", 1, 5);
	ck_assert_uint_eq(index_select_oldest(out, 0), 0);

	n = index_select_oldest(out, 8);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(out[0], ids[5]);
	ck_assert_uint_eq(out[1], ids[1]);
	ck_assert_uint_eq(out[2], ids[3]);
	ck_assert_uint_eq(out[3], ids[2]);
	ck_assert_uint_eq(out[4], ids[4]);
	ck_assert_uint_eq(out[5], ids[0]);

	/* pinned and culling objects are never selected */
	index_pin(ids[5]);
	index_set_state(ids[1], INDEX_CULLING);
	n = index_select_oldest(out, 2);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(out[0], ids[3]);
	ck_assert_uint_eq(out[1], ids[2]);

	/* a touch moves an object to the back */
	index_touch(ids[3], 100);
	n = index_select_oldest(out, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out[0], ids[2]);

	index_unpin(ids[5]);
	n = index_select_oldest(out, 1);
	ck_assert_uint_eq(out[0], ids[5]);
}
END_TEST

/* Uses in a row are ordered in a row, however fast; ties from the disk
 * favour neither the first-added nor the last-added objects. */
START_TEST(test_recency)
{
	static uint32_t out[1000];
	uint32_t ids[1000];
	char name[16];
	int64_t a, b;
	size_t n, i, low = 0;
	int v = index_volume("v");

	a = index_now();
	b = index_now();
	ck_assert_int_gt(b, a);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "Dk%zu", i);
		ids[i] = index_add(v, 0, name, 1, index_now());
		ck_assert_uint_ne(ids[i], INDEX_NONE);
	}
	/* touch 0, 1, 2 last, in that order: they go last, in that order */
	for (i = 0; i < 3; i++)
		index_touch(ids[i], index_now());
	index_set_policy(INDEX_POLICY_LRU);
	n = index_select_oldest(out, 1000);
	ck_assert_uint_eq(n, 1000);
	for (i = 0; i < 997; i++)
		ck_assert_uint_eq(out[i], ids[i + 3]);
	ck_assert_uint_eq(out[997], ids[0]);
	ck_assert_uint_eq(out[998], ids[1]);
	ck_assert_uint_eq(out[999], ids[2]);
	/* a stamp from the future counts as now; later uses are newer */
	a = index_now() + 1000000000;
	index_touch(ids[5], a);
	ck_assert_int_lt(index_last_use(ids[5]), a);
	ck_assert_int_gt(index_now(), index_last_use(ids[5]));

	/* equal stamps (the disk's): half of the first half, give or take */
	index_fini();
	ck_assert_int_eq(index_init(), 0);
	index_set_policy(INDEX_POLICY_LRU);
	v = index_volume("v");
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "Dk%zu", i);
		ids[i] = index_add(v, 0, name, 1, 1000000000);
	}
	n = index_select_oldest(out, 500);
	ck_assert_uint_eq(n, 500);
	for (i = 0; i < n; i++)
		low += out[i] < ids[500];
	ck_assert_msg(low > 150 && low < 350, "ties: %zu of 500 from the first "
	    "half", low);
}
END_TEST

/* The default policy: probation first while it holds more than a tenth,
 * reused objects after; LRU on demand. */
START_TEST(test_policy)
{
	uint32_t out[100], ids[100];
	char name[16];
	size_t n, i;
	int v = index_volume("v");

	ck_assert_int_eq(index_get_policy(), INDEX_POLICY_S3);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "Dk%zu", i);
		ids[i] = index_add(v, 0, name, 10, index_now());
	}
	/* 0..49 used again (a hot set), then 50..99 read once more as a
	 * scan would read them: touch, not hit */
	for (i = 0; i < 50; i++)
		index_hit(ids[i], index_now());
	for (i = 50; i < 100; i++)
		index_touch(ids[i], index_now());
	/* probation holds 50%: its 40 oldest go first, then the main set
	 * (its oldest first) and probation in turns, probation at ~1/10 */
	n = index_select_oldest(out, 100);
	ck_assert_uint_eq(n, 100);
	for (i = 0; i < 45; i++)
		ck_assert_uint_eq(out[i], ids[50 + i]);
	ck_assert_uint_eq(out[45], ids[0]);
	/* LRU: the hot set, used longer ago, goes first */
	index_set_policy(INDEX_POLICY_LRU);
	n = index_select_oldest(out, 100);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(out[i], ids[i]);
	/* a deleted reused object's slot comes back on probation */
	index_set_policy(INDEX_POLICY_S3);
	index_del(ids[0]);
	ids[0] = index_add(v, 0, "Dnew", 10, index_now());
	n = index_select_oldest(out, 1);
	ck_assert_uint_eq(out[0], ids[50]);
}
END_TEST

/* A realistic 1e6-object index: bytes per object, all included. */
START_TEST(test_memory)
{
	char name[64];
	uint32_t i, n = 1000000;
	double per;
	int v = index_volume("9p,hostshare,mycache");

	/* 9p-style names as seen on a real kernel: T + a hex qid word */
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "T%x,%x", (unsigned)rnd(),
		    i);
		ck_assert_uint_ne(index_add(v, i & 0xff, name, 4096, i),
		    INDEX_NONE);
	}
	per = (double)index_memory() / index_objects();
	printf("index memory, 1e6 objects, ~16-byte names: %zu bytes, "
	    "%.1f bytes/object\n", index_memory(), per);
	ck_assert_double_le(per, 64.0);
	index_fini();
	ck_assert_int_eq(index_init(), 0);
	v = index_volume("nfs,fsid");
	/* NFS-style names: E + base64 of a 24-byte file handle (~34 bytes) */
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "E0%016llx%08xabcdefgh",
		    (unsigned long long)rnd(), i);
		ck_assert_uint_ne(index_add(v, i & 0xff, name, 4096, i),
		    INDEX_NONE);
	}
	printf("index memory, 1e6 objects, 34-byte names: %zu bytes, "
	    "%.1f bytes/object\n", index_memory(),
	    (double)index_memory() / index_objects());
}
END_TEST

START_TEST(test_churn)
{
	char name[64];
	uint32_t i, round, cur, id;
	size_t mem0;
	int v = index_volume("v");

	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "Dobject-%u", i);
		ck_assert_uint_ne(index_add(v, 0, name, 1, i), INDEX_NONE);
	}
	mem0 = index_memory();
	/* replace every object ten times over: ids and arena are reused */
	for (round = 0; round < 10; round++) {
		cur = 0;
		while ((id = index_next(-1, &cur)) != INDEX_NONE)
			index_del(id);
		ck_assert_uint_eq(index_objects(), 0);
		for (i = 0; i < 100000; i++) {
			snprintf(name, sizeof(name), "Dnew-%u-%u", round, i);
			ck_assert_uint_ne(index_add(v, 0, name, 1, i),
			    INDEX_NONE);
		}
	}
	ck_assert_uint_eq(index_objects(), 100000);
	ck_assert_uint_le(index_memory(), mem0 * 2);
	snprintf(name, sizeof(name), "Dnew-9-%u", 777);
	id = index_find(v, name);
	ck_assert_uint_ne(id, INDEX_NONE);
	ck_assert_str_eq(index_name(id), name);
}
END_TEST

/* a walk with a budget stops after that many slots, and resumes there */
START_TEST(test_next_limit)
{
	int v = index_volume("v"), w = index_volume("w");
	uint32_t cur = 0, budget, id, seen = 0, calls = 0, i;
	char name[32];

	/* 1000 objects of w, then 3 of v */
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "Dw%u", i);
		ck_assert_uint_ne(index_add(w, 0, name, 1, 1), INDEX_NONE);
	}
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "Dv%u", i);
		ck_assert_uint_ne(index_add(v, 0, name, 1, 1), INDEX_NONE);
	}
	/* budget 100: ten pages of nothing, then the 3 */
	for (;;) {
		budget = 100;
		calls++;
		while ((id = index_next_limit(v, &cur, &budget)) != INDEX_NONE)
			seen++;
		ck_assert_uint_le(100 - budget, 100);
		if (cur >= index_slots())
			break;
		ck_assert_uint_eq(budget, 0);
		ck_assert_uint_le(calls, 20);
	}
	ck_assert_uint_eq(seen, 3);
	ck_assert_uint_ge(calls, 10);
	/* no budget: index_next as before */
	cur = 0;
	seen = 0;
	while (index_next(v, &cur) != INDEX_NONE)
		seen++;
	ck_assert_uint_eq(seen, 3);
}
END_TEST

/* ---- nameless entries (issue 15) ---------------------------------------- */

/* index_add_ino keeps no name; index_find and index_add find the entry by
 * its name's hash; index_add with the name names it, under the same id */
START_TEST(test_nameless)
{
	int v = index_volume("v"), w = index_volume("w");
	uint32_t a, b, c, id;

	a = index_add_ino(v, 3, "Dalpha", 0x123456789aULL, 100, 10);
	b = index_add_ino(v, 4, "Dbeta", 42, 200, 20);
	c = index_add(w, 5, "Dalpha", 300, 30);	/* same name, other volume */
	ck_assert_uint_ne(a, INDEX_NONE);
	ck_assert_uint_ne(b, INDEX_NONE);
	ck_assert_uint_ne(c, INDEX_NONE);
	ck_assert_ptr_null(index_name(a));
	ck_assert_int_eq(index_named(a), 0);
	ck_assert_int_eq(index_named(c), 1);
	ck_assert_str_eq(index_name(c), "Dalpha");
	ck_assert_uint_eq(index_ino(a), 0x3456789aU);	/* low 32 bits */
	ck_assert_uint_eq(index_ino(c), 0);
	ck_assert(index_hash(a) == index_name_hash("Dalpha"));
	ck_assert(index_hash(c) == index_name_hash("Dalpha"));
	ck_assert(index_hash(b) != index_hash(a));
	ck_assert_uint_eq(index_find(v, "Dalpha"), a);
	ck_assert_uint_eq(index_find(v, "Dbeta"), b);
	ck_assert_uint_eq(index_find(w, "Dalpha"), c);
	ck_assert_uint_eq(index_find(v, "Dgamma"), INDEX_NONE);
	ck_assert_uint_eq(index_find(w, "Dbeta"), INDEX_NONE);
	ck_assert_uint_eq(index_objects(), 3);
	ck_assert_uint_eq(index_total_bytes(), 600);
	ck_assert_uint_eq(index_fanout(a), 3);
	ck_assert_uint_eq(index_bytes(b), 200);
	/* the scan again: an update, no second entry */
	ck_assert_uint_eq(index_add_ino(v, 3, "Dalpha", 7, 150, 5), a);
	ck_assert_uint_eq(index_ino(a), 7);
	ck_assert_uint_eq(index_bytes(a), 150);
	ck_assert_int_eq(index_last_use(a), 10);	/* only moves forward */
	ck_assert_uint_eq(index_objects(), 3);
	/* the store opens it: named now, same id, same bookkeeping */
	index_pin(a);
	ck_assert_uint_eq(index_add(v, 3, "Dalpha", 150, 50), a);
	ck_assert_str_eq(index_name(a), "Dalpha");
	ck_assert_int_eq(index_named(a), 1);
	ck_assert_uint_eq(index_pins(a), 1);
	ck_assert_int_eq(index_last_use(a), 50);
	ck_assert_uint_eq(index_find(v, "Dalpha"), a);
	ck_assert_uint_eq(index_objects(), 3);
	/* a named entry stays named when the scan sees it again */
	ck_assert_uint_eq(index_add_ino(v, 3, "Dalpha", 8, 150, 60), a);
	ck_assert_str_eq(index_name(a), "Dalpha");
	/* deleting either kind leaves the other findable */
	index_unpin(a);
	index_del(b);
	ck_assert_uint_eq(index_find(v, "Dbeta"), INDEX_NONE);
	ck_assert_uint_eq(index_find(v, "Dalpha"), a);
	index_del(a);
	ck_assert_uint_eq(index_find(v, "Dalpha"), INDEX_NONE);
	ck_assert_uint_eq(index_find(w, "Dalpha"), c);
	ck_assert_uint_eq(index_objects(), 1);
	ck_assert_uint_eq(index_total_bytes(), 300);
	/* ids are reused, nameless or not */
	id = index_add_ino(v, 0, "Ddelta", 9, 1, 1);
	ck_assert(id == a || id == b);
	ck_assert_ptr_null(index_name(id));
	ck_assert_ptr_null(index_name(INDEX_NONE));
	ck_assert_uint_eq(index_ino(INDEX_NONE), 0);
}
END_TEST

/* object i's name in test_nameless_random: 17 to 36 bytes */
static void
rand_name(char *name, size_t size, uint32_t i)
{
	snprintf(name, size, "E%u-%s", i,
	    "padding-to-make-a-34-byte-name" + (i % 20));
}

/* a random mix of named and nameless adds, namings and deletes against a
 * plain array: every find right, through table growth and compaction */
START_TEST(test_nameless_random)
{
	enum { N = 20000 };
	static uint32_t ids[N];
	static uint8_t kind[N];		/* 0 absent, 1 nameless, 2 named */
	char name[64];
	uint32_t i, k, id;
	uint64_t live = 0;
	int v = index_volume("v");

	for (k = 0; k < 400000; k++) {
		i = rnd() % N;
		rand_name(name, sizeof(name), i);
		switch (rnd() % 4) {
		case 0:	/* the scan, or the store */
		case 1:
			id = k % 2 ? index_add(v, i & 0xff, name, i, k) :
			    index_add_ino(v, i & 0xff, name, i * 7 + 1, i, k);
			ck_assert_uint_ne(id, INDEX_NONE);
			if (kind[i])
				ck_assert_uint_eq(id, ids[i]);
			else
				live++;
			ids[i] = id;
			if (k % 2)
				kind[i] = 2;	/* named now */
			else if (!kind[i])
				kind[i] = 1;	/* a named one stays named */
			break;
		case 2:
			if (kind[i]) {
				index_del(ids[i]);
				kind[i] = 0;
				live--;
			}
			break;
		default:
			id = index_find(v, name);
			ck_assert_uint_eq(id, kind[i] ? ids[i] : INDEX_NONE);
			if (kind[i] == 2)
				ck_assert_str_eq(index_name(id), name);
			if (kind[i] == 1) {
				ck_assert_ptr_null(index_name(id));
				ck_assert_uint_eq(index_ino(id), i * 7 + 1);
			}
			break;
		}
	}
	ck_assert_uint_eq(index_objects(), live);
	for (i = 0; i < N; i++) {
		rand_name(name, sizeof(name), i);
		ck_assert_uint_eq(index_find(v, name),
		    kind[i] ? ids[i] : INDEX_NONE);
	}
}
END_TEST

static void
touch_file(int dfd, const char *name, uint64_t *ino)
{
	struct stat sb;
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	*ino = sb.st_ino;
	close(fd);
}

/* names come back from a real directory only where hash AND inode match:
 * a want whose hash is another file's (a collision) gets no name */
START_TEST(test_resolve)
{
	char dir[] = "/tmp/check_index.XXXXXX", name[64];
	enum { N = 300 };
	static struct index_want w[N + 3];
	static uint64_t ino[N];
	static uint32_t ids[N];
	int dfd, v = index_volume("v");
	uint32_t i;
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "Dfile-%u", i);
		touch_file(dfd, name, &ino[i]);
		ids[i] = index_add_ino(v, 0, name, ino[i], 1, 1);
		ck_assert_uint_ne(ids[i], INDEX_NONE);
	}
	ck_assert_int_eq(mkdirat(dfd, "Dsubdir", 0700), 0);
	memset(w, 0, sizeof(w));
	for (i = 0; i < N; i++) {
		w[i].hash = index_hash(ids[i]);
		w[i].ino = index_ino(ids[i]);
	}
	/* file 0's hash with file 1's inode, and the other way round */
	w[N].hash = index_hash(ids[0]);
	w[N].ino = index_ino(ids[1]);
	w[N + 1].hash = index_hash(ids[1]);
	w[N + 1].ino = index_ino(ids[0]);
	/* a want already named is left alone */
	snprintf(w[N + 2].name, sizeof(w[N + 2].name), "Dkept");
	w[N + 2].hash = index_hash(ids[2]);
	w[N + 2].ino = index_ino(ids[2]);
	n = index_resolve_dir(dfd, w, N + 3);
	ck_assert_int_eq(n, N);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "Dfile-%u", i);
		ck_assert_int_eq(w[i].found, 1);
		ck_assert_str_eq(w[i].name, name);
	}
	ck_assert_int_eq(w[N].found, 0);
	ck_assert_str_eq(w[N].name, "");
	ck_assert_int_eq(w[N + 1].found, 0);
	ck_assert_int_eq(w[N + 2].found, 0);
	ck_assert_str_eq(w[N + 2].name, "Dkept");
	/* a file replaced under the same name (new inode): no name */
	ck_assert_int_eq(unlinkat(dfd, "Dfile-5", 0), 0);
	ck_assert_int_eq(renameat(dfd, "Dfile-6", dfd, "Dfile-5"), 0);
	memset(w, 0, sizeof(w));
	w[0].hash = index_hash(ids[5]);		/* Dfile-5, old inode */
	w[0].ino = index_ino(ids[5]);
	w[1].hash = index_hash(ids[6]);		/* Dfile-6's inode, new name */
	w[1].ino = index_ino(ids[6]);
	ck_assert_int_eq(index_resolve_dir(dfd, w, 2), 0);
	ck_assert_int_eq(w[0].found + w[1].found, 0);
	/* no directory: -errno */
	ck_assert_int_lt(index_resolve_dir(-1, w, 2), 0);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "Dfile-%u", i);
		(void)unlinkat(dfd, name, 0);
	}
	ck_assert_int_eq(unlinkat(dfd, "Dsubdir", AT_REMOVEDIR), 0);
	close(dfd);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Select n in slices of budget entries; the result in out. */
static size_t
select_sliced(uint32_t *out, size_t n, uint32_t budget)
{
	struct index_sel *s = index_select_begin(n);
	size_t k;

	ck_assert_ptr_nonnull(s);
	while (!index_select_step(s, budget))
		;
	k = index_select_end(s, out);
	index_select_free(s);
	return k;
}

/* Selection in slices gives what the one-shot selection gives, under
 * both policies, whatever the slice (random uses, sizes, hits, pins,
 * culling states, deleted entries, equal stamps). */
START_TEST(test_select_sliced)
{
	enum { N = 20000 };
	static uint32_t a[N], b[N], ids[N];
	static const uint32_t budgets[] = { 1, 7, 1000, 65536 };
	static const size_t ns[] = { 1, 10, 1000, N };
	char name[32];
	size_t i, j, p, ka, kb;
	int v = index_volume("v");

	srandom(15);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "Dobj%zu", i);
		ids[i] = i % 2 ? index_add(v, 0, name, 1 + random() % 9000,
		    random() % 5000) : index_add_ino(v, 0, name, i,
		    (uint64_t)(random() % 3), random() % 5000);
		ck_assert_uint_ne(ids[i], INDEX_NONE);
		if (i % 5 == 0)
			index_hit(ids[i], random() % 6000);
		if (i % 97 == 0)
			index_pin(ids[i]);
		if (i % 89 == 0)
			index_set_state(ids[i], INDEX_CULLING);
	}
	for (i = 0; i < N; i += 31)
		index_del(ids[i]);
	for (p = 0; p < 2; p++) {
		index_set_policy(p ? INDEX_POLICY_LRU : INDEX_POLICY_S3);
		for (j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
			ka = index_select_oldest(a, ns[j]);
			for (i = 0; i < sizeof(budgets) / sizeof(budgets[0]);
			    i++) {
				kb = select_sliced(b, ns[j], budgets[i]);
				ck_assert_uint_eq(kb, ka);
				ck_assert_int_eq(memcmp(a, b, ka * sizeof(*a)),
				    0);
			}
		}
	}
}
END_TEST

/* Changes between slices: an entry seen and then used, pinned, set
 * culling or deleted (its id reused) is left out; one not seen yet is
 * judged as it is when the slice reaches it. */
START_TEST(test_select_sliced_changes)
{
	struct index_sel *s;
	uint32_t out[16], ids[10], reused;
	char name[16];
	size_t k, i;
	int v = index_volume("v");

	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "Dx%zu", i);
		ids[i] = index_add(v, 0, name, 1, 100 + (int64_t)i);
	}
	index_set_policy(INDEX_POLICY_LRU);
	ck_assert_ptr_nonnull(s = index_select_begin(16));
	ck_assert_int_eq(index_select_step(s, 5), 0);	/* saw ids 0..4 */
	index_touch(ids[0], 1000);	/* used since */
	index_pin(ids[1]);
	index_set_state(ids[2], INDEX_CULLING);
	index_del(ids[3]);
	reused = index_add(v, 0, "Dnew", 1, 103);	/* same stamp, id 3 */
	ck_assert_uint_eq(reused, ids[3]);
	index_pin(ids[5]);		/* not seen yet: skipped when seen */
	index_touch(ids[6], 2000);	/* not seen yet: its new use counts */
	while (!index_select_step(s, 5))
		;
	k = index_select_end(s, out);
	index_select_free(s);
	ck_assert_uint_eq(k, 5);
	ck_assert_uint_eq(out[0], ids[4]);
	ck_assert_uint_eq(out[1], ids[7]);
	ck_assert_uint_eq(out[2], ids[8]);
	ck_assert_uint_eq(out[3], ids[9]);
	ck_assert_uint_eq(out[4], ids[6]);
	(void)name;
}
END_TEST

/* memory per object: nameless entries cost the same whatever the name's
 * length, at most 48 bytes (issue 15); index_memory() counts what is
 * allocated (its parts grow by steps, so it is at least 36 bytes each) */
START_TEST(test_memory_nameless)
{
	static const unsigned lens[] = { 9, 16, 34 };
	char name[64];
	uint32_t i, n = 300000, l, k;	/* bench_index_mem: 1e6, 1e7 */
	double per;
	int v;

	for (k = 0; k < 3; k++) {
		index_fini();
		ck_assert_int_eq(index_init(), 0);
		ck_assert_uint_lt(index_memory(), 4096);
		v = index_volume("nfs,fsid");
		l = lens[k];
		for (i = 0; i < n; i++) {
			/* unique in their first 9 bytes */
			snprintf(name, sizeof(name), "E%08x%08x%032u",
			    i * 0x9e3779b1U, (unsigned)rnd(), 0);
			name[l] = '\0';
			ck_assert_uint_ne(index_add_ino(v, i & 0xff, name, i,
			    4096, i), INDEX_NONE);
			if (i % 25000 == 24999) {
				per = (double)index_memory() / index_objects();
				ck_assert_double_le(per, 48.0);
				ck_assert_double_ge(per, 36.0);
			}
		}
		ck_assert_uint_eq(index_objects(), n);
		per = (double)index_memory() / index_objects();
		printf("index memory, 3e5 nameless objects, %u-byte names: "
		    "%zu bytes, %.1f bytes/object\n", l, index_memory(), per);
		ck_assert_double_le(per, 48.0);
	}
}
END_TEST

static Suite *
index_suite(void)
{
	Suite *s = suite_create("index");
	TCase *tc = tcase_create("index");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_volumes);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_next_limit);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_select);
	tcase_add_test(tc, test_recency);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_memory);
	tcase_add_test(tc, test_churn);
	tcase_add_test(tc, test_nameless);
	tcase_add_test(tc, test_nameless_random);
	tcase_add_test(tc, test_resolve);
	tcase_add_test(tc, test_select_sliced);
	tcase_add_test(tc, test_select_sliced_changes);
	tcase_add_test(tc, test_memory_nameless);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(index_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
