#!/usr/bin/env bash
# Hosts that Berth provisions itself (`berth host add --driver local`): each a network
# namespace with a veth to the cloud's bridge and a private dockerd inside on tcp+TLS from
# the cloud's CA (adapters/hosts/local). Checks: three hosts provisioned, an app placed
# across them by a 3-strategy chain and reached on each, the host workflow killed (kill -9)
# at every event boundary and mid-provision resuming to exactly one daemon and namespace,
# a host that cannot be reached over TLS without the cloud's certificate, an install run
# once in the cloud and pulled by the other hosts from the registry Berth runs (also after
# the registry is killed), and the whole cloud torn down leaving no namespace, bridge,
# iptables rule, daemon, registry, mount or file.
# Needs no other dockerd (the base image is imported from busybox-static).
BERTH=${1:?usage: deploy_local_hosts.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/blh-XXXX)
D="$work/data"
unset DOCKER_HOST  # a cloud of local hosts needs no engine beside them
pid=""
berth() { timeout -k 5 180 "$BERTH" --data-dir "$D" "$@"; }
cleanup() {
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
  # Whatever a failed run left: every host the log knows, then anything named after them.
  remove_all_hosts "$D"
  rm -rf "$work"
}
trap cleanup EXIT
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
netns_count() { ip netns list | grep -c "^berth-${mine#bb}-$1\b" || true; }
daemon_count() { pgrep -f -- "--pidfile=$D/hosts/$1/docker.pid" | wc -l; }
bridge() { ip -br link | awk '{print $1}' | grep -E '^bb[0-9a-f]{6}$' || true; }
bridges_before=$(bridge | sort | tr '\n' ' ')

for h in "l1 a" "l2 b" "l3 a"; do
  set -- $h
  berth host add "$1" --driver local --label zone="$2" >"$work/add-$1.log" 2>&1 || { cat "$work/add-$1.log"; fail "add $1"; }
done
mine=$(comm -13 <(echo "$bridges_before" | tr ' ' '\n' | sort) <(bridge | sort) | head -1)
[ -n "$mine" ] || fail "no bridge of this cloud's appeared"
berth -o json hosts >"$work/hosts.json"
python3 - "$work/hosts.json" <<'PYEOF' || fail "hosts json"
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["name"] for r in rows] == ["l1", "l2", "l3"], rows
for r in rows:
    assert r["driver"] == "local" and r["state"] == "ready" and r["tls"] and r["endpoint"].startswith("tcp://10.213."), r
assert len({r["endpoint"] for r in rows}) == 3, rows
PYEOF
for h in l1 l2 l3; do
  [ "$(netns_count $h)" = 1 ] && [ "$(daemon_count $h)" = 1 ] || fail "$h: $(netns_count $h) namespaces, $(daemon_count $h) daemons"
done
ok "three local hosts provisioned, each its namespace and dockerd on tcp+TLS"

# Without the cloud's client certificate the engine refuses the connection.
ep=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["endpoint"][6:])' "$work/hosts.json")
rc=0; curl -s -k --max-time 5 "https://$ep/version" >/dev/null 2>&1 || rc=$?
[ $rc != 0 ] || fail "l1's engine answered without a client certificate"
rc=0; out=$(berth host add lx --endpoint "tcp://$ep" 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"no Docker engine answers"* || "$out" == *"is host l1 already"* ]] || fail "plain add of a TLS engine (rc $rc): $out"
ok "a local host's engine refuses a client without the cloud's certificate"

mkdir -p "$work/app"
cat >"$work/app/compose.yaml" <<'YAML'
name: lc
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
berth up "$work/app/compose.yaml" >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "up on local hosts"; }
berth -o json ps >"$work/ps.json"
python3 - "$work/ps.json" <<'PYEOF' || fail "placement on local hosts"
import json, sys
rows = {r["container"]: (r["host"], r["status"]) for r in json.load(open(sys.argv[1]))}
want = {"lc-web-1": "l1", "lc-web-2": "l3", "lc-worker-1": "l1", "lc-worker-2": "l2", "lc-worker-3": "l2"}
assert {c: h for c, (h, s) in rows.items()} == want, rows
assert all(s == "running" for h, s in rows.values()), rows
PYEOF
for h in l1 l3; do
  ns=$(python3 -c 'import json,sys; print([r for r in json.load(open(sys.argv[1])) if r["name"]==sys.argv[2]][0]["netns"])' "$work/hosts.json" $h)
  nsenter --net=/var/run/netns/$ns true || fail "namespace $ns of $h"
done
out=$(berth explain lc-web-2) && [[ "$out" == *"on host l3"* && "$out" == *"rejected l2: labels"* ]] || fail "explain: $out"
berth down lc >/dev/null 2>&1 || fail "down lc"
ok "an app placed across the local hosts by labels + anti-affinity + spread and max-containers; down clears it"

# CPU reservations (deploy.resources.reservations.cpus): each host has 2 CPUs, so 1.5 each
# puts one replica per host even with the default depth-first, and a fourth has no room.
cat >"$work/app/cpu.yaml" <<'YAML'
name: cpu
services:
  busy:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    deploy: {replicas: 3, resources: {reservations: {cpus: "1.5"}}}
YAML
berth up "$work/app/cpu.yaml" >"$work/cpu.log" 2>&1 || { cat "$work/cpu.log"; fail "up cpu"; }
berth -o json ps cpu | python3 -c 'import json,sys; r=json.load(sys.stdin); assert sorted(x["host"] for x in r) == ["l1", "l2", "l3"], r' ||
  fail "cpu reservations: not one replica per host"
berth -o json hosts | python3 -c 'import json,sys; r=json.load(sys.stdin); assert all(h["reserved"]["cpus"] == 1.5 for h in r), [h["reserved"] for h in r]' ||
  fail "berth hosts does not show 1.5 CPUs reserved on each host"
sed 's/replicas: 3,/replicas: 4,/' "$work/app/cpu.yaml" >"$work/app/cpu4.yaml"
rc=0; out=$(berth up "$work/app/cpu4.yaml" 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"needs 1.5 CPUs reserved, 0.5 of 2 free"* ]] || fail "a fourth 1.5-CPU replica (rc $rc): $out"
berth down cpu >/dev/null 2>&1 || fail "down cpu"
ok "CPU reservations place one 1.5-CPU replica per 2-CPU host, shown by berth hosts; a fourth is refused saying why"

# ---- images across hosts: the cloud's registry ----------------------------------------------------
# An install runs on one host; its committed image is pushed to the registry Berth runs on
# the bridge and pulled by the others, so the whole cloud holds one install and one image id.
hd() {  # hd HOST docker-args...: the docker CLI on a local host, with the cloud's client certificate
  local h=$1; shift
  local ep; ep=$(python3 -c 'import json,sys; print([r for r in json.load(open(sys.argv[1])) if r["name"]==sys.argv[2]][0]["endpoint"])' "$work/hosts.json" "$h")
  timeout 60 docker --tlsverify --tlscacert "$D/hosts/ca/ca.pem" --tlscert "$D/hosts/ca/client.pem" --tlskey "$D/hosts/ca/client-key.pem" -H "$ep" "$@"
}
last_deploy() {  # the app's latest deploy (the listing is in id order; ids are random)
  berth -o json workflows --type deploy | python3 -c 'import json,sys; print(max((w["started"], w["id"]) for w in json.load(sys.stdin) if w["id"].startswith("deploy-"+sys.argv[1]+"-"))[1])' "$1"
}
hows() {  # the image steps' outcomes in a deploy: "installed:l1 pulled:l2 ..." sorted
  berth -o json history "$1" | python3 -c '
import json, sys
out = []
for e in json.load(sys.stdin):
    d = e.get("detail") or {}
    if e["type"] == "ActivityCompleted" and d.get("step", "").startswith("image/"):
        out.append(json.loads(d["result"])["how"] + ":" + d["step"].split("@")[-1])
print(" ".join(sorted(out)))'
}
cat >"$work/app/inst.yaml" <<'YAML'
name: inst
services:
  app:
    image: berth/busybox:test
    command: ["httpd", "-f", "-p", "80", "-h", "/opt/app"]
    init: true
    deploy: {replicas: 1}
    x-berth:
      placement: [breadth-first]
      install: ["mkdir -p /opt/app && echo v1 > /opt/app/index.html"]
YAML
sed 's/replicas: 1/replicas: 3/' "$work/app/inst.yaml" >"$work/app/inst3.yaml"
berth up "$work/app/inst.yaml" >"$work/inst1.log" 2>&1 || { cat "$work/inst1.log"; fail "up inst (1 replica)"; }
[ "$(hows "$(last_deploy inst)")" = "installed:l1" ] || fail "first inst deploy: $(hows "$(last_deploy inst)")"
berth up "$work/app/inst3.yaml" >"$work/inst3.log" 2>&1 || { cat "$work/inst3.log"; fail "up inst (3 replicas)"; }
[ "$(hows "$(last_deploy inst)")" = "cache-hit:l1 pulled:l2 pulled:l3" ] || fail "scale to 3: $(hows "$(last_deploy inst)")"
ids=""
for h in l1 l2 l3; do
  c=$(hd $h ps -q --filter label=berth.app=inst)
  [ "$(echo $c | wc -w)" = 1 ] || fail "$h holds containers '$c' of inst (want one)"
  [ "$(hd $h exec "$c" cat /opt/app/index.html)" = v1 ] || fail "$h's replica does not serve the install's file"
  ids="$ids $(hd $h inspect -f '{{.Image}}' "$c")"
done
[ "$(echo $ids | tr ' ' '\n' | sort -u | wc -l)" = 1 ] || fail "image ids differ across hosts:$ids"
berth -o json images | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["service"] == "app" and r["kind"] == "install-cache"]
assert len(rows) == 1 and rows[0]["hosts"] == ["l1", "l2", "l3"] and ":" not in rows[0]["image"].split("/")[0], rows
' || fail "berth images does not show the one image on l1, l2 and l3"
ok "an install runs once in the cloud: the scale to 3 hosts pulls it from the registry, one image id on every host"

# The registry killed (-9): the next push restarts it, on the storage it had.
pkill -9 -f -- "$D/hosts/registry/config.yml" || fail "no registry process of this cloud's to kill"
sed 's/echo v1/echo v2/' "$work/app/inst3.yaml" >"$work/app/inst3b.yaml"
berth up "$work/app/inst3b.yaml" >"$work/inst3b.log" 2>&1 || { cat "$work/inst3b.log"; fail "up after the registry was killed"; }
[ "$(hows "$(last_deploy inst)")" = "installed:l1 pulled:l2 pulled:l3" ] || fail "changed install: $(hows "$(last_deploy inst)")"
[ "$(pgrep -f -- "$D/hosts/registry/config.yml" | wc -l)" = 1 ] || fail "the registry was not restarted"
for h in l2 l3; do
  [ "$(hd $h exec "$(hd $h ps -q --filter label=berth.app=inst)" cat /opt/app/index.html)" = v2 ] || fail "$h does not serve v2"
done
berth down inst >/dev/null 2>&1 || fail "down inst"
ok "a registry killed with -9 is restarted by the next deploy that needs it, which installs once and pulls twice"

# ---- provisioning when no host fits ---------------------------------------------------------------
cat >"$work/app/grow.yaml" <<'YAML'
name: grow
x-berth:
  cloud: {driver: local, max_hosts: 4, labels: {zone: c}}
services:
  web:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    init: true
    deploy: {replicas: 4}
    x-berth:
      placement: [distinct-hosts]
YAML
auto_hosts() { berth -o json hosts | python3 -c 'import json,sys; print(" ".join(r["name"] for r in json.load(sys.stdin) if r["name"].startswith("auto-")))'; }
check_grown() {  # $1: what happened before
  local autos
  autos=$(auto_hosts)
  [ "$(echo $autos | wc -w)" = 1 ] || fail "$1: provisioned hosts '$autos' (want exactly one)"
  berth -o json ps grow | python3 -c '
import json, sys
rows = json.load(sys.stdin)
hosts = sorted(r["host"] for r in rows)
assert len(rows) == 4 and len(set(hosts)) == 4 and all(r["status"] == "running" for r in rows), rows
assert [h for h in hosts if h.startswith("auto-")] == [sys.argv[1]], (hosts, sys.argv[1])
' "$autos" || fail "$1: grow's containers"
  [ "$(netns_count "$autos")" = 1 ] && [ "$(daemon_count "$autos")" = 1 ] || fail "$1: $autos has $(netns_count "$autos") ns, $(daemon_count "$autos") daemons"
}
ungrow() {
  berth down grow >/dev/null 2>&1 || fail "down grow"
  for h in $(auto_hosts); do berth host remove "$h" >/dev/null 2>&1 || fail "remove $h"; done
}
berth up "$work/app/grow.yaml" >"$work/grow.log" 2>&1 || { cat "$work/grow.log"; fail "up that provisions"; }
check_grown "up that provisions"
grep -q "ChildStarted.*provision-1 (host)" <(berth history "$(last_deploy grow)") ||
  fail "the provision is not a child of the deploy on record"
sed 's/replicas: 4}/replicas: 5}/' "$work/app/grow.yaml" >"$work/app/grow5.yaml"
rc=0; out=$(berth up "$work/app/grow5.yaml" 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"the cloud is at its limit of 4 hosts (x-berth.cloud.max_hosts), so none is provisioned"* ]] ||
  fail "a fifth replica at max_hosts (rc $rc): $out"
check_grown "a refused fifth replica"
ungrow
for n in 3 8 12 18; do
  rc=0
  BERTH_FAULT=crash-after-append:$n berth up "$work/app/grow.yaml" >/dev/null 2>&1 || rc=$?
  [ $rc = 137 ] || fail "a provisioning deploy killed after append $n exited $rc"
  berth resume >"$work/resume-grow-$n.log" 2>&1 || { cat "$work/resume-grow-$n.log"; fail "resume after append $n"; }
  check_grown "killed after append $n and resumed"
  ungrow
done
ok "a replica no host fits provisions a host (a child host workflow, on record), exactly once also when killed at 4 appends; at max_hosts the deploy fails saying so"

# ---- kill -9 of the host workflow --------------------------------------------------------------
# Appends of `host add` (driver local): started, inventory started/done, provision
# started/done, describe started/done, completed. Killed after each, resumed: one host.
for n in 1 2 3 4 5 6 7; do
  rc=0
  BERTH_FAULT=crash-after-append:$n berth host add k$n --driver local >/dev/null 2>&1 || rc=$?
  [ $rc = 137 ] || fail "host add killed after append $n exited $rc (want 137)"
  berth resume >"$work/resume-$n.log" 2>&1 || { cat "$work/resume-$n.log"; fail "resume after append $n"; }
  [ "$(netns_count k$n)" = 1 ] && [ "$(daemon_count k$n)" = 1 ] ||
    fail "after a kill at append $n: $(netns_count k$n) namespaces, $(daemon_count k$n) daemons of k$n"
  berth -o json hosts | python3 -c 'import json,sys; r=[h for h in json.load(sys.stdin) if h["name"]==sys.argv[1]]; assert len(r)==1 and r[0]["state"]=="ready", r' "k$n" ||
    fail "k$n not ready after a kill at append $n"
  berth host remove "k$n" >/dev/null 2>&1 || fail "remove k$n"
  [ "$(netns_count k$n)" = 0 ] && [ "$(daemon_count k$n)" = 0 ] || fail "k$n left a trace after remove"
done
# And in the middle of the provision itself (its commands, the daemon's start).
for delay in 0.15 0.4; do
  "$BERTH" --data-dir "$D" host add km --driver local >/dev/null 2>&1 &
  bg=$!
  sleep $delay
  kill -9 $bg 2>/dev/null || true
  wait $bg 2>/dev/null || true
  berth resume >/dev/null 2>&1 || fail "resume after a kill $delay s into a provision"
  if berth -o json hosts | grep -q '"km"'; then
    [ "$(netns_count km)" = 1 ] && [ "$(daemon_count km)" = 1 ] || fail "km after a kill at $delay s: $(netns_count km) ns, $(daemon_count km) daemons"
    berth host remove km >/dev/null 2>&1 || fail "remove km"
  fi
  [ "$(netns_count km)" = 0 ] && [ "$(daemon_count km)" = 0 ] || fail "km left a trace (kill at $delay s)"
done
ok "the host workflow killed after each of its 7 appends and twice mid-provision resumes to exactly one daemon and namespace"

# ---- teardown -------------------------------------------------------------------------------
rc=0; out=$(berth host remove l9 2>&1) || rc=$?
[ $rc = 1 ] && [[ "$out" == *"no host l9 in the cloud (hosts: l1, l2, l3)"* ]] || fail "remove of an unknown host: $out"
for h in l1 l2 l3; do berth host remove $h >/dev/null 2>&1 || fail "remove $h"; done
[ "$(ip netns list | grep -c "^berth-${mine#bb}-")" = 0 ] || fail "namespaces left: $(ip netns list)"
[ "$(pgrep -f -- "--pidfile=$D/hosts/" | wc -l)" = 0 ] || fail "daemons left"
[ "$(pgrep -f -- "$D/hosts/registry/" | wc -l)" = 0 ] || fail "the registry is still running"
[ "$(bridge | sort | tr '\n' ' ')" = "$bridges_before" ] || fail "bridge left: $(bridge)"
! iptables -S FORWARD | grep -q -- "-i $mine " || fail "iptables rule left: $(iptables -S FORWARD | grep "$mine")"
! grep -q "$D/hosts/\|/run/berth-" /proc/mounts || fail "mounts left: $(grep "$D/hosts/\|/run/berth-" /proc/mounts | head -3)"
[ -z "$(ls "$D/hosts" 2>/dev/null)" ] || fail "files left in $D/hosts: $(ls "$D/hosts")"
berth replay --verify >/dev/null || fail "replay --verify"
ok "the whole cloud torn down leaves no namespace, bridge, iptables rule, daemon, mount or file; replay --verify passes"
echo "deploy_local_hosts: $checks checks passed"
