#!/usr/bin/env bash
# The Docker daemon restarts in the middle of `berth up`: the calls that find it gone fail
# as unavailable and are retried with backoff, and the deploy completes once it is back.
# A restart (this daemon runs without --live-restore, as DESIGN.md starts it) stops every
# container: a container Berth is still waiting on is started again by its healthy step;
# one whose deploy steps had all finished before the restart is started again by the next
# `berth up`, which this test runs and counts.
BERTH=${1:?usage: deploy_restart.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
work=$(mktemp -d /tmp/berth-deploy-restart-XXXXXX)
APP=restart
trap 'wipe_app $APP 2>/dev/null; rm -rf "$work"' EXIT

wipe_app $APP
wipe_images
rounds=0
for wait_for in "$APP-api-1" "$APP-web-2"; do
  "$BERTH" --data-dir "$work/data" up "$EXAMPLE_APP" -p $APP >"$work/up.log" 2>&1 &
  up=$!
  # Restart as soon as $wait_for runs: mid-deploy, with steps in flight. (Not earlier: a
  # container whose start the engine is still executing when it shuts down is killed by
  # the engine itself, live-restore or not; that deploy then fails at healthy and the
  # next `berth up` starts the container again.)
  for _ in $(seq 300); do
    docker ps -q --filter "name=^$wait_for\$" --filter status=running 2>/dev/null | grep -q . && break
    sleep 0.02
  done
  restart_daemon 1
  set +e
  wait $up
  rc=$?
  set -e
  [ $rc -eq 0 ] || { cat "$work/up.log" >&2; fail "deploy did not complete after the daemon restart (exit $rc)"; }
  retries=$(grep -c "will retry" "$work/up.log" || true)
  stopped=$(docker ps -a --filter "label=berth.app=$APP" --filter status=exited -q | wc -l)
  "$BERTH" --data-dir "$work/data" -o json up "$EXAMPLE_APP" -p $APP >"$work/up2.json" 2>/dev/null || fail "second up"
  assert_example_up $APP
  echo "ok: daemon restarted once $wait_for ran; the deploy retried $retries step(s) and completed;" \
    "$stopped container(s) it had finished were stopped by the restart, and the next up started them: $(cat "$work/up2.json")"
  "$BERTH" --data-dir "$work/data" replay --verify >/dev/null || fail "verify"
  "$BERTH" --data-dir "$work/data" down $APP >/dev/null 2>&1 || fail "down"
  assert_app_gone $APP
  rounds=$((rounds + 1))
done
echo "$rounds passed, 0 failed"
