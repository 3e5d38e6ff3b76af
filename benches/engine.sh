#!/usr/bin/env bash
# Engine benchmark: a generated CT series of SLICES slices of SIZE x SIZE pixels (defaults 512,
# 512) analysed by the release engine once per profile; seconds per series and peak RSS of the
# process, appended to docs/benchmarks.md. Targets (2 cores): production under 10 s and
# under 500 MiB. Then the production profile without and with visualisation (label volume, key
# images, NIfTI, DICOM SEG: crates/visual/examples/artefacts.rs): the extra time, goal under
# 1.0 s, and peak RSS still under 500 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
SLICES=${1:-512}
SIZE=${2:-512}
SHARED=${TRIAGE_SHARED:-$PWD/../shared}
[ -d "$SHARED" ] || SHARED=/work/shared
CACHE=${TRIAGE_BENCH_CACHE:-$HOME/.cache/triage/bench}
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$CACHE"
if [ ! -x "$CACHE/venv/bin/python" ]; then
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install --quiet --disable-pip-version-check pydicom numpy
fi
STUDY=$CACHE/series-${SLICES}x${SIZE}.zip
if [ ! -s "$STUDY" ]; then
  echo "generating $STUDY"
  "$CACHE/venv/bin/python" "$SHARED/tools/make_ct_study.py" "$STUDY.part" --kind emphysema \
    --slices "$SLICES" --size "$SIZE"
  mv "$STUDY.part" "$STUDY"
fi
cargo build --release -q -p triage-engine --example analyse
cargo build --release -q -p triage-visual --example artefacts
BIN=$TARGET/release/examples/analyse
ARTEFACTS=$TARGET/release/examples/artefacts
THREADS=$(nproc)
ROWS=""
for PROFILE in fast_debug production research; do
  # GNU time's maximum resident set size (KiB) and the engine's own timing line.
  OUT=$( { /usr/bin/time -f 'peak_kib=%M' "$BIN" --profile "$PROFILE" --threads "$THREADS" "$STUDY"; } 2>&1 )
  SECS=$(printf '%s\n' "$OUT" | sed -n 's/.*series, \([0-9.]*\) s,.*/\1/p' | head -n1)
  PEAK_KIB=$(printf '%s\n' "$OUT" | sed -n 's/^peak_kib=//p')
  PEAK_MIB=$((PEAK_KIB / 1024))
  echo "$PROFILE: ${SECS} s per series, peak RSS ${PEAK_MIB} MiB"
  ROWS+="| $(date -u +%F) | engine | ${SLICES} slices of ${SIZE}×${SIZE}, \`$PROFILE\`, $THREADS threads | ${SECS} s | ${PEAK_MIB} MiB |"$'\n'
done
OUT_DIR=$(mktemp -d)
trap 'rm -rf "$OUT_DIR"' EXIT
for MODE in --no-visual --visual; do
  FLAG=$([ "$MODE" = --no-visual ] && echo --no-visual || true)
  # "analysis A s, artefacts B s (...)": the analysis (with the label volume when visual) plus
  # drawing and encoding the files.
  OUT=$( { /usr/bin/time -f 'peak_kib=%M' "$ARTEFACTS" --threads "$THREADS" $FLAG "$STUDY" "$OUT_DIR"; } 2>&1 )
  ANALYSIS=$(printf '%s\n' "$OUT" | sed -n 's/^analysis \([0-9.]*\) s, artefacts \([0-9.]*\) s.*/\1/p')
  DRAWING=$(printf '%s\n' "$OUT" | sed -n 's/^analysis \([0-9.]*\) s, artefacts \([0-9.]*\) s.*/\2/p')
  TOTAL=$(python3 -c "print(f'{$ANALYSIS + $DRAWING:.3f}')")
  PEAK_MIB=$(( $(printf '%s\n' "$OUT" | sed -n 's/^peak_kib=//p') / 1024 ))
  echo "production $MODE: analysis ${ANALYSIS} s + files ${DRAWING} s = ${TOTAL} s, peak RSS ${PEAK_MIB} MiB"
  ROWS+="| $(date -u +%F) | engine | ${SLICES} slices of ${SIZE}×${SIZE}, \`production\` ${MODE#--}, $THREADS threads | ${TOTAL} s (files ${DRAWING} s) | ${PEAK_MIB} MiB |"$'\n'
done
python3 - "$ROWS" <<'PY'
import sys
rows = sys.argv[1]
path = "docs/benchmarks.md"
text = open(path).read()
marker = "<!-- engine rows -->"
if marker not in text:
    text += "\n## Engine\n\n`just bench-engine` (benches/engine.sh): one generated CT series per profile, analysed by the\nrelease engine (`crates/engine/examples/analyse.rs`); peak RSS from GNU time.\n\n| date | bench | input | time | peak RSS |\n|---|---|---|---|---|\n" + marker + "\n"
text = text.replace(marker, rows + marker)
open(path, "w").write(text)
PY
