#!/usr/bin/env bash
# Two networks with one name, on a real engine. Docker 20.10 lets that happen: a create
# whose answer was lost (berth killed in the middle of the call) can land beside the one
# the resumed step made (CI, 2026-12-02: deploy.kill9 run 7 then failed its start with
# "network kill9_default is ambiguous (2 matches found on name)"). The duplicates are made
# here the way Docker lets them be (CheckDuplicate false, straight to the API). `berth up`
# must still deploy, join every container to one network by id and remove the empty spare;
# a spare that lands after the deploy must break neither a change nor `berth down`, which
# removes every network of the name.
BERTH=${1:?usage: deploy_network_twice.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
work=$(mktemp -d /tmp/berth-deploy-nets-XXXXXX)
A=twice
trap 'wipe_app $A; rm -rf "$work"' EXIT
D="$work/data"
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
wipe_app $A
sock=${DOCKER_HOST#unix://}

# A network named $1 labelled as app $A's, made without Docker's duplicate check.
late_network() {
  curl -sf --max-time 30 --unix-socket "$sock" -H 'Content-Type: application/json' \
    -d "{\"Name\":\"$1\",\"CheckDuplicate\":false,\"Labels\":{\"berth.app\":\"$A\"}}" \
    http://docker/v1.41/networks/create >/dev/null || fail "creating a second network $1"
}
# The ids of the networks named exactly $1.
networks_named() {
  docker network ls --no-trunc --filter "label=berth.app=$A" --format '{{.ID}} {{.Name}}' |
    awk -v n="$1" '$2 == n { print $1 }'
}

cat >"$work/compose.yaml" <<'EOF'
services:
  web:
    image: berth/busybox:test
    command: ["sleep", "1000"]
    deploy: {replicas: 2}
    networks: [default, back]
  db:
    image: berth/busybox:test
    command: ["sleep", "1000"]
    networks: [back]
networks:
  back: {}
EOF

late_network ${A}_default
late_network ${A}_default
late_network ${A}_back
late_network ${A}_back
[ "$(networks_named ${A}_default | wc -l)" = 2 ] || fail "the engine refused the duplicate (not Docker 20.10?)"
berth_bounded 300 --data-dir "$D" up "$work/compose.yaml" -p $A >"$work/up1.log" 2>&1 ||
  { cat "$work/up1.log"; fail "up beside two networks of each name"; }
for n in default back; do
  ids=$(networks_named ${A}_$n)
  [ "$(echo "$ids" | wc -l)" = 1 ] || fail "${A}_$n: $(echo $ids) left, want the one in use"
  for c in $(docker ps -q --filter "label=berth.app=$A"); do
    joined=$(docker inspect -f "{{with index .NetworkSettings.Networks \"${A}_$n\"}}{{.NetworkID}}{{end}}" "$c")
    name=$(docker inspect -f '{{.Name}}' "$c")
    case "$name:$n" in /$A-db-1:default) continue ;; esac
    [ "$joined" = "$ids" ] || fail "$name joined ${A}_$n as '$joined', not $ids"
  done
done
ok "up deployed beside two networks of each name: every container joined the one kept, the spares are gone"

# One more lands after the deploy; a change (a third replica) still joins the one in use.
kept=$(networks_named ${A}_default)
late_network ${A}_default
sed -i 's/replicas: 2/replicas: 3/' "$work/compose.yaml"
berth_bounded 300 --data-dir "$D" up "$work/compose.yaml" -p $A >"$work/up2.log" 2>&1 ||
  { cat "$work/up2.log"; fail "up of a change with a spare landed"; }
[ "$(networks_named ${A}_default)" = "$kept" ] || fail "after the change: $(networks_named ${A}_default | xargs), want $kept"
[ "$(docker inspect -f '{{.State.Running}}' $A-web-3)" = true ] || fail "$A-web-3 is not running"
ok "a spare that landed after the deploy broke no change and was removed"

late_network ${A}_back
berth_bounded 300 --data-dir "$D" down $A >"$work/down.log" 2>&1 || { cat "$work/down.log"; fail "down"; }
assert_app_gone $A
"$BERTH" --data-dir "$D" replay --verify >/dev/null || fail "replay --verify"
ok "down removed every network of each name; replay verifies"
echo "$checks passed, 0 failed"
