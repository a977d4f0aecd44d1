#!/usr/bin/env bash
# What `berth up` promises, checked on a real engine with the example app:
# it serves (through ports published on 127.0.0.1), ps/images/audit report it, re-running
# an unchanged file changes nothing, replicas scale without installing again, a changed
# definition replaces its containers, a stopped container is started again, another app
# with the same install reuses the cache, --no-cache installs per container, and down
# leaves nothing but the images.
# With BERTH_TEST_SERVER=1 (ctest deploy.behaviour.served) the same checks run with a
# `berth serve` on the data directory, so every command goes through it (CLI-with-server);
# it is stopped for the last one, replay --verify, which needs the directory to itself.
BERTH=${1:?usage: deploy_behaviour.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
work=$(mktemp -d /tmp/berth-deploy-XXXXXX)
A=behave B2=behave2 C=behave3
pid=""
trap '[ -z "$pid" ] || kill -9 $pid 2>/dev/null; wipe_app $A; wipe_app $B2; wipe_app $C; wipe_app behave4; rm -rf "$work"' EXIT
D="$work/data"
berth() { "$BERTH" --data-dir "$D" "$@"; }
serve_if_asked "$D" "$work/serve.err"
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }

# A copy of the example app we can edit.
cp -r "$(dirname "$EXAMPLE_APP")" "$work/app"
F="$work/app/compose.yaml"
wipe_app $A; wipe_images

t0=$(date +%s.%N)
berth up "$F" -p $A >"$work/up1.log" 2>&1 || { cat "$work/up1.log"; fail "first up"; }
assert_example_up $A
[ "$(installs_since "$t0" $A)" = 1 ] || fail "3 replicas deployed together installed $(installs_since "$t0" $A) times (want 1)"
ok "first up: 5 containers running, one install for 3 replicas"

# ps: the documented fields, and the service answers on its published port.
berth -o json ps $A >"$work/ps.json"
python3 - "$work/ps.json" <<'EOF' || fail "ps json lacks fields"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 5, rows
for r in rows:
    for k in ("app", "service", "container", "host", "image", "status", "ip"):
        assert r.get(k), (k, r)
web = [r for r in rows if r["service"] == "web"]
assert all(r["image"].startswith("berth-cache/web:") for r in web), web
EOF
port=$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x["container"].endswith("web-2")][0]; print(r["ports"][0].split("->")[0].split(":")[1])' "$work/ps.json")
[ "$(curl -s --max-time 5 "http://127.0.0.1:$port/")" = "hello from berth" ] || fail "web-2 does not serve the installed page on 127.0.0.1:$port"
[ "$(curl -s --max-time 5 "http://127.0.0.1:$port/id")" = "$A-web-2" ] || fail "customize did not run in web-2"
ok "ps fields; web-2 serves the installed page and its customized id on 127.0.0.1:$port"

berth -o json images >"$work/images.json"
python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
web = [r for r in rows if r["kind"] == "install-cache" and r["service"] == "web"]
assert web and web[0]["hits"] >= 3, rows
assert any(r["kind"] == "build" and r["service"] == "api" for r in rows), rows
' "$work/images.json" || fail "images does not list the cache with its containers: $(cat "$work/images.json")"
ok "images lists berth-cache/web with its containers and the built api image"

berth -o json audit --container $A-web-1 >"$work/audit.json"
python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
steps = " ".join(r["what"] for r in rows)
for s in ("create/web/1", "start/web/1", "customize/web/1", "healthy/web/1"):
    assert s in steps, (s, steps)
assert all(r["workflow"].startswith("deploy-") and r["by"] and r["time"] for r in rows), rows
' "$work/audit.json" || fail "audit --container misses steps: $(head -c 600 "$work/audit.json")"
n_app=$(berth -o json audit --app $A | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
n_svc=$(berth -o json audit --app $A --service web | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n_svc" -gt 0 ] && [ "$n_app" -gt "$n_svc" ] || fail "audit --app ($n_app) / --service ($n_svc) counts"
ok "audit by container ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/audit.json") events), service ($n_svc), app ($n_app)"

# Unchanged file: nothing happens.
ids_before=$(docker ps -q --filter label=berth.app=$A | sort)
berth -o json up "$F" -p $A 2>/dev/null | grep -q '"created":0' || fail "re-up of an unchanged file created containers"
[ "$(docker ps -q --filter label=berth.app=$A | sort)" = "$ids_before" ] || fail "re-up changed the containers"
ok "re-up of an unchanged file keeps all 5 containers"

# Scale 3 -> 5: two new replicas from the cache, no install.
sed -i 's/replicas: 3/replicas: 5/' "$F"
t0=$(date +%s.%N)
berth -o json up "$F" -p $A 2>/dev/null | grep -q '"created":2' || fail "scale to 5 did not create 2"
[ "$(docker ps -q --filter label=berth.app=$A --filter label=berth.service=web | wc -l)" = 5 ] || fail "not 5 web replicas"
[ "$(installs_since "$t0" $A)" = 0 ] || fail "scaling up installed again"
ok "scale 3 -> 5 created 2 from the cache without installing"
sed -i 's/replicas: 5/replicas: 2/' "$F"
berth -o json up "$F" -p $A 2>/dev/null | grep -q '"removed":3' || fail "scale to 2 did not remove 3"
[ "$(docker ps -aq --filter label=berth.app=$A --filter label=berth.service=web | wc -l)" = 2 ] || fail "not 2 web replicas"
ok "scale 5 -> 2 removed 3"

# A changed definition replaces that service's containers only.
api_id=$(docker ps -q --filter name=$A-api-1)
sed -i 's|echo "$BERTH_INSTANCE" > /srv/www/id|echo "id=$BERTH_INSTANCE" > /srv/www/id|' "$F"
berth up "$F" -p $A >/dev/null 2>&1 || fail "up with a changed customize"
port=$(berth -o json ps $A | python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin) if x["container"].endswith("web-1")][0]; print(r["ports"][0].split("->")[0].split(":")[1])')
[ "$(curl -s --max-time 5 "http://127.0.0.1:$port/id")" = "id=$A-web-1" ] || fail "web-1 was not replaced with the new customize"
[ "$(docker ps -q --filter name=$A-api-1)" = "$api_id" ] || fail "api was replaced though unchanged"
ok "changed customize replaced web, kept api"

# A container stopped behind Berth's back is started again.
docker stop -t 1 $A-proxy-1 >/dev/null
berth -o json up "$F" -p $A 2>/dev/null | grep -q '"started":1' || fail "up did not restart the stopped proxy"
[ "$(docker inspect -f '{{.State.Running}}' $A-proxy-1)" = true ] || fail "proxy not running"
ok "a stopped container is started again by up"

# Another app, same install: a cache hit.
t0=$(date +%s.%N)
berth up "$EXAMPLE_APP" -p $B2 >"$work/up2.log" 2>&1 || { cat "$work/up2.log"; fail "second app"; }
grep -q "cache-hit" "$work/up2.log" || fail "second app did not hit the cache: $(cat "$work/up2.log")"
[ "$(installs_since "$t0" $B2)" = 0 ] || fail "second app installed"
ok "another app with the same install key started from the cache"

# --no-cache: every container installs for itself.
t0=$(date +%s.%N)
berth up "$EXAMPLE_APP" -p $C --no-cache >"$work/up3.log" 2>&1 || { cat "$work/up3.log"; fail "--no-cache up"; }
grep -q "install/web/3" "$work/up3.log" || fail "--no-cache did not install per container"
for i in 1 2 3; do
  [ "$(docker exec $C-web-$i cat /srv/www/index.html)" = "hello from berth" ] || fail "$C-web-$i lacks the install"
done
ok "--no-cache ran the install in each of 3 containers"

# retry: a deploy that failed because its port was taken, re-run from its create step once
# the port is free; on record, and verified by replay below.
R=behave4
wipe_app $R
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' "$rport" &
holder=$!
sleep 0.3
printf 'services:\n  web:\n    image: berth/busybox:test\n    init: true\n    command: ["httpd", "-f", "-p", "80", "-h", "/"]\n    ports: ["127.0.0.1:%s:80"]\n' "$rport" >"$work/taken.yaml"
rc=0; berth up "$work/taken.yaml" -p $R >/dev/null 2>"$work/taken.err" || rc=$?
[ $rc = 1 ] && grep -q "step start/web/1" "$work/taken.err" || fail "up on a taken port: rc=$rc $(tail -3 "$work/taken.err")"
rid=$(berth -o json workflows --type deploy --status failed | python3 -c 'import json,sys; print([w["id"] for w in json.load(sys.stdin) if w["id"].startswith("deploy-'$R'-")][0])')
rc=0; berth retry "$rid" --from nosuch/step 2>"$work/retry-bad.err" || rc=$?
[ $rc = 2 ] && grep -q "its steps: .*create/web/1" "$work/retry-bad.err" || fail "retry from an unknown step: rc=$rc $(cat "$work/retry-bad.err")"
kill $holder; wait $holder 2>/dev/null || true
berth retry "$rid" --from create/web/1 >"$work/retry.out" 2>"$work/retry.err" || fail "retry: $(cat "$work/retry.err") $(cat "$work/retry.out") $(berth history "$rid" | tail -8)"
grep -q "^$rid completed" "$work/retry.out" || fail "retry printed $(cat "$work/retry.out")"
[ "$(docker inspect -f '{{.State.Running}}' $R-web-1)" = true ] || fail "the retried deploy did not start $R-web-1"
berth -o json history "$rid" | python3 -c '
import json, sys
ev = json.load(sys.stdin)
types = [e["type"] for e in ev]
assert types.count("WorkflowRetried") == 1 and types.count("WorkflowFailed") == 1 and types[-1] == "WorkflowCompleted", types
r = [e for e in ev if e["type"] == "WorkflowRetried"][0]
assert r["actor"] == "user" and "from create/web/1" in r["summary"], r
' || fail "the retry is not on record as expected"
rc=0; berth retry "$rid" --from create/web/1 2>"$work/retry-again.err" || rc=$?
[ $rc = 2 ] && grep -q "only a failed workflow" "$work/retry-again.err" || fail "retry of a completed deploy: rc=$rc"
ok "retry --from create/web/1 of a deploy that failed on a taken port: completed, on record; unknown step and completed workflow refused"

for app in $A $B2 $C $R; do
  berth down $app >/dev/null 2>&1 || fail "down $app"
  assert_app_gone $app
done
docker image inspect "$(python3 -c 'import json,sys; print([r["image"] for r in json.load(open(sys.argv[1])) if r["kind"]=="install-cache"][0])' "$work/images.json")" >/dev/null \
  || fail "down removed the cached image"
ok "down removed every container and network of 4 apps; the cache stays"
served_end 20
berth replay --verify >/dev/null || fail "replay --verify"
ok "replay --verify passes over $(berth -o json workflows | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') workflows"
echo "$checks passed, 0 failed"
