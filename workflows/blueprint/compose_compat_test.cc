// The Compose keys people's files use most that Berth once refused: env files (`.env`,
// --env-file, `env_file:`), `container_name` and `profiles`.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/scratch_dir.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows {
namespace {

using Vars = std::vector<std::pair<std::string, std::optional<std::string>>>;

void Write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

std::string AllErrors(const std::vector<Diagnostic>& d) {
  std::string all;
  for (const Diagnostic& x : d)
    if (x.severity == Diagnostic::kError) all += x.ToString() + "\n";
  return all;
}

TEST(EnvFileTest, LinesCommentsQuotesAndExport) {
  Vars v;
  ASSERT_EQ(compose::ParseEnvFile("# a comment\n\nA=1\nexport B = two words \nC='x # y'\n"
                                  "D=\"l1\\nl2 \\\"q\\\"\"\nE=v # trailing\nF\nG=\n",
                                  &v),
            "");
  Vars want = {{"A", "1"},        {"B", "two words"}, {"C", "x # y"}, {"D", "l1\nl2 \"q\""},
               {"E", "v"},        {"F", std::nullopt}, {"G", ""}};
  EXPECT_EQ(v, want);
}

TEST(EnvFileTest, BadLinesNameTheLine) {
  Vars v;
  EXPECT_EQ(compose::ParseEnvFile("A=1\nB='open\n", &v),
            "line 2: the value of B opens a quote it does not close");
  EXPECT_EQ(compose::ParseEnvFile("=x\n", &v), "line 1: '' is not a variable name");
  EXPECT_EQ(compose::ParseEnvFile("A='x' y\n", &v), "line 1: text after the quoted value of A");
}

class ComposeCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("BERTH_CC_TAG");
    unsetenv("BERTH_CC_MODE");
    unsetenv("COMPOSE_PROFILES");
    std::filesystem::create_directories(dir_.path());
  }
  Result<Blueprint> Load(const std::string& yaml, LoadOptions o = {}) {
    Write(dir_.path() / "compose.yaml", yaml);
    if (o.project.empty()) o.project = "cc";
    diags_.clear();
    return LoadBlueprint((dir_.path() / "compose.yaml").string(), o, &diags_);
  }
  testing::ScratchDir dir_{"compose-compat"};
  std::vector<Diagnostic> diags_;
};

TEST_F(ComposeCompatTest, DotEnvBesideTheFileFeedsInterpolationBelowTheProcess) {
  Write(dir_.path() / ".env", "BERTH_CC_TAG=1.25\nBERTH_CC_MODE=from-file\n");
  setenv("BERTH_CC_MODE", "from-shell", 1);
  auto b = Load("services:\n  web:\n    image: nginx:${BERTH_CC_TAG}\n"
                "    environment: [\"MODE=${BERTH_CC_MODE}\"]\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].image, "nginx:1.25");
  EXPECT_EQ(b->services[0].environment.at("MODE"), "from-shell") << "the shell wins, as in Compose";
  EXPECT_TRUE(diags_.empty()) << AllErrors(diags_);
}

TEST_F(ComposeCompatTest, EnvFileOptionReplacesDotEnvAndALaterOneWins) {
  Write(dir_.path() / ".env", "BERTH_CC_TAG=dot\n");
  Write(dir_.path() / "a.env", "BERTH_CC_TAG=a\n");
  Write(dir_.path() / "b.env", "BERTH_CC_TAG=b\n");
  LoadOptions o;
  o.env_files = {(dir_.path() / "a.env").string(), (dir_.path() / "b.env").string()};
  auto b = Load("services:\n  web:\n    image: nginx:${BERTH_CC_TAG}\n", o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].image, "nginx:b");
  o.env_files = {(dir_.path() / "missing.env").string()};
  auto bad = Load("services:\n  web:\n    image: nginx\n", o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("missing.env"), std::string::npos) << bad.status().message();
}

TEST_F(ComposeCompatTest, ABrokenDotEnvIsAnErrorAtItsLine) {
  Write(dir_.path() / ".env", "A=1\nB=\"open\n");
  auto b = Load("services:\n  web:\n    image: nginx\n");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find(".env:2:1: error: env file: line 2:"), std::string::npos)
      << b.status().message();
}

TEST_F(ComposeCompatTest, ServiceEnvFileInEveryFormBelowEnvironment) {
  Write(dir_.path() / "common.env", "A=common\nB=common\nBERTH_CC_MODE\n");
  Write(dir_.path() / "web.env", "B=web\n");
  setenv("BERTH_CC_MODE", "shell", 1);
  auto b = Load(R"(
services:
  one:
    image: x
    env_file: common.env
  two:
    image: x
    env_file: [common.env, web.env]
    environment: {A: explicit}
  three:
    image: x
    env_file:
      - path: web.env
      - path: absent.env
        required: false
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::map<std::string, std::string> one = {{"A", "common"}, {"B", "common"}, {"BERTH_CC_MODE", "shell"}};
  EXPECT_EQ(b->services[0].environment, one);
  EXPECT_EQ(b->services[1].environment.at("A"), "explicit");
  EXPECT_EQ(b->services[1].environment.at("B"), "web");
  EXPECT_EQ(b->services[2].environment, (std::map<std::string, std::string>{{"B", "web"}}));
  auto missing = Load("services:\n  web:\n    image: x\n    env_file: nope.env\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("compose.yaml:4:15: error: services.web.env_file: cannot read "), std::string::npos)
      << missing.status().message();
}

TEST_F(ComposeCompatTest, ContainerNameOneContainerUniqueInTheFile) {
  auto b = Load("services:\n  db:\n    image: x\n    container_name: my-db\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].container_name, "my-db");
  auto back = BlueprintFromJson(ToJson(*b));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->services[0].container_name, "my-db");

  auto scaled = Load("services:\n  db:\n    image: x\n    container_name: my-db\n"
                     "    deploy: {replicas: 2}\n");
  ASSERT_FALSE(scaled.ok());
  EXPECT_NE(scaled.status().message().find("names one container, but deploy.replicas is 2"),
            std::string::npos);
  auto twice = Load("services:\n  a:\n    image: x\n    container_name: same\n"
                    "  b:\n    image: x\n    container_name: same\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("is also service a's"), std::string::npos);
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
  auto b = Load(R"(
services:
  web:
    image: x
    depends_on: [db]
  db:
    image: x
    profiles: [data]
)");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find(
                "depends on service 'db', which is only in profile(s) data: enable one with --profile"),
            std::string::npos)
      << b.status().message();
  auto all_off = Load("services:\n  a:\n    image: x\n    profiles: [p]\n");
  ASSERT_FALSE(all_off.ok());
  EXPECT_NE(all_off.status().message().find("none is enabled"), std::string::npos);
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
  EXPECT_NE(m.find("'service:db' is not supported here"), std::string::npos) << m;
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

  auto configured = Load("services:\n  web:\n    image: x\n    networks: [p]\n"
                         "networks:\n  p:\n    external: true\n    driver: bridge\n");
  ASSERT_FALSE(configured.ok());
  EXPECT_NE(configured.status().message().find("an external network is made by someone else: `driver`"),
            std::string::npos)
      << configured.status().message();
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
        reservations: {memory: 64m}
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].replicas, 3);
  const auto& h = b->services[0].engine_host;
  EXPECT_EQ(h.at("NanoCpus"), "1500000000");
  EXPECT_EQ(h.at("Memory"), "268435456");
  EXPECT_EQ(h.at("PidsLimit"), "50");
  EXPECT_EQ(h.at("MemoryReservation"), "67108864");
  auto both = Load("services:\n  web:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("scale is 2 but deploy.replicas is 3"), std::string::npos)
      << both.status().message();
}

TEST_F(ComposeCompatTest, AnEmptyImageNamesTheVariableThatWasUnset) {
  auto b = Load("services:\n  web:\n    image: ${BERTH_CC_TAG}\n");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("compose.yaml:3:12: error: services.web.image: image is empty: "
                                      "BERTH_CC_TAG is not set (or is empty)"),
            std::string::npos)
      << b.status().message();
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
  auto unknown = Load("services:\n  web:\n    image: x\n    links: [nope]\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("depends on unknown service 'nope'"), std::string::npos);
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
  auto two = Load("services:\n  web:\n    build:\n      context: app\n      platforms: [linux/amd64, linux/arm64]\n");
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("builds for one platform only"), std::string::npos);
}

TEST_F(ComposeCompatTest, NetworkModeOfTheHostsOwn) {
  auto b = Load("services:\n  web:\n    image: x\n    network_mode: none\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].network_mode, "none");
  EXPECT_EQ(b->services[0].engine_host.at("NetworkMode"), R"("none")");
  auto both = Load("services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("network_mode and networks cannot both be set"), std::string::npos);
  auto other = Load("services:\n  web:\n    image: x\n    network_mode: \"service:db\"\n  db:\n    image: x\n");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("is not supported yet"), std::string::npos);
  (void)Load("services:\n  web:\n    image: x\n    network_mode: host\n    ports: [\"8080:80\"]\n");
  bool warned = false;
  for (const Diagnostic& d : diags_) warned = warned || d.message.find("`ports` are not published") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST_F(ComposeCompatTest, PlatformAndPullPolicy) {
  auto b = Load("services:\n  web:\n    image: x\n    platform: linux/amd64\n    pull_policy: if_not_present\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].platform, "linux/amd64");
  EXPECT_EQ(b->services[0].pull_policy, "missing");
  auto bad = Load("services:\n  web:\n    image: x\n    platform: amd64\n    pull_policy: sometimes\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("2 problems"), std::string::npos) << bad.status().message();
  auto build = Load("services:\n  web:\n    image: x\n    pull_policy: build\n");
  ASSERT_FALSE(build.ok());
  EXPECT_NE(build.status().message().find("pull_policy: build needs `build`"), std::string::npos);
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

TEST_F(ComposeCompatTest, DotEnvValuesAreInterpolatedUnlessSingleQuoted) {
  Write(dir_.path() / ".env", "BERTH_CC_TAG=\"${BERTH_CC_TAG:-1.0}\"\nBERTH_CC_MODE='${literal}'\nBERTH_CC_X=${BERTH_CC_TAG}-x\n");
  auto b = Load("services:\n  web:\n    image: nginx:${BERTH_CC_X}\n    environment: [\"M=${BERTH_CC_MODE}\"]\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].image, "nginx:1.0-x");
  EXPECT_EQ(b->services[0].environment.at("M"), "${literal}");
}

TEST_F(ComposeCompatTest, BadTextSaysWhatIsWrongAndWhere) {
  auto tab = Load("services:\n  web:\n\timage: x\n");
  ASSERT_FALSE(tab.ok());
  EXPECT_NE(tab.status().message().find("line 3 is indented with a tab"), std::string::npos) << tab.status().message();
  auto nul = Load(std::string("services:\n  web:\n    image: x\0\n", 30));
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.status().message().find(":3:13: error: the file holds a NUL byte"), std::string::npos)
      << nul.status().message();
  // The issue's unclosed quote: the image swallowed the next line and was accepted.
  auto quote = Load("services:\n  web:\n    image: 'nginx\n    command: echo'\n");
  ASSERT_FALSE(quote.ok());
  EXPECT_NE(quote.status().message().find("'nginx command: echo' is not an image reference"), std::string::npos)
      << quote.status().message();
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
  auto deep = Load("services:\n  web:\n    image: x\n    labels: " + std::string(3000, '[') + std::string(3000, ']') + "\n");
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nests too deeply"), std::string::npos) << deep.status().message();
}

}  // namespace
}  // namespace berth::workflows
