#!/usr/bin/env python3
"""The Privacy Guard conformance kit's runner: drives every scenario (or those named)
through a host's driver command over the JSON-lines protocol of conformance/README.md.

    python3 conformance/run.py --host 'privacy-guard conformance-driver'
    python3 conformance/run.py --host '...' erasure-of-a-person --json

Python 3 standard library only. Exit status 0 when every scenario passed, 1 when one
failed, 2 when the kit could not run (no host, unreadable scenario).
"""

import argparse
import json
import os
import queue
import re
import shlex
import subprocess
import sys
import threading
import time

CONTRACT = "privacy-guard:consent@0.3.2"
HERE = os.path.dirname(os.path.abspath(__file__))
OPERATORS = {"contains", "not-contains", "regex", "includes", "excludes", "length", "json", "absent"}
STEP_KEYS = {"note", "expect", "expect-response", "save", "call", "args"}


class StepFailed(Exception):
    """A step's response was not what the scenario expects."""


class HostGone(Exception):
    """The driver command exited or stopped answering."""


# ---- the host ---------------------------------------------------------------------------


class Host:
    """The driver command, one request a line on its stdin, one response a line back."""

    def __init__(self, command, timeout, log):
        self.command = command
        self.timeout = timeout
        self.log = log
        self.process = None
        self.lines = None

    def start(self):
        try:
            self.process = subprocess.Popen(
                shlex.split(self.command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log if self.log else subprocess.DEVNULL,
                text=True,
                bufsize=1,
            )
        except OSError as error:
            raise HostGone(f"cannot start the host: {error}")
        self.lines = queue.Queue()
        reader = threading.Thread(target=self._read, args=(self.process, self.lines), daemon=True)
        reader.start()

    @staticmethod
    def _read(process, lines):
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def ask(self, request):
        if self.process is None or self.process.poll() is not None:
            self.start()
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            self.stop()
            raise HostGone(f"the host's stdin closed ({error})")
        try:
            line = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            self.stop()
            raise HostGone(f"no response within {self.timeout} s")
        if line is None:
            code = self.process.wait()
            self.process = None
            raise HostGone(f"the host exited with status {code}")
        try:
            response = json.loads(line)
        except json.JSONDecodeError:
            raise StepFailed(f"the response is not JSON: {line.strip()[:200]}")
        if not isinstance(response, dict) or len(response.keys() & {"ok", "error", "fault"}) != 1:
            raise StepFailed(f"a response has exactly one of ok, error, fault: {line.strip()[:200]}")
        return response

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


# ---- values: substitution, matching, saving ---------------------------------------------

INTERPOLATION = re.compile(r"\$\{([A-Za-z0-9_-]+)\}")


def substitute(value, saved):
    """`"$name"` becomes the saved value; `${name}` inside a string its text."""
    if isinstance(value, str):
        if value.startswith("$") and value[1:] in saved:
            return saved[value[1:]]
        if value.startswith("$$"):
            return value[1:]

        def text(match):
            if match.group(1) not in saved:
                raise StepFailed(f"nothing saved as `{match.group(1)}`")
            found = saved[match.group(1)]
            return found if isinstance(found, str) else json.dumps(found)

        return INTERPOLATION.sub(text, value)
    if isinstance(value, list):
        return [substitute(item, saved) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, saved) for key, item in value.items()}
    return value


def show(value):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "…"


def match(expected, actual, at="$"):
    """Raises StepFailed naming the first place where `actual` is not what `expected` says."""
    if isinstance(expected, dict) and expected and expected.keys() <= OPERATORS:
        for operator, operand in expected.items():
            match_operator(operator, operand, actual, at)
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise StepFailed(f"at {at}: expected an object, got {show(actual)}")
        for key, value in expected.items():
            if isinstance(value, dict) and value.get("absent") is True and len(value) == 1:
                if key in actual and actual[key] is not None:
                    raise StepFailed(f"at {at}.{key}: expected nothing, got {show(actual[key])}")
                continue
            if key not in actual:
                raise StepFailed(f"at {at}: no `{key}` in {show(actual)}")
            match(value, actual[key], f"{at}.{key}")
        return
    if isinstance(expected, list):
        if not isinstance(actual, list):
            raise StepFailed(f"at {at}: expected a list, got {show(actual)}")
        if len(expected) != len(actual):
            raise StepFailed(f"at {at}: expected {len(expected)} items, got {len(actual)}: {show(actual)}")
        for index, (item, value) in enumerate(zip(expected, actual)):
            match(item, value, f"{at}[{index}]")
        return
    if type(expected) is bool or type(actual) is bool:
        same = type(expected) is type(actual) and expected == actual
    else:
        same = expected == actual
    if not same:
        raise StepFailed(f"at {at}: expected {show(expected)}, got {show(actual)}")


def matches(expected, actual):
    try:
        match(expected, actual)
        return True
    except StepFailed:
        return False


def match_operator(operator, operand, actual, at):
    if operator in ("contains", "not-contains", "regex"):
        if not isinstance(actual, str):
            raise StepFailed(f"at {at}: expected a string, got {show(actual)}")
        found = operand in actual if operator != "regex" else re.search(operand, actual) is not None
        if found != (operator != "not-contains"):
            verb = {"contains": "containing", "not-contains": "not containing", "regex": "matching"}[operator]
            raise StepFailed(f"at {at}: expected a string {verb} {show(operand)}, got {show(actual)}")
    elif operator in ("includes", "excludes"):
        if not isinstance(actual, list):
            raise StepFailed(f"at {at}: expected a list, got {show(actual)}")
        for wanted in operand:
            present = any(matches(wanted, item) for item in actual)
            if present != (operator == "includes"):
                state = "no item matching" if operator == "includes" else "an item matching"
                raise StepFailed(f"at {at}: {state} {show(wanted)} in {show(actual)}")
    elif operator == "length":
        if not isinstance(actual, (list, str)) or len(actual) != operand:
            raise StepFailed(f"at {at}: expected length {operand}, got {show(actual)}")
    elif operator == "json":
        try:
            parsed = json.loads(actual) if isinstance(actual, str) else None
        except json.JSONDecodeError:
            parsed = None
        if parsed is None:
            raise StepFailed(f"at {at}: expected JSON text, got {show(actual)}")
        match(operand, parsed, f"{at}(json)")
    elif operator == "absent":
        if operand is True and actual is not None:
            raise StepFailed(f"at {at}: expected nothing, got {show(actual)}")


def at_path(value, path):
    """`a.b[0].c` (or `a.b.0.c`) inside `value`; a string that is JSON text is entered."""
    for part in [part for part in re.split(r"\.|\[(\d+)\]", path) if part]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise StepFailed(f"cannot enter `{part}` of a string ({path})")
        if isinstance(value, list) and re.fullmatch(r"-?\d+", part) and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise StepFailed(f"nothing at `{path}` (stopped at `{part}`) in {show(value)}")
    return value


def save(rules, value, saved):
    for name, rule in rules.items():
        if isinstance(rule, str):
            rule = {"path": rule}
        found = at_path(value, rule.get("path", ""))
        if "regex" in rule:
            text = found if isinstance(found, str) else json.dumps(found)
            hit = re.search(rule["regex"], text)
            if hit is None:
                raise StepFailed(f"cannot save `{name}`: {show(rule['regex'])} does not match {show(text)}")
            found = hit.group(1) if hit.groups() else hit.group(0)
        saved[name] = found


# ---- scenarios --------------------------------------------------------------------------


def load(path, seen=()):
    """A scenario with its includes expanded (an include's `define` and `steps` first)."""
    with open(path, encoding="utf-8") as file:
        scenario = json.load(file)
    defines, steps = {}, []
    for step in scenario.get("steps", []):
        if isinstance(step, dict) and set(step) == {"include"}:
            included_path = os.path.join(os.path.dirname(path), step["include"])
            if included_path in seen:
                raise ValueError(f"{path}: includes {step['include']} in a circle")
            included = load(included_path, seen + (path,))
            defines.update(included.get("define", {}))
            steps.extend(included["steps"])
        else:
            steps.append(step)
    defines.update(scenario.get("define", {}))
    scenario["define"], scenario["steps"] = defines, steps
    return scenario


def request_of(step):
    if "call" in step:
        return {"op": "call", "function": step["call"], "args": step.get("args", [])}
    if "op" not in step:
        raise StepFailed("a step needs `op` or `call`")
    return {key: value for key, value in step.items() if key not in STEP_KEYS}


def describe(request):
    if request.get("op") == "call":
        return f"call {request.get('function')}"
    return str(request.get("op"))


def compatible(contract):
    """Whether a scenario written for `contract` holds for the kit's: the same package, and
    a version the component model calls compatible (the same minor while 0.x, else the same
    major) and not newer."""
    try:
        package, version = contract.split("@")
        theirs = tuple(int(part) for part in version.split("."))
    except (AttributeError, ValueError):
        return False
    our_package, our_version = CONTRACT.split("@")
    ours = tuple(int(part) for part in our_version.split("."))
    same_line = theirs[:2] == ours[:2] if ours[0] == 0 else theirs[0] == ours[0]
    return package == our_package and same_line and theirs <= ours


def run_scenario(host, scenario):
    if not compatible(scenario.get("contract")):
        raise StepFailed(f"the scenario is for {scenario.get('contract')!r}; this kit runs {CONTRACT}")
    saved = dict(scenario.get("define", {}))
    saved = {name: substitute(value, saved) for name, value in saved.items()}
    last_sequence = 0
    steps = [{"op": "reset", "now": scenario.get("now", "2026-12-01T09:00:00Z")}] + scenario["steps"]
    for number, step in enumerate(steps):
        label = f"step {number}"
        try:
            request = substitute(request_of(step), saved)
            if request.get("op") == "events" and "after" not in request:
                request["after"] = last_sequence
            label = f"step {number} ({describe(request)}{': ' + step['note'] if 'note' in step else ''})"
            response = host.ask(request)
            if "expect-response" in step:
                match(substitute(step["expect-response"], saved), response)
            elif "ok" not in response:
                raise StepFailed(f"expected an answer, got {show(response)}")
            if "expect" in step:
                if "ok" not in response:
                    raise StepFailed(f"expected an answer, got {show(response)}")
                match(substitute(step["expect"], saved), response["ok"])
            if request.get("op") == "events" and isinstance(response.get("ok"), list):
                for event in response["ok"]:
                    if isinstance(event, dict) and isinstance(event.get("sequence"), int):
                        last_sequence = max(last_sequence, event["sequence"])
            if "save" in step:
                save(step["save"], response.get("ok"), saved)
        except StepFailed as failure:
            raise StepFailed(f"{label}: {failure}")
        except HostGone as gone:
            raise StepFailed(f"{label}: {gone}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True, help="the driver command, e.g. 'privacy-guard conformance-driver'")
    parser.add_argument("--scenarios", default=os.path.join(HERE, "scenarios"), help="the folder of scenario files")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    parser.add_argument("--host-log", help="a file for the host's standard error (discarded without it)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one response")
    parser.add_argument("names", nargs="*", help="scenarios to run (file names without .json); all when none")
    arguments = parser.parse_args()

    try:
        files = sorted(name for name in os.listdir(arguments.scenarios) if name.endswith(".json"))
    except OSError as error:
        print(f"cannot read the scenarios: {error}", file=sys.stderr)
        return 2
    chosen = [name for name in files if not arguments.names or name[:-5] in arguments.names]
    unknown = set(arguments.names) - {name[:-5] for name in files}
    if unknown:
        print(f"no such scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2

    log = open(arguments.host_log, "a", encoding="utf-8") if arguments.host_log else None
    host = Host(arguments.host, arguments.timeout, log)
    started = time.monotonic()
    results = []
    try:
        for name in chosen:
            began = time.monotonic()
            outcome = {"scenario": name[:-5]}
            try:
                scenario = load(os.path.join(arguments.scenarios, name))
                outcome["name"] = scenario.get("name", name[:-5])
                run_scenario(host, scenario)
                outcome["passed"] = True
            except StepFailed as failure:
                outcome.update(passed=False, failure=str(failure))
            except (OSError, ValueError) as error:
                outcome.update(passed=False, failure=f"unreadable scenario: {error}")
            outcome["seconds"] = round(time.monotonic() - began, 3)
            results.append(outcome)
            if not arguments.json:
                verdict = "pass" if outcome["passed"] else "FAIL"
                line = f"{verdict}  {outcome['scenario']}  ({outcome['seconds']:.2f} s)"
                if not outcome["passed"]:
                    line += f"\n      {outcome['failure']}"
                print(line, flush=True)
    finally:
        host.stop()
    elapsed = round(time.monotonic() - started, 2)
    failed = [result for result in results if not result["passed"]]
    if arguments.json:
        print(json.dumps({"contract": CONTRACT, "seconds": elapsed, "passed": len(results) - len(failed),
                          "failed": len(failed), "scenarios": results}, indent=2))
    else:
        print(f"{len(results) - len(failed)} passed, {len(failed)} failed, {len(results)} scenarios in {elapsed} s ({CONTRACT})")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
