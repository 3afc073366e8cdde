/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cfmt-tool: test helper for tests/vm/t-format.sh, built static with
 * lib/cfmt.c so that it also runs in the VM's busybox guest.
 *
 *   cfmt-tool vol VOLKEY
 *	print what the kernel should make for a volume with no coherency
 *	data: "VOL I<key> 0700 <xattr hex>"
 *   cfmt-tool obj9p VOLKEY INO SIZE MTIME
 *	print what the kernel should make for a 9p file whose host inode,
 *	size and mtime are given: the cookie key is le64 qid.path (QEMU: the
 *	inode number), aux is le32 qid.version (QEMU: mtime ^ size << 8),
 *	content 0: "OBJ I<key>/@xx/<name> 0000 <xattr hex>" (Linux 6.1 makes
 *	its objects with vfs_tmpfile(..., S_IFREG, ...): mode 0000, not 0600)
 *   cfmt-tool usable9p XATTRHEX SIZE MTIME
 *	print 1 if cfmt_obj_usable accepts the object xattr for a 9p file of
 *	that size and mtime, else 0
 *   cfmt-tool dump CACHEDIR
 *	print the same lines for what is on disk under CACHEDIR/cache,
 *	"INO <path> <inode>" for each object, and a "BAD ..." line for every
 *	name that does not uncook, re-cook or hash back to its fan-out
 *	directory; "INFO ..." lines are for the log
 * Exit status: 0, 1 on a BAD line, 2 on usage or I/O errors.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "cfmt.h"

static int bad;

static void
hex(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	if (n == 0)
		printf("-");
}

static int
usage(void)
{
	fprintf(stderr, "usage: cfmt-tool vol VOLKEY | obj9p VOLKEY INO SIZE "
	    "MTIME | usable9p XATTRHEX SIZE MTIME | dump CACHEDIR\n");
	return 2;
}

static uint64_t
num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0') {
		fprintf(stderr, "cfmt-tool: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

static int
cmd_vol(const char *vol)
{
	uint8_t x[16];
	int n;

	if (cfmt_check_volume_key(vol, strlen(vol)) < 0) {
		fprintf(stderr, "cfmt-tool: bad volume key: %s\n", vol);
		return 2;
	}
	n = cfmt_vol_encode(NULL, 0, x, sizeof(x));
	if (n < 0)
		return 2;
	printf("VOL I%s 0700 ", vol);
	hex(x, (size_t)n);
	printf("\n");
	return 0;
}

/* le32 qid.version as QEMU's hw/9pfs stat_to_qid makes it */
static void
aux9p(uint8_t *aux, uint64_t size, uint64_t mtime)
{
	uint32_t version = (uint32_t)(mtime ^ (size << 8));
	int i;

	for (i = 0; i < 4; i++)
		aux[i] = (uint8_t)(version >> (8 * i));
}

static int
cmd_usable9p(const char *xhex, uint64_t size, uint64_t mtime)
{
	uint8_t x[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX + 1], aux[4];
	size_t n = 0;
	unsigned b;

	while (xhex[0] && xhex[1] && n < sizeof(x)) {
		if (sscanf(xhex, "%2x", &b) != 1)
			return 2;
		x[n++] = (uint8_t)b;
		xhex += 2;
	}
	aux9p(aux, size, mtime);
	printf("%d\n", cfmt_obj_usable(x, n, aux, sizeof(aux), size));
	return 0;
}

static int
cmd_obj9p(const char *vol, uint64_t ino, uint64_t size, uint64_t mtime)
{
	uint8_t key[8], x[CFMT_OBJ_XATTR_HDR + CFMT_MAX_AUX];
	char name[CFMT_MAX_NAME];
	struct cfmt_obj o;
	int i, n;

	for (i = 0; i < 8; i++)
		key[i] = (uint8_t)(ino >> (8 * i));
	if (cfmt_cook_key(key, 8, name, sizeof(name)) < 0)
		return 2;
	memset(&o, 0, sizeof(o));
	o.object_size = size;
	o.type = CFMT_TYPE_DATA;
	o.content = CFMT_CONTENT_NONE;
	o.aux_len = 4;
	aux9p(o.aux, size, mtime);
	if ((n = cfmt_obj_encode(&o, x, sizeof(x))) < 0)
		return 2;
	printf("OBJ I%s/@%02x/%s 0000 ", vol,
	    cfmt_fanout(key, 8, cfmt_volume_hash(vol, strlen(vol))), name);
	hex(x, (size_t)n);
	printf("\n");
	return 0;
}

/* dst = a/b; -1 (and a BAD line) if it does not fit */
static int
join(char *dst, size_t n, const char *a, const char *b)
{
	int r = snprintf(dst, n, "%s/%s", a, b);

	if (r < 0 || (size_t)r >= n) {
		printf("BAD %s/%s: path too long\n", a, b);
		bad = 1;
		return -1;
	}
	return 0;
}

/* print "<path> <mode> <xattr hex>"; -1 if it cannot be read */
static int
show(const char *tag, const char *full, const char *rel)
{
	uint8_t x[65536];
	struct stat st;
	ssize_t n;

	if (lstat(full, &st) < 0) {
		printf("BAD %s: lstat: %s\n", rel, strerror(errno));
		bad = 1;
		return -1;
	}
	n = lgetxattr(full, CFMT_XATTR, x, sizeof(x));
	printf("%s %s %04o ", tag, rel, (unsigned)(st.st_mode & 07777));
	if (n < 0)
		printf("none(%s)", strerror(errno));
	else
		hex(x, (size_t)n);
	printf("\n");
	printf("INFO %s size=%jd blocks=%jd\n", rel, (intmax_t)st.st_size,
	    (intmax_t)st.st_blocks);
	if (S_ISREG(st.st_mode))
		printf("INO %s %ju\n", rel, (uintmax_t)st.st_ino);
	return 0;
}

/* check that name uncooks, and that its key hashes to fan-out dir fan */
static void
check_name(const char *rel, const char *vol, unsigned fan, const char *name)
{
	uint8_t key[CFMT_MAX_COOKIE_KEY];
	unsigned got;
	int n;

	n = cfmt_uncook_key(name, key, sizeof(key));
	if (n < 0) {
		printf("BAD %s: name does not uncook: %s\n", rel, strerror(-n));
		bad = 1;
		return;
	}
	got = cfmt_fanout(key, (size_t)n, cfmt_volume_hash(vol, strlen(vol)));
	printf("INFO %s key=", rel);
	hex(key, (size_t)n);
	printf(" fanout=@%02x\n", got);
	if (got != fan) {
		printf("BAD %s: key hashes to @%02x\n", rel, got);
		bad = 1;
	}
}

static int
cmd_dump(const char *dir)
{
	char cache[4096], vpath[4096], fpath[4096], opath[8192], rel[4096];
	struct dirent *v, *f, *o;
	DIR *cd, *vd, *fd;
	unsigned fan, fans;
	char c;

	if (join(cache, sizeof(cache), dir, "cache") < 0)
		return 2;
	if ((cd = opendir(cache)) == NULL) {
		fprintf(stderr, "cfmt-tool: %s: %s\n", cache, strerror(errno));
		return 2;
	}
	while ((v = readdir(cd)) != NULL) {
		if (v->d_name[0] == '.')
			continue;
		if (join(vpath, sizeof(vpath), cache, v->d_name) < 0)
			continue;
		if (v->d_name[0] != 'I') {
			printf("BAD %s: not a volume\n", v->d_name);
			bad = 1;
			continue;
		}
		show("VOL", vpath, v->d_name);
		if ((vd = opendir(vpath)) == NULL)
			continue;
		fans = 0;
		while ((f = readdir(vd)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			if (sscanf(f->d_name, "@%2x%c", &fan, &c) != 1 ||
			    strlen(f->d_name) != 3) {
				printf("BAD %s/%s: not a fan-out dir\n",
				    v->d_name, f->d_name);
				bad = 1;
				continue;
			}
			fans++;
			if (join(fpath, sizeof(fpath), vpath, f->d_name) < 0)
				continue;
			if ((fd = opendir(fpath)) == NULL)
				continue;
			while ((o = readdir(fd)) != NULL) {
				if (o->d_name[0] == '.')
					continue;
				if (join(opath, sizeof(opath), fpath,
				    o->d_name) < 0 ||
				    join(rel, sizeof(rel), v->d_name,
				    f->d_name) < 0 ||
				    join(rel + strlen(rel), sizeof(rel) -
				    strlen(rel), "", o->d_name) < 0)
					continue;
				show("OBJ", opath, rel);
				check_name(rel, v->d_name + 1, fan, o->d_name);
			}
			closedir(fd);
		}
		printf("INFO %s fanout_dirs=%u\n", v->d_name, fans);
		closedir(vd);
	}
	closedir(cd);
	return bad;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "vol") == 0)
		return cmd_vol(argv[2]);
	if (argc == 6 && strcmp(argv[1], "obj9p") == 0)
		return cmd_obj9p(argv[2], num(argv[3]), num(argv[4]),
		    num(argv[5]));
	if (argc == 5 && strcmp(argv[1], "usable9p") == 0)
		return cmd_usable9p(argv[2], num(argv[3]), num(argv[4]));
	if (argc == 3 && strcmp(argv[1], "dump") == 0)
		return cmd_dump(argv[2]);
	return usage();
}
