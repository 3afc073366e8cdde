#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# sys-diag.sh: not a test (no t- prefix): boots the full-system guest with
# sysguest/diag.sh, which prints how the boot went (systemd-analyze,
# failed units, the cache disk's udev state). For working on the harness.
. "$(dirname "$0")/sys-lib.sh"
sys_find
SYS_SHARE_PKGS=none
mkdir -p "$SYS_SHARE/pkgs"
sys_run diag.sh
