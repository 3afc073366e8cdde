/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cfmt.c: the kernel cachefiles on-disk format (fs/netfs fscache_hash,
 * fs/cachefiles key.c and xattr.c, Linux 6.x) and larder's map xattr.
 * Pure functions: no I/O. Only the map functions allocate.
 * Every decoder treats its input as hostile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfmt.h"

/* fs/cachefiles/key.c: the base64 alphabet of 'E' names */
static const char charmap[64] =
	"0123456789"
	"abcdefghijklmnopqrstuvwxyz"
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	"_-";

static uint32_t
rol32(uint32_t v, unsigned s)
{
	return (v << s) | (v >> (32 - s));
}

/* include/linux/hash.h __hash_32: multiply by GOLDEN_RATIO_32 */
static uint32_t
hash32(uint32_t v)
{
	return v * 0x61C88647u;
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

/*
 * fs/netfs fscache_hash(): len is a multiple of 4; the words are read
 * little-endian whatever the host's byte order.
 */
static uint32_t
fscache_hash(uint32_t salt, const uint8_t *data, size_t len)
{
	uint32_t a, x = 0, y = salt;
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		a = get_le32(data + i);
		x ^= a;
		y ^= x;
		x = rol32(x, 7);
		x += y;
		y = rol32(y, 20);
		y *= 9;
	}
	return hash32(y ^ hash32(x));
}

uint32_t
cfmt_volume_hash(const void *key, size_t len)
{
	/* u8 length, the key, a NUL, zero padding to a multiple of 4 */
	uint8_t buf[1 + 255 + 1 + 3];
	size_t hlen;

	if (len > 255)
		return 0;
	hlen = (1 + len + 1 + 3) & ~(size_t)3;
	memset(buf, 0, sizeof(buf));
	buf[0] = (uint8_t)len;
	if (len > 0)
		memcpy(buf + 1, key, len);
	return fscache_hash(0, buf, hlen);
}

uint32_t
cfmt_cookie_hash(const void *key, size_t len, uint32_t volume_hash)
{
	uint8_t buf[256];

	if (len > CFMT_MAX_COOKIE_KEY)
		return 0;
	memset(buf, 0, sizeof(buf));
	if (len > 0)
		memcpy(buf, key, len);
	return fscache_hash(volume_hash, buf, (len + 3) & ~(size_t)3);
}

unsigned
cfmt_fanout(const void *key, size_t len, uint32_t volume_hash)
{
	return cfmt_cookie_hash(key, len, volume_hash) & 0xff;
}

int
cfmt_check_volume_key(const void *key, size_t len)
{
	const uint8_t *k = key;
	size_t i;

	if (key == NULL || len == 0 || len > CFMT_MAX_VOLUME_KEY)
		return -EINVAL;
	if ((len == 1 && k[0] == '.') ||
	    (len == 2 && k[0] == '.' && k[1] == '.'))
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (k[i] < 0x20 || k[i] > 0x7e || k[i] == '/')
			return -EINVAL;
	return 0;
}

/* key.c cachefiles_filecharmap: '!'..'.' and '0'..DEL go into D names */
static int
filechar(uint8_t c)
{
	return (c >= 33 && c <= 46) || (c >= 48 && c <= 127);
}

static unsigned
hex_digits(uint32_t x)
{
	return x ? (32 - (unsigned)__builtin_clz(x) + 3) / 4 : 0;
}

/*
 * Contract in cfmt.h; the choice is the kernel's (key.c): a key of file
 * characters only is 'D' + the key as is; otherwise the key, zero-padded
 * to 32-bit words, as comma-separated hex words big-endian ('S') or
 * little-endian ('T'), whichever is shorter, if that beats base64; else
 * 'E' + the pad count + base64 of the unpadded key. Must match the
 * kernel's names byte for byte: larder's objects and the kernel's share
 * the directory (check_cfmt holds names seen from real kernels).
 */
int
cfmt_cook_key(const void *key, size_t len, char *out, size_t outsz)
{
	static const char hexdig[] = "0123456789abcdef";
	const uint8_t *k = key;
	uint8_t pad4[CFMT_MAX_COOKIE_KEY + 3];
	size_t i, n, o, b64len, pad;
	int be, print = 1;
	unsigned nbe = 0, nle = 0, d;
	uint32_t acc, x;

	if (key == NULL || out == NULL || len == 0 ||
	    len > CFMT_MAX_COOKIE_KEY || outsz < CFMT_MAX_NAME)
		return -EINVAL;

	for (i = 0; i < len; i++)
		print &= filechar(k[i]);
	if (print) {
		out[0] = 'D';
		memcpy(out + 1, k, len);
		out[len + 1] = '\0';
		return (int)len + 1;
	}

	/* the kernel's key buffer is zero-padded to whole 32-bit words */
	n = (len + 3) & ~(size_t)3;
	memset(pad4, 0, sizeof(pad4));
	memcpy(pad4, k, len);
	for (i = 0; i < n; i += 4) {
		nbe += 1 + hex_digits(get_be32(pad4 + i));
		nle += 1 + hex_digits(get_le32(pad4 + i));
	}
	b64len = (len + 2) / 3;
	pad = b64len * 3 - len;
	b64len = 2 + b64len * 4;

	if (nbe < b64len || nle < b64len) {
		be = nbe <= nle;
		o = 0;
		for (i = 0; i < n; i += 4) {
			x = be ? get_be32(pad4 + i) : get_le32(pad4 + i);
			out[o++] = i == 0 ? (be ? 'S' : 'T') : ',';
			for (d = hex_digits(x); d > 0; d--)
				out[o++] = hexdig[(x >> (4 * (d - 1))) & 0xf];
		}
		out[o] = '\0';
		return (int)o;
	}

	out[0] = 'E';
	out[1] = (char)('0' + pad);
	o = 2;
	for (i = 0; i < len; i += 3) {
		acc = k[i];
		if (i + 1 < len)
			acc |= (uint32_t)k[i + 1] << 8;
		if (i + 2 < len)
			acc |= (uint32_t)k[i + 2] << 16;
		out[o++] = charmap[acc & 63];
		out[o++] = charmap[(acc >> 6) & 63];
		out[o++] = charmap[(acc >> 12) & 63];
		out[o++] = charmap[(acc >> 18) & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
b64val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 36;
	if (c == '_')
		return 62;
	if (c == '-')
		return 63;
	return -1;
}

/* Decode the words of an 'S'/'T' name into buf; the key length or -EINVAL */
static int
uncook_hex(const char *name, size_t nlen, uint8_t *buf)
{
	size_t i = 1, n = 0, klen;
	uint32_t x;
	int digits, v;

	for (;;) {
		x = 0;
		digits = 0;
		while (i < nlen && name[i] != ',') {
			if ((v = hexval(name[i])) < 0 || ++digits > 8)
				return -EINVAL;
			x = x << 4 | (uint32_t)v;
			i++;
		}
		if (n >= (CFMT_MAX_COOKIE_KEY + 3) / 4)
			return -EINVAL;
		if (name[0] == 'S')
			put_be32(buf + 4 * n, x);
		else {
			buf[4 * n] = x;
			buf[4 * n + 1] = x >> 8;
			buf[4 * n + 2] = x >> 16;
			buf[4 * n + 3] = x >> 24;
		}
		n++;
		if (i == nlen)
			break;
		i++;	/* the ',' */
	}
	/*
	 * Keys that differ only in trailing zero bytes within the last word
	 * cook to the same name (and hash to the same fan-out): the kernel
	 * cannot tell them apart either. Give the whole-word key.
	 */
	klen = 4 * n;
	if (klen > CFMT_MAX_COOKIE_KEY)
		klen = CFMT_MAX_COOKIE_KEY;
	return (int)klen;
}

/* Decode an 'E' name into buf; the key length or -EINVAL */
static int
uncook_b64(const char *name, size_t nlen, uint8_t *buf)
{
	size_t i, g, groups, pad, klen, o = 0;
	uint32_t acc;
	int v;

	if (name[1] < '0' || name[1] > '2' || nlen < 6 || (nlen - 2) % 4 != 0)
		return -EINVAL;
	pad = (size_t)(name[1] - '0');
	groups = (nlen - 2) / 4;
	klen = groups * 3 - pad;
	if (klen == 0 || klen > CFMT_MAX_COOKIE_KEY)
		return -EINVAL;
	for (g = 0; g < groups; g++) {
		acc = 0;
		for (i = 0; i < 4; i++) {
			if ((v = b64val(name[2 + 4 * g + i])) < 0)
				return -EINVAL;
			acc |= (uint32_t)v << (6 * i);
		}
		for (i = 0; i < 3; i++, acc >>= 8) {
			if (o < klen)
				buf[o++] = acc & 0xff;
			else if ((acc & 0xff) != 0)
				return -EINVAL;	/* bits no key sets */
		}
	}
	return (int)klen;
}

/*
 * Contract in cfmt.h. name comes from readdir of the cache (scan.c) or
 * from a client (store_ops.c): hostile. Decode by form into a buffer,
 * then cook the result again and demand the very same name, so every
 * name accepted is one the kernel could have made (no second spelling
 * of a key, no stray bits); only then copy out.
 */
int
cfmt_uncook_key(const char *name, uint8_t *key, size_t keysz)
{
	uint8_t buf[CFMT_MAX_COOKIE_KEY + 5];
	char again[CFMT_MAX_NAME];
	size_t nlen;
	int klen, r;

	if (name == NULL || key == NULL)
		return -EINVAL;
	nlen = strnlen(name, CFMT_MAX_NAME);
	if (nlen < 1 || nlen >= CFMT_MAX_NAME)
		return -EINVAL;

	switch (name[0]) {
	case 'D':
		if (nlen - 1 > CFMT_MAX_COOKIE_KEY)
			return -EINVAL;
		memcpy(buf, name + 1, nlen - 1);
		klen = (int)(nlen - 1);
		break;
	case 'S':
	case 'T':
		klen = uncook_hex(name, nlen, buf);
		break;
	case 'E':
		klen = uncook_b64(name, nlen, buf);
		break;
	default:
		return -EINVAL;
	}
	if (klen < 0)
		return klen;

	/* Only a name the kernel would make is a name: cook it again. */
	r = cfmt_cook_key(buf, (size_t)klen, again, sizeof(again));
	if (r < 0 || (size_t)r != nlen || memcmp(again, name, nlen) != 0)
		return -EINVAL;
	if ((size_t)klen > keysz)
		return -ENOSPC;
	memcpy(key, buf, (size_t)klen);
	return klen;
}

int
cfmt_obj_encode(const struct cfmt_obj *o, uint8_t *out, size_t outsz)
{
	size_t len;

	if (o == NULL || out == NULL)
		return -EINVAL;
	len = CFMT_OBJ_XATTR_HDR + o->aux_len;
	if (outsz < len)
		return -ENOSPC;
	put_be64(out, o->object_size);
	put_be64(out + 8, 0);		/* zero_point: written 0 */
	out[16] = o->type;
	out[17] = o->content;
	if (o->aux_len > 0)
		memcpy(out + CFMT_OBJ_XATTR_HDR, o->aux, o->aux_len);
	return (int)len;
}

int
cfmt_obj_decode(const uint8_t *buf, size_t len, struct cfmt_obj *o)
{
	if (buf == NULL || o == NULL || len < CFMT_OBJ_XATTR_HDR ||
	    len - CFMT_OBJ_XATTR_HDR > CFMT_MAX_AUX)
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	o->object_size = get_be64(buf);
	/* zero_point (bytes 8..15) is never checked by the kernel */
	o->type = buf[16];
	o->content = buf[17];
	o->aux_len = (uint8_t)(len - CFMT_OBJ_XATTR_HDR);
	memcpy(o->aux, buf + CFMT_OBJ_XATTR_HDR, o->aux_len);
	return 0;
}

/* fs/cachefiles/xattr.c cachefiles_check_auxdata(), rule by rule */
int
cfmt_obj_usable(const uint8_t *xattr, size_t xlen, const void *aux,
    size_t aux_len, uint64_t object_size)
{
	if (xattr == NULL || aux_len > CFMT_MAX_AUX ||
	    (aux_len > 0 && aux == NULL))
		return 0;
	if (xlen != CFMT_OBJ_XATTR_HDR + aux_len)
		return 0;
	if (xattr[16] != CFMT_TYPE_DATA)
		return 0;
	if (aux_len > 0 && memcmp(xattr + CFMT_OBJ_XATTR_HDR, aux, aux_len))
		return 0;
	if (get_be64(xattr) != object_size)
		return 0;
	if (xattr[17] == CFMT_CONTENT_DIRTY)
		return 0;
	return 1;
}

int
cfmt_vol_encode(const void *coh, size_t coh_len, uint8_t *out, size_t outsz)
{
	if (out == NULL || (coh_len > 0 && coh == NULL) ||
	    coh_len > CFMT_MAX_VOL_COH)
		return -EINVAL;
	if (outsz < CFMT_VOL_XATTR_HDR + coh_len)
		return -ENOSPC;
	put_be32(out, 0);
	if (coh_len > 0)
		memcpy(out + CFMT_VOL_XATTR_HDR, coh, coh_len);
	return (int)(CFMT_VOL_XATTR_HDR + coh_len);
}

/* fs/cachefiles/xattr.c cachefiles_check_volume_xattr() */
int
cfmt_vol_matches(const uint8_t *xattr, size_t xlen, const void *coh,
    size_t coh_len)
{
	if (xattr == NULL || (coh_len > 0 && coh == NULL) ||
	    coh_len > CFMT_MAX_VOL_COH)
		return 0;
	if (xlen != CFMT_VOL_XATTR_HDR + coh_len)
		return 0;
	if (get_be32(xattr) != 0)
		return 0;
	if (coh_len > 0 && memcmp(xattr + CFMT_VOL_XATTR_HDR, coh, coh_len))
		return 0;
	return 1;
}

/* ---- larder's map: sorted, disjoint, non-adjacent extents ---- */

void
cfmt_map_init(struct cfmt_map *m)
{
	m->ext = NULL;
	m->count = 0;
	m->cap = 0;
}

void
cfmt_map_free(struct cfmt_map *m)
{
	free(m->ext);
	cfmt_map_init(m);
}

void
cfmt_map_clear(struct cfmt_map *m)
{
	m->count = 0;
}

static uint64_t
ext_end(const struct cfmt_extent *e)
{
	return e->start + e->len;
}

static int
reserve(struct cfmt_map *m, uint32_t want)
{
	struct cfmt_extent *n;
	uint32_t cap;

	if (want <= m->cap)
		return 0;
	if (want > CFMT_MAP_MAX_EXTENTS + 1)
		return -E2BIG;
	cap = m->cap ? m->cap : 8;
	while (cap < want)
		cap *= 2;
	if (cap > CFMT_MAP_MAX_EXTENTS + 1)
		cap = CFMT_MAP_MAX_EXTENTS + 1;
	n = realloc(m->ext, (size_t)cap * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	m->ext = n;
	m->cap = cap;
	return 0;
}

/* Index of the first extent whose end is at or past pos (count if none) */
static uint32_t
first_ending_at_or_after(const struct cfmt_map *m, uint64_t pos)
{
	uint32_t lo = 0, hi = m->count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ext_end(&m->ext[mid]) < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Drop the smallest extent (the last of equals): forget, never invent */
static void
drop_smallest(struct cfmt_map *m)
{
	uint32_t i, min = 0;

	for (i = 1; i < m->count; i++)
		if (m->ext[i].len <= m->ext[min].len)
			min = i;
	memmove(&m->ext[min], &m->ext[min + 1],
	    (m->count - min - 1) * sizeof(*m->ext));
	m->count--;
}

/* qsort_r order for cfmt_map_limit: the extent drop_smallest would take
 * first comes first (shortest; of equals, the last) */
static int
limit_cmp(const void *a, const void *b, void *arg)
{
	const struct cfmt_extent *e = arg;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	if (e[i].len != e[j].len)
		return e[i].len < e[j].len ? -1 : 1;
	return i > j ? -1 : i < j;
}

/*
 * Keep the max longest extents: the same ones as dropping the smallest
 * (the last of equals) one at a time, which was O(n) a step and ~16M
 * operations to trim 4,095 extents to 200; here one sort and one
 * compaction pass, O(n log n). Dropping never merges extents, so the
 * extents dropped are just the first count - max in that order.
 */
void
cfmt_map_limit(struct cfmt_map *m, uint32_t max)
{
	uint32_t *idx, i, k, n = m->count;
	uint8_t *drop;

	if (n <= max)
		return;
	if (n - max == 1) {
		drop_smallest(m);
		return;
	}
	idx = malloc((size_t)n * sizeof(*idx));
	drop = calloc(n, 1);
	if (idx == NULL || drop == NULL) {
		free(idx);
		free(drop);
		while (m->count > max)	/* slow, but right */
			drop_smallest(m);
		return;
	}
	for (i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), limit_cmp, m->ext);
	for (i = 0; i < n - max; i++)
		drop[idx[i]] = 1;
	for (i = k = 0; i < n; i++)
		if (!drop[i])
			m->ext[k++] = m->ext[i];
	m->count = k;
	free(idx);
	free(drop);
}

/*
 * Contract in cfmt.h. The map stays sorted, with no two extents that
 * overlap or touch: the new range is merged in place into the run of
 * extents it overlaps or touches (no allocation, cannot fail), or
 * inserted as a new extent (may allocate, then may forget the smallest
 * one past CFMT_MAP_MAX_EXTENTS). Callers: the store's fills (daemon),
 * liblarder's local map of what it wrote.
 */
int
cfmt_map_add(struct cfmt_map *m, uint64_t start, uint64_t len)
{
	uint64_t end, nstart, nend;
	uint32_t i, j;
	int r;

	if (len == 0)
		return 0;
	if (len > UINT64_MAX - start)
		return -EINVAL;
	end = start + len;

	/* extents i..j-1 overlap or touch [start, end) */
	i = first_ending_at_or_after(m, start);
	for (j = i; j < m->count && m->ext[j].start <= end; j++)
		;
	if (j > i) {
		nstart = m->ext[i].start < start ? m->ext[i].start : start;
		nend = ext_end(&m->ext[j - 1]) > end ?
		    ext_end(&m->ext[j - 1]) : end;
		m->ext[i].start = nstart;
		m->ext[i].len = nend - nstart;
		memmove(&m->ext[i + 1], &m->ext[j],
		    (m->count - j) * sizeof(*m->ext));
		m->count -= j - i - 1;
		return 0;
	}
	if ((r = reserve(m, m->count + 1)) < 0)
		return r;
	memmove(&m->ext[i + 1], &m->ext[i], (m->count - i) * sizeof(*m->ext));
	m->ext[i].start = start;
	m->ext[i].len = len;
	m->count++;
	cfmt_map_limit(m, CFMT_MAP_MAX_EXTENTS);
	return 0;
}

int
cfmt_map_covers(const struct cfmt_map *m, uint64_t start, uint64_t len)
{
	uint32_t i;

	if (len == 0)
		return 1;
	if (len > UINT64_MAX - start)
		return 0;
	/* the only candidate: the first extent ending after start */
	i = first_ending_at_or_after(m, start + 1);
	if (i == m->count)
		return 0;
	return m->ext[i].start <= start && ext_end(&m->ext[i]) >= start + len;
}

uint64_t
cfmt_map_bytes(const struct cfmt_map *m)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < m->count; i++)
		sum += m->ext[i].len;
	return sum;
}

void
cfmt_map_truncate(struct cfmt_map *m, uint64_t size)
{
	while (m->count > 0 && m->ext[m->count - 1].start >= size)
		m->count--;
	if (m->count > 0 && ext_end(&m->ext[m->count - 1]) > size)
		m->ext[m->count - 1].len = size - m->ext[m->count - 1].start;
}

int
cfmt_map_copy(struct cfmt_map *dst, const struct cfmt_map *src)
{
	int r;

	if (dst == src)
		return 0;
	if (src->count > CFMT_MAP_MAX_EXTENTS)
		return -E2BIG;
	if ((r = reserve(dst, src->count)) < 0)
		return r;
	if (src->count > 0)
		memcpy(dst->ext, src->ext, src->count * sizeof(*src->ext));
	dst->count = src->count;
	return 0;
}

size_t
cfmt_map_encoded_len(uint32_t count)
{
	return CFMT_MAP_HDR + (size_t)count * CFMT_MAP_EXTENT_SIZE;
}

/*
 * Contract in cfmt.h: the map xattr, version byte, three zero bytes, a
 * big-endian u32 count, then count x (be64 start, be64 len). Refuses a map
 * that cfmt_map_decode would refuse, except for the object-size bound,
 * which it cannot know, so the store never writes a map it cannot read
 * back.
 */
int
cfmt_map_encode(const struct cfmt_map *m, uint8_t *out, size_t outsz)
{
	uint64_t prev_end = 0;
	uint32_t i;
	size_t len;
	uint8_t *p;

	if (m == NULL || out == NULL || m->count > CFMT_MAP_MAX_EXTENTS)
		return -EINVAL;
	/* a hand-built map must obey the same rules as a decoded one */
	for (i = 0; i < m->count; i++) {
		if (m->ext[i].len == 0 ||
		    m->ext[i].len > UINT64_MAX - m->ext[i].start ||
		    (i > 0 && m->ext[i].start <= prev_end))
			return -EINVAL;
		prev_end = ext_end(&m->ext[i]);
	}
	len = cfmt_map_encoded_len(m->count);
	if (outsz < len)
		return -ENOSPC;
	out[0] = CFMT_MAP_VERSION;
	out[1] = 0;
	out[2] = 0;
	out[3] = 0;
	put_be32(out + 4, m->count);
	for (i = 0, p = out + CFMT_MAP_HDR; i < m->count; i++) {
		put_be64(p, m->ext[i].start);
		put_be64(p + 8, m->ext[i].len);
		p += CFMT_MAP_EXTENT_SIZE;
	}
	return (int)len;
}

/*
 * Contract in cfmt.h. buf is an xattr read from disk: hostile. Every
 * rule is checked (version, zero bytes, count bound, exact length, each
 * extent non-empty, no overflow, sorted and apart, within object_size)
 * before m is touched beyond emptying it, so a bad map is no data, never
 * half a map.
 */
int
cfmt_map_decode(const uint8_t *buf, size_t len, uint64_t object_size,
    struct cfmt_map *m)
{
	uint64_t start, elen, prev_end = 0;
	uint32_t count, i;
	const uint8_t *p;
	int r;

	if (m == NULL)
		return -EINVAL;
	m->count = 0;
	if (buf == NULL || len < CFMT_MAP_HDR)
		return -EINVAL;
	if (buf[0] != CFMT_MAP_VERSION || buf[1] != 0 || buf[2] != 0 ||
	    buf[3] != 0)
		return -EINVAL;
	count = get_be32(buf + 4);
	if (count > CFMT_MAP_MAX_EXTENTS || len != cfmt_map_encoded_len(count))
		return -EINVAL;
	/* check everything before touching the map */
	for (i = 0, p = buf + CFMT_MAP_HDR; i < count;
	    i++, p += CFMT_MAP_EXTENT_SIZE) {
		start = get_be64(p);
		elen = get_be64(p + 8);
		if (elen == 0 || elen > UINT64_MAX - start)
			return -EINVAL;
		if (i > 0 && start <= prev_end)
			return -EINVAL;	/* unsorted, overlapping or adjacent */
		if (start + elen > object_size)
			return -EINVAL;
		prev_end = start + elen;
	}
	if ((r = reserve(m, count)) < 0)
		return r;
	for (i = 0, p = buf + CFMT_MAP_HDR; i < count;
	    i++, p += CFMT_MAP_EXTENT_SIZE) {
		m->ext[i].start = get_be64(p);
		m->ext[i].len = get_be64(p + 8);
	}
	m->count = count;
	return 0;
}
