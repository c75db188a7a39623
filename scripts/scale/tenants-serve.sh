#!/usr/bin/env bash
# Measures `privacy-guard serve --config` with N tenants (issue 12, part 8): the time until
# /health answers, RSS, threads and open files right after start and once every tenant was
# checked by the scheduler and closed again, and the first call to a tenant nobody called.
#
#   scripts/scale/tenants-serve.sh 10000 [DATA_DIR]
#
# Each tenant has one API key (`pgk_scale_<i>`) and its own SQLite file under
# DATA_DIR/tenants/t<i>/ (made on the tenant's first use). Run it twice on the same DATA_DIR
# to measure a host whose tenants' files exist already. Needs the release binary
# (`cargo build --release -p privacy-guard-host`), curl and python3.
set -euo pipefail
count=${1:?usage: tenants-serve.sh TENANTS [DATA_DIR]}
data=${2:-$(mktemp -d)}
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=${PRIVACY_GUARD_BINARY:-$root/target/release/privacy-guard}
mkdir -p "$data"
config=$data/tenants.toml
[ -f "$config" ] || python3 "$root/scripts/scale/tenants-config.py" "$count" "$config"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$data/serve.log
url=http://127.0.0.1:$port

sample() { # what the process holds now
    local pid=$1 what=$2
    printf '%-28s RSS %7s KiB  threads %5s  open files %6s  CPU %6s s\n' "$what" \
        "$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)" \
        "$(awk '/^Threads/ {print $2}' /proc/$pid/status)" \
        "$(ls /proc/$pid/fd | wc -l)" \
        "$(awk -v ticks="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / ticks}' /proc/$pid/stat)"
}
first_call() { # the first call of tenant $1: GET /api/v1/settings with its key
    curl -s -o /dev/null -w "first call of t$1: HTTP %{http_code} in %{time_total} s\n" \
        -H "Authorization: Bearer pgk_scale_$1" "$url/api/v1/settings"
}

started=$(date +%s.%N)
RUST_LOG=${RUST_LOG:-info} "$binary" --data-dir "$data" --config "$config" serve --listen "127.0.0.1:$port" 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
until curl -sf -o /dev/null "$url/health"; do
    kill -0 $pid 2>/dev/null || { echo "the server stopped; its log:" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.02
done
echo "tenants $count: /health answered after $(python3 -c "import time; print(f'{time.time() - $started:.2f}')") s"
sample $pid "after start"
first_call $((count - 1))
# The scheduler's first check and the delivery worker's first pass open and close every
# tenant: wait until no tenant was opened for five seconds.
opened=0
while :; do
    sleep 5
    now_opened=$(grep -c 'tenant opened' "$log" || true)
    [ "$now_opened" -ge "$count" ] && [ "$now_opened" -eq "$opened" ] && break
    opened=$now_opened
done
echo "every tenant checked after $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s"
# Tenants the first call opened stay open two minutes after it (IDLE_TENANT); connections
# close after 15 s unused.
sleep "${IDLE_SECONDS:-20}"
sample $pid "idle, all checked"
first_call $((count / 2))
sample $pid "after the idle call"
