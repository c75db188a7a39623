#!/usr/bin/env bash
# Runs the PHP client's tests (clients/php/tests/run.php) against a real host. Installs
# what is missing, each step only when needed:
#
#   - Debian's php-cli, when `php` is missing (apt-get; needs root). The client needs no
#     extension beyond it: it speaks HTTP through PHP's stream wrapper, not curl;
#   - the host binary (cargo build), unless PRIVACY_GUARD_BIN names one.
#
# Then, in a temporary data folder at a fixed clock, it prepares the data with the CLI
# (settings, two consents, enabling, five contacts imported, the daily run sending their
# requests), makes an API key, starts `privacy-guard serve` on a free loopback port with
# that key, waits for /health, runs the tests and stops the server. The server's log is
# printed when a test fails. Exits with the status of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "PHP (Debian's php-cli; installed only when missing)"
if ! command -v php >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "php is missing: install Debian's php-cli package as root (apt-get install php-cli)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q php-cli || { apt-get update -q && apt-get install -y -q php-cli; }
fi
if ! php -r 'exit(PHP_VERSION_ID >= 80000 ? 0 : 1);'; then
    echo "PHP $(php -r 'echo PHP_VERSION;') is too old: the client needs PHP 8" >&2
    exit 1
fi
php --version | head -n 1

source scripts/served-host.sh
served_host_binary
served_host_start php-client-tests

step "PHP client tests (php clients/php/tests/run.php)"
status=0
PRIVACY_GUARD_API_URL="$url" PRIVACY_GUARD_API_KEY="$key" PRIVACY_GUARD_API_KEY_NAME="$key_name" \
    php clients/php/tests/run.php || status=$?
served_host_stop
if [ "$status" -ne 0 ]; then
    echo "the host's log:" >&2
    cat "$work/serve.log" >&2
fi
echo "PHP client tests: exit $status after $((SECONDS - started)) s"
exit "$status"
