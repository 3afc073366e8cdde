/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_cfmt: libFuzzer target for the cachefiles format decoders.
 * The first byte picks what the rest is fed to:
 *   0 a name for cfmt_uncook_key: if it decodes, the key must cook back to
 *     exactly the name
 *   1 a key for cfmt_cook_key: the name must decode to the key (padded to
 *     whole words for S/T names) and cook back to the same name
 *   2 an object xattr: decode -> encode -> decode is identical, and
 *     cfmt_obj_usable agrees with the kernel's rules
 *   3 a map xattr, be64 object size first: decode -> encode gives the input
 *     bytes back (one encoding per map), decode again is identical
 *   4 a program of map operations (add, truncate, limit) checked against
 *     the map invariants and a round trip through the codec
 * Seeds: tests/fuzz/seeds/cfmt/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
map_invariants(const struct cfmt_map *m)
{
	uint32_t i;

	CHECK(m->count <= CFMT_MAP_MAX_EXTENTS);
	CHECK(m->count <= m->cap || m->count == 0);
	for (i = 0; i < m->count; i++) {
		CHECK(m->ext[i].len > 0);
		CHECK(m->ext[i].len <= UINT64_MAX - m->ext[i].start);
		if (i > 0)
			CHECK(m->ext[i - 1].start + m->ext[i - 1].len <
			    m->ext[i].start);
		CHECK(cfmt_map_covers(m, m->ext[i].start, m->ext[i].len));
		if (m->ext[i].start > 0)
			CHECK(!cfmt_map_covers(m, m->ext[i].start - 1, 1));
	}
}

static void
fuzz_uncook(const uint8_t *d, size_t n)
{
	char name[CFMT_MAX_NAME + 16], again[CFMT_MAX_NAME];
	uint8_t key[CFMT_MAX_COOKIE_KEY];
	int r;

	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, d, n);
	name[n] = '\0';
	r = cfmt_uncook_key(name, key, sizeof(key));
	if (r < 0) {
		CHECK(r == -EINVAL);
		return;
	}
	CHECK(r >= 1 && r <= CFMT_MAX_COOKIE_KEY);
	CHECK(cfmt_cook_key(key, (size_t)r, again, sizeof(again)) ==
	    (int)strlen(name));
	CHECK(strcmp(again, name) == 0);
}

static void
fuzz_cook(const uint8_t *d, size_t n)
{
	char name[CFMT_MAX_NAME], again[CFMT_MAX_NAME];
	uint8_t key[CFMT_MAX_COOKIE_KEY];
	size_t i;
	int r, k;

	if (n == 0 || n > CFMT_MAX_COOKIE_KEY)
		return;
	r = cfmt_cook_key(d, n, name, sizeof(name));
	CHECK(r > 0 && (size_t)r == strlen(name));
	k = cfmt_uncook_key(name, key, sizeof(key));
	CHECK(k >= (int)n);
	CHECK(memcmp(key, d, n) == 0);
	for (i = n; i < (size_t)k; i++)
		CHECK(key[i] == 0);
	if (name[0] == 'D' || name[0] == 'E')
		CHECK((size_t)k == n);
	CHECK(cfmt_cook_key(key, (size_t)k, again, sizeof(again)) == r);
	CHECK(strcmp(again, name) == 0);
	CHECK(cfmt_fanout(key, (size_t)k, 7) == cfmt_fanout(d, n, 7));
}

static void
fuzz_obj(const uint8_t *d, size_t n)
{
	uint8_t out[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX];
	struct cfmt_obj o, o2;
	int r, want;

	r = cfmt_obj_decode(d, n, &o);
	if (r < 0) {
		CHECK(n < CFMT_OBJ_XATTR_HDR ||
		    n > CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX);
		CHECK(!cfmt_obj_usable(d, n, NULL, 0, 0));
		return;
	}
	CHECK(r == 0);
	r = cfmt_obj_encode(&o, out, sizeof(out));
	CHECK(r == (int)n);
	/* identical but for zero_point, which is written as 0 */
	CHECK(memcmp(out, d, 8) == 0);
	CHECK(memcmp(out + 16, d + 16, n - 16) == 0);
	CHECK(cfmt_obj_decode(out, (size_t)r, &o2) == 0);
	CHECK(memcmp(&o, &o2, sizeof(o)) == 0);
	want = o.type == CFMT_TYPE_DATA && o.content != CFMT_CONTENT_DIRTY;
	CHECK(cfmt_obj_usable(d, n, o.aux, o.aux_len, o.object_size) == want);
	if (want) {
		CHECK(!cfmt_obj_usable(d, n, o.aux, o.aux_len,
		    o.object_size + 1));
		if (o.aux_len > 0)
			CHECK(!cfmt_obj_usable(d, n, o.aux, o.aux_len - 1,
			    o.object_size));
	}
}

static void
fuzz_map(const uint8_t *d, size_t n)
{
	struct cfmt_map m, m2;
	uint64_t size;
	uint8_t *out;
	size_t len;
	int r;

	if (n < 8)
		return;
	size = be64(d);
	d += 8;
	n -= 8;
	cfmt_map_init(&m);
	cfmt_map_init(&m2);
	r = cfmt_map_decode(d, n, size, &m);
	if (r < 0) {
		CHECK(r == -EINVAL);
		CHECK(m.count == 0);
		goto out;
	}
	map_invariants(&m);
	if (m.count > 0)
		CHECK(m.ext[m.count - 1].start + m.ext[m.count - 1].len <=
		    size);
	len = cfmt_map_encoded_len(m.count);
	CHECK(len == n);
	out = malloc(len);
	CHECK(out != NULL);
	CHECK(cfmt_map_encode(&m, out, len) == (int)len);
	CHECK(memcmp(out, d, n) == 0);
	if (len > 0)
		CHECK(cfmt_map_encode(&m, out, len - 1) == -ENOSPC);
	CHECK(cfmt_map_decode(out, len, size, &m2) == 0);
	CHECK(m2.count == m.count);
	CHECK(m.count == 0 ||
	    memcmp(m.ext, m2.ext, m.count * sizeof(*m.ext)) == 0);
	free(out);
out:
	cfmt_map_free(&m);
	cfmt_map_free(&m2);
}

static void
fuzz_map_ops(const uint8_t *d, size_t n)
{
	struct cfmt_map m, m2;
	uint64_t a, b, before;
	uint8_t *out;
	size_t len;
	int r;

	cfmt_map_init(&m);
	cfmt_map_init(&m2);
	while (n >= 17) {
		a = be64(d + 1);
		b = be64(d + 9);
		switch (d[0] % 4) {
		case 0:
		case 1:
			/* small numbers most of the time, so ranges meet */
			if (d[0] & 0x80) {
				a &= 0xffff;
				b &= 0xfff;
			}
			before = cfmt_map_bytes(&m);
			r = cfmt_map_add(&m, a, b);
			if (b > UINT64_MAX - a)
				CHECK(r == -EINVAL);
			else {
				CHECK(r == 0);
				if (m.count < CFMT_MAP_MAX_EXTENTS)
					CHECK(cfmt_map_covers(&m, a, b));
				if (cfmt_map_covers(&m, a, b))
					CHECK(cfmt_map_bytes(&m) >= before);
			}
			break;
		case 2:
			cfmt_map_truncate(&m, a);
			if (m.count > 0)
				CHECK(m.ext[m.count - 1].start +
				    m.ext[m.count - 1].len <= a);
			break;
		default:
			cfmt_map_limit(&m, (uint32_t)(b % 64));
			CHECK(m.count <= b % 64);
			break;
		}
		map_invariants(&m);
		d += 17;
		n -= 17;
	}
	len = cfmt_map_encoded_len(m.count);
	out = malloc(len);
	CHECK(out != NULL);
	CHECK(cfmt_map_encode(&m, out, len) == (int)len);
	CHECK(cfmt_map_decode(out, len, UINT64_MAX, &m2) == 0);
	CHECK(m2.count == m.count);
	CHECK(m.count == 0 ||
	    memcmp(m.ext, m2.ext, m.count * sizeof(*m.ext)) == 0);
	CHECK(cfmt_map_copy(&m2, &m) == 0 && m2.count == m.count);
	free(out);
	cfmt_map_free(&m);
	cfmt_map_free(&m2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_uncook(data + 1, size - 1);
		break;
	case 1:
		fuzz_cook(data + 1, size - 1);
		break;
	case 2:
		fuzz_obj(data + 1, size - 1);
		break;
	case 3:
		fuzz_map(data + 1, size - 1);
		break;
	default:
		fuzz_map_ops(data + 1, size - 1);
		break;
	}
	return 0;
}
