#!/usr/bin/env python3
"""Score a verbose iscsi-test-cu log (CUnit verbose mode, optionally with -V SCSI logging).

Prints one summary line:  tests=N clean_pass=N skipped=N failed=N
With -v, also prints "FAIL Suite.Test" / "SKIP Suite.Test" lines first.
A test counts as:
  clean_pass  CUnit reported "passed" and the test printed no [SKIPPED] line;
  skipped     CUnit reported "passed" but the test printed [SKIPPED] (libiscsi's way to skip);
  failed      CUnit reported FAILED, or never reported a result (crash, hang, lost connection).
CUnit writes its verdict right after the test's own output, so "passed"/"FAILED" starts a line
(or ends the "  Test: X ..." line); -V logging of the next test may follow on the same line.
Exit status: 0 when failed == 0 and tests > 0, else 1.
"""
import re
import sys

TEST_RE = re.compile(r"^  Test: (.*?) \.\.\.(.*)$")
SUITE_RE = re.compile(r"^Suite: (\S+)")
VERDICT_RE = re.compile(r"^\s*(passed|FAILED)\b")


def score(text):
    results = {}  # "Suite.Test" -> {"skip": bool, "status": None|"passed"|"failed"}
    order = []
    suite, current = "?", None
    for line in text.splitlines():
        m = SUITE_RE.match(line)
        if m:
            suite, current = m.group(1), None
            continue
        m = TEST_RE.match(line)
        if m:
            current = f"{suite}.{m.group(1)}"
            if current not in results:
                order.append(current)
            results[current] = {"skip": False, "status": None}
            line = m.group(2)
        if current is None:
            continue
        entry = results[current]
        if "[SKIPPED]" in line:
            entry["skip"] = True
        if entry["status"] is None:
            v = VERDICT_RE.match(line)
            if v:
                entry["status"] = "passed" if v.group(1) == "passed" else "failed"
    clean = [t for t in order if results[t]["status"] == "passed" and not results[t]["skip"]]
    skipped = [t for t in order if results[t]["status"] == "passed" and results[t]["skip"]]
    failed = [t for t in order if results[t]["status"] != "passed"]
    return order, clean, skipped, failed


def main(argv):
    paths = [a for a in argv[1:] if not a.startswith("-")]
    verbose = "-v" in argv[1:]
    if len(paths) != 1:
        print("usage: cu-score.py LOG [-v]", file=sys.stderr)
        return 2
    with open(paths[0], errors="replace") as f:
        order, clean, skipped, failed = score(f.read())
    if verbose:
        for t in failed:
            print("FAIL", t)
        for t in skipped:
            print("SKIP", t)
    print(f"tests={len(order)} clean_pass={len(clean)} skipped={len(skipped)} failed={len(failed)}")
    return 0 if order and not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
