// A service's keys one by one: ports and port ranges, depends_on, replicas, labels,
// healthchecks and durations, networks, volumes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "workflows/blueprint/blueprint.h"
#include "workflows/blueprint/blueprint_test_util.h"
#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows {
namespace {

using namespace blueprint_test;

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

}  // namespace
}  // namespace berth::workflows
