/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_cfmt: the cachefiles format codecs against an independent
 * reference (a line-by-line port of the kernel's algorithms: fs/netfs
 * fscache_hash, fscache_alloc_volume, fscache_set_key, fs/cachefiles
 * cachefiles_cook_key), hand-computed vectors, and vectors written by a
 * real Linux 6.1 kernel (tests/vm/t-format.sh).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfmt.h"

/* ---- deterministic PRNG (xorshift64*) ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* ---- reference port of the kernel code (independent of lib/cfmt.c) ---- */

#define REF_ROL32(v, s)	(((v) << (s)) | ((v) >> (32 - (s))))
#define REF_HASH_MIX(x, y, a)	\
	(	x ^= (a),	\
	y ^= x,	x = REF_ROL32(x, 7),\
	x += y,	y = REF_ROL32(y, 20),\
	y *= 9			)

static unsigned int
ref_hash_32(unsigned int val)
{
	return val * 0x61C88647u;	/* GOLDEN_RATIO_32 */
}

static unsigned int
ref_fold_hash(unsigned long x, unsigned long y)
{
	return ref_hash_32((unsigned int)(y ^ ref_hash_32((unsigned int)x)));
}

/* fscache_hash: the caller guarantees a multiple of four bytes */
static unsigned int
ref_fscache_hash(unsigned int salt, const void *data, size_t len)
{
	const uint8_t *p = data;
	unsigned int a, x = 0, y = salt, n = (unsigned int)(len / 4);

	for (; n; n--, p += 4) {
		uint32_t le;

		memcpy(&le, p, 4);
		a = le32toh(le);
		REF_HASH_MIX(x, y, a);
	}
	return ref_fold_hash(x, y);
}

/* fscache_alloc_volume: length byte, key, padded out with zeros */
static unsigned int
ref_volume_hash(const char *volume_key)
{
	size_t klen = strlen(volume_key), hlen;
	uint8_t *key;
	unsigned int h;

	hlen = (1 + klen + 1 + 3) / 4 * 4;	/* round_up(1 + klen + 1, 4) */
	key = calloc(1, hlen);
	ck_assert_ptr_nonnull(key);
	key[0] = (uint8_t)klen;
	memcpy(key + 1, volume_key, klen);
	h = ref_fscache_hash(0, key, hlen);
	free(key);
	return h;
}

/* fscache_set_key */
static unsigned int
ref_cookie_hash(unsigned int volume_hash, const void *index_key,
    size_t index_key_len)
{
	size_t buf_size = (index_key_len + 3) / 4 * 4;
	uint8_t *buf = calloc(1, buf_size + 4);
	unsigned int h;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, index_key, index_key_len);
	h = ref_fscache_hash(volume_hash, buf, buf_size);
	free(buf);
	return h;
}

static const char ref_charmap[64] =
	"0123456789" "abcdefghijklmnopqrstuvwxyz" "ABCDEFGHIJKLMNOPQRSTUVWXYZ" "_-";

static unsigned int
ref_how_many_hex_digits(unsigned int x)
{
	char tmp[16];

	/* digits of %x, zero has none: the kernel's round_up(ilog2+1, 4)/4 */
	return x ? (unsigned int)snprintf(tmp, sizeof(tmp), "%x", x) : 0;
}

/* cachefiles_cook_key (Linux 5.17+), step by step; returns malloc'd name */
static char *
ref_cook_key(const uint8_t *keyin, unsigned int keylen)
{
	uint8_t *kbuf = calloc(1, keylen + 4);	/* the cookie's padded key */
	const uint8_t *key = kbuf, *kend;
	unsigned int acc, i, n, nle, nbe, b64len, len, print, pad;
	char *name, sep;

	ck_assert_ptr_nonnull(kbuf);
	memcpy(kbuf, keyin, keylen);

	print = 1;
	for (i = 0; i < keylen; i++) {
		uint8_t ch = key[i];
		print &= (ch >= 33 && ch <= 46) || (ch >= 48 && ch <= 127);
	}
	if (print) {
		len = 1 + keylen;
		name = malloc(len + 1);
		name[0] = 'D';
		memcpy(name + 1, key, keylen);
		goto success;
	}

	n = (keylen + 3) / 4 * 4;
	nbe = nle = 0;
	for (i = 0; i < n; i += 4) {
		uint32_t w, be, le;

		memcpy(&w, key + i, 4);
		be = be32toh(w);
		le = le32toh(w);
		nbe += 1 + ref_how_many_hex_digits(be);
		nle += 1 + ref_how_many_hex_digits(le);
	}

	b64len = (keylen + 2) / 3;
	pad = b64len * 3 - keylen;
	b64len = 2 + b64len * 4;
	if (nbe < b64len || nle < b64len) {
		unsigned int nlen = (nbe < nle ? nbe : nle) + 1;

		name = malloc(nlen);
		sep = (nbe <= nle) ? 'S' : 'T';
		len = 0;
		for (i = 0; i < n; i += 4) {
			uint32_t w, x;

			memcpy(&w, key + i, 4);
			x = (nbe <= nle) ? be32toh(w) : le32toh(w);
			name[len++] = sep;
			if (x != 0)
				len += (unsigned int)snprintf(name + len,
				    nlen - len, "%x", x);
			sep = ',';
		}
		goto success;
	}

	name = malloc(b64len + 1);
	name[0] = 'E';
	name[1] = (char)('0' + pad);
	len = 2;
	kend = key + keylen;
	do {
		acc = *key++;
		if (key < kend) {
			acc |= (unsigned int)*key++ << 8;
			if (key < kend)
				acc |= (unsigned int)*key++ << 16;
		}
		name[len++] = ref_charmap[acc & 63];
		acc >>= 6;
		name[len++] = ref_charmap[acc & 63];
		acc >>= 6;
		name[len++] = ref_charmap[acc & 63];
		acc >>= 6;
		name[len++] = ref_charmap[acc & 63];
	} while (key < kend);

success:
	name[len] = 0;
	free(kbuf);
	return name;
}

/* ---- helpers ---- */

static size_t
unhex(const char *hex, uint8_t *out, size_t outsz)
{
	size_t n = 0;
	unsigned int b;

	while (hex[0] && hex[1]) {
		ck_assert_uint_lt(n, outsz);
		ck_assert_int_eq(sscanf(hex, "%2x", &b), 1);
		out[n++] = (uint8_t)b;
		hex += 2;
	}
	return n;
}

static void
le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
cook_ok(const void *key, size_t len, const char *want)
{
	char name[CFMT_MAX_NAME];
	int r;

	r = cfmt_cook_key(key, len, name, sizeof(name));
	ck_assert_int_eq(r, (int)strlen(want));
	ck_assert_str_eq(name, want);
}

/* ---- real kernel vectors (Linux 6.1.0-56-amd64, QEMU 7.2 9p, cachefilesd) ---- */

/*
 * Seen in tests/vm/t-format.sh runs: the share's host inode numbers are
 * the 9p qid.path (the cookie key, le64), aux is le32 qid.version =
 * (u32)(mtime ^ (size << 8)) as QEMU computes it, content is 0.
 */
struct kvec {
	const char *vol;
	uint64_t ino;
	const char *path;	/* fan-out dir / name */
	const char *xattr;	/* user.CacheFiles.cache, hex */
	uint64_t size;
	uint32_t version;
};

static const struct kvec kvecs[] = {
	{ "9p,hostshare,", 10952898, "@fe/Ta720c2,",
	  "00000000002dc6c0000000000000000001" "00" "f437c746",
	  3000000, 0x46c737f4 },
	{ "9p,hostshare,", 10952914, "@ff/Ta720d2,",
	  "0000000000000006000000000000000001" "00" "f4f1016b",
	  6, 0x6b01f1f4 },
	{ "9p,hostshare,", 10952930, "@cf/Ta720e2,",
	  "0000000000002000000000000000000001" "00" "f4f7216b",
	  8192, 0x6b21f7f4 },
	/* a second run: the same inode in two volumes */
	{ "9p,hostshare,mycache", 0xa72763, "@bc/Ta72763,",
	  "00000000002dc6c0000000000000000001" "00" "1639c746",
	  3000000, 0x46c73916 },
	{ "9p,hostshare,", 0xa72763, "@5c/Ta72763,",
	  "00000000002dc6c0000000000000000001" "00" "1639c746",
	  3000000, 0x46c73916 },
	{ "9p,hostshare,mycache", 0xa726e1, "@46/Ta726e1,",
	  "0000000000000001000000000000000001" "00" "16f8016b",
	  1, 0x6b01f816 },
	{ "9p,hostshare,", 0xa726e1, "@1e/Ta726e1,",
	  "0000000000000001000000000000000001" "00" "16f8016b",
	  1, 0x6b01f816 },
	{ "9p,hostshare,mycache", 0xa72751, "@cb/Ta72751,",
	  "0000000000010003000000000000000001" "00" "16fa016a",
	  65539, 0x6a01fa16 },
	{ "9p,hostshare,", 0xa72751, "@2a/Ta72751,",
	  "0000000000010003000000000000000001" "00" "16fa016a",
	  65539, 0x6a01fa16 },
	/* /work/shared/vm/README.md: cache/I9p,hostshare,mycache/@7a/Ta8202b, */
	{ "9p,hostshare,mycache", 0xa8202b, "@7a/Ta8202b,", NULL, 0, 0 },
};

START_TEST(test_kernel_vectors)
{
	size_t i;

	for (i = 0; i < sizeof(kvecs) / sizeof(kvecs[0]); i++) {
		const struct kvec *v = &kvecs[i];
		uint8_t key[8], want[64], got[64], aux[4];
		char path[CFMT_MAX_NAME + 8], name[CFMT_MAX_NAME];
		uint32_t vh = cfmt_volume_hash(v->vol, strlen(v->vol));
		struct cfmt_obj o;
		size_t wlen;

		le64(key, v->ino);
		ck_assert_int_gt(cfmt_cook_key(key, 8, name, sizeof(name)), 0);
		snprintf(path, sizeof(path), "@%02x/%s",
		    cfmt_fanout(key, 8, vh), name);
		ck_assert_str_eq(path, v->path);
		ck_assert_uint_eq(vh, ref_volume_hash(v->vol));
		if (v->xattr == NULL)
			continue;
		wlen = unhex(v->xattr, want, sizeof(want));
		ck_assert_uint_eq(wlen, 22);
		memset(&o, 0, sizeof(o));
		o.object_size = v->size;
		o.type = CFMT_TYPE_DATA;
		o.content = CFMT_CONTENT_NONE;
		o.aux_len = 4;
		aux[0] = (uint8_t)v->version;
		aux[1] = (uint8_t)(v->version >> 8);
		aux[2] = (uint8_t)(v->version >> 16);
		aux[3] = (uint8_t)(v->version >> 24);
		memcpy(o.aux, aux, 4);
		ck_assert_int_eq(cfmt_obj_encode(&o, got, sizeof(got)), 22);
		ck_assert_mem_eq(got, want, 22);
		ck_assert_int_eq(cfmt_obj_usable(want, wlen, aux, 4, v->size), 1);
		ck_assert_int_eq(cfmt_obj_usable(want, wlen, aux, 4,
		    v->size + 1), 0);
		ck_assert_int_eq(cfmt_uncook_key(name, got, sizeof(got)), 8);
		ck_assert_mem_eq(got, key, 8);
	}
}
END_TEST

START_TEST(test_kernel_volume_xattr)
{
	uint8_t out[16], want[4] = { 0, 0, 0, 0 };
	const char *vol = "9p,hostshare,";

	/* 9p acquires its volume with no coherency data: 0x00000000 */
	ck_assert_int_eq(cfmt_vol_encode(NULL, 0, out, sizeof(out)), 4);
	ck_assert_mem_eq(out, want, 4);
	ck_assert_int_eq(cfmt_vol_matches(want, 4, NULL, 0), 1);
	ck_assert_int_eq(cfmt_check_volume_key(vol, strlen(vol)), 0);
}
END_TEST

/* ---- hash ---- */

START_TEST(test_hash_reference)
{
	static const char *vols[] = {
		"9p,hostshare,mycache", "9p,hostshare,", "nfs,4.2,abc,def",
		"a", "ab", "abc", "abcd", "afs,example.com,root.cell",
	};
	uint8_t key[CFMT_MAX_COOKIE_KEY];
	char vol[CFMT_MAX_VOLUME_KEY + 1];
	size_t i, j, len;
	uint32_t vh;

	for (i = 0; i < sizeof(vols) / sizeof(vols[0]); i++)
		ck_assert_uint_eq(cfmt_volume_hash(vols[i], strlen(vols[i])),
		    ref_volume_hash(vols[i]));
	/* every volume key length, random printable keys */
	for (len = 1; len <= CFMT_MAX_VOLUME_KEY; len++) {
		for (j = 0; j < len; j++)
			vol[j] = (char)(0x21 + rnd() % 94);
		vol[len] = '\0';
		ck_assert_uint_eq(cfmt_volume_hash(vol, len),
		    ref_volume_hash(vol));
	}
	/* every cookie key length, random bytes and salts */
	for (i = 0; i < 8; i++) {
		for (len = 1; len <= CFMT_MAX_COOKIE_KEY; len++) {
			vh = (uint32_t)rnd();
			for (j = 0; j < len; j++)
				key[j] = (uint8_t)rnd();
			ck_assert_uint_eq(cfmt_cookie_hash(key, len, vh),
			    ref_cookie_hash(vh, key, len));
			ck_assert_uint_eq(cfmt_fanout(key, len, vh),
			    ref_cookie_hash(vh, key, len) & 0xff);
		}
	}
}
END_TEST

START_TEST(test_hash_fixed)
{
	/* hand-computed: no words -> x = 0, y = salt */
	ck_assert_uint_eq(ref_fscache_hash(0, "", 0), 0);
	ck_assert_uint_eq(cfmt_cookie_hash("", 0, 0), 0);
	ck_assert_uint_eq(cfmt_cookie_hash("", 0, 1), 0x61C88647u);
	/* one word 1, salt 0: x=1,y=1 -> x=rol(1,7)+1=129, y=rol(1,20)*9 */
	ck_assert_uint_eq(cfmt_cookie_hash("\x01\0\0\0", 4, 0),
	    (uint32_t)((0x900000u ^ (129u * 0x61C88647u)) * 0x61C88647u));
	/* trailing zero padding does not change the hash */
	ck_assert_uint_eq(cfmt_cookie_hash("\x05", 1, 77),
	    cfmt_cookie_hash("\x05\0\0\0", 4, 77));
	/* the volume hash covers the length byte */
	ck_assert_uint_ne(cfmt_volume_hash("ab", 2),
	    cfmt_volume_hash("ab\0", 3));
	ck_assert_uint_eq(cfmt_volume_hash("x", 256), 0);
	ck_assert_uint_eq(cfmt_cookie_hash("x", 256, 5), 0);
}
END_TEST

/* ---- volume key ---- */

START_TEST(test_volume_key)
{
	char big[CFMT_MAX_VOLUME_KEY + 2];

	ck_assert_int_eq(cfmt_check_volume_key("9p,hostshare,mycache", 20), 0);
	ck_assert_int_eq(cfmt_check_volume_key("a b", 3), 0);
	ck_assert_int_eq(cfmt_check_volume_key("~", 1), 0);
	ck_assert_int_eq(cfmt_check_volume_key("...", 3), 0);
	ck_assert_int_eq(cfmt_check_volume_key("", 0), -EINVAL);
	ck_assert_int_eq(cfmt_check_volume_key(NULL, 3), -EINVAL);
	ck_assert_int_eq(cfmt_check_volume_key(".", 1), -EINVAL);
	ck_assert_int_eq(cfmt_check_volume_key("..", 2), -EINVAL);
	ck_assert_int_eq(cfmt_check_volume_key("a/b", 3), -EINVAL);
	ck_assert_int_eq(cfmt_check_volume_key("a\nb", 3), -EINVAL);
	ck_assert_int_eq(cfmt_check_volume_key("a\0b", 3), -EINVAL);
	ck_assert_int_eq(cfmt_check_volume_key("a\x7f", 2), -EINVAL);
	ck_assert_int_eq(cfmt_check_volume_key("a\xc3\xa9", 3), -EINVAL);
	memset(big, 'v', sizeof(big));
	ck_assert_int_eq(cfmt_check_volume_key(big, CFMT_MAX_VOLUME_KEY), 0);
	ck_assert_int_eq(cfmt_check_volume_key(big, CFMT_MAX_VOLUME_KEY + 1),
	    -EINVAL);
}
END_TEST

/* ---- cook ---- */

START_TEST(test_cook_vectors)
{
	uint8_t k[16];
	char name[CFMT_MAX_NAME];

	/* CACHEFILES-FORMAT.md */
	cook_ok("\0\0\0\0\0\0\x01\x02", 8, "S,102");
	le64(k, 0xa8202b);
	cook_ok(k, 8, "Ta8202b,");
	/* D: printable, '!'..'.' and '0'..DEL; not space, not '/' */
	cook_ok("hello", 5, "Dhello");
	cook_ok("!", 1, "D!");
	cook_ok(".", 1, "D.");
	cook_ok("\x7f", 1, "D\x7f");
	cook_ok("a.b-c~", 6, "Da.b-c~");
	ck_assert_int_ne(cfmt_cook_key("a/b", 3, name, sizeof(name)), 4);
	ck_assert_int_eq(name[0] != 'D', 1);
	cfmt_cook_key("a b", 3, name, sizeof(name));
	ck_assert_int_eq(name[0] != 'D', 1);
	cfmt_cook_key("ab\x80", 3, name, sizeof(name));
	ck_assert_int_eq(name[0] != 'D', 1);
	/* S and T, with empty zero words */
	cook_ok("\0", 1, "S");
	cook_ok("\0\0\0\0", 4, "S");
	cook_ok("\0\0\0\0\0", 5, "S,");
	cook_ok("\0\0\0\0\0\0\0\0\0\0\0\0", 12, "S,,");
	cook_ok("\0\0\0\x01", 4, "S1");
	cook_ok("\x01\0\0\0", 4, "T1");
	cook_ok("\x01\0\0\0\0\0\0\0", 8, "T1,");
	cook_ok("\0\0\0\0\x01\0\0\0", 8, "T,1");
	cook_ok("\0\x01\x01\0", 4, "S10100");	/* a tie goes to S */
	cook_ok("\x12\x34\x56\x78\0\0\0\x01", 8, "S12345678,1");
	/* E: 00 01 02 -> acc 0x020100 -> digits 0,4,32,0 */
	cook_ok("\0\x01\x02", 3, "E004w0");
	/* E with pad 2: ten 0xff bytes */
	cook_ok("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10,
	    "E2-------------300");
	/* bad arguments */
	ck_assert_int_eq(cfmt_cook_key("a", 0, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(cfmt_cook_key(k, 256, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(cfmt_cook_key("a", 1, name, CFMT_MAX_NAME - 1),
	    -EINVAL);
	ck_assert_int_eq(cfmt_cook_key(NULL, 1, name, sizeof(name)), -EINVAL);
}
END_TEST

static int
all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

/* Random keys of every length and shape, against the reference */
START_TEST(test_cook_roundtrip)
{
	uint8_t key[CFMT_MAX_COOKIE_KEY], back[CFMT_MAX_COOKIE_KEY + 8];
	char name[CFMT_MAX_NAME], again[CFMT_MAX_NAME], *ref;
	unsigned forms[256] = { 0 };
	size_t len, i, j, padded;
	int r, shape;

	for (len = 1; len <= CFMT_MAX_COOKIE_KEY; len++) {
		for (i = 0; i < 64; i++) {
			shape = (int)(i % 6);
			for (j = 0; j < len; j++) {
				uint64_t v = rnd();

				switch (shape) {
				case 0:	/* random binary */
					key[j] = (uint8_t)v;
					break;
				case 1:	/* printable (D, unless / or space) */
					key[j] = (uint8_t)(0x20 + v % 96);
					break;
				case 2:	/* mostly zero (S/T) */
					key[j] = (v % 8) ? 0 : (uint8_t)(v >> 8);
					break;
				case 3:	/* small little-endian integers */
					key[j] = (j % 8 < 2) ? (uint8_t)v : 0;
					break;
				case 4:	/* small big-endian integers */
					key[j] = (j % 4 == 3) ? (uint8_t)v : 0;
					break;
				default: /* strictly D-printable */
					key[j] = (uint8_t)(0x30 + v % 0x50);
					break;
				}
			}
			r = cfmt_cook_key(key, len, name, sizeof(name));
			ck_assert_int_gt(r, 0);
			ck_assert_uint_eq((size_t)r, strlen(name));
			ref = ref_cook_key(key, (unsigned)len);
			ck_assert_str_eq(name, ref);
			free(ref);
			forms[(uint8_t)name[0]]++;

			r = cfmt_uncook_key(name, back, sizeof(back));
			ck_assert_int_gt(r, 0);
			if (name[0] == 'S' || name[0] == 'T') {
				padded = (len + 3) / 4 * 4;
				if (padded > CFMT_MAX_COOKIE_KEY)
					padded = CFMT_MAX_COOKIE_KEY;
				ck_assert_uint_eq((size_t)r, padded);
				ck_assert_int_eq(all_zero(back + len,
				    padded - len), 1);
			} else
				ck_assert_uint_eq((size_t)r, len);
			ck_assert_mem_eq(back, key, len);
			ck_assert_int_eq(cfmt_cook_key(back, (size_t)r, again,
			    sizeof(again)), (int)strlen(name));
			ck_assert_str_eq(again, name);
			/* same fan-out for the decoded key */
			ck_assert_uint_eq(cfmt_fanout(back, (size_t)r, 42),
			    cfmt_fanout(key, len, 42));
		}
	}
	/* every form was exercised */
	ck_assert_uint_gt(forms['D'], 100);
	ck_assert_uint_gt(forms['S'], 100);
	ck_assert_uint_gt(forms['T'], 100);
	ck_assert_uint_gt(forms['E'], 100);
}
END_TEST

START_TEST(test_uncook_reject)
{
	static const char *bad[] = {
		"", "D", "Da/b", "Da b", "D\x80", "Dab\n",
		"I9p,hostshare,", "J", "+", "@1f", "x", "Z12",
		"S0", "S01", "S,0", "SA", "S123456789", "S-1", "S1 ", "S1,g",
		"T", "T,", "T0,1",		/* S is cheaper or 0 has no digits */
		"S1000000",			/* 01 00 00 00 cooks to T1 */
		"E", "E0", "E0abc", "E0abcde", "E3abcd", "E/abcd", "E0ab*d",
		"E0abc=", "E004w",
		"E1ZZZZ",			/* pad 1: high byte set */
		"E2--00",			/* pad 2: second byte set */
		"E00000",			/* 00 00 00 cooks to S */
	};
	uint8_t key[CFMT_MAX_COOKIE_KEY];
	char longname[CFMT_MAX_NAME + 10];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cfmt_uncook_key(bad[i], key, sizeof(key)) ==
		    -EINVAL, "accepted \"%s\"", bad[i]);
	/* an E name of a printable key: "abc" cooks to Dabc */
	{
		uint32_t acc = 'a' | 'b' << 8 | 'c' << 16;
		char e[7] = { 'E', '0', ref_charmap[acc & 63],
		    ref_charmap[(acc >> 6) & 63], ref_charmap[(acc >> 12) & 63],
		    ref_charmap[(acc >> 18) & 63], 0 };

		ck_assert_int_eq(cfmt_uncook_key(e, key, sizeof(key)), -EINVAL);
		acc = ' ' | 'b' << 8 | 'c' << 16;	/* " bc" is not D */
		e[2] = ref_charmap[acc & 63];
		e[3] = ref_charmap[(acc >> 6) & 63];
		e[4] = ref_charmap[(acc >> 12) & 63];
		e[5] = ref_charmap[(acc >> 18) & 63];
		ck_assert_int_eq(cfmt_uncook_key(e, key, sizeof(key)), 3);
		ck_assert_mem_eq(key, " bc", 3);
	}
	ck_assert_int_eq(cfmt_uncook_key("S1", key, sizeof(key)), 4);
	ck_assert_mem_eq(key, "\0\0\0\x01", 4);
	ck_assert_int_eq(cfmt_uncook_key("T1", key, sizeof(key)), 4);
	ck_assert_mem_eq(key, "\x01\0\0\0", 4);
	ck_assert_int_eq(cfmt_uncook_key("S", key, sizeof(key)), 4);
	ck_assert_int_eq(cfmt_uncook_key("S,,", key, sizeof(key)), 12);
	ck_assert_int_eq(cfmt_uncook_key("E004w0", key, sizeof(key)), 3);
	ck_assert_mem_eq(key, "\0\x01\x02", 3);
	ck_assert_int_eq(cfmt_uncook_key("Dabc", key, sizeof(key)), 3);
	/* too small a buffer */
	ck_assert_int_eq(cfmt_uncook_key("Dabc", key, 2), -ENOSPC);
	ck_assert_int_eq(cfmt_uncook_key(NULL, key, 2), -EINVAL);
	/* D name of a 256-byte key, and a name past CFMT_MAX_NAME */
	memset(longname, 'a', sizeof(longname));
	longname[0] = 'D';
	longname[257] = '\0';
	ck_assert_int_eq(cfmt_uncook_key(longname, key, sizeof(key)), -EINVAL);
	longname[256] = '\0';
	ck_assert_int_eq(cfmt_uncook_key(longname, key, sizeof(key)), 255);
	memset(longname, 'a', sizeof(longname));
	longname[0] = 'D';
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(cfmt_uncook_key(longname, key, sizeof(key)), -EINVAL);
	/* 64 words: longest whole-word key is 255 bytes, last byte dropped */
	{
		char s[CFMT_MAX_NAME], *p = s;
		uint8_t k[CFMT_MAX_COOKIE_KEY];
		int r;

		memset(k, 0, sizeof(k));
		k[0] = 1;
		r = cfmt_cook_key(k, sizeof(k), s, sizeof(s));
		ck_assert_int_gt(r, 0);
		ck_assert_int_eq(s[0], 'T');
		ck_assert_int_eq(cfmt_uncook_key(s, key, sizeof(key)), 255);
		ck_assert_mem_eq(key, k, 255);
		/* a 65th word is no key at all */
		p = s + strlen(s);
		strcpy(p, ",");
		ck_assert_int_eq(cfmt_uncook_key(s, key, sizeof(key)), -EINVAL);
	}
}
END_TEST

/* ---- object xattr ---- */

START_TEST(test_obj_layout)
{
	struct cfmt_obj o, d;
	uint8_t out[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX];
	static const uint8_t want[] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,	/* size */
		0, 0, 0, 0, 0, 0, 0, 0,				/* zero_point */
		0x01,						/* type */
		0x03,						/* content */
		0xaa, 0xbb, 0xcc,				/* aux */
	};

	memset(&o, 0, sizeof(o));
	o.object_size = 0x0102030405060708ull;
	o.type = CFMT_TYPE_DATA;
	o.content = CFMT_CONTENT_MAP;
	o.aux_len = 3;
	memcpy(o.aux, "\xaa\xbb\xcc", 3);
	ck_assert_int_eq(cfmt_obj_encode(&o, out, sizeof(out)), 21);
	ck_assert_mem_eq(out, want, sizeof(want));
	ck_assert_int_eq(cfmt_obj_encode(&o, out, 20), -ENOSPC);
	ck_assert_int_eq(cfmt_obj_decode(want, sizeof(want), &d), 0);
	ck_assert_uint_eq(d.object_size, o.object_size);
	ck_assert_uint_eq(d.type, 1);
	ck_assert_uint_eq(d.content, 3);
	ck_assert_uint_eq(d.aux_len, 3);
	ck_assert_mem_eq(d.aux, o.aux, 3);

	/* 3,000,000 bytes: the doc's example */
	o.object_size = 3000000;
	o.aux_len = 0;
	ck_assert_int_eq(cfmt_obj_encode(&o, out, sizeof(out)), 18);
	ck_assert_mem_eq(out, "\0\0\0\0\0\x2d\xc6\xc0", 8);

	/* maximum aux */
	o.aux_len = CFMT_MAX_AUX;
	memset(o.aux, 0x5a, CFMT_MAX_AUX);
	ck_assert_int_eq(cfmt_obj_encode(&o, out, sizeof(out)),
	    CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX);
	ck_assert_int_eq(cfmt_obj_decode(out, sizeof(out), &d), 0);
	ck_assert_uint_eq(d.aux_len, CFMT_MAX_AUX);
}
END_TEST

START_TEST(test_obj_decode_errors)
{
	uint8_t buf[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX + 1];
	struct cfmt_obj d;
	size_t len;

	memset(buf, 0, sizeof(buf));
	for (len = 0; len < CFMT_OBJ_XATTR_HDR; len++)
		ck_assert_int_eq(cfmt_obj_decode(buf, len, &d), -EINVAL);
	ck_assert_int_eq(cfmt_obj_decode(buf, CFMT_OBJ_XATTR_HDR, &d), 0);
	ck_assert_uint_eq(d.aux_len, 0);
	ck_assert_int_eq(cfmt_obj_decode(buf, sizeof(buf), &d), -EINVAL);
	ck_assert_int_eq(cfmt_obj_decode(NULL, 18, &d), -EINVAL);
	/* zero_point is ignored, odd type and content decode as found */
	buf[8] = 0xff;
	buf[16] = 7;
	buf[17] = 9;
	ck_assert_int_eq(cfmt_obj_decode(buf, 18, &d), 0);
	ck_assert_uint_eq(d.type, 7);
	ck_assert_uint_eq(d.content, 9);
}
END_TEST

static size_t
mkobj(uint8_t *out, uint64_t size, uint8_t type, uint8_t content,
    const char *aux, size_t aux_len)
{
	struct cfmt_obj o;
	int r;

	memset(&o, 0, sizeof(o));
	o.object_size = size;
	o.type = type;
	o.content = content;
	o.aux_len = (uint8_t)aux_len;
	memcpy(o.aux, aux, aux_len);
	r = cfmt_obj_encode(&o, out, CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX);
	ck_assert_int_gt(r, 0);
	return (size_t)r;
}

START_TEST(test_obj_staleness)
{
	uint8_t x[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX + 8];
	size_t n;
	int c;

	/* usable, for every content but dirty (the kernel checks no other) */
	for (c = 0; c < 256; c++) {
		n = mkobj(x, 4096, 1, (uint8_t)c, "v1v1", 4);
		ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v1", 4, 4096),
		    c != CFMT_CONTENT_DIRTY);
	}
	n = mkobj(x, 4096, 1, 2, "v1v1", 4);
	/* rule 1: the length must be exactly 18 + aux_len */
	ck_assert_int_eq(cfmt_obj_usable(x, n - 1, "v1v1", 4, 4096), 0);
	ck_assert_int_eq(cfmt_obj_usable(x, n - 1, "v1v", 3, 4096), 1);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v", 3, 4096), 0);
	ck_assert_int_eq(cfmt_obj_usable(x, n + 1, "v1v1", 4, 4096), 0);
	ck_assert_int_eq(cfmt_obj_usable(x, 17, "", 0, 4096), 0);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v1", 256, 4096), 0);
	/* rule 2: type must be 1 */
	n = mkobj(x, 4096, 0, 2, "v1v1", 4);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v1", 4, 4096), 0);
	n = mkobj(x, 4096, 2, 2, "v1v1", 4);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v1", 4, 4096), 0);
	/* rule 3: aux bytes equal */
	n = mkobj(x, 4096, 1, 2, "v1v1", 4);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v2", 4, 4096), 0);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "V1v1", 4, 4096), 0);
	/* rule 4: object size equal */
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v1", 4, 4095), 0);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v1", 4, 4096 + (1ull << 32)),
	    0);
	/* rule 5: not dirty */
	n = mkobj(x, 4096, 1, CFMT_CONTENT_DIRTY, "v1v1", 4);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v1", 4, 4096), 0);
	/* zero_point is never checked */
	n = mkobj(x, 4096, 1, 2, "v1v1", 4);
	x[15] = 0x77;
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1v1", 4, 4096), 1);
	/* no aux */
	n = mkobj(x, 0, 1, 0, "", 0);
	ck_assert_int_eq(cfmt_obj_usable(x, n, NULL, 0, 0), 1);
}
END_TEST

/* ---- volume xattr ---- */

START_TEST(test_vol_xattr)
{
	uint8_t out[64];

	ck_assert_int_eq(cfmt_vol_encode("abc", 3, out, sizeof(out)), 7);
	ck_assert_mem_eq(out, "\0\0\0\0abc", 7);
	ck_assert_int_eq(cfmt_vol_encode("abc", 3, out, 6), -ENOSPC);
	ck_assert_int_eq(cfmt_vol_encode(NULL, 3, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(cfmt_vol_encode("x", CFMT_MAX_VOL_COH + 1, out,
	    sizeof(out)), -EINVAL);
	ck_assert_int_eq(cfmt_vol_matches(out, 7, "abc", 3), 1);
	ck_assert_int_eq(cfmt_vol_matches(out, 7, "abd", 3), 0);
	ck_assert_int_eq(cfmt_vol_matches(out, 6, "abc", 3), 0);
	ck_assert_int_eq(cfmt_vol_matches(out, 8, "abc", 3), 0);
	ck_assert_int_eq(cfmt_vol_matches(out, 7, "abcd", 4), 0);
	ck_assert_int_eq(cfmt_vol_matches(out, 3, NULL, 0), 0);
	out[3] = 1;	/* reserved word must be 0 */
	ck_assert_int_eq(cfmt_vol_matches(out, 7, "abc", 3), 0);
	out[3] = 0;
	out[0] = 0x80;
	ck_assert_int_eq(cfmt_vol_matches(out, 7, "abc", 3), 0);
}
END_TEST

/* ---- map ---- */

static void
map_expect(const struct cfmt_map *m, const uint64_t *se, uint32_t n)
{
	uint32_t i;

	ck_assert_uint_eq(m->count, n);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(m->ext[i].start, se[2 * i]);
		ck_assert_uint_eq(m->ext[i].len, se[2 * i + 1]);
	}
}

START_TEST(test_map_add_merge)
{
	struct cfmt_map m;

	cfmt_map_init(&m);
	ck_assert_int_eq(cfmt_map_add(&m, 100, 0), 0);
	ck_assert_uint_eq(m.count, 0);
	ck_assert_int_eq(cfmt_map_add(&m, 100, 10), 0);		/* [100,110) */
	ck_assert_int_eq(cfmt_map_add(&m, 200, 10), 0);		/* [200,210) */
	ck_assert_int_eq(cfmt_map_add(&m, 0, 10), 0);		/* [0,10) */
	map_expect(&m, (const uint64_t[]){ 0, 10, 100, 10, 200, 10 }, 3);
	/* adjacent on the left and right */
	ck_assert_int_eq(cfmt_map_add(&m, 90, 10), 0);
	ck_assert_int_eq(cfmt_map_add(&m, 110, 5), 0);
	map_expect(&m, (const uint64_t[]){ 0, 10, 90, 25, 200, 10 }, 3);
	/* overlap, contained, bridging two */
	ck_assert_int_eq(cfmt_map_add(&m, 5, 10), 0);
	ck_assert_int_eq(cfmt_map_add(&m, 95, 3), 0);
	map_expect(&m, (const uint64_t[]){ 0, 15, 90, 25, 200, 10 }, 3);
	ck_assert_int_eq(cfmt_map_add(&m, 15, 75), 0);		/* fills gap */
	map_expect(&m, (const uint64_t[]){ 0, 115, 200, 10 }, 2);
	ck_assert_int_eq(cfmt_map_add(&m, 50, 1000), 0);	/* swallows */
	map_expect(&m, (const uint64_t[]){ 0, 1050 }, 1);
	/* overflow */
	ck_assert_int_eq(cfmt_map_add(&m, UINT64_MAX, 1), -EINVAL);
	ck_assert_int_eq(cfmt_map_add(&m, 1, UINT64_MAX), -EINVAL);
	ck_assert_int_eq(cfmt_map_add(&m, UINT64_MAX - 5, 6), -EINVAL);
	map_expect(&m, (const uint64_t[]){ 0, 1050 }, 1);
	ck_assert_int_eq(cfmt_map_add(&m, UINT64_MAX - 5, 5), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, UINT64_MAX - 5, 5), 1);
	ck_assert_int_eq(cfmt_map_covers(&m, UINT64_MAX - 5, 6), 0);
	ck_assert_uint_eq(cfmt_map_bytes(&m), 1055);
	cfmt_map_clear(&m);
	ck_assert_uint_eq(m.count, 0);
	ck_assert_int_eq(cfmt_map_add(&m, 0, UINT64_MAX), 0);
	ck_assert_uint_eq(cfmt_map_bytes(&m), UINT64_MAX);
	cfmt_map_free(&m);
	ck_assert_ptr_null(m.ext);
}
END_TEST

START_TEST(test_map_covers_truncate)
{
	struct cfmt_map m, c;

	cfmt_map_init(&m);
	cfmt_map_init(&c);
	ck_assert_int_eq(cfmt_map_covers(&m, 0, 0), 1);
	ck_assert_int_eq(cfmt_map_covers(&m, 0, 1), 0);
	cfmt_map_add(&m, 0, 4096);
	cfmt_map_add(&m, 8192, 4096);
	cfmt_map_add(&m, 20000, 5);
	ck_assert_int_eq(cfmt_map_covers(&m, 0, 4096), 1);
	ck_assert_int_eq(cfmt_map_covers(&m, 4095, 1), 1);
	ck_assert_int_eq(cfmt_map_covers(&m, 4095, 2), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, 4096, 1), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, 0, 12288), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, 8192, 4096), 1);
	ck_assert_int_eq(cfmt_map_covers(&m, 8191, 2), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, 20004, 1), 1);
	ck_assert_int_eq(cfmt_map_covers(&m, 20005, 1), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, 30000, 1), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, UINT64_MAX, 1), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, 5, UINT64_MAX), 0);
	ck_assert_uint_eq(cfmt_map_bytes(&m), 8197);

	ck_assert_int_eq(cfmt_map_copy(&c, &m), 0);
	map_expect(&c, (const uint64_t[]){ 0, 4096, 8192, 4096, 20000, 5 }, 3);
	ck_assert_int_eq(cfmt_map_copy(&c, &c), 0);

	cfmt_map_truncate(&m, 20002);		/* clip the last */
	map_expect(&m, (const uint64_t[]){ 0, 4096, 8192, 4096, 20000, 2 }, 3);
	cfmt_map_truncate(&m, 20000);		/* at a start: dropped */
	map_expect(&m, (const uint64_t[]){ 0, 4096, 8192, 4096 }, 2);
	cfmt_map_truncate(&m, 1ull << 40);	/* past the end: no-op */
	map_expect(&m, (const uint64_t[]){ 0, 4096, 8192, 4096 }, 2);
	cfmt_map_truncate(&m, 10000);		/* inside */
	map_expect(&m, (const uint64_t[]){ 0, 4096, 8192, 1808 }, 2);
	cfmt_map_truncate(&m, 5000);		/* in a gap */
	map_expect(&m, (const uint64_t[]){ 0, 4096 }, 1);
	cfmt_map_truncate(&m, 0);
	ck_assert_uint_eq(m.count, 0);
	/* the copy is independent */
	ck_assert_uint_eq(c.count, 3);
	cfmt_map_free(&m);
	cfmt_map_free(&c);
}
END_TEST

/* random adds against a byte model */
START_TEST(test_map_model)
{
	enum { DOM = 600 };
	uint8_t model[DOM];
	struct cfmt_map m;
	int round, op, i;

	for (round = 0; round < 200; round++) {
		memset(model, 0, sizeof(model));
		cfmt_map_init(&m);
		for (op = 0; op < 40; op++) {
			uint64_t s = rnd() % DOM, l = rnd() % 40;

			if (s + l > DOM)
				l = DOM - s;
			ck_assert_int_eq(cfmt_map_add(&m, s, l), 0);
			memset(model + s, 1, (size_t)l);
			if (rnd() % 10 == 0) {
				uint64_t t = rnd() % DOM;

				cfmt_map_truncate(&m, t);
				memset(model + t, 0, DOM - (size_t)t);
			}
			/* invariants */
			for (i = 0; i < (int)m.count; i++) {
				ck_assert_uint_gt(m.ext[i].len, 0);
				if (i > 0)
					ck_assert_uint_lt(m.ext[i - 1].start +
					    m.ext[i - 1].len, m.ext[i].start);
			}
		}
		{
			uint64_t bytes = 0;

			for (i = 0; i < DOM; i++)
				bytes += model[i];
			ck_assert_uint_eq(cfmt_map_bytes(&m), bytes);
		}
		for (i = 0; i < 200; i++) {
			uint64_t s = rnd() % DOM, l = rnd() % 30, k;
			int want = 1;

			for (k = s; k < s + l; k++)
				if (k >= DOM || !model[k])
					want = 0;
			ck_assert_int_eq(cfmt_map_covers(&m, s, l), want);
		}
		cfmt_map_free(&m);
	}
}
END_TEST

START_TEST(test_map_bound)
{
	struct cfmt_map m;
	uint32_t i;

	cfmt_map_init(&m);
	/* CFMT_MAP_MAX_EXTENTS disjoint extents of 2 bytes, one of 1 byte */
	for (i = 0; i < CFMT_MAP_MAX_EXTENTS; i++)
		ck_assert_int_eq(cfmt_map_add(&m, (uint64_t)i * 10,
		    i == 77 ? 1 : 2), 0);
	ck_assert_uint_eq(m.count, CFMT_MAP_MAX_EXTENTS);
	ck_assert_int_eq(cfmt_map_covers(&m, 770, 1), 1);
	/* one more: the smallest (at 770) is forgotten */
	ck_assert_int_eq(cfmt_map_add(&m, 1000000, 5), 0);
	ck_assert_uint_eq(m.count, CFMT_MAP_MAX_EXTENTS);
	ck_assert_int_eq(cfmt_map_covers(&m, 770, 1), 0);
	ck_assert_int_eq(cfmt_map_covers(&m, 1000000, 5), 1);
	/* merging never needs room */
	ck_assert_int_eq(cfmt_map_add(&m, 2, 8), 0);
	ck_assert_uint_eq(m.count, CFMT_MAP_MAX_EXTENTS - 1);
	/* a new smallest extent is itself forgotten */
	ck_assert_int_eq(cfmt_map_add(&m, 1000000, 5), 0);
	ck_assert_int_eq(cfmt_map_add(&m, 2000000, 1), 0);
	ck_assert_uint_eq(m.count, CFMT_MAP_MAX_EXTENTS);
	ck_assert_int_eq(cfmt_map_add(&m, 3000000, 1), 0);
	ck_assert_uint_eq(m.count, CFMT_MAP_MAX_EXTENTS);
	ck_assert_int_eq(cfmt_map_covers(&m, 3000000, 1), 0);
	/* encodes within XATTR_SIZE_MAX */
	ck_assert_uint_le(cfmt_map_encoded_len(m.count), 65536);
	/* limit */
	cfmt_map_limit(&m, 3);
	ck_assert_uint_eq(m.count, 3);
	ck_assert_int_eq(cfmt_map_covers(&m, 0, 10), 1);	/* largest */
	cfmt_map_limit(&m, 0);
	ck_assert_uint_eq(m.count, 0);
	cfmt_map_free(&m);
}
END_TEST

/* the one-pass cfmt_map_limit keeps what dropping the smallest (the last
 * of equals) one at a time kept: random maps with many equal lengths */
static void
naive_limit(struct cfmt_map *m, uint32_t max)
{
	uint32_t i, min;

	while (m->count > max) {
		for (min = 0, i = 1; i < m->count; i++)
			if (m->ext[i].len <= m->ext[min].len)
				min = i;
		memmove(&m->ext[min], &m->ext[min + 1],
		    (m->count - min - 1) * sizeof(*m->ext));
		m->count--;
	}
}

START_TEST(test_map_limit_same)
{
	static const uint32_t maxes[] = { 0, 1, 2, 199, 200, 1000, 4094,
	    4095 };
	struct cfmt_map a, b, c;
	unsigned seed = 12345, round, k;
	uint64_t pos;
	uint32_t i;

	for (round = 0; round < 8; round++) {
		cfmt_map_init(&a);
		pos = 0;
		for (i = 0; i < CFMT_MAP_MAX_EXTENTS; i++) {
			seed = seed * 1103515245u + 12345u;
			/* lengths 1..(4 << round): ties aplenty */
			ck_assert_int_eq(cfmt_map_add(&a, pos, 1 +
			    (seed >> 16) % (4u << round)), 0);
			pos = a.ext[a.count - 1].start +
			    a.ext[a.count - 1].len + 1 + (seed >> 8) % 3;
		}
		ck_assert_uint_eq(a.count, CFMT_MAP_MAX_EXTENTS);
		for (k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++) {
			cfmt_map_init(&b);
			ck_assert_int_eq(cfmt_map_copy(&b, &a), 0);
			naive_limit(&b, maxes[k]);
			cfmt_map_init(&c);
			ck_assert_int_eq(cfmt_map_copy(&c, &a), 0);
			cfmt_map_limit(&c, maxes[k]);
			ck_assert_uint_eq(c.count, b.count);
			for (i = 0; i < c.count; i++) {
				ck_assert_uint_eq(c.ext[i].start,
				    b.ext[i].start);
				ck_assert_uint_eq(c.ext[i].len, b.ext[i].len);
			}
			cfmt_map_free(&b);
			cfmt_map_free(&c);
		}
		cfmt_map_free(&a);
	}
}
END_TEST

START_TEST(test_map_codec)
{
	struct cfmt_map m, d;
	uint8_t buf[CFMT_MAP_HDR + 3 * CFMT_MAP_EXTENT_SIZE], big[70000];
	static const uint8_t want[] = {
		1, 0, 0, 0, 0, 0, 0, 2,
		0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0x10, 0,
		0, 0, 0, 1, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 5,
	};
	uint32_t i;

	cfmt_map_init(&m);
	cfmt_map_init(&d);
	ck_assert_uint_eq(cfmt_map_encoded_len(0), 8);
	ck_assert_uint_eq(cfmt_map_encoded_len(CFMT_MAP_MAX_EXTENTS), 65528);
	/* empty */
	ck_assert_int_eq(cfmt_map_encode(&m, buf, sizeof(buf)), 8);
	ck_assert_mem_eq(buf, "\x01\0\0\0\0\0\0\0", 8);
	ck_assert_int_eq(cfmt_map_decode(buf, 8, 0, &d), 0);
	ck_assert_uint_eq(d.count, 0);

	cfmt_map_add(&m, 0, 4096);
	cfmt_map_add(&m, 1ull << 32, 5);
	ck_assert_int_eq(cfmt_map_encode(&m, buf, sizeof(buf)), 40);
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_int_eq(cfmt_map_encode(&m, buf, 39), -ENOSPC);
	ck_assert_int_eq(cfmt_map_decode(want, sizeof(want), (1ull << 32) + 5,
	    &d), 0);
	map_expect(&d, (const uint64_t[]){ 0, 4096, 1ull << 32, 5 }, 2);

	/* full size round trip */
	cfmt_map_clear(&m);
	for (i = 0; i < CFMT_MAP_MAX_EXTENTS; i++)
		cfmt_map_add(&m, (uint64_t)i * 3, 1);
	ck_assert_int_eq(cfmt_map_encode(&m, big, sizeof(big)), 65528);
	ck_assert_int_eq(cfmt_map_decode(big, 65528, UINT64_MAX, &d), 0);
	ck_assert_uint_eq(d.count, CFMT_MAP_MAX_EXTENTS);
	ck_assert_mem_eq(d.ext, m.ext, m.count * sizeof(*m.ext));

	/* a hand-built map that breaks the rules does not encode */
	m.count = 2;
	m.ext[0].start = 0;
	m.ext[0].len = 5;
	m.ext[1].start = 5;
	m.ext[1].len = 5;
	ck_assert_int_eq(cfmt_map_encode(&m, big, sizeof(big)), -EINVAL);
	m.ext[1].start = 6;
	m.ext[1].len = 0;
	ck_assert_int_eq(cfmt_map_encode(&m, big, sizeof(big)), -EINVAL);
	m.ext[1].len = UINT64_MAX;
	ck_assert_int_eq(cfmt_map_encode(&m, big, sizeof(big)), -EINVAL);
	cfmt_map_free(&m);
	cfmt_map_free(&d);
}
END_TEST

/* decode buf and expect -EINVAL with the map left empty */
static void
map_bad(const uint8_t *buf, size_t len, uint64_t size)
{
	struct cfmt_map d;

	cfmt_map_init(&d);
	cfmt_map_add(&d, 1, 1);
	ck_assert_int_eq(cfmt_map_decode(buf, len, size, &d), -EINVAL);
	ck_assert_uint_eq(d.count, 0);
	cfmt_map_free(&d);
}

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* a two-extent map: [s0, s0+l0), [s1, s1+l1) */
static size_t
map2(uint8_t *b, uint64_t s0, uint64_t l0, uint64_t s1, uint64_t l1)
{
	memset(b, 0, 40);
	b[0] = 1;
	b[7] = 2;
	put64(b + 8, s0);
	put64(b + 16, l0);
	put64(b + 24, s1);
	put64(b + 32, l1);
	return 40;
}

START_TEST(test_map_decode_errors)
{
	uint8_t b[64];
	struct cfmt_map d;
	size_t n, len;

	n = map2(b, 0, 10, 20, 10);
	cfmt_map_init(&d);
	ck_assert_int_eq(cfmt_map_decode(b, n, 30, &d), 0);
	cfmt_map_free(&d);
	/* short: every length below a whole map */
	for (len = 0; len < n; len++)
		map_bad(b, len, 30);
	/* long: a trailing byte */
	map_bad(b, n + 1, 30);
	map_bad(NULL, 8, 30);
	/* version, flags, reserved */
	b[0] = 0;	map_bad(b, n, 30);
	b[0] = 2;	map_bad(b, n, 30);
	b[0] = 1;
	b[1] = 1;	map_bad(b, n, 30);
	b[1] = 0x80;	map_bad(b, n, 30);
	b[1] = 0;
	b[2] = 1;	map_bad(b, n, 30);
	b[2] = 0;
	b[3] = 1;	map_bad(b, n, 30);
	b[3] = 0;
	/* count does not match the length */
	b[7] = 1;	map_bad(b, n, 30);
	b[7] = 3;	map_bad(b, n, 30);
	b[7] = 2;
	b[4] = 0x80;	map_bad(b, n, 30);	/* huge count */
	b[4] = 0;
	/* count over the maximum, even with a matching length */
	{
		static uint8_t huge[CFMT_MAP_HDR + (CFMT_MAP_MAX_EXTENTS + 1) *
		    CFMT_MAP_EXTENT_SIZE];
		uint32_t c = CFMT_MAP_MAX_EXTENTS + 1, i;

		memset(huge, 0, sizeof(huge));
		huge[0] = 1;
		huge[4] = (uint8_t)(c >> 24);
		huge[5] = (uint8_t)(c >> 16);
		huge[6] = (uint8_t)(c >> 8);
		huge[7] = (uint8_t)c;
		for (i = 0; i < c; i++) {
			put64(huge + 8 + 16 * i, (uint64_t)i * 2);
			put64(huge + 16 + 16 * i, 1);
		}
		map_bad(huge, sizeof(huge), UINT64_MAX);
	}
	/* empty extent */
	n = map2(b, 0, 0, 20, 10);	map_bad(b, n, 30);
	n = map2(b, 0, 10, 20, 0);	map_bad(b, n, 30);
	/* start + len overflows */
	n = map2(b, 0, 10, UINT64_MAX, 1);	map_bad(b, n, UINT64_MAX);
	n = map2(b, 0, 10, 20, UINT64_MAX - 19);	map_bad(b, n, UINT64_MAX);
	/* unsorted, overlapping, adjacent, duplicate */
	n = map2(b, 20, 10, 0, 10);	map_bad(b, n, 30);
	n = map2(b, 0, 10, 5, 10);	map_bad(b, n, 30);
	n = map2(b, 0, 10, 10, 10);	map_bad(b, n, 30);
	n = map2(b, 0, 10, 0, 10);	map_bad(b, n, 30);
	n = map2(b, 0, 30, 5, 1);	map_bad(b, n, 30);
	/* past the object size */
	n = map2(b, 0, 10, 20, 10);	map_bad(b, n, 29);
	n = map2(b, 0, 10, 20, 10);	map_bad(b, n, 0);
	/* but the largest legal one decodes */
	n = map2(b, 0, 10, 20, UINT64_MAX - 20);
	cfmt_map_init(&d);
	ck_assert_int_eq(cfmt_map_decode(b, n, UINT64_MAX, &d), 0);
	ck_assert_uint_eq(d.count, 2);
	/* and decode -> encode is the identity */
	{
		uint8_t again[64];

		ck_assert_int_eq(cfmt_map_encode(&d, again, sizeof(again)), 40);
		ck_assert_mem_eq(again, b, 40);
	}
	cfmt_map_free(&d);
}
END_TEST

static Suite *
cfmt_suite(void)
{
	Suite *s = suite_create("cfmt");
	TCase *tc;

	tc = tcase_create("kernel");
	tcase_add_test(tc, test_kernel_vectors);
	tcase_add_test(tc, test_kernel_volume_xattr);
	suite_add_tcase(s, tc);

	tc = tcase_create("hash");
	tcase_add_test(tc, test_hash_reference);
	tcase_add_test(tc, test_hash_fixed);
	tcase_add_test(tc, test_volume_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("cook");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cook_vectors);
	tcase_add_test(tc, test_cook_roundtrip);
	tcase_add_test(tc, test_uncook_reject);
	suite_add_tcase(s, tc);

	tc = tcase_create("xattr");
	tcase_add_test(tc, test_obj_layout);
	tcase_add_test(tc, test_obj_decode_errors);
	tcase_add_test(tc, test_obj_staleness);
	tcase_add_test(tc, test_vol_xattr);
	suite_add_tcase(s, tc);

	tc = tcase_create("map");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_add_merge);
	tcase_add_test(tc, test_map_covers_truncate);
	tcase_add_test(tc, test_map_model);
	tcase_add_test(tc, test_map_bound);
	tcase_add_test(tc, test_map_limit_same);
	tcase_add_test(tc, test_map_codec);
	tcase_add_test(tc, test_map_decode_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cfmt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
