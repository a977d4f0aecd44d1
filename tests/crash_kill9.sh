#!/usr/bin/env bash
# Real `kill -9` from outside at random times while 200 synthetic workflows run
# concurrently; after each kill `berth resume` finishes them, every side effect ran exactly
# once, and `berth replay --verify` passes. RUNS (default 50) rounds, each on a fresh data
# directory. Prints the seed; RANDOM_SEED=S replays the same kill times.
BERTH=${1:?usage: crash_kill9.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-50}
WORKFLOWS=${WORKFLOWS:-200}
STEPS=5
SEED=${RANDOM_SEED:-$$}
RANDOM=$SEED
echo "crash_kill9: seed $SEED, $RUNS runs x $WORKFLOWS workflows"
work=$(mktemp -d /tmp/berth-kill9-XXXXXX)
trap 'rm -rf "$work"' EXIT

killed_mid=0
for run in $(seq 1 "$RUNS"); do
  d="$work/run-$run"
  # One detached parent whose children are the concurrent workflows.
  "$BERTH" --data-dir "$d" submit synthetic --detach --id top \
    --input "{\"steps\": $STEPS, \"children\": $WORKFLOWS, \"sleep_ms\": 2, \"fail_rate\": 0.1, \"seed\": 7}" >/dev/null
  "$BERTH" --data-dir "$d" resume >/dev/null 2>&1 &
  pid=$!
  delay_ms=$((RANDOM % 400 + 10))
  sleep "$(printf '0.%03d' $delay_ms)"
  if kill -9 $pid 2>/dev/null; then killed_mid=$((killed_mid + 1)); fi
  wait $pid 2>/dev/null || true
  "$BERTH" --data-dir "$d" resume >/dev/null || fail "run $run: resume after kill at ${delay_ms} ms (seed $SEED)"
  assert_all_status "$d" completed
  n=$("$BERTH" --data-dir "$d" -o json workflows | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  [ "$n" = $((WORKFLOWS + 1)) ] || fail "run $run: $n workflows recorded, want $((WORKFLOWS + 1))"
  assert_effects_once "$d" $(((WORKFLOWS + 1) * STEPS))
  "$BERTH" --data-dir "$d" replay --verify >/dev/null || fail "run $run: verify (seed $SEED)"
  rm -rf "$d"
done
echo "crash_kill9: $RUNS runs, $killed_mid killed mid-run, all resumed with every effect exactly once"
echo "$RUNS passed, 0 failed"
