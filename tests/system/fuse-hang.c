/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse-hang.c: a FUSE filesystem whose FLUSH never answers, for one
 * process (t-adv-stall.sh). It speaks /dev/fuse directly (no libfuse):
 *
 *   fuse-hang MOUNTPOINT PID
 *
 * mounts a filesystem holding one regular file, "f" (5 bytes, mode 0644;
 * allow_other), and answers every request but a FLUSH from a thread of
 * process PID: that one is never answered, so a close() of the file in
 * PID waits for ever. It says so on stdout ("hung flush from tid N").
 * Other processes' FLUSHes are answered (a client's own close works).
 * Runs until killed, or unmounted. Root only; not installed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUFSZ	(FUSE_MIN_READ_BUFFER + 65536)

static int devfd;
static long victim;

static void
reply(uint64_t unique, int error, const void *body, size_t len)
{
	struct {
		struct fuse_out_header h;
		uint8_t body[256];
	} out;

	memset(&out, 0, sizeof(out));
	out.h.len = sizeof(out.h) + (error ? 0 : len);
	out.h.error = error;
	out.h.unique = unique;
	if (!error && len)
		memcpy(out.body, body, len);
	if (write(devfd, &out, out.h.len) < 0 && errno != ENOENT)
		perror("fuse-hang: write");
}

static void
fill_attr(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	if (ino == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	} else {
		a->mode = S_IFREG | 0644;
		a->nlink = 1;
		a->size = 5;
		a->blocks = 1;
	}
	a->blksize = 4096;
}

/* Is tid a thread of process victim? */
static int
of_victim(uint32_t tid)
{
	char path[64], line[128];
	FILE *f;
	long tgid = -1;

	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	if (!(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %ld", &tgid) == 1)
			break;
	fclose(f);
	return tgid == victim;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[BUFSZ];
	struct fuse_in_header *in = (struct fuse_in_header *)buf;
	void *arg = buf + sizeof(*in);
	char opts[128];
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: fuse-hang MOUNTPOINT PID\n");
		return 2;
	}
	victim = atol(argv[2]);
	if ((devfd = open("/dev/fuse", O_RDWR | O_CLOEXEC)) < 0) {
		perror("fuse-hang: /dev/fuse");
		return 77;
	}
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,"
	    "group_id=0,allow_other", devfd);
	if (mount("fuse-hang", argv[1], "fuse", MS_NOSUID | MS_NODEV,
	    opts) < 0) {
		perror("fuse-hang: mount");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		n = read(devfd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < 0)
			return errno == ENODEV ? 0 : 1;	/* unmounted */
		if ((size_t)n < sizeof(*in))
			continue;
		switch (in->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *ii = arg;
			struct fuse_init_out o;

			memset(&o, 0, sizeof(o));
			o.major = FUSE_KERNEL_VERSION;
			o.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ?
			    ii->minor : FUSE_KERNEL_MINOR_VERSION;
			o.max_readahead = ii->max_readahead;
			o.max_write = 4096;
			o.max_background = 16;
			o.congestion_threshold = 12;
			reply(in->unique, 0, &o, sizeof(o));
			printf("ready\n");
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out e;

			if (in->nodeid != FUSE_ROOT_ID ||
			    strcmp((char *)arg, "f") != 0) {
				reply(in->unique, -ENOENT, NULL, 0);
				break;
			}
			memset(&e, 0, sizeof(e));
			e.nodeid = 2;
			e.generation = 1;
			fill_attr(&e.attr, 2);
			reply(in->unique, 0, &e, sizeof(e));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out a;

			memset(&a, 0, sizeof(a));
			fill_attr(&a.attr, in->nodeid);
			reply(in->unique, 0, &a, sizeof(a));
			break;
		}
		case FUSE_OPEN:
		case FUSE_OPENDIR: {
			struct fuse_open_out o;

			memset(&o, 0, sizeof(o));
			o.fh = 1;
			reply(in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_READ: {
			struct fuse_read_in *r = arg;
			static const char data[] = "hello";
			size_t len = r->offset < 5 ? 5 - r->offset : 0;

			if (len > r->size)
				len = r->size;
			reply(in->unique, 0, data + (len ? r->offset : 0), len);
			break;
		}
		case FUSE_FLUSH:
			if (of_victim(in->pid)) {
				printf("hung flush from tid %u\n", in->pid);
				break;		/* never answered */
			}
			reply(in->unique, 0, NULL, 0);
			break;
		case FUSE_RELEASE:
		case FUSE_RELEASEDIR:
			reply(in->unique, 0, NULL, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;			/* no answer expected */
		case FUSE_DESTROY:
			reply(in->unique, 0, NULL, 0);
			return 0;
		default:
			reply(in->unique, -ENOSYS, NULL, 0);
		}
	}
}
