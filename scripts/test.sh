#!/usr/bin/env bash
# Runs everything CI runs: formatting, the whole test suite on SQLite, then again on
# PostgreSQL, and lints. The Rust toolchain and the wasm32-wasip2 target come from
# rust-toolchain.toml on the first cargo call.
#
# PostgreSQL: a throw-away server is started for the run (scripts/postgres.sh: as root it
# installs Debian's postgresql package when missing) and stopped at the end. To use a server
# of your own instead, set PRIVACY_GUARD_TEST_POSTGRES_URL to a URL whose user may create
# databases; each test creates a database of its own there and drops it.
#
# SMTP: the SMTP tests start a real aiosmtpd; scripts/smtp-test-tools.sh installs it, and
# openssl, only when missing.
#
# Browser: the preferences page is tested in headless Chromium in every language
# (scripts/browser-tests.sh: as root it installs Debian's chromium when missing, and the
# npm packages of tests/browser).
#
# Node host: the conformance kit also runs against hosts/node, the same component through jco
# (scripts/node-host-tests.sh: as root it installs Debian's nodejs and npm when missing, and
# the npm packages of hosts/node).
#
# JSON API: the PHP client is tested against a running host (scripts/php-client-tests.sh:
# as root it installs Debian's php-cli when missing), and the running host is checked
# against docs/openapi.json by Schemathesis (scripts/api-schema-tests.sh: a pinned version
# in a virtualenv under ~/.cache; as root it installs python3-venv when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "tools for the SMTP tests (aiosmtpd, openssl; installed only when missing)"
./scripts/smtp-test-tools.sh

# The tests choose PostgreSQL when this is set: keep it for the second run.
postgres_url="${PRIVACY_GUARD_TEST_POSTGRES_URL:-}"
unset PRIVACY_GUARD_TEST_POSTGRES_URL

step "building and running the test suite on SQLite"
cargo test --workspace --locked

step "the preferences page in headless Chromium, in every language"
./scripts/browser-tests.sh

step "the contract: the component targets its world, the WIT is semver-compatible with the last release (wasm-tools)"
./scripts/contract-checks.sh

step "the conformance kit against the reference driver"
./scripts/conformance-tests.sh

step "the conformance kit against the Node host (the same component through jco)"
./scripts/node-host-tests.sh

step "the PHP client against a running host"
./scripts/php-client-tests.sh

step "the running host against docs/openapi.json (Schemathesis)"
./scripts/api-schema-tests.sh

if [ -z "$postgres_url" ]; then
    step "starting a throw-away PostgreSQL server"
    postgres_dir="$(mktemp -d)"
    trap 'scripts/postgres.sh stop "$postgres_dir"; rm -rf "$postgres_dir"' EXIT
    trap 'exit 130' INT TERM
    scripts/postgres.sh start "$postgres_dir"
    postgres_url="$(scripts/postgres.sh url)"
fi

# The same selection as the SQLite run, so its build is reused as it is: choosing fewer
# packages (-p, --exclude) resolves dependency features anew and compiles the host a second
# time, while the plugin's tests, which never touch storage, take well under a second.
step "running the test suite on PostgreSQL"
started=$SECONDS
# Tests that cannot run without PostgreSQL are ignored in the SQLite run (its summary
# counts them as ignored, with the reason); here they run too.
PRIVACY_GUARD_TEST_POSTGRES_URL="$postgres_url" cargo test --workspace --locked -- --include-ignored
echo "PostgreSQL run: $((SECONDS - started)) s"

step "lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
