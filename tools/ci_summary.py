#!/usr/bin/env python3
"""Counts gtest cases from one or more `bazel test` runs and prints `N passed, N failed`.

Usage: ci_summary.py TARGETS_FILE BEP_JSON [TARGETS_FILE BEP_JSON ...]

One pair per `bazel test` run (e.g. plain and --config=asan): TARGETS_FILE lists
the test targets the run was asked for (from `bazel query`), BEP_JSON is its
--build_event_json_file.
A case counts as passed when it passed in every run, failed when it failed in any.
A test target with no result in a run (it failed to build, or the run stopped)
counts as one failed case, as does a target whose test.xml is missing.
Exit status: 0 when nothing failed, 1 otherwise.
"""

import json
import sys
import xml.etree.ElementTree as ET
from urllib.parse import urlparse, unquote


def results_of_run(bep_path):
    """Maps test target label -> list of test.xml paths from one BEP file."""
    results = {}
    with open(bep_path) as bep:
        for line in bep:
            event = json.loads(line)
            test_id = event.get("id", {}).get("testResult")
            if not test_id:
                continue
            xml_paths = [
                unquote(urlparse(out["uri"]).path)
                for out in event.get("testResult", {}).get("testActionOutput", [])
                if out.get("name") == "test.xml"
            ]
            results.setdefault(test_id["label"], []).extend(xml_paths)
    return results


def cases_of_xml(path):
    """Yields (case name, passed, skipped) for each testcase in a gtest/bazel XML."""
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        name = f'{case.get("classname", "")}.{case.get("name", "")}'
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.get("status") == "notrun" or case.get("result") == "skipped" \
            or case.find("skipped") is not None
        yield name, not failed, skipped


def main():
    if len(sys.argv) < 3 or len(sys.argv) % 2 != 1:
        print(__doc__, file=sys.stderr)
        return 2
    outcome = {}  # (target, case) -> "passed" | "failed" | "skipped"

    def record(key, result):
        if outcome.get(key) == "failed":
            return
        if result == "skipped" and outcome.get(key) == "passed":
            return
        outcome[key] = result

    for targets_path, bep_path in zip(sys.argv[1::2], sys.argv[2::2]):
        with open(targets_path) as f:
            targets = [t.strip() for t in f if t.strip()]
        results = results_of_run(bep_path)
        for target in targets:
            xml_paths = results.get(target, [])
            if not xml_paths:
                record((target, "<build or run>"), "failed")
                print(f"FAILED (no result): {target} in {bep_path}", file=sys.stderr)
                continue
            for xml_path in xml_paths:
                try:
                    cases = list(cases_of_xml(xml_path))
                except (OSError, ET.ParseError) as err:
                    cases = [("<test.xml>", False, False)]
                    print(f"FAILED (unreadable {xml_path}: {err}): {target}", file=sys.stderr)
                if not cases:
                    cases = [("<no test cases>", False, False)]
                for name, passed, skipped in cases:
                    if not passed:
                        print(f"FAILED: {target} {name} ({bep_path})", file=sys.stderr)
                    record((target, name), "skipped" if skipped and passed
                           else "passed" if passed else "failed")

    values = list(outcome.values())
    passed, failed, skipped = (values.count(v) for v in ("passed", "failed", "skipped"))
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
