/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_conf.c: libFuzzer target for the config parser (conf_parse_buf).
 * Build: make fuzz. Run:
 *   mkdir -p tests/fuzz/corpus-conf
 *   tests/fuzz/fuzz_conf -max_total_time=180 -max_len=16384 \
 *       -dict=tests/fuzz/conf.dict tests/fuzz/corpus-conf tests/fuzz/seeds/conf
 * (-max_len above CONF_MAX_LINE reaches the over-long line paths; the
 * corpus directory is generated, only seeds/conf is committed.)
 * Besides "no crash, no leak, no UB" it checks what the parser promises:
 * every message is "file:..." (or a warning), the result agrees with the
 * error count, strings are NUL-terminated within their fields, and an
 * accepted config holds values inside their documented ranges.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

struct tally {
	unsigned errors;
	unsigned warnings;
};

static void
sink(void *arg, const char *msg)
{
	struct tally *t = arg;
	const char *m = msg;

	if (conf_is_warning(msg)) {
		t->warnings++;
		m += strlen(CONF_WARNING_PREFIX);
	} else {
		t->errors++;
	}
	if (strncmp(m, "fuzz.conf", 9) != 0 || (m[9] != ':'))
		abort();
}

#define TERMINATED(f)	(memchr((f), '\0', sizeof(f)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally t = { 0, 0 };
	struct conf c;
	int r;

	r = conf_parse_buf("fuzz.conf", (const char *)data, size, &c, sink,
	    &t);
	if (r != 0 && r != -EINVAL)
		abort();
	if ((r == 0) != (t.errors == 0))
		abort();
	if (!TERMINATED(c.file) || !TERMINATED(c.dir) || !TERMINATED(c.tag) ||
	    !TERMINATED(c.secctx) || !TERMINATED(c.socket) ||
	    !TERMINATED(c.admin_group))
		abort();
	if (r == 0) {
		if (c.dir[0] != '/' || c.socket[0] != '/')
			abort();
		if (!(c.bstop < c.bcull && c.bcull < c.brun && c.brun < 100))
			abort();
		if (!(c.fstop < c.fcull && c.fcull < c.frun && c.frun < 100))
			abort();
		if (c.culltable < 12 || c.culltable > 20)
			abort();
		if (c.freeze_timeout < 1 || c.freeze_timeout > 86400)
			abort();
		if (c.max_size_percent > 100 || (c.max_size_percent &&
		    c.max_size))
			abort();
		if (c.resume_blocks == 0 || c.resume_blocks < -1 ||
		    c.resume_files == 0 || c.resume_files < -1)
			abort();
		if (c.debug > 0xffffffffUL || c.tag[0] == '\0')
			abort();
	}
	return 0;
}
