#!/usr/bin/env bash
# A Docker host of its own on this machine, the way a test needs one: a network namespace
# (loopback only) with a private dockerd inside it, its API on a unix socket in DIR (the
# socket is reachable from the root namespace: the filesystem is shared), its own data and
# exec roots, docker0 and iptables, and the berth/busybox:test image.
#   netns-host.sh start DIR NETNS   start it (idempotent); prints export DOCKER_HOST=...
#   netns-host.sh stop DIR NETNS    stop the daemon, unmount, delete DIR and the namespace
# Uses nsenter, not `ip netns exec` (which remounts /sys: dockerd then fails with "Devices
# cgroup isn't mounted"; DESIGN.md). Needs root. Keep DIR short (socket path < 108 bytes).
set -euo pipefail

ACTION=${1:?usage: netns-host.sh start|stop DIR NETNS}
DIR=${2:?usage: netns-host.sh start|stop DIR NETNS}
NS=${3:?usage: netns-host.sh start|stop DIR NETNS}
HERE=$(cd "$(dirname "$0")" && pwd)

case "$ACTION" in
  start)
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    SOCK="$DIR/docker.sock"
    export DOCKER_HOST="unix://$SOCK"
    if [ -f "$DIR/docker.pid" ] && kill -0 "$(cat "$DIR/docker.pid")" 2>/dev/null && docker version >/dev/null 2>&1; then
      echo "export DOCKER_HOST=$DOCKER_HOST"
      exit 0
    fi
    [ -e "/var/run/netns/$NS" ] || ip netns add "$NS"
    ip -n "$NS" link set lo up
    setsid nsenter --net="/var/run/netns/$NS" dockerd --host="$DOCKER_HOST" --data-root="$DIR/data" \
      --exec-root="$DIR/exec" --pidfile="$DIR/docker.pid" >"$DIR/dockerd.log" 2>&1 </dev/null 3>&- &
    echo $! >"$DIR/dockerd.launcher-pid"
    deadline=$((SECONDS + ${BERTH_DOCKERD_TIMEOUT_S:-30}))
    until docker version >/dev/null 2>&1; do
      if ! kill -0 "$(cat "$DIR/dockerd.launcher-pid")" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
        echo "netns-host: dockerd in $NS did not answer; last log lines:" >&2
        tail -n 20 "$DIR/dockerd.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    "$HERE/busybox-image.sh" >/dev/null
    echo "export DOCKER_HOST=$DOCKER_HOST"
    ;;
  stop)
    "$HERE/dockerd-stop.sh" "$DIR" --purge >/dev/null 2>&1 || true
    # The daemon's containerd shims run in the namespace too: none may outlive it.
    if [ -e "/var/run/netns/$NS" ]; then
      for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
      ip netns del "$NS" 2>/dev/null || true
    fi
    rm -rf "$DIR"
    ;;
  *)
    echo "netns-host: unknown action $ACTION" >&2
    exit 2
    ;;
esac
