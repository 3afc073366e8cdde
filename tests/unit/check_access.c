/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_access.c: the access model's decisions (daemon/access.c): who is
 * admitted, every operation for every relation of a peer to a volume
 * (checked against a table written out here again from larder.conf(5),
 * not copied from access.c), the owner record's codec and what a bad
 * record is worth, and SO_PEERGROUPS on a real socket pair.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "conf.h"
#include "daemon/access.c"

#define ADM	100
#define CLI	200

START_TEST(roles)
{
	gid_t g[3] = { 5, CLI, 7 }, a[2] = { 9, ADM };

	ck_assert_int_eq(access_role(0, 0, NULL, 0, ACCESS_NO_GID,
	    ACCESS_NO_GID), ACCESS_ADMIN);
	/* no groups configured: only root */
	ck_assert_int_eq(access_role(1000, 1000, g, 3, ACCESS_NO_GID,
	    ACCESS_NO_GID), ACCESS_REFUSED);
	/* primary or supplementary, for each group */
	ck_assert_int_eq(access_role(1000, ADM, NULL, 0, ADM, CLI),
	    ACCESS_ADMIN);
	ck_assert_int_eq(access_role(1000, 1000, a, 2, ADM, CLI),
	    ACCESS_ADMIN);
	ck_assert_int_eq(access_role(1000, CLI, NULL, 0, ADM, CLI),
	    ACCESS_CLIENT);
	ck_assert_int_eq(access_role(1000, 1000, g, 3, ADM, CLI),
	    ACCESS_CLIENT);
	/* admin wins over client, wherever it is in the list */
	{
		gid_t both[2] = { CLI, ADM };

		ck_assert_int_eq(access_role(1000, 1000, both, 2, ADM, CLI),
		    ACCESS_ADMIN);
	}
	ck_assert_int_eq(access_role(1000, 1000, g, 3, ADM, ACCESS_NO_GID),
	    ACCESS_REFUSED);
	ck_assert_int_eq(access_role(1000, 1000, g, 0, ADM, CLI),
	    ACCESS_REFUSED);
	/* an unset group never matches a gid of -1 */
	{
		gid_t m1[1] = { (gid_t)-1 };

		ck_assert_int_eq(access_role(1000, (gid_t)-1, m1, 1,
		    ACCESS_NO_GID, ACCESS_NO_GID), ACCESS_REFUSED);
	}
}
END_TEST

/* larder.conf(5), ACCESS, as a table: Y allowed, N EPERM, S allowed
 * unless someone else holds it (then EBUSY) */
enum { ADMIN_, OWNER_, FILL_, READ_, NONE_, NREL };
static const char *const expect_tab[NREL] = {
	/* USE ANY WIPE POL LIST READ OANY FILL REPL DROP */
	[ADMIN_] = "YYYYYYYYYY",
	[OWNER_] = "YYSYYYYYYY",
	[FILL_]  = "YNNNYYNYNN",
	[READ_]  = "YNNNYYNNNN",
	[NONE_]  = "NNNNNNNNNN",
};

START_TEST(decision_table)
{
	struct access_owner own = { 1000, ACCESS_DEFAULT, ACCESS_RECORD };
	int rel, op, others, want, got, admin;
	uid_t uid;

	for (rel = 0; rel < NREL; rel++) {
		admin = rel == ADMIN_;
		uid = rel == OWNER_ ? 1000 : 2000;
		own.policy = rel == FILL_ ? ACCESS_FILL : rel == READ_ ?
		    ACCESS_READ : ACCESS_NONE;
		for (op = 0; op < ACCESS_OP_MAX; op++)
			for (others = 0; others < 2; others++) {
				char c = expect_tab[rel][op];

				want = c == 'Y' || (c == 'S' && !others) ? 0 :
				    c == 'S' ? -EBUSY : -EPERM;
				got = access_check(admin, uid, &own,
				    ACCESS_NONE, op, others);
				ck_assert_msg(got == want, "relation %d op %d "
				    "others %d: %d, want %d", rel, op, others,
				    got, want);
			}
	}
	/* out of range: denied */
	ck_assert_int_eq(access_check(1, 0, &own, ACCESS_NONE, ACCESS_OP_MAX,
	    0), -EPERM);
	ck_assert_int_eq(access_check(0, 1000, NULL, ACCESS_FILL,
	    ACCESS_VOL_USE, 0), -EPERM);
}
END_TEST

START_TEST(default_policy)
{
	struct access_owner own = { 1000, ACCESS_DEFAULT, ACCESS_RECORD };

	/* DEFAULT follows the config at each decision */
	ck_assert_int_eq(access_check(0, 2000, &own, ACCESS_NONE,
	    ACCESS_READ_OBJ, 0), -EPERM);
	ck_assert_int_eq(access_check(0, 2000, &own, ACCESS_READ,
	    ACCESS_READ_OBJ, 0), 0);
	ck_assert_int_eq(access_check(0, 2000, &own, ACCESS_READ,
	    ACCESS_FILL_OBJ, 0), -EPERM);
	ck_assert_int_eq(access_check(0, 2000, &own, ACCESS_FILL,
	    ACCESS_FILL_OBJ, 0), 0);
	/* a config default of DEFAULT (never set) is none */
	ck_assert_int_eq(access_effective(&own, ACCESS_DEFAULT), ACCESS_NONE);
	ck_assert_int_eq(access_effective(&own, 9), ACCESS_NONE);
	/* an explicit policy does not follow the config */
	own.policy = ACCESS_NONE;
	ck_assert_int_eq(access_check(0, 2000, &own, ACCESS_FILL,
	    ACCESS_READ_OBJ, 0), -EPERM);
	/* conf.h's numbers are access.h's */
	ck_assert_int_eq(CONF_ACCESS_NONE, ACCESS_NONE);
	ck_assert_int_eq(CONF_ACCESS_READ, ACCESS_READ);
	ck_assert_int_eq(CONF_ACCESS_FILL, ACCESS_FILL);
}
END_TEST

START_TEST(record_roundtrip)
{
	struct access_owner in, out;
	uint8_t buf[ACCESS_OWNER_LEN];
	static const uid_t uids[] = { 0, 1, 1000, 64124, 0x7fffffff,
	    0xfffffffe };
	unsigned i, p;

	for (i = 0; i < sizeof(uids) / sizeof(uids[0]); i++)
		for (p = 0; p < ACCESS_POLICY_MAX; p++) {
			in.uid = uids[i];
			in.policy = p;
			in.origin = ACCESS_RECORD;
			ck_assert_int_eq(access_owner_encode(&in, buf,
			    sizeof(buf)), ACCESS_OWNER_LEN);
			ck_assert_int_eq(access_owner_decode(buf,
			    ACCESS_OWNER_LEN, &out), 0);
			ck_assert(out.uid == in.uid);
			ck_assert_int_eq(out.policy, in.policy);
			ck_assert_int_eq(out.origin, ACCESS_RECORD);
		}
	/* the bytes on disk, as larder.conf(5) shows them */
	in.uid = 64124;
	in.policy = ACCESS_READ;
	access_owner_encode(&in, buf, sizeof(buf));
	ck_assert_int_eq(memcmp(buf, "\x01\x02\x00\x00\x00\x00\xfa\x7c", 8), 0);
	ck_assert_int_eq(access_owner_encode(&in, buf, 7), -ENOSPC);
	in.uid = (uid_t)-1;
	ck_assert_int_eq(access_owner_encode(&in, buf, 8), -EINVAL);
	in.uid = 1;
	in.policy = ACCESS_POLICY_MAX;
	ck_assert_int_eq(access_owner_encode(&in, buf, 8), -EINVAL);
}
END_TEST

/* A bad record: root's, policy none, whatever was in it. */
static void
assert_bad(const uint8_t *b, long len)
{
	struct access_owner o = { 4242, ACCESS_FILL, ACCESS_RECORD };

	ck_assert_int_eq(access_owner_decode(b, len, &o), -EINVAL);
	ck_assert(o.uid == 0);
	ck_assert_int_eq(o.policy, ACCESS_NONE);
	ck_assert_int_eq(o.origin, ACCESS_BAD);
	/* and it gives nobody but an admin (or root) anything */
	ck_assert_int_eq(access_check(0, 4242, &o, ACCESS_FILL,
	    ACCESS_READ_OBJ, 0), -EPERM);
	ck_assert_int_eq(access_check(0, 0, &o, ACCESS_NONE,
	    ACCESS_VOL_WIPE, 0), 0);
}

START_TEST(record_bad)
{
	static const uint8_t good[8] = { 1, 3, 0, 0, 0, 0, 0x10, 0x68 };
	uint8_t b[16];
	struct access_owner o;
	int i;

	ck_assert_int_eq(access_owner_decode(good, 8, &o), 0);
	ck_assert(o.uid == 0x1068);
	for (i = 0; i < 8; i++)		/* too short */
		assert_bad(good, i);
	memcpy(b, good, 8);
	b[8] = 0;
	assert_bad(b, 9);		/* too long */
	memcpy(b, good, 8);
	b[0] = 2;
	assert_bad(b, 8);		/* another version */
	b[0] = 0;
	assert_bad(b, 8);
	memcpy(b, good, 8);
	b[1] = ACCESS_POLICY_MAX;
	assert_bad(b, 8);		/* no such policy */
	b[1] = 0xff;
	assert_bad(b, 8);
	memcpy(b, good, 8);
	b[2] = 1;
	assert_bad(b, 8);		/* padding */
	memcpy(b, good, 8);
	b[3] = 0x80;
	assert_bad(b, 8);
	memcpy(b, "\x01\x01\x00\x00\xff\xff\xff\xff", 8);
	assert_bad(b, 8);		/* uid -1 */
	/* no record at all: root's, the config's default */
	o.uid = 7;
	ck_assert_int_eq(access_owner_decode(NULL, -1, &o), 1);
	ck_assert(o.uid == 0);
	ck_assert_int_eq(o.policy, ACCESS_DEFAULT);
	ck_assert_int_eq(o.origin, ACCESS_LEGACY);
	ck_assert_int_eq(access_check(0, 7, &o, ACCESS_READ, ACCESS_LIST, 0),
	    0);
	ck_assert_int_eq(access_check(0, 7, &o, ACCESS_READ, ACCESS_VOL_ANY,
	    0), -EPERM);
}
END_TEST

START_TEST(policy_name_roundtrip)
{
	int i;

	for (i = 0; i < ACCESS_POLICY_MAX; i++)
		ck_assert_int_eq(access_policy_parse(access_policy_str(i)), i);
	ck_assert_int_eq(access_policy_parse("all"), -1);
	ck_assert_int_eq(access_policy_parse(""), -1);
	ck_assert_int_eq(access_policy_parse(NULL), -1);
	ck_assert_str_eq(access_policy_str(99), "?");
}
END_TEST

/* SO_PEERGROUPS on a real socket pair: the groups a peer has at connect,
 * whatever the group database says (control.c reads the same option). */
START_TEST(peergroups)
{
	gid_t want[2] = { 65534, 4242 }, got[16];
	socklen_t len = sizeof(got);
	int status, n, i, found = 0;
	pid_t pid;

	if (geteuid() != 0) {
		printf("SKIP: peergroups needs root (passes without checking)\n");
		return;
	}
	/* a listening socket the child connects to with its own groups */
	{
		int l = socket(AF_UNIX, SOCK_SEQPACKET, 0), c;
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path),
		    "/tmp/check_access.%ld", (long)getpid());
		unlink(sa.sun_path);
		ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(listen(l, 1), 0);
		ck_assert_int_eq(chmod(sa.sun_path, 0777), 0);
		pid = fork();
		if (pid == 0) {
			int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);

			if (setgroups(2, want) < 0 || setgid(4343) < 0 ||
			    setuid(64123) < 0 || connect(s,
			    (struct sockaddr *)&sa, sizeof(sa)) < 0)
				_exit(1);
			_exit(0);
		}
		/* the connection waits in the backlog: accept never blocks */
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		c = accept(l, NULL, NULL);
		ck_assert_int_ge(c, 0);
		ck_assert_int_eq(getsockopt(c, SOL_SOCKET, SO_PEERGROUPS, got,
		    &len), 0);
		n = len / sizeof(gid_t);
		for (i = 0; i < n; i++)
			found += got[i] == 65534 || got[i] == 4242;
		ck_assert_int_eq(found, 2);
		ck_assert_int_eq(access_role(64123, 4343, got, n, 9999, 4242),
		    ACCESS_CLIENT);
		ck_assert_int_eq(access_role(64123, 4343, got, n, 65534, 4242),
		    ACCESS_ADMIN);
		ck_assert_int_eq(access_role(64123, 4343, got, n, 1, 2),
		    ACCESS_REFUSED);
		close(c);
		close(l);
		unlink(sa.sun_path);
	}
}
END_TEST

static Suite *
access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("access");

	tcase_add_test(tc, roles);
	tcase_add_test(tc, decision_table);
	tcase_add_test(tc, default_policy);
	tcase_add_test(tc, record_roundtrip);
	tcase_add_test(tc, record_bad);
	tcase_add_test(tc, policy_name_roundtrip);
	tcase_add_test(tc, peergroups);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(access_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
