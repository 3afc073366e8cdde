/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mount.h: the private mount of the cache directory (mount.c).
 *
 * mount_open clones the mount of conf dir with open_tree(OPEN_TREE_CLONE)
 * into a detached mount only larderd can reach, sets noatime on it (not in
 * kernel mode: the kernel's LRU is atime), and from then on every access to
 * the cache goes through *at() calls relative to mount_root_fd(); the path
 * is never used again. The write claim is an O_RDWR fd on <dir>/larder.lock
 * opened through the clone and flock(LOCK_EX|LOCK_NB)ed: while it is held,
 * `mount -o remount,ro` of the backing filesystem fails with EBUSY, and a
 * second larderd on the same dir fails with "already in use by pid N".
 */
#ifndef LARDER_MOUNT_H
#define LARDER_MOUNT_H

#include <stdint.h>

#define MOUNT_KEEP_ATIME	0x0001	/* kernel mode: no noatime on the clone */
#define MOUNT_ATTACH_PRIVATE	0x0002	/* kernel mode: unshare(CLONE_NEWNS) and
					   move_mount the clone to a private path */

/*
 * Check dir (a directory, on a local, writable filesystem with user xattrs;
 * not NFS/FUSE/...), clone its mount, take the claim. On failure writes a
 * message for the admin into err (errsz bytes) and returns -errno.
 */
int mount_open(const char *dir, unsigned flags, char *err, size_t errsz);
/* Release the claim and close everything. */
void mount_close(void);

/* fd (O_PATH|O_DIRECTORY) of dir on the private clone; -1 before open. */
int mount_root_fd(void);
/* In kernel mode: the private path where the clone is attached (what the
 * kernel is told with `dir`); "" otherwise. */
const char *mount_private_path(void);

/* The write claim. mount_claim: 0, or -errno (EROFS when the filesystem
 * is read-only now). */
int mount_claim(void);
void mount_release(void);
int mount_claimed(void);
/* mount_claim in two halves, to take the claim off the main thread:
 * opening a file for writing can wait on a frozen filesystem.
 * mount_claim_open may run on any thread (it only reads the root fd,
 * fixed from mount_open to mount_close) and returns the open, locked fd
 * or -errno (-EROFS, -EBUSY when another process holds the lock);
 * mount_claim_set (main thread) makes that fd the claim (or closes it if
 * the claim is held already). */
int mount_claim_open(void);
void mount_claim_set(int fd);
/* A new fd (O_CLOEXEC) on the claim's open file, for a probe write on
 * another thread; -EBADF when the claim is not held, -errno else. Closing
 * it leaves the claim (and its lock) as they are. */
int mount_claim_dup(void);

/* At a stop that hands over (handover.h): give the claim and, in
 * userspace mode, the private clone. */
void mount_handover(void);

/* Watch the mount table (libmount monitor, on the main loop) and log
 * remounts and unmounts of the backing filesystem / original mount point. */
int mount_monitor_start(void);

/* What status shows: fs type, source, original mount point, whether it is
 * still mounted, read-only now, claim held. */
struct ctl_kv;
void mount_status(struct ctl_kv *kv);

#endif
