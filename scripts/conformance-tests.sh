#!/usr/bin/env bash
# Runs the conformance kit (conformance/) against the reference host's driver, and proves
# the runner can fail: a copy of a scenario with one expectation made wrong must fail it.
# Exits non-zero when any scenario fails or when the wrong one passes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "building the host (cargo build -p privacy-guard-host)"
cargo build -p privacy-guard-host --locked
driver="target/debug/privacy-guard conformance-driver"
log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

step "the conformance kit against the reference driver"
python3 conformance/run.py --host "$driver" --host-log "$log/host.log"

step "the runner fails on a wrong expectation"
mkdir -p "$log/wrong/scenarios"
cp -r conformance/fixtures "$log/wrong/fixtures"
python3 - "$log/wrong/scenarios/wrong.json" <<'PY'
import json, sys
scenario = json.load(open("conformance/scenarios/decision-marketing-unknown-recipient.json"))
step = scenario["steps"][-1]
assert step["expect"] == [{"tag": "refuse", "val": {"reason": "unknown-recipient"}}], step
step["expect"][0]["val"]["reason"] = "consent-refused"
json.dump(scenario, open(sys.argv[1], "w"))
PY
if python3 conformance/run.py --host "$driver" --scenarios "$log/wrong/scenarios" --json >"$log/wrong.json"; then
    echo "the runner passed a scenario whose expectation is wrong" >&2
    exit 1
fi
python3 - "$log/wrong.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
failure = report["scenarios"][0].get("failure", "")
assert report["failed"] == 1 and '"consent-refused"' in failure and '"unknown-recipient"' in failure, report
print("the wrong scenario failed as it must:", failure)
PY
