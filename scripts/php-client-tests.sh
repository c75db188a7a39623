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

if [ -n "${PRIVACY_GUARD_BIN:-}" ]; then
    bin="$PRIVACY_GUARD_BIN"
    step "the host binary: $bin (PRIVACY_GUARD_BIN)"
else
    step "building the host binary (cargo build -p privacy-guard-host --bin privacy-guard)"
    cargo build --locked -p privacy-guard-host --bin privacy-guard
    bin="${CARGO_TARGET_DIR:-target}/debug/privacy-guard"
fi
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "$bin is not an executable host binary" >&2; exit 1; }

# Everything the host reads from PRIVACY_GUARD_* is set here, not taken from the caller's
# environment (a database URL, an SMTP server or a tenant file there would change the run).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^PRIVACY_GUARD_' || true)

work="$(mktemp -d)"
server=""
stop_server() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

export PRIVACY_GUARD_DATA_DIR="$work/data"
export PRIVACY_GUARD_RUN_AT=10:00 PRIVACY_GUARD_TIME_ZONE=UTC PRIVACY_GUARD_ACTOR=php-client-tests
# The host's clock, fixed: consents are enabled before the daily run's time, the run
# happens after it, and the server starts a minute later.
at() { PRIVACY_GUARD_NOW="$1" "${@:2}"; }
setup_now=2026-03-02T08:00:00Z
run_now=2026-03-02T10:30:00Z
serve_now=2026-03-02T10:31:00Z

port="$(php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); echo substr(strrchr(stream_socket_get_name($s, false), ":"), 1);')"
url="http://127.0.0.1:$port"

step "preparing the data with the CLI (in $work)"
at $setup_now "$bin" settings --sender-address privacy@example.org --sender-name "Example Privacy" \
    --organisation "Example Ltd" --postal-address "1 Example Street, Berlin" \
    --preferences-url "$url/preferences/" 2>>"$work/cli.log"
at $setup_now "$bin" consent add --id email-marketing --kind custom --title "News by email" \
    --purpose "We send our newsletter to your email address, at most twice a month." 2>>"$work/cli.log"
at $setup_now "$bin" consent add --id phone-calls --kind data:phone --title "Calls" \
    --purpose "We call you about our offers." 2>>"$work/cli.log"
at $setup_now "$bin" enable --confirm-deduplication 2>>"$work/cli.log"
printf '%s\n' 'firstname,email,phone' 'Ada,ada@example.com,+44 1' 'Grace,grace@example.com,+44 2' \
    'Linus,linus@example.com,' 'Margaret,margaret@example.com,' 'Erin,erin@example.com,' > "$work/contacts.csv"
at $setup_now "$bin" import "$work/contacts.csv" 2>>"$work/cli.log"
at $run_now "$bin" run-daily 2>>"$work/cli.log"

key_name=php-client-tests
made="$("$bin" api-key --name "$key_name" 2>>"$work/cli.log")"
key="$(grep -o 'pgk_[0-9a-f]*' <<<"$made" | head -n 1)"
digest="$(grep -o "$key_name=sha256:[0-9a-f]*" <<<"$made" | head -n 1)"
if [ -z "$key" ] || [ -z "$digest" ]; then
    echo "could not read the key and its digest from \`privacy-guard api-key\`:" >&2
    echo "$made" >&2
    exit 1
fi

step "starting the host on $url"
# Started directly, not through `at`: $! must be the server itself, not a subshell around it.
PRIVACY_GUARD_NOW=$serve_now "$bin" serve --listen "127.0.0.1:$port" --api-key-digest "$digest" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
    if ! kill -0 "$server" 2>/dev/null; then
        wait "$server" || true
        server=""
        echo "the host stopped before answering; its log:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    if php -r 'exit(@file_get_contents($argv[1]) === false ? 1 : 0);' "$url/health"; then
        break
    fi
    sleep 0.5
done
php -r 'exit(@file_get_contents($argv[1]) === false ? 1 : 0);' "$url/health" \
    || { echo "the host did not answer $url/health within 60 s; its log:" >&2; cat "$work/serve.log" >&2; exit 1; }

step "PHP client tests (php clients/php/tests/run.php)"
status=0
PRIVACY_GUARD_API_URL="$url" PRIVACY_GUARD_API_KEY="$key" PRIVACY_GUARD_API_KEY_NAME="$key_name" \
    php clients/php/tests/run.php || status=$?
stop_server
if [ "$status" -ne 0 ]; then
    echo "the host's log:" >&2
    cat "$work/serve.log" >&2
fi
echo "PHP client tests: exit $status after $((SECONDS - started)) s"
exit "$status"
