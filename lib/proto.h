/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto.h: larder's wire protocol, the one place it is defined.
 *
 * Transport: a SOCK_SEQPACKET unix socket, one message per packet, at most
 * PROTO_MAX_MSG bytes. Every message starts with struct proto_hdr. All
 * integers are little-endian on the wire and are read and written only
 * through the proto_buf helpers (proto.c), never by casting a struct over
 * the bytes. The client sends requests; the daemon answers each with one
 * reply carrying the same type and seq and PROTO_F_REPLY in flags.
 * The client may send a request before it has read the reply to an
 * earlier one (liblarder does so for COOKIE_RELINQUISH without RETIRE):
 * the daemon handles requests in the order they arrive, and replies are
 * matched by seq.
 *
 * Type numbers live in ranges (100s session, 200s cache operations, 300s
 * admin) and are never reused: a retired type stays here as "unused".
 *
 * A reply whose status is not PROTO_OK may carry a body of one proto_str
 * with a human-readable reason ("freeze policy is refuse").
 *
 * File descriptors travel as SCM_RIGHTS ancillary data: the shared-memory
 * area with HELLO, the read-only object fd with cookie replies that set
 * PROTO_COOKIE_HAVE_FD.
 */
#ifndef LARDER_PROTO_H
#define LARDER_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROTO_VERSION		1
#define PROTO_MAX_MSG		(64 * 1024)
#define PROTO_HDR_SIZE		16
/* inline fill data: what fits in one message beside the WRITE fields */
#define PROTO_MAX_INLINE	(PROTO_MAX_MSG - PROTO_HDR_SIZE - 32)
#define PROTO_MAX_VOLUME_KEY	254
#define PROTO_MAX_COOKIE_KEY	255
#define PROTO_MAX_AUX		255	/* cookie aux and volume coherency data */
#define PROTO_MAX_EXTENTS	1024	/* extents in one map reply */
#define PROTO_MAX_STR		4096

/*
 * Header, 16 bytes:
 *   0 u16 version    PROTO_VERSION
 *   2 u16 type       enum proto_type
 *   4 u32 len        whole message, header included
 *   8 u32 seq        chosen by the client, echoed in the reply
 *  12 u16 flags      PROTO_F_*
 *  14 u16 status     enum proto_status (replies; 0 in requests)
 */
struct proto_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t len;
	uint32_t seq;
	uint16_t flags;
	uint16_t status;
};

#define PROTO_F_REPLY		0x0001

enum proto_type {
	/* 100s: session */
	PROTO_HELLO = 100,
	PROTO_PING = 101,
	PROTO_GENTAB = 102,		/* the read-only generation table */

	/* 200s: cache operations (any peer) */
	PROTO_VOLUME_ACQUIRE = 200,
	PROTO_VOLUME_RELINQUISH = 201,
	PROTO_COOKIE_ACQUIRE = 202,
	PROTO_COOKIE_RELINQUISH = 203,
	PROTO_COOKIE_REFRESH = 204,
	PROTO_WRITE = 205,
	PROTO_INVALIDATE = 206,
	PROTO_COOKIE_PARKED = 207,	/* batch of parked-cookie events, no reply */
	PROTO_LIST_VOLUMES = 210,
	PROTO_LIST_OBJECTS = 211,
	PROTO_VOLUME_ACCESS = 212,
	PROTO_LIST_VOLUME_STATS = 213,	/* LIST_VOLUMES rows + hits, misses, fills */

	/* 300s: admin (status, stats and DROP of one object: any peer; the
	 * rest, and DROP of a whole volume: root or admin_group) */
	PROTO_STATUS = 300,
	PROTO_STATS = 301,
	PROTO_DROP = 302,		/* invalidate VOLUME [KEY] from larderctl */
	PROTO_CULL = 303,
	PROTO_FREEZE = 304,
	PROTO_THAW = 305,
	PROTO_SUSPEND = 306,
	PROTO_RESUME = 307,
	PROTO_RELOAD = 308,
};

/* Status codes; larderctl maps them to messages and exit codes. */
enum proto_status {
	PROTO_OK = 0,
	PROTO_ERR = 1,		/* internal error (see reason) */
	PROTO_EINVAL = 2,	/* bad argument: key, size, range */
	PROTO_EPROTO = 3,	/* malformed message, wrong version */
	PROTO_ENOENT = 4,	/* no such volume, cookie or object */
	PROTO_ENODATA = 5,	/* range not cached */
	PROTO_ENOBUFS = 6,	/* cache cannot take it now: full, frozen, suspended */
	PROTO_EPERM = 7,	/* needs root or admin_group */
	PROTO_EREFUSED = 8,	/* refused by policy (freeze refuse, nocull) */
	PROTO_EBUSY = 9,	/* in use */
	PROTO_ENOSPC = 10,	/* no space and nothing can be culled */
	PROTO_EIO = 11,		/* the cache filesystem failed */
	PROTO_ENOMEM = 12,
	PROTO_ESTALE = 13,	/* object changed under the request */
	PROTO_STATUS_MAX = 14,
};

/* ---- 100 HELLO ----------------------------------------------------------
 * request: u32 flags, u64 shm_size; SCM_RIGHTS: a memfd of shm_size bytes
 *          when PROTO_HELLO_SHM is set (the large-fill area; liblarder
 *          seals it with F_SEAL_SHRINK | F_SEAL_GROW, so the daemon may
 *          check the seals and map it without fear of SIGBUS)
 * reply:   u32 version, u32 max_inline, u64 shm_size (0: not accepted),
 *          u32 daemon pid, u32 features (PROTO_FEATURE_*; absent from
 *          daemons that predate it: read it only when the bytes are there)
 */
#define PROTO_HELLO_SHM		0x0001
#define PROTO_FEATURE_NOREPLY	0x0001	/* COOKIE_RELINQUISH takes NOREPLY */
#define PROTO_FEATURE_GENTAB	0x0002	/* GENTAB and COOKIE_PARKED exist */
#define PROTO_FEATURE_ZCOPY	0x0004	/* WRITE takes PROTO_WRITE_ZCOPY */
#define PROTO_MAX_SHM		(1ULL << 30)
/* The area in PROTO_SHM_SLOTS slots of proto_shm_slot(size) bytes each
 * (the last ones may be short or empty): the busy masks of WRITE replies
 * (PROTO_WRITE_ZCOPY) have one bit per slot, slot k in bit k. */
#define PROTO_SHM_SLOTS		64
static inline uint64_t
proto_shm_slot(uint64_t shm_size)
{
	return (shm_size + PROTO_SHM_SLOTS - 1) / PROTO_SHM_SLOTS;
}

/* ---- 102 GENTAB ---------------------------------------------------------
 * Only to daemons announcing PROTO_FEATURE_GENTAB; at most once per
 * connection (a second one gets EBUSY).
 * request: empty
 * reply:   u32 slots (1..PROTO_MAX_SLOTS); SCM_RIGHTS: a read-only fd of a
 *          memfd of slots x u64 generations in host byte order
 *          (the area is shared on one host), sealed against shrinking,
 *          growing and any new writable mapping (F_SEAL_FUTURE_WRITE), so
 *          the client maps it PROT_READ and can never write it.
 * The table is this connection's alone. Each cookie handle the daemon gives
 * this connection may own a slot (named in the COOKIE_ACQUIRE reply); the
 * daemon bumps the slot's generation (a release store) whenever the handle
 * ends or its object changes (invalidated, replaced, dropped or retired,
 * its volume's coherency changed, picked by the culler, evicted from the
 * daemon's memory, suspend), before it acts. A client that loads an
 * unchanged generation (acquire load) knows its parked handle, its fd and
 * map still stand.
 */
#define PROTO_MAX_SLOTS		65536
#define PROTO_SLOT_NONE		0xffffffffu

/* ---- 200 VOLUME_ACQUIRE --------------------------------------------------
 * request: u32 flags, str key, bytes coherency
 * reply:   u32 volume_id, u32 flags (PROTO_VOLUME_* result bits)
 * PROTO_VOLUME_ANY_COHERENCY: use the volume as it is (larderctl); create it
 * with empty coherency data if it does not exist.
 */
#define PROTO_VOLUME_ANY_COHERENCY	0x0001
#define PROTO_VOLUME_CREATED		0x0001	/* reply: volume was new */
#define PROTO_VOLUME_INVALIDATED	0x0002	/* reply: old volume had other coherency */

/* ---- 201 VOLUME_RELINQUISH -----------------------------------------------
 * request: u32 volume_id, u32 flags (PROTO_RELINQUISH_RETIRE: drop the
 *          volume's objects); reply: empty
 */
#define PROTO_RELINQUISH_RETIRE		0x0001
#define PROTO_RELINQUISH_NOREPLY	0x0002	/* cookies only */

/* ---- 202 COOKIE_ACQUIRE --------------------------------------------------
 * request: u32 volume_id, u32 flags, u64 object_size, bytes key, bytes aux
 * reply:   struct proto_cookie_state (below); SCM_RIGHTS: a read-only fd of
 *          the object when PROTO_COOKIE_HAVE_FD is set
 * PROTO_COOKIE_ANY_AUX: open whatever object is there, never replace it
 * (larderctl get); object_size and aux in the request are then ignored.
 *
 * ---- 204 COOKIE_REFRESH --------------------------------------------------
 * request: u32 cookie_id, u32 generation the client holds an fd for
 *          (0: it holds none; the daemon numbers generations from 1)
 * reply:   struct proto_cookie_state; an fd is attached when the daemon's
 *          generation differs from the client's (object replaced or created)
 *
 * proto_cookie_state on the wire:
 *   u32 cookie_id, u32 flags, u32 generation, u32 nr_extents,
 *   u64 object_size, then nr_extents x (u64 start, u64 len), sorted,
 *   non-overlapping: the byte ranges that hold cached data.
 * COOKIE_ACQUIRE replies on a connection that has a GENTAB add after the
 * extents: u32 slot (PROTO_SLOT_NONE: none; the handle cannot be parked),
 * u64 the slot's generation now. Clients that never asked for a GENTAB
 * never get these bytes.
 */
#define PROTO_COOKIE_ANY_AUX		0x0001
#define PROTO_COOKIE_HAVE_FD		0x0001	/* reply: fd attached */
#define PROTO_COOKIE_NEW		0x0002	/* reply: no object existed (or it was stale) */
#define PROTO_COOKIE_NO_CACHE		0x0004	/* reply: caching disabled for now; reads miss, writes ENOBUFS */
#define PROTO_COOKIE_MAP_TRUNCATED	0x0008	/* reply: more than PROTO_MAX_EXTENTS extents */

/* ---- 203 COOKIE_RELINQUISH ------------------------------------------------
 * request: u32 cookie_id, u32 flags (PROTO_RELINQUISH_RETIRE: delete the
 *          object; PROTO_RELINQUISH_NOREPLY: send no reply at all, not
 *          even an error, only to daemons announcing PROTO_FEATURE_NOREPLY)
 * reply:   empty (none with NOREPLY)
 * A cookie with a GENTAB slot is not relinquished but parked: see 207.
 *
 * ---- 205 WRITE -----------------------------------------------------------
 * request: u32 cookie_id, u32 flags, u64 offset, u64 len, u64 shm_offset,
 *          then len inline bytes unless PROTO_WRITE_SHM (then the bytes are
 *          at shm_offset in the HELLO area)
 * reply:   u64 bytes accepted
 * The daemon acknowledges once the bytes are in the object (page cache);
 * the on-disk map claims them only after they are durable.
 *
 * PROTO_WRITE_ZCOPY (only to daemons announcing PROTO_FEATURE_ZCOPY): the
 * client keeps its hands off the slots the daemon says it still reads,
 * so the daemon writes the bytes straight from the area (no copy of its
 * own), and may still be reading them when it answers (a fill stuck on a
 * frozen filesystem answers ENOBUFS early). Every reply to such a WRITE
 * that the daemon answers itself carries, after the body (after u64 bytes
 * accepted, or after the reason of an error), u64 busy: the slots of the
 * area (PROTO_SHM_SLOTS) that a write of this connection may still read
 * when the reply is sent. The client must not change a byte of a busy
 * slot; a slot once reported free stays free until the client sends a
 * WRITE from it again. A reply without the mask (a request refused before
 * it was looked at) read nothing from the area. Flag valid with inline
 * bytes too (the reply then only reports the mask).
 */
#define PROTO_WRITE_SHM			0x0001
#define PROTO_WRITE_ZCOPY		0x0002

/* ---- 207 COOKIE_PARKED ---------------------------------------------------
 * Only to daemons announcing PROTO_FEATURE_GENTAB. Never answered, not even
 * with an error: an entry that does not check out is ignored and changes
 * nothing (counted in store.parked_ignored).
 * request: u32 count (1..PROTO_MAX_PARKED), count x (u32 cookie_id, u32 op,
 *          u32 slot, u64 generation): the handle, its slot and the slot's
 *          generation as the client last saw it; an entry applies only if
 *          the handle owns that slot and the generation is still current.
 * op PROTO_PARK_PARK: the client relinquished the cookie (no retire) and
 *   keeps it: the handle stops pinning its object (the culler may take it,
 *   after bumping the slot) and its use ends now, for recency. If the
 *   handle owns the slot but the generation moved (the object changed
 *   while held), or the daemon's cap on parked handles is reached, the
 *   handle is released instead (and the slot bumped).
 * op PROTO_PARK_USE: the client acquired the parked cookie again without a
 *   round trip: a new use of the object (recency, hit counters); the
 *   handle stays parked and revocable.
 * op PROTO_PARK_RELEASE: the client forgot the parked cookie: the handle
 *   is released as by a relinquish.
 * liblarder sends a batch when it holds PROTO_PARK_BATCH entries, when its
 * oldest entry is PROTO_PARK_AGE_MS old (checked at each liblarder call),
 * before any other request and at disconnect, so the daemon's recency is
 * behind by at most that bound.
 */
#define PROTO_PARK_PARK			1
#define PROTO_PARK_USE			2
#define PROTO_PARK_RELEASE		3
#define PROTO_PARK_ENTRY		20
#define PROTO_MAX_PARKED	((PROTO_MAX_MSG - PROTO_HDR_SIZE - 4) / PROTO_PARK_ENTRY)
#define PROTO_PARK_BATCH		64
#define PROTO_PARK_AGE_MS		100

/* ---- 206 INVALIDATE ------------------------------------------------------
 * request: u32 cookie_id, u32 flags, u64 new_object_size, bytes aux
 * reply:   struct proto_cookie_state (empty map, no fd)
 *
 * ---- 210 LIST_VOLUMES ----------------------------------------------------
 * request: u32 cursor (0 to start)
 * reply:   u32 next_cursor (0: done), u32 count, count x
 *          (str key, u64 objects, u64 bytes)
 *
 * ---- 211 LIST_OBJECTS ----------------------------------------------------
 * request: u32 cursor, str volume key
 * reply:   u32 next_cursor (0: done), u32 count, count x
 *          (str name [the cooked on-disk name], bytes key [decoded, may be
 *           empty when the name cannot be decoded], u64 object_size,
 *           u64 disk_bytes, s64 last_use [unix seconds], u32 flags)
 * A peer that is not an admin sees only the volumes it owns or whose
 * access policy lets others read (larder.conf(5), ACCESS).
 *
 * ---- 213 LIST_VOLUME_STATS -----------------------------------------------
 * request: u32 cursor (0 to start)
 * reply:   u32 next_cursor (0: done), u32 count, count x
 *          (str key, u64 objects, u64 bytes, u64 hits, u64 misses,
 *           u64 fills [since larderd started])
 * The same volumes as LIST_VOLUMES shows this peer.
 */
#define PROTO_OBJECT_PINNED		0x0001

/* ---- 212 VOLUME_ACCESS ---------------------------------------------------
 * request: str volume key, u32 op (PROTO_ACCESS_GET or _SET), u32 policy
 *          (SET: 0 default, 1 none, 2 read, 3 fill: what users other than
 *          the owner may do; only the owner or an admin may set it)
 * reply:   u32 owner uid, u32 policy as set (0: the config's
 *          volume_access), u32 policy in force (1 to 3), u32 origin
 *          (0 recorded, 1 no record: root's, 2 bad record: root's, none)
 */
#define PROTO_ACCESS_GET		0
#define PROTO_ACCESS_SET		1

/* ---- 300 STATUS, 301 STATS -----------------------------------------------
 * request: empty
 * reply:   u32 count, count x proto_kv
 * proto_kv: u8 kind (PROTO_KV_*), str key, then u64 | s64 | str value
 */
enum proto_kv_kind {
	PROTO_KV_U64 = 1,
	PROTO_KV_S64 = 2,
	PROTO_KV_STR = 3,
};

/* ---- 302 DROP ------------------------------------------------------------
 * request: str volume key, bytes object key (empty: the whole volume)
 * reply:   empty
 *
 * ---- 303 CULL ------------------------------------------------------------
 * request: u32 mode (PROTO_CULL_*), u64 value
 * reply:   u64 objects culled, u64 bytes culled
 */
enum proto_cull_mode {
	PROTO_CULL_THRESHOLDS = 0,	/* until brun/frun are met */
	PROTO_CULL_BYTES = 1,		/* value: bytes to free */
	PROTO_CULL_TO_PERCENT = 2,	/* value: percent of blocks free to reach */
};

/* ---- 304 FREEZE ----------------------------------------------------------
 * request: u32 flags (PROTO_FREEZE_FS: freeze the filesystem too),
 *          u32 timeout seconds (0: the config's freeze_timeout)
 * reply:   str what was done ("ready", "already deferred", ...)
 *
 * ---- 305 THAW, 306 SUSPEND, 307 RESUME, 308 RELOAD, 101 PING -------------
 * request: empty; reply: str what was done
 */
#define PROTO_FREEZE_FS			0x0001

/*
 * Byte strings on the wire: "str" and "bytes" are both u16 length then the
 * bytes, no terminator. Decoding a str rejects NUL bytes; bytes may hold any.
 */

/* Bounds-checked encoder/decoder over a byte buffer. Once err is set every
 * later call is a no-op that returns 0 or an empty value. */
struct proto_buf {
	uint8_t *data;
	size_t size;		/* capacity (encoding) or length (decoding) */
	size_t off;
	int err;		/* 0 or -EMSGSIZE / -EPROTO */
};

struct proto_bytes {
	const uint8_t *ptr;	/* points into the message buffer */
	uint16_t len;
};

void proto_buf_init(struct proto_buf *b, void *data, size_t size);
void proto_put_u8(struct proto_buf *b, uint8_t v);
void proto_put_u16(struct proto_buf *b, uint16_t v);
void proto_put_u32(struct proto_buf *b, uint32_t v);
void proto_put_u64(struct proto_buf *b, uint64_t v);
void proto_put_bytes(struct proto_buf *b, const void *p, size_t len);
void proto_put_str(struct proto_buf *b, const char *s);
void proto_put_raw(struct proto_buf *b, const void *p, size_t len);
uint8_t proto_get_u8(struct proto_buf *b);
uint16_t proto_get_u16(struct proto_buf *b);
uint32_t proto_get_u32(struct proto_buf *b);
uint64_t proto_get_u64(struct proto_buf *b);
struct proto_bytes proto_get_bytes(struct proto_buf *b);
/* copies a str into out (NUL-terminated); -EPROTO if it holds a NUL or
 * does not fit in outsz */
int proto_get_str(struct proto_buf *b, char *out, size_t outsz);
const void *proto_get_raw(struct proto_buf *b, size_t len);
size_t proto_remaining(const struct proto_buf *b);

/* Start a message: writes a header with len 0; proto_finish fills in len.
 * Returns 0 or the buffer's error. */
void proto_begin(struct proto_buf *b, uint16_t type, uint32_t seq,
    uint16_t flags, uint16_t status);
int proto_finish(struct proto_buf *b);
/* Parse and check a header: version, len == msglen, len >= header size.
 * Returns 0 or -EPROTO; on success b is positioned after the header. */
int proto_parse_hdr(struct proto_buf *b, struct proto_hdr *h, size_t msglen);

/* key/value records of STATUS and STATS */
void proto_put_kv_u64(struct proto_buf *b, const char *key, uint64_t v);
void proto_put_kv_s64(struct proto_buf *b, const char *key, int64_t v);
void proto_put_kv_str(struct proto_buf *b, const char *key, const char *v);

/* Map between errno values and status codes (both directions). */
uint16_t proto_status_from_errno(int err);
int proto_status_to_errno(uint16_t status);
const char *proto_status_str(uint16_t status);
const char *proto_type_str(uint16_t type);

/* Send one message with an optional fd; receive one with an optional fd.
 * proto_recv returns the message length, 0 on EOF, or -errno; a received
 * fd is stored in *fd (else -1); MSG_TRUNC or MSG_CTRUNC give -EMSGSIZE. */
int proto_send(int sock, const void *msg, size_t len, int fd);
/* Room for one fd in a message's control data, and putting fd (when >= 0)
 * there as SCM_RIGHTS: mh's control data point into *buf. */
union proto_fdbuf {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};
void proto_msg_fd(struct msghdr *mh, union proto_fdbuf *buf, int fd);
int proto_recv(int sock, void *buf, size_t size, int *fd);

#endif
