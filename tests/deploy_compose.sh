#!/usr/bin/env bash
# Compose keys people's files use, deployed on a real engine and read back with
# `docker inspect`: container_name, .env interpolation, env_file under environment,
# profiles (a service left out, then enabled with --profile), and per-container keys that
# go into the create body as they are (cap_add/cap_drop, read_only with tmpfs, extra_hosts,
# ulimits, mem_limit, cpus, shm_size, dns_search, tty), an anonymous volume (removed by
# down) and a bind mount with engine options (ro,z), port ranges (a container range, a host
# range for one port), an external network, network driver_opts and internal,
# network_mode service:X (one network namespace), links on network_mode bridge, configs and
# secrets, and build
# target and labels. With
# BERTH_TEST_SERVER=1 (ctest deploy.compose.served) every command goes through a server.
BERTH=${1:?usage: deploy_compose.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
work=$(mktemp -d /tmp/berth-deploy-compose-XXXXXX)
A=compat
pid=""
trap '[ -z "$pid" ] || kill -9 $pid 2>/dev/null; wipe_app $A; docker network rm compat-ext >/dev/null 2>&1; rm -rf "$work"' EXIT
D="$work/data"
serve_if_asked "$D" "$work/serve.err"
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
wipe_app $A
docker_bounded rm -f compat-db >/dev/null 2>&1 || true
docker network rm compat-ext >/dev/null 2>&1 || true
docker_bounded network create compat-ext >/dev/null  # someone else's network: external

mkdir -p "$work/app/built" "$work/app/conf"
echo from-the-host >"$work/app/conf/app.conf"
cat >"$work/app/built/Dockerfile" <<'EOF'
FROM berth/busybox:test AS first
RUN echo first > /stage
COPY . /ctx
FROM berth/busybox:test AS second
RUN echo second > /stage
EOF
cat >"$work/app/.env" <<'EOF'
BERTH_COMPAT_PORT_NAME=from-dotenv
WEB_CMD=httpd -f -p 80 -h /
EOF
echo "SECRET=do-not-ship" >"$work/app/built/.env"
echo "kept" >"$work/app/built/kept.txt"
printf '.env\n' >"$work/app/built/.dockerignore"
cat >"$work/app/web.env" <<'EOF'
# service env_file: below `environment`
FROM_FILE=file
SHADOWED=file
EOF
cat >"$work/app/compose.yaml" <<'EOF'
services:
  web:
    image: berth/busybox:test
    command: ${WEB_CMD}
    env_file: web.env
    environment:
      SHADOWED: environment
      INTERPOLATED: ${BERTH_COMPAT_PORT_NAME}
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE, SETUID, SETGID]
    read_only: true
    tmpfs: ["/tmp:size=8m"]
    extra_hosts: ["db.example:10.1.2.3"]
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    mem_limit: 64m
    cpus: "0.5"
    shm_size: 16m
    dns_search: [example.org]
    tty: true
    volumes: ["/var/cache/anon", "./conf:/etc/conf:ro,z"]
    ports: ["127.0.0.1::8080-8081", "127.0.0.1:18090-18099:80"]
  db:
    image: berth/busybox:test
    container_name: compat-db
    command: ["sleep", "3600"]
    init: true
    networks: [default, ext]
    volumes: ["/shared"]
    configs: [appconf]
    secrets: [{source: token, target: api-token}]
  reader:
    image: berth/busybox:test
    command: ["sleep", "3600"]
    init: true
    volumes_from: ["db:ro"]
    networks: [default, back]
    ipc: shareable
  built:
    build:
      context: ./built
      target: first
      labels: {team: berth}
    command: ["sleep", "3600"]
    init: true
  isolated:
    image: berth/busybox:test
    command: ["sleep", "3600"]
    init: true
    network_mode: none
  sidecar:
    image: berth/busybox:test
    command: ["sleep", "3600"]
    init: true
    network_mode: "service:reader"
    ipc: "service:reader"
  legacy:
    image: berth/busybox:test
    command: ["sleep", "3600"]
    init: true
    network_mode: bridge
    links: ["isolated2:old"]
  isolated2:
    image: berth/busybox:test
    command: ["sleep", "3600"]
    init: true
    network_mode: bridge
  debug:
    image: berth/busybox:test
    command: ["sleep", "3600"]
    init: true
    profiles: [debug]
networks:
  ext: {external: true, name: compat-ext}
  default:
    driver_opts: {com.docker.network.driver.mtu: "1400"}
  back: {internal: true}
configs:
  appconf: {file: ./conf/app.conf}
secrets:
  token: {file: ./token.txt}
EOF
echo s3cret >"$work/app/token.txt"

berth_bounded 300 --data-dir "$D" up "$work/app/compose.yaml" -p $A >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "up"; }
got=$(app_containers $A | tr '\n' ' ')
[ "$got" = "compat-built-1 running compat-db running compat-isolated-1 running compat-isolated2-1 running compat-legacy-1 running compat-reader-1 running compat-sidecar-1 running compat-web-1 running " ] || fail "containers: $got (want compat-built-1, compat-db, compat-isolated-1, compat-reader-1, compat-sidecar-1 and compat-web-1, no debug)"
ok "container_name: compat-db; the debug service (profile debug) was left out"

docker inspect compat-web-1 >"$work/web.json"
python3 - "$work/web.json" "$work/app" <<'EOF' || fail "compat-web-1 is not as the file says"
import json, sys
c = json.load(open(sys.argv[1]))[0]
cfg, host = c["Config"], c["HostConfig"]
env = dict(e.split("=", 1) for e in cfg["Env"])
checks = {
    "env_file value": env.get("FROM_FILE") == "file",
    "environment over env_file": env.get("SHADOWED") == "environment",
    ".env interpolation": env.get("INTERPOLATED") == "from-dotenv",
    ".env in command": cfg["Cmd"] == ["httpd", "-f", "-p", "80", "-h", "/"],
    "cap_drop": host["CapDrop"] == ["ALL"],
    "cap_add": sorted(host["CapAdd"]) == ["NET_BIND_SERVICE", "SETGID", "SETUID"],
    "read_only": host["ReadonlyRootfs"] is True,
    "tmpfs": host["Tmpfs"] == {"/tmp": "size=8m"},
    "extra_hosts": host["ExtraHosts"] == ["db.example:10.1.2.3"],
    "ulimits": host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
    "mem_limit": host["Memory"] == 64 * 1024 * 1024,
    "cpus": host["NanoCpus"] == 500000000,
    "shm_size": host["ShmSize"] == 16 * 1024 * 1024,
    "dns_search": host["DnsSearch"] == ["example.org"],
    "tty": cfg["Tty"] is True,
    "anonymous volume": any(m["Type"] == "volume" and m["Destination"] == "/var/cache/anon"
                            for m in c["Mounts"]),
    "bind with options": host["Binds"] == [sys.argv[2] + "/conf:/etc/conf:ro,z"],
    "container port range": [host["PortBindings"].get(k) for k in ("8080/tcp", "8081/tcp")] ==
                            [[{"HostIp": "127.0.0.1", "HostPort": ""}]] * 2,
    "host port range": host["PortBindings"].get("80/tcp") ==
                       [{"HostIp": "127.0.0.1", "HostPort": "18090-18099"}],
    "published in the range": 18090 <= int(c["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]) <= 18099,
}
bad = [k for k, v in checks.items() if not v]
if bad:
    print("wrong: %s\nConfig=%s\nHostConfig=%s" % (bad, json.dumps(cfg)[:1500], json.dumps(host)[:2500]), file=sys.stderr)
    sys.exit(1)
print("inspect: %d fields as declared" % len(checks))
EOF
ok "compat-web-1: env_file, .env, caps, read_only+tmpfs, extra_hosts, ulimits, limits, dns_search, tty as declared"

docker inspect compat-db --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' | grep -qw compat-ext ||
  fail "compat-db did not join the external network compat-ext"
ok "external network: compat-db joined compat-ext (made by the test, not by Berth)"
[ "$(docker exec compat-db cat /appconf)" = from-the-host ] || fail "configs: /appconf in compat-db is not conf/app.conf"
[ "$(docker exec compat-db cat /run/secrets/api-token)" = s3cret ] || fail "secrets: /run/secrets/api-token in compat-db is not token.txt"
docker exec compat-db sh -c 'echo x >> /run/secrets/api-token' 2>/dev/null && fail "secrets: the secret is writable in compat-db"
ok "configs and secrets: read-only mounts of their files (/appconf, /run/secrets/api-token)"
[ "$(docker network inspect compat_default --format '{{index .Options "com.docker.network.driver.mtu"}}')" = 1400 ] ||
  fail "networks.default.driver_opts: compat_default has no mtu 1400"
[ "$(docker network inspect compat_back --format '{{.Internal}}')" = true ] || fail "networks.back.internal: compat_back is not internal"
docker inspect compat-reader-1 --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' | grep -qw compat_back ||
  fail "compat-reader-1 did not join compat_back"
ok "networks: driver_opts reached compat_default (mtu 1400), compat_back is internal"

[ "$(docker exec compat-built-1 cat /stage)" = first ] || fail "build.target: the image is not stage 'first'"
[ "$(docker image inspect "$(docker inspect compat-built-1 --format '{{.Image}}')" --format '{{index .Config.Labels "team"}}')" = berth ] ||
  fail "build.labels: the image lacks team=berth"
docker exec compat-built-1 test -e /ctx/kept.txt || fail "build context: kept.txt missing"
docker exec compat-built-1 test ! -e /ctx/.env || fail ".dockerignore: the ignored .env reached the image"
ok "build: target stage 'first' built, build.labels on the image, .dockerignore'd .env not in it"
[ "$(docker inspect compat-isolated-1 --format '{{.HostConfig.NetworkMode}}')" = none ] ||
  fail "network_mode: none not set on compat-isolated-1"
ok "network_mode: none, and the container joined no app network"
# The engine stores the container's id in place of the name it was given.
[ "$(docker inspect compat-sidecar-1 --format '{{.HostConfig.NetworkMode}}')" = "container:$(docker inspect compat-reader-1 --format '{{.Id}}')" ] ||
  fail "network_mode service:reader: compat-sidecar-1 is not on compat-reader-1's network stack"
ns() { docker exec "$1" readlink "/proc/1/ns/$2"; }
[ "$(ns compat-sidecar-1 net)" = "$(ns compat-reader-1 net)" ] || fail "compat-sidecar-1 and compat-reader-1 have different network namespaces"
[ "$(ns compat-sidecar-1 ipc)" = "$(ns compat-reader-1 ipc)" ] || fail "ipc service:reader: compat-sidecar-1 has its own IPC namespace"
ok "network_mode and ipc service:reader: compat-sidecar-1 shares compat-reader-1's network and IPC namespaces"
docker exec compat-legacy-1 grep -qw old /etc/hosts || fail "links on network_mode bridge: compat-legacy-1 has no 'old' in /etc/hosts"
ok "links on network_mode bridge: Docker's own link, isolated2 as 'old' in compat-legacy-1's /etc/hosts"

# The read-only root and the capabilities hold inside the running container.
docker exec compat-web-1 sh -c 'touch /x' 2>/dev/null && fail "read_only: / is writable"
docker exec compat-web-1 sh -c 'touch /tmp/x' || fail "tmpfs /tmp is not writable"
docker exec compat-web-1 grep -q 'db.example' /etc/hosts || fail "extra_hosts not in /etc/hosts"
docker exec compat-web-1 touch /var/cache/anon/x || fail "the anonymous volume is not writable"
[ "$(docker exec compat-web-1 cat /etc/conf/app.conf)" = from-the-host ] || fail "the bind mount ./conf"
anon=$(docker inspect compat-web-1 --format '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{end}}{{end}}')
[ -n "$anon" ] || fail "web has no anonymous volume"
port=$(docker inspect compat-web-1 --format '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}')
curl -fsS --max-time 10 -o /dev/null "http://127.0.0.1:$port/etc/hostname" || fail "web does not answer on 127.0.0.1:$port (published from the range 18090-18099)"
[ "$(docker inspect compat-reader-1 --format '{{json .HostConfig.VolumesFrom}}')" = '["compat-db:ro"]' ] ||
  fail "reader's VolumesFrom is not compat-db:ro"
docker exec compat-db touch /shared/from-db || fail "db cannot write its /shared"
docker exec compat-reader-1 test -f /shared/from-db || fail "reader does not see db's /shared"
docker exec compat-reader-1 touch /shared/x 2>/dev/null && fail "volumes_from db:ro is writable"
ok "volumes_from: reader sees db's volume read-only (by db's container_name compat-db)"
ok "in the container: / read-only, /tmp and the anonymous volume writable, ./conf bound, db.example in /etc/hosts; port 80 answers on 127.0.0.1:$port"

# The profile enabled: the same file adds the debug service, the others are kept.
berth_bounded 300 --data-dir "$D" up "$work/app/compose.yaml" -p $A --profile debug >"$work/up2.log" 2>&1 || { cat "$work/up2.log"; fail "up --profile debug"; }
got=$(app_containers $A | tr '\n' ' ')
[ "$got" = "compat-built-1 running compat-db running compat-debug-1 running compat-isolated-1 running compat-isolated2-1 running compat-legacy-1 running compat-reader-1 running compat-sidecar-1 running compat-web-1 running " ] || fail "with --profile debug: $got"
grep -q "0 removed" "$work/up2.log" || { cat "$work/up2.log"; fail "enabling a profile replaced containers"; }
ok "--profile debug: debug added, web and db kept"

# berth config prints what up deploys; a second service with the same container_name is refused.
"$BERTH" config "$work/app/compose.yaml" -p $A -o json | python3 -c '
import json, sys
b = json.load(sys.stdin)
assert [s["name"] for s in b["services"]] == ["web", "db", "reader", "built", "isolated", "sidecar", "legacy", "isolated2"], b["services"]
assert b["services"][1]["container_name"] == "compat-db"
assert b["services"][3]["build"]["options"]["target"] == "first"
assert b["services"][0]["environment"]["INTERPOLATED"] == "from-dotenv"' || fail "berth config output"
ok "berth config shows the resolved file"

berth_bounded 300 --data-dir "$D" down $A >"$work/down.log" 2>&1 || { cat "$work/down.log"; fail "down"; }
assert_app_gone $A
docker network inspect compat-ext >/dev/null 2>&1 || fail "down removed the external network"
docker volume inspect "$anon" >/dev/null 2>&1 && fail "down left web's anonymous volume $anon"
ok "down removed compat-db (by its label, whatever its name) and the rest, and kept compat-ext"
served_end 3
echo "$checks passed, 0 failed"
