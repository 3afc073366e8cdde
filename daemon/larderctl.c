/* SPDX-License-Identifier: GPL-2.0-or-later */
/* larderctl.c: placeholder until the control client lands (issue 2). */
#include <stdio.h>
#include "config.h"

int
main(void)
{
	printf("larderctl %s: not implemented yet\n", LARDER_VERSION);
	return 1;
}
