#!/usr/bin/env bash
# The cloud-wide image cache (issue 9), on 3 `local` hosts that Berth provisions; prints JSON.
#
# A service whose x-berth.install burns 3 s of CPU (a shell loop calibrated on this
# machine), deployed with 1 replica, then scaled to 12 spread over the 3 hosts
# (breadth-first). Timed both ways in the same run:
#   registry:  the install runs once and its committed image is pushed by the first host
#              and pulled by the others;
#   no-cache:  `--no-cache`: every new container runs the install itself (the baseline);
# scale_ratio compares the scale-ups, total_ratio the 1-replica deploy plus the scale-up,
# and the installs recorded in the log are counted for each.
#
# Usage: scripts/bench-cloud.sh [path/to/berth]   (default: build/tools/berth). Needs root.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BERTH=${1:-$ROOT/build/tools/berth}
work=$(mktemp -d /tmp/berth-benchcloud-XXXXXX)
mkdir -p "$work/app"
D="$work/data"
unset DOCKER_HOST
berth() { "$BERTH" --data-dir "$D" "$@"; }
cleanup() {
  berth down benchcloud >/dev/null 2>&1 || true
  for h in c1 c2 c3; do berth host remove --force "$h" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/bench-lib.sh"  # now, elapsed, install_loop_iterations

t=$(now)
for h in c1 c2 c3; do berth host add "$h" --driver local >/dev/null; done
echo "3 local hosts provisioned in $(elapsed "$t") s" >&2

# The loop's speed in a plain shell here is what it is in a container (same CPU, no limit).
calib=$( { /usr/bin/time -f '%U %S' busybox sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'; } 2>&1 | awk '{ print $1 + $2 }')
ITER=$(install_loop_iterations "$calib")
app() {
  cat <<YAML
name: benchcloud
services:
  worker:
    image: berth/busybox:test
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/opt/app"]
    deploy: {replicas: $1}
    x-berth:
      placement: [breadth-first]
      install:
        - mkdir -p /opt/app && echo $2 > /opt/app/index.html
        - i=0; while [ \$i -lt $ITER ]; do i=\$((i+1)); done
YAML
}
installs() {  # install runs recorded in the log of the app's deploys: image steps that installed, per-container installs
  berth -o json workflows --type deploy --limit 0 | python3 -c '
import json, subprocess, sys
n = 0
for w in json.load(sys.stdin):
    if not w["id"].startswith("deploy-benchcloud"): continue
    out = subprocess.run([sys.argv[1], "--data-dir", sys.argv[2], "-o", "json", "history", w["id"]], capture_output=True, text=True, check=True).stdout
    for e in json.loads(out):
        if e.get("type") != "ActivityCompleted": continue
        d = e.get("detail") or {}
        step, r = d.get("step", ""), d.get("result", "")
        if step.startswith("install/") or (step.startswith("image/") and "\"how\":\"installed\"" in r): n += 1
print(n)' "$BERTH" "$D"
}
scale() {  # scale TAG [--no-cache]: prints "first_s scale_s installs": 1 replica, then 12
  local tag=$1; shift
  app 1 "$tag" >"$work/app/one.yaml"
  app 12 "$tag" >"$work/app/twelve.yaml"
  local before; before=$(installs)
  local t; t=$(now)
  berth up "$work/app/one.yaml" "$@" >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; echo "bench: up of 1 replica failed" >&2; exit 1; }
  local first; first=$(elapsed "$t")
  t=$(now)
  berth up "$work/app/twelve.yaml" "$@" >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; echo "bench: scale to 12 failed" >&2; exit 1; }
  local s; s=$(elapsed "$t")
  local running
  running=$(berth -o json ps benchcloud | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len([x for x in r if x["status"]=="running"]), len({x["host"] for x in r}))')
  [ "$running" = "12 3" ] || { echo "bench: after the scale: $running (running, hosts)" >&2; exit 1; }
  local n; n=$(installs)
  berth down benchcloud >/dev/null 2>&1
  echo "$first $s $((n - before))"
}
read -r c_first cached cached_installs < <(scale registry)
echo "registry: 1 replica in $c_first s, scale 1 -> 12 in $cached s, $cached_installs installs in the cloud" >&2
read -r u_first uncached uncached_installs < <(scale nocache --no-cache)
echo "no-cache: 1 replica in $u_first s, scale 1 -> 12 in $uncached s, $uncached_installs installs" >&2
awk -v cf="$c_first" -v c="$cached" -v uf="$u_first" -v u="$uncached" -v ci="$cached_installs" -v ui="$uncached_installs" -v it="$ITER" 'BEGIN {
  printf "{\"hosts\":3,\"replicas\":12,\"install_cpu_s\":3,\"loop_iterations\":%d,", it
  printf "\"registry_first_s\":%s,\"registry_scale_s\":%s,\"registry_installs\":%d,", cf, c, ci
  printf "\"no_cache_first_s\":%s,\"no_cache_scale_s\":%s,\"no_cache_installs\":%d,", uf, u, ui
  printf "\"scale_ratio\":%.3f,\"total_ratio\":%.3f}\n", c / u, (cf + c) / (uf + u)
}'
