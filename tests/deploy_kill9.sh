#!/usr/bin/env bash
# Real `kill -9` from outside at a random moment of `berth up` of the example app (so also
# in the middle of a Docker call: a build, an install, an exec), then `berth resume`: the
# app must be exactly as declared (the engine's own listing), `replay --verify` must pass,
# and `berth down` must leave nothing. Also `berth down` itself killed and resumed.
# RUNS (default 12) and RANDOM_SEED (printed) make a run repeatable.
BERTH=${1:?usage: deploy_kill9.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
RUNS=${RUNS:-12}
SEED=${RANDOM_SEED:-$$}
RANDOM=$SEED
echo "deploy kill -9: $RUNS runs, RANDOM_SEED=$SEED"
APP=kill9
work=$(mktemp -d /tmp/berth-deploy-kill9-XXXXXX)
trap 'wipe_app $APP; rm -rf "$work"' EXIT

installs_total=0
# How many workflows of type $2 data dir $1 holds.
recorded() {
  "$BERTH" --data-dir "$1" -o json workflows --type "$2" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
for run in $(seq "$RUNS"); do
  d="$work/run-$run"
  wipe_app $APP
  wipe_images  # so the kill can land in a build or an install too
  t0=$(date +%s.%N)
  delay_ms=$((50 + RANDOM % 2500))
  "$BERTH" --data-dir "$d" up "$EXAMPLE_APP" -p $APP >"$d.up.log" 2>&1 &
  pid=$!
  sleep "$(awk -v ms=$delay_ms 'BEGIN { printf "%.3f", ms / 1000 }')"
  kill -9 $pid 2>/dev/null && killed=yes || killed="no (it had finished)"
  wait $pid 2>/dev/null || true
  berth_bounded 300 --data-dir "$d" resume >"$d.resume.log" 2>&1 || { cat "$d.resume.log" >&2; fail "run $run: resume"; }
  # Killed before its start was durable, the deploy never happened: the user runs it again.
  up_how=resumed
  if [ "$(recorded "$d" deploy)" = 0 ]; then
    up_how="killed before it was recorded, run again"
    berth_bounded 300 --data-dir "$d" up "$EXAMPLE_APP" -p $APP >"$d.up2.log" 2>&1 || { cat "$d.up2.log" >&2; fail "run $run: up again"; }
  fi
  assert_last_status "$d" deploy completed
  assert_example_up $APP
  installs=$(installs_since "$t0" $APP)
  [ "$installs" -ge 1 ] && [ "$installs" -le $((2 + WEDGES)) ] || fail "run $run: $installs install containers (want 1, or 2 when the kill hit the install)"
  installs_total=$((installs_total + installs))
  "$BERTH" --data-dir "$d" replay --verify >/dev/null || fail "run $run: verify"
  # Kill `down` too, early, then resume it.
  "$BERTH" --data-dir "$d" down $APP >"$d.down.log" 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 4))"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  berth_bounded 300 --data-dir "$d" resume >"$d.resume2.log" 2>&1 || { cat "$d.resume2.log" >&2; fail "run $run: resume of down"; }
  # Killed before its start was durable, the down never happened: the user runs it again.
  if [ "$(recorded "$d" undeploy)" = 0 ]; then
    how="killed before it was recorded, run again"
    berth_bounded 300 --data-dir "$d" down $APP >"$d.down2.log" 2>&1 || { cat "$d.down2.log" >&2; fail "run $run: down again"; }
  else
    how="killed and resumed"
    assert_last_status "$d" undeploy completed
  fi
  assert_app_gone $APP
  "$BERTH" --data-dir "$d" replay --verify >/dev/null || fail "run $run: verify after down"
  echo "run $run: killed at ${delay_ms} ms: $killed; up $up_how to the declared app ($installs install container(s)); down $how: nothing left"
done
echo "$RUNS passed, 0 failed ($installs_total install containers in $RUNS runs; $WEDGES engine wedge(s) cured by a daemon restart)"
