/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * beneath.h: open a directory below a directory fd, never following a
 * symlink and never leaving it (openat2 RESOLVE_BENEATH). Used by the
 * walkers of the cache tree (scan.c, cull.c, reap.c), which must not be
 * led out of the private mount by anything planted in it.
 */
#ifndef LARDER_BENEATH_H
#define LARDER_BENEATH_H

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

/* An O_RDONLY | O_DIRECTORY | O_CLOEXEC fd of dirfd/path, or -errno. */
static inline int
open_dir_beneath(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
		    RESOLVE_NO_MAGICLINKS,
	};
	int fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

#endif
