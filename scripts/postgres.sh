#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the test suite, without Docker.
#
#   scripts/postgres.sh install     install PostgreSQL unless a server is installed
#   scripts/postgres.sh start DIR   initialise a cluster in DIR (an empty folder) and start it
#   scripts/postgres.sh stop DIR    stop the cluster in DIR (and do nothing if none runs)
#   scripts/postgres.sh url         the URL tests connect to
#
# The server listens on 127.0.0.1 at PRIVACY_GUARD_POSTGRES_PORT (default 54329), trusts
# local connections, and keeps nothing durable (fsync off): it exists for one test run.
# Run as root, the server runs as the `postgres` user, and Debian's `postgresql` package is
# installed when no PostgreSQL is found; run as another user, PostgreSQL must be installed.
set -euo pipefail

PORT="${PRIVACY_GUARD_POSTGRES_PORT:-54329}"

usage() {
    echo "usage: $0 install | start DIR | stop DIR | url" >&2
    exit 2
}

url() { echo "postgres://postgres@127.0.0.1:$PORT/postgres"; }

# The newest installed server's bin folder, empty when there is none.
server_bin() {
    { ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true; } | sort -V | tail -n 1
}

# Runs a command line as the user owning the cluster.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -c "$1"
    else
        bash -c "$1"
    fi
}

install_server() {
    if [ -n "$(server_bin)" ]; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin): install the postgresql package, or run this as root to have it installed" >&2
        exit 1
    fi
    echo "installing PostgreSQL (apt-get install postgresql)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    if [ -z "$(server_bin)" ]; then
        echo "apt-get installed postgresql, but no /usr/lib/postgresql/*/bin exists" >&2
        exit 1
    fi
}

start() {
    local dir="$1"
    install_server
    local bin
    bin="$(server_bin)"
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "port $PORT on 127.0.0.1 is in use: stop what listens there, or choose another port with PRIVACY_GUARD_POSTGRES_PORT" >&2
        exit 1
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
    fi
    # A linguistic default collation (ICU, English), as most production clusters have: the
    # schema must not depend on the cluster's collation for the order of keys.
    as_owner "cd '$dir' && '$bin/initdb' -D '$dir/data' -A trust -U postgres --no-instructions --encoding=UTF8 --locale=C.UTF-8 --locale-provider=icu --icu-locale=en-US >'$dir/initdb.log' 2>&1" || {
        echo "initdb failed; its output:" >&2
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # Durability is pointless for a cluster that lives for one test run; skipping it keeps
    # the many CREATE DATABASE of the tests fast.
    local options="-p $PORT -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_owner "cd '$dir' && '$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 start -o '$options' >/dev/null" || {
        echo "PostgreSQL did not start; its log:" >&2
        cat "$dir/server.log" >&2
        exit 1
    }
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') runs at $(url) (data in $dir)" >&2
}

stop() {
    local dir="$1"
    if [ ! -f "$dir/data/postmaster.pid" ]; then
        return
    fi
    local bin
    bin="$(server_bin)"
    as_owner "cd '$dir' && '$bin/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null"
}

case "${1:-}" in
    install) [ $# = 1 ] || usage; install_server ;;
    start) [ $# = 2 ] || usage; start "$2" ;;
    stop) [ $# = 2 ] || usage; stop "$2" ;;
    url) [ $# = 1 ] || usage; url ;;
    *) usage ;;
esac
