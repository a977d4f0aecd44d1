#!/usr/bin/env bash
# The whole test suite: installs packages, builds, runs every ctest test (unit tests, crash
# tests, kill -9 tests, bad-input tests, Docker adapter tests against a private dockerd that
# the tests start and stop themselves). Exit status is ctest's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure --timeout 1200 -j1
