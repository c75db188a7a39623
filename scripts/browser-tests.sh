#!/usr/bin/env bash
# Runs the browser tests of the preferences page (tests/browser/): headless Chromium driven
# by playwright-core, with axe-core for accessibility. Installs what is missing, each step
# only when needed, so running it again changes nothing:
#
#   - Debian's chromium, when /usr/bin/chromium is missing (apt-get; needs root);
#   - the npm packages of tests/browser (npm ci from package-lock.json), when node_modules
#     is missing or was installed from another package.json or package-lock.json;
#   - the host binary (cargo build), which embeds the plugin component.
#
# No test tool downloads a browser of its own: playwright-core starts /usr/bin/chromium.
# Screenshots and the server's log are left in tests/browser/artifacts/.
# Exits with the status of `node --test`.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "Chromium (Debian's package; installed only when missing)"
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "/usr/bin/chromium is missing: install Debian's chromium package as root (apt-get install chromium)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y chromium
fi
/usr/bin/chromium --version 2>/dev/null

source scripts/node-packages.sh
require_node "the browser tests"
npm_packages tests/browser

step "building the host binary (cargo build -p privacy-guard-host --bin privacy-guard)"
cargo build --locked -p privacy-guard-host --bin privacy-guard
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export PRIVACY_GUARD_BIN="${PRIVACY_GUARD_BIN:-$target_dir/debug/privacy-guard}"

step "browser tests (node --test tests/browser/)"
status=0
node --test tests/browser/ || status=$?
echo "browser tests: exit $status after $((SECONDS - started)) s; screenshots in tests/browser/artifacts/"
exit "$status"
