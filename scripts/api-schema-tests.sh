#!/usr/bin/env bash
# Checks the running host against docs/openapi.json with Schemathesis, which generates
# requests from the document (valid ones, and invalid ones: wrong types, missing and
# unknown fields, other content types) and checks every answer: no server error (no 5xx
# at all: a plugin fault or a database that does not answer, which the document lists as
# 503, must not happen on this data either), a status the operation documents, the
# documented content type, a body matching the documented schema for that status.
#
# Installs what is missing, each step only when needed:
#   - python3 with venv (Debian's python3 and python3-venv when missing; needs root);
#   - Schemathesis $version from PyPI with its dependencies pinned below, in a virtualenv
#     under ~/.cache/privacy-guard (PRIVACY_GUARD_SCHEMATHESIS_VENV to put it elsewhere);
#   - the host binary (cargo build), unless PRIVACY_GUARD_BIN names one.
#
# Then, in a temporary data folder at a fixed clock, it prepares the data with the CLI
# (settings, two consents, enabling, contacts and leads, the daily run), starts
# `privacy-guard serve` on a free loopback port with a fresh API key, waits for /health and
# runs `schemathesis run` with the key. Generated values pick the existing people, consents
# and addresses half the time, so requests reach the plugin and not only the parsers.
#
# Bounded for CI: PRIVACY_GUARD_SCHEMATHESIS_EXAMPLES test cases per operation (default
# 40) and a fixed seed (PRIVACY_GUARD_SCHEMATHESIS_SEED, default 20260302; `random` for a
# new one each run). The longer mode is in docs/testing.md. The server's log is printed
# when a check fails. Exits with Schemathesis's status.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
# Everything Schemathesis $version installs, pinned, so a run tomorrow installs the same.
requirements=(
    "schemathesis==$version" anyio==4.16.0 certifi==2026.10.19.post1 charset-normalizer==3.5.3
    click==8.5.1 graphql-core==3.3.2 harfile==0.6.0 hypothesis==6.170.17
    hypothesis-graphql==0.13.5 idna==3.20 iniconfig==2.3.1 jsonschema_rs==0.60.3
    markdown-it-py==4.3.0 MarkupSafe==3.0.4 mdurl==0.1.2 packaging==26.4 pluggy==1.7.0
    Pygments==2.21.0 pyrate-limiter==4.5.1 pytest==9.2.0 PyYAML==6.0.4 requests==2.34.2
    rich==15.0.0 sortedcontainers==2.4.0 typing_extensions==4.16.0 urllib3==2.8.0
    Werkzeug==3.1.9
)
examples="${PRIVACY_GUARD_SCHEMATHESIS_EXAMPLES:-40}"
seed="${PRIVACY_GUARD_SCHEMATHESIS_SEED:-20260302}"
venv="${PRIVACY_GUARD_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/privacy-guard/schemathesis-$version}"

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

# Debian packages, as root; the package lists are updated only when installing fails without.
apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$* missing: install Debian's $* as root (apt-get install $*)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$@" || { apt-get update -q && apt-get install -y -q "$@"; }
}

step "Schemathesis $version (in $venv; installed only when missing)"
stamp="$venv/.installed-from.sha256"
wanted="$(printf '%s\n' "${requirements[@]}" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/schemathesis" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "up to date"
else
    command -v python3 >/dev/null || apt_install python3 python3-venv
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! python3 -m venv "$venv"; then
        # Debian's python3 makes virtualenvs only with python3-venv.
        rm -rf "$venv"
        apt_install python3-venv
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "${requirements[@]}"
    "$venv/bin/python" -m pip check
    echo "$wanted" > "$stamp"
fi
"$venv/bin/schemathesis" --version

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
document="$PWD/docs/openapi.json"

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
export PRIVACY_GUARD_RUN_AT=10:00 PRIVACY_GUARD_TIME_ZONE=UTC PRIVACY_GUARD_ACTOR=api-schema-tests
at() { PRIVACY_GUARD_NOW="$1" "${@:2}"; }
setup_now=2026-03-02T08:00:00Z
run_now=2026-03-02T10:30:00Z
serve_now=2026-03-02T10:31:00Z

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
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
printf '%s\n' 'firstname,email' 'Hedy,hedy@example.com' 'Ada,ada@example.com' > "$work/leads.csv"
at $setup_now "$bin" import "$work/contacts.csv" 2>>"$work/cli.log"
at $setup_now "$bin" import --module leads "$work/leads.csv" 2>>"$work/cli.log"
at $run_now "$bin" run-daily 2>>"$work/cli.log"

made="$("$bin" api-key --name api-schema-tests 2>>"$work/cli.log")"
key="$(grep -o 'pgk_[0-9a-f]*' <<<"$made" | head -n 1)"
digest="$(grep -o 'api-schema-tests=sha256:[0-9a-f]*' <<<"$made" | head -n 1)"
if [ -z "$key" ] || [ -z "$digest" ]; then
    echo "could not read the key and its digest from \`privacy-guard api-key\`:" >&2
    echo "$made" >&2
    exit 1
fi

# The key goes to Schemathesis through the environment, not its command line.
cat > "$work/schemathesis.toml" <<'EOF'
headers = { Authorization = "Bearer ${PRIVACY_GUARD_SCHEMA_TEST_KEY}" }

[dictionaries.modules]
values = ["contacts", "leads"]

[dictionaries.people]
values = ["1", "2", "3", "4", "5"]

[dictionaries.consents]
values = ["email-marketing", "phone-calls"]

[dictionaries.addresses]
values = ["ada@example.com", "grace@example.com", "linus@example.com", "margaret@example.com", "erin@example.com", "hedy@example.com"]

[parameters]
"path.module" = { dictionary = "modules", probability = 0.7 }
"path.id" = { dictionary = "people", probability = 0.5 }
"body.consent_id" = { dictionary = "consents", probability = 0.5 }
"body.purpose" = { dictionary = "consents", probability = 0.5 }
"body.recipients[*].address" = { dictionary = "addresses", probability = 0.5 }
EOF

step "starting the host on $url"
# Started directly, not through `at`: $! must be the server itself, not a subshell around it.
PRIVACY_GUARD_NOW=$serve_now "$bin" serve --listen "127.0.0.1:$port" --api-key-digest "$digest" >"$work/serve.log" 2>&1 &
server=$!
healthy() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$url/health" 2>/dev/null; }
for _ in $(seq 1 120); do
    if ! kill -0 "$server" 2>/dev/null; then
        wait "$server" || true
        server=""
        echo "the host stopped before answering; its log:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    healthy && break
    sleep 0.5
done
healthy || { echo "the host did not answer $url/health within 60 s; its log:" >&2; cat "$work/serve.log" >&2; exit 1; }

step "schemathesis run docs/openapi.json ($examples examples per operation, seed $seed)"
seed_option=(--seed "$seed")
[ "$seed" = random ] && seed_option=()
status=0
(
    cd "$work"
    PRIVACY_GUARD_SCHEMA_TEST_KEY="$key" "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" \
        run "$document" --url "$url" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --max-examples "$examples" "${seed_option[@]}" \
        --generation-database none --no-color --output-truncate false
) || status=$?
stop_server
if [ "$status" -ne 0 ]; then
    echo "the host's log:" >&2
    cat "$work/serve.log" >&2
fi
echo "API schema tests: exit $status after $((SECONDS - started)) s"
exit "$status"
