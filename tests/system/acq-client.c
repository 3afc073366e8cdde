/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acq-client.c: the liblarder client of t-acquire-local.sh (built by the
 * test against lib/liblarder.a and lib/client.h; not installed).
 *
 *   acq-client SOCK HOSTILE-CMD
 *
 * Connection A fills an object, relinquishes it (parked) and acquires it
 * again: served without a round trip (liblarder's local count moves, the
 * daemon's store.acquires does not), and the use still reaches the
 * daemon's recency (the object's last use in LIST_OBJECTS moves). Then a
 * second connection B invalidates and refills it, culls it, drops it and
 * retires it: each time A's next acquire goes to the daemon and never
 * reads the old bytes. HOSTILE-CMD (a hostile peer, acq-raw.py) runs while A
 * has a parked cookie: afterwards that cookie is still served locally.
 * Prints "ok: ..." lines; exit 0 ok, 1 failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

#define VOL	"test,acq"
#define KEY	"obj"
#define SIZE	8192

static struct larder *la, *lb;
static struct larder_volume *va, *vb;

static void
die(const char *what, int err)
{
	printf("FAIL: %s: %s\n", what, err ? larder_strerror(err) : "");
	exit(1);
}

static uint8_t
pat(int ver, uint64_t off)
{
	return (uint8_t)(ver * 131 + off * 7 + (off >> 9));
}

/* A u64 from a STATS reply of connection l; dies if absent. */
static uint64_t
stat_u64(struct larder *l, const char *name)
{
	static uint8_t buf[PROTO_MAX_MSG];
	struct proto_buf b;
	char key[256], sv[PROTO_MAX_STR];
	uint32_t n, i;
	uint64_t v;
	uint8_t kind;
	size_t len;
	int err;

	if ((err = client_request(l, PROTO_STATS, NULL, 0, buf, sizeof(buf),
	    &len)) < 0)
		die("stats", err);
	proto_buf_init(&b, buf, len);
	n = proto_get_u32(&b);
	for (i = 0; i < n && !b.err; i++) {
		kind = proto_get_u8(&b);
		if (proto_get_str(&b, key, sizeof(key)) < 0)
			break;
		if (kind == PROTO_KV_STR) {
			(void)proto_get_str(&b, sv, sizeof(sv));
			continue;
		}
		v = proto_get_u64(&b);
		if (strcmp(key, name) == 0)
			return v;
	}
	die(name, 0);
	return 0;
}

/* The object's last use (seconds) as LIST_OBJECTS shows it, on B. */
static int64_t
last_use(void)
{
	static uint8_t buf[PROTO_MAX_MSG];
	uint8_t req[64];
	struct proto_buf b;
	char name[256];
	uint32_t n;
	size_t len;
	int err;

	proto_buf_init(&b, req, sizeof(req));
	proto_put_u32(&b, 0);
	proto_put_str(&b, VOL);
	if ((err = client_request(lb, PROTO_LIST_OBJECTS, req, b.off, buf,
	    sizeof(buf), &len)) < 0)
		die("list objects", err);
	proto_buf_init(&b, buf, len);
	(void)proto_get_u32(&b);
	n = proto_get_u32(&b);
	if (n != 1 || proto_get_str(&b, name, sizeof(name)) < 0)
		die("list objects: not one object", 0);
	(void)proto_get_bytes(&b);
	(void)proto_get_u64(&b);
	(void)proto_get_u64(&b);
	return (int64_t)proto_get_u64(&b);
}

/* Acquire KEY on v with aux "a<auxv>", fill it with pattern ver, read it
 * back (which brings the fd), relinquish: parked when v is A's. */
static void
put(struct larder_volume *v, int auxv, int ver)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	struct larder_cookie *c;
	uint8_t buf[SIZE];
	char aux[16];
	uint64_t i;
	ssize_t n;
	int err, tries;

	snprintf(aux, sizeof(aux), "a%d", auxv);
	for (i = 0; i < SIZE; i++)
		buf[i] = pat(ver, i);
	if ((err = larder_cookie_acquire(v, KEY, strlen(KEY), aux, strlen(aux),
	    SIZE, &c)) < 0)
		die("put: acquire", err);
	if ((err = larder_invalidate(c, aux, strlen(aux), SIZE)) < 0)
		die("put: invalidate", err);
	/* right after a drop, fills are refused until its removal is done */
	for (tries = 0; (n = larder_write(c, buf, SIZE, 0)) == -ENOBUFS &&
	    tries < 400; tries++)
		nanosleep(&ts, NULL);
	if (n != SIZE)
		die("put: write", n < 0 ? (int)n : 0);
	if (larder_read(c, buf, SIZE, 0) != SIZE)
		die("put: read back", 0);
	larder_cookie_relinquish(c, 0);
}

/* A's acquire with aux "a1" and a read: returns the pattern version read
 * (-1: not cached); whether it was served locally in *local. */
static int
use_a(int *local)
{
	uint64_t before = client_local_acquires(la), i;
	struct larder_cookie *c;
	uint8_t buf[SIZE];
	ssize_t n;
	int err, ver;

	if ((err = larder_cookie_acquire(va, KEY, strlen(KEY), "a1", 2, SIZE,
	    &c)) < 0)
		die("acquire", err);
	*local = client_local_acquires(la) != before;
	n = larder_read(c, buf, SIZE, 0);
	larder_cookie_relinquish(c, 0);
	if (n == -ENODATA)
		return -1;
	if (n != SIZE)
		die("read", n < 0 ? (int)n : 0);
	for (ver = 1; ver < 10; ver++)
		if (buf[0] == pat(ver, 0) && buf[SIZE - 1] == pat(ver, SIZE - 1))
			break;
	for (i = 0; i < SIZE; i++)
		if (buf[i] != pat(ver, i))
			die("read: a wrong byte", 0);
	return ver;
}

/* Wait (bounded) until the wall clock is past t seconds. */
static void
wait_past(int64_t t)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i < 500 && time(NULL) <= t; i++)
		nanosleep(&ts, NULL);
	if (time(NULL) <= t)
		die("the clock did not move", 0);
}

static void
ping(struct larder *l)
{
	char buf[256];
	int err;

	if ((err = client_request(l, PROTO_PING, NULL, 0, buf, sizeof(buf),
	    NULL)) < 0)
		die("ping", err);
}

/* Warm acquires are local; their use reaches the daemon's recency. */
static void
check_local(void)
{
	uint64_t acq;
	int64_t t0;
	int local, i;

	put(va, 1, 1);
	if (use_a(&local) != 1)
		die("first read", 0);
	acq = stat_u64(la, "store.acquires");
	t0 = last_use();
	for (i = 0; i < 10; i++)
		if (use_a(&local) != 1 || !local)
			die("a warm acquire was not served locally", 0);
	if (stat_u64(la, "store.acquires") != acq)
		die("the daemon saw warm acquires", 0);
	printf("ok: 10 warm acquires served locally, store.acquires stayed "
	    "%llu\n", (unsigned long long)acq);
	wait_past(t0);
	if (use_a(&local) != 1 || !local)
		die("warm acquire after the wait", 0);
	ping(la);	/* any request sends the batch first */
	if (last_use() <= t0)
		die("a local use did not reach the daemon's recency", 0);
	printf("ok: the local use moved the last use past %lld\n",
	    (long long)t0);
}

/* What B did must send A's next acquire to the daemon, reading new bytes
 * (want) or none (want -1). */
static void
expect_after(const char *what, int want)
{
	int local, got = use_a(&local);

	if (local)
		die(what, 0);
	if (got != want) {
		printf("FAIL: after %s: read version %d, wanted %d\n", what,
		    got, want);
		exit(1);
	}
	printf("ok: after %s the acquire asked the daemon and read %s\n", what,
	    want < 0 ? "nothing" : "the new bytes");
	if (want >= 0 && (use_a(&local) != want || !local))
		die("the next acquire was not local again", 0);
}

static void
cull_all(void)
{
	uint8_t req[12], rep[16];
	struct proto_buf b;
	int err;

	proto_buf_init(&b, req, sizeof(req));
	proto_put_u32(&b, PROTO_CULL_BYTES);
	proto_put_u64(&b, 1ULL << 40);
	if ((err = client_request(lb, PROTO_CULL, req, b.off, rep, sizeof(rep),
	    NULL)) < 0)
		die("cull", err);
}

static void
drop_key(void)
{
	uint8_t req[64];
	struct proto_buf b;
	char rep[256];
	int err;

	proto_buf_init(&b, req, sizeof(req));
	proto_put_str(&b, VOL);
	proto_put_bytes(&b, KEY, strlen(KEY));
	if ((err = client_request(lb, PROTO_DROP, req, b.off, rep, sizeof(rep),
	    NULL)) < 0)
		die("drop", err);
}

static void
retire_b(void)
{
	struct larder_cookie *c;
	int err;

	if ((err = larder_cookie_acquire(vb, KEY, strlen(KEY), "a1", 2, SIZE,
	    &c)) < 0 || (err = larder_cookie_relinquish(c, 1)) < 0)
		die("retire", err);
}

static void
check_changes(const char *hostile)
{
	int local;

	put(vb, 1, 2);			/* B invalidates and refills */
	expect_after("an invalidation by another connection", 2);
	if (system(hostile) != 0)
		die("the hostile peer failed", 0);
	if (use_a(&local) != 2 || !local)
		die("a hostile peer changed what A parked", 0);
	printf("ok: a hostile peer changed nothing of A's\n");
	cull_all();
	expect_after("a cull", -1);
	put(vb, 1, 3);
	if (use_a(&local) != 3)
		die("refill after cull", 0);
	drop_key();
	expect_after("a drop", -1);
	put(vb, 1, 4);
	if (use_a(&local) != 4)
		die("refill after drop", 0);
	retire_b();
	expect_after("a retire by another connection", -1);
}

int
main(int argc, char **argv)
{
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: acq-client SOCK HOSTILE-CMD\n");
		return 2;
	}
	if ((err = larder_connect(argv[1], 0, &la)) < 0 ||
	    (err = larder_connect(argv[1], 0, &lb)) < 0)
		die("connect", err);
	if (!client_has_gentab(la))
		die("no generation table", 0);
	if ((err = larder_volume_acquire(la, VOL, NULL, 0, &va)) < 0 ||
	    (err = larder_volume_acquire(lb, VOL, NULL, 0, &vb)) < 0)
		die("volume", err);
	check_local();
	check_changes(argv[2]);
	larder_disconnect(lb);
	larder_disconnect(la);
	return 0;
}
