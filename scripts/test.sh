#!/usr/bin/env bash
# Runs everything CI runs: formatting, lints and the whole test suite. The Rust toolchain
# and the wasm32-wasip2 target come from rust-toolchain.toml on the first cargo call.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "tools for the SMTP tests (aiosmtpd, openssl; installed only when missing)"
./scripts/smtp-test-tools.sh

step "building and running the test suite"
cargo test --workspace --locked

step "lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
