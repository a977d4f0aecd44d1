#!/usr/bin/env bash
# The ctest fixture for tests that need a Docker engine (adapters/docker/CMakeLists.txt).
#   docker-fixture.sh start DIR   private dockerd in DIR + the berth/busybox:test image
#   docker-fixture.sh stop DIR    stop it and delete DIR
# With BERTH_SKIP_DOCKER=1 both do nothing (the tests then skip themselves). Without it a
# daemon that cannot start fails the setup, and ctest reports every engine test as failed.
set -euo pipefail

ACTION=${1:?usage: docker-fixture.sh start|stop DIR}
DIR=${2:?usage: docker-fixture.sh start|stop DIR}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "${BERTH_SKIP_DOCKER:-}" = 1 ]; then
  echo "docker-fixture: BERTH_SKIP_DOCKER=1, not touching dockerd"
  exit 0
fi

case "$ACTION" in
  start)
    started=$(date +%s.%N)
    eval "$("$HERE/dockerd-start.sh" "$DIR")"
    ready=$(date +%s.%N)
    "$HERE/busybox-image.sh"
    echo "docker-fixture: dockerd answered after $(awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.2f", b - a }') s;" \
      "DOCKER_HOST=$DOCKER_HOST"
    ;;
  stop)
    "$HERE/dockerd-stop.sh" "$DIR" --purge
    ;;
  *)
    echo "docker-fixture: unknown action $ACTION" >&2
    exit 2
    ;;
esac
