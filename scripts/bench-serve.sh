#!/usr/bin/env bash
# `berth serve` benchmarks, each with its baseline in the same run on the same engine;
# prints one JSON object.
#
#   up:      `berth up` of a 20-service Compose file through a server vs in-process (the
#            same binary, no server), rounds alternating, median of ROUNDS (then `down`).
#   reads:   wrk, 64 connections on 2 threads for SECONDS, GET /v1/workflows/{id}/events of
#            a finished 20-service deploy (~170 events) over TCP with the bearer token:
#            requests/s and p50/p99 latency with the server idle (the baseline) and while
#            it deploys the 20-service app over and over (up, down, up, ...).
#   restart: each of the 20 containers (restart: always) killed in turn with `docker kill`;
#            from its death (State.FinishedAt) to running again (State.StartedAt), minus
#            the backoff its restart workflow recorded: median and max.
#
# Usage: scripts/bench-serve.sh [path/to/berth]   (default: build/tools/berth)
# Env: DOCKER_HOST (default: a private dockerd this script starts and stops),
#      BENCH_ROUNDS (default 3), BENCH_SECONDS (default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BERTH=${1:-$ROOT/build/tools/berth}
ROUNDS=${BENCH_ROUNDS:-3}
SECONDS_WRK=${BENCH_SECONDS:-10}
command -v wrk >/dev/null || { echo "bench-serve: wrk is missing (scripts/setup.sh installs it)" >&2; exit 2; }
work=$(mktemp -d /tmp/berth-bserve-XXXXXX)
D="$work/data"
own_daemon="" spid="" loop=""
cleanup() {
  [ -z "$loop" ] || kill "$loop" 2>/dev/null || true
  [ -z "$spid" ] || { kill -TERM "$spid"; wait "$spid"; } 2>/dev/null || true
  "$BERTH" --data-dir "$D" down benchs >/dev/null 2>&1 || true
  [ -z "$own_daemon" ] || "$ROOT/scripts/testenv/dockerd-stop.sh" "$own_daemon" --purge
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${DOCKER_HOST:-}" ]; then
  own_daemon=/tmp/berth-bserve-dockerd
  eval "$("$ROOT/scripts/testenv/dockerd-start.sh" "$own_daemon")"
fi
"$ROOT/scripts/testenv/busybox-image.sh" >/dev/null
{
  echo "services:"
  for i in $(seq -w 1 20); do
    printf '  web%s:\n    image: berth/busybox:test\n    init: true\n    restart: always\n' "$i"
    printf '    command: ["httpd", "-f", "-p", "80", "-h", "/"]\n    ports: ["127.0.0.1::80"]\n'
  done
} >"$work/app.yaml"

b() { "$BERTH" --data-dir "$D" "$@"; }
source "$(dirname "$0")/bench-lib.sh"  # now, elapsed, install_loop_iterations
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
start_server() {
  : >"$work/serve.err"
  "$BERTH" --data-dir "$D" serve --listen 127.0.0.1:0 2>>"$work/serve.err" &
  spid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.err" | head -1 | sed 's/.*://' || true)
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "bench-serve: the server did not start: $(cat "$work/serve.err")" >&2
  exit 1
}
stop_server() { kill -TERM "$spid"; wait "$spid"; spid=""; }
up_and_check() {
  b up "$work/app.yaml" -p benchs >/dev/null 2>&1
  [ "$(docker ps -q --filter label=berth.app=benchs --filter status=running | wc -l)" = 20 ] ||
    { echo "bench-serve: up did not start 20 containers" >&2; exit 1; }
}

# 1. up through a server vs in-process.
local_s=() served_s=()
for r in $(seq "$ROUNDS"); do
  t=$(now); up_and_check; local_s+=("$(elapsed "$t")")
  b down benchs >/dev/null 2>&1
  start_server
  t=$(now); up_and_check; served_s+=("$(elapsed "$t")")
  b down benchs >/dev/null 2>&1
  stop_server
  echo "round $r: up in-process ${local_s[-1]} s, through the server ${served_s[-1]} s" >&2
done

# 2. reads under 64 connections, idle and during deploys.
start_server
up_and_check
id=$(b -o json workflows --type deploy --status completed | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
tok=$(cat "$D/serve.token")
wrk_run() {  # prints "requests_per_s p50_ms p99_ms"
  wrk -t2 -c64 -d"${SECONDS_WRK}s" --latency -H "Authorization: Bearer $tok" \
    "http://127.0.0.1:$port/v1/workflows/$id/events" | python3 -c '
import re, sys
out = sys.stdin.read()
def ms(v, unit): return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p = {m.group(1): ms(m.group(2), m.group(3)) for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if errors: sys.exit("wrk saw %s non-2xx answers" % errors.group(1))
print("%.0f %.2f %.2f" % (rps, p["50"], p["99"]))'
}
read -r idle_rps idle_p50 idle_p99 < <(wrk_run)
echo "reads idle: $idle_rps req/s, p50 $idle_p50 ms, p99 $idle_p99 ms" >&2
b down benchs >/dev/null 2>&1
( while :; do b up "$work/app.yaml" -p benchs >/dev/null 2>&1 || true; b down benchs >/dev/null 2>&1 || true; done ) &
loop=$!
sleep 1
deploys_before=$(b -o json workflows --type deploy | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
read -r busy_rps busy_p50 busy_p99 < <(wrk_run)
deploys_after=$(b -o json workflows --type deploy | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
kill "$loop"; wait "$loop" 2>/dev/null || true; loop=""
for _ in $(seq 1 600); do  # let the last up or down of the loop finish in the server
  [ "$(b -o json workflows --status running | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] && break
  sleep 0.2
done
echo "reads during deploys: $busy_rps req/s, p50 $busy_p50 ms, p99 $busy_p99 ms ($((deploys_after - deploys_before)) deploys started meanwhile)" >&2

# 3. restart reaction.
b down benchs >/dev/null 2>&1 || true
up_and_check
reactions=$(python3 - "$D/berth.sock" <<'EOF'
import json, socket, subprocess, sys, time
from datetime import datetime
sock = sys.argv[1]
def get(path):
    s = socket.socket(socket.AF_UNIX); s.connect(sock)
    s.sendall(("GET %s HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n" % path).encode())
    data = b""
    while True:
        c = s.recv(65536)
        if not c: break
        data += c
    return json.loads(data.split(b"\r\n\r\n", 1)[1])
def t(s):  # Docker's RFC 3339 with ns -> seconds
    base, frac = s.rstrip("Z").split(".")
    return datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").timestamp() + float("0." + frac)
def inspect(c):
    return json.loads(subprocess.check_output(["docker", "inspect", c]))[0]["State"]
out = []
for i in range(1, 21):
    c = "benchs-web%02d-1" % i
    subprocess.check_call(["docker", "kill", c], stdout=subprocess.DEVNULL)
    for _ in range(300):
        st = inspect(c)
        if st["Running"] and t(st["StartedAt"]) > t(st["FinishedAt"]): break
        time.sleep(0.02)
    else:
        sys.exit("%s was not restarted" % c)
    wfs = [w for w in get("/v1/workflows?type=restart&limit=0")["workflows"] if w["id"].startswith("restart-%s-" % c)]
    res = get("/v1/workflows/" + wfs[-1]["id"])
    backoff = json.loads(res["result"])["backoff_ms"] / 1000 if isinstance(res["result"], str) else res["result"]["backoff_ms"] / 1000
    out.append(t(st["StartedAt"]) - t(st["FinishedAt"]) - backoff)
print(" ".join("%.3f" % x for x in out))
EOF
)
stop_server
b down benchs >/dev/null 2>&1
echo "restart reactions minus backoff (s): $reactions" >&2
python3 - "$(median "${local_s[@]}")" "$(median "${served_s[@]}")" "$ROUNDS" "$idle_rps" "$idle_p50" "$idle_p99" \
  "$busy_rps" "$busy_p50" "$busy_p99" "$SECONDS_WRK" "$reactions" <<'EOF'
import json, statistics, sys
a = sys.argv[1:]
r = [float(x) for x in a[10].split()]
print(json.dumps({
  "up_20": {"in_process_s": float(a[0]), "server_s": float(a[1]), "ratio": round(float(a[1]) / float(a[0]), 3), "rounds": int(a[2])},
  "reads_events_64_connections": {"seconds": int(a[9]),
    "idle": {"requests_per_s": float(a[3]), "p50_ms": float(a[4]), "p99_ms": float(a[5])},
    "during_deploys": {"requests_per_s": float(a[6]), "p50_ms": float(a[7]), "p99_ms": float(a[8])}},
  "restart_reaction_minus_backoff_s": {"n": len(r), "median": round(statistics.median(r), 3), "max": round(max(r), 3)},
}))
EOF
