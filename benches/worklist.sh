#!/usr/bin/env bash
# Worklist benchmark: N studies (default 100000) of one user in PostgreSQL, then GET /studies
# (first page, and a page behind a cursor 90 % of the way down) with wrk at CONNS concurrent
# connections (default 64) for SECS seconds each (default 15); appends req/s and p99 to
# docs/benchmarks.md (TRIAGE_BENCH_RECORD=0: print only, for a quick check on a small N).
# Needs PostgreSQL (TRIAGE_BENCH_PG_URL, a role that may CREATE DATABASE) and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-100000}
CONNS=${2:-64}
SECS=${3:-15}
PORT=${TRIAGE_BENCH_PORT:-18089}
PROFILE=${TRIAGE_BENCH_PROFILE:-release}
ADMIN_URL=${TRIAGE_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=triage_bench_worklist
DB_URL=${ADMIN_URL%/*}/$DB
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install -y wrk)"; exit 1; }

if [ "$PROFILE" = release ]; then cargo build --release -q -p triage-server; else cargo build -q -p triage-server; fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/triage
psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
DATA=$(mktemp -d /tmp/triage-bench.XXXXXX)
export TRIAGE__DATA_DIR=$DATA TRIAGE__SERVER__BIND=127.0.0.1:$PORT TRIAGE__LOG__FILTER=warn \
  TRIAGE__ML__DISPATCH=false TRIAGE__DATABASE__URL=$DB_URL
"$BIN" serve >"$DATA/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"; psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" || true' EXIT
BASE=http://127.0.0.1:$PORT
for _ in $(seq 300); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done

curl -sf -X POST "$BASE/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' >/dev/null
TOKEN=$(curl -sf -X POST "$BASE/auth/login" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
OWNER=$(curl -sf "$BASE/auth/me" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# Studies of every worklist rank; sort_key as triage_domain::priority_key writes it.
psql -q "$DB_URL" -v owner="$OWNER" -v n="$N" <<'SQL'
INSERT INTO studies (id, owner_id, study_uid, source, first_received_at, last_received_at,
    modalities, body_part, series_count, instance_count, status, probability, pathology,
    finding, sort_key)
SELECT gen_random_uuid()::text, :'owner', '1.2.826.0.1.3680043.' || g, 'upload', now(), now(),
    '["CT"]', 'CHEST', 1, 300, s.status, s.p, s.p >= 0.25,
    CASE WHEN s.p >= 0.25 THEN 'emphysema' END,
    CASE WHEN s.status = 'pending' THEN '3' WHEN s.status = 'failed' THEN '1'
         WHEN s.p >= 0.25 THEN '0' ELSE '2' END
      || CASE WHEN s.p IS NULL THEN '1000000000'
              ELSE lpad(round((1 - s.p) * 1e9)::bigint::text, 10, '0') END
FROM generate_series(1, :n) AS g,
LATERAL (SELECT CASE WHEN g % 10 = 0 THEN 'failed' WHEN g % 7 = 0 THEN 'pending' ELSE 'analysed' END AS status,
                CASE WHEN g % 10 <> 0 AND g % 7 <> 0 THEN random() END AS p) AS s;
ANALYZE studies;
SQL
DEEP=$(psql -qtA "$DB_URL" -c "SELECT sort_key || E'\n' || id FROM studies ORDER BY sort_key, id OFFSET $((N * 9 / 10)) LIMIT 1" \
  | python3 -c 'import sys; print(sys.stdin.read().rstrip("\n").encode().hex())')
curl -sf "$BASE/studies?limit=50&cursor=$DEEP" -H "Authorization: Bearer $TOKEN" >/dev/null

run() { # name, path -> "req/s p99"
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$BASE$2")
  echo "$out" >&2
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "$rps $p99"
}
read -r FIRST_RPS FIRST_P99 < <(run first "/studies?limit=50")
read -r DEEP_RPS DEEP_P99 < <(run deep "/studies?limit=50&cursor=$DEEP")
echo "worklist of $N studies, $CONNS connections: first page $FIRST_RPS req/s p99 $FIRST_P99; deep page $DEEP_RPS req/s p99 $DEEP_P99"

[ "${TRIAGE_BENCH_RECORD:-1}" = 1 ] || exit 0
ROW="| $(date +%F) | $(git rev-parse --short HEAD 2>/dev/null || echo -) | $N | $CONNS | $FIRST_RPS | $FIRST_P99 | $DEEP_RPS | $DEEP_P99 |"
python3 - "$ROOT/docs/benchmarks.md" "$ROW" <<'PY'
import sys
path, row = sys.argv[1], sys.argv[2]
text = open(path).read()
marker = "<!-- worklist rows -->"
open(path, "w").write(text.replace(marker, row + "\n" + marker, 1))
PY
