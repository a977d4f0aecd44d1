#!/usr/bin/env python3
"""Compose conformance: every file of Compose's own test fixtures through `berth config`.

usage: compose_conformance.py BERTH [FIXTURES_DIR] [--floor N] [--verbose]

FIXTURES_DIR (default $BERTH_COMPOSE_FIXTURES, else ../shared/compose-fixtures beside the
repository) holds the files and expected.tsv, which says what docker-compose 1.29 makes of
each: valid or invalid. Prints how many valid files Berth accepts (the figure issue 11 asks
for), how many invalid ones it refuses, and the most common reasons for refusing valid
files. Fails when fewer than --floor valid files are accepted (a regression), or when a
file makes berth crash (a signal) or hang. Exits 77 (ctest: skipped) when the fixtures are
not on this machine.
"""
import collections
import os
import re
import subprocess
import sys


# What genuinely cannot work, each refused with this reason (docs/blueprints.md lists them):
# a valid file refused for one of these counts apart, not as a failure to accept.
CANNOT_WORK = [
    (r"this is the Compose v1 format",
     "the v1 format (services at the top level): Compose v2 and the Compose Specification dropped it"),
]


def reason(stderr):
    """The first error of a refusal, with the file's own names and values taken out."""
    for line in stderr.splitlines():
        m = re.search(r"error: (.*)", line)
        if not m:
            continue
        r = m.group(1)
        r = re.sub(r"^services\.[^.:\s]+\.", "services.*.", r)
        r = re.sub(r"'[^']*'", "'…'", r)
        r = re.sub(r"\d+", "N", r)
        return r[:110]
    return (stderr.strip().splitlines() or ["(no message)"])[-1][:110]


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    floor = 0
    if "--floor" in argv:
        floor = int(argv[argv.index("--floor") + 1])
        args = [a for a in args if a != str(floor)]
    verbose = "--verbose" in argv
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    berth = os.path.abspath(args[0])
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = args[1] if len(args) > 1 else os.environ.get(
        "BERTH_COMPOSE_FIXTURES", os.path.join(here, "..", "..", "shared", "compose-fixtures"))
    table = os.path.join(fixtures, "expected.tsv")
    if not os.path.exists(table):
        print("SKIPPED: no Compose fixtures at %s (set BERTH_COMPOSE_FIXTURES)" % fixtures)
        return 77
    rows = []
    with open(table) as f:
        for line in f.read().splitlines()[1:]:
            if line.strip():
                path, verdict = line.split("\t")[:2]
                rows.append((path, verdict))
    counts = collections.Counter()
    reasons = collections.Counter()
    examples = {}
    broken = []
    env = dict(os.environ)
    env.pop("COMPOSE_PROFILES", None)
    for path, verdict in rows:
        full = os.path.join(fixtures, path)
        try:
            p = subprocess.run([berth, "config", "-q", "-p", "conformance", full], cwd=os.path.dirname(full),
                               capture_output=True, text=True, timeout=30, env=env)
        except subprocess.TimeoutExpired:
            broken.append("%s: berth config did not finish in 30 s" % path)
            continue
        if p.returncode < 0 or p.returncode > 2:
            broken.append("%s: exit %d\n%s" % (path, p.returncode, p.stderr[-500:]))
            continue
        accepted = p.returncode == 0
        counts[(verdict, accepted)] += 1
        if verdict == "valid" and not accepted:
            why = [c for c in CANNOT_WORK if re.search(c[0], p.stderr)]
            if why:
                counts["cannot-work"] += 1
                counts[("valid", False)] -= 1
                continue
            r = reason(p.stderr)
            reasons[r] += 1
            examples.setdefault(r, path)
            if verbose:
                print("refused %s: %s" % (path, p.stderr.strip().splitlines()[-1:]))
    valid = counts[("valid", True)] + counts[("valid", False)]
    invalid = counts[("invalid", True)] + counts[("invalid", False)]
    print("valid files accepted: %d of %d (%.1f%%), not counting %d refused as cannot-work:" %
          (counts[("valid", True)], valid, 100.0 * counts[("valid", True)] / max(valid, 1),
           counts["cannot-work"]))
    for _, why in CANNOT_WORK:
        print("  cannot work: " + why)
    print("invalid files refused: %d of %d (the rest are valid under the newer Compose "
          "Specification or not checked by Berth)" % (counts[("invalid", False)], invalid))
    print("why valid files are refused (files, first error, an example):")
    for r, n in reasons.most_common(25):
        print("  %4d  %s   [%s]" % (n, r, examples[r]))
    for b in broken:
        print("BROKEN: " + b)
    if broken:
        print("FAIL: %d file(s) crashed or hung berth config" % len(broken))
        return 1
    if counts[("valid", True)] < floor:
        print("FAIL: %d valid files accepted, fewer than the floor of %d (a regression)" %
              (counts[("valid", True)], floor))
        return 1
    print("ok: at least the floor of %d" % floor)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
