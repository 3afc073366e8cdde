/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * larder.h: liblarder, the client API of the larder cache daemon.
 *
 * The API follows the kernel's fscache API: a client acquires a volume
 * (a volume key and the volume's coherency data), then cookies in it (an
 * object key, the object's auxiliary coherency data and its size), reads
 * cached bytes and writes fills, and relinquishes what it acquired.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; none prints, none exits, none raises a signal (SIGPIPE is
 * suppressed). A connection may be used from several threads: calls on one
 * connection are serialised by a mutex inside it. Calls block only on the
 * daemon's socket, never on the cache filesystem: the daemon answers every
 * request promptly even while the cache filesystem is frozen.
 *
 * See liblarder(3).
 */
#ifndef LARDER_LARDER_H
#define LARDER_LARDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct larder;			/* a connection to larderd */
struct larder_volume;		/* an acquired volume */
struct larder_cookie;		/* an acquired object */

#define LARDER_MAX_VOLUME_KEY	254
#define LARDER_MAX_COOKIE_KEY	255
#define LARDER_MAX_AUX		255

/*
 * Connect to larderd. socket_path NULL means $LARDER_SOCKET, else the
 * compiled-in default (/run/larder/larder.sock). shm_size is the size of
 * the shared-memory area for large fills (0: a default of 4 MiB; fills then
 * go inline in messages when the daemon declines it).
 * Returns 0 and sets *out, or -errno: -ENOENT/-ECONNREFUSED no daemon,
 * -EPROTO the daemon speaks another protocol version.
 */
int larder_connect(const char *socket_path, size_t shm_size,
    struct larder **out);

/* Close the connection; the daemon releases every volume and cookie the
 * connection still held. Frees handles that were not relinquished. */
void larder_disconnect(struct larder *l);

/*
 * Acquire a volume. key: printable bytes without '/', 1 to 254 bytes
 * (by convention "netfs,rest", e.g. "nfs,server,export"). coherency: up to
 * 255 bytes; if the cached volume was stored with other coherency data, its
 * objects are dropped and the volume starts empty (as in the kernel).
 * Returns 0 and sets *out, or -EINVAL for a key that cannot be stored.
 */
int larder_volume_acquire(struct larder *l, const char *key,
    const void *coherency, size_t coherency_len, struct larder_volume **out);

/* Relinquish a volume; retire != 0 drops all of its objects. Cookies of the
 * volume must be relinquished first (-EBUSY otherwise). */
int larder_volume_relinquish(struct larder_volume *v, int retire);

/*
 * Acquire a cookie (one cached object). key: 1 to 255 arbitrary bytes.
 * aux: up to 255 bytes of coherency data; object_size: the size of the
 * remote file. A cached object whose aux or size differ is stale: it is
 * replaced by an empty one. Returns 0 and sets *out, or -errno.
 */
int larder_cookie_acquire(struct larder_volume *v, const void *key,
    size_t key_len, const void *aux, size_t aux_len, uint64_t object_size,
    struct larder_cookie **out);

/* Relinquish a cookie; retire != 0 deletes the object from the cache. */
int larder_cookie_relinquish(struct larder_cookie *c, int retire);

/*
 * Read cached bytes [offset, offset + len) into buf. Either the whole range
 * is cached and len is returned, or -ENODATA and nothing is promised about
 * buf. Ranges past the object size give -EINVAL. Reads go to the object's
 * file directly (an fd the daemon passed, an open file of this connection's
 * own), with no round trip when the range is known to be cached.
 */
ssize_t larder_read(struct larder_cookie *c, void *buf, size_t len,
    uint64_t offset);

/*
 * Fill [offset, offset + len) with data fetched from the remote. Returns
 * how many bytes from offset on the daemon has once the call returns: len
 * when it took them all. A smaller count n is a short write: [offset,
 * offset + n) is cached, the rest is not (the cache stopped taking data
 * midway, or the object's map is full); the caller may write the rest
 * again or leave it. -ENOBUFS when the cache cannot take any of it now
 * (full, frozen, suspended, or the object changed): the caller may ignore
 * that, this is a cache. The bytes become readable at once and durable
 * soon after; the daemon never claims bytes on disk before they are
 * durable, and forgets them if making them durable fails (a later read
 * then gives -ENODATA).
 */
ssize_t larder_write(struct larder_cookie *c, const void *buf, size_t len,
    uint64_t offset);

/*
 * The connection's shared-memory area, for fill data the caller puts
 * there itself (e.g. received from the network straight into it):
 * larder_write of a buffer inside the area sends it from where it is, with
 * no copy on either side. Returns the area and sets *size to its length,
 * or NULL (and *size 0) when the connection has no area or the daemon
 * does not write from it. From the first call on the area is the
 * caller's: the library copies nothing into it any more, so writes of
 * buffers outside it go inline in messages (slower). While larder_write
 * runs, the daemon reads its bytes from the area: change them only after
 * it returns. After -ENOBUFS the daemon may still read them for a while;
 * bytes changed meanwhile are never claimed as cached (a later read of
 * that range misses). The area is unmapped by larder_disconnect.
 */
void *larder_fill_buffer(struct larder *l, size_t *size);

/* How many writes a connection may have started and not waited for. */
#define LARDER_WRITES_STARTED_MAX	8

/*
 * Start a fill of [offset, offset + len) from bytes in the area
 * (larder_fill_buffer: buf must lie inside it, len > 0) and return without
 * waiting for the daemon, so that the caller can put the next bytes in
 * another part of the area while the daemon writes these: 0 once the
 * request is sent, or -errno (-EINVAL: not in the area, or the area was
 * never taken; -EBUSY: LARDER_WRITES_STARTED_MAX writes of the connection
 * wait for larder_write_wait). Each started write must be waited for with
 * larder_write_wait on the same cookie; until then its bytes are the
 * daemon's: change them only after its larder_write_wait returned (and,
 * as after larder_write, bytes changed after -ENOBUFS are never claimed).
 * Relinquishing the cookie waits for its started writes and drops their
 * results; invalidating it waits for them first.
 */
int larder_write_start(struct larder_cookie *c, const void *buf, size_t len,
    uint64_t offset);

/*
 * Wait for the oldest write started on c and not yet waited for, and
 * return what larder_write would have returned for it: the bytes the
 * daemon has from its offset on (len: all), -ENOBUFS (the cache cannot
 * take it now, or the object changed: the next write on c picks up the
 * new object), or -errno. -ENOENT when c has no started write. Other
 * calls on the connection may take the answer on their way; it is kept
 * for this call.
 */
ssize_t larder_write_wait(struct larder_cookie *c);

/*
 * The remote object changed: new aux and size. Old readers of this object
 * in other connections keep reading the old bytes; this cookie starts empty.
 */
int larder_invalidate(struct larder_cookie *c, const void *aux,
    size_t aux_len, uint64_t new_size);

/* Whether [offset, offset + len) is cached (1), not (0), or -errno. May ask
 * the daemon for a fresh map. */
int larder_is_cached(struct larder_cookie *c, uint64_t offset, size_t len);

/* The object size the cookie was acquired or invalidated with. */
uint64_t larder_cookie_size(const struct larder_cookie *c);

/* A static string for a negative errno returned by this library. */
const char *larder_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
