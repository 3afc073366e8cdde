#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# t-docs.sh: the man pages are in step with the code (runs everywhere, no
# root needed):
#   - `groff -man -ww -z` gives no warning for any man/*.[1-8];
#   - every flag of `larderd -h` is in larderd(8)'s OPTIONS, and every flag
#     there is in -h;
#   - every command, option and exit code of `larderctl --help` is in
#     larderctl(8), and every command there is in --help;
#   - every keyword of lib/conf.c's keyword table is in larder.conf(5);
#   - every function in include/larder/larder.h is in liblarder(3)'s NAME
#     and SYNOPSIS, and its EXAMPLE compiles;
#   - the built lib/liblarder.so exports exactly the functions of
#     include/larder/*.h (lib/liblarder.map names them one by one).
# Everything is extracted from the code as it is, so the test cannot go
# stale; each mismatch is named.
. "$(dirname "$0")/lib.sh"
need_cmd groff

top=$LARDER_BUILD
man=$top/man
[ -x "$LARDERD" ] || fail "no built larderd at $LARDERD"
[ -x "$LARDERCTL" ] || fail "no built larderctl at $LARDERCTL"
errs=0
bad() { echo "MISMATCH: $*"; errs=$((errs + 1)); }
# done_step WHAT: "ok: WHAT" when the step found no mismatch
before=0
done_step() { [ $errs -ne $before ] || ok "$*"; before=$errs; }

# section PAGE NAME: the roff source of section NAME (.SH NAME up to the
# next .SH), with \- turned into - and font escapes removed
section() {
	sed -n "/^\.SH \"\{0,1\}$2\"\{0,1\}\$/,/^\.SH /p" "$1" | sed '$d' |
		sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(em/-/g'
}
# plain PAGE: the whole page the same way
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"; }
# has TEXT WORD: WORD occurs in TEXT, not as part of a longer word or flag
has() {
	printf '%s\n' "$1" | grep -Eq -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)"
}

# 1. groff warnings
n=0
for p in "$man"/*.[1-8]; do
	[ -f "$p" ] || continue
	n=$((n + 1))
	out=$(groff -man -ww -z "$p" 2>&1) || bad "groff failed on ${p##*/}"
	[ -z "$out" ] || bad "groff warnings in ${p##*/}: $out"
done
[ $n -ge 4 ] || fail "only $n man pages in $man"
done_step "$n man pages without groff warnings"

# 2. larderd -h <-> larderd(8) OPTIONS
help=$("$LARDERD" -h 2>&1) || fail "larderd -h exits non-zero"
flags=$(printf '%s\n' "$help" | grep -Eo -- '(^|[ ,])--?[A-Za-z][A-Za-z-]*' |
	tr -d ' ,' | sort -u)
[ -n "$flags" ] || fail "no flags found in larderd -h"
opts=$(section "$man/larderd.8" OPTIONS)
[ -n "$opts" ] || fail "larderd.8 has no OPTIONS section"
for f in $flags; do
	has "$opts" "$f" || bad "larderd -h lists $f; larderd.8 OPTIONS does not"
done
for f in $(printf '%s\n' "$opts" | grep -E '^\.(B|BI|BR) -' |
    grep -Eo -- '--?[A-Za-z][A-Za-z-]*' | sort -u); do
	printf '%s\n' "$flags" | grep -qx -- "$f" ||
		bad "larderd.8 OPTIONS has $f; larderd -h does not"
done
done_step "larderd flags: $(echo $flags)"

# 3. larderctl --help <-> larderctl(8)
help=$("$LARDERCTL" --help 2>&1) || fail "larderctl --help exits non-zero"
cmds=$(printf '%s\n' "$help" |
	sed -n '/^commands:/,/^options:/p' | sed '1d;$d' |
	awk '{ print $1; if ($2 == "|") print $3 }' | sort -u)
[ -n "$cmds" ] || fail "no commands found in larderctl --help"
mcmds=$(section "$man/larderctl.8" COMMANDS)
[ -n "$mcmds" ] || fail "larderctl.8 has no COMMANDS section"
for c in $cmds; do
	printf '%s\n' "$mcmds" | grep -Eq "^\.(B|BI|BR) \"?$c( |\"|\$)" ||
		bad "larderctl --help lists command $c; larderctl.8 COMMANDS does not"
done
for c in $(printf '%s\n' "$mcmds" | grep -A1 '^\.TP' |
    sed -n 's/^\.\(B\|BI\|BR\) "\{0,1\}\([a-z][a-z]*\).*/\2/p' | sort -u); do
	printf '%s\n' "$cmds" | grep -qx "$c" ||
		bad "larderctl.8 COMMANDS has $c; larderctl --help does not"
done
page=$(plain "$man/larderctl.8")
for f in $(printf '%s\n' "$help" | grep -Eo -- '(^|[ ,[|])--?[A-Za-z][A-Za-z-]*' |
    tr -d ' ,[|' | sort -u); do
	has "$page" "$f" || bad "larderctl --help lists $f; larderctl.8 does not"
done
exits=$(section "$man/larderctl.8" "EXIT STATUS")
codes=$(printf '%s\n' "$help" | sed -n '/^exit:/,$p' | grep -Eo '[0-9]+ [a-z]' |
	cut -d' ' -f1)
[ -n "$codes" ] || fail "no exit codes found in larderctl --help"
for e in $codes; do
	printf '%s\n' "$exits" | grep -qx "\.B $e" ||
		bad "larderctl --help lists exit code $e; larderctl.8 EXIT STATUS does not"
done
done_step "larderctl commands: $(echo $cmds); exit codes: $(echo $codes)"

# 4. lib/conf.c's keyword table -> larder.conf(5)
kws=$(sed -n '/^static const struct keyword keywords\[\] = {/,/^};/p' \
	"$top/lib/conf.c" | sed -n 's/^[[:space:]]*{ "\([a-z_]*\)".*/\1/p')
[ "$(printf '%s\n' "$kws" | wc -l)" -ge 10 ] ||
	fail "could not read the keyword table of lib/conf.c"
page=$(plain "$man/larder.conf.5")
for k in $kws; do
	printf '%s\n' "$page" | grep -Eq "^\.(B|BI|BR) \"?$k( |\"|\$)" ||
		bad "lib/conf.c keyword $k is not in larder.conf.5"
done
done_step "conf keywords: $(echo $kws)"

# 5. include/larder/larder.h -> liblarder(3)
fns=$(grep -Eo '\blarder_[a-z_]+\(' "$top/include/larder/larder.h" |
	tr -d '(' | sort -u)
[ -n "$fns" ] || fail "no functions found in larder.h"
name=$(section "$man/liblarder.3" NAME)
syn=$(section "$man/liblarder.3" SYNOPSIS)
for f in $fns; do
	has "$name" "$f" || bad "larder.h declares $f; liblarder.3 NAME does not"
	printf '%s\n' "$syn" | grep -q "[ *]$f(" ||
		bad "larder.h declares $f; liblarder.3 SYNOPSIS does not"
done
done_step "liblarder functions: $(echo $fns)"

# 6. liblarder(3)'s EXAMPLE compiles against larder.h as it is
if command -v "${CC:-cc}" >/dev/null 2>&1; then
	sed -n '/^\.SH EXAMPLE/,/^\.SH /p' "$man/liblarder.3" |
		sed -e '1d' -e '$d' | sed -e '/^\.\(nf\|fi\)$/d' \
		-e 's/\\e/\\/g' -e 's/\\-/-/g' > "$T/example.c"
	grep -q 'main(' "$T/example.c" || bad "liblarder.3 has no EXAMPLE program"
	"${CC:-cc}" -std=gnu11 -Wall -Werror -fsyntax-only \
		-I"$top/include" "$T/example.c" > "$T/cc.log" 2>&1 ||
		bad "liblarder.3 EXAMPLE does not compile: $(head -5 "$T/cc.log")"
	done_step "liblarder.3 EXAMPLE compiles"
fi

# 7. include/larder/*.h <-> the symbols lib/liblarder.so exports
if command -v nm >/dev/null 2>&1; then
	so=$top/lib/liblarder.so
	[ -f "$so" ] || fail "no built $so"
	decl=$(cat "$top"/include/larder/*.h | grep -Eo '\blarder_[a-z_]+\(' |
		tr -d '(' | sort -u)
	# every defined dynamic symbol but the version nodes (type A)
	exp=$(nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' |
		sed 's/@.*//' | sort -u)
	[ -n "$exp" ] || fail "nm -D found no exports in $so"
	for f in $decl; do
		printf '%s\n' "$exp" | grep -qx "$f" ||
			bad "include/larder declares $f; liblarder.so does not export it (lib/liblarder.map)"
	done
	for f in $exp; do
		printf '%s\n' "$decl" | grep -qx "$f" ||
			bad "liblarder.so exports $f; include/larder/*.h does not declare it"
	done
	done_step "liblarder.so exports: $(echo $exp)"
fi

[ $errs -eq 0 ] || fail "$errs mismatch(es) between the code and the man pages"
