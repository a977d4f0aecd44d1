#!/usr/bin/env bash
# Stops the private dockerd started by dockerd-start.sh DIR: SIGTERM, wait up to 20 s
# (dockerd stops its containers first), then SIGKILL. Safe to run twice or on a DIR where
# no daemon runs. Leaves DIR in place (pass --purge to also delete it).
# Usage: scripts/testenv/dockerd-stop.sh DIR [--purge]
set -uo pipefail

DIR=${1:?usage: dockerd-stop.sh DIR [--purge]}
PURGE=${2:-}
WAIT_S=${BERTH_DOCKERD_STOP_WAIT_S:-20}

pid=""
for f in "$DIR/docker.pid" "$DIR/dockerd.launcher-pid"; do
  if [ -z "$pid" ] && [ -f "$f" ]; then pid=$(cat "$f"); fi
done

# Only signal the pid when it is still a dockerd using this DIR (pids are reused).
is_ours() {
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--pidfile=$DIR/docker.pid"
}

if is_ours; then
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((WAIT_S * 10))); do
    is_ours || break
    sleep 0.1
  done
  if is_ours; then
    echo "dockerd-stop: dockerd $pid ignored SIGTERM for ${WAIT_S}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
fi
rm -f "$DIR/docker.pid" "$DIR/dockerd.launcher-pid" "$DIR/docker.sock"

if [ "$PURGE" = "--purge" ]; then
  # Container mounts under exec/data may linger briefly after the daemon exits.
  for m in $(awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$DIR"
fi
exit 0
