# Helpers for the deploy tests (source after lib.sh). They talk to the engine DOCKER_HOST
# names: the private dockerd of the ctest fixture (scripts/testenv/docker-fixture.sh).
[ -n "${DOCKER_HOST:-}" ] || fail "DOCKER_HOST is not set (run under ctest, or start scripts/testenv/docker-fixture.sh)"
docker version >/dev/null 2>&1 || fail "no Docker engine at $DOCKER_HOST"

EXAMPLE_APP="$(cd "$(dirname "${BASH_SOURCE[0]}")/../docs/examples/shop" && pwd)/compose.yaml"

# "name state" of every container of app $1, sorted (the engine's own listing, by label).
app_containers() {
  docker ps -a --filter "label=berth.app=$1" --format '{{.Names}} {{.State}}' | sort
}

# The private dockerd behind DOCKER_HOST: its directory, for a restart.
TESTENV="$(cd "$(dirname "${BASH_SOURCE[0]}")/../scripts/testenv" && pwd)"
DOCKERD_DIR=${DOCKER_HOST#unix://}
DOCKERD_DIR=${DOCKERD_DIR%/docker.sock}
exec 3>&2  # the test's own stderr, for notes from helpers whose output a caller redirects

# Restarts the private dockerd (every container stops: no live-restore), waiting $1 s between.
restart_daemon() {
  [ -d "$DOCKERD_DIR" ] && [ "$DOCKERD_DIR" != "$DOCKER_HOST" ] ||
    fail "DOCKER_HOST=$DOCKER_HOST is not a private dockerd's socket"
  "$TESTENV/dockerd-stop.sh" "$DOCKERD_DIR"
  sleep "${1:-1}"
  # (fd 3 closed: a daemon holding the test's stderr would keep ctest waiting for its end)
  eval "$("$TESTENV/dockerd-start.sh" "$DOCKERD_DIR" 3>&-)"
}

# ---- a wedged engine ------------------------------------------------------------------------
# Debian's dockerd 20.10 can keep a container's state lock after the container exited: from
# then on stop, kill, rm -f and inspect of that container hang until the daemon restarts
# (seen once in CI, 2026-12-01: two replicas stopped at the same moment; docs/testing.md).
# That is the engine's fault, not Berth's, and an operator's cure is a daemon restart. The
# tests below run Berth and Docker with time limits; when one runs out of time or fails and
# the engine is wedged, they keep the evidence (dockerd's goroutine dump), restart the
# daemon as an operator would, and run the command once more. Any other failure is the
# test's failure, and more than WEDGES_MAX wedges in one run fail it too.
WEDGES=0
WEDGES_MAX=${BERTH_TEST_WEDGES_MAX:-2}
EVIDENCE_DIR=${BERTH_TEST_EVIDENCE_DIR:-/tmp/berth-test-evidence}

# True when inspecting some Berth container does not answer within 15 s (or listing them
# does not answer within 20 s).
engine_wedged() {
  local ids c rc=0
  ids=$(timeout 20 docker ps -aq --filter label=berth.app 2>/dev/null) || rc=$?
  [ $rc -ne 124 ] || return 0
  for c in $ids; do
    rc=0
    timeout 15 docker inspect "$c" >/dev/null 2>&1 || rc=$?
    [ $rc -ne 124 ] || return 0
  done
  return 1
}

# Keeps dockerd's goroutine dump (SIGUSR1) and says what wedged, then restarts the daemon.
recover_wedge() {
  WEDGES=$((WEDGES + 1))
  local pid stamp
  stamp=$(date +%Y%m%dT%H%M%S)
  mkdir -p "$EVIDENCE_DIR"
  pid=$(cat "$DOCKERD_DIR/docker.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill -USR1 "$pid" 2>/dev/null || true
    sleep 2
    find "$DOCKERD_DIR" -maxdepth 3 -name 'goroutine-stacks-*' -newer "$DOCKERD_DIR/docker.pid" \
      -exec cp {} "$EVIDENCE_DIR/" \; 2>/dev/null || true
  fi
  cp "$DOCKERD_DIR/dockerd.log" "$EVIDENCE_DIR/dockerd-$stamp.log" 2>/dev/null || true
  echo "ENGINE WEDGED ($WEDGES of at most $WEDGES_MAX) after: $*; evidence in $EVIDENCE_DIR; restarting dockerd" >&3
  [ $WEDGES -le $WEDGES_MAX ] || { echo "FAIL: the engine wedged $WEDGES times in one run" >&3; exit 1; }
  restart_daemon 1
}

# Runs `berth ARGS` for at most $1 s; on failure with a wedged engine, recovers and runs it
# once more. Returns the (last) exit status.
berth_bounded() {
  local limit=$1 rc=0
  shift
  timeout -k 5 "$limit" "$BERTH" "$@" || rc=$?
  [ $rc -ne 0 ] || return 0
  engine_wedged || return $rc
  recover_wedge "berth $* (exit $rc)"
  rc=0
  timeout -k 5 "$limit" "$BERTH" "$@" || rc=$?
  return $rc
}

# `docker ARGS` for at most 60 s, with the same recovery.
docker_bounded() {
  local rc=0
  timeout -k 5 60 docker "$@" || rc=$?
  [ $rc -ne 0 ] || return 0
  engine_wedged || return $rc
  recover_wedge "docker $* (exit $rc)"
  timeout -k 5 60 docker "$@"
}

# Removes everything of app $1 behind Berth's back (between test cases).
wipe_app() {
  local ids
  ids=$(docker_bounded ps -aq --filter "label=berth.app=$1")
  [ -z "$ids" ] || docker_bounded rm -f $ids >/dev/null
  ids=$(docker_bounded network ls -q --filter "label=berth.app=$1")
  [ -z "$ids" ] || docker_bounded network rm $ids >/dev/null
}

# Forgets the image cache and built images, so the next deploy installs and builds again.
wipe_images() {
  local refs
  refs=$(docker_bounded images --format '{{.Repository}}:{{.Tag}}' | grep -E '^berth-(cache|build)/' || true)
  [ -z "$refs" ] || docker_bounded rmi -f $refs >/dev/null
}

# How many install containers were created since unix time $1 for app $2.
installs_since() {
  docker events --since "$1" --until "$(date +%s.%N)" --filter type=container --filter event=create \
    --filter "label=berth.role=install" --filter "label=berth.app=$2" --format '{{.ID}}' | wc -l
}

# Asserts app $1 is exactly the example app: the 5 containers, each running.
assert_example_up() {
  local app=$1 want got
  want=$(printf '%s running\n' "$app-api-1" "$app-proxy-1" "$app-web-1" "$app-web-2" "$app-web-3" | sort)
  got=$(app_containers "$app")
  [ "$got" = "$want" ] || fail "app $app is not as declared; engine lists:
$got
want:
$want"
}

assert_app_gone() {
  local app=$1
  [ -z "$(app_containers "$app")" ] || fail "containers of $app left behind: $(app_containers "$app")"
  [ -z "$(docker network ls -q --filter "label=berth.app=$app")" ] || fail "networks of $app left behind"
}

# The last workflow of type $2 in data dir $1 has status $3.
assert_last_status() {
  "$BERTH" --data-dir "$1" -o json workflows --type "$2" | python3 -c '
import json, sys
wfs = sorted(json.load(sys.stdin), key=lambda w: w["started"])
if not wfs or wfs[-1]["status"] != sys.argv[1]:
    print("last %s: %s" % (sys.argv[2], wfs[-1:] or "none"), file=sys.stderr); sys.exit(1)
' "$3" "$2" || {
    # What the team needs to see when it fails in CI, where the data directory is gone.
    local id
    id=$("$BERTH" --data-dir "$1" -o json workflows --type "$2" |
      python3 -c 'import json,sys; w=sorted(json.load(sys.stdin), key=lambda w: w["started"]); print(w[-1]["id"] if w else "")')
    [ -z "$id" ] || { echo "history of $id:" >&2; "$BERTH" --data-dir "$1" history "$id" >&2 || true; }
    echo "the app's containers now: $(app_containers "${APP:-}" | tr '\n' ' ')" >&2
    fail "last $2 workflow in $1 is not $3"
  }
}

# ---- the same checks through a server --------------------------------------------------------
# With BERTH_TEST_SERVER=1 (ctest's *.served variants) a test's commands go through a
# `berth serve` on its data directory: serve_if_asked DIR LOG starts it (setting `pid`;
# the test's trap kills it), served_end MIN checks that at least MIN requests reached it
# (the commands did go through it) and stops it cleanly.
serve_if_asked() {
  [ "${BERTH_TEST_SERVER:-}" = 1 ] || return 0
  start_berth_server "$1" "$2"
  echo "with berth serve on $1"
}
served_end() {
  [ -n "${pid:-}" ] || return 0
  local n
  n=$(curl -s --unix-socket "$D/berth.sock" http://berth/metrics | awk '/^berth_http_requests_total/ {n += $2} END {print n + 0}')
  [ "$n" -ge "$1" ] || fail "only $n requests reached the server: the commands did not go through it"
  kill -TERM $pid
  wait $pid || fail "serve exited $? at SIGTERM"
  pid=""
  echo "ok: $n requests went through berth serve; it stopped cleanly"
}
