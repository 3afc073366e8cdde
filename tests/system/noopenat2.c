/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * noopenat2.c: run a command under a seccomp filter that answers openat2()
 * with ENOSYS (or with the errno given by -e), as systemd's
 * RestrictSUIDSGID=yes and container runtimes' profiles do.
 *
 *	noopenat2 [-e ERRNO] COMMAND [ARGS...]
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "noopenat2: add this architecture's AUDIT_ARCH"
#endif

int
main(int argc, char **argv)
{
	int err = ENOSYS, a = 1;

	if (argc > 3 && strcmp(argv[1], "-e") == 0) {
		err = atoi(argv[2]);
		a = 3;
	}
	if (a >= argc || err <= 0 || err > 4095) {
		fprintf(stderr, "usage: noopenat2 [-e ERRNO] COMMAND "
		    "[ARGS...]\n");
		return 2;
	}
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO |
		    ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]),
		.filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("noopenat2: PR_SET_NO_NEW_PRIVS");
		return 1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("noopenat2: PR_SET_SECCOMP");
		return 1;
	}
	execvp(argv[a], argv + a);
	fprintf(stderr, "noopenat2: %s: %s\n", argv[a], strerror(errno));
	return 127;
}
