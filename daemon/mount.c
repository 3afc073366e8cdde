/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mount.c: the private mount of the cache directory.
 *
 * At start the mount of dir is looked up with libmount and checked (local,
 * writable, not a pseudo or memory filesystem), cloned with
 * open_tree(OPEN_TREE_CLONE) into a detached mount only larderd can reach,
 * set noatime with mount_setattr (not in kernel mode), and probed for what
 * the store needs (O_TMPFILE and user xattrs) with real calls. The write
 * claim is an O_RDWR fd on larder.lock in dir, opened through the clone and
 * flock()ed: while it is open the mount's writer count is non-zero, so a
 * `mount -o remount,ro` of the backing filesystem fails with EBUSY.
 *
 * The libmount monitor watches /proc/self/mountinfo on the main loop and
 * logs when the backing filesystem is remounted or the original mount point
 * goes away; larderd keeps working on its clone either way.
 *
 * Main thread only. Nothing here runs while clients are served except
 * mount_claim (resume), mount_release (suspend), the monitor callback and
 * mount_status, none of which writes to the cache filesystem: mount_claim
 * opens an existing file and takes a lock.
 */
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmount.h>

#include "config.h"
#include "control.h"
#include "beneath.h"
#include "handover.h"
#include "log.h"
#include "loop.h"
#include "mount.h"

#define LOCK_NAME	"larder.lock"
#define PROBE_XATTR	"user.larder.probe"

static struct {
	unsigned flags;
	char dir[PATH_MAX];		/* as given, for messages only */
	int treefd;			/* open_tree fd: root of the clone (O_PATH) */
	int rootfd;			/* dup of treefd handed out (O_PATH|O_DIRECTORY) */
	int lockfd;			/* the write claim, or -1 */
	char private_path[PATH_MAX];	/* kernel mode: where the clone is attached */
	int private_made;		/* we made private_path (rmdir at close) */
	int strictatime;		/* kernel mode: strictatime set on the clone */
	int handed;			/* claim and clone given to a successor */

	/* what libmount said at start, and what it says now */
	int mnt_id;			/* id of the original mount (mountinfo) */
	char fstype[64];
	char source[PATH_MAX];
	char target[PATH_MAX];		/* original mount point */
	char root[PATH_MAX];		/* dir's mount's root within the fs */
	int orig_mounted;		/* original mount still in the table */
	int hidden;			/* not in this root's mountinfo (chroot) */
	int mnt_ro;			/* the original mount is read-only */
	int sb_ro;			/* the filesystem (superblock) is read-only */

	struct libmnt_monitor *mon;
	struct loop_watch *mon_watch;
} m = {
	.treefd = -1,
	.rootfd = -1,
	.lockfd = -1,
};

static int
seterr(char *err, size_t errsz, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Write a message for the admin into err and return rc (a -errno). */
static int
seterr(char *err, size_t errsz, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errsz > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Is opt (e.g. "ro") one of the comma-separated options in s? */
static int
has_opt(const char *s, const char *opt)
{
	size_t n = strlen(opt);
	const char *p = s;

	if (s == NULL)
		return 0;
	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, opt, n) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

static void
copystr(char *dst, size_t dstsz, const char *src)
{
	snprintf(dst, dstsz, "%s", src != NULL ? src : "");
}

/*
 * Why a filesystem type cannot hold the cache, or NULL if it may (the
 * O_TMPFILE and xattr probe still has the last word).
 */
static const char *
refuse_fstype(const char *type)
{
	static const char *const net[] = {
		"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "afs",
		"ncpfs", "coda", "lustre", "orangefs", "glusterfs", "gfs2",
		"ocfs2", "virtiofs", "vboxsf", "pvfs2",
	};
	static const char *const mem[] = { "tmpfs", "ramfs", "hugetlbfs" };
	size_t i;

	if (strcmp(type, "fuse") == 0 || strcmp(type, "fuseblk") == 0 ||
	    strncmp(type, "fuse.", 5) == 0)
		return "a FUSE filesystem (larder caches for such filesystems; "
		    "its own cache must be on a local disk filesystem)";
	for (i = 0; i < sizeof(net) / sizeof(net[0]); i++)
		if (strcmp(type, net[i]) == 0)
			return "a network or cluster filesystem (the cache must be "
			    "on a local disk filesystem)";
	for (i = 0; i < sizeof(mem) / sizeof(mem[0]); i++)
		if (strcmp(type, mem[i]) == 0)
			return "a memory filesystem (a cache there competes with "
			    "the page cache and is lost at reboot; the kernel's "
			    "cachefiles refuses it too)";
	if (mnt_fstype_is_netfs(type))
		return "a network filesystem (the cache must be on a local disk "
		    "filesystem)";
	/* libmount counts overlay as pseudo; let the probe decide there */
	if (strcmp(type, "overlay") != 0 && mnt_fstype_is_pseudofs(type))
		return "a pseudo filesystem";
	return NULL;
}

/* Fill m.fstype etc. from the mountinfo entry of mount id (or the mount
 * point mp when id is 0). Returns 0, -ENOENT if not found, -errno. */
static int
lookup_mount(int id, const char *mp)
{
	struct libmnt_table *tb;
	struct libmnt_fs *fs = NULL;
	struct libmnt_iter *it;
	int rc = -ENOENT;

	tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (tb == NULL)
		return -errno != 0 ? -errno : -ENOMEM;
	if (id > 0) {
		it = mnt_new_iter(MNT_ITER_BACKWARD);
		if (it == NULL) {
			mnt_unref_table(tb);
			return -ENOMEM;
		}
		while (mnt_table_next_fs(tb, it, &fs) == 0)
			if (mnt_fs_get_id(fs) == id)
				break;
			else
				fs = NULL;
		mnt_free_iter(it);
	} else if (mp != NULL)
		fs = mnt_table_find_target(tb, mp, MNT_ITER_BACKWARD);
	if (fs != NULL) {
		copystr(m.fstype, sizeof(m.fstype), mnt_fs_get_fstype(fs));
		copystr(m.source, sizeof(m.source), mnt_fs_get_source(fs));
		copystr(m.target, sizeof(m.target), mnt_fs_get_target(fs));
		copystr(m.root, sizeof(m.root), mnt_fs_get_root(fs));
		m.mnt_id = mnt_fs_get_id(fs);
		m.mnt_ro = has_opt(mnt_fs_get_vfs_options(fs), "ro");
		m.sb_ro = has_opt(mnt_fs_get_fs_options(fs), "ro");
		m.orig_mounted = 1;
		rc = 0;
	}
	mnt_unref_table(tb);
	return rc;
}

/* A filesystem's name from its statfs magic, for the types refuse_fstype
 * and the messages care about; NULL if unknown. */
static const char *
magic_name(unsigned long magic)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} t[] = {
		{ 0xef53, "ext4" }, { 0x58465342, "xfs" },
		{ 0x9123683e, "btrfs" }, { 0xf2f52010, "f2fs" },
		{ 0x794c7630, "overlay" }, { 0x01021994, "tmpfs" },
		{ 0x858458f6, "ramfs" }, { 0x958458f6, "hugetlbfs" },
		{ 0x6969, "nfs" }, { 0xff534d42, "cifs" },
		{ 0xfe534d42, "smb3" }, { 0x01021997, "9p" },
		{ 0x65735546, "fuse" }, { 0x00c36400, "ceph" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].magic == magic)
			return t[i].name;
	return NULL;
}

/*
 * In a chroot or container whose root is not a mount point, the mount
 * holding dir lies above the root, and /proc/self/mountinfo leaves it out.
 * Describe it from statfs and statx instead: the clone (open_tree of dir
 * itself) and the claim need no mountinfo, only the messages and the
 * fstype check do.
 */
static int
describe_hidden(const char *dir)
{
	struct statfs sf;
	struct statvfs sv;
	struct statx stx;
	const char *name;

	if (statfs(dir, &sf) == -1 || statvfs(dir, &sv) == -1)
		return -errno;
	name = magic_name((unsigned long)sf.f_type);
	if (name != NULL)
		copystr(m.fstype, sizeof(m.fstype), name);
	else
		snprintf(m.fstype, sizeof(m.fstype), "magic 0x%lx",
		    (unsigned long)sf.f_type);
	memset(&stx, 0, sizeof(stx));
	if (statx(AT_FDCWD, dir, 0, STATX_MNT_ID, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID) != 0)
		m.mnt_id = (int)stx.stx_mnt_id;
	snprintf(m.source, sizeof(m.source), "device %u:%u",
	    stx.stx_dev_major, stx.stx_dev_minor);
	copystr(m.target, sizeof(m.target), "(above this root, not in its "
	    "mountinfo)");
	copystr(m.root, sizeof(m.root), "");
	m.mnt_ro = m.sb_ro = (sv.f_flag & ST_RDONLY) != 0;
	m.orig_mounted = 0;
	m.hidden = 1;
	return 0;
}

/* Find dir's mount: by the mount id statx gives, else by its mount point. */
static int
find_mount(const char *dir)
{
	struct statx stx;
	char *mp;
	int rc;

	if (statx(AT_FDCWD, dir, 0, STATX_MNT_ID, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID) != 0) {
		rc = lookup_mount((int)stx.stx_mnt_id, NULL);
		if (rc != -ENOENT)
			return rc;
	}
	mp = mnt_get_mountpoint(dir);
	if (mp == NULL)
		return -ENOENT;
	rc = lookup_mount(0, mp);
	free(mp);
	if (rc == -ENOENT)
		rc = describe_hidden(dir);
	return rc;
}

/* Probe what the store needs: an O_TMPFILE in dir with a user xattr. */
static int
probe(int rootfd, char *err, size_t errsz)
{
	int fd, e;

	fd = openat(rootfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -1) {
		e = errno;
		if (e == EOPNOTSUPP || e == EISDIR || e == EINVAL)
			return seterr(err, errsz, -EOPNOTSUPP,
			    "cache dir %s: %s does not support O_TMPFILE, which "
			    "larder needs to publish whole objects only; use "
			    "ext4, xfs or btrfs", m.dir, m.fstype);
		return seterr(err, errsz, -e, "cache dir %s: cannot create a "
		    "file there (O_TMPFILE): %s", m.dir, strerror(e));
	}
	if (fsetxattr(fd, PROBE_XATTR, "1", 1, 0) == -1) {
		e = errno;
		close(fd);
		if (e == ENOTSUP)
			return seterr(err, errsz, -ENOTSUP,
			    "cache dir %s: %s on %s has no user extended "
			    "attributes, which hold each object's coherency "
			    "data; mount it with user_xattr or use ext4 or xfs",
			    m.dir, m.fstype, m.source);
		return seterr(err, errsz, -e, "cache dir %s: cannot set a user "
		    "xattr on %s: %s", m.dir, m.fstype, strerror(e));
	}
	close(fd);
	return 0;
}

/* Open larder.lock for writing through the clone and lock it; the fd, or
 * -errno (-EBUSY: another larderd holds it, its pid in *holder). Any
 * thread: it reads only m.rootfd, fixed while larderd runs. */
static int
claim_open(long *holder)
{
	char buf[32];
	ssize_t n;
	int fd, e;

	*holder = 0;
	/* never a symlink, and never the open of a planted fifo or device
	 * node: an existing lock file is opened only once it is known to be
	 * a regular file (-EINVAL if not) */
	fd = beneath_open_reg(m.rootfd, LOCK_NAME, O_RDWR | O_NOCTTY);
	if (fd == -ENOENT) {
		fd = openat(m.rootfd, LOCK_NAME, O_RDWR | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
		if (fd == -1 && errno == EEXIST)
			fd = beneath_open_reg(m.rootfd, LOCK_NAME,
			    O_RDWR | O_NOCTTY);
		else if (fd == -1)
			fd = -errno;
	}
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		e = errno;
		if (e == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			if (n > 0) {
				buf[n] = '\0';
				*holder = strtol(buf, NULL, 10);
			}
			e = EBUSY;
		}
		close(fd);
		return -e;
	}
	return fd;
}

/*
 * A claim handed over by the larderd before us (handover.h): take it if
 * it is what it says, an O_RDWR open file of larder.lock in this dir
 * whose lock is ours to have. 1 taken, 0 none or rejected (closed).
 */
static int
adopt_claim(void)
{
	struct stat a, b;
	int fd = handover_take(HO_CLAIM), fl;
	const char *why = NULL;

	if (fd < 0)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fstat(fd, &a) == -1 || !S_ISREG(a.st_mode))
		why = "not a regular file";
	else if (fl == -1 || (fl & O_ACCMODE) != O_RDWR)
		why = "not open for writing";
	else if (fstatat(m.rootfd, LOCK_NAME, &b, AT_SYMLINK_NOFOLLOW) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		why = "not " LOCK_NAME " of this cache dir";
	else if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		why = "its lock is held by another open file";
	if (why != NULL) {
		log_warnx("cache dir %s: handed-over claim (fd %d): %s: closed",
		    m.dir, fd, why);
		handover_rejected(HO_CLAIM);
		close(fd);
		return 0;
	}
	m.lockfd = fd;
	log_info("cache dir %s: write claim adopted (held throughout)", m.dir);
	return 1;
}

/*
 * A private clone handed over (userspace mode): the root of a mount of
 * dir's filesystem at dir (same device and inode), noatime as ours are.
 * 1 taken (m.treefd), 0 none or rejected (closed).
 */
static int
adopt_tree(const char *dir)
{
	struct stat a, b;
	struct statvfs sv;
	int fd = handover_take(HO_TREE);
	const char *why = NULL;

	if (fd < 0)
		return 0;
	if (fstat(fd, &a) == -1 || !S_ISDIR(a.st_mode))
		why = "not a directory";
	else if (stat(dir, &b) == -1 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino)
		why = "not this cache dir";
	else if (fstatvfs(fd, &sv) == -1 || !(sv.f_flag & ST_NOATIME))
		why = "not a noatime clone";
	if (why != NULL) {
		log_warnx("cache dir %s: handed-over private clone (fd %d): %s: "
		    "closed", dir, fd, why);
		handover_rejected(HO_TREE);
		close(fd);
		return 0;
	}
	m.treefd = fd;
	return 1;
}

void
mount_handover(void)
{
	if (m.treefd != -1 && !(m.flags & MOUNT_ATTACH_PRIVATE))
		handover_give(HO_TREE, m.treefd);
	if (m.lockfd != -1)
		handover_give(HO_CLAIM, m.lockfd);
	m.handed = 1;
}

/* At start: take the claim and write our pid into the lock file. */
static int
take_claim(char *err, size_t errsz)
{
	char buf[32];
	long holder;
	int fd, n;

	if (adopt_claim()) {
		fd = m.lockfd;
		goto pid;
	}
	fd = claim_open(&holder);
	if (fd == -EBUSY && holder > 0)
		return seterr(err, errsz, -EBUSY, "cache dir %s: already in use "
		    "by pid %ld", m.dir, holder);
	if (fd == -EBUSY)
		return seterr(err, errsz, -EBUSY, "cache dir %s: already in use "
		    "by another larderd", m.dir);
	if (fd == -EINVAL || fd == -ELOOP)
		return seterr(err, errsz, fd, "cache dir %s: %s is not a "
		    "regular file: remove it (larderd makes a new one)", m.dir,
		    LOCK_NAME);
	if (fd < 0)
		return seterr(err, errsz, fd, "cache dir %s: open and lock %s: "
		    "%s", m.dir, LOCK_NAME, strerror(-fd));
pid:
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("cache dir %s: write pid to %s", m.dir, LOCK_NAME);
	m.lockfd = fd;
	return 0;
}

/* Kernel mode: a mount namespace of our own, and a private path in it
 * where the clone is attached (the kernel is told that path). */
static int
attach_private(char *err, size_t errsz)
{
	char base[] = RUNSTATEDIR "/larder";
	int e;

	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == -1) {
		e = errno;
		if (e == EINVAL)	/* a chroot whose root is no mount */
			return seterr(err, errsz, -e, "cache dir %s: kernel "
			    "mode needs / to be a mount point (its private "
			    "namespace is made a slave of the host's from "
			    "there); in a chroot, make the chroot directory "
			    "a mount point first (mount --bind DIR DIR)",
			    m.dir);
		return seterr(err, errsz, -e, "cache dir %s: make / rslave in "
		    "the private namespace: %s", m.dir, strerror(e));
	}
	if (mkdir(base, 0700) == -1 && errno != EEXIST) {
		e = errno;
		return seterr(err, errsz, -e, "cache dir %s: mkdir %s: %s",
		    m.dir, base, strerror(e));
	}
	snprintf(m.private_path, sizeof(m.private_path), "%s/cache.XXXXXX",
	    base);
	if (mkdtemp(m.private_path) == NULL) {
		e = errno;
		m.private_path[0] = '\0';
		return seterr(err, errsz, -e, "cache dir %s: mkdtemp in %s: %s",
		    m.dir, base, strerror(e));
	}
	m.private_made = 1;
	if (move_mount(m.treefd, "", AT_FDCWD, m.private_path,
	    MOVE_MOUNT_F_EMPTY_PATH) == -1) {
		e = errno;
		return seterr(err, errsz, -e, "cache dir %s: attach the private "
		    "clone at %s: %s", m.dir, m.private_path, strerror(e));
	}
	return 0;
}

/*
 * The checks before the clone: dir is a directory, its mount is found in
 * mountinfo (find_mount fills m.fstype, m.source, m.target), of a type
 * we accept, and not read-only. 0, or -errno with the reason in err.
 */
static int
check_dir(const char *dir, char *err, size_t errsz)
{
	struct statvfs sv;
	struct stat st;
	const char *why;
	int rc, e;

	if (stat(dir, &st) == -1) {
		e = errno;
		return seterr(err, errsz, -e, "cache dir %s: %s", dir,
		    strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return seterr(err, errsz, -ENOTDIR, "cache dir %s: not a "
		    "directory", dir);
	rc = find_mount(dir);
	if (rc < 0)
		return seterr(err, errsz, rc, "cache dir %s: cannot find its "
		    "mount in /proc/self/mountinfo: %s", dir, strerror(-rc));
	why = refuse_fstype(m.fstype);
	if (why != NULL)
		return seterr(err, errsz, -EMEDIUMTYPE, "cache dir %s: %s (%s "
		    "on %s) is %s", dir, m.target, m.fstype, m.source, why);
	if (statvfs(dir, &sv) == 0 && (sv.f_flag & ST_RDONLY) != 0)
		return seterr(err, errsz, -EROFS, "cache dir %s: read-only "
		    "%s (%s %s on %s); remount it read-write or choose another "
		    "dir", dir, m.sb_ro ? "filesystem" : "mount", m.fstype,
		    m.source, m.target);
	return 0;
}

/*
 * Set the atime mode of the fresh clone m.treefd: noatime, or with
 * MOUNT_KEEP_ATIME strictatime, best effort (m.strictatime says whether
 * it took). 0, or -errno with the reason in err (noatime only).
 */
static int
set_atime(const char *dir, unsigned flags, char *err, size_t errsz)
{
	struct mount_attr attr;
	int e;

	if (!(flags & MOUNT_KEEP_ATIME)) {
		memset(&attr, 0, sizeof(attr));
		attr.attr_set = MOUNT_ATTR_NOATIME;
		attr.attr_clr = MOUNT_ATTR__ATIME;
		if (mount_setattr(m.treefd, "", AT_EMPTY_PATH, &attr,
		    sizeof(attr)) == -1) {
			e = errno;
			return seterr(err, errsz, -e, "cache dir %s: set noatime "
			    "on the private clone (mount_setattr): %s%s", dir,
			    strerror(e), e == ENOSYS ? " (needs Linux 5.12 or "
			    "later)" : "");
		}
		return 0;
	}
	/*
	 * Kernel mode: atime is the kernel's LRU information, and
	 * relatime (the usual default) moves it only once a day for
	 * an object read again and again. strictatime on the clone
	 * only (the host's mount keeps its options): every read the
	 * kernel makes through it (cachefiles opens its backing
	 * files on the path it was bound to, i.e. this clone)
	 * updates the atime that culling reads. Not fatal: without
	 * it, culling still works, with the mount's own atime.
	 */
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_STRICTATIME;
	attr.attr_clr = MOUNT_ATTR__ATIME;
	if (mount_setattr(m.treefd, "", AT_EMPTY_PATH, &attr,
	    sizeof(attr)) == -1)
		log_warn("cache dir %s: set strictatime on the private "
		    "clone (mount_setattr); atime as the mount has it", dir);
	else
		m.strictatime = 1;
	return 0;
}

/*
 * Make a new private clone of dir's mount in m.treefd (open_tree), set
 * its atime mode and with MOUNT_ATTACH_PRIVATE attach it. 0, or -errno
 * with the reason in err; the caller undoes what was made (mount_close).
 */
static int
clone_tree(const char *dir, unsigned flags, char *err, size_t errsz)
{
	int rc, e;

	m.treefd = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (m.treefd == -1) {
		e = errno;
		return seterr(err, errsz, -e, "cache dir %s: clone its mount "
		    "(open_tree): %s%s", dir, strerror(e), e == EPERM ?
		    " (needs CAP_SYS_ADMIN)" : e == ENOSYS ? " (needs Linux "
		    "5.2 or later)" : "");
	}
	rc = set_atime(dir, flags, err, errsz);
	if (rc < 0)
		return rc;
	if (flags & MOUNT_ATTACH_PRIVATE) {
		rc = attach_private(err, errsz);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * On the clone in m.treefd: open its root (m.rootfd), probe it, take the
 * write claim. 0, or -errno with the reason in err; the caller undoes
 * what was made (mount_close).
 */
static int
open_root(const char *dir, char *err, size_t errsz)
{
	int rc, e;

	m.rootfd = openat(m.treefd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (m.rootfd == -1) {
		e = errno;
		return seterr(err, errsz, -e, "cache dir %s: open the clone: %s",
		    dir, strerror(e));
	}
	rc = probe(m.rootfd, err, errsz);
	if (rc < 0)
		return rc;
	return take_claim(err, errsz);
}

/*
 * Contract in mount.h. Main thread, once at startup, before caps_drop
 * (open_tree, mount_setattr and unshare need CAP_SYS_ADMIN) and before
 * any thread starts: main() in userspace mode, kernel_start in kernel
 * mode. Steps: check dir (a directory, a filesystem type we accept, not
 * read-only), then a clone of its mount: adopted from a re-exec'd
 * predecessor (handover) when one was handed over, else open_tree, set
 * noatime (strictatime in kernel mode: the kernel's LRU reads atime,
 * best effort) and in kernel mode attach it privately; then the root fd,
 * the O_TMPFILE + xattr probe, the write claim. Any failure undoes the
 * steps before it (mount_close) and returns -errno with the reason in
 * err; m.dir is kept for the messages that follow.
 */
int
mount_open(const char *dir, unsigned flags, char *err, size_t errsz)
{
	int rc, e;

	if (m.rootfd != -1)
		return seterr(err, errsz, -EALREADY, "mount already open");
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	copystr(m.dir, sizeof(m.dir), dir);
	m.flags = flags;

	rc = check_dir(dir, err, errsz);
	if (rc < 0)
		return rc;
	if (flags & MOUNT_ATTACH_PRIVATE) {
		/* before the clone, so the clone is made in our namespace */
		if (unshare(CLONE_NEWNS) == -1) {
			e = errno;
			return seterr(err, errsz, -e, "cache dir %s: unshare "
			    "the mount namespace: %s", dir, strerror(e));
		}
	}
	if (!(flags & MOUNT_ATTACH_PRIVATE) && adopt_tree(dir)) {
		log_info("cache dir %s: private clone adopted", dir);
	} else {
		rc = clone_tree(dir, flags, err, errsz);
		if (rc < 0)
			goto fail;
	}
	rc = open_root(dir, err, errsz);
	if (rc < 0)
		goto fail;
	log_info("cache dir %s: %s %s on %s, private clone%s%s%s", dir,
	    m.fstype, m.source, m.target,
	    (flags & MOUNT_KEEP_ATIME) ? (m.strictatime ? " (strictatime)" :
	    "") : " (noatime)",
	    m.private_path[0] != '\0' ? " at " : "", m.private_path);
	return 0;
fail:
	e = errno;
	mount_close();
	copystr(m.dir, sizeof(m.dir), dir);
	errno = e;
	return rc;
}

void
mount_close(void)
{
	if (m.mon_watch != NULL) {
		loop_watch_del(m.mon_watch);
		m.mon_watch = NULL;
	}
	if (m.mon != NULL) {
		mnt_unref_monitor(m.mon);
		m.mon = NULL;
	}
	mount_release();
	if (m.rootfd != -1) {
		close(m.rootfd);
		m.rootfd = -1;
	}
	if (m.private_path[0] != '\0') {
		/* detach first so the tree goes away with our last fd */
		(void)umount2(m.private_path, MNT_DETACH);
		if (m.private_made)
			(void)rmdir(m.private_path);
		m.private_path[0] = '\0';
		m.private_made = 0;
	}
	if (m.treefd != -1) {
		close(m.treefd);
		m.treefd = -1;
	}
	m.orig_mounted = 0;
	m.hidden = 0;
}

int
mount_root_fd(void)
{
	return m.rootfd;
}

const char *
mount_private_path(void)
{
	return m.private_path;
}

int
mount_claim_open(void)
{
	struct statvfs sv;
	long holder;

	if (m.rootfd == -1)
		return -EBADF;
	if (fstatvfs(m.rootfd, &sv) == 0 && (sv.f_flag & ST_RDONLY) != 0)
		return -EROFS;
	return claim_open(&holder);
}

void
mount_claim_set(int fd)
{
	if (fd < 0)
		return;
	if (m.lockfd != -1 || m.rootfd == -1) {
		close(fd);	/* claimed already, or closed meanwhile */
		return;
	}
	m.lockfd = fd;
	log_info("cache dir %s: write claim taken", m.dir);
}

int
mount_claim(void)
{
	int fd;

	if (m.lockfd != -1)
		return 0;
	fd = mount_claim_open();
	if (fd < 0)
		return fd;
	mount_claim_set(fd);
	return 0;
}

void
mount_release(void)
{
	if (m.lockfd == -1)
		return;
	close(m.lockfd);	/* drops the flock and the mount's writer count */
	m.lockfd = -1;
	if (m.rootfd != -1)
		log_info("cache dir %s: write claim %s", m.dir, m.handed ?
		    "handed on (the successor holds it)" : "released");
}

int
mount_claimed(void)
{
	return m.lockfd != -1;
}

int
mount_claim_dup(void)
{
	int fd;

	if (m.lockfd == -1)
		return -EBADF;
	fd = fcntl(m.lockfd, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

/* Re-read the mount table after a change and log what happened to the
 * original mount. */
static void
recheck(void)
{
	int was_mounted = m.orig_mounted;
	int was_mnt_ro = m.mnt_ro, was_sb_ro = m.sb_ro;
	struct statvfs sv;
	int rc;

	if (!was_mounted || m.hidden)
		return;
	rc = lookup_mount(m.mnt_id, NULL);
	if (rc == -ENOENT) {
		m.orig_mounted = 0;
		log_warnx("cache dir %s: original mount point %s was unmounted; "
		    "larderd keeps working on its private clone", m.dir,
		    m.target);
		/* the superblock may still have changed; ask the clone */
		if (fstatvfs(m.rootfd, &sv) == 0)
			m.sb_ro = (sv.f_flag & ST_RDONLY) != 0;
		return;
	}
	if (rc < 0) {
		log_warnx("cache dir %s: re-read mountinfo: %s", m.dir,
		    strerror(-rc));
		return;
	}
	if (was_sb_ro != m.sb_ro)
		log_warnx("cache dir %s: filesystem %s on %s was remounted %s%s",
		    m.dir, m.source, m.target, m.sb_ro ? "read-only" :
		    "read-write", m.sb_ro ? "; fills fail until it is "
		    "read-write again" : "");
	if (was_mnt_ro != m.mnt_ro)
		log_info("cache dir %s: original mount %s was made %s; larderd "
		    "keeps its own writable clone", m.dir, m.target,
		    m.mnt_ro ? "read-only" : "read-write");
}

static void
monitor_cb(int fd, uint32_t events, void *arg)
{
	const char *file;
	int type, changed = 0;

	(void)fd;
	(void)events;
	(void)arg;
	while (mnt_monitor_next_change(m.mon, &file, &type) == 0)
		changed = 1;
	if (changed)
		recheck();
}

int
mount_monitor_start(void)
{
	int fd, rc;

	if (m.mon != NULL)
		return 0;
	m.mon = mnt_new_monitor();
	if (m.mon == NULL)
		return -ENOMEM;
	rc = mnt_monitor_enable_kernel(m.mon, 1);
	if (rc < 0)
		goto fail;
	fd = mnt_monitor_get_fd(m.mon);
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	m.mon_watch = loop_watch_add(fd, EPOLLIN, monitor_cb, NULL);
	if (m.mon_watch == NULL) {
		rc = -errno;
		goto fail;
	}
	return 0;
fail:
	mnt_unref_monitor(m.mon);
	m.mon = NULL;
	return rc < 0 ? rc : -EIO;
}

void
mount_status(struct ctl_kv *kv)
{
	struct statvfs sv;
	int ro = m.sb_ro;

	if (m.rootfd != -1 && fstatvfs(m.rootfd, &sv) == 0)
		ro = (sv.f_flag & ST_RDONLY) != 0;
	ctl_kv_str(kv, "mount.dir", m.dir);
	ctl_kv_str(kv, "mount.fstype", m.fstype);
	ctl_kv_str(kv, "mount.source", m.source);
	ctl_kv_str(kv, "mount.target", m.target);
	ctl_kv_str(kv, "mount.original", m.hidden ? "not visible from this "
	    "root (chroot or container)" : m.orig_mounted ? "mounted" :
	    "unmounted (working on the private clone)");
	ctl_kv_str(kv, "mount.filesystem", ro ? "read-only" : "read-write");
	ctl_kv_str(kv, "mount.claim", m.lockfd != -1 ? "held" : "released");
	ctl_kv_str(kv, "mount.atime", (m.flags & MOUNT_KEEP_ATIME) ?
	    (m.strictatime ? "strictatime" : "kept") : "noatime");
	if (m.private_path[0] != '\0')
		ctl_kv_str(kv, "mount.private_path", m.private_path);
}
