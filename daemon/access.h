/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * access.h: larder's access model (larder.conf(5), ACCESS), as pure
 * decisions: no state, no I/O, no logging, so that the unit tests and the
 * fuzzer can drive every case.
 *
 * Who may connect: root and admin_group members are admins; client_group
 * members are clients; everyone else is refused at connect. Membership is
 * read from the peer's own credentials as the kernel gave them at connect
 * (SO_PEERCRED uid and gid, SO_PEERGROUPS supplementary groups), never
 * from the group database, and is decided once per connection.
 *
 * Who owns a volume: the uid that created it, recorded beside the
 * volume's coherency data in a second xattr, user.larder.owner, with what
 * other users may do there (its access policy). user.CacheFiles.cache is
 * never touched by any of this. A volume without that record (made by an
 * older larder or by the kernel) belongs to root under the config's
 * default policy; a record that cannot be decoded belongs to root with
 * policy none: a garbled record never gives anyone more rights.
 *
 * What a peer may do is one table lookup: the peer's relation to the
 * volume (admin, owner, or another user under the volume's policy) and
 * the operation give allow, deny, or "allow only while nobody else holds
 * it" (a volume other users hold, an object another handle holds).
 */
#ifndef LARDER_ACCESS_H
#define LARDER_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ACCESS_OWNER_XATTR	"user.larder.owner"
#define ACCESS_OWNER_LEN	8	/* the record's size on disk */
#define ACCESS_NO_GID		((gid_t)-1)

/* What the other users (not the owner, not admins) may do in a volume.
 * DEFAULT follows the config's volume_access at each decision. The
 * numbers are on disk and on the wire: never renumber. */
enum access_policy {
	ACCESS_DEFAULT = 0,
	ACCESS_NONE = 1,	/* nothing: the volume is invisible to them */
	ACCESS_READ = 2,	/* list, and read objects whose aux they know */
	ACCESS_FILL = 3,	/* also fill gaps and add objects (never
				   replace, invalidate or retire one) */
	ACCESS_POLICY_MAX = 4,
};

/* What a connected peer is. */
enum access_role {
	ACCESS_REFUSED = 0,	/* neither admin nor client: not served */
	ACCESS_CLIENT = 1,
	ACCESS_ADMIN = 2,
};

/* Where a volume's owner record came from. */
enum access_origin {
	ACCESS_RECORD = 0,	/* a valid user.larder.owner */
	ACCESS_LEGACY = 1,	/* none on disk: root's, default policy */
	ACCESS_BAD = 2,		/* one that does not decode: root's, none */
};

struct access_owner {
	uid_t uid;
	enum access_policy policy;
	enum access_origin origin;
};

enum access_op {
	ACCESS_VOL_USE,		/* acquire a volume with its coherency data */
	ACCESS_VOL_ANY,		/* acquire it whatever its coherency data
				   (PROTO_VOLUME_ANY_COHERENCY) */
	ACCESS_VOL_WIPE,	/* empty it: other coherency data, retire,
				   DROP of the whole volume */
	ACCESS_VOL_POLICY,	/* change its policy */
	ACCESS_LIST,		/* list its objects, see it in LIST_VOLUMES */
	ACCESS_READ_OBJ,	/* see an object's bytes (aux matches) */
	ACCESS_OBJ_ANY,		/* open an object whatever its aux
				   (PROTO_COOKIE_ANY_AUX) */
	ACCESS_FILL_OBJ,	/* write into gaps, create an object */
	ACCESS_REPLACE,		/* replace an object: acquire with other aux
				   or size, invalidate, retire */
	ACCESS_DROP_OBJ,	/* DROP of one object (larderctl invalidate) */
	ACCESS_OP_MAX,
};

/* Decide what a peer is: uid and gid from SO_PEERCRED, groups[n] from
 * SO_PEERGROUPS; admin_gid and client_gid ACCESS_NO_GID when unset. */
enum access_role access_role(uid_t uid, gid_t gid, const gid_t *groups,
    size_t n, gid_t admin_gid, gid_t client_gid);

/* Decide one operation: 0, -EPERM (not allowed to this peer), or -EBUSY
 * (allowed only while nobody else holds it, and someone does). admin: the
 * peer is an admin; others: someone else holds what op changes (for the
 * volume ops: another uid holds the volume; for the object ops: another
 * handle holds the object). dflt is the config's volume_access. */
int access_check(int admin, uid_t uid, const struct access_owner *o,
    enum access_policy dflt, enum access_op op, int others);

/* The policy in force: o's, or dflt when o's is ACCESS_DEFAULT (dflt
 * DEFAULT counts as NONE). */
enum access_policy access_effective(const struct access_owner *o,
    enum access_policy dflt);

/* The owner record: encode into buf (ACCESS_OWNER_LEN bytes; returns the
 * length or -ENOSPC); decode len bytes (len < 0: no record) into *o,
 * which always holds a usable answer afterwards. Returns 0 for a valid
 * record, 1 for none (legacy), -EINVAL for a bad one. */
int access_owner_encode(const struct access_owner *o, uint8_t *buf,
    size_t size);
int access_owner_decode(const uint8_t *buf, long len,
    struct access_owner *o);

/* "default", "none", "read", "fill"; parse gives -1 for anything else. */
const char *access_policy_str(enum access_policy p);
int access_policy_parse(const char *s);

#endif
