/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control.h: the control socket server (control.c) and how modules plug
 * into it. Everything here runs on the main thread.
 *
 * A module registers a handler per message type at startup. The server
 * receives a message, checks the header (version, length), checks the
 * peer's rights (decided at connect from SO_PEERCRED and SO_PEERGROUPS by
 * access.h: root or admin_group for handlers registered admin-only; what
 * a client may do with a volume is the handler's to ask access.h) and
 * calls the handler with a request.
 * The handler either answers at once (control_reply*), returning 0, or
 * keeps the request and answers later (returning CTL_DEFERRED), or returns
 * -errno, in which case the server answers with that status. Each request
 * is answered exactly once. If the peer disconnects before a deferred
 * answer, rq->client becomes NULL and the answer is dropped; the request
 * itself stays valid until answered.
 */
#ifndef LARDER_CONTROL_H
#define LARDER_CONTROL_H

#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define CTL_DEFERRED	1

struct ctl_client;		/* one connected peer */

struct ctl_req {
	struct ctl_client *client;	/* NULL once the peer has gone */
	struct proto_hdr hdr;
	struct proto_buf body;		/* positioned after the header */
	int fd;				/* fd that came with it, or -1; take it by setting -1 */
	uid_t uid;			/* peer credentials (SO_PEERCRED) */
	gid_t gid;
	pid_t pid;
	int admin;			/* root or admin_group (decided at
					   connect: access.h) */
};

typedef int ctl_handler_fn(struct ctl_req *rq);

/* Register the handler of one message type; admin_only: peers without
 * admin rights get PROTO_EPERM without the handler being called. A second
 * registration of a type replaces the first; a type past the table
 * (CTL_MAX_TYPE, 400) is ignored and stays unknown (PROTO_EINVAL). */
void control_register(uint16_t type, ctl_handler_fn *fn, int admin_only);

/* Answer rq with status, an optional body and an optional fd (sent with
 * SCM_RIGHTS; the caller keeps its own fd). Frees rq. */
void control_reply(struct ctl_req *rq, uint16_t status, const void *body,
    size_t len, int fd);
/* Finish rq without any answer (a request whose peer asked for none).
 * Frees rq. */
void control_done(struct ctl_req *rq);
/* Answer with a str body ("ready", or the reason of an error). Frees rq. */
void control_reply_str(struct ctl_req *rq, uint16_t status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/*
 * Per-client state for modules: a client carries one pointer per slot; a
 * module sets it and is told at disconnect (before the client is freed)
 * through the hook it registered, so it can release what the peer held.
 */
enum ctl_slot {
	CTL_SLOT_STORE = 0,	/* volumes and cookies the peer holds */
	CTL_SLOT_MAX = 4,
};
void *control_client_get(struct ctl_client *c, enum ctl_slot slot);
void control_client_set(struct ctl_client *c, enum ctl_slot slot, void *p);
void control_on_disconnect(enum ctl_slot slot,
    void (*fn)(struct ctl_client *c, void *p));
/* the shm area the peer passed with HELLO (NULL, 0 if none) */
void control_client_shm(struct ctl_client *c, const uint8_t **base,
    uint64_t *size);
/* The same area, kept mapped until control_shm_put (refcounted, main
 * thread only): a worker may read it after the peer has gone. Sealed
 * against shrinking, so reading it never faults. NULL if none. */
struct ctl_shm {
	const uint8_t *base;
	uint64_t size;
	unsigned refs;
	uint32_t pins[PROTO_SHM_SLOTS];	/* zero-copy fills reading each
					   slot (store_proto.c) */
};
struct ctl_shm *control_client_shm_ref(struct ctl_client *c);
void control_shm_put(struct ctl_shm *sh);

/*
 * STATUS and STATS: modules register a provider that appends key/value
 * records; keys are "module.name" (e.g. "cull.state", "mount.fstype").
 */
struct ctl_kv {
	struct proto_buf *b;
	uint32_t count;
};
typedef void ctl_kv_fn(struct ctl_kv *kv);
void control_add_status(ctl_kv_fn *fn);
void control_add_stats(ctl_kv_fn *fn);
void ctl_kv_u64(struct ctl_kv *kv, const char *key, uint64_t v);
void ctl_kv_s64(struct ctl_kv *kv, const char *key, int64_t v);
void ctl_kv_str(struct ctl_kv *kv, const char *key, const char *v);
/* The body a STATUS (stats 0) or STATS (1) reply would carry, into b:
 * u32 count, then the records. 0, or b's error (-EMSGSIZE: too long). */
int control_kv_body(int stats, struct proto_buf *b);

/* Server life: listen on path (0660, group client_group if set, else
 * admin_group; with both, admin_group gets rw through an ACL). Peers are
 * admitted by access_role (access.h) with these groups ((gid_t)-1:
 * unset). */
int control_open(const char *path, gid_t admin_gid, gid_t client_gid);
void control_close(void);
/* Listen on a socket handed over by the larderd before us (handover.h)
 * if it checks out (a listening SOCK_SEQPACKET unix socket bound to path,
 * which is there); else close it with a log line. 0 or -errno. */
int control_adopt(int fd, const char *path, gid_t admin_gid,
    gid_t client_gid);
/* The socket goes to a successor: stop_accepting and close keep its
 * path; control_listen_fd() gives it (or -1). */
void control_hand_over(void);
int control_listen_fd(void);
/* Shutdown: stop accepting and remove the socket; connected peers are
 * still served until control_close. */
void control_stop_accepting(void);
/* A reloaded config: judge new peers with these groups; connected peers
 * keep their rights, the socket its group. */
void control_set_groups(gid_t admin_gid, gid_t client_gid);
/* The peer took (delta > 0) or let go of volumes or cookies: a peer that
 * holds nothing may be closed after idle_timeout (limit.h). */
void control_client_hold(struct ctl_client *c, int delta);

#endif
