#!/usr/bin/env bash
# make bench: the performance figures of docs/benchmarks.md, measured on this
# machine against references measured in the same run. Starts its own
# mosquitto, suido-platform and suido-gateway on free loopback ports under a
# fresh temporary directory, stops them and removes the directory on exit.
# The last lines are one per figure:
#   bench NAME: VALUE UNIT ratio=R      (R = ours / reference, higher is better)
# (signin and bearer follow theirs with one indented detail line).
#
# usage: scripts/bench.sh [BUILD_DIR]   (default: build)
# Tuning knobs (BENCH_MSGS, BENCH_WINDOW, BENCH_ONLY, ...): see bench/bench.py.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
PYTHON=/usr/bin/python3

for b in suido suido-platform suido-gateway bench_ingest bench_sqlref bench_query bench_jose \
         bench_signin bench_bearer; do
  [ -x "$BUILD/$b" ] || { echo "bench: $BUILD/$b is missing: build first (make build)" >&2; exit 1; }
done
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || {
  echo "bench: mosquitto is not installed: run 'make deps'" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "bench: the sqlite3 shell is not installed" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "bench: $PYTHON is missing" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/suido-bench.XXXXXX")
child=
cleanup() {
  trap - INT TERM EXIT
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# In the background so a signal to this script reaches the driver, which
# stops the servers it started (they also die with it: PR_SET_PDEATHSIG).
"$PYTHON" "$ROOT/bench/bench.py" --build "$BUILD" --tmp "$TMP" &
child=$!
status=0
wait "$child" || status=$?
child=
exit "$status"
