#!/usr/bin/env bash
# groklab installed like a C library (docs/library.md): `cmake --install`
# into a scratch prefix puts the program, the man page, both libraries, the
# headers, groklab.pc and the CMake package there; examples/phase.c builds
# against it through pkg-config (shared and static) and through
# find_package, and each build's accuracies and phase are those the
# installed `groklab train` writes to summary.json for the same knobs.
# usage: tests/install_test.sh BUILD_DIR SOURCE_DIR LIBDIR MAN(ON|OFF) [CMAKE]
# (LIBDIR: CMAKE_INSTALL_LIBDIR; GL_EXAMPLE_FLAGS: extra compiler flags for
# the example, e.g. the sanitizers of a sanitized build)
set -u
BUILD=$(readlink -f "$1")
SRC=$(readlink -f "$2")
LIBDIR=$3
MAN=$4
CMAKE=${5:-cmake}
CC=${CC:-cc}
read -r -a XFLAGS <<<"${GL_EXAMPLE_FLAGS:-}"
. "$SRC/tests/cli_lib.sh" # scratch directory $T (removed at exit), ok / notok
P=$T/prefix
L=$P/$LIBDIR
unset LD_LIBRARY_PATH

if "$CMAKE" --install "$BUILD" --prefix "$P" >install.log 2>&1; then
  ok "cmake --install into a fresh prefix"
else
  notok "cmake --install: $(tail -3 install.log)"
fi

# the files, where GNUInstallDirs puts them
missing=""
for f in bin/groklab "$LIBDIR/libgroklab.a" "$LIBDIR/pkgconfig/groklab.pc" \
  "$LIBDIR/cmake/groklab/groklabConfig.cmake" "$LIBDIR/cmake/groklab/groklabConfigVersion.cmake" \
  "$LIBDIR/cmake/groklab/groklabTargets.cmake"; do
  [ -f "$P/$f" ] || missing="$missing $f"
done
for h in "$SRC"/include/groklab/*.h; do
  cmp -s "$h" "$P/include/groklab/$(basename "$h")" || missing="$missing include/groklab/$(basename "$h")"
done
if [ -z "$missing" ]; then ok "program, libraries, headers, groklab.pc and the CMake package installed"; else notok "not installed:$missing"; fi

export PKG_CONFIG_PATH=$L/pkgconfig
version=$(pkg-config --modversion groklab)
first=$("$P/bin/groklab" --version | head -1)
case "$first" in
  "groklab $version"*) ok "the installed groklab runs (no LD_LIBRARY_PATH): $first; groklab.pc says $version" ;;
  *) notok "groklab --version says '$first', groklab.pc says version '$version'" ;;
esac

# libgroklab.so -> libgroklab.so.MAJOR -> libgroklab.so.VERSION, SONAME
# libgroklab.so.MAJOR; it exports the gl_ interface and nothing else
major=${version%%.*}
if [ "$(readlink "$L/libgroklab.so")" = "libgroklab.so.$major" ] &&
  [ "$(readlink "$L/libgroklab.so.$major")" = "libgroklab.so.$version" ] && [ -f "$L/libgroklab.so.$version" ]; then
  ok "libgroklab.so -> libgroklab.so.$major -> libgroklab.so.$version"
else
  notok "shared library links: $(ls -l "$L"/libgroklab.so* 2>&1 | tr '\n' ' ')"
fi
soname=$(readelf -d "$L/libgroklab.so.$version" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "libgroklab.so.$major" ]; then ok "SONAME $soname"; else notok "SONAME is '$soname', not libgroklab.so.$major"; fi
exports=$(nm -D --defined-only "$L/libgroklab.so.$version" | awk '{print $NF}')
others=$(grep -v '^gl_' <<<"$exports" | head -5 | tr '\n' ' ')
if [ -z "$others" ] && grep -qx gl_trainer_create <<<"$exports"; then
  ok "libgroklab.so exports $(wc -l <<<"$exports") symbols, all gl_*"
else
  notok "libgroklab.so exports non-gl_ symbols ($others) or lacks gl_trainer_create"
fi

# the CUDA module, where the build has one: installed in LIBDIR/groklab,
# and the installed program loads that one (not the build tree's)
if [ -f "$BUILD/groklab-cuda.so" ]; then
  loaded=$(LD_DEBUG=files "$P/bin/groklab" version 2>&1 >/dev/null | sed -n 's/.*file=\([^ ]*groklab-cuda\.so\) .*/\1/p' | head -1)
  if [ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$(readlink -f "$L/groklab/groklab-cuda.so")" ]; then
    ok "the installed program loads the installed CUDA module $LIBDIR/groklab/groklab-cuda.so"
  else
    notok "the installed program loaded '$loaded', not $L/groklab/groklab-cuda.so"
  fi
fi

# The same runs by the installed program: the reference numbers.
"$P/bin/groklab" train --p 23 --frac 0.8 --steps 300 --quiet --out ref >/dev/null 2>ref.err ||
  notok "groklab train (reference run): $(cat ref.err)"
"$P/bin/groklab" train --p 23 --frac 0.8 --steps 300 --noise 0.1 --seed 3 --quiet --out ref_noise >/dev/null 2>ref.err ||
  notok "groklab train (reference run with noise): $(cat ref.err)"

# same_as_train WHAT OUTPUT RUN: the example's step, accuracies and phase
# against RUN/summary.json, exactly (both print doubles that round-trip).
same_as_train() {
  local verdict
  verdict=$(/usr/bin/python3 - "$2" "$3/summary.json" <<'PY'
import json, sys
out = dict(line.split(" ", 1) for line in open(sys.argv[1]).read().splitlines())
ref = json.load(open(sys.argv[2]))
phases = {"coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion"}
bad = [k for k in ("train_acc", "test_acc") if float(out.get(k, "nan")) != ref[k]]
if int(out.get("step", -1)) != ref["steps"]: bad.append("step")
if out.get("phase") != ref["phase"] or out.get("phase") not in phases: bad.append("phase")
print(("differ in " + ", ".join(bad)) if bad else
      "train %s test %s phase %s" % (out["train_acc"], out["test_acc"], out["phase"]))
PY
  )
  case "$verdict" in
    differ*) notok "$1: $verdict from groklab train ($(tr '\n' ' ' <"$2"))" ;;
    "") notok "$1: output not read ($(tr '\n' ' ' <"$2"))" ;;
    *) ok "$1: $verdict, as groklab train" ;;
  esac
}

# run_example WHAT BINARY RUN ARGS...: runs it and compares
run_example() {
  local what=$1 bin=$2 run=$3
  shift 3
  if "$bin" "$@" >"$bin.out" 2>"$bin.err"; then
    same_as_train "$what" "$bin.out" "$run"
  else
    notok "$what: the example failed: $(cat "$bin.err")"
  fi
}

needs_shared() { readelf -d "$1" | grep -q "NEEDED.*\[libgroklab\.so\.$major\]"; }

# (a) pkg-config, shared, with strict C11 as a user might build it
if "$CC" -std=c11 -Wall -Wextra -pedantic -Werror "${XFLAGS[@]}" "$SRC/examples/phase.c" -o phase_pc \
  $(pkg-config --cflags --libs groklab) -Wl,-rpath,"$L" 2>cc.err; then
  if needs_shared phase_pc; then ok "pkg-config --cflags --libs: linked against libgroklab.so.$major"; else notok "pkg-config --libs did not link the shared library"; fi
  run_example "pkg-config, shared" ./phase_pc ref
else
  notok "cc phase.c \$(pkg-config --cflags --libs groklab): $(head -5 cc.err)"
fi

# (b) find_package in a fresh CMake project (examples/CMakeLists.txt)
if "$CMAKE" -S "$SRC/examples" -B ex -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="${XFLAGS[*]}" >cmake.log 2>&1 &&
  "$CMAKE" --build ex >>cmake.log 2>&1; then
  if needs_shared ex/phase; then ok "find_package: groklab::groklab is the shared library"; else notok "find_package: groklab::groklab did not link libgroklab.so.$major"; fi
  run_example "find_package, shared, with --noise 0.1 --seed 3" ex/phase ref_noise --noise 0.1 --seed 3
else
  notok "find_package(groklab) build of examples/: $(grep -m5 -iE 'error|undefined|could not' cmake.log)"
fi

# (c) pkg-config --static: every library libgroklab.a needs; the archive
# itself chosen by name (-lgroklab alone finds the shared library first)
static_libs=$(pkg-config --static --libs groklab)
if "$CC" "${XFLAGS[@]}" "$SRC/examples/phase.c" -o phase_static $(pkg-config --cflags groklab) \
  ${static_libs//-lgroklab/-l:libgroklab.a} 2>cc.err; then
  if needs_shared phase_static; then notok "pkg-config --static: still linked against libgroklab.so"; else ok "pkg-config --static --libs: linked with libgroklab.a"; fi
  run_example "pkg-config --static" ./phase_static ref
else
  notok "cc phase.c \$(pkg-config --static --libs groklab): $(head -5 cc.err)"
fi

# The man page: every option of `groklab train --help` is in it.
page=$P/share/man/man1/groklab.1
if [ "$MAN" = ON ]; then
  if [ -f "$page" ]; then
    if command -v man >/dev/null && MANWIDTH=200 man -P cat -l "$page" >man.txt 2>man.err && [ -s man.txt ]; then
      how="man -l"
    else # no man here: the page's text with roff's minus signs as '-'
      sed 's/\\-/-/g' "$page" >man.txt
      how="its roff source"
    fi
    "$P/bin/groklab" train --help | grep -oE '^  --[a-z0-9-]+' | sed 's/^ *//' >options.txt
    absent=$(grep -vxF -f <(grep -oE -- '--[a-z0-9-]+' man.txt | sort -u) options.txt | tr '\n' ' ')
    if [ -s options.txt ] && [ -z "$absent" ]; then
      ok "man page ($how): the $(wc -l <options.txt) options of groklab train --help"
    else
      notok "man page ($how) lacks options of groklab train --help: $absent"
    fi
  else
    notok "no man page at share/man/man1/groklab.1"
  fi
else
  echo "SKIP    man page: this build has none (help2man was not found)"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
