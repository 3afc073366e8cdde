/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_meta.c: the meta thread on a real directory (user xattrs needed):
 * a tmpfile is synced, gets its xattrs and is linked into place; records
 * are batched; meta_flush waits for everything queued before it; several
 * files in one batch share one syncfs; atimes are written; a record its
 * owner keeps touching (a fill stream) waits for the stream to end, or
 * for the bound, and the stream's writeback is started meanwhile; a
 * freeze's hold keeps object records back (and stops a batch that has
 * not begun its xattrs) until the release.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cfmt.h"
#include "daemon/loop.h"
#include "daemon/meta.h"

static char top[64];
static int cachefd, stagefd;
static int ndone, nflushed;

static void
setup(void)
{
	char p[128];

	strcpy(top, "/tmp/check_meta.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(p, sizeof(p), "%s/cache", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/cache/Ivol", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/cache/Ivol/@00", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/larder.new", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/cache", top);
	cachefd = open(p, O_RDONLY | O_DIRECTORY);
	snprintf(p, sizeof(p), "%s/larder.new", top);
	stagefd = open(p, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(cachefd, 0);
	ck_assert_int_ge(stagefd, 0);
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(meta_init(cachefd, stagefd), 0);
	meta_set_stream_ms(META_STREAM_QUIET_MS, META_STREAM_MAX_MS);
	ndone = nflushed = 0;
}

static void
teardown(void)
{
	char cmd[128];

	meta_fini();
	loop_fini();
	close(cachefd);
	close(stagefd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	ck_assert_int_eq(system(cmd), 0);
}

static void
rec_done(struct meta_rec *r)
{
	ck_assert_int_eq(r->err, 0);
	ndone++;
	free(r->map);
	free(r);
}

static void
flushed(void *arg)
{
	/* everything queued before the flush is done by now */
	ck_assert_int_eq(ndone, (int)(long)arg);
	nflushed++;
	loop_stop();
}

static int
tmpfile_with(const char *data)
{
	int fd = openat(cachefd, "Ivol/@00", O_TMPFILE | O_RDWR, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	return fd;
}

static struct meta_rec *
object_rec(int fd, const char *name, int link, uint64_t size)
{
	struct meta_rec *r = calloc(1, sizeof(*r));
	struct cfmt_obj x = { .object_size = size, .type = CFMT_TYPE_DATA,
	    .content = CFMT_CONTENT_ALL, .aux_len = 2, .aux = { 'v', '1' } };
	struct cfmt_map m;

	r->kind = META_OBJECT;
	r->fd = fd;
	r->link = link;
	r->xattr_len = cfmt_obj_encode(&x, r->xattr, sizeof(r->xattr));
	cfmt_map_init(&m);
	ck_assert_int_eq(cfmt_map_add(&m, 0, size), 0);
	r->map_len = cfmt_map_encoded_len(m.count);
	r->map = malloc(r->map_len);
	ck_assert_int_eq(cfmt_map_encode(&m, r->map, r->map_len),
	    (int)r->map_len);
	cfmt_map_free(&m);
	snprintf(r->path, sizeof(r->path), "Ivol/@00/%s", name);
	r->done = rec_done;
	return r;
}

START_TEST(tmpfile_is_published_whole)
{
	struct meta_stats ms;
	uint8_t x[64];
	char buf[16];
	ssize_t n;
	int fd, rfd;

	fd = tmpfile_with("hello");
	/* nothing at the name before the record is done */
	ck_assert_int_lt(faccessat(cachefd, "Ivol/@00/Dk", F_OK, 0), 0);
	meta_queue(object_rec(fd, "Dk", 1, 5));
	meta_flush(flushed, (void *)1L);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(nflushed, 1);
	rfd = openat(cachefd, "Ivol/@00/Dk", O_RDONLY);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_eq(read(rfd, buf, sizeof(buf)), 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	n = fgetxattr(rfd, CFMT_XATTR, x, sizeof(x));
	ck_assert_int_eq(n, 20);
	ck_assert_int_eq(cfmt_obj_usable(x, n, "v1", 2, 5), 1);
	n = fgetxattr(rfd, CFMT_MAP_XATTR, x, sizeof(x));
	ck_assert_int_eq(n, 24);
	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.links, 1);
	ck_assert_uint_eq(ms.fdatasyncs, 1);
	ck_assert_uint_eq(ms.syncfs, 0);
	close(rfd);
	close(fd);
}
END_TEST

static int old_fd = -1, new_tmp = -1;

/* after the first publish: hold the old object open, publish a new one
 * over it (one loop_run per test: loop_stop cannot be undone) */
static void
first_published(void *arg)
{
	(void)arg;
	ck_assert_int_eq(ndone, 1);
	old_fd = openat(cachefd, "Ivol/@00/Dr", O_RDONLY);
	ck_assert_int_ge(old_fd, 0);
	new_tmp = tmpfile_with("new!!");
	meta_queue(object_rec(new_tmp, "Dr", 1, 5));
	meta_flush(flushed, (void *)2L);
}

START_TEST(replace_keeps_old_readers)
{
	char buf[16];
	int fd1, fd;

	fd1 = tmpfile_with("old!!");
	meta_queue(object_rec(fd1, "Dr", 1, 5));
	meta_flush(first_published, NULL);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(nflushed, 1);
	ck_assert_int_eq(pread(old_fd, buf, 5, 0), 5);
	ck_assert(memcmp(buf, "old!!", 5) == 0);
	fd = openat(cachefd, "Ivol/@00/Dr", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, 5, 0), 5);
	ck_assert(memcmp(buf, "new!!", 5) == 0);
	close(fd);
	close(old_fd);
	close(fd1);
	close(new_tmp);
}
END_TEST

START_TEST(many_files_share_one_syncfs)
{
	struct meta_stats ms;
	char name[16];
	int fds[6], i;

	for (i = 0; i < 6; i++) {
		fds[i] = tmpfile_with("data");
		snprintf(name, sizeof(name), "Df%d", i);
		meta_queue(object_rec(fds[i], name, 1, 4));
	}
	meta_flush(flushed, (void *)6L);
	ck_assert_int_eq(loop_run(), 0);
	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.syncfs, 1);
	ck_assert_uint_eq(ms.fdatasyncs, 0);
	ck_assert_uint_eq(ms.links, 6);
	for (i = 0; i < 6; i++)
		close(fds[i]);
}
END_TEST

START_TEST(records_are_batched)
{
	struct meta_stats ms;
	struct meta_rec *r;
	struct stat sb;
	int fd, i;

	fd = openat(cachefd, "Ivol/@00/Da", O_CREAT | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	for (i = 0; i < 150; i++) {
		r = calloc(1, sizeof(*r));
		r->kind = META_ATIME;
		snprintf(r->path, sizeof(r->path), "Ivol/@00/Da");
		r->atime.tv_sec = 1000000 + i;
		r->done = rec_done;
		meta_queue(r);
	}
	meta_flush(flushed, (void *)150L);
	ck_assert_int_eq(loop_run(), 0);
	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.records, 150);
	ck_assert_uint_eq(ms.batches, (150 + META_BATCH_MAX - 1) / META_BATCH_MAX);
	ck_assert_uint_eq(ms.atimes, 150);
	ck_assert_int_eq(fstatat(cachefd, "Ivol/@00/Da", &sb, 0), 0);
	ck_assert_int_eq(sb.st_atim.tv_sec, 1000149);	/* the last one */
}
END_TEST

/*
 * A stream: a loop timer touches the record every millisecond, as fill
 * claims do. The quiet time is set to 300 ms so that no scheduling delay
 * of this process can end the stream early (the rule, not the constant,
 * is under test).
 */
#define STREAM_TICKS	100	/* touches: 5 x META_BATCH_MS and more */
#define STREAM_WAIT_MS	10000	/* bound on the wait for the record */

static struct meta_rec *stream_rec;
static unsigned stream_ticks, stream_forever;
static uint64_t stream_batches = ~0ULL;	/* batches when the stream ended */

static void
stream_tick(void *arg)
{
	struct meta_stats ms;

	(void)arg;
	meta_get_stats(&ms);
	/* done, or given up on (ticks are at least 1 ms apart) */
	if (ndone > 0 || stream_ticks >= STREAM_WAIT_MS) {
		loop_stop();
		return;
	}
	if (stream_forever || (ms.batches == 0 && stream_ticks < STREAM_TICKS))
		meta_touch(stream_rec);	/* not submitted: not done */
	else if (stream_batches == ~0ULL)
		stream_batches = ms.batches;
	stream_ticks++;
	ck_assert_ptr_nonnull(loop_timer_add(1, stream_tick, NULL));
}

/* Queue a record for a new tmpfile published as name, stream into it
 * (for ever or STREAM_TICKS) with the stream rule's bound max_ms, and
 * run the loop until it is done (or given up on). Returns the fd. */
static int
run_stream(const char *name, unsigned max_ms, int forever,
    struct meta_stats *ms)
{
	int fd = tmpfile_with("streamed");

	meta_set_stream_ms(300, max_ms);
	stream_forever = forever;
	stream_rec = object_rec(fd, name, 1, 8);
	meta_queue(stream_rec);
	ck_assert_ptr_nonnull(loop_timer_add(1, stream_tick, NULL));
	ck_assert_int_eq(loop_run(), 0);
	meta_get_stats(ms);
	ck_assert_int_eq(ndone, 1);
	ck_assert_uint_ge(ms->stream_waits, 1);
	return fd;
}

START_TEST(stream_puts_the_barrier_off_and_kicks_writeback)
{
	struct meta_stats ms;
	int fd = run_stream("Ds", 60000, 0, &ms);

	/* nothing was written while the stream went on: one barrier after
	 * it, and its writeback was started meanwhile */
	ck_assert_uint_eq(stream_batches, 0);
	ck_assert_uint_eq(ms.batches, 1);
	ck_assert_uint_eq(ms.fdatasyncs, 1);
	ck_assert_uint_ge(ms.kicks, 1);
	ck_assert_int_eq(faccessat(cachefd, "Ivol/@00/Ds", F_OK, 0), 0);
	close(fd);
}
END_TEST

/* A stream that never ends: the record goes once the oldest queued one
 * has waited the bound (run_stream checks it is done). */
START_TEST(stream_is_bounded)
{
	struct meta_stats ms;

	close(run_stream("De", 60, 1, &ms));
}
END_TEST

/*
 * A freeze's hold (meta_hold_records): object records wait, atimes and a
 * syncfs go; meta_flush_unheld does not wait for what is held, meta_flush
 * does, until meta_release_records queues it again.
 */
static int hold_fd = -1, gate_fd = -1;

/* Batches wait at the test gate until let through (meta.h). */
static void
gate_on(void)
{
	gate_fd = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	ck_assert_int_ge(gate_fd, 0);
	meta_set_barrier_gate(gate_fd);
}

/* Run the loop until the test's last flush, then close the gate. */
static void
run_gated(void)
{
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(nflushed, 1);
	meta_set_barrier_gate(-1);
	close(gate_fd);
	close(hold_fd);
}

/* The last flush of a hold test: nothing is held any more; stop. */
static void
nothing_held_stop(void)
{
	struct meta_stats ms;

	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.held, 0);
	nflushed++;
	loop_stop();
}

static struct meta_rec *
atime_rec(const char *name, time_t sec)
{
	struct meta_rec *r = calloc(1, sizeof(*r));

	r->kind = META_ATIME;
	snprintf(r->path, sizeof(r->path), "Ivol/@00/%s", name);
	r->atime.tv_sec = sec;
	r->done = rec_done;
	return r;
}

static void
held_written(void *arg)
{
	struct meta_stats ms;

	(void)arg;
	/* the atime, the syncfs and the object, in place now */
	ck_assert_int_eq(ndone, 3);
	ck_assert_int_eq(faccessat(cachefd, "Ivol/@00/Dh", F_OK, 0), 0);
	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.records_held, 1);
	nothing_held_stop();
}

static void
unheld_flushed(void *arg)
{
	struct meta_stats ms;
	struct stat sb;

	(void)arg;
	/* the atime was written and the syncfs ran; the object is held:
	 * not linked, not done, and meta_flush (before) still waits */
	ck_assert_int_eq(ndone, 2);
	ck_assert_int_eq(nflushed, 0);
	ck_assert_int_eq(fstatat(cachefd, "Ivol/@00/Da", &sb, 0), 0);
	ck_assert_int_eq(sb.st_atim.tv_sec, 1234567);
	ck_assert_int_lt(faccessat(cachefd, "Ivol/@00/Dh", F_OK, 0), 0);
	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.held, 1);
	ck_assert_uint_eq(ms.syncfs, 1);
	ck_assert_uint_eq(meta_pending(), 1);
	meta_release_records();
}

START_TEST(freeze_holds_object_records)
{
	struct meta_rec *r;
	int fd;

	fd = openat(cachefd, "Ivol/@00/Da", O_CREAT | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	hold_fd = tmpfile_with("held");
	meta_queue(object_rec(hold_fd, "Dh", 1, 4));
	meta_hold_records();
	meta_queue(atime_rec("Da", 1234567));
	r = calloc(1, sizeof(*r));
	r->kind = META_SYNCFS;
	r->done = rec_done;
	meta_queue(r);
	meta_flush(held_written, NULL);
	meta_flush_unheld(unheld_flushed, NULL);
	ck_assert_int_eq(loop_run(), 0);
	ck_assert_int_eq(nflushed, 1);
	ck_assert_int_eq(ndone, 3);
	close(hold_fd);
}
END_TEST

/*
 * A batch in flight that has not begun its xattrs when the hold comes is
 * stopped: the hold does not wait for it, nothing of it is written, and
 * its records are written after the release. The test gate keeps the
 * batch where its barrier would run until the hold has come.
 */
static void
stopped_written(void *arg)
{
	struct meta_stats ms;
	uint8_t x[64];

	(void)arg;
	ck_assert_int_eq(ndone, 1);
	ck_assert_int_eq(faccessat(cachefd, "Ivol/@00/Dz", F_OK, 0), 0);
	ck_assert_int_eq(fgetxattr(hold_fd, CFMT_XATTR, x, sizeof(x)), 20);
	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.batches_stopped, 1);
	/* the stopped batch ran no barrier (it was stopped before it began)
	 * and linked nothing; the batch after the release did both */
	ck_assert_uint_eq(ms.fdatasyncs, 1);
	ck_assert_uint_eq(ms.links, 1);
	nothing_held_stop();
}

static void
stopped_unheld(void *arg)
{
	struct meta_stats ms;
	uint8_t x[64];
	uint64_t one;

	(void)arg;
	/* answered with the batch still at the gate: nothing written */
	ck_assert_int_eq(ndone, 0);
	ck_assert_int_lt(fgetxattr(hold_fd, CFMT_XATTR, x, sizeof(x)), 0);
	ck_assert_int_lt(faccessat(cachefd, "Ivol/@00/Dz", F_OK, 0), 0);
	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.batches_stopped, 1);
	ck_assert_uint_eq(ms.held, 1);
	/* let the stopped batch go, and the one that writes its record
	 * again; release before it is back: its records are queued again
	 * when it is, and the meta_flush made before the hold (parked)
	 * is answered once they are written */
	one = 2;
	ck_assert_int_eq(write(gate_fd, &one, sizeof(one)), 8);
	meta_release_records();
}

static void
ignore_flush(void *arg)
{
	(void)arg;
}

START_TEST(freeze_stops_a_batch_before_its_xattrs)
{
	gate_on();
	hold_fd = tmpfile_with("stopped");
	meta_queue(object_rec(hold_fd, "Dz", 1, 7));
	/* submitted now: in flight, held at the gate */
	meta_flush(stopped_written, NULL);
	ck_assert_int_eq(meta_pending(), 1);
	meta_hold_records();
	meta_flush_unheld(stopped_unheld, NULL);
	run_gated();
}
END_TEST

/*
 * A freeze, a thaw and a second freeze while the batch the first one
 * stopped is still out (its barrier can outlast a short freeze): the
 * second hold stops nothing more, and the record of the stopped batch is
 * written once, after the second release.
 */
static void
twice_written(void *arg)
{
	struct meta_stats ms;

	(void)arg;
	ck_assert_int_eq(ndone, 2);	/* the atime and the object */
	ck_assert_int_eq(faccessat(cachefd, "Ivol/@00/Dt", F_OK, 0), 0);
	meta_get_stats(&ms);
	ck_assert_uint_eq(ms.batches_stopped, 1);
	ck_assert_uint_eq(ms.links, 1);
	nothing_held_stop();
}

START_TEST(second_freeze_while_a_stopped_batch_is_out)
{
	uint64_t three = 3;
	int fd;

	fd = openat(cachefd, "Ivol/@00/Da", O_CREAT | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	gate_on();
	hold_fd = tmpfile_with("twice");
	meta_queue(object_rec(hold_fd, "Dt", 1, 5));
	meta_flush(twice_written, NULL);	/* batch 1, at the gate */
	meta_hold_records();			/* stops it */
	meta_release_records();			/* before it is back */
	meta_queue(atime_rec("Da", 7654321));
	meta_flush_unheld(ignore_flush, NULL);	/* batch 2, at the gate */
	meta_hold_records();			/* stops nothing */
	meta_release_records();
	/* batch 1 (stopped), batch 2 (the atime), batch 3 (the object) */
	ck_assert_int_eq(write(gate_fd, &three, sizeof(three)), 8);
	run_gated();
}
END_TEST

static Suite *
meta_suite(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("meta");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tmpfile_is_published_whole);
	tcase_add_test(tc, replace_keeps_old_readers);
	tcase_add_test(tc, many_files_share_one_syncfs);
	tcase_add_test(tc, records_are_batched);
	tcase_add_test(tc, stream_puts_the_barrier_off_and_kicks_writeback);
	tcase_add_test(tc, stream_is_bounded);
	tcase_add_test(tc, freeze_holds_object_records);
	tcase_add_test(tc, freeze_stops_a_batch_before_its_xattrs);
	tcase_add_test(tc, second_freeze_while_a_stopped_batch_is_out);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(meta_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
