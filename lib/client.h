/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.h: liblarder internals shared with larderctl and the tests.
 * Nothing here is exported from liblarder.so (the version script exports
 * larder_* only); larderctl links the static archive.
 */
#ifndef LARDER_CLIENT_H
#define LARDER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "larder/larder.h"
#include "proto.h"

#define CLIENT_DEFAULT_SHM	(4u * 1024 * 1024)

/* client_connect flags */
#define CLIENT_NO_SHM		0x0001	/* do not offer a shared-memory area */
#define CLIENT_NO_GENTAB	0x0002	/* no generation table: every acquire
					   and relinquish asks the daemon */

/* idle parked cookies a connection keeps (the daemon takes up to 1024) */
#define CLIENT_IDLE_MAX		256

/* larder_connect with options: shm_size 0 means the default. */
int client_connect(const char *socket_path, size_t shm_size, int flags,
    struct larder **out);

/* The socket path larder_connect uses for NULL: $LARDER_SOCKET, else the
 * compiled-in default. */
const char *client_default_socket(void);

/* larder_volume_acquire with PROTO_VOLUME_* request flags. */
int client_volume_acquire(struct larder *l, const char *key,
    const void *coh, size_t coh_len, uint32_t flags,
    struct larder_volume **out);

/* larder_cookie_acquire with PROTO_COOKIE_* request flags. With
 * PROTO_COOKIE_ANY_AUX the cookie's size is the object's size. */
int client_cookie_acquire(struct larder_volume *v, const void *key,
    size_t key_len, const void *aux, size_t aux_len, uint64_t object_size,
    uint32_t flags, struct larder_cookie **out);

/* PROTO_COOKIE_* reply flags of the last acquire/refresh/invalidate. */
uint32_t client_cookie_flags(const struct larder_cookie *c);

/* The read-only object fd the cookie holds (borrowed: valid until the
 * cookie's next refresh, invalidate or relinquish), or -1. For benchmarks
 * and tests that compare with plain syscalls on the same file. */
int client_cookie_fd(struct larder_cookie *c);

/* Whether the shared-memory area is in use (1) or fills go inline (0). */
int client_has_shm(const struct larder *l);
/* Zero-copy fills (tests): the slots of the area the connection keeps
 * its hands off now (bit k: slot k of PROTO_SHM_SLOTS), and the most
 * fills it had in flight at once. */
void client_zc_state(struct larder *l, uint64_t *busy, unsigned *peak);

/* Whether the connection has a generation table (acquires of idle parked
 * cookies are then served without a round trip), and how many acquires
 * were served so. */
int client_has_gentab(const struct larder *l);
uint64_t client_local_acquires(struct larder *l);

/*
 * One raw request/reply under the connection mutex: body (len bytes) is
 * sent after a header of the given type; the reply body (after its header)
 * is copied to rbuf and *rlen set. Returns the reply's status as -errno
 * (0 for PROTO_OK) or a transport/protocol -errno. A reason string carried
 * by an error reply is kept and returned by client_reason. A received fd
 * is closed.
 */
int client_request(struct larder *l, uint16_t type, const void *body,
    size_t len, void *rbuf, size_t rbufsz, size_t *rlen);

/* The reason string of the last error reply on this connection ("" if it
 * had none). Valid until the next call; single-threaded use (larderctl). */
const char *client_reason(struct larder *l);

#endif
