/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * beneath.h: open a path below a directory fd, never following a symlink
 * and never leaving that directory. Every access inside the cache tree
 * goes through here: the walkers (scan.c, cull.c, reap.c), the store and
 * the meta thread, which must not be led out of the private mount, or into
 * a device node's driver, by anything planted in the tree.
 *
 * With openat2 this is RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS. Where openat2
 * answers ENOSYS (kernels before 5.6, systemd's RestrictSUIDSGID=yes,
 * container seccomp profiles) or EPERM (other seccomp profiles), the path
 * is walked one component at a time with openat(O_PATH | O_NOFOLLOW) and
 * an fstat of each step, with the same guarantees. Which one is used is
 * decided once per process, on first use, by any thread.
 *
 * Paths are relative, made of non-empty components, none of them "." or
 * "..": anything else is refused in both modes (-EXDEV for an absolute
 * path or "..", -EINVAL for the rest), so both behave the same.
 */
#ifndef LARDER_BENEATH_H
#define LARDER_BENEATH_H

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Open dirfd/path with flags (O_NOFOLLOW and O_CLOEXEC are added; O_PATH,
 * O_DIRECTORY, O_TMPFILE, O_CREAT work as with openat). A trailing symlink
 * is refused with -ELOOP, also with O_PATH. The fd, or -errno. */
int beneath_open(int dirfd, const char *path, int flags, mode_t mode);

/* Open dirfd/path for I/O (flags: O_RDONLY or O_RDWR, plus O_NONBLOCK and
 * the like) only if it is a regular file: it is opened O_PATH first, and
 * reopened through /proc/self/fd only once fstat says S_ISREG, so the open
 * of a planted fifo or device node never reaches its driver. -EINVAL if it
 * is not a regular file. The fd, or -errno. */
int beneath_open_reg(int dirfd, const char *path, int flags);
/* The same, with the file's stat (of the O_PATH fd: the same file) in
 * *sb. */
int beneath_open_reg_stat(int dirfd, const char *path, int flags,
    struct stat *sb);

/* An O_PATH fd of the directory holding path's last component (dirfd
 * itself, duplicated, for a one-component path), for renameat, linkat,
 * unlinkat or mkdirat on *last. The fd, or -errno. */
int beneath_parent(int dirfd, const char *path, const char **last);

/* An O_RDONLY | O_DIRECTORY fd of dirfd/path, or -errno. */
static inline int
open_dir_beneath(int dirfd, const char *path)
{
	return beneath_open(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
}

/* 1 if paths are walked with openat (openat2 refused), 0 if openat2 is
 * used; decides on the first call. */
int beneath_fallback(void);

/* Tests: force the openat walk (1) or go back to deciding (0). */
void beneath_force_fallback(int on);

#endif
