/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * larderctl.c: the control client of larderd (larderctl(8)).
 *
 * Data commands (put, get) go through liblarder's API; the others send one
 * raw request with client_request (lib/client.h) and print the reply, as
 * text or, with --json, as JSON; stats --prometheus renders STATUS, STATS
 * and LIST_VOLUMES with metrics.c, and top polls STATUS and STATS and
 * prints rates, one line per interval. Exit codes: 0 ok, 1 error, 2 usage, 3 not
 * cached or not found, 4 refused (permission, policy, no space), 5 cannot
 * reach the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "client.h"
#include "larder/larder.h"
#include "metrics.h"
#include "proto.h"

#define EX_OK		0
#define EX_ERR		1
#define EX_USAGE	2
#define EX_NOTFOUND	3
#define EX_REFUSED	4
#define EX_UNREACH	5

#define IO_CHUNK	(4u * 1024 * 1024)

static const char *cmdname = "larderctl";
static const char *sockpath;
static int json;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: larderctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
"commands:\n"
"  status                        daemon state, cache usage, thresholds\n"
"  stats [--prometheus]          counters (--prometheus: all, as metrics)\n"
"  top [-n COUNT] [INTERVAL]     a line of rates every INTERVAL s (def. 1)\n"
"  volumes                       list volumes\n"
"  ls VOLUME                     list the objects of a volume\n"
"  put VOLUME KEY [FILE]         store FILE (or stdin) as object KEY\n"
"  get VOLUME KEY                write the cached object to stdout\n"
"  invalidate VOLUME [KEY]       drop an object, or a whole volume\n"
"  access VOLUME [POLICY]        owner, what others may do (read, fill..)\n"
"  cull [--bytes N|--to PCT]     cull now\n"
"  freeze [--fs] [--timeout S]   prepare for a filesystem freeze\n"
"  thaw                          end a freeze\n"
"  suspend | resume              give back / take again the write claim\n"
"  reload                        re-read the configuration\n"
"  ping                          check that the daemon answers\n"
"options:\n"
"  -s, --socket SOCKET           control socket (default $LARDER_SOCKET,\n"
"                                else %s)\n"
"  --json                        print JSON\n"
"  -h, --help                    this text\n"
"exit: 0 ok, 1 error, 2 usage, 3 not cached or not found, 4 refused,\n"
"      5 cannot reach the daemon\n", DEFAULT_SOCKET);
}

static int
usage_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "larderctl: ");
	if (strcmp(cmdname, "larderctl") != 0)
		fprintf(stderr, "%s: ", cmdname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fprintf(stderr, "usage: larderctl [-s SOCKET] [--json] COMMAND [ARGS] "
	    "(larderctl --help)\n");
	return EX_USAGE;
}

/* Exit code for a -errno. */
static int
exit_for(int err)
{
	switch (-err) {
	case ENOENT:
	case ENODATA:
		return EX_NOTFOUND;
	case EPERM:
	case EACCES:
	case ECANCELED:
	case ENOBUFS:
	case ENOSPC:
		return EX_REFUSED;
	case ECONNRESET:
	case ECONNREFUSED:
	case ENOTCONN:
	case EPIPE:
		return EX_UNREACH;
	}
	return EX_ERR;
}

/* "larderctl: COMMAND: reason", with the daemon's reason when it gave one. */
static int
fail(struct larder *l, int err, const char *what)
{
	const char *reason = l ? client_reason(l) : "";

	fprintf(stderr, "larderctl: %s: ", cmdname);
	if (what)
		fprintf(stderr, "%s: ", what);
	if (*reason)
		fprintf(stderr, "%s\n", reason);
	else if (err == -ENOENT)
		fprintf(stderr, "not found\n");
	else
		fprintf(stderr, "%s\n", larder_strerror(err));
	return exit_for(err);
}

static int
fail_msg(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "larderctl: %s: ", cmdname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return code;
}

/* Connect or explain why not (exit 5; 1 for a protocol mismatch). */
static int
ctl_connect(int flags, struct larder **l)
{
	const char *path = sockpath ? sockpath : client_default_socket();
	int err;

	/* one command a run: no acquire is ever served locally */
	if ((err = client_connect(path, 0, flags | CLIENT_NO_GENTAB, l)) < 0) {
		if (err == -EPERM || err == -EACCES) {
			fprintf(stderr, "larderctl: %s: larderd at %s refuses "
			    "this user (%s): it serves root, admin_group and "
			    "client_group (larder.conf(5))\n", cmdname, path,
			    strerror(-err));
			return EX_REFUSED;
		}
		fprintf(stderr, "larderctl: %s: cannot reach larderd at %s: %s\n",
		    cmdname, path, err == -EPROTO ? larder_strerror(err) :
		    strerror(-err));
		return err == -EPROTO ? EX_ERR : EX_UNREACH;
	}
	return EX_OK;
}

/* ---- output -------------------------------------------------------------- */

/* A JSON string: escapes, control bytes as \u00XX, invalid UTF-8 as U+FFFD. */
static void
json_str(const void *s, size_t n)
{
	const uint8_t *p = s;
	size_t i = 0, k;

	putchar('"');
	while (i < n) {
		switch (p[i]) {
		case '"': fputs("\\\"", stdout); i++; continue;
		case '\\': fputs("\\\\", stdout); i++; continue;
		case '\n': fputs("\\n", stdout); i++; continue;
		case '\r': fputs("\\r", stdout); i++; continue;
		case '\t': fputs("\\t", stdout); i++; continue;
		case '\b': fputs("\\b", stdout); i++; continue;
		case '\f': fputs("\\f", stdout); i++; continue;
		}
		if (p[i] < 0x20 || p[i] == 0x7f) {
			printf("\\u%04x", p[i]);
			i++;
			continue;
		}
		if ((k = metrics_utf8_len(p + i, n - i)) == 0) {
			fputs("\\ufffd", stdout);
			i++;
			continue;
		}
		fwrite(p + i, 1, k, stdout);
		i += k;
	}
	putchar('"');
}

/* Bytes for a terminal: printable ASCII as is, the rest as \xNN. */
static void
text_str(const void *s, size_t n)
{
	const uint8_t *p = s;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			putchar(p[i]);
		else if (p[i] == '\\')
			fputs("\\\\", stdout);
		else
			printf("\\x%02x", p[i]);
	}
}

static void
hex_str(const void *s, size_t n)
{
	const uint8_t *p = s;
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('"');
}

/* A str from a reply: no NUL inside (proto.h). */
static struct proto_bytes
get_str(struct proto_buf *b)
{
	struct proto_bytes s = proto_get_bytes(b);

	if (!b->err && s.len && memchr(s.ptr, '\0', s.len))
		b->err = -EPROTO;
	return s;
}

/* ---- requests ------------------------------------------------------------ */

static uint8_t rbuf[PROTO_MAX_MSG];

/* One request; on success *r is the reply body. */
static int
request(struct larder *l, uint16_t type, const struct proto_buf *body,
    struct proto_buf *r)
{
	size_t rlen = 0;
	int err;

	if (body && body->err)
		return body->err;
	err = client_request(l, type, body ? body->data : NULL,
	    body ? body->off : 0, rbuf, sizeof(rbuf), &rlen);
	if (err < 0)
		return err;
	proto_buf_init(r, rbuf, rlen);
	return 0;
}

struct kv {
	uint8_t kind;
	struct proto_bytes key;
	uint64_t u;
	struct proto_bytes s;
};

/* A histogram's finite bucket (hist.NAME.le_us.N, not .inf)? */
static int
bucket_key(const struct kv *kv)
{
	const char *k = (const char *)kv->key.ptr;
	size_t n = kv->key.len;

	return n > 5 && memcmp(k, "hist.", 5) == 0 &&
	    memmem(k, n, ".le_us.", 7) != NULL &&
	    !(n > 4 && memcmp(k + n - 4, ".inf", 4) == 0);
}

/*
 * status and stats (type PROTO_STATUS or PROTO_STATS): one request whose
 * reply is u32 count, count x proto_kv (kind u8, str key, u64 or str
 * value). The whole reply is decoded and checked before anything is
 * printed, so a malformed one prints nothing and exits 1; then one
 * "key  value" line each (keys aligned, histogram buckets left out) or
 * one JSON object with every key. Returns the exit code.
 */
static int
cmd_kv(struct larder *l, uint16_t type)
{
	struct proto_buf r;
	struct kv *kv;
	uint32_t n, i;
	size_t w = 0;
	int err;

	if ((err = request(l, type, NULL, &r)) < 0)
		return fail(l, err, NULL);
	n = proto_get_u32(&r);
	/* the smallest record is u8 kind, empty str key, empty str value */
	if (r.err || n > proto_remaining(&r) / 5)
		return fail(NULL, -EPROTO, "malformed reply");
	if ((kv = calloc(n ? n : 1, sizeof(*kv))) == NULL)
		return fail(NULL, -ENOMEM, NULL);
	for (i = 0; i < n && !r.err; i++) {
		kv[i].kind = proto_get_u8(&r);
		kv[i].key = get_str(&r);
		switch (kv[i].kind) {
		case PROTO_KV_U64:
		case PROTO_KV_S64:
			kv[i].u = proto_get_u64(&r);
			break;
		case PROTO_KV_STR:
			kv[i].s = get_str(&r);
			break;
		default:
			r.err = -EPROTO;
		}
		if (kv[i].key.len > w && !bucket_key(&kv[i]))
			w = kv[i].key.len;
	}
	if (r.err) {
		free(kv);
		return fail(NULL, -EPROTO, "malformed reply");
	}
	if (json)
		putchar('{');
	for (i = 0; i < n; i++) {
		/* the text view shows a histogram's count (le_us.inf) and
		 * sum; its buckets are for --json and --prometheus */
		if (!json && bucket_key(&kv[i]))
			continue;
		if (json) {
			if (i)
				putchar(',');
			json_str(kv[i].key.ptr, kv[i].key.len);
			putchar(':');
		} else {
			text_str(kv[i].key.ptr, kv[i].key.len);
			printf("%*s  ", (int)(w - kv[i].key.len), "");
		}
		switch (kv[i].kind) {
		case PROTO_KV_U64:
			printf("%" PRIu64, kv[i].u);
			break;
		case PROTO_KV_S64:
			printf("%" PRId64, (int64_t)kv[i].u);
			break;
		default:
			if (json)
				json_str(kv[i].s.ptr, kv[i].s.len);
			else
				text_str(kv[i].s.ptr, kv[i].s.len);
		}
		if (!json)
			putchar('\n');
	}
	if (json)
		printf("}\n");
	free(kv);
	return EX_OK;
}

/* Follow a listing's cursor until it is 0; each page goes to row(). */
static int
list(struct larder *l, uint16_t type, const char *volume, size_t minrec,
    int (*row)(struct proto_buf *, uint32_t))
{
	uint8_t body[16 + PROTO_MAX_VOLUME_KEY];
	struct proto_buf b, r;
	uint32_t cursor = 0, next, count, rows = 0, pages = 0, i;
	int err;

	if (json)
		putchar('[');
	do {
		proto_buf_init(&b, body, sizeof(body));
		proto_put_u32(&b, cursor);
		if (volume)
			proto_put_str(&b, volume);
		if ((err = request(l, type, &b, &r)) < 0)
			return fail(l, err, volume);
		next = proto_get_u32(&r);
		count = proto_get_u32(&r);
		if (r.err || count > proto_remaining(&r) / minrec)
			return fail(NULL, -EPROTO, "malformed reply");
		for (i = 0; i < count; i++)
			if ((err = row(&r, rows++)) < 0)
				return fail(NULL, err, "malformed reply");
		/* a cursor that does not move would loop for ever */
		if (next != 0 && (next == cursor || ++pages > 1000000))
			return fail(NULL, -EPROTO, "listing cursor loops");
		cursor = next;
	} while (cursor != 0);
	if (json)
		printf("]\n");
	return EX_OK;
}

/* volumes row: str key, u64 objects, u64 bytes */
static int
volume_row(struct proto_buf *r, uint32_t n)
{
	struct proto_bytes key = get_str(r);
	uint64_t objects = proto_get_u64(r), bytes = proto_get_u64(r);

	if (r->err)
		return -EPROTO;
	if (json) {
		printf("%s{\"volume\":", n ? "," : "");
		json_str(key.ptr, key.len);
		printf(",\"objects\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
		    objects, bytes);
		return 0;
	}
	if (n == 0)
		printf("%10s %14s  %s\n", "OBJECTS", "BYTES", "VOLUME");
	printf("%10" PRIu64 " %14" PRIu64 "  ", objects, bytes);
	text_str(key.ptr, key.len);
	putchar('\n');
	return 0;
}

/* ls row: str name, bytes key, u64 size, u64 disk, s64 last_use, u32 flags */
static int
object_row(struct proto_buf *r, uint32_t n)
{
	struct proto_bytes name = get_str(r), key = proto_get_bytes(r);
	uint64_t size = proto_get_u64(r), disk = proto_get_u64(r);
	int64_t last = (int64_t)proto_get_u64(r);
	uint32_t flags = proto_get_u32(r);
	char when[32] = "-";
	time_t t = last;
	struct tm tm;

	if (r->err)
		return -EPROTO;
	if (json) {
		printf("%s{\"name\":", n ? "," : "");
		json_str(name.ptr, name.len);
		printf(",\"key\":");
		json_str(key.ptr, key.len);
		printf(",\"key_hex\":");
		hex_str(key.ptr, key.len);
		printf(",\"size\":%" PRIu64 ",\"disk_bytes\":%" PRIu64
		    ",\"last_use\":%" PRId64 ",\"pinned\":%s}", size, disk,
		    last, (flags & PROTO_OBJECT_PINNED) ? "true" : "false");
		return 0;
	}
	if (n == 0)
		printf("%14s %14s  %-19s %-3s %s\n", "SIZE", "DISK", "LAST-USE",
		    "PIN", "NAME  KEY");
	if (last > 0 && localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%14" PRIu64 " %14" PRIu64 "  %-19s %-3s ", size, disk, when,
	    (flags & PROTO_OBJECT_PINNED) ? "yes" : "-");
	text_str(name.ptr, name.len);
	fputs("  ", stdout);
	text_str(key.ptr, key.len);
	putchar('\n');
	return 0;
}

/* Commands whose reply is one str: print it. */
static int
cmd_simple(struct larder *l, uint16_t type, const struct proto_buf *body)
{
	struct proto_buf r;
	struct proto_bytes s;
	int err;

	if ((err = request(l, type, body, &r)) < 0)
		return fail(l, err, NULL);
	s = proto_remaining(&r) ? get_str(&r) : (struct proto_bytes){ NULL, 0 };
	if (r.err)
		return fail(NULL, -EPROTO, "malformed reply");
	if (json) {
		printf("{\"result\":");
		json_str(s.ptr, s.len);
		printf("}\n");
	} else if (s.len) {
		text_str(s.ptr, s.len);
		putchar('\n');
	}
	return EX_OK;
}

/* ---- stats --prometheus, top ---------------------------------------------- */

/* A copy of the last reply's body (request() reuses rbuf). */
static int
save_reply(const struct proto_buf *r, uint8_t **copy, struct proto_buf *out)
{
	size_t n = r->size - r->off;

	if ((*copy = malloc(n ? n : 1)) == NULL)
		return -ENOMEM;
	memcpy(*copy, r->data + r->off, n);
	proto_buf_init(out, *copy, n);
	return 0;
}

/* STATUS or STATS, parsed; *body owns what *kv points into. */
static int
fetch_kv(struct larder *l, uint16_t type, uint8_t **body,
    struct metrics_kv **kv)
{
	struct proto_buf r, c;
	int err;

	*body = NULL;
	*kv = NULL;
	if ((err = request(l, type, NULL, &r)) < 0)
		return err;
	if ((err = save_reply(&r, body, &c)) < 0)
		return err;
	return metrics_parse_kv(&c, kv);
}

#define MAX_VOLUMES	(1u << 20)

struct vols {
	struct metrics_vol *v;
	size_t n, cap;
};

static struct vols *cur_vols;
static int cur_counted;		/* LIST_VOLUME_STATS rows */

/* volumes row (as volume_row, or with counters) into cur_vols, the key
 * copied */
static int
collect_volume(struct proto_buf *r, uint32_t n)
{
	struct proto_bytes key = get_str(r);
	uint64_t objects = proto_get_u64(r), bytes = proto_get_u64(r);
	uint64_t hits = 0, misses = 0, fills = 0;
	struct vols *vs = cur_vols;
	void *p;
	char *k;

	if (cur_counted) {
		hits = proto_get_u64(r);
		misses = proto_get_u64(r);
		fills = proto_get_u64(r);
	}

	(void)n;
	if (r->err)
		return -EPROTO;
	if (vs->n >= MAX_VOLUMES)
		return -EPROTO;
	if (vs->n == vs->cap) {
		vs->cap = vs->cap ? vs->cap * 2 : 64;
		if ((p = realloc(vs->v, vs->cap * sizeof(*vs->v))) == NULL)
			return -ENOMEM;
		vs->v = p;
	}
	if ((k = malloc(key.len ? key.len : 1)) == NULL)
		return -ENOMEM;
	memcpy(k, key.ptr, key.len);
	vs->v[vs->n].key = k;
	vs->v[vs->n].key_len = key.len;
	vs->v[vs->n].objects = objects;
	vs->v[vs->n].bytes = bytes;
	vs->v[vs->n].counted = cur_counted;
	vs->v[vs->n].hits = hits;
	vs->v[vs->n].misses = misses;
	vs->v[vs->n].fills = fills;
	vs->n++;
	return 0;
}

/* Every volume into vs, following the cursor as list() does, with their
 * counters (LIST_VOLUME_STATS), or without from a larderd that does not
 * know that (LIST_VOLUMES). A daemon that has neither (kernel mode: the
 * store is not there) answers EINVAL to the first page: no volumes, not
 * an error. */
static int
fetch_volumes(struct larder *l, struct vols *vs)
{
	uint8_t body[8];
	struct proto_buf b, r;
	uint32_t cursor = 0, next, count, i, pages = 0;
	uint16_t type = PROTO_LIST_VOLUME_STATS;
	int err;

	cur_vols = vs;
	cur_counted = 1;
	do {
		proto_buf_init(&b, body, sizeof(body));
		proto_put_u32(&b, cursor);
		err = request(l, type, &b, &r);
		if (err == -EINVAL && cursor == 0 &&
		    type == PROTO_LIST_VOLUME_STATS) {
			type = PROTO_LIST_VOLUMES;
			cur_counted = 0;
			err = request(l, type, &b, &r);
		}
		if (err < 0) {
			if (err == -EINVAL && cursor == 0)
				return EX_OK;
			return fail(l, err, NULL);
		}
		next = proto_get_u32(&r);
		count = proto_get_u32(&r);
		if (r.err || count > proto_remaining(&r) /
		    (cur_counted ? 42 : 18))
			return fail(NULL, -EPROTO, "malformed reply");
		for (i = 0; i < count; i++)
			if ((err = collect_volume(&r, i)) < 0)
				return fail(NULL, err, err == -ENOMEM ? NULL :
				    "malformed reply");
		if (next != 0 && (next == cursor || ++pages > 1000000))
			return fail(NULL, -EPROTO, "listing cursor loops");
		cursor = next;
	} while (cursor != 0);
	return EX_OK;
}

/*
 * stats --prometheus: STATUS, STATS and every volume (fetch_volumes) in
 * three requests, rendered by metrics.c's metrics_render, the same
 * renderer larderd's metrics_file uses, so the two texts agree. Nothing
 * is printed unless all three replies parse. Returns the exit code.
 */
static int
cmd_prometheus(struct larder *l)
{
	struct metrics_kv *st = NULL, *ss = NULL;
	struct metrics_out out = { 0 };
	struct vols vs = { 0 };
	uint8_t *b1 = NULL, *b2 = NULL;
	int n1, n2, rc;
	size_t i;

	if ((n1 = fetch_kv(l, PROTO_STATUS, &b1, &st)) < 0) {
		rc = n1 == -EPROTO ? fail(NULL, n1, "malformed reply") :
		    fail(l, n1, NULL);
		goto out;
	}
	if ((n2 = fetch_kv(l, PROTO_STATS, &b2, &ss)) < 0) {
		rc = n2 == -EPROTO ? fail(NULL, n2, "malformed reply") :
		    fail(l, n2, NULL);
		goto out;
	}
	if ((rc = fetch_volumes(l, &vs)) != EX_OK)
		goto out;
	if (metrics_render(&out, st, n1, ss, n2, vs.v, vs.n,
	    (int64_t)time(NULL)) < 0) {
		rc = fail(NULL, -ENOMEM, NULL);
		goto out;
	}
	fwrite(out.p, 1, out.len, stdout);
	rc = EX_OK;
out:
	for (i = 0; i < vs.n; i++)
		free((void *)vs.v[i].key);
	free(vs.v);
	metrics_out_free(&out);
	free(st);
	free(ss);
	free(b1);
	free(b2);
	return rc;
}

/* what top shows, from one STATUS and one STATS */
struct sample {
	uint64_t hits, misses, fills, in, out, culls, objects, bytes;
	int64_t uptime;
	char freeze[24];
	double t;		/* monotonic seconds */
};

static const struct metrics_kv *
kv_find(const struct metrics_kv *kv, int n, const char *key)
{
	size_t len = strlen(key);
	int i;

	for (i = 0; i < n; i++)
		if (kv[i].key_len == len && memcmp(kv[i].key, key, len) == 0)
			return &kv[i];
	return NULL;
}

static uint64_t
kv_u64(const struct metrics_kv *kv, int n, const char *key)
{
	const struct metrics_kv *k = kv_find(kv, n, key);

	return k && k->kind != PROTO_KV_STR ? k->u : 0;
}

/* the first of keys the daemon printed (userspace or kernel mode) */
static uint64_t
kv_u64_any(const struct metrics_kv *kv, int n, const char *a, const char *b)
{
	return kv_find(kv, n, a) ? kv_u64(kv, n, a) : kv_u64(kv, n, b);
}

/*
 * Fill *s for top from one STATUS and one STATS, stamped with the
 * monotonic time they came back. A key the daemon does not print reads
 * 0 (the counters of the other mode: userspace store.* or kernel.*).
 * Returns 0, or the -errno of the request, -EPROTO for a malformed reply.
 */
static int
take_sample(struct larder *l, struct sample *s)
{
	struct metrics_kv *st = NULL, *ss = NULL;
	const struct metrics_kv *f;
	uint8_t *b1 = NULL, *b2 = NULL;
	struct timespec ts;
	int n1, n2, err = 0;
	size_t i, k;

	if ((n1 = err = fetch_kv(l, PROTO_STATUS, &b1, &st)) < 0 ||
	    (n2 = err = fetch_kv(l, PROTO_STATS, &b2, &ss)) < 0)
		goto out;
	err = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->t = ts.tv_sec + ts.tv_nsec / 1e9;
	s->hits = kv_u64(ss, n2, "store.hits");
	s->misses = kv_u64(ss, n2, "store.misses");
	s->fills = kv_u64(ss, n2, "store.fills");
	s->in = kv_u64(ss, n2, "store.bytes_written");
	s->out = kv_u64(ss, n2, "store.bytes_served");
	s->culls = kv_u64(ss, n2, "cull.objects") +
	    kv_u64(ss, n2, "kernel.culled");
	s->objects = kv_u64_any(st, n1, "store.objects", "cull.cache_objects");
	if (!kv_find(st, n1, "store.objects") &&
	    !kv_find(st, n1, "cull.cache_objects"))
		s->objects = kv_u64(st, n1, "kernel.objects");
	s->bytes = kv_u64_any(st, n1, "store.bytes", "cull.cache_bytes");
	if (!kv_find(st, n1, "store.bytes") &&
	    !kv_find(st, n1, "cull.cache_bytes"))
		s->bytes = kv_u64(st, n1, "kernel.bytes");
	f = kv_find(st, n1, "larderd.uptime");
	s->uptime = f && f->kind != PROTO_KV_STR ? (int64_t)f->u : 0;
	/* a printable word only: the daemon's bytes are not trusted */
	strcpy(s->freeze, "-");
	f = kv_find(st, n1, "freeze.state");
	if (f && f->kind == PROTO_KV_STR) {
		for (i = k = 0; i < f->s_len && k + 1 < sizeof(s->freeze);
		    i++)
			if (f->s[i] > 0x20 && f->s[i] < 0x7f)
				s->freeze[k++] = f->s[i];
		s->freeze[k] = '\0';
		if (!k)
			strcpy(s->freeze, "-");
	}
out:
	free(st);
	free(ss);
	free(b1);
	free(b2);
	return err;
}

/* a counter's increase; a counter that went back (a new daemon) counts
 * from zero */
static uint64_t
delta(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : now;
}

static void
top_header(void)
{
	printf("%6s %9s %9s %9s %11s %11s %10s %13s %8s %s\n", "HIT%",
	    "HITS/s", "MISSES/s", "FILLS/s", "IN-B/s", "OUT-B/s", "OBJECTS",
	    "BYTES", "CULLS/s", "FREEZE");
}

/*
 * Print top's line for the change from sample a to b over dt seconds
 * (dt <= 0 is taken as 1): the rates of counters, the gauges of b, the
 * hit ratio ("-", or null in JSON, with no lookups); one text line under
 * top_header's columns or one JSON object per line.
 */
static void
top_line(const struct sample *a, const struct sample *b, double dt)
{
	uint64_t h = delta(b->hits, a->hits), m = delta(b->misses, a->misses);
	char ratio[16];

	if (dt <= 0)
		dt = 1;
	if (h + m)
		snprintf(ratio, sizeof(ratio), "%.1f", 100.0 * h / (h + m));
	else
		strcpy(ratio, "-");
	if (json) {
		printf("{\"interval\":%.3f,\"hit_ratio\":%s,\"hits_per_s\":%.1f,"
		    "\"misses_per_s\":%.1f,\"fills_per_s\":%.1f,"
		    "\"bytes_in_per_s\":%.0f,\"bytes_out_per_s\":%.0f,"
		    "\"objects\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
		    "\"culls_per_s\":%.1f,\"freeze\":", dt,
		    h + m ? ratio : "null", h / dt, m / dt,
		    delta(b->fills, a->fills) / dt, delta(b->in, a->in) / dt,
		    delta(b->out, a->out) / dt, b->objects, b->bytes,
		    delta(b->culls, a->culls) / dt);
		json_str(b->freeze, strlen(b->freeze));
		printf("}\n");
		return;
	}
	printf("%6s %9.1f %9.1f %9.1f %11.0f %11.0f %10" PRIu64 " %13" PRIu64
	    " %8.1f %s\n", ratio, h / dt, m / dt,
	    delta(b->fills, a->fills) / dt, delta(b->in, a->in) / dt,
	    delta(b->out, a->out) / dt, b->objects, b->bytes,
	    delta(b->culls, a->culls) / dt, b->freeze);
}

#define TOP_HEADER_EVERY	20

/* As iostat: the first line averages since larderd started, then one line
 * per interval; count 0: until interrupted. */
static int
cmd_top(struct larder *l, uint64_t count, uint64_t interval)
{
	struct sample prev, cur, zero;
	struct timespec next;
	uint64_t lines = 0;
	int err;

	if ((err = take_sample(l, &cur)) < 0)
		return err == -EPROTO ? fail(NULL, err, "malformed reply") :
		    fail(l, err, NULL);
	memset(&zero, 0, sizeof(zero));
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		if (!json && lines % TOP_HEADER_EVERY == 0)
			top_header();
		if (lines == 0)
			top_line(&zero, &cur, (double)cur.uptime);
		else
			top_line(&prev, &cur, cur.t - prev.t);
		if (fflush(stdout) != 0)
			return fail_msg(EX_ERR, "stdout: %s", strerror(errno));
		if (++lines == count)
			return EX_OK;
		next.tv_sec += interval;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
		    NULL) == EINTR)
			;
		prev = cur;
		if ((err = take_sample(l, &cur)) < 0)
			return err == -EPROTO ? fail(NULL, err,
			    "malformed reply") : fail(l, err, NULL);
	}
}

/* ---- data commands ------------------------------------------------------- */

/* Read all of fd into a growing buffer (stdin, pipes). */
static int
slurp(int fd, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* Fill the cookie with n bytes; a short fill means the cache stopped
 * taking data (-ENOBUFS). */
static int
fill(struct larder_cookie *c, const uint8_t *p, size_t n, uint64_t off)
{
	ssize_t w;

	while (n > 0) {
		w = larder_write(c, p, n, off);
		if (w < 0)
			return w;
		if (w == 0)
			return -ENOBUFS;
		p += w;
		n -= w;
		off += w;
	}
	return 0;
}

/*
 * For put: acquire volume vol whatever its coherency data, and in it the
 * cookie key with size bytes and an empty aux, and invalidate it. Returns
 * EX_OK, or the exit code of the failure it reported; what it acquired
 * is left in *v and *c for the caller to relinquish.
 */
static int
put_acquire(struct larder *l, const char *vol, const char *key, size_t size,
    struct larder_volume **v, struct larder_cookie **c)
{
	int err;

	if ((err = client_volume_acquire(l, vol, NULL, 0,
	    PROTO_VOLUME_ANY_COHERENCY, v)) < 0)
		return fail(l, err, vol);
	if ((err = client_cookie_acquire(*v, key, strlen(key), NULL, 0, size, 0,
	    c)) < 0)
		return fail(l, err, key);
	/* put stores these bytes: an object already there (same empty aux,
	 * same size, other bytes) must not be kept, so start a fresh one */
	if ((err = larder_invalidate(*c, NULL, 0, size)) < 0)
		return fail(l, err, key);
	return EX_OK;
}

/*
 * For put: write the regular file fd (named file, size bytes) into c,
 * IO_CHUNK at a time with pread. Returns 0, the -errno of a failed write
 * (not reported), or the exit code of a read error it reported (the
 * file could not be read, or shrank).
 */
static int
put_stream(struct larder_cookie *c, int fd, const char *file, size_t size)
{
	uint8_t *buf;
	size_t done;
	ssize_t n;
	int err;

	if ((buf = malloc(IO_CHUNK)) == NULL)
		return fail(NULL, -ENOMEM, NULL);
	for (done = 0, err = 0; done < size && err == 0; done += n) {
		n = pread(fd, buf, IO_CHUNK, done);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			err = fail_msg(EX_ERR, "%s: %s", file, n < 0 ?
			    strerror(errno) : "file shrank while read");
			break;
		}
		if ((size_t)n > size - done)
			n = size - done;
		err = fill(c, buf, n, done);
	}
	free(buf);
	return err;
}

/*
 * put VOLUME KEY [FILE]: store FILE's bytes (stdin, or "-") as object KEY
 * through liblarder like any client: acquire the volume whatever its
 * coherency data, acquire the cookie with the size and an empty aux,
 * invalidate it (a put replaces what is there), write it all, relinquish
 * (not retire). A regular FILE named on the command line is streamed
 * IO_CHUNK at a time with pread; anything else (stdin, a pipe) is read
 * whole first, so that the size is known up front. A short write is a
 * refusal (exit 4, -ENOBUFS). Returns the exit code.
 */
static int
cmd_put(char **argv, int argc)
{
	const char *vol = argv[0], *key = argv[1];
	const char *file = argc > 2 ? argv[2] : "-";
	struct larder *l = NULL;
	struct larder_volume *v = NULL;
	struct larder_cookie *c = NULL;
	uint8_t *data = NULL;
	size_t size = 0;
	struct stat st;
	int fd = 0, stream = 0, err, rc;

	if (strcmp(file, "-") != 0) {
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
			return fail_msg(EX_ERR, "%s: %s", file, strerror(errno));
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fd != 0) {
		stream = 1;
		size = st.st_size;
	} else if ((err = slurp(fd, &data, &size)) < 0) {
		rc = fail(NULL, err, fd ? file : "stdin");
		goto out;
	}
	if ((rc = ctl_connect(0, &l)) != EX_OK)
		goto out;
	if ((rc = put_acquire(l, vol, key, size, &v, &c)) != EX_OK)
		goto out;
	if (!stream)
		err = fill(c, data, size, 0);
	else if ((err = put_stream(c, fd, file, size)) > 0) {
		rc = err;
		goto out;
	}
	if (err < 0) {
		rc = fail(l, err, key);
		goto out;
	}
	err = larder_cookie_relinquish(c, 0);
	c = NULL;
	if (err < 0) {
		rc = fail(l, err, key);
		goto out;
	}
	if (json) {
		printf("{\"volume\":");
		json_str(vol, strlen(vol));
		printf(",\"key\":");
		json_str(key, strlen(key));
		printf(",\"bytes\":%zu}\n", size);
	}
	rc = EX_OK;
out:
	if (c)
		larder_cookie_relinquish(c, 0);
	if (v)
		larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	free(data);
	if (fd > 0)
		close(fd);
	return rc;
}

/*
 * get VOLUME KEY: copy an object to stdout, or exit 3 without writing a
 * byte when it is unknown or not fully cached (larder_is_cached over the
 * whole size first); a read that finds a hole later (culled meanwhile)
 * also exits 3, after what was already written. Connects without a
 * shared-memory area: reads come over the socket. Returns the exit code.
 */
static int
cmd_get(char **argv)
{
	const char *vol = argv[0], *key = argv[1];
	struct larder *l = NULL;
	struct larder_volume *v = NULL;
	struct larder_cookie *c = NULL;
	uint8_t *buf = NULL;
	uint64_t size, off;
	size_t chunk;
	ssize_t n;
	int err, rc;

	if ((rc = ctl_connect(CLIENT_NO_SHM, &l)) != EX_OK)
		return rc;
	if ((err = client_volume_acquire(l, vol, NULL, 0,
	    PROTO_VOLUME_ANY_COHERENCY, &v)) < 0) {
		rc = fail(l, err, vol);
		goto out;
	}
	if ((err = client_cookie_acquire(v, key, strlen(key), NULL, 0, 0,
	    PROTO_COOKIE_ANY_AUX, &c)) < 0) {
		rc = fail(l, err, key);
		goto out;
	}
	if (client_cookie_flags(c) & PROTO_COOKIE_NEW) {
		rc = fail_msg(EX_NOTFOUND, "%s: not found", key);
		goto out;
	}
	size = larder_cookie_size(c);
	if (size > 0 && (err = larder_is_cached(c, 0, size)) != 1) {
		rc = err < 0 ? fail(l, err, key) :
		    fail_msg(EX_NOTFOUND, "%s: not (fully) cached", key);
		goto out;
	}
	if ((buf = malloc(IO_CHUNK)) == NULL) {
		rc = fail(NULL, -ENOMEM, NULL);
		goto out;
	}
	for (off = 0; off < size; off += n) {
		chunk = size - off < IO_CHUNK ? size - off : IO_CHUNK;
		if ((n = larder_read(c, buf, chunk, off)) < 0) {
			rc = n == -ENODATA ? fail_msg(EX_NOTFOUND,
			    "%s: not (fully) cached", key) : fail(l, n, key);
			goto out;
		}
		if ((err = metrics_write_all(STDOUT_FILENO, buf, n)) < 0) {
			rc = fail_msg(EX_ERR, "stdout: %s", strerror(-err));
			goto out;
		}
	}
	rc = EX_OK;
out:
	if (c)
		larder_cookie_relinquish(c, 0);
	if (v)
		larder_volume_relinquish(v, 0);
	larder_disconnect(l);
	free(buf);
	return rc;
}

/* ---- argument helpers ---------------------------------------------------- */

/* SIZE with an optional K/M/G/T suffix (powers of 1024). */
static int
parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int
parse_uint(const char *s, uint64_t max, const char *suffix, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > max)
		return -EINVAL;
	if (suffix && strcmp(end, suffix) == 0)
		end += strlen(suffix);
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

enum {
	OPT_JSON = 256,
	OPT_BYTES,
	OPT_TO,
	OPT_FS,
	OPT_TIMEOUT,
	OPT_PROMETHEUS,
};

struct cmd {
	const char *name;
	int min, max;		/* operands */
	const char *args;	/* for messages */
};

static const struct cmd cmds[] = {
	{ "access", 1, 2, "VOLUME [default|none|read|fill]" },
	{ "cull", 0, 0, "[--bytes N|--to PCT]" },
	{ "freeze", 0, 0, "[--fs] [--timeout S]" },
	{ "get", 2, 2, "VOLUME KEY" },
	{ "invalidate", 1, 2, "VOLUME [KEY]" },
	{ "ls", 1, 1, "VOLUME" },
	{ "ping", 0, 0, "" },
	{ "put", 2, 3, "VOLUME KEY [FILE]" },
	{ "reload", 0, 0, "" },
	{ "resume", 0, 0, "" },
	{ "stats", 0, 0, "[--prometheus]" },
	{ "status", 0, 0, "" },
	{ "suspend", 0, 0, "" },
	{ "thaw", 0, 0, "" },
	{ "top", 0, 1, "[-n COUNT] [INTERVAL]" },
	{ "volumes", 0, 0, "" },
};

static int prometheus;
static uint64_t top_count, top_interval = 1;

/* access VOLUME [POLICY]: show, or set, a volume's access policy. */
static int
cmd_access(struct larder *l, char **argv, int argc)
{
	static const char *const names[] = { "default", "none", "read",
	    "fill" };
	static const char *const origins[] = { "recorded", "no record: "
	    "root's", "bad record: root's" };
	uint8_t body[16 + PROTO_MAX_VOLUME_KEY];
	uint32_t uid, set, eff, origin, pol = 0, i;
	struct proto_buf b, r;
	int err;

	if (argc > 1) {
		for (i = 0; i < 4 && strcmp(argv[1], names[i]) != 0; i++)
			;
		if (i == 4)
			return usage_err("bad policy: %s (default, none, read "
			    "or fill)", argv[1]);
		pol = i;
	}
	proto_buf_init(&b, body, sizeof(body));
	proto_put_str(&b, argv[0]);
	proto_put_u32(&b, argc > 1 ? PROTO_ACCESS_SET : PROTO_ACCESS_GET);
	proto_put_u32(&b, pol);
	if ((err = request(l, PROTO_VOLUME_ACCESS, &b, &r)) < 0)
		return fail(l, err, NULL);
	uid = proto_get_u32(&r);
	set = proto_get_u32(&r);
	eff = proto_get_u32(&r);
	origin = proto_get_u32(&r);
	if (r.err || set > 3 || eff < 1 || eff > 3 || origin > 2)
		return fail(NULL, -EPROTO, "malformed reply");
	if (json)
		printf("{\"owner\":%" PRIu32 ",\"access\":\"%s\","
		    "\"in_force\":\"%s\",\"record\":\"%s\"}\n", uid,
		    names[set], names[eff], origin == 0 ? "ok" :
		    origin == 1 ? "none" : "bad");
	else
		printf("owner %" PRIu32 " access %s%s%s%s%s\n", uid, names[eff],
		    set == 0 ? " (default)" : "", origin ? " (" : "",
		    origin ? origins[origin] : "", origin ? ")" : "");
	return EX_OK;
}

/*
 * Carry out one parsed command: put and get make their own connection;
 * every other command connects without shared memory, sends its request
 * (cmd_* for those that print more than the daemon's reply string) and
 * disconnects. A failed flush of stdout turns success into exit 1.
 * Returns the exit code main() exits with.
 */
static int
run(const struct cmd *cmd, char **argv, int argc, uint32_t cull_mode,
    uint64_t cull_value, uint32_t freeze_flags, uint32_t timeout)
{
	uint8_t body[512];
	struct proto_buf b;
	struct larder *l = NULL;
	const char *n = cmd->name;
	int rc;

	if (strcmp(n, "put") == 0)
		return cmd_put(argv, argc);
	if (strcmp(n, "get") == 0)
		return cmd_get(argv);
	if ((rc = ctl_connect(CLIENT_NO_SHM, &l)) != EX_OK)
		return rc;
	proto_buf_init(&b, body, sizeof(body));
	if (strcmp(n, "status") == 0)
		rc = cmd_kv(l, PROTO_STATUS);
	else if (strcmp(n, "stats") == 0 && prometheus)
		rc = cmd_prometheus(l);
	else if (strcmp(n, "stats") == 0)
		rc = cmd_kv(l, PROTO_STATS);
	else if (strcmp(n, "top") == 0)
		rc = cmd_top(l, top_count, top_interval);
	else if (strcmp(n, "volumes") == 0)
		rc = list(l, PROTO_LIST_VOLUMES, NULL, 18, volume_row);
	else if (strcmp(n, "ls") == 0)
		rc = list(l, PROTO_LIST_OBJECTS, argv[0], 32, object_row);
	else if (strcmp(n, "access") == 0)
		rc = cmd_access(l, argv, argc);
	else if (strcmp(n, "invalidate") == 0) {
		proto_put_str(&b, argv[0]);
		proto_put_bytes(&b, argc > 1 ? argv[1] : "",
		    argc > 1 ? strlen(argv[1]) : 0);
		rc = cmd_simple(l, PROTO_DROP, &b);
	} else if (strcmp(n, "cull") == 0) {
		struct proto_buf r;
		uint64_t objects, bytes;
		int err;

		proto_put_u32(&b, cull_mode);
		proto_put_u64(&b, cull_value);
		if ((err = request(l, PROTO_CULL, &b, &r)) < 0)
			rc = fail(l, err, NULL);
		else {
			objects = proto_get_u64(&r);
			bytes = proto_get_u64(&r);
			if (r.err)
				rc = fail(NULL, -EPROTO, "malformed reply");
			else if (json)
				printf("{\"objects\":%" PRIu64 ",\"bytes\":%"
				    PRIu64 "}\n", objects, bytes);
			else
				printf("culled %" PRIu64 " objects, %" PRIu64
				    " bytes\n", objects, bytes);
		}
	} else if (strcmp(n, "freeze") == 0) {
		proto_put_u32(&b, freeze_flags);
		proto_put_u32(&b, timeout);
		rc = cmd_simple(l, PROTO_FREEZE, &b);
	} else if (strcmp(n, "thaw") == 0)
		rc = cmd_simple(l, PROTO_THAW, NULL);
	else if (strcmp(n, "suspend") == 0)
		rc = cmd_simple(l, PROTO_SUSPEND, NULL);
	else if (strcmp(n, "resume") == 0)
		rc = cmd_simple(l, PROTO_RESUME, NULL);
	else if (strcmp(n, "reload") == 0)
		rc = cmd_simple(l, PROTO_RELOAD, NULL);
	else
		rc = cmd_simple(l, PROTO_PING, NULL);
	if (fflush(stdout) != 0 && rc == EX_OK)
		rc = fail_msg(EX_ERR, "stdout: %s", strerror(errno));
	larder_disconnect(l);
	return rc;
}

/* The options of a command, as cmd_args parsed them for run(). */
struct cmdopts {
	uint32_t cull_mode;	/* PROTO_CULL_* */
	uint64_t cull_value;	/* bytes or percent, as cull_mode says */
	uint32_t freeze_flags;	/* PROTO_FREEZE_* */
	uint32_t timeout;	/* freeze --timeout in seconds, 0 none */
};

/*
 * Parse the global options at the start of argv, up to the command
 * (left at argv[optind]). Returns -1 to go on, or the exit code of
 * --help or of a usage error.
 */
static int
global_opts(int argc, char **argv)
{
	static const struct option gopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:s:h", gopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sockpath = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case ':':
			return usage_err("option needs an argument: %s",
			    argv[optind - 1]);
		default:
			return usage_err("unknown option: %s", argv[optind - 1]);
		}
	}
	return -1;
}

/* The command called name, or NULL when there is none. */
static const struct cmd *
find_cmd(const char *name)
{
	const struct cmd *cmd = NULL;
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(name, cmds[i].name) == 0)
			cmd = &cmds[i];
	return cmd;
}

/*
 * Take the command option ch (as getopt_long returned it, with optarg)
 * for cmd into o or the option globals. Returns 0 when taken, -1 when
 * cmd has no such option, or the exit code of a usage error.
 */
static int
cmd_opt(const struct cmd *cmd, int ch, struct cmdopts *o)
{
	uint64_t v;

	switch (ch) {
	case OPT_JSON:
		json = 1;
		return 0;
	case OPT_BYTES:
	case OPT_TO:
		if (strcmp(cmd->name, "cull") != 0)
			return -1;
		if (o->cull_mode != PROTO_CULL_THRESHOLDS)
			return usage_err("--bytes and --to exclude each other");
		if (ch == OPT_BYTES) {
			if (parse_size(optarg, &v) < 0 || v == 0)
				return usage_err("bad size: %s", optarg);
			o->cull_mode = PROTO_CULL_BYTES;
		} else {
			if (parse_uint(optarg, 100, "%", &v) < 0)
				return usage_err("bad percentage: %s", optarg);
			o->cull_mode = PROTO_CULL_TO_PERCENT;
		}
		o->cull_value = v;
		return 0;
	case OPT_FS:
		if (strcmp(cmd->name, "freeze") != 0)
			return -1;
		o->freeze_flags |= PROTO_FREEZE_FS;
		return 0;
	case OPT_TIMEOUT:
		if (strcmp(cmd->name, "freeze") != 0)
			return -1;
		if (parse_uint(optarg, UINT32_MAX, "s", &v) < 0 || v == 0)
			return usage_err("bad timeout: %s", optarg);
		o->timeout = v;
		return 0;
	case OPT_PROMETHEUS:
		if (strcmp(cmd->name, "stats") != 0)
			return -1;
		prometheus = 1;
		return 0;
	case 'n':
		if (strcmp(cmd->name, "top") != 0)
			return usage_err("unknown option: -n");
		if (parse_uint(optarg, UINT32_MAX, NULL, &v) < 0 || v == 0)
			return usage_err("bad count: %s", optarg);
		top_count = v;
		return 0;
	}
	return -1;
}

/*
 * Parse what follows the command, argv[0]: its options, anywhere ("--"
 * ends them: keys may start with '-'), into o; then check the number of
 * operands, left in *oargv and *oargc. Returns -1 to go on, or the exit
 * code of a usage error.
 */
static int
cmd_args(const struct cmd *cmd, int argc, char **argv, struct cmdopts *o,
    char ***oargv, int *oargc)
{
	static const struct option copts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "bytes", required_argument, NULL, OPT_BYTES },
		{ "to", required_argument, NULL, OPT_TO },
		{ "fs", no_argument, NULL, OPT_FS },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":n:", copts, NULL)) != -1) {
		if (ch == ':')
			return usage_err("option needs an argument: %s",
			    argv[optind - 1]);
		rc = cmd_opt(cmd, ch, o);
		if (rc > 0)
			return rc;
		if (rc < 0)
			return usage_err("unknown option: %s",
			    argv[optind - 1]);
	}
	argc -= optind;
	argv += optind;
	if (argc < cmd->min || argc > cmd->max)
		return usage_err("usage: larderctl %s %s", cmd->name, cmd->args);
	if (strcmp(cmd->name, "top") == 0 && argc == 1 &&
	    (parse_uint(argv[0], 86400, "s", &top_interval) < 0 ||
	    top_interval == 0))
		return usage_err("bad interval: %s (1 to 86400 seconds)",
		    argv[0]);
	*oargv = argv;
	*oargc = argc;
	return -1;
}

/*
 * Parse "[-s SOCKET] [--json] COMMAND [ARGS]": global options stop at the
 * command; command options (--bytes/--to for cull, --fs/--timeout for
 * freeze, --prometheus for stats, -n for top, --json anywhere) may come
 * anywhere after it, and "--" ends them so that a key may start with '-'.
 * Every usage error exits 2 before any connection is made; then run().
 */
int
main(int argc, char **argv)
{
	struct cmdopts o = { PROTO_CULL_THRESHOLDS, 0, 0, 0 };
	const struct cmd *cmd;
	char **cargv = NULL;
	int cargc = 0, rc;

	rc = global_opts(argc, argv);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return usage_err("no command");
	cmd = find_cmd(argv[optind]);
	if (cmd == NULL)
		return usage_err("unknown command: %s", argv[optind]);
	cmdname = cmd->name;
	rc = cmd_args(cmd, argc - optind, argv + optind, &o, &cargv, &cargc);
	if (rc >= 0)
		return rc;
	return run(cmd, cargv, cargc, o.cull_mode, o.cull_value,
	    o.freeze_flags, o.timeout);
}
