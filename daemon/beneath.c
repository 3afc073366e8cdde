/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * beneath.c: resolve a path beneath a directory fd without following a
 * symlink, with openat2 or, where openat2 is refused, one openat at a
 * time (see beneath.h). Any thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "beneath.h"

enum { MODE_UNKNOWN, MODE_OPENAT2, MODE_WALK };

static atomic_int mode = MODE_UNKNOWN;

static long
sys_openat2(int dirfd, const char *path, int flags, mode_t m,
    unsigned long long resolve)
{
	struct open_how how = {
		.flags = (unsigned)flags,
		.mode = (flags & (O_CREAT | __O_TMPFILE)) ? m : 0,
		.resolve = resolve,
	};

	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Decide once: does openat2 work here? A refusal by seccomp (ENOSYS or
 * EPERM) on a harmless call means no. Racing first callers decide the
 * same thing. */
int
beneath_fallback(void)
{
	int m = atomic_load_explicit(&mode, memory_order_relaxed);
	long fd;

	if (m != MODE_UNKNOWN)
		return m == MODE_WALK;
	fd = sys_openat2(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0, 0);
	if (fd >= 0) {
		close((int)fd);
		m = MODE_OPENAT2;
	} else
		m = errno == ENOSYS || errno == EPERM ? MODE_WALK :
		    MODE_OPENAT2;
	atomic_store_explicit(&mode, m, memory_order_relaxed);
	return m == MODE_WALK;
}

void
beneath_force_fallback(int on)
{
	atomic_store(&mode, on ? MODE_WALK : MODE_UNKNOWN);
}

/* Refuse what both modes must refuse alike. */
static int
check_path(const char *path)
{
	const char *p = path, *e;
	size_t len;

	if (*path == '/')
		return -EXDEV;
	for (;;) {
		e = strchr(p, '/');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.'))
			return -EINVAL;
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -EXDEV;
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		if (e == NULL)
			return 0;
		p = e + 1;
	}
}

/* The fallback: an O_PATH fd of the directory holding the last component
 * of path (a dup of dirfd for one component), each step opened without
 * following and checked to be a directory; *last points into path. */
static int
walk_parent(int dirfd, const char *path, const char **last)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *e;
	struct stat sb;
	int cur, fd, err;

	cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	while ((e = strchr(p, '/')) != NULL) {
		memcpy(comp, p, (size_t)(e - p));
		comp[e - p] = '\0';
		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			goto fail;
		}
		if (fstat(fd, &sb) < 0)
			sb.st_mode = 0;
		if (!S_ISDIR(sb.st_mode)) {
			err = S_ISLNK(sb.st_mode) ? -ELOOP : -ENOTDIR;
			close(fd);
			goto fail;
		}
		close(cur);
		cur = fd;
		p = e + 1;
	}
	*last = p;
	return cur;
fail:
	close(cur);
	return err;
}

/* A trailing symlink opened O_PATH | O_NOFOLLOW is the link itself. */
static int
no_link(int fd, int flags)
{
	struct stat sb;

	if (!(flags & O_PATH))
		return fd;
	if (fstat(fd, &sb) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (S_ISLNK(sb.st_mode)) {
		close(fd);
		return -ELOOP;
	}
	return fd;
}

int
beneath_open(int dirfd, const char *path, int flags, mode_t m)
{
	const char *last;
	long fd;
	int pfd, err;

	if ((err = check_path(path)) < 0)
		return err;
	flags |= O_NOFOLLOW | O_CLOEXEC;
	if (!beneath_fallback()) {
		fd = sys_openat2(dirfd, path, flags, m, RESOLVE_BENEATH |
		    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (fd >= 0)
			return no_link((int)fd, flags);
		if (errno != ENOSYS)
			return -errno;
		/* refused after the first look said yes: walk from now on */
		atomic_store(&mode, MODE_WALK);
	}
	if ((pfd = walk_parent(dirfd, path, &last)) < 0)
		return pfd;
	fd = openat(pfd, last, flags, m);
	err = fd < 0 ? -errno : no_link((int)fd, flags);
	close(pfd);
	return err;
}

int
beneath_open_reg(int dirfd, const char *path, int flags)
{
	struct stat sb;

	return beneath_open_reg_stat(dirfd, path, flags, &sb);
}

int
beneath_open_reg_stat(int dirfd, const char *path, int flags,
    struct stat *sb)
{
	char proc[40];
	int pfd, fd;

	pfd = beneath_open(dirfd, path, O_PATH, 0);
	if (pfd < 0)
		return pfd;
	if (fstat(pfd, sb) < 0 || !S_ISREG(sb->st_mode)) {
		close(pfd);
		return -EINVAL;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	/* the magic link of an O_PATH fd: following it is the point */
	fd = open(proc, (flags & ~(O_CREAT | O_TRUNC | O_DIRECTORY |
	    __O_TMPFILE | O_NOFOLLOW | O_PATH)) | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	close(pfd);
	return fd;
}

int
beneath_parent(int dirfd, const char *path, const char **last)
{
	const char *slash;
	char *dir;
	size_t len;
	int err, fd;

	if ((err = check_path(path)) < 0)
		return err;
	slash = strrchr(path, '/');
	if (slash == NULL) {
		*last = path;
		fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (beneath_fallback())
		return walk_parent(dirfd, path, last);
	len = (size_t)(slash - path);
	if ((dir = strndup(path, len)) == NULL)
		return -ENOMEM;
	fd = beneath_open(dirfd, dir, O_PATH | O_DIRECTORY, 0);
	free(dir);
	if (fd >= 0)
		*last = slash + 1;
	return fd;
}
