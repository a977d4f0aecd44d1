#!/usr/bin/env bash
# 64 clients of one `berth serve` while it deploys a 20-service app on a real engine:
# 16 follow the deploy's event stream (events?follow=1), 16 read its history, 16 the
# app's audit, 16 the workflow list, each over and over until the deploy ends. Every
# followed stream must hold each of the deploy's events exactly once, in order, and end
# with the workflow; every history read must be a prefix of the final history (nothing
# missing, nothing twice, nothing reordered); every read must answer 200; and two more
# clients verify the whole log over and over (GET /v1/replay), each time without a problem.
BERTH=${1:?usage: deploy_serve_load.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
set +e  # exit codes are checked by hand
work=$(mktemp -d /tmp/berth-sload-XXXXXX)
A=sload
D="$work/data"
sock="$D/berth.sock"
pid=""
trap '[ -z "$pid" ] || kill -9 $pid 2>/dev/null; kill $(jobs -p) 2>/dev/null; wipe_app $A; rm -rf "$work"' EXIT
b() { timeout -k 5 240 "$BERTH" --data-dir "$D" "$@"; }
wipe_app $A
{
  echo "services:"
  for i in $(seq -w 1 20); do
    printf '  web%s:\n    image: berth/busybox:test\n    init: true\n' "$i"
    printf '    command: ["httpd", "-f", "-p", "80", "-h", "/"]\n    ports: ["127.0.0.1::80"]\n'
  done
} >"$work/app.yaml"

start_berth_server "$D" "$work/serve.err"
b up "$work/app.yaml" -p $A --detach >"$work/id" 2>"$work/up.err" || fail "up --detach: $(cat "$work/up.err")"
id=$(cat "$work/id")
get() { curl -s -o "$1" -w '%{http_code}' --max-time 60 --unix-socket "$sock" "http://berth$2"; }
mkdir -p "$work/c"
# A client: reads $2 until the deploy has ended (then once more), saving each answer.
reader() {
  local n=$1 target=$2 i=0 code
  while :; do
    i=$((i + 1))
    code=$(get "$work/c/$n.$i" "$target")
    [ "$code" = 200 ] || { echo "$n: HTTP $code for $target: $(cat "$work/c/$n.$i")" >"$work/c/$n.bad"; return; }
    [ -e "$work/ended" ] && [ -e "$work/c/$n.last" ] && return
    [ -e "$work/ended" ] && touch "$work/c/$n.last"
    [ $i -lt 400 ] || return  # bounded: a deploy of 20 takes well under 400 reads
    sleep 0.05
  done
}
# Verification while the deploy appends: through one snapshot, it must agree with itself.
reader v1 "/v1/replay" &
reader v2 "/v1/replay" &
for n in $(seq 1 16); do
  curl -s -N --max-time 200 --unix-socket "$sock" "http://berth/v1/workflows/$id/events?follow=1" >"$work/c/f$n" 2>&1 &
  reader h$n "/v1/workflows/$id/events" &
  reader a$n "/v1/audit?app=$A" &
  reader w$n "/v1/workflows?limit=0" &
done
for _ in $(seq 1 1200); do
  st=$(curl -s --unix-socket "$sock" "http://berth/v1/workflows/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["status"])')
  [ "$st" != running ] && break
  sleep 0.2
done
touch "$work/ended"
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null
[ "$st" = completed ] || fail "the deploy ended $st: $(b history "$id" | tail -5)"
[ "$(docker ps -q --filter label=berth.app=$A --filter status=running | wc -l)" = 20 ] || fail "not 20 containers running"
cat "$work"/c/*.bad 2>/dev/null | head -5 | grep . && fail "reads failed (above)"
get "$work/final" "/v1/workflows/$id/events" >/dev/null
python3 - "$work" <<'EOF' || fail "an inconsistent read (above)"
import glob, json, os, sys
work = sys.argv[1]
final = [e["seq"] for e in json.load(open(work + "/final"))]
assert len(final) > 100, len(final)
streams = sorted(glob.glob(work + "/c/f*"))
for f in streams:
    lines = [json.loads(l) for l in open(f) if l.strip()]
    assert lines and "workflow" in lines[-1], (f, "does not end with the workflow", lines[-1:])
    assert lines[-1]["workflow"]["summary"]["status"] == "completed", f
    seqs = [l["seq"] for l in lines[:-1]]
    assert seqs == final, (f, "stream differs from the history", len(seqs), len(final))
reads = 0
for f in glob.glob(work + "/c/h*.*"):
    if f.endswith(".last"): continue
    seqs = [e["seq"] for e in json.load(open(f))]
    assert seqs == final[:len(seqs)], (f, "a history read that is not a prefix of the final one")
    reads += 1
verifies = 0
for f in glob.glob(work + "/c/v*.*"):
    if f.endswith(".last"): continue
    r = json.load(open(f))
    assert r["ok"] is True, (f, "a verification during the deploy failed", r.get("error"))
    verifies += 1
assert verifies >= 4, verifies
for kind in ("a", "w"):
    for f in glob.glob(work + "/c/%s*.*" % kind):
        if f.endswith(".last"): continue
        json.load(open(f))
        reads += 1
print("%d streams of %d events each, exactly the history; %d reads consistent; %d verifications during the deploy passed" % (len(streams), len(final), reads, verifies))
EOF
kill -TERM $pid; wait $pid; rc=$?; pid=""
[ $rc = 0 ] || fail "serve exited $rc"
b down $A >/dev/null 2>&1 || fail "down"
assert_app_gone $A
b replay --verify >/dev/null 2>"$work/verify.err" || fail "verify: $(cat "$work/verify.err")"
echo "serve load: 64 clients (16 streams, 48 readers) during a 20-service deploy, every read consistent"
echo "1 passed, 0 failed"
