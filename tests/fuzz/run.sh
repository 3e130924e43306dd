#!/usr/bin/env bash
# Builds the safetensors fuzz harness with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs it for SECONDS (default 600) on the
# seed corpus in tests/fuzz/corpus (new inputs it finds go to build-fuzz/corpus).
# usage: tests/fuzz/run.sh [SECONDS]
set -eu
SECONDS_TO_RUN=${1:-600}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build-fuzz
mkdir -p "$OUT/corpus" "$OUT/crashes"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$ROOT/include" $(pkg-config --cflags libcjson) \
  "$ROOT/tests/fuzz/fuzz_safetensors.c" "$ROOT/src/io/safetensors.c" "$ROOT/src/io/files.c" \
  "$ROOT/src/core/error.c" $(pkg-config --libs libcjson) -o "$OUT/fuzz_safetensors"
cp -n "$ROOT"/tests/fuzz/corpus/* "$OUT/corpus/" 2>/dev/null || true
cd "$OUT"
./fuzz_safetensors -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$OUT/crashes/" -dict="$ROOT/tests/fuzz/safetensors.dict" corpus
