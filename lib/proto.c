/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto.c: bounds-checked encoding of the wire protocol (see proto.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

void
proto_buf_init(struct proto_buf *b, void *data, size_t size)
{
	b->data = data;
	b->size = size;
	b->off = 0;
	b->err = 0;
}

/* Reserve n bytes for writing; NULL (and err set) when they do not fit. */
static uint8_t *
reserve(struct proto_buf *b, size_t n)
{
	uint8_t *p;

	if (b->err)
		return NULL;
	if (n > b->size - b->off) {
		b->err = -EMSGSIZE;
		return NULL;
	}
	p = b->data + b->off;
	b->off += n;
	return p;
}

/* Take n bytes for reading; NULL (and err set) when the message is short. */
static const uint8_t *
take(struct proto_buf *b, size_t n)
{
	const uint8_t *p;

	if (b->err)
		return NULL;
	if (n > b->size - b->off) {
		b->err = -EPROTO;
		return NULL;
	}
	p = b->data + b->off;
	b->off += n;
	return p;
}

void
proto_put_u8(struct proto_buf *b, uint8_t v)
{
	uint8_t *p = reserve(b, 1);

	if (p)
		p[0] = v;
}

void
proto_put_u16(struct proto_buf *b, uint16_t v)
{
	uint8_t *p = reserve(b, 2);

	if (p) {
		p[0] = v;
		p[1] = v >> 8;
	}
}

void
proto_put_u32(struct proto_buf *b, uint32_t v)
{
	uint8_t *p = reserve(b, 4);
	int i;

	if (p)
		for (i = 0; i < 4; i++)
			p[i] = v >> (8 * i);
}

void
proto_put_u64(struct proto_buf *b, uint64_t v)
{
	uint8_t *p = reserve(b, 8);
	int i;

	if (p)
		for (i = 0; i < 8; i++)
			p[i] = v >> (8 * i);
}

void
proto_put_raw(struct proto_buf *b, const void *src, size_t len)
{
	uint8_t *p = reserve(b, len);

	if (p && len)
		memcpy(p, src, len);
}

void
proto_put_bytes(struct proto_buf *b, const void *src, size_t len)
{
	if (len > UINT16_MAX) {
		if (!b->err)
			b->err = -EMSGSIZE;
		return;
	}
	proto_put_u16(b, len);
	proto_put_raw(b, src, len);
}

void
proto_put_str(struct proto_buf *b, const char *s)
{
	proto_put_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

uint8_t
proto_get_u8(struct proto_buf *b)
{
	const uint8_t *p = take(b, 1);

	return p ? p[0] : 0;
}

uint16_t
proto_get_u16(struct proto_buf *b)
{
	const uint8_t *p = take(b, 2);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t
proto_get_u32(struct proto_buf *b)
{
	const uint8_t *p = take(b, 4);
	uint32_t v = 0;
	int i;

	if (p)
		for (i = 3; i >= 0; i--)
			v = v << 8 | p[i];
	return v;
}

uint64_t
proto_get_u64(struct proto_buf *b)
{
	const uint8_t *p = take(b, 8);
	uint64_t v = 0;
	int i;

	if (p)
		for (i = 7; i >= 0; i--)
			v = v << 8 | p[i];
	return v;
}

const void *
proto_get_raw(struct proto_buf *b, size_t len)
{
	return take(b, len);
}

struct proto_bytes
proto_get_bytes(struct proto_buf *b)
{
	struct proto_bytes r = { NULL, 0 };
	uint16_t len = proto_get_u16(b);
	const uint8_t *p = take(b, len);

	if (p) {
		r.ptr = p;
		r.len = len;
	}
	return r;
}

int
proto_get_str(struct proto_buf *b, char *out, size_t outsz)
{
	struct proto_bytes s = proto_get_bytes(b);

	if (outsz)
		out[0] = '\0';
	if (b->err)
		return b->err;
	if (s.len >= outsz || (s.len && memchr(s.ptr, '\0', s.len))) {
		b->err = -EPROTO;
		return b->err;
	}
	if (s.len)
		memcpy(out, s.ptr, s.len);
	out[s.len] = '\0';
	return 0;
}

size_t
proto_remaining(const struct proto_buf *b)
{
	return b->err ? 0 : b->size - b->off;
}

void
proto_begin(struct proto_buf *b, uint16_t type, uint32_t seq, uint16_t flags,
    uint16_t status)
{
	b->off = 0;
	b->err = 0;
	proto_put_u16(b, PROTO_VERSION);
	proto_put_u16(b, type);
	proto_put_u32(b, 0);
	proto_put_u32(b, seq);
	proto_put_u16(b, flags);
	proto_put_u16(b, status);
}

int
proto_finish(struct proto_buf *b)
{
	size_t len = b->off;

	if (b->err)
		return b->err;
	if (len < PROTO_HDR_SIZE || len > PROTO_MAX_MSG)
		return -EMSGSIZE;
	b->off = 4;
	proto_put_u32(b, len);
	b->off = len;
	return 0;
}

int
proto_parse_hdr(struct proto_buf *b, struct proto_hdr *h, size_t msglen)
{
	if (msglen < PROTO_HDR_SIZE || msglen > PROTO_MAX_MSG ||
	    msglen > b->size)
		return -EPROTO;
	b->size = msglen;
	b->off = 0;
	b->err = 0;
	h->version = proto_get_u16(b);
	h->type = proto_get_u16(b);
	h->len = proto_get_u32(b);
	h->seq = proto_get_u32(b);
	h->flags = proto_get_u16(b);
	h->status = proto_get_u16(b);
	if (h->version != PROTO_VERSION || h->len != msglen)
		return -EPROTO;
	return 0;
}

/* A key/value record: u8 kind, str key, value. */
static void
put_kv_head(struct proto_buf *b, uint8_t kind, const char *key)
{
	proto_put_u8(b, kind);
	proto_put_str(b, key);
}

void
proto_put_kv_u64(struct proto_buf *b, const char *key, uint64_t v)
{
	put_kv_head(b, PROTO_KV_U64, key);
	proto_put_u64(b, v);
}

void
proto_put_kv_s64(struct proto_buf *b, const char *key, int64_t v)
{
	put_kv_head(b, PROTO_KV_S64, key);
	proto_put_u64(b, (uint64_t)v);
}

void
proto_put_kv_str(struct proto_buf *b, const char *key, const char *v)
{
	put_kv_head(b, PROTO_KV_STR, key);
	proto_put_str(b, v);
}

static const struct {
	int err;
	uint16_t status;
	const char *text;
} statuses[] = {
	{ 0, PROTO_OK, "ok" },
	{ EIO, PROTO_ERR, "internal error" },
	{ EINVAL, PROTO_EINVAL, "invalid argument" },
	{ EPROTO, PROTO_EPROTO, "protocol error" },
	{ ENOENT, PROTO_ENOENT, "not found" },
	{ ENODATA, PROTO_ENODATA, "not cached" },
	{ ENOBUFS, PROTO_ENOBUFS, "cache cannot take it now" },
	{ EPERM, PROTO_EPERM, "permission denied" },
	{ ECANCELED, PROTO_EREFUSED, "refused by policy" },
	{ EBUSY, PROTO_EBUSY, "in use" },
	{ ENOSPC, PROTO_ENOSPC, "no space" },
	{ EIO, PROTO_EIO, "cache filesystem I/O error" },
	{ ENOMEM, PROTO_ENOMEM, "out of memory" },
	{ ESTALE, PROTO_ESTALE, "stale" },
};

uint16_t
proto_status_from_errno(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	if (err == EACCES)
		return PROTO_EPERM;
	if (err == EMSGSIZE || err == EBADMSG)
		return PROTO_EPROTO;
	if (err == ENAMETOOLONG)
		return PROTO_EINVAL;
	if (err == EROFS || err == EAGAIN)
		return PROTO_ENOBUFS;
	/* skip PROTO_ERR's EIO so EIO maps to PROTO_EIO */
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].err == err && statuses[i].status != PROTO_ERR)
			return statuses[i].status;
	return PROTO_ERR;
}

int
proto_status_to_errno(uint16_t status)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].status == status)
			return -statuses[i].err;
	return -EIO;
}

const char *
proto_status_str(uint16_t status)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].status == status)
			return statuses[i].text;
	return "unknown status";
}

const char *
proto_type_str(uint16_t type)
{
	switch (type) {
	case PROTO_HELLO: return "hello";
	case PROTO_PING: return "ping";
	case PROTO_VOLUME_ACQUIRE: return "volume-acquire";
	case PROTO_VOLUME_RELINQUISH: return "volume-relinquish";
	case PROTO_COOKIE_ACQUIRE: return "cookie-acquire";
	case PROTO_COOKIE_RELINQUISH: return "cookie-relinquish";
	case PROTO_COOKIE_REFRESH: return "cookie-refresh";
	case PROTO_WRITE: return "write";
	case PROTO_INVALIDATE: return "invalidate";
	case PROTO_LIST_VOLUMES: return "list-volumes";
	case PROTO_LIST_OBJECTS: return "list-objects";
	case PROTO_VOLUME_ACCESS: return "volume-access";
	case PROTO_LIST_VOLUME_STATS: return "list-volume-stats";
	case PROTO_STATUS: return "status";
	case PROTO_STATS: return "stats";
	case PROTO_DROP: return "drop";
	case PROTO_CULL: return "cull";
	case PROTO_FREEZE: return "freeze";
	case PROTO_THAW: return "thaw";
	case PROTO_SUSPEND: return "suspend";
	case PROTO_RESUME: return "resume";
	case PROTO_RELOAD: return "reload";
	}
	return "unknown";
}

void
proto_msg_fd(struct msghdr *mh, union proto_fdbuf *buf, int fd)
{
	struct cmsghdr *c;

	if (fd < 0)
		return;
	memset(buf, 0, sizeof(*buf));
	mh->msg_control = buf->buf;
	mh->msg_controllen = sizeof(buf->buf);
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
}

int
proto_send(int sock, const void *msg, size_t len, int fd)
{
	struct iovec iov = { (void *)msg, len };
	union proto_fdbuf u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	proto_msg_fd(&mh, &u, fd);
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/*
 * Contract in proto.h. One recvmsg (EINTR retried) of a SEQPACKET
 * message. The peer is not trusted with fds either: room is made for up
 * to four so that extra ones arrive and can be closed rather than be
 * lost to MSG_CTRUNC; only the first is kept, and only when the caller
 * asked (fd != NULL); every other fd is closed, with O_CLOEXEC from the
 * start (MSG_CMSG_CLOEXEC). A truncated message or control block closes
 * the kept fd too and gives -EMSGSIZE. Any thread; liblarder calls it
 * under its connection mutex.
 */
int
proto_recv(int sock, void *buf, size_t size, int *fd)
{
	struct iovec iov = { buf, size };
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int got = -1, extra;
	size_t i, nfd;

	if (fd)
		*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&extra, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < 0 && fd)
				got = extra;
			else
				close(extra);	/* never leak an fd we did not ask for */
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (got >= 0)
			close(got);
		return -EMSGSIZE;
	}
	if (fd)
		*fd = got;
	else if (got >= 0)
		close(got);
	return n;
}
