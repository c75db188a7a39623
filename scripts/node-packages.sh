# Node.js and a folder's npm packages, for the scripts that run JavaScript (browser-tests.sh,
# node-host-tests.sh). Sourced, not run; needs `step` from the caller.
#
#   source scripts/node-packages.sh
#   require_node "the browser tests"   # Node.js 20 or later and npm; Debian's packages
#                                      # when both are missing (as root)
#   npm_packages tests/browser         # `npm ci` when node_modules is missing or was
#                                      # installed from another package-lock.json

require_node() {
    local who="$1"
    step "Node.js (20 or later) and npm (Debian's packages; installed only when missing)"
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "node and npm are missing: install Debian's nodejs and npm packages as root (apt-get install nodejs npm)" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q nodejs npm || { apt-get update -q && apt-get install -y -q nodejs npm; }
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$major" -lt 20 ]; then
        # Debian 12's own nodejs is 18: a machine of this project carries NodeSource's 20.
        echo "Node.js $(node --version) is too old: $who need 20 or later (Debian 12's nodejs package is 18)" >&2
        exit 1
    fi
    echo "node $(node --version), npm $(npm --version)"
}

npm_packages() {
    local folder="$1"
    step "npm packages of $folder (npm ci; only when missing or stale)"
    # The stamp records what node_modules was installed from.
    local stamp="$folder/node_modules/.installed-from.sha256" wanted
    wanted="$(cat "$folder/package.json" "$folder/package-lock.json" | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        echo "up to date"
    else
        # --ignore-scripts: no package's install script runs (none is needed, and none may
        # download a browser).
        (cd "$folder" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund)
        echo "$wanted" > "$stamp"
    fi
}
