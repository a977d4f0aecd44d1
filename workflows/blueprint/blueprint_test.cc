// Compose files in, blueprints or every problem (with file:line:col) out.
#include "workflows/blueprint/blueprint.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/scratch_dir.h"
#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows {
namespace {

Result<Blueprint> Parse(const std::string& yaml, std::vector<Diagnostic>* d = nullptr,
                        const std::string& project = "shop") {
  return ParseBlueprint(yaml, "shop.yaml", "/srv/shop", project, d);
}

// The blueprint of a file that must load.
Blueprint Good(const std::string& yaml) {
  Result<Blueprint> b = Parse(yaml);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? b.value() : Blueprint();
}

std::vector<Diagnostic> Only(Diagnostic::Severity severity, const std::string& yaml,
                             const std::string& project = "shop") {
  std::vector<Diagnostic> all, some;
  (void)Parse(yaml, &all, project);
  for (const Diagnostic& d : all) {
    if (d.severity == severity) some.push_back(d);
  }
  return some;
}
std::vector<Diagnostic> Errors(const std::string& yaml) { return Only(Diagnostic::kError, yaml); }
std::vector<Diagnostic> Warnings(const std::string& yaml) {
  return Only(Diagnostic::kWarning, yaml);
}

// The one error a file has, as text ("" when it has none or several).
std::string OneError(const std::string& yaml) {
  std::vector<Diagnostic> e = Errors(yaml);
  if (e.size() != 1) {
    std::string all;
    for (const Diagnostic& d : e) all += "\n  " + d.ToString();
    ADD_FAILURE() << e.size() << " errors:" << all;
    return "";
  }
  return e[0].ToString();
}

TEST(BlueprintTest, MinimalServiceGetsDefaults) {
  Blueprint b = Good("services:\n  web:\n    image: nginx\n");
  EXPECT_EQ(b.name, "shop");
  EXPECT_EQ(b.file, "/srv/shop/shop.yaml");
  ASSERT_EQ(b.services.size(), 1u);
  const ServiceDef& s = b.services[0];
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.image, "nginx");
  EXPECT_EQ(s.line, 2);
  EXPECT_EQ(s.col, 3);
  EXPECT_EQ(s.replicas, 1);
  EXPECT_EQ(s.restart, "no");
  EXPECT_FALSE(s.command.has_value());
  ASSERT_EQ(b.networks.size(), 1u);
  EXPECT_EQ(b.networks[0].docker_name, "shop_default");
}

TEST(BlueprintTest, AppNameFromProjectElseNameKeyElseDirectory) {
  const std::string named = "name: fromkey\nservices: {web: {image: x}}\n";
  EXPECT_EQ(Parse(named, nullptr, "fromflag")->name, "fromflag");
  EXPECT_EQ(Parse(named, nullptr, "")->name, "fromkey");
  auto b = ParseBlueprint("services: {web: {image: x}}", "c.yaml", "/srv/My Shop.v2", "", nullptr);
  EXPECT_EQ(b->name, "myshopv2");
}

TEST(BlueprintTest, InvalidAppNameSaysHowToFix) {
  std::vector<Diagnostic> errors =
      Only(Diagnostic::kError, "name: Bad!\nservices: {web: {image: x}}\n", /*project=*/"");
  ASSERT_EQ(errors.size(), 1u);
  std::string e = errors[0].ToString();
  EXPECT_NE(e.find("shop.yaml:1:7: error: name: app name 'Bad!' is not valid"), std::string::npos)
      << e;
  EXPECT_NE(e.find("-p NAME"), std::string::npos) << e;
  auto b = ParseBlueprint("services: {web: {image: x}}", "c.yaml", "/srv/___", "", nullptr);
  EXPECT_NE(b.status().message().find("pass -p NAME or add a top-level `name:`"), std::string::npos)
      << b.status().message();
}

TEST(BlueprintTest, BuildStringAndMapFormsResolveAgainstTheFileDirectory) {
  setenv("BERTH_TEST_ARG", "from-env", 1);
  unsetenv("BERTH_TEST_UNSET_ARG");
  Blueprint b = Good(R"(
services:
  a: {build: ./app}
  b:
    build:
      context: ../other
      dockerfile: docker/Dockerfile.prod
      args: [VERSION=1.2, BERTH_TEST_ARG, BERTH_TEST_UNSET_ARG]
  c:
    build: {args: {X: "1"}}
)");
  ASSERT_EQ(b.services.size(), 3u);
  EXPECT_EQ(b.services[0].build->context, "/srv/shop/app");
  EXPECT_EQ(b.services[0].build->dockerfile, "Dockerfile");
  EXPECT_EQ(b.services[1].build->context, "/srv/other");
  EXPECT_EQ(b.services[1].build->dockerfile, "docker/Dockerfile.prod");
  std::map<std::string, std::string> args = {{"VERSION", "1.2"}, {"BERTH_TEST_ARG", "from-env"}};
  EXPECT_EQ(b.services[1].build->args, args);  // an unset bare arg is left to the Dockerfile
  EXPECT_EQ(b.services[2].build->context, "/srv/shop");
  EXPECT_EQ(b.services[2].build->args.at("X"), "1");
}

TEST(BlueprintTest, CommandStringSplitsLikeAShellAndListsAreKept) {
  Blueprint b = Good(R"(
services:
  web:
    image: x
    command: sh -c 'echo "hi there"' "a b" c\ d ""
    entrypoint: ["/bin/tini", "--"]
)");
  std::vector<std::string> command = {"sh", "-c", "echo \"hi there\"", "a b", "c d", ""};
  EXPECT_EQ(*b.services[0].command, command);
  EXPECT_EQ(*b.services[0].entrypoint, (std::vector<std::string>{"/bin/tini", "--"}));
  EXPECT_NE(OneError("services: {web: {image: x, command: \"echo 'oops\"}}").find("unterminated"),
            std::string::npos);
}

TEST(BlueprintTest, EnvironmentMapAndListWithBareKeysFromTheProcessOrLeftOut) {
  setenv("BERTH_TEST_HOME", "/home/me", 1);
  unsetenv("BERTH_TEST_MISSING");
  const std::string yaml = R"(
services:
  a:
    image: x
    environment: {MODE: prod, N: 3, FLAG: true, BERTH_TEST_HOME: null}
  b:
    image: x
    environment: [MODE=dev, "EQ=a=b", BERTH_TEST_HOME, BERTH_TEST_MISSING]
)";
  Blueprint b = Good(yaml);
  std::map<std::string, std::string> a = {
      {"MODE", "prod"}, {"N", "3"}, {"FLAG", "true"}, {"BERTH_TEST_HOME", "/home/me"}};
  EXPECT_EQ(b.services[0].environment, a);
  // A bare KEY whose variable is unset is left out, as Compose does (not KEY=).
  std::map<std::string, std::string> env_b = {
      {"MODE", "dev"}, {"EQ", "a=b"}, {"BERTH_TEST_HOME", "/home/me"}};
  EXPECT_EQ(b.services[1].environment, env_b);
  EXPECT_TRUE(Warnings(yaml).empty());
}

TEST(BlueprintTest, PortsShortAndLongForms) {
  Blueprint b = Good(R"(
services:
  web:
    image: x
    ports:
      - 80
      - "8080:80"
      - 127.0.0.1:8443:443/udp
      - "127.0.0.1::53"
      - "[::1]:9000:9000"
      - {target: 5432, published: "15432", host_ip: 0.0.0.0, protocol: tcp, mode: host}
)");
  const auto& p = b.services[0].ports;
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[0].container_port, 80);
  EXPECT_EQ(p[0].host_port, 0);
  EXPECT_EQ(p[1].host_port, 8080);
  EXPECT_EQ(p[2].host_ip, "127.0.0.1");
  EXPECT_EQ(p[2].protocol, "udp");
  EXPECT_EQ(p[2].container_port, 443);
  EXPECT_EQ(p[3].host_port, 0);
  EXPECT_EQ(p[4].host_ip, "::1");
  EXPECT_EQ(p[5].host_port, 15432);
  EXPECT_EQ(p[5].container_port, 5432);
}

// Compose's ranges: equal ranges map port by port, a container range alone lets the engine
// choose each host port, a host range for one port lets it choose one of the range.
TEST(BlueprintTest, PortRangesExpandAsComposeDoes) {
  Blueprint b = Good(R"(
services:
  web:
    image: x
    ports:
      - "127.0.0.1:8000-8002:80-82"
      - "127.0.0.1::9000-9001/udp"
      - "127.0.0.1:6005-6015:80"
      - {target: 443, published: "7000-7010", host_ip: 127.0.0.1}
)");
  const auto& p = b.services[0].ports;
  ASSERT_EQ(p.size(), 7u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p[i].host_port, 8000 + i);
    EXPECT_EQ(p[i].container_port, 80 + i);
    EXPECT_EQ(p[i].host_port_end, 0);
  }
  EXPECT_EQ(p[3].container_port, 9000);
  EXPECT_EQ(p[4].container_port, 9001);
  EXPECT_EQ(p[4].host_port, 0);
  EXPECT_EQ(p[4].protocol, "udp");
  EXPECT_EQ(p[5].host_port, 6005);
  EXPECT_EQ(p[5].host_port_end, 6015);
  EXPECT_EQ(p[5].container_port, 80);
  EXPECT_EQ(p[6].host_port, 7000);
  EXPECT_EQ(p[6].host_port_end, 7010);
  auto again = BlueprintFromJson(ToJson(b));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->services[0].ports[5].host_port_end, 6015);
}

TEST(BlueprintTest, BadPortRangesAndOutOfRangePortsAreErrors) {
  std::vector<Diagnostic> e = Errors(R"(
services:
  web:
    image: x
    ports: ["8000-8010:80-81", "70000:80", "80:80:80:80", {published: 80}, "9-1:80", "1-2000"]
)");
  ASSERT_EQ(e.size(), 6u);
  EXPECT_NE(e[0].message.find("differ in length"), std::string::npos) << e[0].message;
  EXPECT_NE(e[1].message.find("'70000' is not a port (1..65535)"), std::string::npos) << e[1].message;
  EXPECT_NE(e[2].message.find("services.web.ports[2]: '80:80:80:80' is not a port mapping"),
            std::string::npos);
  EXPECT_NE(e[3].message.find("needs `target`"), std::string::npos);
  EXPECT_NE(e[4].message.find("'9-1' is not a port"), std::string::npos) << e[4].message;
  EXPECT_NE(e[5].message.find("at most 1024 per entry"), std::string::npos) << e[5].message;
}

TEST(BlueprintTest, DependsOnListAndMapRecordNames) {
  Blueprint b = Good(R"(
services:
  db: {image: x}
  cache: {image: x}
  web:
    image: x
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started, restart: true}
  worker: {image: x, depends_on: [db, db]}
)");
  EXPECT_EQ(b.FindService("web")->depends_on, (std::vector<std::string>{"db", "cache"}));
  EXPECT_EQ(b.FindService("worker")->depends_on, (std::vector<std::string>{"db"}));
  EXPECT_NE(OneError("services: {a: {image: x, depends_on: {a2: {condition: soon}}}, "
                     "a2: {image: x}}")
                .find("condition must be"),
            std::string::npos);
}

TEST(BlueprintTest, UnknownDependencyAndCyclesAreNamed) {
  std::vector<Diagnostic> e = Errors(R"(
services:
  a: {image: x, depends_on: [b]}
  b: {image: x, depends_on: [c]}
  c: {image: x, depends_on: [a, ghost]}
  d: {image: x, depends_on: [d]}
)");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].ToString(),
            "shop.yaml:5:33: error: services.c.depends_on[1]: depends on unknown service 'ghost'");
  EXPECT_NE(e[1].message.find("dependency cycle: a -> b -> c -> a"), std::string::npos);
  EXPECT_NE(e[2].message.find("dependency cycle: d -> d"), std::string::npos);
}

TEST(BlueprintTest, ReplicasMustBeAnIntegerInRangeAndOtherDeployKeysWarn) {
  EXPECT_EQ(Good("services: {w: {image: x, deploy: {replicas: 3}}}").services[0].replicas, 3);
  EXPECT_NE(OneError("services: {w: {image: x, deploy: {replicas: 1001}}}")
                .find("1001 is out of range 0..1000"),
            std::string::npos);
  EXPECT_NE(OneError("services: {w: {image: x, deploy: {replicas: two}}}")
                .find("'two' is not an integer"),
            std::string::npos);
  std::vector<Diagnostic> w =
      Warnings("services: {w: {image: x, deploy: {replicas: 2, placement: {}}}}");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].message, "services.w.deploy.placement: not used yet (ignored)");
}

TEST(BlueprintTest, LabelsMapAndList) {
  Blueprint b = Good(R"(
services:
  a: {image: x, labels: {tier: web, "com.example.v": 2}}
  b: {image: x, labels: [tier=db, bare]}
)");
  EXPECT_EQ(b.services[0].labels.at("com.example.v"), "2");
  EXPECT_EQ(b.services[1].labels,
            (std::map<std::string, std::string>{{"tier", "db"}, {"bare", ""}}));
}

TEST(BlueprintTest, HealthcheckForms) {
  Blueprint b = Good(R"(
services:
  a:
    image: x
    healthcheck:
      test: curl -f http://localhost/
      interval: 1m30s
      timeout: 500ms
      start_period: 1.5s
      retries: 3
  b: {image: x, healthcheck: {test: [CMD, pg_isready, -U, app]}}
  c: {image: x, healthcheck: {disable: true}}
)");
  const HealthDef& a = *b.services[0].healthcheck;
  EXPECT_EQ(a.test, (std::vector<std::string>{"CMD-SHELL", "curl -f http://localhost/"}));
  EXPECT_EQ(a.interval_ms, 90000);
  EXPECT_EQ(a.timeout_ms, 500);
  EXPECT_EQ(a.start_period_ms, 1500);
  EXPECT_EQ(a.retries, 3);
  EXPECT_EQ(b.services[1].healthcheck->test[0], "CMD");
  EXPECT_EQ(b.services[2].healthcheck->test, std::vector<std::string>{"NONE"});
  EXPECT_NE(OneError("services: {a: {image: x, healthcheck: {test: [curl, x]}}}")
                .find("starts with NONE, CMD or CMD-SHELL"),
            std::string::npos);
}

TEST(BlueprintTest, DurationsFollowComposeSyntax) {
  int64_t ms = -1;
  EXPECT_EQ(compose::ParseDurationMs("1h2m3s", &ms), "");
  EXPECT_EQ(ms, 3723000);
  EXPECT_EQ(compose::ParseDurationMs("250ms", &ms), "");
  EXPECT_EQ(ms, 250);
  EXPECT_EQ(compose::ParseDurationMs("0", &ms), "");
  EXPECT_EQ(ms, 0);
  for (const char* bad : {"10", "", "s", "-1s", "1x", "1.s5", "99999999999999999999h", "5ns"}) {
    EXPECT_NE(compose::ParseDurationMs(bad, &ms), "") << bad;
  }
  EXPECT_NE(OneError("services: {w: {image: x, stop_grace_period: 10}}")
                .find("services.w.stop_grace_period: '10' is not a duration"),
            std::string::npos);
}

TEST(BlueprintTest, NetworksWithAliasesAddressesAndSubnets) {
  Blueprint b = Good(R"(
services:
  web:
    image: x
    networks:
      default: {ipv4_address: 10.77.0.10}
      back: {aliases: [api, api2]}
  db: {image: x, networks: [back]}
networks:
  back:
    driver: bridge
    ipam: {config: [{subnet: 172.30.0.0/24, gateway: 172.30.0.1}]}
    labels: [team=core]
x-berth:
  network: {subnet: 10.77.0.0/16}
)");
  ASSERT_EQ(b.networks.size(), 2u);
  EXPECT_EQ(b.networks[0].subnet, "10.77.0.0/16");
  EXPECT_EQ(b.networks[1].docker_name, "shop_back");
  EXPECT_EQ(b.networks[1].gateway, "172.30.0.1");
  EXPECT_EQ(b.networks[1].labels.at("team"), "core");
  const auto& n = b.services[0].networks;
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].ipv4_address, "10.77.0.10");
  EXPECT_EQ(n[1].aliases, (std::vector<std::string>{"api", "api2"}));
  EXPECT_NE(OneError("services: {w: {image: x, networks: {default: {ipv4_address: 10.0.0.2}}}}")
                .find("needs a subnet"),
            std::string::npos);
}

TEST(BlueprintTest, VolumesBindNamedAndReadOnly) {
  setenv("HOME", "/home/me", 1);
  Blueprint b = Good(R"(
services:
  web:
    image: x
    volumes:
      - ./html:/usr/share/nginx/html:ro
      - /var/log:/logs
      - ~/cache:/cache:rw
      - data:/data
      - {type: bind, source: conf, target: /etc/app, read_only: true}
volumes:
  data: {}
)");
  const auto& v = b.services[0].volumes;
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].source, "/srv/shop/html");
  EXPECT_TRUE(v[0].read_only);
  EXPECT_FALSE(v[0].named);
  EXPECT_EQ(v[1].source, "/var/log");
  EXPECT_EQ(v[2].source, "/home/me/cache");
  EXPECT_EQ(v[3].source, "shop_data");
  EXPECT_TRUE(v[3].named);
  EXPECT_EQ(v[4].source, "/srv/shop/conf");
  EXPECT_TRUE(v[4].read_only);
  EXPECT_EQ(b.volumes, std::vector<std::string>{"shop_data"});
}

TEST(BlueprintTest, UndeclaredNetworksAndVolumesAndUnknownVolumeOptionsAreErrors) {
  std::vector<Diagnostic> e = Errors(R"(
services:
  web:
    image: x
    networks: [front]
    volumes: [cache:/cache, ./a:/a:zz, "relative", {type: bind, target: /b}]
)");
  ASSERT_EQ(e.size(), 5u);
  EXPECT_NE(e[0].message.find("network 'front' is not declared"), std::string::npos);
  EXPECT_NE(e[1].message.find("volume 'cache' is not declared"), std::string::npos);
  EXPECT_NE(e[2].message.find("volume option 'zz' is not one Docker knows"), std::string::npos);
  EXPECT_NE(e[3].message.find("target 'relative' is not an absolute path"), std::string::npos);
  EXPECT_NE(e[4].message.find("a bind mount needs `source` and `target`"), std::string::npos);
}

// Compose's anonymous volumes (`/app/node_modules`, or type volume without a source) and
// the engine's mount options (SELinux `z`/`Z`, `nocopy`, propagation) are taken as they are.
TEST(BlueprintTest, AnonymousVolumesAndEngineMountOptionsAreTaken) {
  Blueprint b = Good(R"(
services:
  web:
    image: x
    volumes:
      - /app/node_modules
      - {type: volume, target: /cache}
      - ./conf:/etc/conf:ro,z
      - data:/data:nocopy
      - ./x:/x:cached
volumes:
  data: {}
)");
  const auto& v = b.services[0].volumes;
  ASSERT_EQ(v.size(), 5u);
  EXPECT_TRUE(v[0].anonymous());
  EXPECT_EQ(v[0].target, "/app/node_modules");
  EXPECT_TRUE(v[1].anonymous());
  EXPECT_EQ(v[1].target, "/cache");
  EXPECT_TRUE(v[2].read_only);
  EXPECT_EQ(v[2].options, "z");
  EXPECT_EQ(v[3].options, "nocopy");
  EXPECT_TRUE(v[3].named);
  EXPECT_EQ(v[4].options, "") << "Docker Desktop's consistency options mean nothing on Linux";
  // Through the recorded JSON and back.
  auto again = BlueprintFromJson(ToJson(b));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->services[0].volumes[0].anonymous());
  EXPECT_EQ(again->services[0].volumes[2].options, "z");
}

TEST(BlueprintTest, UnsupportedComposeKeysAreErrorsAndUnknownKeysWarn) {
  const std::string yaml = R"(version: "3.9"
services:
  web:
    image: x
    storage_opt: {size: 1G}
    colour: blue
    x-note: ignored
    expose: ["3000"]
include: [other.yaml]
whatever: 1
x-anchors: {a: 1}
)";
  std::vector<Diagnostic> e = Errors(yaml), w = Warnings(yaml);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].ToString(), "shop.yaml:9:1: error: include: unsupported Compose key 'include'");
  EXPECT_EQ(e[1].ToString(),
            "shop.yaml:5:5: error: services.web.storage_opt: unsupported Compose key 'storage_opt'");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].ToString(), "shop.yaml:10:1: warning: whatever: unknown key 'whatever' (ignored)");
  EXPECT_EQ(w[1].line, 6);
}

// volumes_from: a service means its first container (started first, as with depends_on),
// container:NAME a container Berth did not make; modes ro/rw kept.
TEST(BlueprintTest, VolumesFromNamesTheFirstContainerAndOrdersTheStart) {
  Blueprint b = Good(R"(
services:
  data: {image: x}
  named: {image: x, container_name: keeper}
  web:
    image: x
    volumes_from: ["data:ro", "service:named", "container:outside:rw"]
)");
  const ServiceDef& web = *b.FindService("web");
  EXPECT_EQ(web.engine_host.at("VolumesFrom"), R"(["shop-data-1:ro","keeper","outside:rw"])");
  EXPECT_EQ(web.depends_on, (std::vector<std::string>{"data", "named"}));
  std::vector<Diagnostic> e = Errors(R"(
services:
  web: {image: x, volumes_from: ["nosuch", "data:rx"]}
)");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_NE(e[0].message.find("volumes_from 'data:rx' is not"), std::string::npos) << e[0].message;
  EXPECT_NE(e[1].message.find("unknown service 'nosuch'"), std::string::npos) << e[1].message;
}

TEST(BlueprintTest, BerthExtensionsAreReadAndCommandsAreNotInterpolated) {
  const std::string yaml = R"(
services:
  web:
    image: x
    x-berth:
      install: ["mkdir -p /srv/www", "echo hi > /srv/www/index.html"]
      customize: echo $BERTH_INSTANCE > /srv/www/id
      dns: web
      placement: {max_per_host: 1}
x-berth:
  hosts: [local]
)";
  Blueprint b = Good(yaml);
  const ServiceDef& s = b.services[0];
  EXPECT_EQ(s.install.size(), 2u);
  EXPECT_EQ(s.customize, std::vector<std::string>{"echo $BERTH_INSTANCE > /srv/www/id"});
  EXPECT_EQ(s.dns, "web");
  std::vector<Diagnostic> w = Warnings(yaml);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].message, "x-berth.hosts: not used yet (ignored)");
  EXPECT_EQ(w[1].message, "services.web.x-berth.placement: not used yet (ignored)");
}

TEST(BlueprintTest, InterpolationFromTheProcessEnvironment) {
  setenv("BERTH_T_TAG", "1.25", 1);
  setenv("BERTH_T_EMPTY", "", 1);
  unsetenv("BERTH_T_UNSET");
  const std::string yaml = R"(
services:
  web:
    image: nginx:${BERTH_T_TAG}
    user: $BERTH_T_TAG-$$HOME
    hostname: ${BERTH_T_EMPTY:-colon}-${BERTH_T_EMPTY-dash}-${BERTH_T_UNSET-${BERTH_T_TAG}}
    working_dir: /a${BERTH_T_UNSET}b${BERTH_T_TAG:+set}
    deploy: {replicas: "${BERTH_T_UNSET:-2}"}
)";
  Blueprint b = Good(yaml);
  const ServiceDef& s = b.services[0];
  EXPECT_EQ(s.image, "nginx:1.25");
  EXPECT_EQ(s.user, "1.25-$HOME");
  EXPECT_EQ(s.hostname, "colon--1.25");
  EXPECT_EQ(s.working_dir, "/abset");
  EXPECT_EQ(s.replicas, 2);
  std::vector<Diagnostic> w = Warnings(yaml);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].message.find("BERTH_T_UNSET is not set"), std::string::npos);
  EXPECT_NE(OneError("services: {w: {image: '${BERTH_T_UNSET:?set the tag}'}}")
                .find("required variable BERTH_T_UNSET is not set: set the tag"),
            std::string::npos);
  EXPECT_NE(OneError("services: {w: {image: 'a${x'}}").find("without a closing"),
            std::string::npos);
  EXPECT_NE(OneError("services: {w: {image: 'a$1'}}").find("write $$"), std::string::npos);
}

TEST(BlueprintTest, EveryProblemIsReportedWithLineAndColumn) {
  const std::string yaml = R"(services:
  web:
    image: x
    ports: ["99999"]
  db:
    restart: sometimes
    image: y
  bad name:
    image: z
)";
  Result<Blueprint> b = Parse(yaml);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b.status().message(),
            "shop.yaml: 3 problems\n"
            "shop.yaml:4:13: error: services.web.ports[0]: '99999': '99999' is not a port "
            "(1..65535) or a range of them (LOW-HIGH)\n"
            "shop.yaml:6:14: error: services.db.restart: 'sometimes' is not a restart policy (no, "
            "always, unless-stopped, on-failure[:N])\n"
            "shop.yaml:8:3: error: services.bad name: service name 'bad name' must match "
            "[a-zA-Z0-9][a-zA-Z0-9_.-]*");
}

TEST(BlueprintTest, WrongNodeTypesNameTheKeyPath) {
  std::vector<Diagnostic> e = Errors(R"(
services:
  web:
    image: [x]
    ports: ["80", {target: {a: 1}}]
    environment: 5
    command: {a: b}
)");
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].ToString(),
            "shop.yaml:4:12: error: services.web.image: expected a string, "
            "found a list");
  EXPECT_EQ(e[1].message, "services.web.ports[1].target: expected a string, found a map");
  EXPECT_NE(e[2].message.find("services.web.environment: expected a map or a list"),
            std::string::npos);
  EXPECT_NE(e[3].message.find("services.web.command: expected a list, found a map"),
            std::string::npos);
}

TEST(BlueprintTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(OneError("services:\n  web:\n    image: a\n    image: b\n"),
            "shop.yaml:4:5: error: services.web.image: duplicate key 'image'");
}

TEST(BlueprintTest, AnchorsAndMergeKeysWork) {
  Blueprint b = Good(R"(
x-common: &common
  image: base
  restart: always
services:
  a:
    <<: *common
    restart: "no"
  b: *common
)");
  EXPECT_EQ(b.services[0].image, "base");
  EXPECT_EQ(b.services[0].restart, "no");
  EXPECT_EQ(b.services[1].restart, "always");
}

TEST(BlueprintTest, MalformedYamlReportsWhere) {
  EXPECT_EQ(OneError("services:\n  web: [a, b\n  db: {image: x}\n").substr(0, 12), "shop.yaml:3:");
}

TEST(BlueprintTest, OneDocumentPerFile) {
  EXPECT_EQ(OneError("services: {web: {image: x}}\n---\nname: two\n"),
            "shop.yaml:2:1: error: more than one YAML document (---)");
  EXPECT_TRUE(Parse("---\nservices: {web: {image: x}}\n---\n").ok());
}

// yaml-cpp 0.7 reads this as an empty document, and its LoadAll loops forever on it.
TEST(BlueprintTest, LeadingCommaIsAnErrorNotAnEmptyFileOrAHang) {
  EXPECT_EQ(OneError("# compose\n,services: {web: {image: x}}\n"),
            "shop.yaml:2:1: error: YAML: the document could not be parsed");
}

TEST(BlueprintTest, InvalidUtf8IsAnErrorWithItsPlace) {
  EXPECT_EQ(OneError("services:\n  web: {image: \"ng\xffinx\"}\n"),
            "shop.yaml:2:19: error: the file is not valid UTF-8");
  EXPECT_TRUE(Parse("services: {web: {image: x, labels: {caf\xc3\xa9: \xe2\x9c\x93}}}").ok());
  EXPECT_NE(compose::InvalidUtf8Offset("\xc0\x80"), std::string::npos);      // overlong
  EXPECT_NE(compose::InvalidUtf8Offset("\xed\xa0\x80"), std::string::npos);  // surrogate
}

TEST(BlueprintTest, EmptyFileAndNoServicesAreErrors) {
  EXPECT_NE(OneError("").find("the file is empty"), std::string::npos);
  EXPECT_NE(OneError("# nothing\n").find("the file is empty"), std::string::npos);
  EXPECT_NE(OneError("name: x\n").find("no `services`"), std::string::npos);
  EXPECT_NE(OneError("services: {}\n").find("no services defined"), std::string::npos);
  EXPECT_NE(OneError("services:\n  web:\n").find("needs `image` or `build`"), std::string::npos);
}

TEST(BlueprintTest, MissingFileIsNotFound) {
  std::vector<Diagnostic> d;
  Result<Blueprint> b = LoadBlueprint("/nonexistent/berth/compose.yaml", "", &d);
  EXPECT_EQ(b.status().code(), Code::kNotFound);
  EXPECT_EQ(b.status().message(),
            "cannot read /nonexistent/berth/compose.yaml: No such file or directory");
  EXPECT_EQ(d.size(), 1u);
}

TEST(BlueprintTest, LoadBlueprintResolvesAgainstTheFilesDirectory) {
  berth::testing::ScratchDir dir("blueprint");
  std::filesystem::create_directories(dir.path() / "My_App");
  std::string path = (dir.path() / "My_App" / "compose.yaml").string();
  std::ofstream(path) << "services:\n  web:\n    build: .\n    volumes: [./data:/data]\n";
  Result<Blueprint> b = LoadBlueprint(path, "", nullptr);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->name, "my_app");
  EXPECT_EQ(b->file, path);
  EXPECT_EQ(b->services[0].build->context, (dir.path() / "My_App").string());
  EXPECT_EQ(b->services[0].volumes[0].source, (dir.path() / "My_App" / "data").string());
}

TEST(BlueprintTest, TheExampleAppLoadsWithoutWarnings) {
  std::vector<Diagnostic> d;
  Result<Blueprint> b = LoadBlueprint(BERTH_SOURCE_DIR "/docs/examples/shop/compose.yaml", "", &d);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(d.empty()) << d[0].ToString();
  EXPECT_EQ(b->name, "shop");
  EXPECT_EQ(b->Levels(), (std::vector<std::vector<std::string>>{{"api"}, {"web"}, {"proxy"}}));
  EXPECT_EQ(b->FindService("web")->customize,
            std::vector<std::string>{"echo \"$BERTH_INSTANCE\" > /srv/www/id"});
}

TEST(BlueprintTest, LevelsFollowDependsOnDepth) {
  Blueprint b = Good(R"(
services:
  web: {image: x, depends_on: [api, cache]}
  api: {image: x, depends_on: [db]}
  db: {image: x}
  cache: {image: x}
  admin: {image: x, depends_on: [db]}
)");
  std::vector<std::vector<std::string>> levels = {{"db", "cache"}, {"api", "admin"}, {"web"}};
  EXPECT_EQ(b.Levels(), levels);
}

const char kRichFile[] = R"(
name: rich
services:
  web:
    build: {context: ./web, args: {V: "2"}}
    command: ["serve", "--port", "80"]
    entrypoint: /entry.sh
    environment: {A: "1"}
    ports: ["127.0.0.1:8080:80/tcp"]
    depends_on: [db]
    deploy: {replicas: 3}
    labels: {tier: web}
    healthcheck: {test: "true", interval: 10s, retries: 2}
    networks: {default: {aliases: [www]}, back: null}
    volumes: ["data:/data:ro", "./conf:/conf"]
    restart: on-failure:3
    init: true
    stop_signal: SIGINT
    stop_grace_period: 1m
    user: "1000:1000"
    working_dir: /app
    hostname: web1
    x-berth: {install: [apk add curl], customize: [date > /x], dns: web}
  db: {image: postgres:16}
networks:
  back: {ipam: {config: [{subnet: 10.9.0.0/24}]}, labels: {a: b}}
volumes:
  data:
)";

TEST(BlueprintTest, JsonRoundTripIsExact) {
  Blueprint b = Good(kRichFile);
  nlohmann::json first = ToJson(b);
  Result<Blueprint> back = BlueprintFromJson(first);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToJson(*back), first);
  EXPECT_EQ(ServiceConfigHash(back->services[0]), ServiceConfigHash(b.services[0]));
  EXPECT_EQ(first["services"][0]["stop_grace_period_ms"], 60000);
  EXPECT_EQ(first["services"][0]["restart"], "on-failure:3");
}

TEST(BlueprintTest, FromJsonRefusesMalformedJson) {
  nlohmann::json j = ToJson(Good(kRichFile));
  EXPECT_EQ(BlueprintFromJson(nlohmann::json::array()).status().code(), Code::kInvalidArgument);
  nlohmann::json bad = j;
  bad["services"][0]["ports"][0]["host_port"] = "8080";
  EXPECT_EQ(BlueprintFromJson(bad).status().message(),
            "blueprint JSON: services[0].ports[0].host_port: expected an integer");
  bad = j;
  bad["services"][1]["depends_on"] = {"web"};  // web -> db -> web
  EXPECT_NE(BlueprintFromJson(bad).status().message().find("cycle"), std::string::npos);
  bad = j;
  bad.erase("services");
  EXPECT_FALSE(BlueprintFromJson(bad).ok());
}

TEST(BlueprintTest, ServiceConfigHashIgnoresReplicasAndPlaceOnly) {
  Blueprint b = Good(kRichFile);
  ServiceDef s = b.services[0];
  std::string h = ServiceConfigHash(s);
  EXPECT_EQ(h.size(), 12u);
  s.replicas = 7;
  s.line = 99;
  s.col = 4;
  EXPECT_EQ(ServiceConfigHash(s), h);
  s.environment["A"] = "2";
  EXPECT_NE(ServiceConfigHash(s), h);
}

TEST(BlueprintTest, GarbageNeverCrashes) {
  std::string binary;
  for (int i = 0; i < 512; ++i) binary += static_cast<char>((i * 131) & 0xff);
  const std::vector<std::string> inputs = {
      binary,
      std::string(100000, '['),
      std::string(5000, '[') + std::string(5000, ']'),
      "just a scalar",
      "\tservices:\n\t\tweb: x\n",
      "- a\n- b\n",
      "services: [web, db]\n",
      "services: {web: 5}\n",
      "? [a, b]\n: c\n",
      "a: &x {<<: *x}\n",
      "services: {w: {image: x, <<: 5}}\n",
      "--- a\n--- b\n",
      ",",
      "a: b\n---\n,\n",
      std::string("services:\0 {}", 13),
  };
  for (const std::string& in : inputs) {
    std::vector<Diagnostic> d;
    Result<Blueprint> b = Parse(in, &d);
    EXPECT_FALSE(b.ok()) << in.substr(0, 40);
    EXPECT_FALSE(d.empty());
  }
}

TEST(BlueprintTest, ValidAppNames) {
  EXPECT_TRUE(ValidAppName("shop"));
  EXPECT_TRUE(ValidAppName("my_app-2"));
  EXPECT_FALSE(ValidAppName(""));
  EXPECT_FALSE(ValidAppName("-x"));
  EXPECT_FALSE(ValidAppName("Shop"));
  EXPECT_FALSE(ValidAppName(std::string(64, 'a')));
}

}  // namespace
}  // namespace berth::workflows
