#!/usr/bin/env bash
# Deploy benchmarks, each against its peer in the same run on the same engine; prints JSON.
#
#   up/down: a 20-service Compose file (busybox httpd, ports on 127.0.0.1, init: true):
#            `berth up` vs Debian's `docker-compose up -d`, `berth down` vs `docker-compose
#            down` (both with Compose's 10 s default stop timeout). Median of ROUNDS.
#   cache:   a service whose x-berth.install burns 3 s of CPU (a shell loop calibrated on
#            this machine), deployed with 1 replica and
#            then scaled to 11: the scale-up timed with the image cache vs with --no-cache.
#
# Usage: scripts/bench-deploy.sh [path/to/berth]   (default: build/tools/berth)
# Env: DOCKER_HOST (default: a private dockerd this script starts and stops),
#      BENCH_ROUNDS (default 3), BENCH_SERVICES (default 20).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BERTH=${1:-$ROOT/build/tools/berth}
ROUNDS=${BENCH_ROUNDS:-3}
SERVICES=${BENCH_SERVICES:-20}
work=$(mktemp -d /tmp/berth-bench-XXXXXX)
own_daemon=""
cleanup() {
  docker-compose -p benchc -f "$work/app.yaml" down -t 10 >/dev/null 2>&1 || true
  "$BERTH" --data-dir "$work/data" down benchb >/dev/null 2>&1 || true
  "$BERTH" --data-dir "$work/data" down benchcache >/dev/null 2>&1 || true
  [ -z "$own_daemon" ] || "$ROOT/scripts/testenv/dockerd-stop.sh" "$own_daemon" --purge
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${DOCKER_HOST:-}" ]; then
  own_daemon=/tmp/berth-bench-dockerd
  eval "$("$ROOT/scripts/testenv/dockerd-start.sh" "$own_daemon")"
fi
"$ROOT/scripts/testenv/busybox-image.sh" >/dev/null

{
  echo "services:"
  for i in $(seq -w 1 "$SERVICES"); do
    cat <<EOF
  web$i:
    image: berth/busybox:test
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/"]
    ports: ["127.0.0.1::80"]
EOF
  done
} >"$work/app.yaml"

source "$(dirname "$0")/bench-lib.sh"  # now, elapsed, install_loop_iterations
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

bu=() bd=() cu=() cd=()
for r in $(seq "$ROUNDS"); do
  t=$(now); docker-compose -p benchc -f "$work/app.yaml" up -d >/dev/null 2>&1; cu+=("$(elapsed "$t")")
  t=$(now); docker-compose -p benchc -f "$work/app.yaml" down >/dev/null 2>&1; cd+=("$(elapsed "$t")")
  t=$(now); "$BERTH" --data-dir "$work/data" up "$work/app.yaml" -p benchb >/dev/null 2>&1; bu+=("$(elapsed "$t")")
  [ "$(docker ps -q --filter label=berth.app=benchb --filter status=running | wc -l)" = "$SERVICES" ] \
    || { echo "bench: berth up did not start $SERVICES containers" >&2; exit 1; }
  t=$(now); "$BERTH" --data-dir "$work/data" down benchb >/dev/null 2>&1; bd+=("$(elapsed "$t")")
  echo "round $r: compose up ${cu[-1]} s down ${cd[-1]} s; berth up ${bu[-1]} s down ${bd[-1]} s" >&2
done

# The cache where it pays: an install that burns 3 s of CPU. A shell loop's speed varies by
# machine, so calibrate: time 300000 iterations in a container (user + sys seconds).
calib=$(docker run --rm berth/busybox:test time sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done' 2>&1 |
  awk '$1 == "user" || $1 == "sys" { m = $2; s = $3; sub(/m$/, "", m); sub(/s$/, "", s); t += 60 * m + s } END { print t }')
ITER=$(install_loop_iterations "$calib")
cache_app() {
  cat <<EOF
services:
  worker:
    image: berth/busybox:test
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/opt/app"]
    deploy: {replicas: $1}
    x-berth:
      install:
        - mkdir -p /opt/app && echo built > /opt/app/index.html
        - i=0; while [ \$i -lt $ITER ]; do i=\$((i+1)); done
EOF
}
cache_app 1 >"$work/cache1.yaml"
cache_app 11 >"$work/cache11.yaml"
scale() {  # scale [--no-cache]: deploy 1 replica, then time the scale to 11
  docker images -q 'berth-cache/worker' | xargs -r docker rmi -f >/dev/null
  "$BERTH" --data-dir "$work/data" up "$work/cache1.yaml" -p benchcache "$@" >/dev/null 2>&1
  local t; t=$(now)
  "$BERTH" --data-dir "$work/data" up "$work/cache11.yaml" -p benchcache "$@" >/dev/null 2>&1
  elapsed "$t"
  [ "$(docker ps -q --filter label=berth.app=benchcache --filter status=running | wc -l)" = 11 ] \
    || { echo "bench: scale to 11 failed" >&2; exit 1; }
  "$BERTH" --data-dir "$work/data" down benchcache >/dev/null 2>&1
}
cached=$(scale)
uncached=$(scale --no-cache)

bu_m=$(median "${bu[@]}") bd_m=$(median "${bd[@]}") cu_m=$(median "${cu[@]}") cd_m=$(median "${cd[@]}")
awk -v bu="$bu_m" -v cu="$cu_m" -v bd="$bd_m" -v cd="$cd_m" -v c="$cached" -v u="$uncached" \
    -v n="$SERVICES" -v r="$ROUNDS" 'BEGIN {
  printf "{\"services\":%d,\"rounds\":%d,\"berth_up_s\":%s,\"compose_up_s\":%s,\"up_ratio\":%.3f,", n, r, bu, cu, bu / cu
  printf "\"berth_down_s\":%s,\"compose_down_s\":%s,\"down_ratio\":%.3f,", bd, cd, bd / cd
  printf "\"cached_s\":%s,\"uncached_s\":%s,\"cache_ratio\":%.3f}\n", c, u, c / u
}'
