#!/usr/bin/env bash
# The public headers on their own: every include/groklab/*.h compiles alone
# as strict ISO C11 and as C++11 (warnings as errors, -pedantic), wraps its
# declarations in extern "C" guards, and a C++ program that calls the
# library links against the static library (without C linkage its calls
# would name mangled symbols that the library does not define).
# usage: tests/headers_test.sh INCLUDE_DIR STATIC_LIBRARY [LINK FLAGS...]
set -u
INC=$(readlink -f "$1")
LIB=$(readlink -f "$2")
shift 2
CC=${CC:-cc}
CXX=${CXX:-c++}
. "$(dirname "$(readlink -f "$0")")/cli_lib.sh" # scratch directory $T (removed at exit), ok / notok

# compiles LABEL COMPILER ARGS...: OK when the compiler accepts, else its first lines
compiles() {
  local what=$1
  shift
  if "$@" 2>err.txt; then ok "$what"; else notok "$what: $(head -5 err.txt)"; fi
}

n=0
for h in "$INC"/groklab/*.h; do
  name=$(basename "$h")
  n=$((n + 1))
  # The typedef after the header: ISO C forbids an empty translation unit,
  # which a header of macros alone would otherwise make.
  printf '#include <groklab/%s>\ntypedef int headers_test_unit;\n' "$name" >one.c
  cp one.c one.cpp
  compiles "$name alone as C11" "$CC" -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I "$INC" one.c
  compiles "$name alone as C++11" "$CXX" -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I "$INC" one.cpp
  if [ "$(grep -c '^#ifdef __cplusplus$' "$h")" = 2 ] && grep -qx 'extern "C" {' "$h" && grep -qx '}' "$h"; then
    ok "$name has extern \"C\" guards"
  else
    notok "$name has no extern \"C\" guards (#ifdef __cplusplus / extern \"C\" { ... } / #endif)"
  fi
done
[ "$n" -gt 0 ] || notok "no headers in $INC/groklab"

# C++ calling the library: the paper's defaults (docs/paper.md: p 97, width
# 500, alpha 0.5) validate, p = 1 is refused as bad input with a message,
# and Table 2 puts 100% train and test accuracy in coexistence.
cat >calls.cpp <<'CPP'
#include <groklab/config.h>
#include <groklab/metrics.h>
#include <cstdio>
#include <cstring>

int main() {
    gl_config c;
    gl_error err;
    gl_config_default(&c);
    int bad = 0;
    if (c.p != 97 || c.width != 500 || c.frac != 0.5) bad |= std::printf("defaults p %d width %d frac %g\n", c.p, c.width, c.frac) > 0;
    if (gl_config_validate(&c, &err) != 0) bad |= std::printf("the defaults are refused: %s\n", err.msg) > 0;
    c.p = 1;
    if (gl_config_validate(&c, &err) != GL_E_INPUT || err.code != GL_E_INPUT || !err.msg[0])
        bad |= std::printf("p = 1 is not refused as bad input\n") > 0;
    const char *ph = gl_phase_name(gl_phase_classify(1.0, 1.0, 0.0, 1));
    if (std::strcmp(ph, "coexistence") != 0) bad |= std::printf("100%%/100%% is %s\n", ph) > 0;
    return bad;
}
CPP
if "$CXX" -std=c++11 -Wall -Wextra -pedantic -Werror -I "$INC" calls.cpp "$LIB" "$@" -o calls 2>err.txt; then
  ok "a C++ program links against $(basename "$LIB")"
  if ./calls >out.txt 2>&1; then
    ok "the C++ program's calls: defaults, validation, phase name"
  else
    notok "the C++ program's calls: $(cat out.txt)"
  fi
else
  notok "a C++ program links against $(basename "$LIB"): $(grep -m3 -E 'error|undefined' err.txt)"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
