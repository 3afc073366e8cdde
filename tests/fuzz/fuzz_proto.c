/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_proto.c: libFuzzer target for the wire protocol decoders.
 *
 * One input is one packet. The header goes through proto_parse_hdr; the
 * body is read with the proto_get_* helpers in the layout proto.h gives
 * for its type: as the daemon reads a request, or (PROTO_F_REPLY) as
 * liblarder and larderctl read a reply. Cookie replies go through
 * liblarder's own decoder (lib/client.c is included for its statics).
 * When the daemon grows a request decoder of its own, point
 * decode_request at it.
 *
 *   make fuzz && tests/fuzz/fuzz_proto -max_total_time=120 \
 *       "$(mktemp -d)" tests/fuzz/seeds/proto
 * (the first directory collects new inputs; the seeds stay as they are)
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "../../lib/client.c"

#define SHM_SIZE	(4u * 1024 * 1024)	/* the area a daemon would hold */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A str into a fixed buffer, as both sides read keys. */
static void
str(struct proto_buf *b, size_t max)
{
	char out[PROTO_MAX_STR + 1];

	if (proto_get_str(b, out, max + 1) == 0)
		assert(strlen(out) <= max);
}

static void
bytes(struct proto_buf *b, size_t min, size_t max)
{
	struct proto_bytes x = proto_get_bytes(b);

	if (b->err)
		return;
	assert(x.len == 0 || x.ptr != NULL);
	if (x.len < min || x.len > max)
		b->err = -EINVAL;
}

/* What the daemon does with a request body. */
static void
decode_request(struct proto_buf *b, const struct proto_hdr *h)
{
	uint64_t size, off, len, shm_off;
	uint32_t flags, mode;

	switch (h->type) {
	case PROTO_HELLO:
		flags = proto_get_u32(b);
		size = proto_get_u64(b);
		if (!b->err && (flags & PROTO_HELLO_SHM) && size > PROTO_MAX_SHM)
			b->err = -EINVAL;
		break;
	case PROTO_VOLUME_ACQUIRE:
		(void)proto_get_u32(b);
		str(b, PROTO_MAX_VOLUME_KEY);
		bytes(b, 0, PROTO_MAX_AUX);
		break;
	case PROTO_VOLUME_RELINQUISH:
	case PROTO_COOKIE_RELINQUISH:
	case PROTO_COOKIE_REFRESH:
		(void)proto_get_u32(b);
		(void)proto_get_u32(b);
		break;
	case PROTO_COOKIE_ACQUIRE:
		(void)proto_get_u32(b);
		(void)proto_get_u32(b);
		size = proto_get_u64(b);
		bytes(b, 1, PROTO_MAX_COOKIE_KEY);
		bytes(b, 0, PROTO_MAX_AUX);
		if (!b->err && size > INT64_MAX)
			b->err = -EINVAL;
		break;
	case PROTO_WRITE:
		(void)proto_get_u32(b);
		flags = proto_get_u32(b);
		off = proto_get_u64(b);
		len = proto_get_u64(b);
		shm_off = proto_get_u64(b);
		if (b->err)
			break;
		if (off > INT64_MAX || len > INT64_MAX - off) {
			b->err = -EINVAL;
			break;
		}
		if (flags & PROTO_WRITE_SHM) {
			if (shm_off > SHM_SIZE || len > SHM_SIZE - shm_off)
				b->err = -EINVAL;
		} else if (proto_get_raw(b, len) == NULL)
			assert(b->err);
		break;
	case PROTO_INVALIDATE:
		(void)proto_get_u32(b);
		(void)proto_get_u32(b);
		(void)proto_get_u64(b);
		bytes(b, 0, PROTO_MAX_AUX);
		break;
	case PROTO_LIST_VOLUMES:
		(void)proto_get_u32(b);
		break;
	case PROTO_LIST_OBJECTS:
		(void)proto_get_u32(b);
		str(b, PROTO_MAX_VOLUME_KEY);
		break;
	case PROTO_DROP:
		str(b, PROTO_MAX_VOLUME_KEY);
		bytes(b, 0, PROTO_MAX_COOKIE_KEY);
		break;
	case PROTO_CULL:
		mode = proto_get_u32(b);
		(void)proto_get_u64(b);
		if (!b->err && mode > PROTO_CULL_TO_PERCENT)
			b->err = -EINVAL;
		break;
	case PROTO_FREEZE:
		(void)proto_get_u32(b);
		(void)proto_get_u32(b);
		break;
	default:
		/* PING, STATUS, STATS, THAW, SUSPEND, RESUME, RELOAD: empty */
		break;
	}
}

/* u32 next, u32 count, records of at least minrec bytes (larderctl). */
static void
decode_list(struct proto_buf *b, int objects)
{
	uint32_t count, i;

	(void)proto_get_u32(b);
	count = proto_get_u32(b);
	if (b->err || count > proto_remaining(b) / (objects ? 32 : 18))
		return;
	for (i = 0; i < count && !b->err; i++) {
		str(b, PROTO_MAX_STR);
		if (objects)
			bytes(b, 0, PROTO_MAX_COOKIE_KEY);
		(void)proto_get_u64(b);
		(void)proto_get_u64(b);
		if (objects) {
			(void)proto_get_u64(b);
			(void)proto_get_u32(b);
		}
	}
}

static void
decode_kv(struct proto_buf *b)
{
	uint32_t count, i;

	count = proto_get_u32(b);
	if (b->err || count > proto_remaining(b) / 5)
		return;
	for (i = 0; i < count && !b->err; i++) {
		switch (proto_get_u8(b)) {
		case PROTO_KV_U64:
		case PROTO_KV_S64:
			str(b, PROTO_MAX_STR);
			(void)proto_get_u64(b);
			break;
		case PROTO_KV_STR:
			str(b, PROTO_MAX_STR);
			str(b, PROTO_MAX_STR);
			break;
		default:
			b->err = -EPROTO;
		}
	}
}

/* What liblarder and larderctl do with a reply body. */
static void
decode_reply(struct proto_buf *b, const struct proto_hdr *h)
{
	struct cookie_state st;
	uint32_t i;

	if (h->status != PROTO_OK) {
		assert(proto_status_to_errno(h->status) < 0);
		(void)proto_status_str(h->status);
		if (proto_remaining(b))
			str(b, PROTO_MAX_STR - 1);
		return;
	}
	switch (h->type) {
	case PROTO_HELLO:
		(void)proto_get_u32(b);
		(void)proto_get_u32(b);
		(void)proto_get_u64(b);
		(void)proto_get_u32(b);
		break;
	case PROTO_VOLUME_ACQUIRE:
		(void)proto_get_u32(b);
		(void)proto_get_u32(b);
		break;
	case PROTO_COOKIE_ACQUIRE:
	case PROTO_COOKIE_REFRESH:
	case PROTO_INVALIDATE:
		if (get_cookie_state(b, &st) == 0) {
			/* what the client keeps is sorted, merged, in range */
			for (i = 0; i < st.map.count; i++) {
				assert(st.map.ext[i].len > 0);
				assert(st.map.ext[i].start + st.map.ext[i].len <=
				    st.size);
				assert(i == 0 || st.map.ext[i].start >
				    st.map.ext[i - 1].start + st.map.ext[i - 1].len);
				assert(cfmt_map_covers(&st.map, st.map.ext[i].start,
				    st.map.ext[i].len));
			}
			assert(st.map.count <= PROTO_MAX_EXTENTS);
			cfmt_map_free(&st.map);
		}
		break;
	case PROTO_WRITE:
		(void)proto_get_u64(b);
		break;
	case PROTO_LIST_VOLUMES:
		decode_list(b, 0);
		break;
	case PROTO_LIST_OBJECTS:
		decode_list(b, 1);
		break;
	case PROTO_STATUS:
	case PROTO_STATS:
		decode_kv(b);
		break;
	case PROTO_CULL:
		(void)proto_get_u64(b);
		(void)proto_get_u64(b);
		break;
	default:
		if (proto_remaining(b))
			str(b, PROTO_MAX_STR);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[PROTO_MAX_MSG];
	struct proto_buf b;
	struct proto_hdr h;

	if (size > sizeof(msg))
		return 0;
	memcpy(msg, data, size);
	proto_buf_init(&b, msg, sizeof(msg));
	if (proto_parse_hdr(&b, &h, size) < 0)
		return 0;
	assert(h.len == size && b.off == PROTO_HDR_SIZE);
	(void)proto_type_str(h.type);
	if (h.flags & PROTO_F_REPLY)
		decode_reply(&b, &h);
	else
		decode_request(&b, &h);
	/* the decoder never reads past the message */
	assert(b.off <= size);
	return 0;
}
