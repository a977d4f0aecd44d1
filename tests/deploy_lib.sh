# Helpers for the deploy tests (source after lib.sh). They talk to the engine DOCKER_HOST
# names: the private dockerd of the ctest fixture (scripts/testenv/docker-fixture.sh).
[ -n "${DOCKER_HOST:-}" ] || fail "DOCKER_HOST is not set (run under ctest, or start scripts/testenv/docker-fixture.sh)"
docker version >/dev/null 2>&1 || fail "no Docker engine at $DOCKER_HOST"

EXAMPLE_APP="$(cd "$(dirname "${BASH_SOURCE[0]}")/../docs/examples/shop" && pwd)/compose.yaml"

# "name state" of every container of app $1, sorted (the engine's own listing, by label).
app_containers() {
  docker ps -a --filter "label=berth.app=$1" --format '{{.Names}} {{.State}}' | sort
}

# Removes everything of app $1 behind Berth's back (between test cases).
wipe_app() {
  local ids
  ids=$(docker ps -aq --filter "label=berth.app=$1")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  ids=$(docker network ls -q --filter "label=berth.app=$1")
  [ -z "$ids" ] || docker network rm $ids >/dev/null
}

# Forgets the image cache and built images, so the next deploy installs and builds again.
wipe_images() {
  local refs
  refs=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^berth-(cache|build)/' || true)
  [ -z "$refs" ] || docker rmi -f $refs >/dev/null
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
' "$3" "$2" || fail "last $2 workflow in $1 is not $3"
}
