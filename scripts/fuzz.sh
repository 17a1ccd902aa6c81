#!/usr/bin/env bash
# Runs every libFuzzer target of BUILD_DIR. Mode "corpus" (make check): each
# target for a short bounded time starting from its seed corpus in
# fuzz/corpus/<target>/; mode "long" (make fuzz): ten minutes each.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:?build dir}
MODE=${2:-corpus}
secs=15
[ "$MODE" = long ] && secs=600
fail=0; n=0
for bin in "$BUILD"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  seeds="$ROOT/fuzz/corpus/$name"
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  if "$bin" "$work" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
       -print_final_stats=0 >"$work.log" 2>&1; then
    echo "fuzz $name: ok (${secs}s, $(ls "$work" | wc -l) corpus files)"
    n=$((n+1))
  else
    echo "fuzz $name: FAILED"; tail -40 "$work.log"; fail=$((fail+1))
  fi
  rm -rf "$work" "$work.log"
done
echo "fuzz: $n passed, $fail failed"
[ "$fail" -eq 0 ]
