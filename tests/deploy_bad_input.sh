#!/usr/bin/env bash
# Bad input to `berth up`, each answered with a clear error, a non-zero exit and nothing
# half-made: malformed YAML (file:line:col), every problem of an invalid file at once, an
# image that does not exist, no Docker engine, a published port already taken, an install
# command that fails, a customize command that never ends (cancelled). Failures of a started deploy are in the log (a failed workflow whose
# error names the service and the step). With BERTH_TEST_SERVER=1 (ctest
# deploy.bad_input.served) the commands on the first data directory go through a server.
BERTH=${1:?usage: deploy_bad_input.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
work=$(mktemp -d /tmp/berth-deploy-bad-XXXXXX)
A=badin
pid=""
trap '[ -z "$pid" ] || kill -9 $pid 2>/dev/null; wipe_app $A; wipe_app ${A}2; wipe_app ${A}3; rm -rf "$work"' EXIT
D="$work/data"
serve_if_asked "$D" "$work/serve.err"
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }

# expect RC PATTERN -- berth args...: exit code RC and stderr matching PATTERN (grep -E).
expect() {
  local want_rc=$1 pattern=$2; shift 3
  set +e
  "$BERTH" --data-dir "$D" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  set -e
  [ $rc -eq "$want_rc" ] || { cat "$work/err" >&2; fail "berth $*: exit $rc, want $want_rc"; }
  grep -qE -- "$pattern" "$work/err" || { cat "$work/err" >&2; fail "berth $*: stderr lacks /$pattern/"; }
}

# A failed deploy: the log has it failed, with the service and step in its error, and the
# engine has no container of the app that is not running.
assert_failed_cleanly() {
  local what=$1
  "$BERTH" --data-dir "$D" -o json workflows --type deploy --status failed | python3 -c '
import json, sys
wfs = json.load(sys.stdin)
assert wfs and "service" in wfs[-1]["error"] and "step" in wfs[-1]["error"], wfs' \
    || fail "$what: the log does not record the failure with service and step"
  local half
  half=$(docker ps -a --filter "label=berth.app=$A" --filter status=created --filter status=exited --format '{{.Names}}')
  [ -z "$half" ] || fail "$what: half-made containers left: $half"
}

cat >"$work/broken.yaml" <<'EOF'
services:
  web:
    image: berth/busybox:test
    ports: ["80:80"
  db: {image: x}
EOF
expect 2 'broken.yaml:[0-9]+:[0-9]+' -- up "$work/broken.yaml" -p $A
ok "malformed YAML: $(head -1 "$work/err")"

cat >"$work/invalid.yaml" <<'EOF'
services:
  web:
    image: berth/busybox:test
    depends_on: [nope]
    deploy: {replicas: -1}
  db:
    storage_opt: {size: 1G}
EOF
expect 2 'invalid.yaml:4:' -- up "$work/invalid.yaml" -p $A
grep -q 'invalid.yaml:5:' "$work/err" && grep -q 'storage_opt' "$work/err" && grep -qE 'invalid.yaml:[0-9]+:[0-9]+: .*(image|build)' "$work/err" \
  || { cat "$work/err"; fail "invalid.yaml: not every problem reported with its place"; }
ok "invalid file: $(grep -c 'invalid.yaml:' "$work/err") problems reported at once, each with line:col"

expect 2 'cannot read|No such file' -- up "$work/missing.yaml" -p $A
ok "missing file: $(head -1 "$work/err")"

cat >"$work/noimage.yaml" <<'EOF'
services:
  web:
    image: berth/does-not-exist:1
    command: ["sleep", "100"]
EOF
expect 1 'service web: step image/web: .*does-not-exist' -- up "$work/noimage.yaml" -p $A
assert_failed_cleanly "missing image"
ok "missing image: $(grep 'deploy of' "$work/err")"

# No engine is exit 3, a bad blueprint exit 2: a script can tell them apart.
DOCKER_HOST=unix://$work/no-such.sock expect 3 'cannot reach the Docker engine at unix://.*no-such.sock' -- up "$EXAMPLE_APP" -p $A
ok "Docker unreachable: $(head -1 "$work/err")"
DOCKER_HOST=unix://$work/no-such.sock expect 3 'cannot reach the Docker engine' -- ps
DOCKER_HOST=unix://$work/no-such.sock expect 2 'broken.yaml:[0-9]+:[0-9]+' -- up "$work/broken.yaml" -p $A
ok "a bad blueprint is exit 2 even with no engine: it is checked first"
# A file of networks alone is valid Compose (`config` shows it), and `up` has nothing to do.
printf 'networks:\n  backend: {}\n' > "$work/no-services.yaml"
expect 0 'no `services`' -- config -q "$work/no-services.yaml"
DOCKER_HOST=unix://$work/no-such.sock expect 2 'nothing to deploy: no service is declared' -- up "$work/no-services.yaml" -p $A
ok "a file with no services: config warns, up refuses before any engine call"

# A port taken by a listener of our own on 127.0.0.1.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$work/port" &
holder=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
cat >"$work/port.yaml" <<EOF
services:
  web:
    image: berth/busybox:test
    init: true
    command: ["httpd", "-f", "-p", "80"]
    ports: ["127.0.0.1:$port:80"]
EOF
expect 1 "service web: step start/web/1: .*($port|address already in use)" -- up "$work/port.yaml" -p $A
kill $holder 2>/dev/null || true
assert_failed_cleanly "port taken"
[ -z "$(docker ps -aq --filter label=berth.app=$A --filter label=berth.service=web)" ] || fail "port taken: the created container was left"
ok "port taken: $(grep 'deploy of' "$work/err" | cut -c1-160)"

cat >"$work/install.yaml" <<'EOF'
services:
  web:
    image: berth/busybox:test
    command: ["sleep", "1000"]
    deploy: {replicas: 2}
    x-berth:
      install: ["echo preparing", "echo broken >&2; exit 3"]
EOF
expect 1 'service web: step image/web: install command 2 of 2 .*exited with 3: broken' -- up "$work/install.yaml" -p ${A}2
[ -z "$(docker ps -aq --filter label=berth.app=${A}2)" ] || fail "failing install left containers: $(docker ps -a --filter label=berth.app=${A}2)"
ok "failing install: $(grep 'deploy of' "$work/err" | cut -c1-160)"

# A customize command that never ends, berth killed while it runs, then `berth cancel`: the
# cancel interrupts the step (the command is killed in the container, not run again) and
# undoes the container instead of waiting for it (issue 7: "one stuck workflow").
cat >"$work/stuck.yaml" <<'EOF'
services:
  web:
    image: berth/busybox:test
    command: ["sleep", "100000"]
    x-berth:
      customize: ["sleep 100001"]
EOF
S="$work/stuck-data"
"$BERTH" --data-dir "$S" up "$work/stuck.yaml" -p ${A}3 >"$work/stuck.out" 2>&1 &
up_pid=$!
started=""
for _ in $(seq 600); do
  c=$(docker ps -q --filter label=berth.app=${A}3)
  if [ -n "$c" ] && docker top "$c" 2>/dev/null | grep -q "sleep 100001"; then started=1; break; fi
  sleep 0.1
done
[ -n "$started" ] || { cat "$work/stuck.out" >&2; fail "stuck customize: the command never started"; }
kill -9 $up_pid; wait $up_pid 2>/dev/null || true
wf=$("$BERTH" --data-dir "$S" -o json workflows --type deploy | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
set +e
timeout 120 "$BERTH" --data-dir "$S" cancel "$wf" >"$work/cancel.out" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || { cat "$work/cancel.out" >&2; fail "stuck customize: cancel exit $rc (124: it hung)"; }
grep -q cancelled "$work/cancel.out" || fail "stuck customize: cancel says $(cat "$work/cancel.out")"
[ -z "$(docker ps -aq --filter label=berth.app=${A}3)" ] || fail "stuck customize: the half-made container was left"
runs=$("$BERTH" --data-dir "$S" -o json history "$wf" | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["type"] == "ActivityStarted" and e["summary"].startswith("customize/")))')
[ "$runs" -le 2 ] || fail "stuck customize: the step was started $runs times"
ok "stuck customize: cancel after kill -9 interrupted it and undid the container ($runs attempt(s) recorded)"
wipe_app ${A}3

"$BERTH" --data-dir "$D" replay --verify >/dev/null || fail "replay --verify after the failures"
ok "replay --verify passes over the failed deploys"
served_end 5
echo "$checks passed, 0 failed"
