// Compose files in, blueprints or every problem (with file:line:col) out.
#include "workflows/blueprint/blueprint.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/scratch_dir.h"
#include "workflows/blueprint/blueprint_test_util.h"
#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows {
namespace {

using namespace blueprint_test;


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
      placement: [{max-containers: 1}, {affinity: "NOT TYPE"}]
x-berth:
  hosts: [local]
  placement: [breadth-first]
)";
  Blueprint b = Good(yaml);
  const ServiceDef& s = b.services[0];
  EXPECT_EQ(s.install.size(), 2u);
  EXPECT_EQ(s.customize, std::vector<std::string>{"echo $BERTH_INSTANCE > /srv/www/id"});
  EXPECT_EQ(s.dns, "web");
  std::vector<Diagnostic> w = Warnings(yaml);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].message, "x-berth.hosts: not used yet (ignored): the cloud's hosts are `berth host add`'s");
  // A bad placement entry is an error at its line:col, from the strategy code itself.
  auto e = Errors("services:\n  web:\n    image: x\n    x-berth:\n      placement: [spread, \"NOT TYPE\"]\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].ToString().substr(0, 14), "shop.yaml:5:27") << e[0].ToString();
  EXPECT_NE(e[0].message.find("unknown placement strategy 'NOT TYPE'"), std::string::npos) << e[0].message;
}

TEST(BlueprintTest, PlacementIsRecordedAsAChain) {
  Blueprint b = Good(R"(
services:
  web:
    image: x
    x-berth:
      placement: [{max-containers: 2}, {labels: {zone: a}}, {affinity: [NOT TYPE]}, spread]
x-berth:
  placement: [breadth-first, {hostname: "^node-"}]
)");
  EXPECT_EQ(b.placement, R"(["breadth-first",{"hostname":"^node-"}])");
  EXPECT_EQ(b.services[0].placement,
            R"([{"max-containers":2},{"labels":{"zone":"a"}},{"affinity":["NOT TYPE"]},"spread"])");
  auto again = BlueprintFromJson(ToJson(b));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->services[0].placement, b.services[0].placement);
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
