#!/usr/bin/env bash
# `triage analyse` benchmark: STUDIES generated studies (default 20) of SLICES slices (default
# 256) of SIZE x SIZE pixels (default 512), one ZIP each, analysed by one `triage analyse` run on
# every core. Appends studies per minute, CPU (cores kept busy on average) and peak RSS (GNU time)
# to docs/benchmarks.md. Goal (2 cores): more than 1.8 cores busy on average, RSS under 500 MiB.
# TRIAGE_BENCH_BUILD=debug measures a debug build instead of release (only to try the recipe).
set -euo pipefail
cd "$(dirname "$0")/.."
STUDIES=${1:-20}
SLICES=${2:-256}
SIZE=${3:-512}
BUILD=${TRIAGE_BENCH_BUILD:-release}
SHARED=${TRIAGE_SHARED:-$PWD/../shared}
[ -d "$SHARED" ] || SHARED=/work/shared
CACHE=${TRIAGE_BENCH_CACHE:-$HOME/.cache/triage/bench}
VENV=${TRIAGE_VENV:-$HOME/.cache/triage/venv}
TARGET=${CARGO_TARGET_DIR:-target}
if ! "$VENV/bin/python" -c 'import pydicom, numpy' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r .ci/requirements.txt
fi
INPUT=$CACHE/analyse-${STUDIES}x${SLICES}x${SIZE}
mkdir -p "$INPUT"
KINDS=(normal emphysema opacity)
for i in $(seq 1 "$STUDIES"); do
  STUDY=$INPUT/study-$i.zip
  if [ ! -s "$STUDY" ]; then
    echo "generating $STUDY"
    "$VENV/bin/python" "$SHARED/tools/make_ct_study.py" "$STUDY.part" --kind "${KINDS[$((i % 3))]}" \
      --slices "$SLICES" --size "$SIZE" --seed "$i"
    mv "$STUDY.part" "$STUDY"
  fi
done
if [ "$BUILD" = release ]; then
  cargo build --release -q -p triage-server --bin triage
else
  cargo build -q -p triage-server --bin triage
fi
BIN=$TARGET/$([ "$BUILD" = release ] && echo release || echo debug)/triage
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# Exit status 2 (a study failed) is still a measurement; anything else is not.
status=0
/usr/bin/time -v -o "$OUT/time" "$BIN" analyse "$INPUT" -o "$OUT/report.xlsx" >"$OUT/summary" 2>"$OUT/log" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
  cat "$OUT/log" "$OUT/time"; exit "$status"
fi
cat "$OUT/summary"
WALL=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/time" \
  | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
CPU=$(sed -n 's/.*Percent of CPU this job got: \([0-9]*\)%.*/\1/p' "$OUT/time")
PEAK_KIB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/time")
PEAK_MIB=$((PEAK_KIB / 1024))
PER_MIN=$(awk -v n="$STUDIES" -v s="$WALL" 'BEGIN { printf "%.1f", n * 60 / s }')
CORES=$(awk -v c="$CPU" 'BEGIN { printf "%.2f", c / 100 }')
echo "$STUDIES studies in ${WALL} s: ${PER_MIN} studies/min, ${CORES} cores busy on average, peak RSS ${PEAK_MIB} MiB"
COMMIT=$(git rev-parse --short HEAD)
ROW="| $(date -u +%F) | $COMMIT | $STUDIES × $SLICES slices of ${SIZE}×${SIZE} ($BUILD, $(nproc) cores) | ${WALL} s | ${PER_MIN} | ${CORES} | ${PEAK_MIB} MiB |"
python3 - "$ROW" <<'PY'
import sys
row = sys.argv[1]
path = "docs/benchmarks.md"
text = open(path).read()
marker = "<!-- analyse rows -->"
text = text.replace(marker, row + "\n" + marker)
open(path, "w").write(text)
PY
