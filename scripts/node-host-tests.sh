#!/usr/bin/env bash
# Runs the conformance kit against the second host, in Node.js (hosts/node/), loading the
# very component the reference host embeds. Installs what is missing, each step only when
# needed, so running it again changes nothing:
#
#   - Debian's nodejs and npm, when node or npm is missing (apt-get; needs root);
#   - the npm packages of hosts/node (npm ci from package-lock.json: jco 1.35.0 and
#     preview2-shim), when node_modules is missing or was installed from another lock;
#   - the host binary (cargo build -p privacy-guard-host), which embeds the component.
#
# The component is taken from the host binary itself: `privacy-guard package build` packs
# the embedded component with a manifest holding its sha256; the script unpacks it, checks
# the bytes against that hash, transpiles exactly those bytes with jco and records the hash
# beside the transpilation (hosts/node/out/component.sha256), transpiling again only when
# the hash changed. Then the kit runs against the Node host, and every scenario's requests
# go to both hosts in lockstep to compare their whole responses (hosts/node/same-answers.py).
# Exits non-zero when any scenario fails or any response differs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

source scripts/node-packages.sh
require_node "the Node host and its tests"
npm_packages hosts/node

step "building the host (cargo build -p privacy-guard-host)"
cargo build -p privacy-guard-host --locked
target_dir="${CARGO_TARGET_DIR:-target}"
host_bin="$target_dir/debug/privacy-guard"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

step "the component the host embeds (privacy-guard package build, unpacked)"
# A throw-away signing key: the package is only a way to get the embedded bytes out,
# with the host's own sha256 of them in the manifest.
"$host_bin" package keygen --out "$scratch/key" >/dev/null
"$host_bin" package build --key "$scratch/key" --out "$scratch/component.pgpkg"
tar -xf "$scratch/component.pgpkg" -C "$scratch" manifest.json component.wasm
embedded="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["component"]["sha256"])' "$scratch/manifest.json")"
unpacked="$(sha256sum "$scratch/component.wasm" | cut -d' ' -f1)"
if [ "$unpacked" != "$embedded" ]; then
    echo "the unpacked component ($unpacked) is not the one the host embeds ($embedded)" >&2
    exit 1
fi
echo "the reference host embeds component sha256 $embedded"

step "transpiling the component with jco (only when its sha256 changed)"
mkdir -p hosts/node/component
if [ -f hosts/node/out/component.sha256 ] && [ "$(cat hosts/node/out/component.sha256)" = "$embedded" ] \
    && cmp -s "$scratch/component.wasm" hosts/node/component/component.wasm; then
    echo "up to date"
else
    cp "$scratch/component.wasm" hosts/node/component/component.wasm
    rm -rf hosts/node/out
    (cd hosts/node && npx --no-install jco transpile component/component.wasm -o out --instantiation async --quiet)
    echo "$embedded" > hosts/node/out/component.sha256
fi
transpiled="$(sha256sum hosts/node/component/component.wasm | cut -d' ' -f1)"
if [ "$transpiled" != "$embedded" ] || [ "$(cat hosts/node/out/component.sha256)" != "$embedded" ]; then
    echo "the transpiled component ($transpiled) is not the one the host embeds ($embedded)" >&2
    exit 1
fi
echo "the Node host runs component sha256 $transpiled, the reference host's"

step "the conformance kit against the Node host (node hosts/node/driver.mjs)"
status=0
python3 conformance/run.py --host "node hosts/node/driver.mjs" --host-log "$scratch/node-host.log" || status=$?
if [ "$status" -ne 0 ]; then
    echo "the Node host's log (its standard error), last lines:" >&2
    tail -n 40 "$scratch/node-host.log" >&2
else
    step "the same answers: every response of every scenario, the Node host's beside the reference driver's"
    python3 hosts/node/same-answers.py "$host_bin conformance-driver" "node hosts/node/driver.mjs" || status=$?
fi
echo "node host tests: exit $status after $((SECONDS - started)) s"
exit "$status"
