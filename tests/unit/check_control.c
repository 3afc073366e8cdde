/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_control.c: the control socket server (control.c): dispatch (an
 * unknown type, a type past the table, a handler registered twice,
 * admin-only types, handler errors, a bad header, a reply flag, a short,
 * a truncated and an oversized frame, fds where none belong, the garbage
 * limit, the unanswered-request cap), permissions (peer credentials from
 * SO_PEERCRED: root, admin_group, client_group, refused; a reload's new
 * groups) and limits (limit.c's per-uid connection cap, the admin slots,
 * the idle timeout through the loop). Includes control.c to reach its
 * statics.
 *
 * The server runs in the test process on a socket in a temporary
 * directory; the tests drive it by calling on_accept and on_client as the
 * loop would, so each step is synchronous (the idle test runs the loop).
 * A peer with other credentials is connected by a child that takes them
 * (root only) and passes the connected socket back: SO_PEERCRED is what
 * the kernel took at connect. Without root the test process itself is
 * the non-admin peer (uid != 0), so no case is skipped either way.
 */
#include <check.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>

#include "daemon/control.c"
#include "conf.h"
#include "tests/unit/loop_wait.h"

#define OTHER_ID	65534		/* nobody, for a peer that is not root */
#define ADMIN_GID	4242		/* a group only the tests use */

static char tmpdir[64], path[96];
/* server_up((gid_t)-1, getegid()): our own peer is a client even without
 * root (root is admin anyway) */
static int calls_a, calls_b;

/* ---- the server ---------------------------------------------------------- */

static void
server_up(gid_t admin_gid, gid_t client_gid)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_control.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	chmod(tmpdir, 0755);	/* a child with another uid connects */
	snprintf(path, sizeof(path), "%s/s", tmpdir);
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(control_open(path, admin_gid, client_gid), 0);
	chmod(path, 0666);	/* access.h decides, not the mode */
}

static void
server_down(void)
{
	control_close();
	rmdir(tmpdir);
}

/* Accept what waits and handle what every peer sent, as the loop would. */
static void
serve_pending(void)
{
	struct ctl_client *c, *next;

	on_accept(listen_fd, EPOLLIN, NULL);
	for (c = clients; c; c = next) {
		next = c->next;
		if (!c->dead && c->reading)
			on_client(c->fd, EPOLLIN, c);
	}
}

/* The server's side of the newest peer. */
static struct ctl_client *
newest(void)
{
	ck_assert_ptr_nonnull(clients);
	return clients;
}

/* ---- peers --------------------------------------------------------------- */

static int
connect_self(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * A peer socket whose credentials say uid, gid and the one supplementary
 * group sup ((gid_t)-1: none): ours if they are ours, else made by a child
 * that takes them (needs root) and hands the socket back over a
 * socketpair.
 */
static int
connect_as(uid_t uid, gid_t gid, gid_t sup)
{
	union proto_fdbuf u;
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct timeval tv = { 10, 0 };
	int sp[2], fd = -1, st;
	pid_t pid;

	if (uid == geteuid() && gid == getegid() && sup == (gid_t)-1)
		return connect_self();
	ck_assert_msg(geteuid() == 0, "another uid needs root");
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sp[0]);
		if ((sup == (gid_t)-1 ? setgroups(0, NULL) :
		    setgroups(1, &sup)) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0)
			_exit(1);
		fd = connect_self();
		_exit(proto_send(sp[1], "x", 1, fd) < 0 ? 2 : 0);
	}
	close(sp[1]);
	if (recvmsg(sp[0], &mh, 0) == 1 && CMSG_FIRSTHDR(&mh))
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	close(sp[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "child peer failed: %d", st);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A peer that is neither root nor in any group the server knows. */
static int
connect_nonadmin(void)
{
	if (geteuid() == 0)
		return connect_as(OTHER_ID, OTHER_ID, (gid_t)-1);
	return connect_self();
}

/* The gid that makes connect_nonadmin's peer a member (client_group or
 * admin_group). */
static gid_t
nonadmin_gid(void)
{
	return geteuid() == 0 ? OTHER_ID : getegid();
}

/* ---- messages ------------------------------------------------------------ */

static void
send_msg(int fd, uint16_t type, uint32_t seq, uint16_t flags)
{
	uint8_t msg[PROTO_HDR_SIZE];
	struct proto_buf b;

	proto_buf_init(&b, msg, sizeof(msg));
	proto_begin(&b, type, seq, flags, 0);
	ck_assert_int_eq(proto_finish(&b), 0);
	ck_assert_int_eq(send(fd, msg, b.off, 0), (ssize_t)b.off);
}

/* Read one reply: its status, with its header's type and seq checked, and
 * its text (a str body) into why. */
static uint16_t
reply(int fd, uint16_t type, uint32_t seq, char *why, size_t whysz)
{
	uint8_t msg[PROTO_MAX_MSG];
	struct proto_buf b;
	struct proto_hdr h;
	ssize_t n = recv(fd, msg, sizeof(msg), 0);

	ck_assert_int_gt(n, 0);
	proto_buf_init(&b, msg, n);
	ck_assert_int_eq(proto_parse_hdr(&b, &h, n), 0);
	ck_assert_uint_eq(h.flags & PROTO_F_REPLY, PROTO_F_REPLY);
	ck_assert_uint_eq(h.type, type);
	ck_assert_uint_eq(h.seq, seq);
	if (why) {
		why[0] = '\0';
		if (n > PROTO_HDR_SIZE)
			proto_get_str(&b, why, whysz);
	}
	return h.status;
}

/* The usual start: a server whose client_group is ours, and our peer. */
static int
up_self(void)
{
	server_up((gid_t)-1, getegid());
	return connect_self();
}

/* The usual end: our peer goes, then the server. */
static void
down(int fd)
{
	close(fd);
	server_down();
}

/* Send a request, let the server handle it, and read the reply. */
static uint16_t
ask(int fd, uint16_t type, uint32_t seq, char *why, size_t whysz)
{
	send_msg(fd, type, seq, 0);
	serve_pending();
	return reply(fd, type, seq, why, whysz);
}

/* The peer's end says the server hung up (after any replies queued). */
static int
hung_up(int fd)
{
	uint8_t msg[PROTO_MAX_MSG];
	ssize_t n;

	while ((n = recv(fd, msg, sizeof(msg), 0)) > 0)
		;
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static int
h_a(struct ctl_req *rq)
{
	calls_a++;
	control_reply_str(rq, PROTO_OK, "a");
	return 0;
}

static int
h_b(struct ctl_req *rq)
{
	calls_b++;
	control_reply_str(rq, PROTO_OK, "b");
	return 0;
}

static int
h_enoent(struct ctl_req *rq)
{
	(void)rq;
	return -ENOENT;
}

static int
h_eproto(struct ctl_req *rq)
{
	(void)rq;
	return -EPROTO;
}

static struct ctl_req *kept[CTL_MAX_OUTSTANDING + 8];
static unsigned nkept;

static int
h_defer(struct ctl_req *rq)
{
	kept[nkept++] = rq;
	return CTL_DEFERRED;
}

/* ---- dispatch ------------------------------------------------------------ */

/* A type nobody registered is refused by name; the peer stays. */
START_TEST(unknown_type)
{
	char why[256];
	int fd;

	fd = up_self();
	ck_assert_uint_eq(ask(fd, 250, 7, why, sizeof(why)), PROTO_EINVAL);
	ck_assert_str_eq(why, "unknown message type 250");
	ck_assert_uint_eq(ask(fd, PROTO_PING, 8, why, sizeof(why)),
	    PROTO_OK);
	ck_assert_str_eq(why, "pong");
	down(fd);
}
END_TEST

/* A type past the handler table (and registering one there) does not
 * reach past it. */
START_TEST(type_past_table)
{
	char why[256];
	int fd;

	server_up((gid_t)-1, getegid());
	control_register(CTL_MAX_TYPE + 5, h_a, 0);	/* ignored */
	fd = connect_self();
	send_msg(fd, CTL_MAX_TYPE + 5, 1, 0);
	send_msg(fd, 65535, 2, 0);
	serve_pending();
	ck_assert_uint_eq(reply(fd, CTL_MAX_TYPE + 5, 1, why, sizeof(why)),
	    PROTO_EINVAL);
	ck_assert_uint_eq(reply(fd, 65535, 2, NULL, 0), PROTO_EINVAL);
	ck_assert_int_eq(calls_a, 0);
	down(fd);
}
END_TEST

/* A second registration of a type replaces the first (control.h). */
START_TEST(registered_twice)
{
	char why[256];
	int fd;

	fd = up_self();
	control_register(260, h_a, 0);
	control_register(260, h_b, 0);
	ck_assert_uint_eq(ask(fd, 260, 3, why, sizeof(why)), PROTO_OK);
	ck_assert_str_eq(why, "b");
	ck_assert_int_eq(calls_a, 0);
	ck_assert_int_eq(calls_b, 1);
	down(fd);
}
END_TEST

/* An admin-only type from a client peer: PROTO_EPERM, handler not run. */
START_TEST(admin_only_from_client)
{
	char why[256];
	int fd;

	server_up((gid_t)-1, nonadmin_gid());
	control_register(PROTO_RELOAD, h_a, 1);
	control_register(261, h_b, 0);
	fd = connect_nonadmin();
	serve_pending();
	ck_assert_int_eq(newest()->admin, 0);
	ck_assert_int_eq(newest()->refused, 0);
	send_msg(fd, PROTO_RELOAD, 4, 0);
	send_msg(fd, 261, 5, 0);
	serve_pending();
	ck_assert_uint_eq(reply(fd, PROTO_RELOAD, 4, why, sizeof(why)),
	    PROTO_EPERM);
	ck_assert_ptr_nonnull(strstr(why, "needs root or the admin group"));
	ck_assert_uint_eq(reply(fd, 261, 5, NULL, 0), PROTO_OK);
	ck_assert_int_eq(calls_a, 0);
	ck_assert_int_eq(calls_b, 1);
	down(fd);
}
END_TEST

/* A handler's -errno becomes the reply's status; -EPROTO also counts as
 * garbage. */
START_TEST(handler_errors)
{
	char why[256];
	int fd;

	fd = up_self();
	control_register(262, h_enoent, 0);
	control_register(263, h_eproto, 0);
	send_msg(fd, 262, 1, 0);
	send_msg(fd, 263, 2, 0);
	serve_pending();
	ck_assert_uint_eq(reply(fd, 262, 1, why, sizeof(why)),
	    proto_status_from_errno(-ENOENT));
	ck_assert_ptr_nonnull(strstr(why, strerror(ENOENT)));
	ck_assert_uint_eq(reply(fd, 263, 2, NULL, 0), PROTO_EPROTO);
	ck_assert_uint_eq(newest()->garbage, 1);
	down(fd);
}
END_TEST

/* A header of another version: PROTO_EPROTO echoing its type and seq. */
START_TEST(bad_header_version)
{
	uint8_t msg[PROTO_HDR_SIZE];
	struct proto_buf b;
	char why[256];
	int fd;

	fd = up_self();
	proto_buf_init(&b, msg, sizeof(msg));
	proto_begin(&b, PROTO_PING, 0x01020304, 0, 0);
	ck_assert_int_eq(proto_finish(&b), 0);
	msg[0] = PROTO_VERSION + 1;
	ck_assert_int_eq(send(fd, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
	serve_pending();
	ck_assert_uint_eq(reply(fd, PROTO_PING, 0x01020304, why, sizeof(why)),
	    PROTO_EPROTO);
	ck_assert_str_eq(why, "malformed message");
	ck_assert_uint_eq(newest()->garbage, 1);
	down(fd);
}
END_TEST

/* A message that says it is a reply, or carries a status, is not a
 * request. */
START_TEST(reply_flag_refused)
{
	int fd;

	fd = up_self();
	send_msg(fd, PROTO_PING, 9, PROTO_F_REPLY);
	serve_pending();
	ck_assert_uint_eq(reply(fd, PROTO_PING, 9, NULL, 0), PROTO_EPROTO);
	down(fd);
}
END_TEST

/* Shorter than a header: refused with type 0, seq 0. */
START_TEST(short_frame)
{
	int fd;

	fd = up_self();
	ck_assert_int_eq(send(fd, "\1\0\145\0\0", 5, 0), 5);
	serve_pending();
	ck_assert_uint_eq(reply(fd, 0, 0, NULL, 0), PROTO_EPROTO);
	down(fd);
}
END_TEST

/* A frame whose header claims more bytes than came (truncated). */
START_TEST(truncated_frame)
{
	uint8_t msg[PROTO_HDR_SIZE + 8];
	struct proto_buf b;
	int fd;

	fd = up_self();
	proto_buf_init(&b, msg, sizeof(msg));
	proto_begin(&b, PROTO_PING, 11, 0, 0);
	proto_put_u64(&b, 0);
	ck_assert_int_eq(proto_finish(&b), 0);
	ck_assert_int_eq(send(fd, msg, PROTO_HDR_SIZE + 4, 0),
	    PROTO_HDR_SIZE + 4);
	serve_pending();
	ck_assert_uint_eq(reply(fd, PROTO_PING, 11, NULL, 0), PROTO_EPROTO);
	down(fd);
}
END_TEST

/* A frame longer than PROTO_MAX_MSG: cut by the kernel (MSG_TRUNC) and
 * refused as type 0, seq 0 (a cut frame's header is not trusted). */
START_TEST(oversized_frame)
{
	size_t len = PROTO_MAX_MSG + 64;
	uint8_t *msg = calloc(1, len);
	int fd, sz = 4 * PROTO_MAX_MSG;

	ck_assert_ptr_nonnull(msg);
	fd = up_self();
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	msg[0] = PROTO_VERSION;
	msg[2] = PROTO_PING;
	msg[8] = 12;
	msg[4] = len & 0xff;
	msg[5] = len >> 8 & 0xff;
	msg[6] = len >> 16 & 0xff;
	ck_assert_int_eq(send(fd, msg, len, 0), (ssize_t)len);
	serve_pending();
	ck_assert_uint_eq(reply(fd, 0, 0, NULL, 0), PROTO_EPROTO);
	ck_assert_uint_eq(newest()->garbage, 1);
	free(msg);
	down(fd);
}
END_TEST

/* CTL_MAX_GARBAGE malformed messages and the peer is hung up on. */
START_TEST(garbage_limit)
{
	int fd, i;

	fd = up_self();
	for (i = 0; i < CTL_MAX_GARBAGE; i++)
		send_msg(fd, PROTO_PING, i, PROTO_F_REPLY);
	serve_pending();
	ck_assert_int_eq(newest()->dead, 1);
	reap_clients(NULL);
	ck_assert_uint_eq(nclients, 0);
	ck_assert(hung_up(fd));
	down(fd);
}
END_TEST

/* An fd with any message but the first HELLO is refused (the kernel
 * drops it: no room for fds). */
START_TEST(fd_outside_hello)
{
	uint8_t msg[PROTO_HDR_SIZE];
	struct proto_buf b;
	char why[256];
	int fd, nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

	fd = up_self();
	send_msg(fd, PROTO_PING, 1, 0);		/* not a HELLO: no fd room */
	serve_pending();
	ck_assert_uint_eq(reply(fd, PROTO_PING, 1, NULL, 0), PROTO_OK);
	proto_buf_init(&b, msg, sizeof(msg));
	proto_begin(&b, PROTO_PING, 2, 0, 0);
	ck_assert_int_eq(proto_finish(&b), 0);
	ck_assert_int_eq(proto_send(fd, msg, b.off, nul), 0);
	serve_pending();
	ck_assert_uint_eq(reply(fd, PROTO_PING, 2, why, sizeof(why)),
	    PROTO_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "fds are only taken with the first "
	    "HELLO"));
	close(nul);
	down(fd);
}
END_TEST

/* A peer that does not answer its deferred requests is no longer read
 * from at CTL_MAX_OUTSTANDING; answering one reads it again. */
START_TEST(outstanding_cap)
{
	unsigned i;
	int fd, sz = 1 << 20;

	fd = up_self();
	control_register(264, h_defer, 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	for (i = 0; i < CTL_MAX_OUTSTANDING + 4; i++)
		send_msg(fd, 264, i, 0);
	for (i = 0; i < 8; i++)
		serve_pending();
	ck_assert_uint_eq(nkept, CTL_MAX_OUTSTANDING);
	ck_assert_int_eq(newest()->reading, 0);
	control_reply_str(kept[0], PROTO_OK, "late");
	ck_assert_int_eq(newest()->reading, 1);
	ck_assert_uint_eq(reply(fd, 264, 0, NULL, 0), PROTO_OK);
	serve_pending();
	ck_assert_uint_eq(nkept, CTL_MAX_OUTSTANDING + 1);
	/* the peer goes: its requests stay valid, their answers dropped */
	close(fd);
	client_kill(newest());
	reap_clients(NULL);
	ck_assert_ptr_null(kept[1]->client);
	for (i = 1; i < nkept; i++)
		control_reply_str(kept[i], PROTO_OK, "nobody");
	server_down();
}
END_TEST

/* ---- permissions --------------------------------------------------------- */

/* Root is admin whatever the groups; any other uid is not, without a
 * group (so without root our own peer gets PROTO_EPERM). */
START_TEST(root_is_admin)
{
	int fd, root = geteuid() == 0;

	fd = up_self();
	control_register(PROTO_RELOAD, h_a, 1);
	send_msg(fd, PROTO_RELOAD, 1, 0);
	serve_pending();
	ck_assert_int_eq(newest()->admin, root);
	ck_assert_uint_eq(reply(fd, PROTO_RELOAD, 1, NULL, 0),
	    root ? PROTO_OK : PROTO_EPERM);
	ck_assert_int_eq(calls_a, root);
	down(fd);
}
END_TEST

/* admin_group by a supplementary group (root: a child with that group) or
 * by the primary gid (without root): admin-only types run. */
START_TEST(admin_group_peer)
{
	gid_t g = geteuid() == 0 ? ADMIN_GID : getegid();
	int fd;

	server_up(g, (gid_t)-1);
	control_register(PROTO_RELOAD, h_a, 1);
	fd = geteuid() == 0 ? connect_as(OTHER_ID, OTHER_ID, ADMIN_GID) :
	    connect_self();
	send_msg(fd, PROTO_RELOAD, 1, 0);
	serve_pending();
	ck_assert_int_eq(newest()->admin, 1);
	ck_assert_uint_eq(newest()->uid, geteuid() == 0 ? OTHER_ID :
	    geteuid());
	ck_assert_uint_eq(reply(fd, PROTO_RELOAD, 1, NULL, 0), PROTO_OK);
	ck_assert_int_eq(calls_a, 1);
	down(fd);
}
END_TEST

/* Neither root nor in a group: PROTO_EPERM for its first message, then
 * hung up on. */
START_TEST(refused_peer)
{
	char why[256];
	int fd;

	server_up((gid_t)-1, (gid_t)-1);
	fd = connect_nonadmin();
	send_msg(fd, PROTO_PING, 3, 0);
	serve_pending();
	ck_assert_int_eq(newest()->refused, 1);
	ck_assert_uint_eq(reply(fd, PROTO_PING, 3, why, sizeof(why)),
	    PROTO_EPERM);
	ck_assert_ptr_nonnull(strstr(why, "larderd serves root"));
	reap_clients(NULL);
	ck_assert_uint_eq(nclients, 0);
	ck_assert(hung_up(fd));
	down(fd);
}
END_TEST

/* A reload's groups judge new peers; a connected one keeps its rights. */
START_TEST(reload_groups)
{
	int a, b;

	server_up((gid_t)-1, nonadmin_gid());
	control_register(PROTO_RELOAD, h_a, 1);
	a = connect_nonadmin();
	serve_pending();
	ck_assert_int_eq(newest()->admin, 0);
	control_set_groups(nonadmin_gid(), (gid_t)-1);
	b = connect_nonadmin();
	serve_pending();
	ck_assert_int_eq(newest()->admin, 1);
	send_msg(a, PROTO_RELOAD, 1, 0);
	send_msg(b, PROTO_RELOAD, 2, 0);
	serve_pending();
	ck_assert_uint_eq(reply(a, PROTO_RELOAD, 1, NULL, 0), PROTO_EPERM);
	ck_assert_uint_eq(reply(b, PROTO_RELOAD, 2, NULL, 0), PROTO_OK);
	ck_assert_int_eq(calls_a, 1);
	close(a);
	close(b);
	server_down();
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

static void
limits(unsigned admin_conns, unsigned uid_conns, unsigned idle_s)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	c.admin_connections = admin_conns;
	c.uid_max_connections = uid_conns;
	c.uid_max_cookies = CONF_DEFAULT_UID_COOKIES;
	c.uid_max_volumes = CONF_DEFAULT_UID_VOLUMES;
	c.idle_timeout = idle_s;
	limit_configure(&c, -1);
}

/* uid_max_connections: the next connection of that uid is closed at
 * accept; once one of its connections goes, a new one gets in. */
START_TEST(uid_connection_cap)
{
	int fds[4], i;

	server_up((gid_t)-1, nonadmin_gid());
	limits(CONF_DEFAULT_ADMIN_CONNECTIONS, 2, 0);
	for (i = 0; i < 3; i++) {
		fds[i] = connect_nonadmin();
		serve_pending();
	}
	ck_assert_uint_eq(nclients, 2);
	ck_assert(hung_up(fds[2]));
	close(fds[0]);
	serve_pending();	/* its hang-up is read */
	reap_clients(NULL);
	ck_assert_uint_eq(nclients, 1);
	fds[3] = connect_nonadmin();
	serve_pending();
	ck_assert_uint_eq(nclients, 2);
	for (i = 1; i < 4; i++)
		close(fds[i]);
	server_down();
}
END_TEST

/* admin_connections: the last slots are for admins; a non-admin is
 * refused there (-EMFILE), an admin gets in. */
START_TEST(admin_slots)
{
	int fds[4], i;
	gid_t g = nonadmin_gid();

	server_up((gid_t)-1, g);
	/* every slot but 2 kept for admins */
	limits(CTL_MAX_CLIENTS - 2, 16, 0);
	for (i = 0; i < 3; i++) {
		fds[i] = connect_nonadmin();
		serve_pending();
	}
	ck_assert_uint_eq(nclients, 2);
	ck_assert(hung_up(fds[2]));
	if (geteuid() != 0)	/* make ourselves admin for the next peer */
		control_set_groups(g, g);
	fds[3] = connect_self();	/* root, or now in admin_group */
	serve_pending();
	ck_assert_uint_eq(nclients, 3);
	ck_assert_int_eq(newest()->admin, 1);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	server_down();
}
END_TEST

static int
one_left(void)
{
	return nclients == 1;
}

/* idle_timeout through the loop: a peer that holds nothing is closed, a
 * peer that holds something stays. */
START_TEST(idle_timeout)
{
	int idle, holder;

	server_up((gid_t)-1, getegid());
	limits(CONF_DEFAULT_ADMIN_CONNECTIONS, 16, 1);
	idle = connect_self();
	serve_pending();
	holder = connect_self();
	serve_pending();
	control_client_hold(newest(), 1);
	ck_assert_uint_eq(nclients, 2);
	loop_wait_until(one_left);
	ck_assert_uint_eq(newest()->held, 1);
	ck_assert(hung_up(idle));
	close(idle);
	close(holder);
	server_down();
}
END_TEST

static Suite *
control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *d = tcase_create("dispatch");
	TCase *p = tcase_create("permissions");
	TCase *l = tcase_create("limits");

	tcase_set_timeout(d, 60);
	tcase_set_timeout(p, 60);
	tcase_set_timeout(l, 90);
	tcase_add_test(d, unknown_type);
	tcase_add_test(d, type_past_table);
	tcase_add_test(d, registered_twice);
	tcase_add_test(d, admin_only_from_client);
	tcase_add_test(d, handler_errors);
	tcase_add_test(d, bad_header_version);
	tcase_add_test(d, reply_flag_refused);
	tcase_add_test(d, short_frame);
	tcase_add_test(d, truncated_frame);
	tcase_add_test(d, oversized_frame);
	tcase_add_test(d, garbage_limit);
	tcase_add_test(d, fd_outside_hello);
	tcase_add_test(d, outstanding_cap);
	tcase_add_test(p, root_is_admin);
	tcase_add_test(p, admin_group_peer);
	tcase_add_test(p, refused_peer);
	tcase_add_test(p, reload_groups);
	tcase_add_test(l, uid_connection_cap);
	tcase_add_test(l, admin_slots);
	tcase_add_test(l, idle_timeout);
	suite_add_tcase(s, d);
	suite_add_tcase(s, p);
	suite_add_tcase(s, l);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
