#!/usr/bin/env python3
"""Runs every scenario of the conformance kit through two drivers in lockstep and compares
their WHOLE responses, not only what a scenario expects: the Node host must answer exactly
as the reference host, except for values made with its own link key (preferences tokens,
message ids, salted hashes), which are masked as long base64url or hex runs.

    python3 hosts/node/same-answers.py 'target/debug/privacy-guard conformance-driver' \
        'node hosts/node/driver.mjs'

Uses the kit's runner (conformance/run.py) for scenarios, includes and saved values. Exit
status 0 when every response is the same, 1 otherwise.
"""

import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ left in conformance/
KIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conformance")
sys.path.insert(0, KIT)
import run  # noqa: E402  (the kit's runner, found beside the scenarios)

KEYED = re.compile(r"[A-Za-z0-9_-]{20,}")


def masked(value):
    if isinstance(value, str):
        return KEYED.sub("<keyed>", value)
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    return value


def first_difference(reference, other):
    reference, other = json.dumps(reference, sort_keys=True), json.dumps(other, sort_keys=True)
    at = next((i for i, (a, b) in enumerate(zip(reference, other)) if a != b), min(len(reference), len(other)))
    return reference[max(0, at - 120):at + 120], other[max(0, at - 120):at + 120]


def main():
    commands = sys.argv[1:]
    if len(commands) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    hosts = [run.Host(command, 60.0, None) for command in commands]
    compared, differing = 0, 0
    try:
        for name in sorted(os.listdir(os.path.join(KIT, "scenarios"))):
            scenario = run.load(os.path.join(KIT, "scenarios", name))
            try:
                compared, differing = compare(hosts, commands, name, scenario, compared, differing)
            except (run.HostGone, run.StepFailed) as failure:
                differing += 1
                print(f"DIFFERS  {name[:-5]}: {failure}")
    finally:
        for host in hosts:
            host.stop()
    print(f"{compared} responses compared, {differing} differ")
    return 1 if differing else 0


def compare(hosts, commands, name, scenario, compared, differing):
    """Runs one scenario through both hosts, step by step; returns the counts."""
    saved = [dict(scenario.get("define", {})) for _ in hosts]
    last_sequence = [0 for _ in hosts]
    steps = [{"op": "reset", "now": scenario.get("now", "2026-12-01T09:00:00Z")}] + scenario["steps"]
    for number, step in enumerate(steps):
        responses = []
        for index, host in enumerate(hosts):
            request = run.substitute(run.request_of(step), saved[index])
            if request.get("op") == "events" and "after" not in request:
                request["after"] = last_sequence[index]
            response = host.ask(request)
            if request.get("op") == "events" and isinstance(response.get("ok"), list):
                for event in response["ok"]:
                    last_sequence[index] = max(last_sequence[index], event["sequence"])
            if "save" in step and "ok" in response:
                run.save(step["save"], response["ok"], saved[index])
            responses.append(masked(response))
        compared += 1
        if responses[0] != responses[1]:
            differing += 1
            reference, other = first_difference(*responses)
            print(f"DIFFERS  {name[:-5]} step {number}\n  {commands[0]}: …{reference}…\n  {commands[1]}: …{other}…")
    return compared, differing


if __name__ == "__main__":
    sys.exit(main())
