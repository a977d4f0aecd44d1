#!/usr/bin/env bash
# Starts a private dockerd whose every file lives under DIR, waits until it answers, and
# prints the line that points clients at it:
#   export DOCKER_HOST=unix://DIR/docker.sock
# Usage: eval "$(scripts/testenv/dockerd-start.sh /tmp/berth-dockerd-XXXX)"
#
# Keep DIR short: the socket path must fit in 108 bytes (sun_path). Needs root.
# Extra dockerd flags may be passed in BERTH_DOCKERD_FLAGS (e.g. "--iptables=false" on a
# kernel that refuses iptables nat; containers on a user-defined bridge then need
# `iptables -I FORWARD -i BRIDGE -o BRIDGE -j ACCEPT` when the FORWARD policy is DROP).
# Never pass --bridge=none: it deletes docker0 of any other daemon on the machine.
# Exit status: 0 when the daemon answers; 1 (with the log tail on stderr) otherwise.
set -euo pipefail

DIR=${1:?usage: dockerd-start.sh DIR}
TIMEOUT_S=${BERTH_DOCKERD_TIMEOUT_S:-30}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
SOCK="$DIR/docker.sock"
if [ ${#SOCK} -ge 108 ]; then
  echo "dockerd-start: socket path $SOCK is too long (${#SOCK} >= 108)" >&2
  exit 1
fi

export DOCKER_HOST="unix://$SOCK"

# Already running (e.g. the fixture ran twice): reuse it.
if [ -f "$DIR/docker.pid" ] && kill -0 "$(cat "$DIR/docker.pid")" 2>/dev/null \
    && docker version >/dev/null 2>&1; then
  echo "export DOCKER_HOST=$DOCKER_HOST"
  exit 0
fi

# Two daemons on the default bridge would share docker0 (and hand out the same addresses)
# and the second would rewrite the first's iptables chains. So a daemon without a bridge
# of its own waits (up to BERTH_DOCKERD_WAIT_OTHER_S, default 300 s) until no other such
# dockerd runs; a lock makes check-and-start atomic between concurrent test runs.
other_default_bridge_daemon() {
  local p cmd
  for p in $(pgrep -x dockerd); do
    cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    case "$cmd" in
      *--bridge=*|*"--pidfile=$DIR/docker.pid"*|"") continue ;;
    esac
    echo "$p $cmd"
    return 0
  done
  return 1
}
case " ${BERTH_DOCKERD_FLAGS:-} " in
  *" --bridge="*) ;;
  *)
    exec 9>/tmp/berth-dockerd-start.lock
    flock 9
    wait_deadline=$((SECONDS + ${BERTH_DOCKERD_WAIT_OTHER_S:-300}))
    while other=$(other_default_bridge_daemon); do
      if [ $SECONDS -ge $wait_deadline ]; then
        echo "dockerd-start: another dockerd uses the default bridge: $other" >&2
        echo "dockerd-start: stop it, or give this one --bridge=... in BERTH_DOCKERD_FLAGS" >&2
        exit 1
      fi
      [ -n "${announced:-}" ] || echo "dockerd-start: waiting for dockerd ${other%% *} to stop" >&2
      announced=1
      sleep 1
    done
    ;;
esac

# shellcheck disable=SC2086  # BERTH_DOCKERD_FLAGS is a word list on purpose.
setsid dockerd --host="$DOCKER_HOST" --data-root="$DIR/data" --exec-root="$DIR/exec" \
  --pidfile="$DIR/docker.pid" ${BERTH_DOCKERD_FLAGS:-} \
  >"$DIR/dockerd.log" 2>&1 </dev/null 3>&- 9>&- &
echo $! >"$DIR/dockerd.launcher-pid"

deadline=$((SECONDS + TIMEOUT_S))
until docker version >/dev/null 2>&1; do
  if ! kill -0 "$(cat "$DIR/dockerd.launcher-pid")" 2>/dev/null; then
    echo "dockerd-start: dockerd exited; last log lines:" >&2
    tail -n 20 "$DIR/dockerd.log" >&2
    exit 1
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "dockerd-start: no answer within ${TIMEOUT_S}s; last log lines:" >&2
    tail -n 20 "$DIR/dockerd.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "export DOCKER_HOST=$DOCKER_HOST"
