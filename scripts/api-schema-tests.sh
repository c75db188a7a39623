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

source scripts/served-host.sh
served_host_binary
document="$PWD/docs/openapi.json"
served_host_start api-schema-tests --with-leads

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
served_host_stop
if [ "$status" -ne 0 ]; then
    echo "the host's log:" >&2
    cat "$work/serve.log" >&2
fi
echo "API schema tests: exit $status after $((SECONDS - started)) s"
exit "$status"
