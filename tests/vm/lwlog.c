/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lwlog: read and replay a dm-log-writes log, for tests/vm/t-powercut.sh
 * (Debian packages no replay tool: fstests' replay-log is not in Debian).
 * Built static on the host, run in the VM's busybox guest.
 *
 *   lwlog points LOG
 *	print one line per entry a power cut may leave the disk at: every
 *	flush, FUA and mark entry, as "INDEX FLAGS [MARK]" (FLAGS: F flush,
 *	U fua, M mark)
 *   lwlog copy FROM TO
 *	copy a file or device into a new sparse file TO (blocks of zeros
 *	and holes are skipped)
 *   lwlog replay LOG IMG SNAP LIST CMD
 *	apply the log's writes to IMG (a copy of the device as it was when
 *	logging began) in order; at each entry index in LIST (one a line,
 *	ascending: the first field of `points' lines) copy IMG to SNAP and
 *	run `sh -c CMD' with LW_INDEX and LW_MARK set. Stops at the first
 *	CMD that fails. Prints "replayed N points" at the end.
 * Exit status: 0 ok, 1 a CMD failed, 2 usage, I/O or log format errors.
 *
 * The log format, as read in Linux drivers/md/dm-log-writes.c (6.1 to
 * 7.x, WRITE_LOG_VERSION 1; the same in fstests' src/log-writes/log-writes.h):
 * - byte 0: struct log_write_super { le64 magic (0x6a736677736872),
 *   le64 version (1), le64 nr_entries, le32 sectorsize } where sectorsize
 *   is the data device's logical block size. nr_entries is rewritten
 *   after every FUA and mark entry and when the target is removed (its
 *   destructor logs a last mark "dm-log-writes-end"): remove the target
 *   before reading the log.
 * - entries follow from byte sectorsize on, each one block of sectorsize
 *   bytes: struct log_write_entry { le64 sector, le64 nr_sectors, le64
 *   flags, le64 data_len }; sector and nr_sectors count sectorsize units
 *   of the data device. A mark's text (data_len bytes, no NUL) follows
 *   the header in the same block. Unless the entry is a discard, its
 *   nr_sectors * sectorsize bytes of data follow the block.
 * - flags: 1 FLUSH, 2 FUA, 4 DISCARD, 8 MARK, 16 METADATA. Writes are
 *   logged in the order they completed, and a flush entry only after
 *   every write that completed before the flush was issued: replaying up
 *   to a flush entry gives a state the device may hold after a power
 *   cut. A flush may carry data (then it is logged like a write).
 * - a discard is replayed as zeros (a hole in IMG): what a discarded
 *   range of the loop device on tmpfs the test logs reads back as.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LW_MAGIC	0x6a736677736872ULL
#define LW_FLUSH	1
#define LW_FUA		2
#define LW_DISCARD	4
#define LW_MARK		8

struct lw_entry {
	uint64_t sector, nr_sectors, flags, data_len;
};

struct lw_log {
	int fd;
	uint64_t nr_entries;
	uint32_t bs;
	uint64_t off;		/* byte offset of the next entry */
	uint64_t index;		/* its index */
	struct lw_entry e;	/* the entry just read */
	char mark[4096];
	uint8_t *blk;
};

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int
read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

static int
write_at(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

static int
log_open(struct lw_log *l, const char *path)
{
	uint8_t sb[28];

	memset(l, 0, sizeof(*l));
	if ((l->fd = open(path, O_RDONLY)) < 0) {
		fprintf(stderr, "lwlog: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (read_at(l->fd, sb, sizeof(sb), 0) < 0 || le64(sb) != LW_MAGIC ||
	    le64(sb + 8) != 1) {
		fprintf(stderr, "lwlog: %s: not a dm-log-writes log (version 1)\n",
		    path);
		return -1;
	}
	l->nr_entries = le64(sb + 16);
	l->bs = sb[24] | sb[25] << 8 | sb[26] << 16 | (uint32_t)sb[27] << 24;
	if (l->bs < 512 || l->bs > 65536 || (l->bs & (l->bs - 1))) {
		fprintf(stderr, "lwlog: %s: bad sector size %u\n", path, l->bs);
		return -1;
	}
	if (!(l->blk = malloc(l->bs)))
		return -1;
	l->off = l->bs;
	return 0;
}

/* Read the next entry header (and a mark's text); 1 read, 0 at the end. */
static int
log_next(struct lw_log *l)
{
	uint64_t dlen;

	if (l->index >= l->nr_entries)
		return 0;
	if (read_at(l->fd, l->blk, l->bs, l->off) < 0) {
		fprintf(stderr, "lwlog: entry %" PRIu64 ": short log\n", l->index);
		return -1;
	}
	l->e.sector = le64(l->blk);
	l->e.nr_sectors = le64(l->blk + 8);
	l->e.flags = le64(l->blk + 16);
	l->e.data_len = le64(l->blk + 24);
	l->mark[0] = 0;
	if (l->e.flags & LW_MARK) {
		dlen = l->e.data_len;
		if (dlen > l->bs - 32 || dlen >= sizeof(l->mark)) {
			fprintf(stderr, "lwlog: entry %" PRIu64 ": bad mark\n",
			    l->index);
			return -1;
		}
		memcpy(l->mark, l->blk + 32, dlen);
		l->mark[dlen] = 0;
	}
	if (l->e.nr_sectors > (1ULL << 40) / l->bs) {
		fprintf(stderr, "lwlog: entry %" PRIu64 ": bad length\n", l->index);
		return -1;
	}
	return 1;
}

/* Step past the entry just read. */
static void
log_skip(struct lw_log *l)
{
	l->off += l->bs;
	if (!(l->e.flags & LW_DISCARD))
		l->off += l->e.nr_sectors * l->bs;
	l->index++;
}

/* Apply the entry just read to img. */
static int
log_apply(struct lw_log *l, int img)
{
	static uint8_t buf[1 << 20];
	uint64_t len = l->e.nr_sectors * l->bs, src = l->off + l->bs, done;
	uint64_t dst = l->e.sector * l->bs;
	size_t n;

	if (l->e.flags & LW_MARK || !len)
		return 0;
	if (l->e.flags & LW_DISCARD)
		return fallocate(img, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    dst, len) < 0 ? -errno : 0;
	for (done = 0; done < len; done += n) {
		n = len - done > sizeof(buf) ? sizeof(buf) : len - done;
		if (read_at(l->fd, buf, n, src + done) < 0 ||
		    write_at(img, buf, n, dst + done) < 0)
			return -EIO;
	}
	return 0;
}

static int
allzero(const uint8_t *p, size_t n)
{
	while (n && !*p)
		p++, n--;
	return n == 0;
}

/* Copy from into a new sparse file at to (same size). */
static int
copy_sparse(const char *from, const char *to)
{
	static uint8_t buf[1 << 16];
	int in, out, err = 0;
	off_t size, pos, data, hole;
	ssize_t n;

	if ((in = open(from, O_RDONLY)) < 0)
		return -errno;
	size = lseek(in, 0, SEEK_END);
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		err = -errno;
		close(in);
		return err;
	}
	if (size < 0 || ftruncate(out, size) < 0)
		err = -errno;
	for (pos = 0; !err && pos < size; pos = hole) {
		/* a block device has no holes: SEEK_DATA fails, read it all */
		data = lseek(in, pos, SEEK_DATA);
		if (data < 0)
			data = errno == ENXIO ? size : pos;
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = size;
		for (pos = data; !err && pos < hole; pos += n) {
			n = hole - pos > (off_t)sizeof(buf) ? (off_t)sizeof(buf) :
			    hole - pos;
			if (read_at(in, buf, n, pos) < 0)
				err = -EIO;
			else if (!allzero(buf, n) && write_at(out, buf, n, pos) < 0)
				err = -EIO;
		}
	}
	close(in);
	if (close(out) < 0 && !err)
		err = -EIO;
	return err;
}

static int
cmd_points(const char *log)
{
	struct lw_log l;
	int r;

	if (log_open(&l, log) < 0)
		return 2;
	while ((r = log_next(&l)) > 0) {
		if (l.e.flags & (LW_FLUSH | LW_FUA | LW_MARK))
			printf("%" PRIu64 " %s%s%s%s%s\n", l.index,
			    l.e.flags & LW_FLUSH ? "F" : "",
			    l.e.flags & LW_FUA ? "U" : "",
			    l.e.flags & LW_MARK ? "M" : "",
			    l.mark[0] ? " " : "", l.mark);
		log_skip(&l);
	}
	return r < 0 ? 2 : 0;
}

static int
cmd_replay(const char *log, const char *imgpath, const char *snap,
    const char *list, const char *cmd)
{
	struct lw_log l;
	FILE *lf;
	char line[64], idx[32];
	uint64_t want;
	unsigned points = 0;
	int img, r, st;

	if (log_open(&l, log) < 0)
		return 2;
	if ((img = open(imgpath, O_RDWR)) < 0 || !(lf = fopen(list, "r"))) {
		perror("lwlog: replay");
		return 2;
	}
	while (fgets(line, sizeof(line), lf)) {
		want = strtoull(line, NULL, 10);
		if (want < l.index) {
			fprintf(stderr, "lwlog: %s: not ascending at %" PRIu64 "\n",
			    list, want);
			return 2;
		}
		for (;;) {
			if ((r = log_next(&l)) <= 0) {
				fprintf(stderr, "lwlog: no entry %" PRIu64 "\n", want);
				return 2;
			}
			if (log_apply(&l, img) < 0) {
				fprintf(stderr, "lwlog: entry %" PRIu64 ": cannot "
				    "write the image\n", l.index);
				return 2;
			}
			if (l.index == want)
				break;
			log_skip(&l);
		}
		if (copy_sparse(imgpath, snap) < 0) {
			fprintf(stderr, "lwlog: cannot copy %s to %s\n", imgpath,
			    snap);
			return 2;
		}
		snprintf(idx, sizeof(idx), "%" PRIu64, want);
		setenv("LW_INDEX", idx, 1);
		setenv("LW_MARK", l.mark, 1);
		log_skip(&l);
		points++;
		st = system(cmd);
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "lwlog: the check failed at entry %s%s%s "
			    "(status %d)\n", idx, l.mark[0] ? ", mark " : "",
			    l.mark, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			return 1;
		}
	}
	printf("replayed %u points\n", points);
	return 0;
}

int
main(int argc, char **argv)
{
	int err;

	if (argc == 3 && strcmp(argv[1], "points") == 0)
		return cmd_points(argv[2]);
	if (argc == 4 && strcmp(argv[1], "copy") == 0) {
		if ((err = copy_sparse(argv[2], argv[3])) < 0) {
			fprintf(stderr, "lwlog: copy: %s\n", strerror(-err));
			return 2;
		}
		return 0;
	}
	if (argc == 7 && strcmp(argv[1], "replay") == 0)
		return cmd_replay(argv[2], argv[3], argv[4], argv[5], argv[6]);
	fprintf(stderr, "usage: lwlog points LOG | copy FROM TO | "
	    "replay LOG IMG SNAP LIST CMD\n");
	return 2;
}
