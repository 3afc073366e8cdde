/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_proto.c: the wire codec (lib/proto.c): byte order, bounds on both
 * sides, header checks, status mapping, and send/recv with fds over a real
 * SOCK_SEQPACKET socketpair, truncation included.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"

START_TEST(test_little_endian)
{
	uint8_t buf[32];
	struct proto_buf b;
	static const uint8_t want[] = {
		0x01, 0x02, 0x01, 0x04, 0x03, 0x02, 0x01,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	};

	proto_buf_init(&b, buf, sizeof(buf));
	proto_put_u8(&b, 0x01);
	proto_put_u16(&b, 0x0102);
	proto_put_u32(&b, 0x01020304);
	proto_put_u64(&b, 0x0102030405060708ULL);
	ck_assert_int_eq(b.err, 0);
	ck_assert_uint_eq(b.off, sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));

	proto_buf_init(&b, buf, b.off);
	ck_assert_uint_eq(proto_get_u8(&b), 0x01);
	ck_assert_uint_eq(proto_get_u16(&b), 0x0102);
	ck_assert_uint_eq(proto_get_u32(&b), 0x01020304);
	ck_assert(proto_get_u64(&b) == 0x0102030405060708ULL);
	ck_assert_uint_eq(proto_remaining(&b), 0);
	ck_assert_int_eq(b.err, 0);
	/* one more byte: sticky -EPROTO, zero values */
	ck_assert_uint_eq(proto_get_u8(&b), 0);
	ck_assert_int_eq(b.err, -EPROTO);
	ck_assert_uint_eq(proto_get_u32(&b), 0);
	ck_assert_uint_eq(proto_remaining(&b), 0);
}
END_TEST

START_TEST(test_encode_bounds)
{
	uint8_t buf[8];
	struct proto_buf b;

	proto_buf_init(&b, buf, sizeof(buf));
	proto_put_u32(&b, 1);
	proto_put_u64(&b, 2);		/* does not fit */
	ck_assert_int_eq(b.err, -EMSGSIZE);
	ck_assert_uint_eq(b.off, 4);
	proto_put_u8(&b, 3);		/* sticky */
	ck_assert_uint_eq(b.off, 4);

	proto_buf_init(&b, buf, sizeof(buf));
	proto_put_bytes(&b, buf, 70000);	/* longer than a u16 */
	ck_assert_int_eq(b.err, -EMSGSIZE);
	ck_assert_uint_eq(b.off, 0);
}
END_TEST

START_TEST(test_bytes_and_str)
{
	uint8_t buf[64];
	char out[8];
	struct proto_buf b;
	struct proto_bytes x;

	proto_buf_init(&b, buf, sizeof(buf));
	proto_put_str(&b, "abc");
	proto_put_bytes(&b, "a\0b", 3);
	proto_put_str(&b, NULL);
	proto_put_str(&b, "toolongx");
	ck_assert_int_eq(b.err, 0);
	ck_assert_uint_eq(buf[0], 3);
	ck_assert_uint_eq(buf[1], 0);

	proto_buf_init(&b, buf, b.off);
	ck_assert_int_eq(proto_get_str(&b, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "abc");
	x = proto_get_bytes(&b);
	ck_assert_uint_eq(x.len, 3);
	ck_assert_mem_eq(x.ptr, "a\0b", 3);
	ck_assert_int_eq(proto_get_str(&b, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	/* 8 bytes do not fit in out[8] with the NUL */
	ck_assert_int_eq(proto_get_str(&b, out, sizeof(out)), -EPROTO);
	ck_assert_str_eq(out, "");

	/* a str with a NUL inside is rejected */
	proto_buf_init(&b, buf, sizeof(buf));
	proto_put_bytes(&b, "a\0b", 3);
	proto_buf_init(&b, buf, b.off);
	ck_assert_int_eq(proto_get_str(&b, out, sizeof(out)), -EPROTO);

	/* a length that runs past the message */
	buf[0] = 0xff;
	buf[1] = 0x00;
	proto_buf_init(&b, buf, 10);
	x = proto_get_bytes(&b);
	ck_assert_ptr_null(x.ptr);
	ck_assert_uint_eq(x.len, 0);
	ck_assert_int_eq(b.err, -EPROTO);
	proto_buf_init(&b, buf, 10);
	ck_assert_ptr_null(proto_get_raw(&b, 11));
	ck_assert_int_eq(b.err, -EPROTO);
}
END_TEST

START_TEST(test_header)
{
	static uint8_t buf[PROTO_MAX_MSG + 16], zero[PROTO_MAX_MSG];
	struct proto_buf b;
	struct proto_hdr h;
	size_t len;

	proto_buf_init(&b, buf, sizeof(buf));
	proto_begin(&b, PROTO_STATUS, 42, PROTO_F_REPLY, PROTO_EPERM);
	proto_put_u32(&b, 7);
	ck_assert_int_eq(proto_finish(&b), 0);
	len = b.off;
	ck_assert_uint_eq(len, PROTO_HDR_SIZE + 4);
	ck_assert_uint_eq(buf[4], len);

	proto_buf_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(proto_parse_hdr(&b, &h, len), 0);
	ck_assert_uint_eq(h.version, PROTO_VERSION);
	ck_assert_uint_eq(h.type, PROTO_STATUS);
	ck_assert_uint_eq(h.len, len);
	ck_assert_uint_eq(h.seq, 42);
	ck_assert_uint_eq(h.flags, PROTO_F_REPLY);
	ck_assert_uint_eq(h.status, PROTO_EPERM);
	ck_assert_uint_eq(b.off, PROTO_HDR_SIZE);
	ck_assert_uint_eq(proto_get_u32(&b), 7);

	/* too short, len mismatch, wrong version, larger than the buffer */
	proto_buf_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(proto_parse_hdr(&b, &h, PROTO_HDR_SIZE - 1), -EPROTO);
	proto_buf_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(proto_parse_hdr(&b, &h, len - 1), -EPROTO);
	proto_buf_init(&b, buf, 8);
	ck_assert_int_eq(proto_parse_hdr(&b, &h, len), -EPROTO);
	proto_buf_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(proto_parse_hdr(&b, &h, PROTO_MAX_MSG + 1), -EPROTO);
	buf[0] = PROTO_VERSION + 1;
	proto_buf_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(proto_parse_hdr(&b, &h, len), -EPROTO);

	/* a message past PROTO_MAX_MSG cannot be finished */
	proto_buf_init(&b, buf, sizeof(buf));
	proto_begin(&b, PROTO_WRITE, 1, 0, 0);
	proto_put_raw(&b, zero, PROTO_MAX_MSG);
	ck_assert_int_eq(b.err, 0);
	ck_assert_int_eq(proto_finish(&b), -EMSGSIZE);
	/* the largest inline write fits */
	proto_begin(&b, PROTO_WRITE, 1, 0, 0);
	proto_put_u32(&b, 1);
	proto_put_u32(&b, 0);
	proto_put_u64(&b, 0);
	proto_put_u64(&b, PROTO_MAX_INLINE);
	proto_put_u64(&b, 0);
	proto_put_raw(&b, zero, PROTO_MAX_INLINE);
	ck_assert_int_eq(proto_finish(&b), 0);
	ck_assert_uint_le(b.off, PROTO_MAX_MSG);
}
END_TEST

START_TEST(test_kv)
{
	uint8_t buf[128];
	char key[16], val[16];
	struct proto_buf b;

	proto_buf_init(&b, buf, sizeof(buf));
	proto_put_kv_u64(&b, "bytes", 1ULL << 40);
	proto_put_kv_s64(&b, "delta", -5);
	proto_put_kv_str(&b, "state", "running");
	ck_assert_int_eq(b.err, 0);

	proto_buf_init(&b, buf, b.off);
	ck_assert_uint_eq(proto_get_u8(&b), PROTO_KV_U64);
	ck_assert_int_eq(proto_get_str(&b, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "bytes");
	ck_assert(proto_get_u64(&b) == 1ULL << 40);
	ck_assert_uint_eq(proto_get_u8(&b), PROTO_KV_S64);
	ck_assert_int_eq(proto_get_str(&b, key, sizeof(key)), 0);
	ck_assert_int_eq((int64_t)proto_get_u64(&b), -5);
	ck_assert_uint_eq(proto_get_u8(&b), PROTO_KV_STR);
	ck_assert_int_eq(proto_get_str(&b, key, sizeof(key)), 0);
	ck_assert_int_eq(proto_get_str(&b, val, sizeof(val)), 0);
	ck_assert_str_eq(val, "running");
	ck_assert_uint_eq(proto_remaining(&b), 0);
}
END_TEST

START_TEST(test_status_map)
{
	uint16_t s;

	ck_assert_int_eq(proto_status_to_errno(PROTO_OK), 0);
	for (s = 1; s < PROTO_STATUS_MAX; s++) {
		int err = proto_status_to_errno(s);

		ck_assert_int_lt(err, 0);
		/* every code but the generic PROTO_ERR goes there and back */
		if (s != PROTO_ERR)
			ck_assert_uint_eq(proto_status_from_errno(err), s);
		ck_assert_str_ne(proto_status_str(s), "unknown status");
	}
	ck_assert_int_eq(proto_status_to_errno(PROTO_STATUS_MAX), -EIO);
	ck_assert_int_eq(proto_status_to_errno(0xffff), -EIO);
	ck_assert_str_eq(proto_status_str(0xffff), "unknown status");
	ck_assert_uint_eq(proto_status_from_errno(-ENOBUFS), PROTO_ENOBUFS);
	ck_assert_uint_eq(proto_status_from_errno(ENODATA), PROTO_ENODATA);
	ck_assert_uint_eq(proto_status_from_errno(-EACCES), PROTO_EPERM);
	ck_assert_uint_eq(proto_status_from_errno(-EROFS), PROTO_ENOBUFS);
	ck_assert_uint_eq(proto_status_from_errno(-EAGAIN), PROTO_ENOBUFS);
	ck_assert_uint_eq(proto_status_from_errno(-ENAMETOOLONG), PROTO_EINVAL);
	ck_assert_uint_eq(proto_status_from_errno(-EMSGSIZE), PROTO_EPROTO);
	ck_assert_uint_eq(proto_status_from_errno(-EIO), PROTO_EIO);
	ck_assert_uint_eq(proto_status_from_errno(-EXDEV), PROTO_ERR);
	ck_assert_uint_eq(proto_status_from_errno(0), PROTO_OK);
	ck_assert_str_eq(proto_type_str(PROTO_HELLO), "hello");
	ck_assert_str_eq(proto_type_str(PROTO_RELOAD), "reload");
	ck_assert_str_eq(proto_type_str(999), "unknown");
}
END_TEST

static void
seqpair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
}

START_TEST(test_send_recv_fd)
{
	uint8_t msg[PROTO_HDR_SIZE + 4], in[256];
	struct proto_buf b;
	struct stat a, c;
	int sv[2], fd, got;

	seqpair(sv);
	proto_buf_init(&b, msg, sizeof(msg));
	proto_begin(&b, PROTO_PING, 1, 0, 0);
	proto_put_u32(&b, 5);
	ck_assert_int_eq(proto_finish(&b), 0);

	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(proto_send(sv[0], msg, b.off, fd), 0);
	got = proto_recv(sv[1], in, sizeof(in), &fd);
	ck_assert_int_eq(got, (int)b.off);
	ck_assert_mem_eq(in, msg, b.off);
	ck_assert_int_ge(fd, 0);
	/* the same file, and close-on-exec */
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(stat("/dev/null", &c), 0);
	ck_assert(a.st_rdev == c.st_rdev);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* no fd sent: -1 back */
	ck_assert_int_eq(proto_send(sv[0], msg, b.off, -1), 0);
	ck_assert_int_eq(proto_recv(sv[1], in, sizeof(in), &fd), (int)b.off);
	ck_assert_int_eq(fd, -1);

	/* an fd the receiver did not ask for is closed, not leaked */
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(proto_send(sv[0], msg, b.off, fd), 0);
	close(fd);
	ck_assert_int_eq(proto_recv(sv[1], in, sizeof(in), NULL), (int)b.off);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);	/* the same number is free */

	/* EOF */
	close(sv[0]);
	ck_assert_int_eq(proto_recv(sv[1], in, sizeof(in), &fd), 0);
	ck_assert_int_eq(fd, -1);
	close(sv[1]);
}
END_TEST

START_TEST(test_recv_truncated)
{
	uint8_t msg[1000], in[100];
	int sv[2], fd, before;

	seqpair(sv);
	memset(msg, 0xab, sizeof(msg));
	fd = open("/dev/null", O_RDONLY);
	before = fd;
	ck_assert_int_eq(proto_send(sv[0], msg, sizeof(msg), fd), 0);
	close(fd);
	/* longer than the buffer: -EMSGSIZE, and the fd that came is closed */
	ck_assert_int_eq(proto_recv(sv[1], in, sizeof(in), &fd), -EMSGSIZE);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(fcntl(before, F_GETFD), -1);
	/* the stream stays in step: the next packet is whole */
	ck_assert_int_eq(proto_send(sv[0], msg, 50, -1), 0);
	ck_assert_int_eq(proto_recv(sv[1], in, sizeof(in), &fd), 50);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_send_closed_peer)
{
	uint8_t msg[PROTO_HDR_SIZE] = { 0 };
	int sv[2];

	seqpair(sv);
	close(sv[1]);
	/* MSG_NOSIGNAL: an error, not a SIGPIPE that kills the test */
	ck_assert_int_eq(proto_send(sv[0], msg, sizeof(msg), -1), -EPIPE);
	close(sv[0]);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("proto");

	tcase_add_test(tc, test_little_endian);
	tcase_add_test(tc, test_encode_bounds);
	tcase_add_test(tc, test_bytes_and_str);
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_kv);
	tcase_add_test(tc, test_status_map);
	tcase_add_test(tc, test_send_recv_fd);
	tcase_add_test(tc, test_recv_truncated);
	tcase_add_test(tc, test_send_closed_peer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
