/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_freeze.c: one timed freeze request, or one timed syncfs, from a
 * process that is already running (bench-freeze.sh's in-process side).
 *
 *   bench_freeze freeze SOCKET   connect to larderd (no area), then time
 *                                FREEZE (no --fs, the configured time limit) to its
 *                                answer
 *   bench_freeze sync DIR        open DIR, then time syncfs of its
 *                                filesystem
 *
 * Both first do everything but the timed call, print "armed" on stdout
 * and wait for one line on stdin; then make the call and print the time
 * it took in microseconds. So what bench-freeze.sh compares is the
 * handshake against the sync, without the start-up of a process (fork,
 * exec, the dynamic linker), which on a busy 2-CPU machine took from a
 * few ms to 300 ms and differed from one side to the other. Exit 0, 1 on
 * a failed call, 2 on bad usage, 77 when larderd cannot be reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "larder/larder.h"
#include "proto.h"

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Say "armed", then wait for the go line; 0, or -1 on end of input. */
static int
arm(void)
{
	char line[16];

	printf("armed\n");
	fflush(stdout);
	return fgets(line, sizeof(line), stdin) ? 0 : -1;
}

int
main(int argc, char **argv)
{
	uint8_t body[8], rbuf[512];
	struct larder *l;
	size_t rlen;
	double t0;
	int fd, err;

	if (argc != 3 || (strcmp(argv[1], "freeze") != 0 &&
	    strcmp(argv[1], "sync") != 0)) {
		fprintf(stderr, "usage: bench_freeze freeze SOCKET | "
		    "bench_freeze sync DIR\n");
		return 2;
	}
	if (strcmp(argv[1], "sync") == 0) {
		if ((fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			perror("bench_freeze: open");
			return 1;
		}
		if (arm() < 0)
			return 1;
		t0 = now_us();
		if (syncfs(fd) < 0) {
			perror("bench_freeze: syncfs");
			return 1;
		}
		printf("%.0f\n", now_us() - t0);
		return 0;
	}
	if ((err = client_connect(argv[2], 0, CLIENT_NO_SHM, &l)) < 0) {
		fprintf(stderr, "bench_freeze: connect: %s\n",
		    larder_strerror(err));
		return 77;
	}
	memset(body, 0, sizeof(body));	/* u32 flags 0, u32 time limit 0 */
	if (arm() < 0)
		return 1;
	t0 = now_us();
	err = client_request(l, PROTO_FREEZE, body, sizeof(body), rbuf,
	    sizeof(rbuf), &rlen);
	printf("%.0f\n", now_us() - t0);
	if (err < 0) {
		fprintf(stderr, "bench_freeze: freeze: %s%s%s\n",
		    larder_strerror(err), *client_reason(l) ? ": " : "",
		    client_reason(l));
		return 1;
	}
	larder_disconnect(l);
	return 0;
}
