/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_mount.c: the private mount (daemon/mount.c) on real loop-mounted
 * ext4 and xfs images, a real tmpfs and a real read-only filesystem.
 *
 * Most checks need root (mount, losetup). Check tests cannot report a skip,
 * so without root those checks pass after printing "SKIP: ... needs root";
 * CI runs them as root (LARDER_REQUIRE_ROOT=1 makes a non-root run fail).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/mount.c"

/* mount.c reports status through control.c's kv helpers; record what it
 * says instead (control.o is then not linked in). */
static char kvlog[8192];

void
ctl_kv_str(struct ctl_kv *kv, const char *key, const char *v)
{
	size_t n = strlen(kvlog);

	(void)kv;
	snprintf(kvlog + n, sizeof(kvlog) - n, "%s=%s\n", key, v);
}

void
ctl_kv_u64(struct ctl_kv *kv, const char *key, uint64_t v)
{
	size_t n = strlen(kvlog);

	(void)kv;
	snprintf(kvlog + n, sizeof(kvlog) - n, "%s=%llu\n", key,
	    (unsigned long long)v);
}

void
ctl_kv_s64(struct ctl_kv *kv, const char *key, int64_t v)
{
	size_t n = strlen(kvlog);

	(void)kv;
	snprintf(kvlog + n, sizeof(kvlog) - n, "%s=%lld\n", key, (long long)v);
}

static char tdir[] = "/tmp/check_mount.XXXXXX";
static char mnt[256];
static int mounted;

#define is_root() is_root_(__func__)

static int
is_root_(const char *name)
{
	if (geteuid() == 0)
		return 1;
	printf("SKIP: %s needs root (passes without checking)\n",
	    name);
	return 0;
}

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Make and loop-mount a filesystem of type at mnt; returns 0 or fails. */
static void
mkfs_mount(const char *type)
{
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(mnt, sizeof(mnt), "%s/mnt", tdir);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	ck_assert_int_eq(sh("truncate -s 320M %s/img && mkfs.%s -q %s %s/img "
	    ">/dev/null 2>&1", tdir, type, strcmp(type, "xfs") == 0 ? "-f" :
	    "-F", tdir), 0);
	ck_assert_int_eq(sh("mount -o loop %s/img %s", tdir, mnt), 0);
	mounted = 1;
	ck_assert_int_eq(sh("mkdir -p %s/cache", mnt), 0);
}

static void
teardown(void)
{
	mount_close();
	if (mounted) {
		(void)umount2(mnt, MNT_DETACH);
		mounted = 0;
	}
	if (strcmp(tdir, "/tmp/check_mount.XXXXXX") != 0) {
		(void)sh("rm -rf %s", tdir);
		strcpy(tdir, "/tmp/check_mount.XXXXXX");
	}
}

START_TEST(refuses_missing_and_non_directory)
{
	char err[512], path[PATH_MAX];
	int fd;

	ck_assert_int_eq(mount_open("/nonexistent/larder", 0, err,
	    sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/larder"));
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(path, sizeof(path), "%s/file", tdir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(mount_open(path, 0, err, sizeof(err)), -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(err, "not a directory"));
	ck_assert_int_eq(mount_root_fd(), -1);
	teardown();
}
END_TEST

START_TEST(refuses_tmpfs_with_reason)
{
	char err[512];

	if (!is_root())
		return;
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(mnt, sizeof(mnt), "%s", tdir);
	ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=4m"), 0);
	mounted = 1;
	ck_assert_int_eq(mount_open(mnt, 0, err, sizeof(err)), -EMEDIUMTYPE);
	ck_assert_ptr_nonnull(strstr(err, "tmpfs"));
	ck_assert_ptr_nonnull(strstr(err, "memory filesystem"));
	ck_assert_int_eq(mount_root_fd(), -1);
	(void)umount2(mnt, MNT_DETACH);
	mounted = 0;
	teardown();
}
END_TEST

START_TEST(refuses_read_only_filesystem)
{
	char err[512], dir[PATH_MAX];

	if (!is_root())
		return;
	mkfs_mount("ext4");
	ck_assert_int_eq(sh("mount -o remount,ro %s", mnt), 0);
	snprintf(dir, sizeof(dir), "%s/cache", mnt);
	ck_assert_int_eq(mount_open(dir, 0, err, sizeof(err)), -EROFS);
	ck_assert_ptr_nonnull(strstr(err, "read-only filesystem"));
	ck_assert_ptr_nonnull(strstr(err, "ext4"));
	teardown();
}
END_TEST

/* The full life on one filesystem type: clone, noatime, claim blocks a
 * remount read-only, release lets it, claim after is EROFS, then works. */
static void
clone_and_claim(const char *type)
{
	char err[512], dir[PATH_MAX], buf[64];
	struct statvfs sv;
	struct stat a, b;
	int fd;
	ssize_t n;

	mkfs_mount(type);
	snprintf(dir, sizeof(dir), "%s/cache", mnt);
	ck_assert_msg(mount_open(dir, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(m.fstype, type);

	/* the root fd is dir itself, on a noatime clone */
	ck_assert_int_ge(mount_root_fd(), 0);
	ck_assert_int_eq(fstat(mount_root_fd(), &a), 0);
	ck_assert_int_eq(stat(dir, &b), 0);
	ck_assert(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	ck_assert_int_eq(fstatvfs(mount_root_fd(), &sv), 0);
	ck_assert(sv.f_flag & ST_NOATIME);
	ck_assert_int_eq(statvfs(dir, &sv), 0);
	ck_assert(!(sv.f_flag & ST_NOATIME));	/* the original is untouched */
	ck_assert_str_eq(mount_private_path(), "");

	/* the lock file holds our pid */
	fd = openat(mount_root_fd(), "larder.lock", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_int_eq(atol(buf), getpid());

	/* the claim makes a remount read-only fail with EBUSY */
	ck_assert(mount_claimed());
	ck_assert_int_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL),
	    -1);
	ck_assert_int_eq(errno, EBUSY);

	/* released: the remount works, and claiming again is EROFS */
	mount_release();
	ck_assert(!mount_claimed());
	ck_assert_int_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL),
	    0);
	ck_assert_int_eq(mount_claim(), -EROFS);
	ck_assert_int_eq(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), 0);
	ck_assert_int_eq(mount_claim(), 0);
	ck_assert(mount_claimed());
	ck_assert_int_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL),
	    -1);
	ck_assert_int_eq(errno, EBUSY);

	memset(kvlog, 0, sizeof(kvlog));
	mount_status(NULL);
	ck_assert_ptr_nonnull(strstr(kvlog, "mount.claim=held\n"));
	ck_assert_ptr_nonnull(strstr(kvlog, "mount.original=mounted\n"));
	ck_assert_ptr_nonnull(strstr(kvlog, "mount.atime=noatime\n"));
	ck_assert_ptr_nonnull(strstr(kvlog, "mount.filesystem=read-write\n"));
	teardown();
}

START_TEST(clone_and_claim_ext4)
{
	if (is_root())
		clone_and_claim("ext4");
}
END_TEST

START_TEST(clone_and_claim_xfs)
{
	if (is_root())
		clone_and_claim("xfs");
}
END_TEST

/* A second opener of the same dir is told who holds it. */
START_TEST(second_open_names_the_holder)
{
	char err[512], dir[PATH_MAX];
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (!is_root())
		return;
	mkfs_mount("ext4");
	snprintf(dir, sizeof(dir), "%s/cache", mnt);
	ck_assert_msg(mount_open(dir, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc;

		close(pfd[0]);
		m.rootfd = m.treefd = m.lockfd = -1;	/* a fresh larderd */
		rc = mount_open(dir, 0, err, sizeof(err));
		(void)!write(pfd[1], err, strlen(err));
		_exit(rc == -EBUSY ? 0 : 1);
	}
	close(pfd[1]);
	memset(err, 0, sizeof(err));
	n = read(pfd[0], err, sizeof(err) - 1);
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_gt(n, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", err);
	snprintf(dir, sizeof(dir), "already in use by pid %ld", (long)getpid());
	ck_assert_msg(strstr(err, dir) != NULL, "%s", err);
	teardown();
}
END_TEST

static void
stop_soon(void *arg)
{
	(void)arg;
	loop_stop();
}

/* umount -l of the original mount point: the monitor notices, and the
 * clone keeps working for reads and writes. */
START_TEST(lazy_unmount_keeps_clone)
{
	char err[512], dir[PATH_MAX], buf[8];
	int fd;

	if (!is_root())
		return;
	mkfs_mount("xfs");
	snprintf(dir, sizeof(dir), "%s/cache", mnt);
	ck_assert_msg(mount_open(dir, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(mount_monitor_start(), 0);
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	mounted = 0;
	loop_timer_add(500, stop_soon, NULL);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(m.orig_mounted, 0);
	memset(kvlog, 0, sizeof(kvlog));
	mount_status(NULL);
	ck_assert_ptr_nonnull(strstr(kvlog, "mount.original=unmounted"));

	fd = openat(mount_root_fd(), "obj", O_CREAT | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "larder", 6, 0), 6);
	close(fd);
	fd = openat(mount_root_fd(), "obj", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, 6, 0), 6);
	close(fd);
	ck_assert_int_eq(memcmp(buf, "larder", 6), 0);
	mount_close();
	loop_fini();
	teardown();
}
END_TEST

/* A read-only bind mount made by someone else over dir does not reach the
 * clone, and the monitor notices the remount of the original. */
START_TEST(ro_bind_over_dir_keeps_clone_writable)
{
	char err[512], dir[PATH_MAX];
	int fd;

	if (!is_root())
		return;
	mkfs_mount("ext4");
	snprintf(dir, sizeof(dir), "%s/cache", mnt);
	ck_assert_msg(mount_open(dir, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(mount_monitor_start(), 0);
	ck_assert_int_eq(sh("mount --bind -o ro %s %s", dir, dir), 0);
	ck_assert_int_eq(sh("mount -o remount,bind,ro %s", mnt), 0);
	loop_timer_add(300, stop_soon, NULL);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(m.mnt_ro, 1);
	ck_assert_int_eq(m.sb_ro, 0);
	fd = openat(mount_root_fd(), "obj", O_CREAT | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	mount_close();
	loop_fini();
	(void)umount2(dir, MNT_DETACH);
	teardown();
}
END_TEST

/* Kernel mode: a private namespace, the clone attached at a private path
 * that the host's mount table does not show; atime kept. In a chroot
 * whose root is no mount point (/ cannot be made a slave), mount_open
 * must say so and what to do. */
START_TEST(attach_private_in_own_namespace)
{
	char err[512], dir[PATH_MAX];
	int status;
	pid_t pid;

	if (!is_root())
		return;
	mkfs_mount("ext4");
	snprintf(dir, sizeof(dir), "%s/cache", mnt);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct statvfs sv;
		struct stat a, b;
		int rootless;

		/* is / a mount point here? (a child that only asks) */
		rootless = sh("unshare -m sh -c 'mount --make-rslave /' "
		    "2>/dev/null") != 0;
		if (mount_open(dir, MOUNT_KEEP_ATIME | MOUNT_ATTACH_PRIVATE, err,
		    sizeof(err)) != 0) {
			if (rootless && strstr(err, "needs / to be a mount "
			    "point") != NULL && strstr(err, "mount --bind") != NULL)
				_exit(0);
			fprintf(stderr, "%s\n", err);
			_exit(1);
		}
		if (rootless)
			_exit(7);	/* it cannot have worked */
		if (strncmp(mount_private_path(), RUNSTATEDIR "/larder/",
		    strlen(RUNSTATEDIR "/larder/")) != 0)
			_exit(2);
		if (stat(mount_private_path(), &a) != 0 || stat(dir, &b) != 0 ||
		    a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			_exit(3);
		if (statvfs(mount_private_path(), &sv) != 0 ||
		    (sv.f_flag & ST_NOATIME))
			_exit(4);
		/* the host does not see it */
		if (sh("grep -q ' %s ' /proc/1/mountinfo",
		    mount_private_path()) == 0)
			_exit(5);
		if (sh("grep -q ' %s ' /proc/self/mountinfo",
		    mount_private_path()) != 0)
			_exit(6);
		mount_close();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status %d", status);
	teardown();
}
END_TEST

static Suite *
mount_suite(void)
{
	Suite *s = suite_create("mount");
	TCase *tc = tcase_create("mount");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, refuses_missing_and_non_directory);
	tcase_add_test(tc, refuses_tmpfs_with_reason);
	tcase_add_test(tc, refuses_read_only_filesystem);
	tcase_add_test(tc, clone_and_claim_ext4);
	tcase_add_test(tc, clone_and_claim_xfs);
	tcase_add_test(tc, second_open_names_the_holder);
	tcase_add_test(tc, lazy_unmount_keeps_clone);
	tcase_add_test(tc, ro_bind_over_dir_keeps_clone_writable);
	tcase_add_test(tc, attach_private_in_own_namespace);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mount_suite());
	int failed;

	log_init("check_mount", 1, 0);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
