#!/usr/bin/env bash
# Berth's main job: install what is needed, build, and deploy the example Compose app
# (docs/examples/shop: a Dockerfile service, 3 replicas of an install-cached service, a
# plain service) onto a Docker engine. The control plane is killed (SIGKILL) in the middle
# of the deploy and `berth resume` finishes it; then `berth ps`, `berth audit`, `berth
# images` show what happened, and the app answers on 127.0.0.1. Then `berth serve` runs:
# a killed container is restarted by its restart policy, on record, a second app is
# deployed in the server while another client reads its progress, and `down` goes through
# the server. Last, three hosts that Berth provisions itself (`berth host add --driver
# local`) form a cloud: an app is placed across them by placement chains, `berth hosts` and
# `berth explain` show it, and the hosts are removed again; `berth replay --verify` checks
# it all.
#
# Engine: $DOCKER_HOST when set, else a private dockerd this script starts (and stops at the
# end) under /tmp/berth-demo-dockerd. Data directory: $BERTH_HOME, else a fresh temp dir.
# Set KEEP=1 to leave the app (and a private engine) running afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
berth="$root/build/tools/berth"
export BERTH_HOME=${BERTH_HOME:-$(mktemp -d /tmp/berth-demo-XXXXXX)}
private=""
if [ -z "${DOCKER_HOST:-}" ]; then
  private=/tmp/berth-demo-dockerd
  echo "== starting a private dockerd under $private"
  eval "$("$root/scripts/testenv/dockerd-start.sh" "$private")"
fi
cleanup() {
  if [ "${KEEP:-}" != 1 ]; then
    "$berth" down shop >/dev/null 2>&1 || true
    "$berth" down shop2 >/dev/null 2>&1 || true
    "$berth" down cloud >/dev/null 2>&1 || true
    for h in h1 h2 h3; do "$berth" host remove --force $h >/dev/null 2>&1 || true; done
    [ -z "$private" ] || "$root/scripts/testenv/dockerd-stop.sh" "$private" --purge
  fi
}
trap cleanup EXIT
echo "== DOCKER_HOST=$DOCKER_HOST, data directory $BERTH_HOME"
"$root/scripts/testenv/busybox-image.sh"
app="$root/docs/examples/shop/compose.yaml"

echo
echo "== berth up $app, killed (SIGKILL) right after its 9th Docker side effect, before"
echo "   that effect is recorded: resume must find it (by its berth.key label) and adopt it"
BERTH_FAULT=crash-after-effect:9 "$berth" up "$app" || echo "(killed, exit $?)"
echo
echo "== berth resume"
"$berth" resume
echo
echo "== berth ps shop"
"$berth" ps shop
echo
echo "== berth audit --container shop-web-2 (every change to it: when, which workflow, by whom, what)"
"$berth" audit --container shop-web-2
echo
echo "== berth images (the install ran once; each web replica is a hit on the committed image)"
"$berth" images
echo
echo "== steps adopted by reconcile after the kill:"
"$berth" -o json workflows --type deploy | python3 -c '
import json, subprocess, sys
for w in json.load(sys.stdin):
    h = json.loads(subprocess.check_output([sys.argv[1], "-o", "json", "history", w["id"]]))
    for e in h:
        if "adopted" in e["summary"]:
            print("  %s seq %d: %s" % (w["id"], e["seq"], e["summary"]))
' "$berth"
echo
port=$("$berth" -o json ps shop | python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin) if x["container"]=="shop-web-2"][0]; print(r["ports"][0].split("->")[0].split(":")[1])')
echo "== curl http://127.0.0.1:$port/ and /id (shop-web-2)"
curl -s --max-time 5 "http://127.0.0.1:$port/"
curl -s --max-time 5 "http://127.0.0.1:$port/id"
echo
echo "== berth up again on the unchanged file: nothing to do"
"$berth" up "$app" 2>/dev/null
echo
echo "== berth serve: one control plane for many clients; the CLI becomes its client"
"$berth" serve 2>"$BERTH_HOME/serve.log" &
serve_pid=$!
for _ in $(seq 1 100); do
  curl -s --unix-socket "$BERTH_HOME/berth.sock" http://berth/v1/health >/dev/null 2>&1 && break
  sleep 0.1
done
cat "$BERTH_HOME/serve.log"
echo
echo "== docker kill shop-proxy-1 (restart: on-failure): the server's restart policy brings it back, on record"
docker kill shop-proxy-1 >/dev/null
for _ in $(seq 1 100); do
  [ "$(docker inspect -f '{{.State.Running}}' shop-proxy-1)" = true ] && break
  sleep 0.1
done
"$berth" ps shop | grep -E "CONTAINER|proxy"
restart=$("$berth" -o json workflows --type restart | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
"$berth" history "$restart"
echo
echo "== berth up of a second app, shop2, in the server, while a second client reads its progress"
"$berth" up "$app" -p shop2 2>/dev/null &
up_pid=$!
deploy=""
for _ in $(seq 1 100); do
  deploy=$("$berth" -o json workflows --type deploy --status running | python3 -c 'import json,sys; w=json.load(sys.stdin); print(w[0]["id"] if w else "")')
  [ -n "$deploy" ] && break
  sleep 0.05
done
[ -z "$deploy" ] || { echo "(second client) $deploy so far:"; "$berth" history "$deploy" | tail -4; }
wait $up_pid
if [ "${KEEP:-}" != 1 ]; then
  echo
  echo "== berth down shop and shop2 through the server, while a second client reads the workflows"
  "$berth" down shop 2>/dev/null &
  down_pid=$!
  "$berth" down shop2 2>/dev/null
  "$berth" workflows --type undeploy
  wait $down_pid
fi
kill -TERM $serve_pid
wait $serve_pid
echo
echo "== many hosts as one cloud: three hosts that Berth provisions on this machine, each a"
echo "   network namespace with its own dockerd on tcp+TLS (berth host add --driver local)"
"$berth" host add h1 --driver local --label zone=a 2>/dev/null
"$berth" host add h2 --driver local --label zone=b 2>/dev/null
"$berth" host add h3 --driver local --label zone=a 2>/dev/null
"$berth" hosts
cloud="$root/docs/examples/cloud/compose.yaml"
echo
echo "== berth up $cloud: each container placed by its service's chain; the worker's"
echo "   install runs on one host, the others pull its image from the cloud's registry"
"$berth" up "$cloud" >"$BERTH_HOME/cloud-up.log" 2>&1 || { cat "$BERTH_HOME/cloud-up.log"; exit 1; }
grep -E "image/|up \(" "$BERTH_HOME/cloud-up.log"
"$berth" ps cloud
echo
echo "== berth images: the install's image, one id on every host that holds it"
"$berth" images
echo
echo "== berth explain cloud-web-2 (the placement decision on record)"
"$berth" explain cloud-web-2
echo
echo "== berth explain cloud-worker-3"
"$berth" explain cloud-worker-3
echo
echo "== a third web replica: no host can take it, and the refusal says why, host by host"
sed 's/replicas: 2}/replicas: 3}/' "$cloud" >"$BERTH_HOME/cloud3.yaml"
"$berth" up "$BERTH_HOME/cloud3.yaml" -p cloud 2>&1 | tail -2 || true
if [ "${KEEP:-}" != 1 ]; then
  echo
  echo "== berth down cloud, then berth host remove h1 h2 h3 (each deprovisioned: no trace)"
  "$berth" down cloud 2>/dev/null
  for h in h1 h2 h3; do "$berth" host remove $h 2>/dev/null; done
  echo
  echo "== berth audit --host h2 (its add, the containers placed on it, its removal)"
  "$berth" audit --host h2 | cut -c1-150 | tail -6
fi
echo
echo "== berth replay --verify (the server stopped: every command runs in-process again)"
"$berth" replay --verify
