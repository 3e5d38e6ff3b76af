#!/usr/bin/env bash
# Runs schemathesis over /openapi.json against a real triage process (embedded defaults: SQLite
# and blobs in a temp dir, the in-process engine) with a signed-up user's bearer token, a few
# examples per operation. Fails on any 5xx and on any answer the document does not describe
# (status code, content type, headers, body schema). Used by .ci/run after the tests.
#
#   bash .ci/schemathesis.sh            # builds the debug binary if needed
#   TRIAGE_BIN=path/to/triage bash .ci/schemathesis.sh
#   SCHEMATHESIS_EXAMPLES=20 bash .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/triage/target}

# The shared venv; installing pinned, already present requirements is a quick no-op.
VENV=${TRIAGE_VENV:-$HOME/.cache/triage/venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/.ci/requirements.txt"

# Always the binary of this checkout (a release binary left in the target dir may be stale).
BIN=${TRIAGE_BIN:-}
if [ -z "$BIN" ]; then
  cargo build -q --locked --bin triage
  BIN=$CARGO_TARGET_DIR/debug/triage
fi

work=$(mktemp -d)
port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
# Run in the temp dir, so no config/ directory is found: the embedded defaults apply.
(cd "$work" && exec env -u RUST_LOG TRIAGE_ENV=development TRIAGE__SERVER__BIND=127.0.0.1:$port \
  TRIAGE__DATA_DIR="$work/data" TRIAGE__LOG__FILTER=warn "$BIN" serve >"$work/triage.log" 2>&1) &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 300); do
  curl -sf --noproxy '*' -o /dev/null "$base/health" && break
  kill -0 "$server" 2>/dev/null || { cat "$work/triage.log"; echo "triage did not start"; exit 1; }
  sleep 0.1
done
curl -sf --noproxy '*' -o /dev/null "$base/health" || { cat "$work/triage.log"; echo "triage does not answer"; exit 1; }

user=schemathesis_$RANDOM$RANDOM
password=schemathesis-password
curl -sf --noproxy '*' -H 'Content-Type: application/json' \
  -d "{\"username\":\"$user\",\"password\":\"$password\"}" "$base/auth/register" >/dev/null
token=$(curl -sf --noproxy '*' -H 'Content-Type: application/json' \
  -d "{\"username\":\"$user\",\"password\":\"$password\"}" "$base/auth/login" \
  | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

status=0
# From the temp dir: schemathesis keeps its cache (.schemathesis/) in the working directory.
(cd "$work" && NO_COLOR=1 "$VENV/bin/schemathesis" run "$base/openapi.json" --url "$base" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-5}" --seed "${SCHEMATHESIS_SEED:-1}" \
  --workers 1 --suppress-health-check all --warnings off \
  --request-timeout 30) || status=$?
if [ "$status" != 0 ]; then
  echo "--- triage log (last 50 lines)"; tail -n 50 "$work/triage.log"
fi
exit "$status"
