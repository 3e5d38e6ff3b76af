# triage tasks. `just --list` shows them.

default:
    @just --list

# Serve on the embedded defaults (SQLite + local blobs under ./data).
run:
    cargo run --release

# Needs ML_SERVICE_TOKEN in the environment; start triage with ML_SERVICE_URL=http://127.0.0.1:8080
# and the same token.
# Serve triage-ml (the reference ML service) on :8080 over the local blobs of `just run`.
ml:
    ML_BLOBS_DIR="${ML_BLOBS_DIR:-./data/blobs}" BACKEND_URL="${BACKEND_URL:-http://127.0.0.1:8000}" cargo run --release -p triage-ml-service --bin triage-ml

# The test command of the README.
test:
    cargo test --workspace

# Format check, clippy with warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# CI as it runs on a clean clone.
ci:
    bash .ci/run

# Apply database migrations for the configured database.
migrate:
    cargo run --release -- migrate

# Upload a generated 2 GiB study and record RSS and throughput in docs/benchmarks.md.
bench-upload size_mib="2048":
    bash benches/upload.sh {{size_mib}}

# 10,000 WebSocket watchers of one job: time from its completion to their frames, and server RSS.
bench-ws watchers="10000" rounds="3":
    bash benches/ws.sh {{watchers}} {{rounds}}

# One generated 512-slice 512x512 CT series per analysis profile: seconds and peak RSS.
bench-engine slices="512" size="512":
    bash benches/engine.sh {{slices}} {{size}}

# `triage analyse` over generated studies (default 20 of 256 512x512 slices): studies/min, CPU, RSS.
bench-analyse studies="20" slices="256" size="512":
    bash benches/analyse.sh {{studies}} {{slices}} {{size}}

# 100,000 studies in PostgreSQL: GET /studies, first page and a deep cursor page, at 64 connections.
bench-worklist studies="100000" connections="64" secs="15":
    bash benches/worklist.sh {{studies}} {{connections}} {{secs}}

# Every benchmark: upload, engine, WebSocket fan-out, batch analysis, worklist.
bench: bench-upload bench-engine bench-ws bench-analyse bench-worklist

# Start a local S3 server (s3s-fs on 127.0.0.1:9000, key minioadmin/minioadmin) for the tests.
s3:
    bash "${TRIAGE_SHARED:-../shared}/tools/start-s3.sh" install s3s-fs
    bash "${TRIAGE_SHARED:-../shared}/tools/start-s3.sh" s3s-fs

# Evaluation of 100,000 scored studies with 2,000 bootstrap resamples: seconds and load average.
bench-evaluate studies="100000" resamples="2000":
    cargo run --release -p triage-evaluation --example bench_evaluate -- {{studies}} {{resamples}}
