/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_log.c: log.c without a lock. Several threads log long lines into
 * a pipe (and a unix stream socket, journald's way) on stderr and every
 * line must come out whole and exactly once, in the format admins and
 * the system tests read ("ident: message"); the rate limiter shared by
 * several threads must count every call once.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/log.h"

#define NTHREADS 6
#define NLINES 400
#define RL_CALLS 5000

/* ---- stderr into a pipe, drained by a reader thread ---------------------- */

struct capture {
	int pfd[2];
	int saved_err;
	pthread_t th;
	char *buf;
	size_t len, cap;
};

static void *
drain(void *arg)
{
	struct capture *c = arg;
	ssize_t n;

	for (;;) {
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? 2 * c->cap : 1 << 20;
			c->buf = realloc(c->buf, c->cap + 1);
			if (!c->buf)
				abort();
		}
		n = read(c->pfd[0], c->buf + c->len, c->cap - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		c->len += n;
	}
	c->buf[c->len] = '\0';
	return NULL;
}

/* Point fd 2 at a fresh pipe (or, with stream, a unix stream socket, as
 * journald gives a service) whose reader collects everything. */
static void
capture_on(struct capture *c, int stream)
{
	memset(c, 0, sizeof(*c));
	if (stream)
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0,
		    c->pfd), 0);
	else
		ck_assert_int_eq(pipe(c->pfd), 0);
	c->saved_err = dup(STDERR_FILENO);
	ck_assert_int_ge(c->saved_err, 0);
	ck_assert_int_eq(dup2(c->pfd[1], STDERR_FILENO), STDERR_FILENO);
	ck_assert_int_eq(pthread_create(&c->th, NULL, drain, c), 0);
}

static void
capture_start(struct capture *c)
{
	capture_on(c, 0);
}

/* Give fd 2 back and close every write end; returns the text (NUL ended). */
static char *
capture_stop(struct capture *c)
{
	ck_assert_int_eq(dup2(c->saved_err, STDERR_FILENO), STDERR_FILENO);
	close(c->saved_err);
	close(c->pfd[1]);
	ck_assert_int_eq(pthread_join(c->th, NULL), 0);
	close(c->pfd[0]);
	return c->buf;
}

/* ---- many threads, long lines ------------------------------------------- */

/* Line n of thread t: 1 to 900 bytes, so that no line is cut. */
static size_t
payload(int t, int n, char *p)
{
	size_t len = 1 + (size_t)(t * 131 + n * 37) % 900, i;

	for (i = 0; i < len; i++)
		p[i] = 'a' + (t + n + i) % 26;
	p[len] = '\0';
	return len;
}

static void *
writer(void *arg)
{
	int t = (int)(long)arg, n;
	char p[1024];

	for (n = 0; n < NLINES; n++) {
		payload(t, n, p);
		if (n % 2) {
			errno = ENOENT;
			log_warn("t=%d n=%d %s", t, n, p);
		} else {
			log_warnx("t=%d n=%d %s", t, n, p);
		}
	}
	return NULL;
}

/* _i 0: into a pipe; 1: into a unix stream socket */
START_TEST(lines_from_threads_arrive_whole)
{
	static unsigned char seen[NTHREADS][NLINES];
	pthread_t th[NTHREADS];
	struct capture c;
	char p[1024], want[1200], *text, *line, *nl;
	int t, n, lines = 0;

	log_init("check_log", 1, 0);
	memset(seen, 0, sizeof(seen));
	capture_on(&c, _i);
	for (t = 0; t < NTHREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, writer,
		    (void *)(long)t), 0);
	for (t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	text = capture_stop(&c);

	for (line = text; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		ck_assert_msg(nl != NULL, "last line not ended: %.80s",
		    line);
		*nl = '\0';
		ck_assert_msg(sscanf(line, "check_log: t=%d n=%d ", &t,
		    &n) == 2, "line %d is not a log line: %.120s", lines, line);
		ck_assert(t >= 0 && t < NTHREADS && n >= 0 && n < NLINES);
		payload(t, n, p);
		snprintf(want, sizeof(want), "check_log: t=%d n=%d %s%s", t, n,
		    p, n % 2 ? ": No such file or directory" : "");
		ck_assert_msg(strcmp(line, want) == 0,
		    "t=%d n=%d torn or mixed: %.120s", t, n, line);
		ck_assert_msg(!seen[t][n]++, "t=%d n=%d twice", t, n);
		lines++;
	}
	ck_assert_int_eq(lines, NTHREADS * NLINES);
	free(text);
}
END_TEST

/* Longer than a line may be: cut to 1023 bytes, as the stdio version did. */
START_TEST(long_message_is_cut_not_split)
{
	char big[3000], want[1100];
	struct capture c;
	char *text;

	log_init("check_log", 1, 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_start(&c);
	log_info("%s", big);
	log_debug("not shown without -d");
	log_set_debug(1);
	log_debug("shown with -d");
	log_set_debug(0);
	text = capture_stop(&c);
	snprintf(want, sizeof(want),
	    "check_log: %.1023s\ncheck_log: shown with -d\n", big);
	ck_assert_str_eq(text, want);
	free(text);
}
END_TEST

/* ---- the rate limiter shared by threads ---------------------------------- */

static struct log_ratelimit shared_rl;
static pthread_barrier_t rl_start;

static void *
rl_caller(void *arg)
{
	int i;

	(void)arg;
	pthread_barrier_wait(&rl_start);	/* all at once, to overlap */
	for (i = 0; i < RL_CALLS; i++) {
		if (i % 16 == 0)
			shared_rl.last = 0;	/* as if 60 s had passed */
		log_warnx_rl(&shared_rl, "rl line");
	}
	return NULL;
}

/*
 * However the calls fall into intervals, each one is a line or is counted
 * in exactly one line's "(N similar messages suppressed)". The callers
 * end the interval over and over (last = 0) so that they race for its
 * start and for the count; a last call after they are done collects what
 * is left.
 */
START_TEST(ratelimit_counts_each_call_once)
{
	pthread_t th[NTHREADS];
	struct capture c;
	unsigned long total = 0, k;
	char *text, *line, *nl;
	int t, lines = 0;

	log_init("check_log", 1, 0);
	memset(&shared_rl, 0, sizeof(shared_rl));
	ck_assert_int_eq(pthread_barrier_init(&rl_start, NULL, NTHREADS), 0);
	capture_start(&c);
	for (t = 0; t < NTHREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, rl_caller,
		    NULL), 0);
	for (t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&rl_start);
	shared_rl.last = 0;
	log_warnx_rl(&shared_rl, "rl line");
	text = capture_stop(&c);

	for (line = text; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		if (strcmp(line, "check_log: rl line") == 0)
			k = 0;
		else
			ck_assert_msg(sscanf(line, "check_log: rl line (%lu "
			    "similar messages suppressed)", &k) == 1,
			    "unexpected line: %s", line);
		total += 1 + k;
		lines++;
	}
	ck_assert_int_ge(lines, 2);
	ck_assert_uint_eq(total, (unsigned long)NTHREADS * RL_CALLS + 1);
	free(text);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, lines_from_threads_arrive_whole, 0, 2);
	tcase_add_test(tc, long_message_is_cut_not_split);
	tcase_add_test(tc, ratelimit_counts_each_call_once);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
