#!/usr/bin/env bash
# A build with the CUDA backend keeps CUDA in its module, groklab-cuda.so,
# loaded at the first --device cuda (src/backend/gpu/dev_load.c): the
# program and the shared library need no CUDA library, a CPU run opens none,
# and where the CUDA libraries cannot be found (hidden here by mounting empty
# folders over theirs, in a mount namespace of this test's own) the CPU
# work runs as before and --device cuda fails with one line naming what is
# missing.
# usage: tests/cuda_hidden_test.sh GROKLAB_BINARY BUILD_DIR
set -u
GL=$(readlink -f "$1")
BUILD=$(readlink -f "$2")
SRC=$(dirname "$(readlink -f "$0")")
. "$SRC/cli_lib.sh"
MOD=$BUILD/groklab-cuda.so
if [ ! -f "$MOD" ]; then
  echo "SKIP: this build has no CUDA module"
  exit 77
fi

# nothing of CUDA is needed by the program or the library
for f in "$GL" "$BUILD"/libgroklab.so.*.*; do
  needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  case "$needed" in
    *cuda* | *cublas* | *libcu*) notok "$(basename "$f") needs CUDA libraries: $needed" ;;
    *) ok "$(basename "$f") needs no CUDA library ($needed)" ;;
  esac
done
cuda_deps=$(ldd "$MOD" | awk '/cublas|cudart|libcuda/ {print $3}' | sort -u)
if [ -n "$cuda_deps" ]; then ok "the module needs $(echo $cuda_deps | tr '\n' ' ')"; else notok "the module needs no CUDA library: $(ldd "$MOD")"; fi

# a CPU run opens no CUDA file; asking for the GPU opens the module
args=(--p 23 --width 48 --frac 0.5 --noise 0.2 --steps 30 --log-every 10 --quiet)
LD_DEBUG=files "$GL" train "${args[@]}" --out cpu >/dev/null 2>ld.txt || notok "CPU run failed: $(grep -v 'file=\|^ *[0-9]*: *$' ld.txt | tail -2)"
opened=$(grep -oE "file=[^ ]*(cublas|cudart|libcuda|groklab-cuda)[^ ]*" ld.txt | sort -u | tr '\n' ' ')
if [ -z "$opened" ] && grep -q "file=.*libopenblas\|file=.*libblis" ld.txt; then
  ok "a CPU run opens no CUDA file"
else
  notok "a CPU run opened: [$opened] (or LD_DEBUG listed nothing)"
fi
LD_DEBUG=files "$GL" train "${args[@]}" --device cuda --out cuda >/dev/null 2>ld.txt
if grep -q "file=.*groklab-cuda.so" ld.txt; then ok "--device cuda loads the module"; else notok "--device cuda did not open groklab-cuda.so"; fi
rm -rf cuda

# hide the folders of the module's CUDA libraries and run the CPU work there
if ! unshare -rm true 2>/dev/null; then
  notok "cannot make a mount namespace here (unshare -rm) to hide the CUDA libraries"
  echo "$passes passed, $fails failed"
  exit 1
fi
dirs=$(for f in $cuda_deps; do dirname "$(readlink -f "$f")"; dirname "$f"; done | sort -u | tr '\n' ' ')
cat >hidden.sh <<HIDDEN
set -u
for d in $dirs; do mount -t tmpfs none "\$d" || exit 3; done
. "$SRC/cli_lib.sh"
GL=$GL
if ldd "$MOD" | grep -q "libcublas.*not found"; then ok "hidden: the loader finds no libcublas ($dirs)"; else notok "hidden: libcublas is still found: \$(ldd "$MOD" | grep cublas)"; fi
"\$GL" train ${args[*]} --out cpu >/dev/null 2>err.txt || notok "hidden: CPU run failed: \$(cat err.txt)"
if cmp -s cpu/metrics.csv "$T/cpu/metrics.csv"; then ok "hidden: a CPU run writes the same metrics.csv, byte for byte"; else notok "hidden: CPU metrics.csv differs or is missing"; fi
expect_error "hidden: --device cuda is one line naming the missing library" "libcublas" train ${args[*]} --device cuda --out out
"\$GL" version >v.txt 2>&1 && grep -q "^--device cuda: the CUDA module cannot be loaded: libcublas" v.txt && ok "hidden: groklab version says why: \$(tail -1 v.txt)" || notok "hidden: version: \$(cat v.txt)"
# the program's CPU tests, and the GPU backend on its emulator (no CUDA in it)
bash "$SRC/cli_test.sh" "\$GL" >cli.txt 2>&1 && ok "hidden: tests/cli_test.sh passes (\$(grep -c '^OK' cli.txt) checks)" || notok "hidden: cli_test.sh failed: \$(grep 'NOT OK' cli.txt | head -3)"
"$BUILD/tests/test_gpu" emulate >gpu.txt 2>&1 && ok "hidden: test_gpu emulate passes" || notok "hidden: test_gpu emulate: \$(tail -3 gpu.txt)"
exit \$fails
HIDDEN
unshare -rm bash hidden.sh
rc=$?
case $rc in
  0) ok "all checks with the CUDA libraries hidden passed" ;;
  3) notok "could not mount over the CUDA library folders ($dirs)" ;;
  *) notok "$rc checks failed with the CUDA libraries hidden" ;;
esac
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
