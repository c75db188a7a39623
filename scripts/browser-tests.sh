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

step "Node.js (20 or later) and npm"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node and npm are needed (Node.js 20 or later)" >&2
    exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "Node.js $(node --version) is too old: the browser tests need 20 or later" >&2
    exit 1
fi
echo "node $(node --version), npm $(npm --version)"

step "npm packages of tests/browser (npm ci; only when missing or stale)"
# The stamp records what node_modules was installed from.
stamp=tests/browser/node_modules/.installed-from.sha256
wanted="$(cat tests/browser/package.json tests/browser/package-lock.json | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "up to date"
else
    # --ignore-scripts: no package's install script runs (none is needed, and none may
    # download a browser).
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund)
    echo "$wanted" > "$stamp"
fi

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
