#!/usr/bin/env bash
# Upload benchmark: POST /jobs with a generated study archive of SIZE_MIB MiB (default 2048)
# against a release build on the embedded defaults; reports the server's peak RSS and the
# throughput, and appends a row to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MIB=${1:-2048}
CACHE=${TRIAGE_BENCH_CACHE:-$HOME/.cache/triage/bench}
PORT=${TRIAGE_BENCH_PORT:-18087}
mkdir -p "$CACHE"

if [ ! -x "$CACHE/venv/bin/python" ]; then
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install --quiet --disable-pip-version-check pydicom numpy
fi
ARCHIVE=$CACHE/study-${SIZE_MIB}MiB.zip
if [ ! -s "$ARCHIVE" ]; then
  echo "generating $ARCHIVE"
  "$CACHE/venv/bin/python" benches/make_big_study.py "$ARCHIVE.part" "$SIZE_MIB"
  mv "$ARCHIVE.part" "$ARCHIVE"
fi
BYTES=$(stat -c %s "$ARCHIVE")

cargo build --release -q -p triage-server
DATA=$(mktemp -d /tmp/triage-bench.XXXXXX)
# The upload alone is measured: no analysis starts meanwhile.
export TRIAGE__DATA_DIR=$DATA TRIAGE__SERVER__BIND=127.0.0.1:$PORT TRIAGE__LOG__FILTER=warn TRIAGE__ML__DISPATCH=false
"${CARGO_TARGET_DIR:-target}/release/triage" serve >"$DATA/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
BASE=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done

curl -sf -X POST "$BASE/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' >/dev/null
TOKEN=$(curl -sf -X POST "$BASE/auth/login" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
RSS_BEFORE=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)

OUT=$(curl -s -o "$DATA/response.json" -w '%{http_code} %{time_total}' -X POST "$BASE/jobs" \
  -H "Authorization: Bearer $TOKEN" -F "file=@$ARCHIVE;type=application/zip")
CODE=${OUT%% *}; SECS=${OUT##* }
PEAK_KIB=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
[ "$CODE" = 201 ] || { echo "upload failed: HTTP $CODE"; cat "$DATA/response.json"; exit 1; }

MIB_S=$(python3 -c "print(f'{$BYTES / 1048576 / $SECS:.0f}')")
PEAK_MIB=$(python3 -c "print(f'{$PEAK_KIB / 1024:.0f}')")
START_MIB=$(python3 -c "print(f'{$RSS_BEFORE / 1024:.0f}')")
ENTRIES=$(python3 -c "import zipfile; print(len(zipfile.ZipFile('$ARCHIVE').infolist()))")
echo "upload of $BYTES bytes ($ENTRIES entries): HTTP $CODE in ${SECS}s = ${MIB_S} MiB/s; server RSS ${START_MIB} MiB before, peak ${PEAK_MIB} MiB"

ROW="| $(date +%F) | $(git rev-parse --short HEAD 2>/dev/null || echo -) | $BYTES B ($ENTRIES entries) | ${SECS} s | ${MIB_S} MiB/s | ${PEAK_MIB} MiB |"
python3 - "$ROOT/docs/benchmarks.md" "$ROW" <<'PY'
import sys
path, row = sys.argv[1], sys.argv[2]
text = open(path).read()
marker = "<!-- upload rows -->"
open(path, "w").write(text.replace(marker, row + "\n" + marker, 1))
PY
[ "$PEAK_MIB" -lt 150 ] || { echo "peak RSS ${PEAK_MIB} MiB is over the 150 MiB target"; exit 1; }
