#!/usr/bin/env bash
# Checks the contract with wasm-tools (from the crates registry, pinned, installed into
# target/tools the first time: a debug build, ~2 CPU-minutes):
#
# 1. `component targets`: the component this host embeds implements the world of
#    wit/privacy-guard.wit exactly (its exports, and its imports of the contract), besides
#    the WASI interfaces Rust's standard library imports (which the host grants nothing
#    through);
# 2. `component semver-check`: the current WIT is a semver-compatible evolution of the
#    release before it, frozen in wit/released/ (when both are in the same compatible
#    line; a new minor version while 0.x is allowed to break, and says so in
#    wit/CHANGES.md); and a released version's WIT is still its frozen copy.
#
# Each check is also run once where it must fail (a component against the frozen, older
# world; a copy of the WIT with an export function added), so that a check that passes
# everything is noticed. (semver-check asks what the component model asks: does every
# component built for the released version still run with a host of the current one?
# Imports may grow and exports shrink; the reverse fails.)
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_TOOLS_VERSION=1.254.2
tools="$PWD/target/tools"
wasm_tools="$tools/bin/wasm-tools"
if ! "$wasm_tools" --version 2>/dev/null | grep -q "$WASM_TOOLS_VERSION"; then
    echo "installing wasm-tools $WASM_TOOLS_VERSION into $tools (once)" >&2
    # A debug build: it compiles on a third of the CPU time (1.8 against 5.2 minutes here)
    # and checks these few kilobytes of WIT as fast.
    cargo install wasm-tools --version "$WASM_TOOLS_VERSION" --locked --quiet --debug \
        --no-default-features --features component --root "$tools"
fi

version_of() { sed -n 's/^package privacy-guard:consent@\([0-9.]*\);$/\1/p' "$1"; }
current="$(version_of wit/privacy-guard.wit)"
# A released version never changes: once frozen, the WIT of that version is the frozen copy.
if [ -d "wit/released/$current" ]; then
    echo "==> $current is released: wit/privacy-guard.wit is its frozen copy"
    cmp -s wit/privacy-guard.wit "wit/released/$current/privacy-guard.wit" || {
        echo "wit/privacy-guard.wit differs from wit/released/$current, a released contract: raise the version (wit/CHANGES.md) to change it" >&2
        exit 1
    }
fi
# The release to check against: the newest one before the current version.
released="$(ls wit/released | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' | { cat; echo "$current"; } | sort -uV | grep -B1 -x "$current" | head -1)"
if [ "$released" = "$current" ]; then
    echo "no release before $current: nothing to check it against" >&2
    exit 1
fi
echo "contract $current; the release before it $released"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The component exactly as the host embeds it: packaged by the host, then unpacked.
cargo build --quiet --locked -p privacy-guard-host
host=target/debug/privacy-guard
"$host" --data-dir "$work/data" package keygen --out "$work/check.key" >/dev/null
"$host" --data-dir "$work/data" package build --key "$work/check.key" --out "$work/plugin.pgpkg" >/dev/null
tar -xOf "$work/plugin.pgpkg" component.wasm >"$work/plugin.wasm"


# One folder of WIT: the current and the released contract, the WASI interfaces the
# component imports (read from the component itself, at the versions it was built with),
# and worlds for the checks.
mkdir -p "$work/wit/deps/current" "$work/wit/deps/released" "$work/component"
cp wit/privacy-guard.wit "$work/wit/deps/current/"
cp "wit/released/$released/privacy-guard.wit" "$work/wit/deps/released/"
"$wasm_tools" component wit "$work/plugin.wasm" --out-dir "$work/component" >/dev/null
for file in "$work"/component/deps/*.wit; do
    grep -q '^package wasi:' "$file" && cp "$file" "$work/wit/deps/"
done
std_imports="$(grep -E '^\s*import wasi:' "$work/component/component.wit")"
# The world the reference component implements at a version: from 0.3.3 on
# `privacy-guard-safeguards` (the host's world plus the packed pre-send check and the
# safeguards), in 0.3.2 `privacy-guard-packed` (plus the packed pre-send check), before it
# `privacy-guard`.
plugin_world() {
    local wit=wit/privacy-guard.wit
    [ "$1" = "$current" ] || wit="wit/released/$1/privacy-guard.wit"
    if grep -q '^world privacy-guard-safeguards {' "$wit"; then
        echo privacy-guard-safeguards
    elif grep -q '^world privacy-guard-packed {' "$wit"; then
        echo privacy-guard-packed
    else
        echo privacy-guard
    fi
}
{
    echo "package privacy-guard:checks;"
    for version in "$current" "$released"; do
        echo "world plugin-${version//./-} {"
        echo "    include privacy-guard:consent/$(plugin_world "$version")@$version;"
        echo "$std_imports"
        echo "}"
    done
} >"$work/wit/checks.wit"

echo "==> the component implements privacy-guard:consent/$(plugin_world "$current")@$current"
"$wasm_tools" component targets "$work/wit" "$work/plugin.wasm" --world "plugin-${current//./-}"

echo "==> it does not implement the released $released (must fail)"
if "$wasm_tools" component targets "$work/wit" "$work/plugin.wasm" --world "plugin-${released//./-}" 2>/dev/null; then
    echo "component targets accepted the component against the older world $released: the check cannot fail" >&2
    exit 1
fi

same_line() { # the component model's compatible versions: same major, or same minor while 0.x
    local a b
    IFS=. read -r -a a <<<"$1"
    IFS=. read -r -a b <<<"$2"
    if [ "${a[0]}" = 0 ]; then [ "${b[0]}" = 0 ] && [ "${a[1]}" = "${b[1]}" ]; else [ "${a[0]}" = "${b[0]}" ]; fi
}
if same_line "$released" "$current"; then
    echo "==> $current is a semver-compatible evolution of the released $released"
    "$wasm_tools" component semver-check "$work/wit" \
        --prev "privacy-guard:consent/privacy-guard@$released" \
        --new "privacy-guard:consent/privacy-guard@$current"

    # A host of the new version calls every export: one added to `sending` is missing
    # from components built for the released version.
    echo "==> a copy with an export added to sending is not (must fail)"
    sed 's/^\(\s*\)render: func/\1ping: func();\n\1render: func/' wit/privacy-guard.wit \
        >"$work/wit/deps/current/privacy-guard.wit"
    grep -q 'ping: func();' "$work/wit/deps/current/privacy-guard.wit"
    if "$wasm_tools" component semver-check "$work/wit" \
        --prev "privacy-guard:consent/privacy-guard@$released" \
        --new "privacy-guard:consent/privacy-guard@$current" 2>/dev/null; then
        echo "semver-check accepted an export added: the check cannot fail" >&2
        exit 1
    fi
else
    echo "==> $current starts a new compatible line after $released: no semver check (see wit/CHANGES.md)"
fi
echo "contract checks passed"
