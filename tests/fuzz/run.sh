#!/usr/bin/env bash
# Builds the safetensors fuzz harness with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs it for SECONDS (default 600) from
# the seed corpus in tests/fuzz/corpus. New inputs go to build-fuzz/corpus,
# crashing ones to build-fuzz/crashes/, the log to build-fuzz/last-run.log.
# An input that takes over 10 s, or a single allocation over 512 MB (inputs
# are at most 16 KB), counts as a crash too.
# usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
SECONDS_TO_RUN=${1:-600}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build-fuzz
command -v clang >/dev/null || { echo "run.sh: clang is not installed (see tests/fuzz/README.md)" >&2; exit 2; }
mkdir -p "$OUT/corpus" "$OUT/crashes"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$ROOT/include" $(pkg-config --cflags libcjson) \
  "$ROOT/tests/fuzz/fuzz_safetensors.c" "$ROOT/src/core/safetensors.c" "$ROOT/src/core/files.c" \
  "$ROOT/src/core/error.c" $(pkg-config --libs libcjson) -o "$OUT/fuzz_safetensors"
cd "$OUT"
./fuzz_safetensors -max_total_time="$SECONDS_TO_RUN" -max_len=16384 -timeout=10 -malloc_limit_mb=512 \
  -print_final_stats=1 -artifact_prefix="$OUT/crashes/" -dict="$ROOT/tests/fuzz/safetensors.dict" \
  corpus "$ROOT/tests/fuzz/corpus" 2>&1 | tee "$OUT/last-run.log"
