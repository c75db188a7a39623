#!/usr/bin/env bash
# The scale figures of docs/benchmarks.md, reproduced: the release host on 10,000 to
# 1,000,000 contacts, on SQLite and on PostgreSQL, measured as a user runs it.
#
#   scripts/scale.sh contacts [--sizes 10000,100000,1000000] [--backends sqlite,postgres]
#                             [--runs 2] [--load-seconds 30]
#       per size, backend and run, in a fresh data folder: `import` of a CSV of that many
#       contacts (one email data consent, enabled), the first `run-daily` (a request to
#       each, written as .eml), `check` as a whole process (median of 21), then `serve`:
#       its RSS after start, after a sweep checking every contact once, and 32 keep-alive
#       clients for --load-seconds on check-send (100 recipients) and on the page.
#   scripts/scale.sh desk [--sizes 100000] [--backends sqlite] [--runs 2]
#       the data-protection officer's desk after a first daily run, one process per
#       command: report, people list, register, a bulk dry run, opening cases, the case
#       list, an export, a checkpoint, verify-log, verify-events, a receipt and its check.
#   scripts/scale.sh retention [--sizes 10000,100000] [--backends sqlite] [--runs 2]
#                              [--erase-up-to 100000]
#       the retention schedules (docs/consent-rules.md, "Retention schedules") on a
#       population that had its first daily run (a request to each), the host's clock then
#       moved (--now) to 2026-09-01, past the `unanswered` class's 90 days after the
#       requests lapsed (30 days), so that everyone is due: `retention run --dry-run --json`,
#       `retention run` (erasures/s: erased people over the process's wall time), and a
#       second `retention run`, which must erase nobody. Sizes above --erase-up-to get the
#       dry run only (erasing a large population one erasure each takes long).
#   scripts/scale.sh batch [--sizes ...] [--runs 2]
#       the pre-send benchmark (tests/benches/pre_send.rs) at each size: cold and warm
#       batches of 10,000, wasm / native, one recipient.
#   scripts/scale.sh artifacts
#       the component and host binary as shipped.
#
# Peak memory is `/usr/bin/time -v`'s maximum resident set size. Every figure is printed
# as it comes and appended, one JSON object a line, to target/scale/results.jsonl. The
# PostgreSQL server is the test suite's throw-away one (scripts/postgres.sh) on port
# 54339: fsync off, so its figures are an upper bound for a durable server.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }
out=target/scale
mkdir -p "$out"
results="$out/results.jsonl"

sizes=10000,100000,1000000
backends=sqlite,postgres
runs=2
load_seconds=30
erase_up_to=100000
command="${1:-}"
[ -n "$command" ] && shift
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) sizes="$2"; shift 2 ;;
        --backends) backends="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --load-seconds) load_seconds="$2"; shift 2 ;;
        --erase-up-to) erase_up_to="$2"; shift 2 ;;
        *) echo "unknown option $1 (see the top of $0)" >&2; exit 2 ;;
    esac
done

# The host measured: PRIVACY_GUARD_BIN (e.g. a copy of an earlier build), else the
# release build of this tree.
build() {
    if [ -n "${PRIVACY_GUARD_BIN:-}" ]; then
        bin="$(realpath "$PRIVACY_GUARD_BIN")"
        step "the host measured: $bin (PRIVACY_GUARD_BIN)"
    else
        step "building the release host"
        cargo build --locked --release -p privacy-guard-host --bin privacy-guard
        bin="$PWD/target/release/privacy-guard"
    fi
    # With a given host, an already built load generator is used as it is.
    if [ -z "${PRIVACY_GUARD_BIN:-}" ] || [ ! -x target/release/http-load ]; then
        step "building the load generator (tests/src/bin/http-load.rs)"
        cargo build --locked --release -p privacy-guard-tests --bin http-load
    fi
    load="$PWD/target/release/http-load"
}

# Appends one figure: record KIND KEY=VALUE... (values are JSON or bare words).
record() {
    python3 - "$results" "$@" <<'EOF'
import json, sys
path, kind, *pairs = sys.argv[1:]
row = {"kind": kind}
for pair in pairs:
    key, value = pair.split("=", 1)
    try:
        row[key] = json.loads(value)
    except ValueError:
        row[key] = value
line = json.dumps(row)
print(line)
open(path, "a").write(line + "\n")
EOF
}

# Runs a command under /usr/bin/time -v; sets $seconds and $rss_mib.
timed() {
    local report="$work/time.txt"
    /usr/bin/time -v -o "$report" "$@" >"$work/last.out" 2>"$work/last.err" || {
        local status=$?
        # `check` exits 3 when a recipient is refused: that is an answer, not a failure.
        if [ "$status" != 3 ]; then
            echo "failed ($status): $*" >&2
            tail -n 20 "$work/last.err" >&2
            exit 1
        fi
    }
    read -r seconds rss_mib < <(python3 - "$report" <<'EOF'
import sys
wall = rss = None
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("Elapsed (wall clock) time"):
        parts = [float(p) for p in line.rsplit(" ", 1)[1].split(":")]
        wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    elif line.startswith("Maximum resident set size"):
        rss = int(line.rsplit(" ", 1)[1]) / 1024
print(f"{wall:.2f} {rss:.0f}")
EOF
)
}

contacts_csv() {
    local size=$1
    local csv="$out/contacts-$size.csv"
    if [ ! -s "$csv" ]; then
        python3 - "$size" "$csv" "$out/addresses-$size.txt" <<'EOF'
import sys
size, csv, addresses = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(csv, "w") as table, open(addresses, "w") as plain:
    table.write("firstname,email\n")
    for n in range(size):
        table.write(f"Person {n},person{n}@example.org\n")
        plain.write(f"person{n}@example.org\n")
EOF
    fi
    echo "$csv"
}

postgres_started=""
postgres_dir=""
stop_postgres() {
    if [ -n "$postgres_started" ]; then
        PRIVACY_GUARD_POSTGRES_PORT=54339 scripts/postgres.sh stop "$postgres_dir"
        postgres_started=""
    fi
}
server=""
stop_server() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}
cleanup() {
    stop_server
    stop_postgres
    if [ -n "${work:-}" ]; then rm -rf "$work"; fi
    if [ -n "$postgres_dir" ]; then rm -rf "$postgres_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts the throw-away PostgreSQL server once. Called directly, never inside $(...): a
# subshell's variables do not reach `cleanup`, which must stop the server and remove it.
start_postgres() {
    if [ -z "$postgres_started" ]; then
        postgres_dir="$(mktemp -d)"
        PRIVACY_GUARD_POSTGRES_PORT=54339 scripts/postgres.sh start "$postgres_dir" >&2
        postgres_started=yes
    fi
}

# The database URL of a run (a fresh database on PostgreSQL; start_postgres first).
database_for() {
    local backend=$1 name=$2
    case "$backend" in
        sqlite) echo "sqlite://$work/data/privacy-guard.db?mode=rwc" ;;
        postgres)
            psql -q "postgres://postgres@127.0.0.1:54339/postgres" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >&2
            echo "postgres://postgres@127.0.0.1:54339/$name"
            ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
}

# Drops a run's PostgreSQL database when it is done (a 1M run leaves gigabytes).
drop_database() {
    local backend=$1 name=$2
    if [ "$backend" = postgres ]; then
        psql -q "postgres://postgres@127.0.0.1:54339/postgres" -c "DROP DATABASE IF EXISTS $name" >&2
    fi
}

rss_of() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A fresh data folder for $backend with one email data consent, enabled, and $size
# contacts imported (timed into $seconds and $rss_mib); sets work, csv, addresses, port,
# url and tag.
prepare_population() {
    local backend=$1 size=$2 run=$3
    csv="$(contacts_csv "$size")"
    addresses="$out/addresses-$size.txt"
    work="$(mktemp -d)"
    mkdir -p "$work/data"
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    # What the host reads from PRIVACY_GUARD_* is set here, not taken from the caller.
    while read -r name; do unset "$name"; done < <(compgen -e | grep '^PRIVACY_GUARD_' || true)
    export PRIVACY_GUARD_DATA_DIR="$work/data" PRIVACY_GUARD_RUN_AT=10:00 PRIVACY_GUARD_TIME_ZONE=UTC
    if [ "$backend" = postgres ]; then start_postgres; fi
    PRIVACY_GUARD_DATABASE_URL="$(database_for "$backend" "scale_${size}_$run")"
    export PRIVACY_GUARD_DATABASE_URL
    tag="backend=$backend contacts=$size run=$run"

    step "$backend, $size contacts, run $run: setting up (in $work)"
    export PRIVACY_GUARD_NOW=2026-03-02T08:00:00Z
    "$bin" settings --sender-address privacy@example.org --sender-name "Example Privacy" \
        --organisation "Example Ltd" --postal-address "1 Example Street, Berlin" \
        --preferences-url "$url/preferences/" >/dev/null 2>>"$work/setup.log"
    "$bin" consent add --id email-marketing --kind data:email --title "News by email" \
        --purpose "We send our newsletter to your email address." >/dev/null 2>>"$work/setup.log"
    "$bin" enable --confirm-deduplication >/dev/null 2>>"$work/setup.log"

    step "import of $size contacts"
    timed "$bin" import "$csv"
}

measure_contacts() {
    local backend=$1 size=$2 run=$3
    local csv addresses port url tag
    prepare_population "$backend" "$size" "$run"
    record import $tag seconds="$seconds" peak_rss_mib="$rss_mib"

    step "first daily run: a request to each of $size contacts"
    export PRIVACY_GUARD_NOW=2026-03-02T10:30:00Z
    timed "$bin" run-daily --period 2026-03-02
    local mails
    mails="$(find "$work/data/outbox" -name '*.eml' 2>/dev/null | wc -l)"
    record daily-run $tag seconds="$seconds" peak_rss_mib="$rss_mib" eml_files="$mails"

    step "check as a whole process (median of 21)"
    export PRIVACY_GUARD_NOW=2026-03-02T11:00:00Z
    local check_ms
    check_ms="$(python3 - "$bin" "$size" <<'EOF'
import statistics, subprocess, sys, time
binary, size = sys.argv[1], int(sys.argv[2])
times = []
for n in range(21):
    address = f"person{(n * 7919) % size}@example.org"
    started = time.perf_counter()
    subprocess.run([binary, "check", "--class", "marketing", "--purpose", "email-marketing", "--to", address],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append((time.perf_counter() - started) * 1000)
print(f"{statistics.median(times):.1f}")
EOF
)"
    timed "$bin" check --class marketing --purpose email-marketing --to person1@example.org
    record check $tag median_ms="$check_ms" peak_rss_mib="$rss_mib"

    step "serve: start, sweep, load"
    local made key digest
    made="$("$bin" api-key --name scale 2>/dev/null)"
    key="$(grep -o 'pgk_[0-9a-f]*' <<<"$made" | head -n 1)"
    digest="$(grep -o 'scale=sha256:[0-9a-f]*' <<<"$made" | head -n 1)"
    : >"$work/paths.txt"
    for n in $(seq 0 $((size / 100)) $((size - 1)) | head -n 100); do
        "$bin" link "contacts/$((n + 1))" 2>/dev/null | sed "s#^$url##" >>"$work/paths.txt"
    done
    local started
    started="$(date +%s.%N)"
    "$bin" serve --listen "127.0.0.1:$port" --api-key-digest "$digest" >"$work/serve.log" 2>&1 &
    server=$!
    until curl -sf "$url/health" >/dev/null; do
        kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
        sleep 0.05
    done
    local start_seconds
    start_seconds="$(python3 -c "import time; print(f'{time.time() - $started:.2f}')")"
    record serve-start $tag seconds="$start_seconds" rss_mib="$(rss_of "$server")"

    local sweep
    sweep="$("$load" --url "$url" --clients 4 --json sweep --key "$key" --addresses "$addresses" --recipients 1000)"
    record serve-sweep $tag rss_mib="$(rss_of "$server")" load="$sweep"
    local check_send page
    check_send="$("$load" --url "$url" --clients 32 --seconds "$load_seconds" --json check-send --key "$key" --addresses "$addresses" --recipients 100)"
    record http-check-send $tag rss_mib="$(rss_of "$server")" load="$check_send"
    page="$("$load" --url "$url" --clients 32 --seconds "$load_seconds" --json page --paths "$work/paths.txt")"
    record http-page $tag rss_mib="$(rss_of "$server")" load="$page"
    stop_server
    drop_database "$backend" "scale_${size}_$run"
    rm -rf "$work"
    work=""
}

# The data-protection officer's desk on a population that had its first daily run: one
# process per command, as an officer runs them.
measure_desk() {
    local backend=$1 size=$2 run=$3
    local csv addresses port url tag
    prepare_population "$backend" "$size" "$run"
    export PRIVACY_GUARD_NOW=2026-03-02T10:30:00Z PRIVACY_GUARD_ACTOR=scale
    "$bin" run-daily --period 2026-03-02 >/dev/null 2>>"$work/setup.log"
    "$bin" record-decision contacts/1 --consent email-marketing --grant \
        --evidence "a call on 2 March" >/dev/null 2>>"$work/setup.log"
    local events
    events="$("$bin" verify-events 2>/dev/null | grep -o '[0-9]* event(s)' | grep -o '[0-9]*' || true)"

    desk_step() {
        local name=$1
        shift
        timed "$@"
        record "desk-$name" $tag events="${events:-0}" seconds="$seconds" peak_rss_mib="$rss_mib"
    }
    desk_step report "$bin" report --json
    desk_step people-list "$bin" people list --consent email-marketing --value waiting --limit 100 --json
    desk_step register "$bin" register
    desk_step bulk-dry-run "$bin" bulk restrict --status active --module contacts --reason "a test" --dry-run
    step "100 rights requests opened, one process each"
    local started opened
    started="$(date +%s.%N)"
    for n in $(seq 1 100); do
        "$bin" case open "contacts/$n" --kind access >/dev/null 2>>"$work/setup.log"
    done
    opened="$(python3 -c "import time; print(f'{(time.time() - $started) * 10:.1f}')")"
    record desk-case-open $tag ms_per_case="$opened"
    export PRIVACY_GUARD_NOW=2026-03-30T10:30:00Z
    desk_step case-list "$bin" case list --due-soon --within 7d --json
    desk_step export "$bin" export contacts/1 --output "$work/export.json"
    desk_step checkpoint "$bin" checkpoint --output "$work/checkpoint.txt"
    desk_step verify-log "$bin" verify-log --checkpoint "$work/checkpoint.txt"
    desk_step verify-events "$bin" verify-events
    desk_step receipt "$bin" receipt contacts/1 --output "$work/receipt.jws"
    local key
    key="$("$bin" proof-key 2>/dev/null)"
    desk_step verify-receipt "$bin" verify-receipt "$work/receipt.jws" --key "$key"
    drop_database "$backend" "scale_${size}_$run"
    rm -rf "$work"
    work=""
}

# The retention schedules on a population that had its first daily run, everyone due.
measure_retention() {
    local backend=$1 size=$2 run=$3
    local csv addresses port url tag
    prepare_population "$backend" "$size" "$run"
    record import $tag seconds="$seconds" peak_rss_mib="$rss_mib"
    export PRIVACY_GUARD_NOW=2026-03-02T10:30:00Z PRIVACY_GUARD_ACTOR=scale
    step "first daily run: a request to each of $size contacts"
    timed "$bin" run-daily --period 2026-03-02
    record daily-run $tag seconds="$seconds" peak_rss_mib="$rss_mib"

    # The requests lapsed on 1 April (30 days); `unanswered` keeps people 90 days after the
    # last request or lapse, so on 1 September everyone is due.
    export PRIVACY_GUARD_NOW=2026-09-01T10:30:00Z
    step "retention dry run over $size people"
    timed "$bin" retention run --dry-run --json
    local counts due people
    counts="$(python3 - "$work/last.out" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))["summary"]
print(sum(summary["due"].values()), summary["people"])
EOF
)"
    read -r due people <<<"$counts"
    record retention-dry-run $tag seconds="$seconds" peak_rss_mib="$rss_mib" due="$due" people="$people"
    if [ "$due" != "$size" ]; then
        echo "the dry run finds $due of $size people due; expected everyone" >&2
        exit 1
    fi

    if [ "$size" -le "$erase_up_to" ]; then
        step "retention run: erasing $size people"
        timed "$bin" retention run
        local erased rate
        erased="$(retention_erased "$work/last.out")"
        rate="$(python3 -c "print(f'{$erased / max($seconds, 0.01):.0f}')")"
        record retention-run $tag seconds="$seconds" peak_rss_mib="$rss_mib" erased="$erased" erasures_per_second="$rate"
        if [ "$erased" != "$size" ]; then
            echo "the run erased $erased of $size people" >&2
            exit 1
        fi

        step "a second retention run (erases nobody)"
        timed "$bin" retention run
        erased="$(retention_erased "$work/last.out")"
        record retention-second-run $tag seconds="$seconds" peak_rss_mib="$rss_mib" erased="$erased"
        if [ "$erased" != 0 ]; then
            echo "the second run erased $erased people; expected nobody" >&2
            exit 1
        fi
    fi
    drop_database "$backend" "scale_${size}_$run"
    rm -rf "$work"
    work=""
}

# The number a `retention run`'s last line says it erased.
retention_erased() {
    sed -n 's/^retention at .*: \([0-9]*\) of [0-9]* people erased.*/\1/p' "$1" | tail -n 1 | grep . || {
        echo "no summary line in the retention run's output:" >&2
        tail -n 3 "$1" >&2
        exit 1
    }
}

case "$command" in
    retention)
        build
        for size in ${sizes//,/ }; do
            for backend in ${backends//,/ }; do
                for run in $(seq 1 "$runs"); do
                    measure_retention "$backend" "$size" "$run"
                done
            done
        done
        ;;
    desk)
        build
        for size in ${sizes//,/ }; do
            for backend in ${backends//,/ }; do
                for run in $(seq 1 "$runs"); do
                    measure_desk "$backend" "$size" "$run"
                done
            done
        done
        ;;
    contacts)
        build
        for size in ${sizes//,/ }; do
            for backend in ${backends//,/ }; do
                for run in $(seq 1 "$runs"); do
                    measure_contacts "$backend" "$size" "$run"
                done
            done
        done
        ;;
    batch)
        for size in ${sizes//,/ }; do
            for run in $(seq 1 "$runs"); do
                step "pre-send benchmark on $size contacts, run $run"
                PRIVACY_GUARD_BENCH_CONTACTS="$size" cargo bench --locked -p privacy-guard-tests --bench pre_send 2>&1 |
                    tee "$out/batch-$size-$run.txt" | grep -v '^\s*Compiling'
            done
        done
        ;;
    artifacts)
        build
        component="$(find target -path '*wasm32-wasip2/release/privacy_guard_plugin.wasm' -newer Cargo.lock -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2)"
        record artifacts host_binary_bytes="$(stat -c %s "$bin")" component="$component" \
            component_bytes="$(stat -c %s "$component")"
        ;;
    *)
        echo "usage: $0 contacts|desk|retention|batch|artifacts [options] (see the top of $0)" >&2
        exit 2
        ;;
esac
