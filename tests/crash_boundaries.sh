#!/usr/bin/env bash
# Crash at every event boundary of a 5-step synthetic workflow, with both fault kinds:
#   crash-after-append:N  the process SIGKILLs itself right after its N-th durable append;
#   crash-after-effect:N  right after the N-th side effect, before its completion is logged.
# After each crash `berth resume` must finish the workflow, every effect must have run
# exactly once (reconcile adopts, never redoes), and `berth replay --verify` must pass.
BERTH=${1:?usage: crash_boundaries.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/berth-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
STEPS=5
INPUT="{\"steps\": $STEPS}"

# How many appends a clean run makes: that is the number of boundaries.
"$BERTH" --data-dir "$work/clean" submit synthetic --input "$INPUT" --id wf >/dev/null
appends=$("$BERTH" --data-dir "$work/clean" -o json history wf | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$appends" -ge $((2 * STEPS + 2)) ] || fail "clean run made only $appends events"

runs=0
for kind in append effect; do
  max=$appends; [ $kind = effect ] && max=$STEPS
  for n in $(seq 1 "$max"); do
    d="$work/$kind-$n"
    set +e
    BERTH_FAULT=crash-after-$kind:$n "$BERTH" --data-dir "$d" submit synthetic --input "$INPUT" --id wf >/dev/null 2>&1
    rc=$?
    set -e
    [ $rc -eq 137 ] || fail "crash-after-$kind:$n: expected SIGKILL (137), got $rc"
    "$BERTH" --data-dir "$d" resume >/dev/null || fail "resume after crash-after-$kind:$n"
    assert_all_status "$d" completed
    assert_effects_once "$d" $STEPS
    "$BERTH" --data-dir "$d" replay --verify >/dev/null || fail "verify after crash-after-$kind:$n"
    runs=$((runs + 1))
  done
done
echo "crash boundaries: $runs crashes ($appends append boundaries + $STEPS effect boundaries), all resumed exactly once"
echo "$runs passed, 0 failed"
