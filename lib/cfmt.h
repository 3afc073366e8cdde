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
/* volume coherency: what fits one xattr value (XATTR_SIZE_MAX 65536) */
#define CFMT_MAX_VOL_COH	(65536 - CFMT_VOL_XATTR_HDR)
/* longest cooked object name: 'E' + pad digit + 4 chars per 3 bytes of 255,
 * plus the NUL. Note that a directory entry holds at most 255 bytes
 * (NAME_MAX): 'E' names of keys over 189 bytes and 'D' names of 255-byte
 * keys cannot exist on disk, and the kernel BUG()s on keys over 252 bytes
 * (cachefiles_cook_key: BUG_ON(keylen > NAME_MAX - 3)). */
#define CFMT_MAX_NAME		(2 + 4 * ((CFMT_MAX_COOKIE_KEY + 2) / 3) + 1)
#define CFMT_NAME_MAX		255	/* longest name a directory can hold */
#define CFMT_TYPE_DATA		1

/* Linux 6.1 writes content 0 (NONE) on data objects that do hold data: it
 * never updates content_info and asks the filesystem (SEEK_DATA) instead.
 * So content 0 on a kernel-written object does not mean "empty". */
enum cfmt_content {
	CFMT_CONTENT_NONE = 0,
	CFMT_CONTENT_SINGLE = 1,
	CFMT_CONTENT_ALL = 2,
	CFMT_CONTENT_MAP = 3,
	CFMT_CONTENT_DIRTY = 4,
};

/* fs/netfs hashing: volume hash and cookie hash (salted with the volume's).
 * Keys are at most 255 bytes; a longer key has no kernel hash and gives 0. */
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

/*
 * Reverse of cfmt_cook_key: decode a NUL-terminated name into key bytes.
 * Returns the key length, -EINVAL for a name that no key cooks to (the
 * decoded key is cooked again and must give exactly this name; the old
 * pre-5.17 'I', 'J', '+', '@' names are rejected), or -ENOSPC if keysz is
 * too small (CFMT_MAX_COOKIE_KEY always suffices).
 * 'S'/'T' names are not unique to one key: keys that differ only in
 * trailing zero bytes of the last 32-bit word cook to the same name and
 * have the same fan-out (the kernel cannot tell them apart either). Such a
 * name decodes to the whole-word key (4 bytes per word, at most 255), which
 * is what 9p, NFS and AFS keys are.
 */
int cfmt_uncook_key(const char *name, uint8_t *key, size_t keysz);

/* Object xattr (user.CacheFiles.cache on a data file). Seen on Linux 6.1:
 * the kernel makes objects with vfs_tmpfile(S_IFREG), i.e. mode 0000, and
 * volume and fan-out directories 0700. */
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
/* Decode; -EINVAL if too short or the aux is too long. Any type and
 * content are decoded as found: judging them is cfmt_obj_usable's job. */
int cfmt_obj_decode(const uint8_t *buf, size_t len, struct cfmt_obj *o);
/*
 * The kernel's staleness rules: an object on disk (raw xattr bytes) is
 * usable for a cookie with (aux, object_size) only if the xattr length is
 * 18 + aux_len, type is 1, the aux bytes match, object_size matches and
 * content is not dirty. Returns 1 usable, 0 stale.
 */
int cfmt_obj_usable(const uint8_t *xattr, size_t xlen, const void *aux,
    size_t aux_len, uint64_t object_size);

/* Volume xattr (user.CacheFiles.cache on I<key>): be32 0 + coherency.
 * Returns the length, -EINVAL or -ENOSPC. 9p volumes have no coherency
 * data: their xattr is 00 00 00 00. */
int cfmt_vol_encode(const void *coh, size_t coh_len, uint8_t *out,
    size_t outsz);
/* 1 if the volume xattr matches the coherency data, 0 if not: the length
 * must be 4 + coh_len, the reserved word 0, the bytes equal (the kernel's
 * cachefiles_check_volume_xattr) */
int cfmt_vol_matches(const uint8_t *xattr, size_t xlen, const void *coh,
    size_t coh_len);

/*
 * larder's map xattr (user.larder.map): which byte ranges of an object hold
 * data. larderd(8) documents this format; keep the two in step.
 *
 *   offset  size  field
 *   0       1     version, 1
 *   1       1     flags, 0 (a reader rejects any other value)
 *   2       2     reserved, 0 (rejected if not 0)
 *   4       4     be32 count of extents, 0 .. 4095
 *   8       16*n  count x { be64 start; be64 len; }
 *
 * The value is exactly 8 + 16 * count bytes (at most 65528, within
 * XATTR_SIZE_MAX; ext4 without ea_inode holds only about 250 extents in
 * one block: on E2BIG/ENOSPC from setxattr, cfmt_map_limit and retry).
 * Extents are sorted by start, each len > 0, start + len does not overflow
 * 64 bits, each ends at or before the object size of the object's
 * user.CacheFiles.cache xattr, and two extents neither overlap nor touch
 * (prev.start + prev.len < next.start): there is exactly one encoding of
 * a set of byte ranges. A value that breaks any rule is treated as "no
 * data cached": a cache may forget, it must never invent.
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
#define CFMT_MAP_HDR		8
#define CFMT_MAP_EXTENT_SIZE	16
/* beyond this, the smallest extents are forgotten; 4095 so that the
 * largest value (65528 bytes) fits in XATTR_SIZE_MAX */
#define CFMT_MAP_MAX_EXTENTS	4095

void cfmt_map_init(struct cfmt_map *m);
void cfmt_map_free(struct cfmt_map *m);
void cfmt_map_clear(struct cfmt_map *m);
/*
 * Add [start, start+len), merging with overlapping and adjacent extents.
 * len 0 is a no-op. Returns 0, -EINVAL if start + len overflows 64 bits,
 * or -ENOMEM (the map is unchanged). If the map would exceed
 * CFMT_MAP_MAX_EXTENTS, the smallest extent is forgotten (it may be the new
 * one): ask cfmt_map_covers what is really there.
 */
int cfmt_map_add(struct cfmt_map *m, uint64_t start, uint64_t len);
/* Forget the smallest extents until at most max remain */
void cfmt_map_limit(struct cfmt_map *m, uint32_t max);
/* 1 if [start, start+len) is entirely covered, else 0 (len 0: 1; a range
 * whose end overflows 64 bits: 0) */
int cfmt_map_covers(const struct cfmt_map *m, uint64_t start, uint64_t len);
/* total bytes covered */
uint64_t cfmt_map_bytes(const struct cfmt_map *m);
/* drop everything at or past size */
void cfmt_map_truncate(struct cfmt_map *m, uint64_t size);
/* 0, -ENOMEM or -E2BIG (src has too many extents); dst keeps its old
 * contents on failure */
int cfmt_map_copy(struct cfmt_map *dst, const struct cfmt_map *src);
/* encoded length for count extents */
size_t cfmt_map_encoded_len(uint32_t count);
/* encode into out; returns the length, -ENOSPC, or -EINVAL for a map that
 * breaks the rules above (only possible if built by hand) */
int cfmt_map_encode(const struct cfmt_map *m, uint8_t *out, size_t outsz);
/* decode, checking every rule above and that all extents end at or before
 * object_size; 0, -EINVAL or -ENOMEM. On failure m is left empty (a bad
 * map is treated as no data). */
int cfmt_map_decode(const uint8_t *buf, size_t len, uint64_t object_size,
    struct cfmt_map *m);

#endif
