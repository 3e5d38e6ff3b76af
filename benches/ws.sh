#!/usr/bin/env bash
# WebSocket fan-out benchmark: WATCHERS (default 10000) anonymous sockets watch one job of a
# release server on the embedded defaults (dispatcher off); the job is cancelled and every
# watcher's time from the cancel request to its `cancelled` frame is recorded (p50, p99, last),
# with the server's RSS while every socket is open. ROUNDS (default 3) fresh jobs and sockets.
# Appends a row to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WATCHERS=${1:-10000}
ROUNDS=${2:-3}
PORT=${TRIAGE_BENCH_PORT:-18088}
TARGET=${CARGO_TARGET_DIR:-target}

# Each socket is a file descriptor on both sides.
NEED=$((WATCHERS + 1024))
if [ "$(ulimit -n)" -lt "$NEED" ]; then
  ulimit -n "$NEED" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
[ "$(ulimit -n)" -ge "$NEED" ] || { echo "need $NEED file descriptors, have $(ulimit -n)"; exit 1; }

cargo build --release -q -p triage-server
cargo build --release -q -p triage-testkit --example ws_bench
DATA=$(mktemp -d /tmp/triage-bench-ws.XXXXXX)
# The server runs as the image runs it (deploy/Dockerfile): MALLOC_ARENA_MAX=2.
export TRIAGE__DATA_DIR=$DATA TRIAGE__SERVER__BIND=127.0.0.1:$PORT TRIAGE__LOG__FILTER=warn \
  TRIAGE__ML__DISPATCH=false MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
"$TARGET/release/triage" serve >"$DATA/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
BASE=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
IDLE_KIB=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)

"$TARGET/release/examples/ws_bench" "$BASE" "$WATCHERS" "$ROUNDS" "$PID" | tee "$DATA/result.txt"
RESULT=$(grep '^RESULT' "$DATA/result.txt")
field() { echo "$RESULT" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
PEAK_MIB=$(( $(awk '/VmHWM/ {print $2}' /proc/$PID/status) / 1024 ))
echo "server RSS idle $((IDLE_KIB / 1024)) MiB, with $WATCHERS sockets $(field rss_mib) MiB, peak $PEAK_MIB MiB"

ROW="| $(date +%F) | $(git rev-parse --short HEAD 2>/dev/null || echo -) | $WATCHERS × $ROUNDS | $(field p50_ms) ms | $(field p99_ms) ms | $(field last_ms) ms | $((IDLE_KIB / 1024)) MiB | $(field rss_mib) MiB | $PEAK_MIB MiB | $(field connect_s) s |"
python3 - "$ROOT/docs/benchmarks.md" "$ROW" <<'PY'
import sys
path, row = sys.argv[1], sys.argv[2]
text = open(path).read()
marker = "<!-- ws rows -->"
open(path, "w").write(text.replace(marker, row + "\n" + marker, 1))
PY
