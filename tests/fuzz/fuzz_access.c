/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_access: libFuzzer target for the access model (daemon/access.c).
 * Build: make fuzz. Run:
 *   mkdir -p tests/fuzz/corpus-access
 *   tests/fuzz/fuzz_access -max_total_time=60 tests/fuzz/corpus-access \
 *       tests/fuzz/seeds/access
 * The first byte picks what the rest is fed to:
 *   0 an owner record from disk (user.larder.owner): a record that
 *     decodes encodes back to the same bytes; one that does not is root's
 *     with policy none, and then gives a non-root peer nothing
 *   1 decisions: (admin, uid, owner record bytes, config default, op,
 *     others) from the input; whatever the table says, an admin may do
 *     everything, a peer that is not the owner never gets the owner's
 *     operations, a peer under policy none never gets anything, read
 *     never fills, "someone else holds it" never allows more, and the
 *     answer is one of 0, -EPERM, -EBUSY
 *   2 admission: a uid, a gid and a list of groups: admin exactly when
 *     root or admin_gid is among them, client exactly when not admin and
 *     client_gid is among them
 * Seeds: tests/fuzz/seeds/access/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
record(const uint8_t *d, size_t n)
{
	struct access_owner o, o2;
	uint8_t buf[ACCESS_OWNER_LEN];
	int r, op;

	r = access_owner_decode(d, (long)n, &o);
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		CHECK(o.origin == ACCESS_RECORD);
		CHECK(access_owner_encode(&o, buf, sizeof(buf)) ==
		    ACCESS_OWNER_LEN);
		CHECK(n == ACCESS_OWNER_LEN && memcmp(buf, d, n) == 0);
		CHECK(access_owner_decode(buf, sizeof(buf), &o2) == 0);
		CHECK(o2.uid == o.uid && o2.policy == o.policy);
		return;
	}
	CHECK(o.uid == 0 && o.policy == ACCESS_NONE && o.origin == ACCESS_BAD);
	for (op = 0; op < ACCESS_OP_MAX; op++)
		CHECK(access_check(0, 1000, &o, ACCESS_FILL, op, 0) == -EPERM);
}

/* ops only the owner (or an admin) may do */
static int
owners_only(int op)
{
	return op == ACCESS_VOL_ANY || op == ACCESS_VOL_WIPE ||
	    op == ACCESS_VOL_POLICY || op == ACCESS_OBJ_ANY ||
	    op == ACCESS_REPLACE || op == ACCESS_DROP_OBJ;
}

static void
decide(const uint8_t *d, size_t n)
{
	struct access_owner o;
	enum access_policy dflt, eff;
	int admin, op, r0, r1, owner;
	uid_t uid;

	if (n < 8 + ACCESS_OWNER_LEN)
		return;
	admin = d[0] & 1;
	op = d[1] % (ACCESS_OP_MAX + 1);	/* one past: must be refused */
	dflt = d[2] % (ACCESS_POLICY_MAX + 1);
	uid = le32(d + 3);
	/* the record: the rest of the input, or none when d[7] says so */
	(void)access_owner_decode(d + 8, d[7] & 1 ? -1 : (long)(n - 8), &o);
	r0 = access_check(admin, uid, &o, dflt, op, 0);
	r1 = access_check(admin, uid, &o, dflt, op, 1);
	CHECK(r0 == 0 || r0 == -EPERM);		/* nobody else: never busy */
	CHECK(r1 == 0 || r1 == -EPERM || r1 == -EBUSY);
	CHECK(!(r1 == 0 && r0 != 0));		/* others never allow more */
	if (op >= ACCESS_OP_MAX) {
		CHECK(r0 == -EPERM && r1 == -EPERM);
		return;
	}
	if (admin) {
		CHECK(r0 == 0 && r1 == 0);
		return;
	}
	owner = (o.origin == ACCESS_RECORD && o.uid == uid) ||
	    (o.origin != ACCESS_RECORD && uid == 0);
	if (owner) {
		CHECK(r0 == 0);
		return;
	}
	eff = access_effective(&o, dflt);
	CHECK(eff == ACCESS_NONE || eff == ACCESS_READ || eff == ACCESS_FILL);
	if (owners_only(op) || eff == ACCESS_NONE)
		CHECK(r0 == -EPERM && r1 == -EPERM);
	if (eff == ACCESS_READ && op == ACCESS_FILL_OBJ)
		CHECK(r0 == -EPERM);
	if (o.origin == ACCESS_BAD)
		CHECK(r0 == -EPERM);
}

static void
admit(const uint8_t *d, size_t n)
{
	gid_t groups[64], admin_gid, client_gid, gid;
	size_t ng = 0, i;
	int is_admin, is_client;
	enum access_role r;
	uid_t uid;

	if (n < 16)
		return;
	uid = le32(d) % 4;		/* 0 (root) often */
	gid = le32(d + 4) % 8;
	admin_gid = d[8] & 0x80 ? ACCESS_NO_GID : d[8] % 8;
	client_gid = d[9] & 0x80 ? ACCESS_NO_GID : d[9] % 8;
	for (i = 16; i + 4 <= n && ng < 64; i += 4)
		groups[ng++] = d[i] == 0xff ? (gid_t)-1 : le32(d + i) % 8;
	is_admin = uid == 0 || (admin_gid != ACCESS_NO_GID && gid == admin_gid);
	is_client = client_gid != ACCESS_NO_GID && gid == client_gid;
	for (i = 0; i < ng; i++) {
		is_admin |= admin_gid != ACCESS_NO_GID && groups[i] == admin_gid;
		is_client |= client_gid != ACCESS_NO_GID &&
		    groups[i] == client_gid;
	}
	r = access_role(uid, gid, groups, ng, admin_gid, client_gid);
	CHECK(r == (is_admin ? ACCESS_ADMIN : is_client ? ACCESS_CLIENT :
	    ACCESS_REFUSED));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: record(data + 1, size - 1); break;
	case 1: decide(data + 1, size - 1); break;
	case 2: admit(data + 1, size - 1); break;
	}
	return 0;
}
