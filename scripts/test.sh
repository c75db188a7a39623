#!/usr/bin/env bash
# Runs everything CI runs: formatting, the whole test suite on SQLite, the integration tests
# again on PostgreSQL, and lints. The Rust toolchain and the wasm32-wasip2 target come from
# rust-toolchain.toml on the first cargo call.
#
# PostgreSQL: a throw-away server is started for the run (scripts/postgres.sh: as root it
# installs Debian's postgresql package when missing) and stopped at the end. To use a server
# of your own instead, set PRIVACY_GUARD_TEST_POSTGRES_URL to a URL whose user may create
# databases; each test creates a database of its own there and drops it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "building and running the test suite on SQLite"
cargo test --workspace --locked

if [ -z "${PRIVACY_GUARD_TEST_POSTGRES_URL:-}" ]; then
    step "starting a throw-away PostgreSQL server"
    postgres_dir="$(mktemp -d)"
    trap 'scripts/postgres.sh stop "$postgres_dir"; rm -rf "$postgres_dir"' EXIT
    trap 'exit 130' INT TERM
    scripts/postgres.sh start "$postgres_dir"
    PRIVACY_GUARD_TEST_POSTGRES_URL="$(scripts/postgres.sh url)"
    export PRIVACY_GUARD_TEST_POSTGRES_URL
fi

# Only the packages whose tests touch storage (the host's and the black-box tests), chosen
# by excluding the plugin's: `--workspace` keeps the features of the SQLite run, so its
# build is reused as it is (`-p` would resolve features anew and rebuild).
step "running the integration tests on PostgreSQL"
started=$SECONDS
cargo test --workspace --locked --exclude privacy-guard-core --exclude privacy-guard-plugin
echo "PostgreSQL run: $((SECONDS - started)) s"

step "lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
