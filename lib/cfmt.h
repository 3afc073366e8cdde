/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cfmt.h: the kernel cachefiles on-disk format (byte-compatible with Linux
 * 6.x fs/cachefiles and fs/netfs), and larder's own map xattr.
 * See ../shared/CACHEFILES-FORMAT.md and larder.conf(5)/larderd(8).
 * Pure functions: no I/O, no allocation unless stated.
 */
#ifndef LARDER_CFMT_H
#define LARDER_CFMT_H

#include <stddef.h>
#include <stdint.h>

#define CFMT_XATTR		"user.CacheFiles.cache"
#define CFMT_MAP_XATTR		"user.larder.map"
#define CFMT_MAX_VOLUME_KEY	254
#define CFMT_MAX_COOKIE_KEY	255
#define CFMT_MAX_AUX		255
#define CFMT_OBJ_XATTR_HDR	18	/* be64 size, be64 zero_point, u8 type, u8 content */
#define CFMT_VOL_XATTR_HDR	4	/* be32 reserved (0) */
/* longest cooked object name: 'E' + pad digit + 4 chars per 3 bytes of 255 */
#define CFMT_MAX_NAME		(2 + 4 * ((CFMT_MAX_COOKIE_KEY + 2) / 3) + 1)
#define CFMT_TYPE_DATA		1

enum cfmt_content {
	CFMT_CONTENT_NONE = 0,
	CFMT_CONTENT_SINGLE = 1,
	CFMT_CONTENT_ALL = 2,
	CFMT_CONTENT_MAP = 3,
	CFMT_CONTENT_DIRTY = 4,
};

/* fs/netfs hashing: volume hash and cookie hash (salted with the volume's) */
uint32_t cfmt_volume_hash(const void *key, size_t len);
uint32_t cfmt_cookie_hash(const void *key, size_t len, uint32_t volume_hash);
/* fan-out directory index (0..255) for a cookie key in a volume */
unsigned cfmt_fanout(const void *key, size_t len, uint32_t volume_hash);

/* Check a volume key: 1..254 bytes, printable, no '/', not "." or "..";
 * 0 or -EINVAL. */
int cfmt_check_volume_key(const void *key, size_t len);

/*
 * cachefiles_cook_key: cook an object key (1..255 bytes) into its on-disk
 * name ('D', 'S'/'T' or 'E' form), NUL-terminated in out (outsz >=
 * CFMT_MAX_NAME). Returns the name length or -EINVAL.
 */
int cfmt_cook_key(const void *key, size_t len, char *out, size_t outsz);

/* Reverse of cfmt_cook_key: decode a name into key bytes. Returns the key
 * length or -EINVAL for a name that no key cooks to. */
int cfmt_uncook_key(const char *name, uint8_t *key, size_t keysz);

/* Object xattr (user.CacheFiles.cache on a data file) */
struct cfmt_obj {
	uint64_t object_size;
	uint8_t type;		/* CFMT_TYPE_DATA */
	uint8_t content;	/* enum cfmt_content */
	uint8_t aux_len;
	uint8_t aux[CFMT_MAX_AUX];
};

/* Encode into out (at least CFMT_OBJ_XATTR_HDR + aux_len bytes); returns
 * the length. */
int cfmt_obj_encode(const struct cfmt_obj *o, uint8_t *out, size_t outsz);
/* Decode; -EINVAL if too short or the aux is too long. */
int cfmt_obj_decode(const uint8_t *buf, size_t len, struct cfmt_obj *o);
/*
 * The kernel's staleness rules: an object on disk (raw xattr bytes) is
 * usable for a cookie with (aux, object_size) only if the xattr length is
 * 18 + aux_len, type is 1, the aux bytes match, object_size matches and
 * content is not dirty. Returns 1 usable, 0 stale.
 */
int cfmt_obj_usable(const uint8_t *xattr, size_t xlen, const void *aux,
    size_t aux_len, uint64_t object_size);

/* Volume xattr (user.CacheFiles.cache on I<key>): be32 0 + coherency */
int cfmt_vol_encode(const void *coh, size_t coh_len, uint8_t *out,
    size_t outsz);
/* 1 if the volume xattr matches the coherency data, 0 if not */
int cfmt_vol_matches(const uint8_t *xattr, size_t xlen, const void *coh,
    size_t coh_len);

/*
 * larder's map xattr (user.larder.map): which byte ranges hold data.
 *   u8 version (1), u8 flags (0), u16 reserved (0), be32 count,
 *   then count x (be64 start, be64 len); extents sorted by start,
 *   non-empty, non-overlapping, non-adjacent (merged).
 */
struct cfmt_extent {
	uint64_t start;
	uint64_t len;
};

struct cfmt_map {
	struct cfmt_extent *ext;	/* malloc'd, owned by the map */
	uint32_t count;
	uint32_t cap;
};

#define CFMT_MAP_VERSION	1
#define CFMT_MAP_MAX_EXTENTS	4096	/* beyond this, larder coarsens the map */

void cfmt_map_init(struct cfmt_map *m);
void cfmt_map_free(struct cfmt_map *m);
void cfmt_map_clear(struct cfmt_map *m);
/* add [start, start+len), merging; 0 or -ENOMEM */
int cfmt_map_add(struct cfmt_map *m, uint64_t start, uint64_t len);
/* 1 if [start, start+len) is entirely covered, else 0 */
int cfmt_map_covers(const struct cfmt_map *m, uint64_t start, uint64_t len);
/* total bytes covered */
uint64_t cfmt_map_bytes(const struct cfmt_map *m);
/* drop everything at or past size */
void cfmt_map_truncate(struct cfmt_map *m, uint64_t size);
int cfmt_map_copy(struct cfmt_map *dst, const struct cfmt_map *src);
/* encoded length for count extents */
size_t cfmt_map_encoded_len(uint32_t count);
/* encode into out; returns the length or -ENOSPC */
int cfmt_map_encode(const struct cfmt_map *m, uint8_t *out, size_t outsz);
/* decode, checking every rule above and that all extents end at or before
 * object_size; 0 or -EINVAL (a bad map is treated as no data) */
int cfmt_map_decode(const uint8_t *buf, size_t len, uint64_t object_size,
    struct cfmt_map *m);

#endif
