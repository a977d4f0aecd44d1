#!/usr/bin/env bash
# `berth up` / `down` through `berth serve` on a real engine: the server runs the deploy
# while other clients read history and workflows; the client prints what it prints
# in-process (the same line and exit code, the workflow id aside); Ctrl-C detaches and the
# deploy finishes in the server; kill -9 of the server mid-deploy, then a new server: the
# deploy finishes exactly once (the declared containers, nothing more); the restart policy
# (a killed container restarted on record, one stopped with docker stop left stopped, a
# crash loop that gives up, policy "no").
BERTH=${1:?usage: deploy_serve.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
set +e  # exit codes are checked by hand
work=$(mktemp -d /tmp/berth-dserve-XXXXXX)
A=served
D="$work/data"
sock="$D/berth.sock"
pid=""
trap '[ -z "$pid" ] || kill -9 $pid 2>/dev/null; wipe_app $A; wipe_app servedrs; rm -rf "$work"' EXIT
b() { timeout -k 5 240 "$BERTH" --data-dir "$D" "$@"; }
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
start_server() { start_berth_server "$D" "$work/serve.err"; }
stop_server() { kill -TERM $pid; wait $pid; local rc=$?; pid=""; [ $rc = 0 ] || fail "serve exited $rc"; }
running_deploy() { b -o json workflows --type deploy --status running | python3 -c 'import json,sys; w=json.load(sys.stdin); print(w[0]["id"] if w else "")'; }
strip_id() { sed -e 's/ \[[^]]*\]$//' "$1"; }
wipe_app $A

# 1. A deploy in the server while other clients read.
start_server
b up "$EXAMPLE_APP" -p $A >"$work/up1.out" 2>"$work/up1.err" &
up=$!
reads=0 id=""
while kill -0 $up 2>/dev/null; do
  [ -n "$id" ] || id=$(running_deploy)
  b workflows >/dev/null 2>"$work/r.err" || fail "workflows during the deploy: $(cat "$work/r.err")"
  if [ -n "$id" ]; then b history "$id" >/dev/null 2>"$work/r.err" || fail "history during the deploy: $(cat "$work/r.err")"; fi
  reads=$((reads + 1))
  sleep 0.2
done
wait $up || fail "up through the server: $(cat "$work/up1.err")"
[ -n "$id" ] && [ $reads -ge 3 ] || fail "saw the running deploy '$id' in $reads reads only"
grep -q "^$A: up (5 created" "$work/up1.out" || fail "up printed: $(cat "$work/up1.out")"
grep -q "done" "$work/up1.err" || fail "no progress from the server: $(cat "$work/up1.err")"
assert_example_up $A
ok "up in the server: 5 containers; $reads reads of workflows and history during the deploy"

# 2. The same output as in-process: an unchanged re-up, both ways.
b up "$EXAMPLE_APP" -p $A >"$work/re-server.out" 2>/dev/null; rc1=$?
stop_server
b up "$EXAMPLE_APP" -p $A >"$work/re-local.out" 2>/dev/null; rc2=$?
[ $rc1 = 0 ] && [ $rc2 = 0 ] || fail "re-up exit codes: server $rc1, in-process $rc2"
[ "$(strip_id "$work/re-server.out")" = "$(strip_id "$work/re-local.out")" ] ||
  fail "re-up prints differ: '$(cat "$work/re-server.out")' vs '$(cat "$work/re-local.out")'"
b up /nonexistent.yaml -p $A >/dev/null 2>"$work/bad-local.err"; rc2=$?
start_server
b up /nonexistent.yaml -p $A >/dev/null 2>"$work/bad-server.err"; rc1=$?
[ $rc1 = $rc2 ] && cmp -s "$work/bad-local.err" "$work/bad-server.err" || fail "a missing file: rc $rc1 vs $rc2"
ok "unchanged re-up prints '$(strip_id "$work/re-local.out")' with and without the server; a bad file the same error"

# 3. down through the server; then Ctrl-C detaches an up, which finishes in the server.
b down $A >"$work/down.out" 2>"$work/down.err" || fail "down: $(cat "$work/down.err")"
grep -q "^$A: down (5 containers" "$work/down.out" || fail "down printed: $(cat "$work/down.out")"
assert_app_gone $A
"$BERTH" --data-dir "$D" up "$EXAMPLE_APP" -p $A >"$work/up2.out" 2>"$work/up2.err" &
up=$!  # berth itself, so that the SIGINT reaches it
for _ in $(seq 1 100); do grep -q "done" "$work/up2.err" && break; sleep 0.05; done
kill -INT $up; wait $up; rc=$?
[ $rc = 130 ] || fail "Ctrl-C of up: rc=$rc $(cat "$work/up2.err")"
grep -q "detached from deploy-$A-" "$work/up2.err" || fail "Ctrl-C said: $(cat "$work/up2.err")"
for _ in $(seq 1 300); do [ -z "$(running_deploy)" ] && break; sleep 0.2; done
assert_example_up $A
ok "down in the server; Ctrl-C detached an up (exit 130, how to follow it said); it finished in the server"
b down $A >/dev/null 2>&1 || fail "down"
assert_app_gone $A

# 4. kill -9 of the server mid-deploy; a new server resumes it; it finishes exactly once.
b up "$EXAMPLE_APP" -p $A --detach >"$work/id" 2>&1 || fail "up --detach: $(cat "$work/id")"
id=$(cat "$work/id")
for _ in $(seq 1 100); do
  n=$(b -o json history "$id" | python3 -c 'import json,sys; print(sum(e["type"]=="ActivityCompleted" for e in json.load(sys.stdin)))')
  [ "${n:-0}" -ge 3 ] && break
  sleep 0.1
done
kill -9 $pid; wait $pid 2>/dev/null; pid=""
start_server
grep -q "resumed [1-9]" "$work/serve.err" || fail "the new server resumed nothing: $(cat "$work/serve.err")"
for _ in $(seq 1 600); do
  st=$(b -o json workflows --type deploy | python3 -c "import json,sys; print([w['status'] for w in json.load(sys.stdin) if w['id']=='$id'][0])")
  [ "$st" != running ] && break
  sleep 0.2
done
[ "$st" = completed ] || fail "the deploy killed with its server ended $st: $(b history "$id" | tail -5)"
assert_example_up $A
ok "server killed after $n steps of a deploy; the next server finished it: exactly the declared containers"
b down $A >/dev/null 2>&1 || fail "down"
assert_app_gone $A

# 5. The restart policy: a killed container is restarted by the server, on record; a
# crash-looping one backs off and gives up at its limit; policy "no" is recorded only.
R=servedrs
wipe_app $R
cat >"$work/rs.yaml" <<YAML
name: $R
services:
  keeper:
    image: berth/busybox:test
    init: true
    command: ["sleep", "100000"]
    restart: on-failure:3
  looper:
    image: berth/busybox:test
    command: ["sh", "-c", "sleep 2; exit 3"]
    restart: on-failure:2
  plain:
    image: berth/busybox:test
    init: true
    command: ["sleep", "100000"]
YAML
b up "$work/rs.yaml" >"$work/rs-up.out" 2>&1 || fail "up of the restart app: $(cat "$work/rs-up.out")"
policies=$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}/{{index .Config.Labels "berth.restart"}}' $R-keeper-1)
[ "$policies" = "no/on-failure:3" ] || [ "$policies" = "/on-failure:3" ] ||
  fail "keeper's policies: $(docker inspect -f '{{.HostConfig.RestartPolicy.Name}} {{index .Config.Labels "berth.restart"}}' $R-keeper-1)"
t0=$(date +%s.%N)
docker kill $R-keeper-1 >/dev/null || fail "docker kill"
docker kill $R-plain-1 >/dev/null || fail "docker kill plain"
back=""
for _ in $(seq 1 100); do
  [ "$(docker inspect -f '{{.State.Running}}' $R-keeper-1)" = true ] && { back=$(python3 -c "import time; print(round(time.time() - $t0, 2))"); break; }
  sleep 0.1
done
[ -n "$back" ] || fail "keeper was not restarted: $(b workflows --type restart)"
ok "docker kill of keeper: running again after ${back} s (backoff 0.2 s), Docker's own policy 'no'"
docker stop -t 1 $R-keeper-1 >/dev/null || fail "docker stop"
stopped=""
for _ in $(seq 1 50); do
  stopped=$(b -o json workflows --type restart --status completed | python3 -c "import json,sys; print(' '.join(w['id'] for w in json.load(sys.stdin) if '-keeper-' in w['id']))" | wc -w)
  [ "$stopped" = 2 ] && break
  sleep 0.1
done
[ "$stopped" = 2 ] || fail "the docker stop of keeper did not end a restart workflow: $(b workflows --type restart)"
sleep 0.5
[ "$(docker inspect -f '{{.State.Running}}' $R-keeper-1)" = false ] || fail "keeper was restarted after docker stop"
b history "$(b -o json workflows --type restart | python3 -c "import json,sys; print([w['id'] for w in json.load(sys.stdin) if '-keeper-' in w['id']][-1])")" |
  grep -q "docker stop" || fail "the restart workflow of the docker stop does not say why"
docker start $R-keeper-1 >/dev/null || fail "docker start keeper"
ok "docker stop of keeper: not restarted (Docker's rule), the restart workflow says so"
gave_up=""
for _ in $(seq 1 200); do
  gave_up=$(b -o json workflows --type restart --status failed | python3 -c "import json,sys; print(' '.join(w['id'] for w in json.load(sys.stdin) if '-looper-' in w['id']))")
  [ -n "$gave_up" ] && break
  sleep 0.1
done
[ -n "$gave_up" ] || fail "looper never gave up: $(b workflows --type restart)"
b history "$gave_up" | grep -q "gave up" || fail "the give-up does not say why: $(b history "$gave_up")"
[ "$(docker inspect -f '{{.State.Status}}' $R-looper-1)" = exited ] || fail "looper runs after giving up"
loops=$(b -o json workflows --type restart | python3 -c "import json,sys; print(sum('-looper-' in w['id'] for w in json.load(sys.stdin)))")
[ "$loops" = 3 ] || fail "looper: $loops restart workflows, want 3 (2 restarts, then the give-up)"
sleep 1
[ "$(docker inspect -f '{{.State.Running}}' $R-plain-1)" = false ] || fail "plain (restart: no) was restarted"
b ps $R >"$work/ps.out" 2>"$work/ps.err" || fail "ps: $(cat "$work/ps.err")"
grep -q "$R-looper-1 .*exited (gave up)" "$work/ps.out" && grep -q "$R-looper-1: gave up" "$work/ps.err" ||
  fail "ps does not show the give-up: $(cat "$work/ps.out" "$work/ps.err")"
grep -q "$R-plain-1 .*(gave up)" "$work/ps.out" && fail "ps shows a give-up for plain (restart: no)"
ok "looper (on-failure:2): restarted twice with backoff, then gave up and stays exited; plain (no) stays down"
curl -s --unix-socket "$sock" http://berth/metrics >"$work/metrics" || fail "GET /metrics"
grep -q '^berth_restarts_total{outcome="gave_up"} 1$' "$work/metrics" &&
  grep -Eq '^berth_restarts_total\{outcome="restarted"\} [3-9]' "$work/metrics" &&
  grep -q '^berth_step_seconds_count{activity="docker.start"}' "$work/metrics" ||
  fail "metrics lack the restarts: $(grep -E 'restarts|docker.start' "$work/metrics")"
ok "/metrics: $(grep -E '^berth_restarts_total' "$work/metrics" | tr '\n' ' ')"
stop_server
b audit --container $R-keeper-1 >"$work/audit" 2>&1 || fail "audit: $(cat "$work/audit")"
grep -q "policy" "$work/audit" && grep -q "restart" "$work/audit" || fail "audit of keeper lacks the restart: $(cat "$work/audit")"
b audit --container $R-plain-1 | grep -q "restart-$R-plain-1" || fail "the death of plain is not on record"
ok "audit --container shows keeper's death and restart by the policy, and plain's death"
# While no server runs: a `docker stop` is told from a crash by the events since the
# server's cursor (restart.cursor); the crash is restarted by the next server.
[ -s "$D/restart.cursor" ] || fail "no restart.cursor after the server handled events"
[ "$(docker inspect -f '{{.State.Running}}' $R-keeper-1)" = true ] || fail "keeper is not running before the stop"
docker stop -t 1 $R-keeper-1 >/dev/null || fail "docker stop while no server"
start_server
sleep 2
[ "$(docker inspect -f '{{.State.Running}}' $R-keeper-1)" = false ] || fail "keeper, stopped while no server ran, was restarted"
stop_server
docker start $R-keeper-1 >/dev/null && sleep 0.5 && docker kill $R-keeper-1 >/dev/null || fail "docker start/kill keeper"
start_server
back=""
for _ in $(seq 1 100); do
  [ "$(docker inspect -f '{{.State.Running}}' $R-keeper-1)" = true ] && { back=1; break; }
  sleep 0.1
done
[ -n "$back" ] || fail "keeper, killed while no server ran, was not restarted by the next server"
stop_server
ok "while no server ran: keeper's docker stop was left stopped (events since the cursor), its kill restarted at the next start"
b -o json ps $R | python3 -c '
import json, sys
rows = {r["service"]: r for r in json.load(sys.stdin)}
assert rows["looper"]["restart"].startswith("gave up"), rows["looper"]
assert rows["plain"]["restart"] == "" and rows["keeper"]["restart"] == "", rows
' || fail "ps -o json in-process does not carry the give-up"
ok "ps shows looper's give-up with and without the server (exited (gave up), the reason below the table)"
start_server
b down $R >/dev/null 2>&1 || fail "down $R"
assert_app_gone $R
stop_server
b replay --verify >/dev/null 2>"$work/verify.err" || fail "verify: $(cat "$work/verify.err")"
ok "replay --verify of everything the servers did"
echo "$checks passed, 0 failed"
