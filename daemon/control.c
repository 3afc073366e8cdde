/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control.c: the control socket server (see control.h). Main thread only.
 *
 * A SOCK_SEQPACKET listening socket; each peer is a non-blocking
 * connection with its credentials read once (SO_PEERCRED, SO_PEERGROUPS)
 * at accept, where access.h decides what it is: admin, client, or refused
 * (a refused peer gets PROTO_EPERM with the reason for its first message,
 * and is hung up on). A
 * readable peer gets at most CTL_BATCH messages handled per loop turn, and
 * at most CTL_MAX_OUTSTANDING requests unanswered (deferred) before it is
 * no longer read from, so one flooding peer cannot starve the others.
 * Replies are sent without blocking; a peer whose socket buffer is full
 * (it does not read its replies) is disconnected.
 *
 * No peer can stall the loop with an fd (limit.c has the rest of the
 * limits): an fd is only ever taken with a connection's first HELLO (its
 * header is peeked at first); any other message is received without room
 * for fds, so the kernel drops them without our close() (a FUSE file's
 * FLUSH can wait forever) and the message is refused. The HELLO fd is
 * asked F_GET_SEALS before anything else: only a memfd answers that
 * without its filesystem; any other fd goes to the closer thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <stddef.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "control.h"
#include "limit.h"
#include "handover.h"
#include "hist.h"
#include "log.h"
#include "loop.h"

#define CTL_MAX_CLIENTS		512
#define CTL_MAX_OUTSTANDING	64
#define CTL_BATCH		16	/* messages per peer per loop turn */
#define CTL_MAX_GARBAGE		8	/* malformed messages before we hang up */
#define CTL_MAX_TYPE		400

struct ctl_client {
	struct ctl_client *next, *prev;
	int fd;
	struct loop_watch *watch;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int admin;
	int counted;			/* in limit_conn_add's counts */
	int hello_seen;			/* its one fd-bearing HELLO came */
	unsigned held;			/* volumes and cookies it holds */
	uint64_t last_ms;		/* when it last sent something */
	int refused;			/* neither admin nor client (access.h) */
	int dead;			/* disconnect pending */
	int reading;			/* EPOLLIN armed */
	unsigned outstanding;
	unsigned garbage;
	struct rq *reqs;		/* unanswered requests */
	void *slot[CTL_SLOT_MAX];
	struct ctl_shm *shm;		/* the HELLO area, or NULL */
};

/* a request with its own copy of the message */
struct rq {
	struct ctl_req req;		/* first: the handler's view */
	struct rq *next, *prev;		/* in client->reqs */
	uint64_t t0_ns;			/* when it came in (timed types only) */
	uint8_t msg[];
};

struct provider {
	struct provider *next;
	ctl_kv_fn *fn;
};

static struct {
	ctl_handler_fn *fn;
	int admin;
} handlers[CTL_MAX_TYPE];

static void (*disconnect_hooks[CTL_SLOT_MAX])(struct ctl_client *, void *);
static struct provider *status_providers, *stats_providers;
static struct ctl_client *clients;
static unsigned nclients;
static int listen_fd = -1;
static int hand_over;			/* the socket goes to a successor */
static struct loop_watch *listen_watch;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static gid_t admin_group = (gid_t)-1;
static gid_t client_group = (gid_t)-1;
static struct loop_timer *reap_timer, *idle_timer, *accept_timer;
static uint8_t *rxbuf, *txbuf;		/* main thread only */
static struct log_ratelimit rl_garbage, rl_slow, rl_refused;

void
control_register(uint16_t type, ctl_handler_fn *fn, int admin_only)
{
	if (type < CTL_MAX_TYPE) {
		handlers[type].fn = fn;
		handlers[type].admin = admin_only;
	}
}

void
control_on_disconnect(enum ctl_slot slot,
    void (*fn)(struct ctl_client *c, void *p))
{
	if (slot < CTL_SLOT_MAX)
		disconnect_hooks[slot] = fn;
}

void *
control_client_get(struct ctl_client *c, enum ctl_slot slot)
{
	return c && slot < CTL_SLOT_MAX ? c->slot[slot] : NULL;
}

void
control_client_set(struct ctl_client *c, enum ctl_slot slot, void *p)
{
	if (c && slot < CTL_SLOT_MAX)
		c->slot[slot] = p;
}

void
control_client_shm(struct ctl_client *c, const uint8_t **base, uint64_t *size)
{
	*base = c && c->shm ? c->shm->base : NULL;
	*size = c && c->shm ? c->shm->size : 0;
}

struct ctl_shm *
control_client_shm_ref(struct ctl_client *c)
{
	if (!c || !c->shm)
		return NULL;
	c->shm->refs++;
	return c->shm;
}

void
control_shm_put(struct ctl_shm *sh)
{
	if (!sh || --sh->refs > 0)
		return;
	munmap((void *)sh->base, sh->size);
	free(sh);
}

void
control_client_hold(struct ctl_client *c, int delta)
{
	if (!c)
		return;
	if (delta < 0 && c->held < (unsigned)-delta)
		c->held = 0;
	else
		c->held += delta;
}

static void
add_provider(struct provider **list, ctl_kv_fn *fn)
{
	struct provider *p, **pp;

	p = calloc(1, sizeof(*p));
	if (!p) {
		log_warnx("control: out of memory for a status provider");
		return;
	}
	p->fn = fn;
	for (pp = list; *pp; pp = &(*pp)->next)
		;
	*pp = p;
}

void
control_add_status(ctl_kv_fn *fn)
{
	add_provider(&status_providers, fn);
}

void
control_add_stats(ctl_kv_fn *fn)
{
	add_provider(&stats_providers, fn);
}

void
ctl_kv_u64(struct ctl_kv *kv, const char *key, uint64_t v)
{
	proto_put_kv_u64(kv->b, key, v);
	kv->count++;
}

void
ctl_kv_s64(struct ctl_kv *kv, const char *key, int64_t v)
{
	proto_put_kv_s64(kv->b, key, v);
	kv->count++;
}

void
ctl_kv_str(struct ctl_kv *kv, const char *key, const char *v)
{
	proto_put_kv_str(kv->b, key, v);
	kv->count++;
}

/* ---- peers --------------------------------------------------------------- */

static void reap_clients(void *arg);

/* Mark a peer for disconnection; it is freed from a timer, outside any
 * handler that may still hold it. */
static void
client_kill(struct ctl_client *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (c->watch) {
		loop_watch_del(c->watch);
		c->watch = NULL;
	}
	if (!reap_timer)
		reap_timer = loop_timer_add(0, reap_clients, NULL);
}

static void
client_free(struct ctl_client *c)
{
	struct rq *r;
	int i;

	/* deferred requests stay valid; their answers are dropped */
	for (r = c->reqs; r; r = r->next)
		r->req.client = NULL;
	c->reqs = NULL;
	for (i = 0; i < CTL_SLOT_MAX; i++)
		if (c->slot[i] && disconnect_hooks[i])
			disconnect_hooks[i](c, c->slot[i]);
	if (c->watch)
		loop_watch_del(c->watch);
	control_shm_put(c->shm);	/* fills that use it keep it */
	close(c->fd);
	limit_conn_del(c->uid, !c->counted);
	if (c->prev)
		c->prev->next = c->next;
	else
		clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	nclients--;
	free(c);
}

static void
reap_clients(void *arg)
{
	struct ctl_client *c, *next;

	(void)arg;
	reap_timer = NULL;
	for (c = clients; c; c = next) {
		next = c->next;
		if (c->dead)
			client_free(c);
	}
}

/*
 * What the peer on s is (access.h), from the credentials the kernel took
 * at its connect: SO_PEERCRED and SO_PEERGROUPS (the group database is
 * never asked: it may differ from what the process really has, and it
 * can be slow). Decided here once, for the connection's life.
 */
static enum access_role
peer_role(int s, const struct ucred *cred)
{
	gid_t stack[64], *groups = stack;
	socklen_t len = sizeof(stack);
	enum access_role role;
	size_t n = 0;

	if (getsockopt(s, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		n = len / sizeof(gid_t);
	else if (errno == ERANGE && len > 0 &&
	    len <= 65536 * sizeof(gid_t) && (groups = malloc(len)) != NULL) {
		if (getsockopt(s, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == 0)
			n = len / sizeof(gid_t);
	} else
		groups = stack;	/* no supplementary groups known */
	role = access_role(cred->uid, cred->gid, groups, n, admin_group,
	    client_group);
	if (groups != stack)
		free(groups);
	return role;
}

static void
set_reading(struct ctl_client *c, int on)
{
	if (c->dead || c->reading == on)
		return;
	c->reading = on;
	if (loop_watch_mod(c->watch, on ? EPOLLIN : 0) < 0)
		client_kill(c);
}

/* ---- replies ------------------------------------------------------------- */

static void
rq_free(struct rq *r)
{
	struct ctl_client *c = r->req.client;

	if (r->req.fd >= 0)
		limit_close_fd(r->req.fd);	/* never on this thread */
	if (c) {
		if (r->prev)
			r->prev->next = r->next;
		else
			c->reqs = r->next;
		if (r->next)
			r->next->prev = r->prev;
		c->outstanding--;
		if (c->outstanding < CTL_MAX_OUTSTANDING)
			set_reading(c, 1);
	}
	free(r);
}

/* The service time of the request types the metrics time (hist.h). */
static void
observe(const struct rq *r)
{
	enum hist_id h;

	switch (r->req.hdr.type) {
	case PROTO_COOKIE_ACQUIRE: h = HIST_ACQUIRE; break;
	case PROTO_COOKIE_REFRESH: h = HIST_READ; break;
	case PROTO_WRITE: h = HIST_FILL; break;
	default: return;
	}
	hist_observe(h, hist_now_ns() - r->t0_ns);
}

/* Encode and send rq's answer without blocking (control.h); a peer whose
 * buffer is full is hung up on; a gone peer's answer is dropped. Frees
 * rq, and times it (hist.h). */
void
control_reply(struct ctl_req *rq, uint16_t status, const void *body,
    size_t len, int fd)
{
	struct rq *r = (struct rq *)rq;
	struct ctl_client *c = rq->client;
	uint8_t *msg;
	struct proto_buf b;
	int err;

	if (c && !c->dead) {
		msg = txbuf;
		proto_buf_init(&b, msg, PROTO_MAX_MSG);
		proto_begin(&b, rq->hdr.type, rq->hdr.seq, PROTO_F_REPLY,
		    status);
		proto_put_raw(&b, body, len);
		if (proto_finish(&b) < 0) {
			/* the body does not fit: say so instead */
			proto_begin(&b, rq->hdr.type, rq->hdr.seq,
			    PROTO_F_REPLY, PROTO_ERR);
			proto_finish(&b);
			fd = -1;
		}
		/* the socket is non-blocking: this never waits */
		err = proto_send(c->fd, msg, b.off, fd);
		if (err < 0) {
			if (err == -EAGAIN)
				log_warnx_rl(&rl_slow, "control: pid %ld does "
				    "not read its replies: disconnecting",
				    (long)c->pid);
			client_kill(c);
		}
	}
	observe(r);
	rq_free(r);
}

void
control_done(struct ctl_req *rq)
{
	observe((struct rq *)rq);
	rq_free((struct rq *)rq);
}

void
control_reply_str(struct ctl_req *rq, uint16_t status, const char *fmt, ...)
{
	char text[PROTO_MAX_STR];
	uint8_t body[PROTO_MAX_STR + 2];
	struct proto_buf b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	proto_buf_init(&b, body, sizeof(body));
	proto_put_str(&b, text);
	control_reply(rq, status, body, b.off, -1);
}

/* Answer a message that is not a valid request (no rq yet). */
static void
reply_raw(struct ctl_client *c, uint16_t type, uint32_t seq, uint16_t status,
    const char *why)
{
	uint8_t msg[PROTO_HDR_SIZE + 2 + 128];
	struct proto_buf b;

	proto_buf_init(&b, msg, sizeof(msg));
	proto_begin(&b, type, seq, PROTO_F_REPLY, status);
	proto_put_str(&b, why);
	if (proto_finish(&b) == 0 && proto_send(c->fd, msg, b.off, -1) < 0)
		client_kill(c);
}

/* ---- built-in handlers ---------------------------------------------------- */

static int
handle_ping(struct ctl_req *rq)
{
	control_reply_str(rq, PROTO_OK, "pong");
	return 0;
}

/* HELLO: version check and the optional shared-memory fill area. */
static int
handle_hello(struct ctl_req *rq)
{
	struct ctl_client *c = rq->client;
	uint8_t body[32];
	struct proto_buf b;
	struct stat st;
	uint64_t size;
	void *p;
	int seals;

	(void)proto_get_u32(&rq->body);		/* flags */
	size = proto_get_u64(&rq->body);
	if (rq->body.err)
		return -EPROTO;
	/* F_GET_SEALS first: it asks no filesystem, and only a memfd (shmem)
	 * answers it; fstat, mmap and close are then safe here. Any other
	 * fd is not looked at and is closed on the closer thread. */
	seals = rq->fd >= 0 ? fcntl(rq->fd, F_GET_SEALS) : -1;
	if (rq->fd >= 0 && seals < 0) {
		limit_close_fd(rq->fd);
		rq->fd = -1;
	}
	control_shm_put(c->shm);
	c->shm = NULL;
	/* the area must not shrink under us (SIGBUS): F_SEAL_SHRINK */
	if (rq->fd >= 0 && (seals & F_SEAL_SHRINK) && size > 0 &&
	    size <= PROTO_MAX_SHM && fstat(rq->fd, &st) == 0 &&
	    S_ISREG(st.st_mode) && (uint64_t)st.st_size >= size) {
		p = mmap(NULL, size, PROT_READ, MAP_SHARED, rq->fd, 0);
		if (p != MAP_FAILED) {
			c->shm = calloc(1, sizeof(*c->shm));
			if (c->shm) {
				c->shm->base = p;
				c->shm->size = size;
				c->shm->refs = 1;
			} else
				munmap(p, size);
		}
	}
	proto_buf_init(&b, body, sizeof(body));
	proto_put_u32(&b, PROTO_VERSION);
	proto_put_u32(&b, PROTO_MAX_INLINE);
	proto_put_u64(&b, c->shm ? c->shm->size : 0);
	proto_put_u32(&b, (uint32_t)getpid());
	/* a table only where something serves it (the store: user mode) */
	proto_put_u32(&b, PROTO_FEATURE_NOREPLY | PROTO_FEATURE_ZCOPY |
	    (handlers[PROTO_GENTAB].fn != NULL ? PROTO_FEATURE_GENTAB : 0));
	if (rq->fd >= 0) {
		close(rq->fd);		/* a memfd: shmem has no flush */
		rq->fd = -1;
	}
	control_reply(rq, PROTO_OK, body, b.off, -1);
	return 0;
}

/* u32 count, then every provider's records, into b (from its start). */
static int
collect_kv(struct proto_buf *b, struct provider *list)
{
	struct provider *p;
	struct ctl_kv kv;
	size_t n;

	proto_put_u32(b, 0);
	kv.b = b;
	kv.count = 0;
	for (p = list; p; p = p->next)
		p->fn(&kv);
	if (b->err)
		return b->err;
	n = b->off;
	b->off = 0;
	proto_put_u32(b, kv.count);
	b->off = n;
	return 0;
}

int
control_kv_body(int stats, struct proto_buf *b)
{
	return collect_kv(b, stats ? stats_providers : status_providers);
}

/* STATUS and STATS: u32 count, then every provider's records. */
static void
reply_kv(struct ctl_req *rq, struct provider *list)
{
	struct proto_buf b;
	uint8_t *body;

	body = malloc(PROTO_MAX_MSG);
	if (!body) {
		control_reply_str(rq, PROTO_ENOMEM, "out of memory");
		return;
	}
	proto_buf_init(&b, body, PROTO_MAX_MSG - PROTO_HDR_SIZE);
	if (collect_kv(&b, list) < 0) {
		free(body);
		control_reply_str(rq, PROTO_ERR, "status too long");
		return;
	}
	control_reply(rq, PROTO_OK, body, b.off, -1);
	free(body);
}

static int
handle_status(struct ctl_req *rq)
{
	reply_kv(rq, status_providers);
	return 0;
}

static int
handle_stats(struct ctl_req *rq)
{
	reply_kv(rq, stats_providers);
	return 0;
}

static void
control_kv(struct ctl_kv *kv)
{
	ctl_kv_u64(kv, "control.clients", nclients);
}

/* ---- receiving ----------------------------------------------------------- */

/*
 * Receive one message without room for fds: the kernel drops any that
 * came with it (its own reference, never our close()). 1 in *had_fds
 * then. The length, or -errno (-EMSGSIZE: truncated).
 */
static int
recv_nofd(int sock, void *buf, size_t size, int *had_fds)
{
	struct iovec iov = { buf, size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*had_fds = (mh.msg_flags & MSG_CTRUNC) != 0;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return n;
}

/*
 * Receive a HELLO with room for one fd (in *fd, or -1): more fds than fit
 * are dropped by the kernel (MSG_CTRUNC), never closed here; with more
 * than one, every one we got goes to the closer thread and *had_fds says
 * the message is to be refused. The length, or -errno.
 */
static int
recv_fd1(int sock, void *buf, size_t size, int *fd, int *had_fds)
{
	struct iovec iov = { buf, size };
	union proto_fdbuf u;
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	size_t i, nfd;
	ssize_t n;
	int got;

	*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* the room for one fd holds two after alignment: take every one */
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
			if (*fd < 0) {
				*fd = got;
				continue;
			}
			limit_close_fd(got);
			*had_fds = 1;
		}
	}
	if (*had_fds || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		limit_close_fd(*fd);
		*fd = -1;
		if (mh.msg_flags & MSG_CTRUNC)
			*had_fds = 1;
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
	}
	return n;
}

/* The type of the next message, without taking it (-errno). */
static int
peek_type(int sock)
{
	uint8_t h[PROTO_HDR_SIZE];
	ssize_t n;

	do
		n = recv(sock, h, sizeof(h), MSG_PEEK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n < 4)
		return 0;	/* no type: malformed, found out below */
	return h[2] | h[3] << 8;
}

/*
 * Take the peer's next message into rxbuf: with room for one fd only if it
 * is the connection's first HELLO (its header is peeked at first), else
 * none (the kernel drops any that came, *had_fds says so). The length,
 * -EAGAIN when nothing waits, -EMSGSIZE for a truncated message, or
 * another -errno (the peer is to be dropped; 0: it hung up).
 */
static int
recv_message(struct ctl_client *c, int *fd, int *had_fds)
{
	int type, n;

	*fd = -1;
	*had_fds = 0;
	type = c->hello_seen ? 0 : peek_type(c->fd);
	if (type == PROTO_HELLO) {
		n = recv_fd1(c->fd, rxbuf, PROTO_MAX_MSG, fd, had_fds);
		c->hello_seen = 1;
	} else if (type < 0)
		n = type;
	else
		n = recv_nofd(c->fd, rxbuf, PROTO_MAX_MSG, had_fds);
	return n;
}

/* One more malformed message from c: dropped past CTL_MAX_GARBAGE. 1 if it
 * was dropped. */
static int
count_garbage(struct ctl_client *c)
{
	if (++c->garbage < CTL_MAX_GARBAGE)
		return 0;
	client_kill(c);
	return 1;
}

/* A malformed message of n bytes (n < 0: truncated) in rxbuf: log, count,
 * and answer PROTO_EPROTO echoing what can be read of its header. 0 to go
 * on, -1 when the peer is gone. */
static int
refuse_malformed(struct ctl_client *c, int n)
{
	log_warnx_rl(&rl_garbage, "control: malformed message from pid %ld "
	    "uid %ld", (long)c->pid, (long)c->uid);
	if (count_garbage(c))
		return -1;
	if (n >= PROTO_HDR_SIZE)
		reply_raw(c, (uint16_t)(rxbuf[2] | rxbuf[3] << 8),
		    (uint32_t)rxbuf[8] | (uint32_t)rxbuf[9] << 8 |
		    (uint32_t)rxbuf[10] << 16 | (uint32_t)rxbuf[11] << 24,
		    PROTO_EPROTO, "malformed message");
	else
		reply_raw(c, 0, 0, PROTO_EPROTO, "malformed message");
	return c->dead ? -1 : 0;
}

/* The request for the n-byte message in rxbuf with header h (and fd),
 * its own copy, on c's list of unanswered requests; NULL without memory. */
static struct rq *
rq_new(struct ctl_client *c, const struct proto_hdr *h, int n, int fd)
{
	struct rq *r = malloc(sizeof(*r) + n);

	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	if (h->type == PROTO_COOKIE_ACQUIRE ||
	    h->type == PROTO_COOKIE_REFRESH || h->type == PROTO_WRITE)
		r->t0_ns = hist_now_ns();
	memcpy(r->msg, rxbuf, n);
	r->req.client = c;
	r->req.hdr = *h;
	proto_buf_init(&r->req.body, r->msg, n);
	r->req.body.off = PROTO_HDR_SIZE;
	r->req.fd = fd;
	r->req.uid = c->uid;
	r->req.gid = c->gid;
	r->req.pid = c->pid;
	r->req.admin = c->admin;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	c->outstanding++;
	return r;
}

/* Answer r by its type: refused (fds where none belong, unknown type,
 * admin-only for a non-admin), else its handler's. */
static void
dispatch(struct ctl_client *c, struct rq *r, int had_fds)
{
	uint16_t type = r->req.hdr.type;
	int err;

	if (had_fds) {
		count_garbage(c);
		control_reply_str(&r->req, PROTO_EINVAL, "%s: fds are only "
		    "taken with the first HELLO", proto_type_str(type));
	} else if (type >= CTL_MAX_TYPE || !handlers[type].fn) {
		control_reply_str(&r->req, PROTO_EINVAL, "unknown message "
		    "type %u", type);
	} else if (handlers[type].admin && !c->admin) {
		control_reply_str(&r->req, PROTO_EPERM, "%s needs root or "
		    "the admin group", proto_type_str(type));
	} else if ((err = handlers[type].fn(&r->req)) < 0) {
		if (err == -EPROTO || err == -EMSGSIZE)
			count_garbage(c);
		control_reply_str(&r->req, proto_status_from_errno(err),
		    "%s: %s", proto_type_str(type), strerror(-err));
	}
}

/* Handle one message; 0 to go on, 1 to stop reading for this turn
 * (nothing waits, or too many requests are unanswered), -1 when the peer
 * is gone. */
static int
client_one(struct ctl_client *c)
{
	struct proto_buf b;
	struct proto_hdr h;
	struct rq *r;
	int n, fd, had_fds;

	n = recv_message(c, &fd, &had_fds);
	if (n == -EAGAIN)
		return 1;
	if (n == 0 || (n < 0 && n != -EMSGSIZE)) {
		client_kill(c);
		return -1;
	}
	c->last_ms = loop_now_ms();
	proto_buf_init(&b, rxbuf, n < 0 ? 0 : (size_t)n);
	if (n < 0 || proto_parse_hdr(&b, &h, n) < 0 ||
	    (h.flags & PROTO_F_REPLY) || h.status != 0) {
		limit_close_fd(fd);	/* never on this thread */
		return refuse_malformed(c, n);
	}
	if (c->refused) {
		limit_close_fd(fd);	/* never on this thread */
		reply_raw(c, h.type, h.seq, PROTO_EPERM, "larderd serves root, "
		    "admin_group and client_group only");
		client_kill(c);
		return -1;
	}
	if (!(r = rq_new(c, &h, n, fd))) {
		limit_close_fd(fd);	/* never on this thread */
		reply_raw(c, h.type, h.seq, PROTO_ENOMEM, "out of memory");
		return c->dead ? -1 : 0;
	}
	dispatch(c, r, had_fds);
	if (c->dead)
		return -1;
	if (c->outstanding >= CTL_MAX_OUTSTANDING) {
		set_reading(c, 0);
		return 1;
	}
	return 0;
}

static void
on_client(int fd, uint32_t events, void *arg)
{
	struct ctl_client *c = arg;
	int i;

	(void)fd;
	if (c->dead)
		return;
	if (events & EPOLLIN) {
		/* a bounded number per turn: other peers get their turn */
		for (i = 0; i < CTL_BATCH; i++)
			if (client_one(c) != 0)
				return;
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		client_kill(c);
}

/* Close the peers that hold nothing and said nothing for idle_timeout. */
static void
idle_check(void *arg)
{
	struct ctl_client *c;
	uint64_t now = loop_now_ms(), idle = limit_idle_ms();

	(void)arg;
	idle_timer = NULL;
	for (c = clients; idle && c; c = c->next)
		if (!c->dead && !c->held && !c->outstanding &&
		    now - c->last_ms >= idle) {
			log_debug("control: pid %ld uid %ld idle: closing",
			    (long)c->pid, (long)c->uid);
			limit_idle_closed();
			client_kill(c);
		}
	/* once a second (a walk of at most 512 peers) while there are any:
	 * a reload that shortens the timeout takes effect within a second */
	if (clients)
		idle_timer = loop_timer_add(1000, idle_check, NULL);
}

static void on_accept(int fd, uint32_t events, void *arg);

/* The back-off is over: poll the listener again. */
static void
accept_resume(void *arg)
{
	(void)arg;
	accept_timer = NULL;
	if (listen_watch && loop_watch_mod(listen_watch, EPOLLIN) < 0)
		log_warn("control: watch the listener again");
}

/*
 * Admit the peer on the accepted socket s: its credentials and role
 * (access.h), the connection limits (limit.h: the last admin_connections
 * slots are for admins), then a client on the loop. On any refusal or
 * failure s is closed (our socket: no flush) and the peer is not kept.
 */
static void
admit(int s)
{
	struct ctl_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	enum access_role role;
	int admin;

	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("control: SO_PEERCRED");
		close(s);
		return;
	}
	role = peer_role(s, &cred);
	admin = role == ACCESS_ADMIN;
	if (limit_conn_add(cred.uid, admin, nclients, CTL_MAX_CLIENTS) < 0) {
		close(s);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		limit_conn_del(cred.uid, admin);
		close(s);
		return;
	}
	c->fd = s;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->admin = admin;
	c->refused = role == ACCESS_REFUSED;
	/* a refused peer is counted as any non-admin: it takes no admin
	 * slot, at most uid_max_connections of its uid's, and is let go by
	 * client_free (at its first message, or when idle_timeout closes
	 * it) */
	c->counted = !admin;
	c->last_ms = loop_now_ms();
	if (c->refused)
		log_warnx_rl(&rl_refused, "control: pid %ld uid %ld gid %ld is "
		    "not root nor in admin_group or client_group: refused",
		    (long)cred.pid, (long)cred.uid, (long)cred.gid);
	c->reading = 1;
	c->watch = loop_watch_add(s, EPOLLIN, on_client, c);
	if (!c->watch) {
		log_warn("control: watch client");
		limit_conn_del(cred.uid, admin);
		close(s);
		free(c);
		return;
	}
	c->next = clients;
	if (clients)
		clients->prev = c;
	clients = c;
	nclients++;
	log_debug("control: client pid %ld uid %ld%s", (long)c->pid,
	    (long)c->uid, c->admin ? " (admin)" : c->refused ? " (refused)" :
	    "");
	if (!idle_timer)
		idle_timer = loop_timer_add(1000, idle_check, NULL);
}

/* The listener is readable: admit up to 16 peers. Out of fds, stop
 * polling it for limit_accept_failed's back-off (a level-triggered poll
 * of a listener that stays readable would spin). */
static void
on_accept(int fd, uint32_t events, void *arg)
{
	uint64_t wait;
	int s, i;

	(void)events;
	(void)arg;
	for (i = 0; i < 16; i++) {
		s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s >= 0) {
			limit_accept_ok();
			admit(s);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		wait = limit_accept_failed(errno);
		if (!wait) {
			log_warn("control: accept");
			return;
		}
		if (loop_watch_mod(listen_watch, 0) == 0 && !accept_timer)
			accept_timer = loop_timer_add(wait, accept_resume,
			    NULL);
		return;
	}
}

/* ---- socket life --------------------------------------------------------- */

/* mkdir -p of the socket's directory (mode 0755 for what we create). */
static int
make_parent(const char *path)
{
	char dir[sizeof(sock_path)], *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Give a second group rw on the socket with a POSIX ACL (the xattr the
 * kernel reads: version 2, then entries sorted by tag, then id): the
 * socket's group is client_group, and admin_group members may not be in
 * it. 0 or -errno.
 */
static int
acl_add_group(const char *path, gid_t gid)
{
	static const uint16_t tags[] = { 0x01, 0x04, 0x08, 0x10, 0x20 };
	uint8_t acl[4 + 5 * 8], *e;
	uint32_t id;
	int i;

	acl[0] = 2;
	acl[1] = acl[2] = acl[3] = 0;
	for (i = 0; i < 5; i++) {
		e = acl + 4 + 8 * i;
		id = tags[i] == 0x08 ? (uint32_t)gid : 0xffffffffu;
		e[0] = tags[i] & 0xff;
		e[1] = tags[i] >> 8;
		e[2] = tags[i] == 0x20 ? 0 : 6;		/* rw-, other --- */
		e[3] = 0;
		e[4] = id & 0xff;
		e[5] = id >> 8 & 0xff;
		e[6] = id >> 16 & 0xff;
		e[7] = id >> 24;
	}
	if (lsetxattr(path, "system.posix_acl_access", acl, sizeof(acl), 0) < 0)
		return -errno;
	return 0;
}

/* Serve on the listening socket fd, bound at path. 0 or -errno (fd left
 * open: the caller closes it). */
static int
serve(int fd, const char *path)
{
	rxbuf = malloc(PROTO_MAX_MSG);
	txbuf = malloc(PROTO_MAX_MSG);
	if (!rxbuf || !txbuf) {
		free(rxbuf);
		free(txbuf);
		rxbuf = txbuf = NULL;
		return -ENOMEM;
	}
	listen_watch = loop_watch_add(fd, EPOLLIN, on_accept, NULL);
	if (!listen_watch) {
		free(rxbuf);
		free(txbuf);
		rxbuf = txbuf = NULL;
		return -errno;
	}
	listen_fd = fd;
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	control_register(PROTO_HELLO, handle_hello, 0);
	control_register(PROTO_PING, handle_ping, 0);
	control_register(PROTO_STATUS, handle_status, 0);
	control_register(PROTO_STATS, handle_stats, 0);
	control_add_stats(control_kv);
	limit_init();
	return 0;
}

/* Serve on a handed-over listening socket if it checks out (control.h):
 * a listening SOCK_SEQPACKET unix socket bound to path, which is there;
 * else it is closed with a log line and the caller opens a new one. */
int
control_adopt(int fd, const char *path, gid_t admin_gid, gid_t client_gid)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct stat st, pst;
	int v, err;
	socklen_t vl = sizeof(v);
	const char *why = NULL;
	gid_t sock_gid;

	admin_group = admin_gid;
	client_group = client_gid;
	sock_gid = client_gid != (gid_t)-1 ? client_gid : admin_gid;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		why = "not a socket";
	else if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vl) < 0 ||
	    v != AF_UNIX)
		why = "not a unix socket";
	else if ((vl = sizeof(v), getsockopt(fd, SOL_SOCKET, SO_TYPE, &v,
	    &vl)) < 0 || v != SOCK_SEQPACKET)
		why = "not SOCK_SEQPACKET";
	else if ((vl = sizeof(v), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v,
	    &vl)) < 0 || v != 1)
		why = "not listening";
	else if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    len <= offsetof(struct sockaddr_un, sun_path) ||
	    strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path))
	    != strlen(path) || strncmp(sa.sun_path, path, strlen(path)) != 0)
		why = "bound to another path than `socket'";
	else if (lstat(path, &pst) < 0 || !S_ISSOCK(pst.st_mode))
		why = "its path is gone";
	if (why) {
		handover_rejected(HO_CONTROL);
		log_warnx("control: handed-over socket (fd %d): %s: closed", fd,
		    why);
		close(fd);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    (sock_gid != (gid_t)-1 && chown(path, (uid_t)-1, sock_gid) < 0)) {
		err = -errno;
		log_warn("control: handed-over socket %s", path);
		close(fd);
		return err;
	}
	if ((err = serve(fd, path)) < 0) {
		close(fd);
		return err;
	}
	log_info("control: socket %s adopted (clients waiting in its backlog "
	    "are served now)", path);
	return 0;
}

void
control_hand_over(void)
{
	hand_over = 1;
}

int
control_listen_fd(void)
{
	return listen_fd;
}

/*
 * Listen on path (control.h): make its directory, replace a dead larderd's
 * stale socket (-EADDRINUSE if one answers there, -EEXIST if it is not a
 * socket), bind with mode 0660 and its group (plus an ACL for admin_group
 * when both groups are set), listen and serve. 0 or -errno, the path
 * removed again on failure.
 */
int
control_open(const char *path, gid_t admin_gid, gid_t client_gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	gid_t sock_gid;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	admin_group = admin_gid;
	client_group = client_gid;
	if ((err = make_parent(path)) < 0)
		return err;
	/* another larderd answering there? a dead one's socket is stale */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return -EADDRINUSE;
		}
		close(fd);
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0117);	/* never a moment with wider rights */
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err < 0)
		goto fail;
	if (chmod(path, 0660) < 0)
		goto fail_unlink;
	/* the socket's group: who may connect at all (access.h decides
	 * the rest); client_group, else admin_group, else root's */
	sock_gid = client_gid != (gid_t)-1 ? client_gid : admin_gid;
	if (sock_gid != (gid_t)-1 && chown(path, (uid_t)-1, sock_gid) < 0)
		goto fail_unlink;
	if (client_gid != (gid_t)-1 && admin_gid != (gid_t)-1 &&
	    admin_gid != client_gid && (err = acl_add_group(path,
	    admin_gid)) < 0)
		log_warnx("control: %s: cannot give admin_group access with "
		    "an ACL (%s): admin_group members not in client_group "
		    "cannot connect", path, strerror(-err));
	if (listen(fd, 128) < 0)
		goto fail_unlink;
	if ((err = serve(fd, path)) < 0) {
		errno = -err;
		goto fail_unlink;
	}
	return 0;

fail_unlink:
	err = -errno;
	unlink(path);
	close(fd);
	return err;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* Stop accepting, drop every peer (their holdings are released), remove
 * the socket. */
void
control_close(void)
{
	struct provider *p;

	if (listen_watch)
		loop_watch_del(listen_watch);
	listen_watch = NULL;
	if (listen_fd >= 0) {
		close(listen_fd);
		if (!hand_over)		/* the successor listens on it */
			unlink(sock_path);
	}
	listen_fd = -1;
	while (clients)
		client_free(clients);
	if (reap_timer)
		loop_timer_cancel(reap_timer);
	reap_timer = NULL;
	if (idle_timer)
		loop_timer_cancel(idle_timer);
	idle_timer = NULL;
	if (accept_timer)
		loop_timer_cancel(accept_timer);
	accept_timer = NULL;
	limit_fini();
	while ((p = status_providers) != NULL) {
		status_providers = p->next;
		free(p);
	}
	while ((p = stats_providers) != NULL) {
		stats_providers = p->next;
		free(p);
	}
	free(rxbuf);
	free(txbuf);
	rxbuf = txbuf = NULL;
}

/* Stop accepting new peers but keep serving connected ones (shutdown). */
void
control_stop_accepting(void)
{
	if (listen_watch)
		loop_watch_del(listen_watch);
	listen_watch = NULL;
	if (accept_timer)
		loop_timer_cancel(accept_timer);
	accept_timer = NULL;
	/* handing over: keep it open; connects wait in its backlog for the
	 * successor */
	if (listen_fd >= 0 && !hand_over) {
		close(listen_fd);
		unlink(sock_path);
		listen_fd = -1;
	}
}

/* A reload: peers that connect from now on are judged with these groups;
 * connected peers keep the rights they had (larder.conf(5)), and the
 * socket keeps its group and mode until a restart. */
void
control_set_groups(gid_t admin_gid, gid_t client_gid)
{
	if (admin_gid != admin_group || client_gid != client_group)
		log_info("control: admin_group or client_group changed: new "
		    "connections are judged by it; the socket's group and "
		    "connected peers keep theirs");
	admin_group = admin_gid;
	client_group = client_gid;
}
