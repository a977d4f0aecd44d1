// The Compose keys people's files use that Berth once refused: container_name, profiles,
// per-container and build keys, external networks and volumes, links, network_mode, and
// the checks on bad text, aliases and empty values. Env files: compose_env_test.cc.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "workflows/blueprint/compose_test_fixture.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows {
namespace {

TEST_F(ComposeCompatTest, ContainerNameOneContainerUniqueInTheFile) {
  auto b = Load("services:\n  db:\n    image: x\n    container_name: my-db\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].container_name, "my-db");
  auto back = BlueprintFromJson(ToJson(*b));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->services[0].container_name, "my-db");

  ExpectRefused("services:\n  db:\n    image: x\n    container_name: my-db\n"
                     "    deploy: {replicas: 2}\n", "names one container, but deploy.replicas is 2");
  ExpectRefused("services:\n  a:\n    image: x\n    container_name: same\n"
                    "  b:\n    image: x\n    container_name: same\n", "is also service a's");
  auto bad = Load("services:\n  a:\n    image: x\n    container_name: 'no spaces'\n");
  ASSERT_FALSE(bad.ok());
}

TEST_F(ComposeCompatTest, ContainerNameLeavesOtherServicesHashesAlone) {
  // A key added later is written only when set: an old deploy's containers still fit.
  auto plain = Load("services:\n  web:\n    image: x\n");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(ToJson(plain->services[0]).contains("container_name"));
  EXPECT_FALSE(ToJson(plain->services[0]).contains("profiles"));
}

TEST_F(ComposeCompatTest, ProfilesChooseServices) {
  const std::string yaml = R"(
services:
  web:
    image: x
  debug:
    image: x
    profiles: [dev, tools]
  seed:
    image: x
    profiles: [ops]
)";
  auto none = Load(yaml);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  ASSERT_EQ(none->services.size(), 1u);
  EXPECT_EQ(none->services[0].name, "web");
  LoadOptions o;
  o.profiles = {"tools"};
  auto tools = Load(yaml, o);
  ASSERT_TRUE(tools.ok());
  ASSERT_EQ(tools->services.size(), 2u);
  EXPECT_EQ(tools->services[1].name, "debug");
  setenv("COMPOSE_PROFILES", "ops,dev", 1);
  auto env = Load(yaml);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->services.size(), 3u);
  o.profiles = {"*"};
  unsetenv("COMPOSE_PROFILES");
  EXPECT_EQ(Load(yaml, o)->services.size(), 3u);
}

TEST_F(ComposeCompatTest, DependingOnAServiceOfADisabledProfileSaysWhichToEnable) {
  ExpectRefused(R"(
services:
  web:
    image: x
    depends_on: [db]
  db:
    image: x
    profiles: [data]
)", "depends on service 'db', which is only in profile(s) data: enable one with --profile");
  // Every service in a disabled profile: valid Compose (compose-v2 fixture TestRunEnvFile),
  // warned about; `berth up` refuses a blueprint with no services.
  auto none = Load("services:\n  a:\n    image: x\n    profiles: [p]\n");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->services.empty());
  ASSERT_EQ(diags_.size(), 1u);
  EXPECT_NE(diags_[0].message.find("none is enabled: pass --profile NAME"), std::string::npos);
}


TEST_F(ComposeCompatTest, PerContainerKeysBecomeCreateBodyFields) {
  auto b = Load(R"(
services:
  web:
    image: x
    cap_add: [NET_ADMIN]
    cap_drop: ALL
    privileged: false
    read_only: true
    tmpfs: [/run, "/tmp:size=64m"]
    security_opt: [no-new-privileges:true]
    sysctls: {net.core.somaxconn: 1024}
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    shm_size: 64m
    extra_hosts: ["db.local:10.0.0.5", "cache=10.0.0.6"]
    dns: 10.0.0.2
    dns_search: [example.org]
    logging: {driver: json-file, options: {max-size: 10m}}
    mem_limit: 1g
    cpus: "0.5"
    pids_limit: 100
    group_add: [audio]
    ipc: private
    tty: true
    stdin_open: true
    domainname: example.org
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const auto& h = b->services[0].engine_host;
  const auto& c = b->services[0].engine_config;
  EXPECT_EQ(h.at("CapAdd"), R"(["NET_ADMIN"])");
  EXPECT_EQ(h.at("CapDrop"), R"(["ALL"])");
  EXPECT_EQ(h.at("ReadonlyRootfs"), "true");
  EXPECT_EQ(h.at("Tmpfs"), R"({"/run":"","/tmp":"size=64m"})");
  EXPECT_EQ(h.at("Sysctls"), R"({"net.core.somaxconn":"1024"})");
  EXPECT_EQ(h.at("Ulimits"), R"([{"Hard":2048,"Name":"nofile","Soft":1024},{"Hard":512,"Name":"nproc","Soft":512}])");
  EXPECT_EQ(h.at("ShmSize"), "67108864");
  EXPECT_EQ(h.at("ExtraHosts"), R"(["db.local:10.0.0.5","cache:10.0.0.6"])");
  EXPECT_EQ(h.at("Dns"), R"(["10.0.0.2"])");
  EXPECT_EQ(h.at("LogConfig"), R"({"Config":{"max-size":"10m"},"Type":"json-file"})");
  EXPECT_EQ(h.at("Memory"), "1073741824");
  EXPECT_EQ(h.at("NanoCpus"), "500000000");
  EXPECT_EQ(h.at("IpcMode"), R"("private")");
  EXPECT_EQ(c.at("Tty"), "true");
  EXPECT_EQ(c.at("OpenStdin"), "true");
  EXPECT_EQ(c.at("Domainname"), R"("example.org")");
  auto back = BlueprintFromJson(ToJson(*b));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->services[0].engine_host, h);
}

TEST_F(ComposeCompatTest, PerContainerKeysRefuseWhatTheyCannotMean) {
  auto b = Load(R"(
services:
  web:
    image: x
    mem_limit: lots
    cpus: -1
    tmpfs: run
    ipc: "service:db"
    devices: ["relative:/dev/x"]
    extra_hosts: [nohost]
)");
  ASSERT_FALSE(b.ok());
  const std::string m = b.status().message();
  EXPECT_NE(m.find("6 problems"), std::string::npos) << m;
  EXPECT_NE(m.find(":5:16: error: services.web.mem_limit: 'lots' is not a size"), std::string::npos) << m;
  EXPECT_NE(m.find("'-1' is not a number of CPUs"), std::string::npos) << m;
  EXPECT_NE(m.find("tmpfs 'run': the path must be absolute"), std::string::npos) << m;
  EXPECT_NE(m.find("services.web.ipc: depends on unknown service 'db'"), std::string::npos) << m;
}

TEST_F(ComposeCompatTest, ExternalAndNamedNetworksAndVolumesKeepTheirNames) {
  auto b = Load(R"(
services:
  web:
    image: x
    networks: [proxy, back]
    volumes: [data:/data, shared:/shared, old:/old]
networks:
  proxy: {external: true}
  back: {name: my-back}
volumes:
  data: {}
  shared: {external: true, name: team-shared}
  old: {external: {name: legacy}}
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->networks.size(), 3u);
  EXPECT_EQ(b->networks[1].docker_name, "proxy");
  EXPECT_TRUE(b->networks[1].external);
  EXPECT_EQ(b->networks[2].docker_name, "my-back");
  EXPECT_FALSE(b->networks[2].external);
  EXPECT_EQ(b->volumes, (std::vector<std::string>{"cc_data", "team-shared", "legacy"}));
  ASSERT_EQ(b->services[0].volumes.size(), 3u);
  EXPECT_EQ(b->services[0].volumes[0].source, "cc_data");
  EXPECT_EQ(b->services[0].volumes[1].source, "team-shared");
  EXPECT_EQ(b->services[0].volumes[2].source, "legacy");
  auto back = BlueprintFromJson(ToJson(*b));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->networks[1].external);

  ExpectRefused("services:\n  web:\n    image: x\n    networks: [p]\n"
                         "networks:\n  p:\n    external: true\n    driver: bridge\n", "an external network is made by someone else: `driver`");
}

TEST_F(ComposeCompatTest, ScaleAndDeployResources) {
  auto b = Load(R"(
services:
  web:
    image: x
    scale: 3
    deploy:
      resources:
        limits: {cpus: "1.5", memory: 256m, pids: 50}
        reservations: {memory: 64m, cpus: "0.25"}
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].replicas, 3);
  EXPECT_DOUBLE_EQ(b->services[0].reserve_cpus, 0.25);  // placement's: no engine field
  EXPECT_EQ(b->services[0].engine_host.count("CpuShares"), 0u);
  const auto& h = b->services[0].engine_host;
  EXPECT_EQ(h.at("NanoCpus"), "1500000000");
  EXPECT_EQ(h.at("Memory"), "268435456");
  EXPECT_EQ(h.at("PidsLimit"), "50");
  EXPECT_EQ(h.at("MemoryReservation"), "67108864");
  ExpectRefused("services:\n  web:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n", "scale is 2 but deploy.replicas is 3");
  ExpectRefused("services:\n  web:\n    image: x\n    deploy: {resources: {reservations: {cpus: lots}}}\n",
                "'lots' is not a number of CPUs");
}

TEST_F(ComposeCompatTest, AnEmptyImageNamesTheVariableThatWasUnset) {
  ExpectRefused("services:\n  web:\n    image: ${BERTH_CC_TAG}\n", "compose.yaml:3:12: error: services.web.image: image is empty: "
                                      "BERTH_CC_TAG is not set (or is empty)");
}

TEST_F(ComposeCompatTest, LinksOrderTheStartAndAliasTheLinkedService) {
  auto b = Load(R"(
services:
  web:
    image: x
    links: [db, "cache:memo"]
  db:
    image: x
  cache:
    image: x
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].depends_on, (std::vector<std::string>{"db", "cache"}));
  ASSERT_EQ(b->services[2].networks.size(), 1u);
  EXPECT_EQ(b->services[2].networks[0].aliases, std::vector<std::string>{"memo"});
  EXPECT_TRUE(b->services[1].networks.empty()) << "a link without an alias needs none";
  ExpectRefused("services:\n  web:\n    image: x\n    links: [nope]\n", "depends on unknown service 'nope'");
}

TEST_F(ComposeCompatTest, BuildKeysBecomeBuildParameters) {
  std::filesystem::create_directories(dir_.path() / "app");
  Write(dir_.path() / "app" / "Dockerfile", "FROM scratch\n");
  auto b = Load(R"(
services:
  web:
    build:
      context: app
      target: runtime
      labels: {team: core}
      network: host
      shm_size: 32m
      extra_hosts: ["mirror:10.0.0.9"]
      cache_from: [app:cache]
      no_cache: true
      platforms: [linux/amd64]
      tags: [app:extra]
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const BuildDef& bd = *b->services[0].build;
  std::map<std::string, std::string> want = {
      {"target", "runtime"},        {"networkmode", "host"},        {"shmsize", "33554432"},
      {"extrahosts", "mirror:10.0.0.9"}, {"cachefrom", R"(["app:cache"])"}, {"nocache", "1"},
      {"platform", "linux/amd64"}};
  EXPECT_EQ(bd.options, want);
  EXPECT_EQ(bd.labels, (std::map<std::string, std::string>{{"team", "core"}}));
  EXPECT_EQ(bd.tags, std::vector<std::string>{"app:extra"});
  auto back = BlueprintFromJson(ToJson(*b));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->services[0].build->options, want);
  ExpectRefused("services:\n  web:\n    build:\n      context: app\n      platforms: [linux/amd64, linux/arm64]\n", "builds for one platform only");
}

TEST_F(ComposeCompatTest, PlatformAndPullPolicy) {
  auto b = Load("services:\n  web:\n    image: x\n    platform: linux/amd64\n    pull_policy: if_not_present\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].platform, "linux/amd64");
  EXPECT_EQ(b->services[0].pull_policy, "missing");
  ExpectRefused("services:\n  web:\n    image: x\n    platform: amd64\n    pull_policy: sometimes\n", "2 problems");
  ExpectRefused("services:\n  web:\n    image: x\n    pull_policy: build\n", "pull_policy: build needs `build`");
}

TEST_F(ComposeCompatTest, OpenPortsAndSensitiveBindMountsAreWarnedAbout) {
  auto b = Load(R"(
services:
  web:
    image: x
    ports: ["80:80", "127.0.0.1:8443:443", "9000"]
    volumes: [/var/run/docker.sock:/var/run/docker.sock, "/:/host:ro", ./data:/data]
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<std::string> w;
  for (const Diagnostic& d : diags_) w.push_back(d.ToString());
  ASSERT_EQ(w.size(), 3u) << ::testing::PrintToString(w);
  EXPECT_NE(w[0].find(":5:12: warning: services.web.ports: port(s) 80, 9000 published on every interface"),
            std::string::npos) << w[0];
  EXPECT_NE(w[1].find("bind mount of /var/run/docker.sock gives the container control of the Docker engine"),
            std::string::npos) << w[1];
  EXPECT_NE(w[2].find("bind mount of / gives the container the host's whole file system (read-only)"),
            std::string::npos) << w[2];
}

TEST_F(ComposeCompatTest, AliasExpansionIsBounded) {
  // One 100 KB anchor aliased 1,000 times: 100 MB once expanded (3.35 GB of memory before).
  std::string yaml = "x-big: &big \"" + std::string(100 * 1024, 'a') + "\"\nx-many:\n";
  for (int i = 0; i < 1000; ++i) yaml += "  - *big\n";
  yaml += "services:\n  web:\n    image: x\n";
  auto b = Load(yaml);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("expands (through its aliases) past"), std::string::npos)
      << b.status().message().substr(0, 300);
  // A file that uses anchors as people do is fine.
  EXPECT_TRUE(Load("x-env: &env {A: 1}\nservices:\n  a: {image: x, environment: *env}\n"
                   "  b: {image: x, environment: *env}\n").ok());
}

TEST_F(ComposeCompatTest, BadTextSaysWhatIsWrongAndWhere) {
  ExpectRefused("services:\n  web:\n\timage: x\n", "line 3 is indented with a tab");
  ExpectRefused(std::string("services:\n  web:\n    image: x\0\n", 30), ":3:13: error: the file holds a NUL byte");
  // The issue's unclosed quote: the image swallowed the next line and was accepted.
  ExpectRefused("services:\n  web:\n    image: 'nginx\n    command: echo'\n", "'nginx command: echo' is not an image reference");
  EXPECT_FALSE(Load("services:\n  web:\n    image: \"nginx latest\"\n").ok());
  for (const char* good : {"nginx", "nginx:1.25-alpine", "127.0.0.1:5000/team/app:v2", "ghcr.io/o/r@sha256:"
                                                                                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                           "localhost/app", "berth/busybox:test", "my_app__x/y-z:TAG_1.0"})
    EXPECT_TRUE(compose::ValidImageReference(good)) << good;
  for (const char* bad : {"Nginx", "nginx:", "nginx latest", ":tag", "a//b", "-a"})
    EXPECT_FALSE(compose::ValidImageReference(bad)) << bad;
}

TEST_F(ComposeCompatTest, EmptyValuesFromUnsetVariablesTakeTheDefault) {
  auto b = Load("services:\n  web:\n    image: x\n    restart: ${BERTH_CC_MODE}\n    networks: [n]\n"
                "networks:\n  n:\n    driver: ${BERTH_CC_MODE}\nvolumes:\n  v:\n    driver: \"\"\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].restart, "no");
  // compose-v2 fixtures TestCreateIdempotentSharedImageMixedPlatforms (platform) and the
  // like for the host modes: empty, they are left to the engine.
  auto modes = Load("services:\n  web:\n    image: x\n    platform: ${BERTH_CC_MODE}\n    ipc: ${BERTH_CC_MODE}\n"
                    "    pid: \"\"\n");
  ASSERT_TRUE(modes.ok()) << modes.status().ToString();
  EXPECT_EQ(modes->services[0].platform, "");
  EXPECT_FALSE(modes->services[0].engine_host.count("IpcMode"));
  EXPECT_FALSE(modes->services[0].engine_host.count("PidMode"));
  // compose-v2 fixtures simple-build-test/compose-interpolate, TestConfigInterpolate.
  std::filesystem::create_directories(dir_.path() / "ctx");
  auto build = Load("services:\n  web:\n    build:\n      context: ctx\n      dockerfile: ${BERTH_CC_MODE}\n");
  ASSERT_TRUE(build.ok()) << build.status().ToString();
  EXPECT_EQ(build->services[0].build->dockerfile, "Dockerfile");
  // compose-v2 fixtures TestUpContainerNameConflict, TestUpSwitchVolumes: an empty
  // container_name is Berth's name, an empty `name:` the key's.
  auto names = Load("services:\n  a:\n    image: x\n    container_name: ${BERTH_CC_MODE}\n"
                    "    volumes: [v:/v]\n  b:\n    image: x\n    container_name: \"\"\n"
                    "volumes:\n  v:\n    external: true\n    name: ${BERTH_CC_MODE}\n");
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(names->services[0].container_name, "");
  EXPECT_EQ(names->services[1].container_name, "");
  EXPECT_EQ(names->services[0].volumes[0].source, "v");
  ExpectRefused("services:\n  web:\n    image: x\n    labels: " + std::string(3000, '[') + std::string(3000, ']') + "\n", "nests too deeply");
}

TEST_F(ComposeCompatTest, LongVolumeSyntaxOptionsBecomeEngineOptions) {
  // compose-v1 fixture v3-full: `volume: {nocopy: true}`; `bind:` likewise.
  std::filesystem::create_directories(dir_.path() / "data");
  auto b = Load(R"(
services:
  web:
    image: x
    volumes:
      - {type: volume, source: v, target: /v, volume: {nocopy: true}}
      - {type: bind, source: ./data, target: /d, consistency: cached,
         bind: {propagation: rslave, selinux: z, create_host_path: true}}
volumes:
  v:
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].volumes[0].options, "nocopy");
  EXPECT_EQ(b->services[0].volumes[1].options, "rslave,z");
  ExpectRefused("services:\n  web:\n    image: x\n    volumes:\n      - {type: bind, source: /tmp, target: /t, bind: {propagation: sideways}}\n",
                "propagation 'sideways' is not one Docker knows");
  ExpectRefused("services:\n  web:\n    image: x\n    volumes:\n      - {type: volume, source: v, target: /t, volume: {subpath: a}}\nvolumes:\n  v:\n",
                "subpath");
}

}  // namespace
}  // namespace berth::workflows
