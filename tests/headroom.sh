#!/usr/bin/env bash
# The headroom policy of `berth serve` (workflows/hosts/headroom.h) over `local` hosts it
# provisions itself: room kept for 2 more containers (2 per host, at most 3 hosts) as an
# app grows, the limit said once and not exceeded, empty hosts given back after the idle
# time, never a host with containers; the server killed (-9) mid-provision resumes to
# exactly one host. Needs no other dockerd.
BERTH=${1:?usage: headroom.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/bhr-XXXX)
D="$work/data"
unset DOCKER_HOST
pid=""
berth() { timeout -k 5 180 "$BERTH" --data-dir "$D" "$@"; }
serve() {  # serve [HEADROOM]: starts the server with the policy, its stderr appended to $work/serve.log
  start_berth_server "$D" "$work/serve.log" --headroom "${1:-2}" --max-per-host 2 --max-hosts 3 --idle 2 \
    --policy-interval 0.2 --pool-label pool=yes
}
stop_serve() { [ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }; }
cleanup() {
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
  remove_all_hosts "$D"
  rm -rf "$work"
}
trap cleanup EXIT
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
hosts() { berth -o json hosts | python3 -c 'import json,sys; print(" ".join(r["name"] + ("" if r["state"] == "ready" else "(" + r["state"] + ")") for r in json.load(sys.stdin)))'; }
daemons() { pgrep -f -- "--pidfile=$D/hosts/" | wc -l; }
wait_hosts() {  # wait_hosts "WANT" WHAT: the host list becomes WANT within 60 s, and stays it
  local got=""
  for _ in $(seq 1 300); do
    got=$(hosts)
    if [ "$got" = "$1" ] && [ -z "$(running_host_work)" ]; then
      sleep 1  # a round or five more: nothing else is started
      got=$(hosts)
      [ "$got" = "$1" ] && [ -z "$(running_host_work)" ] && return 0
    fi
    sleep 0.2
  done
  cat "$work/serve.log" >&2
  fail "$2: hosts '$got', want '$1'"
}
running_host_work() { berth -o json workflows --type host --status running | python3 -c 'import json,sys; print(" ".join(w["id"] for w in json.load(sys.stdin)))'; }
mkdir -p "$work/app"
app() {
  cat <<YAML
name: hr
services:
  web:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    deploy: {replicas: $1}
    x-berth:
      placement: [{max-containers: 2}]
YAML
}

# Bad options are refused before anything starts.
rc=0; out=$("$BERTH" --data-dir "$D" serve --headroom 2 --min-hosts 4 --max-hosts 3 2>&1) || rc=$?
[ $rc = 2 ] && [[ "$out" == *"min <= max"* ]] || fail "min above max (rc $rc): $out"
rc=0; out=$("$BERTH" --data-dir "$D" serve --headroom 2 --pool-label nolabel 2>&1) || rc=$?
[ $rc = 2 ] && [[ "$out" == *"--pool-label 'nolabel': use KEY=VALUE"* ]] || fail "bad pool label (rc $rc): $out"
ok "bad headroom options are refused with a reason"

# An empty cloud: room for 2 is one host of 2.
serve
wait_hosts "pool-1" "an empty cloud with headroom 2"
[ "$(daemons)" = 1 ] || fail "$(daemons) daemons for one host"
berth -o json hosts | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; assert r["labels"] == {"pool": "yes"} and r["added_by"].startswith("host-add-pool-1-"), r' ||
  fail "pool-1's labels or origin"
berth audit --host pool-1 | grep -q "policy" || fail "pool-1's add is not on record as the policy's"
ok "an empty cloud gets one host (room for 2), added by the policy and on record"

# 2 containers fill pool-1: a second host; 4 fill both: a third; 5: at the limit of 3.
app 2 >"$work/app/2.yaml"; app 4 >"$work/app/4.yaml"; app 5 >"$work/app/5.yaml"; app 1 >"$work/app/1.yaml"
berth up "$work/app/2.yaml" >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "up 2"; }
wait_hosts "pool-1 pool-2" "2 containers"
berth up "$work/app/4.yaml" >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "up 4"; }
wait_hosts "pool-1 pool-2 pool-3" "4 containers"
berth up "$work/app/5.yaml" >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "up 5"; }
wait_hosts "pool-1 pool-2 pool-3" "5 containers at max-hosts 3"
[ "$(grep -c "at its limit of 3 hosts" "$work/serve.log")" = 1 ] || fail "the limit is not said exactly once: $(grep -c "at its limit" "$work/serve.log")"
[ "$(daemons)" = 3 ] || fail "$(daemons) daemons for three hosts"
ok "headroom held as the app grows (1 -> 2 -> 3 hosts), and at max-hosts it says so once and stops asking"

# Scale down to 1: room 5, a surplus. After the idle time the latest empty host goes
# (pool-3); pool-2 stays, as the one container leaves room for 1 on its host and the
# headroom is 2. The container is not touched.
berth up "$work/app/1.yaml" >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "up 1"; }
wait_hosts "pool-1 pool-2" "1 container after the idle time"
[ "$(daemons)" = 2 ] || fail "$(daemons) daemons after the scale-down"
berth -o json ps hr | python3 -c 'import json,sys; r=json.load(sys.stdin); assert len(r) == 1 and r[0]["status"] == "running" and r[0]["host"] in ("pool-1", "pool-2"), r' ||
  fail "the container was touched"
berth audit --host pool-3 | grep -q "removed" || fail "pool-3's removal is not on record"
ok "an empty host is given back after the idle time, and only while the headroom holds without it"

# Down: room 4 over two empty hosts; one goes, the other is the headroom.
berth down hr >"$work/down.log" 2>&1 || { cat "$work/down.log"; fail "down hr"; }
wait_hosts "pool-1" "after down"
ok "after down one host stays: its room is the headroom"

# kill -9 of the server while it provisions (headroom 4 wants a second host), then the
# same server again: the add resumes and completes once, nothing doubled.
stop_serve
serve 4
for _ in $(seq 1 100); do [ -n "$(running_host_work 2>/dev/null || true)" ] && break; sleep 0.05; done
sleep 0.3
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
serve 4
wait_hosts "pool-1 pool-2" "a kill -9 mid-provision"
[ "$(daemons)" = 2 ] || fail "after a kill -9 mid-provision: $(daemons) daemons"
ok "a server killed (-9) mid-provision resumes the add: exactly one more host and daemon"

stop_serve
for h in $(hosts); do berth host remove "$h" >/dev/null 2>&1 || fail "remove $h"; done
[ "$(daemons)" = 0 ] || fail "daemons left"
berth replay --verify >/dev/null || fail "replay --verify"
ok "torn down; replay --verify passes"
echo "headroom: $checks checks passed"
