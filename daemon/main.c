/* SPDX-License-Identifier: GPL-2.0-or-later */
/* main.c: placeholder until the daemon skeleton lands (issue 2). */
#include <stdio.h>
#include "config.h"

int
main(void)
{
	printf("larderd %s: not implemented yet\n", LARDER_VERSION);
	return 1;
}
