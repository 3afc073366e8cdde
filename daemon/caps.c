/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * caps.c: drop the capabilities the configuration does not need (libcap).
 *
 * larderd starts as root to clone the mount of its cache dir (open_tree
 * and mount_setattr need CAP_SYS_ADMIN) and, in kernel mode, to open
 * /dev/cachefiles. After that the only privileged call left is FIFREEZE and
 * FITHAW for `larderctl freeze --fs` (CAP_SYS_ADMIN), and in kernel mode
 * the open of /dev/cachefiles at each bind (CAP_SYS_ADMIN) and the
 * kernel's own cache I/O, which runs with a copy of the credentials
 * larderd has when it binds (CAP_DAC_OVERRIDE: its objects are mode
 * 0000). Everything else goes: from the effective,
 * permitted and inheritable sets, the ambient set and the bounding set.
 * The uid stays 0 (larderd owns the cache's files as root), so no
 * PR_SET_KEEPCAPS dance is needed; with no setuid there is nothing that
 * could give the capabilities back except an exec, and the bounding set
 * stops that too.
 */
#include <sys/capability.h>
#include <sys/prctl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "conf.h"
#include "control.h"
#include "log.h"

static char kept_names[128] = "not dropped";
static char kept_why[256] = "";

/* Which capabilities to keep, with why; returns how many. */
static int
wanted(const struct conf *c, unsigned flags, cap_value_t *keep,
    const char **why)
{
	int n = 0;

	*why = "";
	if (flags & CAPS_KERNEL_MODE) {
		/* the kernel does its cache I/O with the credentials larderd
		 * has when it binds (a copy of them); its objects are mode
		 * 0000, so without CAP_DAC_OVERRIDE 6.1 can set no xattr on
		 * them and caches nothing (IO rd=0 wr=0; 6.12 was seen
		 * caching without it) */
		keep[n++] = CAP_SYS_ADMIN;
		keep[n++] = CAP_DAC_OVERRIDE;
		*why = "kernel mode: sys_admin to open /dev/cachefiles at each "
		    "bind, and FIFREEZE; dac_override for the kernel's cache "
		    "I/O on its mode-0000 objects, done with larderd's "
		    "credentials";
	} else if (c->freeze == CONF_FREEZE_DEFER) {
		keep[n++] = CAP_SYS_ADMIN;
		*why = "freeze defer: FIFREEZE/FITHAW for larderctl freeze --fs";
	}
	return n;
}

static int
is_kept(cap_value_t v, const cap_value_t *keep, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (keep[i] == v)
			return 1;
	return 0;
}

/*
 * Drop from the bounding set every capability not in keep[0..n) that is
 * in it, if cur has CAP_SETPCAP effective (else nothing can be dropped
 * there: not an error). Returns 0, or -errno with err filled; a failure
 * midway leaves the capabilities before it dropped.
 */
static int
drop_bound(cap_t cur, const cap_value_t *keep, int n, char *err,
    size_t errsz)
{
	cap_value_t v, last;
	cap_flag_value_t have;
	char *name;
	int e, can_bound;

	can_bound = cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &have) == 0 &&
	    have == CAP_SET;
	last = (cap_value_t)cap_max_bits() - 1;
	for (v = 0; v <= last && can_bound; v++) {
		if (is_kept(v, keep, n) || cap_get_bound(v) != 1)
			continue;
		if (cap_drop_bound(v) == -1) {
			e = errno;
			name = cap_to_name(v);
			snprintf(err, errsz, "capabilities: drop %s from the "
			    "bounding set: %s", name != NULL ? name : "?",
			    strerror(e));
			cap_free(name);
			return -e;
		}
	}
	return 0;
}

/*
 * Put into want, permitted and effective, those of keep[0..n) that cur
 * has permitted, and their names into kept_names (empty when none); a
 * missing cap_dac_override is warned about. Returns 0, or -errno with
 * err filled.
 */
static int
want_kept(cap_t cur, cap_t want, const cap_value_t *keep, int n, char *err,
    size_t errsz)
{
	cap_flag_value_t have;
	char *name;
	int i, rc;

	kept_names[0] = '\0';
	for (i = 0; i < n; i++) {
		if (cap_get_flag(cur, keep[i], CAP_PERMITTED, &have) != 0 ||
		    have != CAP_SET) {
			if (keep[i] == CAP_DAC_OVERRIDE)
				log_warnx("capabilities: kernel mode without "
				    "cap_dac_override: the kernel does its "
				    "cache I/O with larderd's credentials on "
				    "mode-0000 objects, and some kernels (6.1) "
				    "then cache nothing; allow it (e.g. in the "
				    "unit's CapabilityBoundingSet)");
			continue;	/* not ours to keep */
		}
		if (cap_set_flag(want, CAP_PERMITTED, 1, &keep[i], CAP_SET) ||
		    cap_set_flag(want, CAP_EFFECTIVE, 1, &keep[i], CAP_SET)) {
			rc = -errno;
			snprintf(err, errsz, "capabilities: %s",
			    strerror(errno));
			return rc;
		}
		name = cap_to_name(keep[i]);
		snprintf(kept_names + strlen(kept_names),
		    sizeof(kept_names) - strlen(kept_names), "%s%s",
		    kept_names[0] != '\0' ? " " : "", name != NULL ? name : "?");
		cap_free(name);
	}
	return 0;
}

/*
 * Once the kept set is in force: record why (why, or why none when
 * kept_names is empty: n wanted but not had, or none wanted) for
 * caps_status, and log what is kept.
 */
static void
note_kept(int n, const char *why)
{
	if (kept_names[0] == '\0') {
		snprintf(kept_names, sizeof(kept_names), "none");
		snprintf(kept_why, sizeof(kept_why), "%s", n > 0 ?
		    "started without them" : "freeze refuse: nothing privileged "
		    "left to do");
	} else
		snprintf(kept_why, sizeof(kept_why), "%s", why);
	log_info("capabilities: keeping %s%s%s%s", kept_names,
	    kept_why[0] != '\0' ? " (" : "", kept_why,
	    kept_why[0] != '\0' ? ")" : "");
}

/*
 * Drop, in this order: every capability not kept from the bounding set
 * (only while CAP_SETPCAP is still effective, so before the rest), the
 * ambient set, then set the process to exactly the kept ones that it
 * has, permitted and effective, nothing inheritable. Kept ones it was
 * started without are skipped (with a warning for kernel mode's
 * cap_dac_override). Records what was kept and why for caps_status and
 * logs it. main() calls it once, before any thread exists (caps.h).
 * Returns 0, or -errno with err filled; a failure midway may leave the
 * bounding set already smaller.
 */
int
caps_drop(const struct conf *c, unsigned flags, char *err, size_t errsz)
{
	cap_value_t keep[4];
	cap_t cur = NULL, want = NULL;
	const char *why;
	int n, e, rc = 0;

	n = wanted(c, flags, keep, &why);
	cur = cap_get_proc();
	if (cur == NULL) {
		e = errno;
		snprintf(err, errsz, "capabilities: read: %s", strerror(e));
		return -e;
	}
	/* dropping from the bounding set needs CAP_SETPCAP, so do it first */
	rc = drop_bound(cur, keep, n, err, errsz);
	if (rc < 0)
		goto out;
	/* ambient capabilities would survive an exec: none */
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() == -1 &&
	    errno != EINVAL) {
		e = errno;
		snprintf(err, errsz, "capabilities: clear the ambient set: %s",
		    strerror(e));
		rc = -e;
		goto out;
	}
	want = cap_init();
	if (want == NULL) {
		rc = -ENOMEM;
		snprintf(err, errsz, "capabilities: out of memory");
		goto out;
	}
	rc = want_kept(cur, want, keep, n, err, errsz);
	if (rc < 0)
		goto out;
	if (cap_set_proc(want) == -1) {
		e = errno;
		snprintf(err, errsz, "capabilities: set: %s", strerror(e));
		rc = -e;
		goto out;
	}
	note_kept(n, why);
out:
	cap_free(want);
	cap_free(cur);
	return rc;
}

void
caps_status(struct ctl_kv *kv)
{
	ctl_kv_str(kv, "caps.kept", kept_names);
	if (kept_why[0] != '\0')
		ctl_kv_str(kv, "caps.why", kept_why);
}
