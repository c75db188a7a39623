# A real host serving a little data, for the scripts that test the JSON API from outside
# (php-client-tests.sh, api-schema-tests.sh). Sourced, not run:
#
#   source scripts/served-host.sh
#   served_host_binary                   # $bin: PRIVACY_GUARD_BIN, else `cargo build`
#   served_host_start NAME [--with-leads] # prepares the data, serves it; sets $work, $url,
#                                        # $key (the API key), $key_name, $server
#   ...                                  # the tests
#   served_host_stop                     # also runs on exit
#
# The data, in a temporary folder at a fixed clock (consents enabled before the daily run's
# time, the run after it, the server a minute later): settings, the consents
# `email-marketing` (custom) and `phone-calls` (data:phone), five contacts (Ada and Grace
# with phones; Linus, Margaret, Erin without), with --with-leads two leads (Hedy, and Ada's
# address again), and the daily run's requests. Needs python3 and `step` from the caller.

served_host_binary() {
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
}

server=""
served_host_stop() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}

served_host_start() {
    key_name="$1"
    local with_leads="${2:-}"
    # Everything the host reads from PRIVACY_GUARD_* is set here, not taken from the
    # caller's environment (a database URL, an SMTP server or a tenant file there would
    # change the run).
    while read -r name; do unset "$name"; done < <(compgen -e | grep '^PRIVACY_GUARD_' || true)

    work="$(mktemp -d)"
    trap 'served_host_stop; rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM

    export PRIVACY_GUARD_DATA_DIR="$work/data"
    export PRIVACY_GUARD_RUN_AT=10:00 PRIVACY_GUARD_TIME_ZONE=UTC PRIVACY_GUARD_ACTOR="$key_name"
    local setup_now=2026-03-02T08:00:00Z run_now=2026-03-02T10:30:00Z serve_now=2026-03-02T10:31:00Z
    cli() { PRIVACY_GUARD_NOW="$1" "$bin" "${@:2}" 2>>"$work/cli.log"; }

    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    url="http://127.0.0.1:$port"

    step "preparing the data with the CLI (in $work)"
    cli $setup_now settings --sender-address privacy@example.org --sender-name "Example Privacy" \
        --organisation "Example Ltd" --postal-address "1 Example Street, Berlin" \
        --preferences-url "$url/preferences/"
    cli $setup_now consent add --id email-marketing --kind custom --title "News by email" \
        --purpose "We send our newsletter to your email address, at most twice a month."
    cli $setup_now consent add --id phone-calls --kind data:phone --title "Calls" \
        --purpose "We call you about our offers."
    cli $setup_now enable --confirm-deduplication
    printf '%s\n' 'firstname,email,phone' 'Ada,ada@example.com,+44 1' 'Grace,grace@example.com,+44 2' \
        'Linus,linus@example.com,' 'Margaret,margaret@example.com,' 'Erin,erin@example.com,' > "$work/contacts.csv"
    cli $setup_now import "$work/contacts.csv"
    if [ "$with_leads" = --with-leads ]; then
        printf '%s\n' 'firstname,email' 'Hedy,hedy@example.com' 'Ada,ada@example.com' > "$work/leads.csv"
        cli $setup_now import --module leads "$work/leads.csv"
    fi
    cli $run_now run-daily

    local made digest
    made="$("$bin" api-key --name "$key_name" 2>>"$work/cli.log")"
    key="$(grep -o 'pgk_[0-9a-f]*' <<<"$made" | head -n 1)"
    digest="$(grep -o "$key_name=sha256:[0-9a-f]*" <<<"$made" | head -n 1)"
    if [ -z "$key" ] || [ -z "$digest" ]; then
        echo "could not read the key and its digest from \`privacy-guard api-key\`:" >&2
        echo "$made" >&2
        exit 1
    fi

    step "starting the host on $url"
    # Started directly, not through a function: $! must be the server itself, not a
    # subshell around it.
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
        healthy && return 0
        sleep 0.5
    done
    echo "the host did not answer $url/health within 60 s; its log:" >&2
    cat "$work/serve.log" >&2
    exit 1
}
