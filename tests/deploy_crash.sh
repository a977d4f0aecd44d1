#!/usr/bin/env bash
# Crash `berth up` of the example app (docs/examples/shop: a Dockerfile service, an
# install-cached service with 3 replicas, a plain service with depends_on) at every event
# boundary, with both fault kinds:
#   crash-after-append:N  SIGKILL right after the N-th durable append;
#   crash-after-effect:N  right after the N-th Docker side effect, before it is logged.
# After each crash `berth resume` must leave the app exactly as declared (the engine's own
# listing by label: the 5 containers, running, no others), the install must have run once
# for its image key, `berth replay --verify` must pass, and `berth down` must leave nothing
# of the app behind. BERTH_CRASH_STRIDE=K tries every K-th boundary (quick local runs).
BERTH=${1:?usage: deploy_crash.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
STRIDE=${BERTH_CRASH_STRIDE:-1}
APP=crash
work=$(mktemp -d /tmp/berth-deploy-crash-XXXXXX)
trap 'wipe_app $APP; rm -rf "$work"' EXIT

# A clean deploy: its events are the append boundaries, its ActivityStarted the effects.
wipe_app $APP
wipe_images
berth_bounded 300 --data-dir "$work/clean" up "$EXAMPLE_APP" -p $APP >/dev/null 2>&1 || fail "clean deploy failed"
assert_example_up $APP
id=$("$BERTH" --data-dir "$work/clean" -o json workflows --type deploy | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
read -r events effects < <("$BERTH" --data-dir "$work/clean" -o json history "$id" | python3 -c '
import json, sys
h = json.load(sys.stdin)
print(len(h), sum(1 for e in h if e["type"] == "ActivityStarted"))')
berth_bounded 300 --data-dir "$work/clean" down $APP >/dev/null 2>&1 || fail "clean down failed"
assert_app_gone $APP
echo "clean deploy: $events events, $effects side effects"
appends=$events  # an upper bound on append requests

runs=0
append_runs=0
for kind in append effect; do
  max=$appends; [ $kind = effect ] && max=$effects
  for n in $(seq 1 "$STRIDE" "$max"); do
    d="$work/$kind-$n"
    wipe_app $APP
    wipe_images
    t0=$(date +%s.%N)
    wedges_before=$WEDGES
    set +e
    # A deploy that hangs is killed as the fault would have: SIGKILL, exit 137.
    BERTH_FAULT=crash-after-$kind:$n timeout -s KILL 300 "$BERTH" --data-dir "$d" up "$EXAMPLE_APP" -p $APP >"$d.up.log" 2>&1
    rc=$?
    set -e
    # Appends of steps that finish together share one durable write, so a deploy makes
    # fewer append requests than events: past the last one the deploy just completes.
    if [ $rc -eq 0 ] && [ $kind = append ]; then
      assert_example_up $APP
      echo "crash-after-append:$n is past the last append request: the deploy completed"
      break
    fi
    [ $rc -eq 137 ] || { cat "$d.up.log" >&2; fail "crash-after-$kind:$n: expected SIGKILL (137), got $rc"; }
    berth_bounded 300 --data-dir "$d" resume >"$d.resume.log" 2>&1 || { cat "$d.resume.log" >&2; fail "resume after crash-after-$kind:$n"; }
    assert_last_status "$d" deploy completed
    assert_example_up $APP
    installs=$(installs_since "$t0" $APP)
    # (A daemon restart that cured a wedged engine may have cut an install short: then twice.)
    [ "$installs" = 1 ] || { [ $WEDGES -gt $wedges_before ] && [ "$installs" = 2 ]; } ||
      fail "crash-after-$kind:$n: the install ran $installs times (want 1)"
    "$BERTH" --data-dir "$d" replay --verify >/dev/null || fail "verify after crash-after-$kind:$n"
    berth_bounded 300 --data-dir "$d" down $APP >"$d.down.log" 2>&1 || { cat "$d.down.log" >&2; fail "down after crash-after-$kind:$n"; }
    assert_app_gone $APP
    "$BERTH" --data-dir "$d" replay --verify >/dev/null || fail "verify after down (crash-after-$kind:$n)"
    runs=$((runs + 1))
    [ $kind = effect ] || append_runs=$runs
    echo "crash-after-$kind:$n ok"
  done
done
echo "deploy crash boundaries ($WEDGES engine wedge(s) cured by a daemon restart): $runs crashes ($append_runs after appends, $((runs - append_runs)) after effects; stride $STRIDE): each resumed to exactly the declared app, install once, verify passed, down left nothing"
