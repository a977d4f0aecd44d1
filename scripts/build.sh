#!/usr/bin/env bash
# Configures and builds Berth into build/ (Ninja, ccache when present). Usage: scripts/build.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$root/build" -j2
