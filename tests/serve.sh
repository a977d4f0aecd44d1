#!/usr/bin/env bash
# berth serve: it holds the data directory and answers on <data-dir>/berth.sock (0600);
# `workflows` and `history` through it print exactly what they print in-process (output
# and exit code, table and json); many clients at once; bad requests answered by code; a
# second server refused; SIGTERM stops it cleanly; after kill -9 the stale socket is
# passed over (in-process) and the next server replaces it.
BERTH=${1:?usage: serve.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
set +e  # exit codes are the subject here: each command is checked by hand
work=$(mktemp -d /tmp/berth-serve-XXXXXX)
pid=""
trap '[ -z "$pid" ] || kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
d="$work/data"
sock="$d/berth.sock"
b() { "$BERTH" --data-dir "$d" "$@"; }
b submit synthetic --input '{"steps":3,"noop":true}' --id one >/dev/null || fail "submit one"
b submit synthetic --input '{"steps":1,"noop":true,"children":5}' --id par >/dev/null || fail "submit par"
b submit synthetic --input '{"steps":2,"noop":true}' --id later --detach >/dev/null || fail "submit later"

start_server() { start_berth_server "$d" "$work/serve.err"; }
# Every read command's stdout, stderr and exit code, into directory $1.
snapshot() {
  mkdir -p "$1"
  local i=0
  while read -r line; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    b $line >"$1/$i.out" 2>"$1/$i.err"; echo $? >"$1/$i.rc"
  done <<'CMDS'
workflows
-o json workflows
workflows --limit 2
-o json workflows --limit 2 --after one
workflows --status completed --type synthetic
history one
-o json history par/child-3
history nope
-o json workflows --limit 0
submit synthetic --id one --input {"steps":1,"noop":true}
cancel one
submit nosuchtype
audit
audit --service x
CMDS
}

start_server
grep -q "resumed 1 unfinished" "$work/serve.err" || fail "serve did not resume the detached workflow: $(cat "$work/serve.err")"
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock"), not 600"
# Writes through the server print what they print in-process (the id aside).
b submit synthetic --id via-server --input '{"steps":2,"noop":true}' >"$work/sub-server.out" 2>/dev/null || fail "submit through the server"
b -o json submit synthetic --id det --input '{"steps":1,"noop":true}' --detach >"$work/det.out" || fail "submit --detach"
grep -q '"id":"det"' "$work/det.out" || fail "submit --detach printed $(cat "$work/det.out")"
b -o json submit synthetic --id slow --input '{"steps":50,"sleep_ms":200}' --detach >/dev/null || fail "submit slow"
b cancel slow >"$work/cancel.out" 2>&1 || fail "cancel through the server: $(cat "$work/cancel.out")"
[ "$(cat "$work/cancel.out")" = "slow cancelled" ] || fail "cancel printed $(cat "$work/cancel.out")"
# pause / unpause: nothing new starts while paused, then it finishes.
b submit synthetic --id paused --input '{"steps":30,"sleep_ms":50}' --detach >/dev/null || fail "submit paused"
sleep 0.3
b pause paused >"$work/pause.out" 2>&1 || fail "pause: $(cat "$work/pause.out")"
[ "$(cat "$work/pause.out")" = "paused paused" ] || fail "pause printed $(cat "$work/pause.out")"
events() { b -o json history paused | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
sleep 0.3
n1=$(events); sleep 0.6; n2=$(events)
[ "$n1" = "$n2" ] || fail "a paused workflow went on: $n1 then $n2 events"
b -o json history paused | grep -q WorkflowPaused || fail "no WorkflowPaused in the history"
b unpause paused >/dev/null || fail "unpause"
for _ in $(seq 1 100); do
  [ "$(b -o json workflows --status completed | grep -c '"id":"paused"')" = 1 ] && break
  sleep 0.1
done
[ "$(b -o json workflows --status completed | grep -c '"id":"paused"')" = 1 ] || fail "the unpaused workflow did not finish"
b pause paused 2>/dev/null; [ $? = 2 ] || fail "pause of an ended workflow did not exit 2"
for _ in $(seq 1 100); do  # the resumed and the detached workflows finish
  [ "$(b -o json workflows --status running)" = "[]" ] && break
  sleep 0.1
done
snapshot "$work/with"
# Many clients at once while the server holds the directory.
for i in $(seq 1 24); do (b -o json history par >"$work/c$i.out" 2>&1; echo $? >"$work/c$i.rc") & done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null
for i in $(seq 1 24); do
  [ "$(cat "$work/c$i.rc")" = 0 ] || fail "client $i: $(cat "$work/c$i.out")"
  cmp -s "$work/c1.out" "$work/c$i.out" || fail "client $i read a different history"
done
# Bad requests, answered by code.
code() { curl -s -o "$work/body" -w '%{http_code}' --unix-socket "$sock" "$@"; }
[ "$(code http://berth/v1/nothing)" = 404 ] || fail "unknown route: $(cat "$work/body")"
[ "$(code 'http://berth/v1/workflows?limit=ten')" = 400 ] || fail "bad limit: $(cat "$work/body")"
grep -q "'limit'" "$work/body" || fail "the 400 does not name the parameter: $(cat "$work/body")"
[ "$(code -X PUT http://berth/v1/workflows)" = 405 ] || fail "PUT: $(cat "$work/body")"
[ "$(code -X POST -d '[1' http://berth/v1/workflows)" = 400 ] || fail "malformed JSON: $(cat "$work/body")"
head -c 2000000 /dev/zero | tr '\0' x >"$work/big"
[ "$(code -X POST --data-binary @"$work/big" http://berth/v1/workflows)" = 413 ] || fail "big body"
curl -s --unix-socket "$sock" http://berth/metrics >"$work/metrics" || fail "GET /metrics"
grep -q '^berth_http_requests_total{route="/v1/workflows",code="405"} 1$' "$work/metrics" &&
  grep -q '^# TYPE berth_step_seconds histogram' "$work/metrics" ||
  fail "metrics: $(grep -E "http_requests|TYPE berth_step_seconds" "$work/metrics")"
# One server per data directory; other commands say what holds it.
b serve 2>"$work/second.err"; rc=$?
[ $rc = 2 ] && grep -q "already runs" "$work/second.err" || fail "second serve: rc=$rc $(cat "$work/second.err")"
b replay --verify >"$work/live-verify.out" 2>&1; rc=$?
[ $rc = 0 ] && grep -q "^verified: " "$work/live-verify.out" || fail "replay --verify through the server: rc=$rc $(cat "$work/live-verify.out")"
b -o json replay one --verify | grep -q '"ok":true' || fail "replay of one workflow through the server"
b replay nope --verify 2>"$work/nope.err"; rc=$?
[ $rc = 1 ] && grep -q "no workflow 'nope'" "$work/nope.err" || fail "replay of an unknown workflow through the server: rc=$rc $(cat "$work/nope.err")"
b resume >"$work/resume.out" 2>&1 || fail "resume beside a server: $(cat "$work/resume.out")"
grep -q "nothing to resume" "$work/resume.out" || fail "resume beside a server said: $(cat "$work/resume.out")"
# SIGTERM: a clean stop, the socket removed.
kill -TERM $pid; wait $pid; rc=$?; pid=""
[ $rc = 0 ] || fail "serve exited $rc on SIGTERM: $(cat "$work/serve.err")"
[ ! -e "$sock" ] || fail "the socket is left after SIGTERM"
snapshot "$work/without"
b submit synthetic --id in-process --input '{"steps":2,"noop":true}' >"$work/sub-local.out" 2>/dev/null || fail "submit in-process"
b replay --verify >"$work/verify.out" 2>&1 || fail "replay --verify after the servers: $(cat "$work/verify.out")"
[ "$(sed s/via-server/X/ "$work/sub-server.out")" = "$(sed s/in-process/X/ "$work/sub-local.out")" ] ||
  fail "submit prints differ: $(cat "$work/sub-server.out") vs $(cat "$work/sub-local.out")"
for f in "$work"/with/*; do
  cmp -s "$f" "$work/without/$(basename "$f")" || fail "with and without a server differ in $(basename "$f"): $(diff "$f" "$work/without/$(basename "$f")" | head -5)"
done
[ "$(cat "$work/with/8.rc")" = 2 ] || fail "history of an unknown workflow exited $(cat "$work/with/8.rc")"
for i in 10 11 12 14; do
  [ "$(cat "$work/with/$i.rc")" = 2 ] || fail "error command $i exited $(cat "$work/with/$i.rc")"
done
for i in 1 2 3 4 5 6 7 9; do
  [ "$(cat "$work/with/$i.rc")" = 0 ] && [ -s "$work/with/$i.out" ] || fail "read command $i failed: $(cat "$work/with/$i.err")"
done
grep -q '"id":"par/child-3"' "$work/with/7.out" || grep -q 'par/child-3' "$work/with/9.out" || fail "no child listed"
# kill -9: the stale socket answers nothing; commands run in-process, a new server replaces it.
start_server
kill -9 $pid; wait $pid 2>/dev/null; pid=""
[ -S "$sock" ] || fail "expected the killed server's socket to be left"
b workflows >/dev/null 2>"$work/stale.err" || fail "workflows beside a stale socket: $(cat "$work/stale.err")"
start_server
b history one >/dev/null || fail "history through the second server"
kill -TERM $pid; wait $pid; pid=""
# TCP: a bearer token on every request; TLS required off loopback.
b serve --listen 0.0.0.0:0 2>"$work/any.err"; rc=$?
[ $rc = 2 ] && grep -q "needs TLS" "$work/any.err" || fail "a non-loopback listen without TLS: rc=$rc $(cat "$work/any.err")"
b serve --listen 127.0.0.1 2>"$work/noport.err"; rc=$?
[ $rc = 2 ] && grep -q "ADDRESS:PORT" "$work/noport.err" || fail "a listen without a port: rc=$rc $(cat "$work/noport.err")"
# Starts a TCP server with extra arguments "$@"; sets $pid and $port.
start_tcp() {
  : >"$work/tcp.err"
  "$BERTH" --data-dir "$d" serve --listen 127.0.0.1:0 "$@" 2>>"$work/tcp.err" &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o 'https\?://127.0.0.1:[0-9]*' "$work/tcp.err" | head -1 | sed 's/.*://')
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  fail "berth serve --listen printed no port: $(cat "$work/tcp.err")"
}
start_tcp
tok=$(cat "$d/serve.token")
[ "$(stat -c %a "$d/serve.token")" = 600 ] && [ ${#tok} = 64 ] || fail "token file: mode $(stat -c %a "$d/serve.token"), ${#tok} chars"
tcp() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
[ "$(tcp "http://127.0.0.1:$port/v1/health")" = 401 ] || fail "no token: $(cat "$work/body")"
[ "$(tcp -H "Authorization: Bearer ${tok%?}x" "http://127.0.0.1:$port/v1/health")" = 401 ] || fail "a wrong token was taken"
[ "$(tcp -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/v1/workflows?limit=1")" = 200 ] || fail "the token was refused: $(cat "$work/body")"
curl -s -N -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/v1/workflows/one/events?follow=1" >"$work/follow" || fail "follow over TCP"
tail -1 "$work/follow" | grep -q '^{"workflow":' || fail "the followed stream did not end with its workflow: $(tail -1 "$work/follow")"
[ "$(grep -c '"seq"' "$work/follow")" = "$(b -o json history one | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" ] ||
  fail "the followed stream has $(grep -c '"seq"' "$work/follow") events"
curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/metrics" | grep -q '^berth_http_requests_total{route="unauthenticated",code="401"} 2$' ||
  fail "the two 401s are not in /metrics: $(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/metrics" | grep http_requests)"
kill -TERM $pid; wait $pid; pid=""
grep -q "$tok" "$work/tcp.err" && fail "the token was written to the server's log"
# TLS, with a certificate made here for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null || fail "openssl req"
start_tcp --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
[ "$(tcp --cacert "$work/cert.pem" -H "Authorization: Bearer $tok" "https://127.0.0.1:$port/v1/health")" = 200 ] ||
  fail "over TLS: $(cat "$work/body") $(cat "$work/tcp.err")"
[ "$(tcp "http://127.0.0.1:$port/v1/health")" = 000 ] || fail "plain HTTP was answered on the TLS port"
kill -TERM $pid; wait $pid; pid=""
b serve --listen 127.0.0.1:0 --tls-cert "$work/cert.pem" --tls-key "$work/cert.pem" 2>"$work/badkey.err"; rc=$?
[ $rc = 2 ] && grep -q "cannot load the TLS key" "$work/badkey.err" || fail "a bad key: rc=$rc $(cat "$work/badkey.err")"
chmod 644 "$d/serve.token"
b serve --listen 127.0.0.1:0 2>"$work/mode.err"; rc=$?
[ $rc = 2 ] && grep -q "may be read by others" "$work/mode.err" || fail "a token file others may read: rc=$rc $(cat "$work/mode.err")"
echo "serve: 10 read and 4 refused commands identical with and without a server, 24 concurrent clients, 404/400/405/413, second serve refused, SIGTERM and kill -9 handled; TCP: 401 without or with a wrong token, 200 with it, a followed stream, TLS, refusals (non-loopback without TLS, no port, bad key, readable token file)"
echo "1 passed, 0 failed"
