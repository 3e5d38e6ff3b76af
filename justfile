# triage tasks. `just --list` shows them.

default:
    @just --list

# Serve on the embedded defaults (SQLite + local blobs under ./data).
run:
    cargo run --release

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
