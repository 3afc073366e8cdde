/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * access.c: the access model's decisions (see access.h), table-driven.
 *
 * The owner record user.larder.owner, 8 bytes:
 *   0 u8 version (1)
 *   1 u8 policy (enum access_policy)
 *   2 u16 zero
 *   4 be32 uid of the owner
 * Anything else (another length, version, policy, nonzero padding, uid
 * 0xffffffff) is a bad record.
 */
#include <errno.h>
#include <string.h>

#include "access.h"

enum verdict {
	N = 0,		/* deny: -EPERM */
	Y = 1,		/* allow */
	S = 2,		/* allow while nobody else holds it, else -EBUSY */
};

/* how the peer stands to the volume */
enum rel { REL_ADMIN, REL_OWNER, REL_FILL, REL_READ, REL_NONE, REL_MAX };

static const unsigned char table[REL_MAX][ACCESS_OP_MAX] = {
	/*            USE ANY WIPE POL LIST READ OANY FILL REPL DROP */
	[REL_ADMIN] = { Y,  Y,  Y,   Y,  Y,   Y,   Y,   Y,   Y,   Y },
	/* the owner may do anything in its volume but empty it while
	 * other users hold it */
	[REL_OWNER] = { Y,  Y,  S,   Y,  Y,   Y,   Y,   Y,   Y,   Y },
	/* fill: add bytes and new objects; never replace what is there
	 * (that would let it swap an object for its own bytes) */
	[REL_FILL]  = { Y,  N,  N,   N,  Y,   Y,   N,   Y,   N,   N },
	[REL_READ]  = { Y,  N,  N,   N,  Y,   Y,   N,   N,   N,   N },
	[REL_NONE]  = { N,  N,  N,   N,  N,   N,   N,   N,   N,   N },
};

static const char *const policy_names[ACCESS_POLICY_MAX] = {
	[ACCESS_DEFAULT] = "default",
	[ACCESS_NONE] = "none",
	[ACCESS_READ] = "read",
	[ACCESS_FILL] = "fill",
};

enum access_role
access_role(uid_t uid, gid_t gid, const gid_t *groups, size_t n,
    gid_t admin_gid, gid_t client_gid)
{
	int client = 0;
	size_t i;

	if (uid == 0)
		return ACCESS_ADMIN;
	if (admin_gid != ACCESS_NO_GID && gid == admin_gid)
		return ACCESS_ADMIN;
	if (client_gid != ACCESS_NO_GID && gid == client_gid)
		client = 1;
	for (i = 0; groups && i < n; i++) {
		if (admin_gid != ACCESS_NO_GID && groups[i] == admin_gid)
			return ACCESS_ADMIN;
		if (client_gid != ACCESS_NO_GID && groups[i] == client_gid)
			client = 1;
	}
	return client ? ACCESS_CLIENT : ACCESS_REFUSED;
}

enum access_policy
access_effective(const struct access_owner *o, enum access_policy dflt)
{
	enum access_policy p = o ? o->policy : ACCESS_NONE;

	if (p == ACCESS_DEFAULT)
		p = dflt;
	if (p <= ACCESS_DEFAULT || p >= ACCESS_POLICY_MAX)
		p = ACCESS_NONE;
	return p;
}

int
access_check(int admin, uid_t uid, const struct access_owner *o,
    enum access_policy dflt, enum access_op op, int others)
{
	enum rel r;

	if ((unsigned)op >= ACCESS_OP_MAX)
		return -EPERM;
	if (admin)
		r = REL_ADMIN;
	else if (o && o->origin == ACCESS_RECORD && o->uid == uid)
		r = REL_OWNER;
	else if (o && o->origin != ACCESS_RECORD && uid == 0)
		r = REL_OWNER;		/* root's: a legacy or bad record */
	else {
		switch (access_effective(o, dflt)) {
		case ACCESS_FILL: r = REL_FILL; break;
		case ACCESS_READ: r = REL_READ; break;
		default: r = REL_NONE; break;
		}
	}
	switch (table[r][op]) {
	case Y:
		return 0;
	case S:
		return others ? -EBUSY : 0;
	default:
		return -EPERM;
	}
}

int
access_owner_encode(const struct access_owner *o, uint8_t *buf, size_t size)
{
	uint32_t u = (uint32_t)o->uid;

	if (size < ACCESS_OWNER_LEN)
		return -ENOSPC;
	if ((unsigned)o->policy >= ACCESS_POLICY_MAX || u == 0xffffffffu)
		return -EINVAL;
	buf[0] = 1;
	buf[1] = (uint8_t)o->policy;
	buf[2] = 0;
	buf[3] = 0;
	buf[4] = u >> 24;
	buf[5] = u >> 16;
	buf[6] = u >> 8;
	buf[7] = u;
	return ACCESS_OWNER_LEN;
}

int
access_owner_decode(const uint8_t *buf, long len, struct access_owner *o)
{
	uint32_t u;

	o->uid = 0;
	if (len < 0 || !buf) {
		o->policy = ACCESS_DEFAULT;
		o->origin = ACCESS_LEGACY;
		return 1;
	}
	o->policy = ACCESS_NONE;
	o->origin = ACCESS_BAD;
	if (len != ACCESS_OWNER_LEN || buf[0] != 1 ||
	    buf[1] >= ACCESS_POLICY_MAX || buf[2] != 0 || buf[3] != 0)
		return -EINVAL;
	u = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
	    (uint32_t)buf[6] << 8 | buf[7];
	if (u == 0xffffffffu)
		return -EINVAL;
	o->uid = (uid_t)u;
	o->policy = buf[1];
	o->origin = ACCESS_RECORD;
	return 0;
}

const char *
access_policy_str(enum access_policy p)
{
	return (unsigned)p < ACCESS_POLICY_MAX ? policy_names[p] : "?";
}

int
access_policy_parse(const char *s)
{
	int i;

	for (i = 0; i < ACCESS_POLICY_MAX; i++)
		if (s && strcmp(s, policy_names[i]) == 0)
			return i;
	return -1;
}
