#!/usr/bin/env bash
# Many hosts as one cloud, on three real Docker hosts: each a network namespace of its own
# with a private dockerd inside (scripts/testenv/netns-host.sh), added with `berth host add`
# as static hosts. Checks host add/remove/cordon and their refusals, a 3-strategy chain
# (labels, anti-affinity, spread) and max-containers honoured as each host's own engine
# lists it, `berth explain`, a placement that finds no host naming every rejection, kill -9
# at event boundaries of a multi-host deploy resuming to exactly the declared containers,
# a host whose daemon is killed mid-deploy (placed around when it holds nothing of the app,
# waited for when it does), `down` clearing every host, and the same through `berth serve`.
# Needs no other dockerd.
BERTH=${1:?usage: deploy_hosts.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
TESTENV="$(cd "$(dirname "$0")/../scripts/testenv" && pwd)"
work=$(mktemp -d /tmp/bhost-XXXX)
tag=$(basename "$work" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')
pid=""
cleanup() {
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
  for i in 1 2 3; do "$TESTENV/netns-host.sh" stop "$work/h$i" "berth-$tag-$i" || true; done
  rm -rf "$work"
}
trap cleanup EXIT
D="$work/data"
berth() { timeout -k 5 120 "$BERTH" --data-dir "$D" "$@"; }
on() { local h=$1; shift; DOCKER_HOST="unix://$work/h$h/docker.sock" timeout 60 docker "$@"; }
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }

for i in 1 2 3; do "$TESTENV/netns-host.sh" start "$work/h$i" "berth-$tag-$i" >/dev/null; done
ok "three hosts, each a namespace with its own dockerd"

# ---- hosts as durable objects ----------------------------------------------------------------
out=$(berth hosts 2>&1) && [[ "$out" == *"no hosts"* ]] || fail "hosts before any add: $out"
berth host add h1 --endpoint "unix://$work/h1/docker.sock" --label zone=a >/dev/null 2>&1 || fail "add h1"
berth host add h2 --endpoint "unix://$work/h2/docker.sock" --label zone=b >/dev/null 2>&1 || fail "add h2"
berth host add h3 --endpoint "unix://$work/h3/docker.sock" --label zone=a >/dev/null 2>&1 || fail "add h3"
rc=0; out=$(berth host add h1 --endpoint "unix://$work/h1/docker.sock" 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"host h1 exists already"* ]] || fail "a second add of h1 (rc $rc): $out"
rc=0; out=$(berth host add h4 --endpoint "unix://$work/h1/docker.sock" 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"is host h1 already"* ]] || fail "an add of h1's endpoint again (rc $rc): $out"
rc=0; out=$(berth host add h9 --endpoint "unix://$work/nothing.sock" 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"no Docker engine answers at unix://$work/nothing.sock"* ]] || fail "unreachable add (rc $rc): $out"
rc=0; out=$(berth host add Bad_Name --endpoint "unix://$work/h1/docker.sock" 2>&1) || rc=$?
[ $rc = 2 ] && [[ "$out" == *"host name 'Bad_Name'"* ]] || fail "bad name (rc $rc): $out"
rc=0; out=$(berth host add h5 --endpoint "ssh://x" 2>&1) || rc=$?
[ $rc = 2 ] || fail "ssh endpoint (rc $rc): $out"
rc=0; out=$(berth host add h5 --endpoint "unix://$work/h1/docker.sock" --tls-ca /nonexistent --tls-cert a --tls-key b 2>&1) || rc=$?
[ $rc = 2 ] && [[ "$out" == *"TLS files are for tcp://"* ]] || fail "TLS on unix (rc $rc): $out"
berth -o json hosts >"$work/hosts.json"
python3 - "$work/hosts.json" <<'PYEOF' || fail "hosts json"
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["name"] for r in rows] == ["h1", "h2", "h3"], rows
for r in rows:
    for k in ("endpoint", "driver", "labels", "state", "containers", "cpus", "memory", "reserved"):
        assert k in r, (k, r)
    assert r["state"] == "ready" and r["cpus"] > 0 and r["memory"] > 0, r
assert rows[1]["labels"] == {"zone": "b"}, rows[1]
PYEOF
ok "host add: three hosts with their capacity; a duplicate name or endpoint, an unreachable engine, a bad name and bad TLS are refused"

# ---- placement --------------------------------------------------------------------------------
mkdir -p "$work/app"
cat >"$work/app/compose.yaml" <<'YAML'
name: cloud
services:
  web:
    image: berth/busybox:test
    command: ["sh", "-c", "echo hi > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
    init: true
    deploy: {replicas: 2}
    x-berth:
      placement: [{labels: {zone: a}}, {affinity: "NOT TYPE"}, spread]
  worker:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    deploy: {replicas: 3}
    x-berth:
      placement: [{max-containers: 2}]
YAML
F="$work/app/compose.yaml"
berth up "$F" >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "up across three hosts"; }
# Each host's own engine says what it holds.
where() { for i in 1 2 3; do on $i ps --filter label=berth.app=cloud --format "h$i {{.Names}}"; done | sort; }
want="h1 cloud-web-1
h1 cloud-worker-1
h2 cloud-worker-2
h2 cloud-worker-3
h3 cloud-web-2"
[ "$(where)" = "$want" ] || fail "placement: $(where | tr '\n' ';') (want $(echo "$want" | tr '\n' ';'))"
on 1 exec cloud-web-1 wget -q -O - http://127.0.0.1/index.html | grep -qx hi || fail "web on h1 does not serve"
on 3 exec cloud-web-2 wget -q -O - http://127.0.0.1/index.html | grep -qx hi || fail "web on h3 does not serve"
ok "labels + anti-affinity + spread put web on h1 and h3 (zone a, one each); max-containers 2 with depth-first fills h1 then h2"

berth -o json ps >"$work/ps.json"
python3 - "$work/ps.json" <<'PYEOF' || fail "ps json hosts"
import json, sys
rows = {r["container"]: r["host"] for r in json.load(open(sys.argv[1]))}
assert rows == {"cloud-web-1": "h1", "cloud-web-2": "h3", "cloud-worker-1": "h1",
                "cloud-worker-2": "h2", "cloud-worker-3": "h2"}, rows
PYEOF
out=$(berth explain cloud-web-1)
[[ "$out" == *"on host h1"* && "$out" == *"chain: labels -> affinity -> spread"* && "$out" == *"rejected h2: labels: label zone=b, not a"* ]] ||
  fail "explain web-1: $out"
out=$(berth explain cloud-worker-3)
[[ "$out" == *"rejected h1: max-containers: holds 2 containers, at most 2"* ]] || fail "explain worker-3: $out"
berth -o json explain cloud-web-2 | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["host"]=="h3" and d["placement"]["host"]=="h3", d' ||
  fail "explain json"
ok "ps shows each container's host; explain prints the chain, the choice and every rejected host with its reason"

out=$(berth up "$F" 2>&1) && [[ "$out" == *"0 created, 5 kept"* ]] || fail "an unchanged redeploy: $out"
sed 's/replicas: 2}/replicas: 3}/' "$F" >"$work/app/three.yaml"
rc=0; out=$(berth up "$work/app/three.yaml" -p cloud 2>&1) || rc=$?
[ $rc = 1 ] || fail "a third web replica with nowhere to go exited $rc: $out"
[[ "$out" == *"no host fits cloud-web-3: of 3 hosts; affinity rejected h1 (fails affinity NOT TYPE), h3 (fails affinity NOT TYPE); labels rejected h2 (label zone=b, not a)"* ]] ||
  fail "the refusal does not name each host's strategy: $out"
[ "$(where)" = "$want" ] || fail "the refused deploy changed the cloud: $(where | tr '\n' ';')"
ok "a replica that no host can take fails the deploy naming which strategy rejected which host; nothing else changes"

# ---- cordon, remove refused -------------------------------------------------------------------
rc=0; out=$(berth host remove h1 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"host h1 holds 2 containers of Berth's (apps: cloud)"* ]] || fail "remove of a busy host (rc $rc): $out"
berth host cordon h2 >/dev/null 2>&1 || fail "cordon h2"
sed 's/replicas: 3}/replicas: 4}/' "$F" >"$work/app/four.yaml"
berth up "$work/app/four.yaml" -p cloud >"$work/up4.log" 2>&1 || { cat "$work/up4.log"; fail "up with 4 workers"; }
w4=$(for i in 1 2 3; do on $i ps --filter name=cloud-worker-4 --format "h$i"; done)
[ "$w4" = h3 ] || fail "worker 4 on '$w4' (want h3: h1 full, h2 cordoned)"
[ "$(on 2 ps -q --filter label=berth.app=cloud | wc -l)" = 2 ] || fail "the cordon moved h2's containers"
out=$(berth explain cloud-worker-4)
[[ "$out" == *"rejected h2: cordon: cordoned"* ]] || fail "explain worker-4: $out"
berth audit --host h2 >"$work/audit.txt"
grep -q "host-cordon-h2" "$work/audit.txt" && grep -q "cloud-worker-2" "$work/audit.txt" || fail "audit --host h2: $(cat "$work/audit.txt")"
berth host uncordon h2 >/dev/null 2>&1 || fail "uncordon h2"
berth up "$F" >/dev/null 2>&1 || fail "back to 3 workers"
[ "$(where)" = "$want" ] || fail "scaled back: $(where | tr '\n' ';')"
ok "remove of a host with containers refused with the count; a cordoned host keeps its containers and gets no new one; audit --host shows both"

# ---- kill -9 during a multi-host deploy ---------------------------------------------------------
cat >"$work/app/k.yaml" <<'YAML'
name: k9
services:
  a:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    deploy: {replicas: 3}
    x-berth:
      placement: [breadth-first]
YAML
for n in 2 6 10 14; do
  rc=0
  BERTH_FAULT=crash-after-effect:$n berth up "$work/app/k.yaml" >/dev/null 2>&1 || rc=$?
  [ $rc = 137 ] || fail "crash-after-effect:$n: up exited $rc (want killed, 137)"
  berth resume >/dev/null 2>&1 || fail "resume after a kill at effect $n"
  got=$(for i in 1 2 3; do on $i ps -a --filter label=berth.app=k9 --format "h$i {{.Names}} {{.State}}"; done | sort)
  [ "$got" = "h1 k9-a-1 running
h2 k9-a-2 running
h3 k9-a-3 running" ] || fail "after a kill at effect $n and resume: $(echo "$got" | tr '\n' ';')"
  berth down k9 >/dev/null 2>&1 || fail "down k9 after effect $n"
done
ok "killed at side effects 2, 6, 10, 14 of a three-host deploy, resume leaves one container per host, none twice"

# ---- a host that stops answering mid-deploy ----------------------------------------------------
# h3's daemon is killed (kill -9; its data stays): observe retries it for about 25 s, then the log says
# whether h3 may hold any of the app. A new app has nothing there: placed around h3, and its
# decisions say so. The cloud app has web-2 there: the deploy waits for h3 (observe@h3,
# the usual retries) rather than making web-2 again elsewhere, and finishes once h3 is back.
kill -KILL "$(cat "$work/h3/docker.pid")" || fail "kill h3's dockerd"
for _ in $(seq 1 50); do on 3 version >/dev/null 2>&1 || break; sleep 0.1; done
on 3 version >/dev/null 2>&1 && fail "h3 still answers after its daemon was killed"
cat >"$work/app/solo.yaml" <<'YAML'
name: solo
services:
  a:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    x-berth:
      placement: [{hostname: "h[23]"}]
  b:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    x-berth:
      placement: [{hostname: "h3"}]
YAML
rc=0; out=$(berth up "$work/app/solo.yaml" 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"no host fits solo-b-1"* && "$out" == *"skipped h3, which does not answer"* ]] ||
  fail "a service only h3 could take, h3 down (rc $rc): $out"
sed -i '/^  b:/,$d' "$work/app/solo.yaml"
berth up "$work/app/solo.yaml" >"$work/solo.log" 2>&1 || { cat "$work/solo.log"; fail "up of a new app with h3 down"; }
[ "$(on 2 ps --filter label=berth.app=solo --format '{{.Names}} {{.State}}')" = "solo-a-1 running" ] ||
  fail "solo-a-1 is not running on h2: $(on 2 ps -a --filter label=berth.app=solo --format '{{.Names}} {{.State}}')"
out=$(berth explain solo-a-1)
[[ "$out" == *"on host h2"* && "$out" == *"skipped h3: it did not answer"* ]] || fail "explain solo-a-1: $out"
berth -o json explain solo-a-1 | python3 -c 'import json,sys; d=json.load(sys.stdin); assert list(d["placement"]["unreachable"]) == ["h3"], d' ||
  fail "explain json: no unreachable h3"
ok "h3 down: a new app is placed around it and its decision names h3; a service only h3 could take fails saying h3 did not answer"

berth up "$F" >"$work/up.h3.log" 2>&1 &
up=$!
sleep 40
kill -0 $up 2>/dev/null || { cat "$work/up.h3.log"; fail "the cloud app's deploy ended while h3, which holds web-2, was down"; }
"$TESTENV/netns-host.sh" start "$work/h3" "berth-$tag-3" >/dev/null || fail "restart h3's dockerd"
wait $up || { cat "$work/up.h3.log"; fail "the cloud app's deploy after h3 came back"; }
[ "$(where)" = "$want" ] || fail "after h3 came back: $(where | tr '\n' ';') (want $(echo "$want" | tr '\n' ';'))"
[ "$(on 3 ps --filter name=cloud-web-2 --format '{{.State}}')" = running ] || fail "web-2 on h3 is not running again"
berth audit --host h3 >"$work/audit.h3.txt" 2>&1
grep -q 'observe@h3' "$work/audit.h3.txt" || fail "no observe@h3 step in audit --host h3: $(tail -5 "$work/audit.h3.txt")"
berth down solo >/dev/null 2>&1 || fail "down solo"
ok "h3 killed while it holds web-2: the deploy waits for it (observe@h3) and finishes when it is back, nothing made twice"

# ---- group --------------------------------------------------------------------------------------
cat >"$work/app/grp.yaml" <<'YAML'
name: grp
services:
  a:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    deploy: {replicas: 2}
    x-berth: {placement: [group, breadth-first]}
  b:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    x-berth: {placement: [group]}
YAML
berth up "$work/app/grp.yaml" >"$work/grp.log" 2>&1 || { cat "$work/grp.log"; fail "up of a grouped app"; }
got=$(for i in 1 2 3; do on $i ps --filter label=berth.app=grp --format "h$i {{.Names}}"; done | sort)
[ "$got" = "h1 grp-a-1
h1 grp-a-2
h2 grp-b-1" ] || fail "group placement: $(echo "$got" | tr '\n' ';')"
out=$(berth explain grp-b-1)
[[ "$out" == *"rejected h1: group: holds 2 containers of grp's other services"* ]] || fail "explain grp-b-1: $out"
berth down grp >/dev/null 2>&1 || fail "down grp"
ok "group: a service's replicas share one host (over breadth-first), the app's other service gets another, and explain says why"

# ---- down, remove, and through the server -----------------------------------------------------
berth down cloud >/dev/null 2>&1 || fail "down"
for i in 1 2 3; do
  [ -z "$(on $i ps -aq --filter label=berth.app)" ] || fail "h$i still holds containers after down"
  [ -z "$(on $i network ls -q --filter label=berth.app)" ] || fail "h$i still holds networks after down"
done
ok "down removes every container and network from every host"

start_berth_server "$D" "$work/serve.err"
berth up "$F" >"$work/up.served.log" 2>&1 || { cat "$work/up.served.log" "$work/serve.err"; fail "up through the server"; }
[ "$(where)" = "$want" ] || fail "placement through the server: $(where | tr '\n' ';')"
out=$(berth explain cloud-web-1) && [[ "$out" == *"chain: labels -> affinity -> spread"* ]] || fail "explain through the server: $out"
[ "$(berth -o json hosts | python3 -c 'import json,sys; print(sum(r["containers"] for r in json.load(sys.stdin)))')" = 5 ] ||
  fail "hosts through the server"
berth down cloud >/dev/null 2>&1 || fail "down through the server"
for h in h1 h2 h3; do berth host remove "$h" >/dev/null 2>&1 || fail "remove $h through the server"; done
kill -TERM $pid; wait $pid || fail "serve exited $? at SIGTERM"; pid=""
out=$(berth hosts 2>&1) && [[ "$out" == *"no hosts"* ]] || fail "hosts after removing all: $out"
berth replay --verify >/dev/null || fail "replay --verify of the whole log"
ok "through berth serve: up, explain, hosts, down and host remove; replay --verify of the whole log passes"

cleanup
trap - EXIT
for i in 1 2 3; do
  ! ip netns list | grep -q "berth-$tag-$i" || fail "namespace berth-$tag-$i left behind"
  ! pgrep -f -- "--pidfile=$work/h$i/docker.pid" >/dev/null || fail "dockerd of h$i left behind"
done
ok "teardown leaves no namespace or daemon"
echo "deploy_hosts: $checks checks passed"
