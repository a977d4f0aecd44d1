// Compose keys of networks and namespaces: network driver_opts/internal/attachable,
// network_mode (the host's own, another container's, links on the default bridge), and
// ipc/pid sharing another container's namespace.
#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "workflows/blueprint/compose_test_fixture.h"

namespace berth::workflows {
namespace {

// compose-v1 fixtures networks/default-network-config.yml, network-static-addresses.yml,
// network-internal.yml: the bridge driver's options, `internal` and `attachable`.
TEST_F(ComposeCompatTest, NetworkDriverOptionsInternalAndAttachable) {
  auto b = Load(R"(
services:
  web:
    image: x
    networks: [back, front]
networks:
  default:
    driver_opts: {com.docker.network.driver.mtu: 1400}
  back:
    internal: true
    driver_opts:
      com.docker.network.bridge.enable_icc: "true"
  front: {attachable: true}
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->networks.size(), 3u);
  EXPECT_EQ(b->networks[0].driver_opts, (std::map<std::string, std::string>{{"com.docker.network.driver.mtu", "1400"}}));
  EXPECT_TRUE(b->networks[1].internal);
  EXPECT_EQ(b->networks[1].driver_opts.at("com.docker.network.bridge.enable_icc"), "true");
  EXPECT_TRUE(b->networks[2].attachable);
  EXPECT_FALSE(b->networks[2].internal);
  auto back = BlueprintFromJson(ToJson(*b));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->networks[0].driver_opts, b->networks[0].driver_opts);
  EXPECT_TRUE(back->networks[1].internal);
  EXPECT_TRUE(back->networks[2].attachable);
  // Unset, they stay out of the JSON: the recorded inputs of older deploys do not change.
  auto plain = Load("services:\n  web:\n    image: x\n");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(ToJson(*plain)["networks"][0].contains("driver_opts"));
  EXPECT_FALSE(ToJson(*plain)["networks"][0].contains("internal"));

  ExpectRefused("services:\n  web:\n    image: x\n    networks: [p]\n"
                "networks:\n  p:\n    external: true\n    internal: true\n",
                "an external network is made by someone else: `internal`");
  ExpectRefused("services:\n  web:\n    image: x\nnetworks:\n  default:\n    internal: maybe\n", "internal");
}

TEST_F(ComposeCompatTest, NetworkModeOfTheHostsOwn) {
  auto b = Load("services:\n  web:\n    image: x\n    network_mode: none\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].network_mode, "none");
  EXPECT_EQ(b->services[0].engine_host.at("NetworkMode"), R"("none")");
  ExpectRefused("services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n", "network_mode and networks cannot both be set");
  // compose-v2 fixture TestNetworkLinks: on the default bridge, links are Docker's own.
  auto legacy = Load("services:\n  one:\n    image: x\n    network_mode: bridge\n"
                     "  two:\n    image: x\n    network_mode: bridge\n    links: [one, \"one:db\"]\n");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ(legacy->FindService("two")->engine_host.at("Links"), R"(["cc-one-1:one","cc-one-1:db"])");
  EXPECT_EQ(legacy->FindService("two")->depends_on, (std::vector<std::string>{"one"}));
  EXPECT_TRUE(legacy->FindService("one")->networks.empty()) << "no app network for the linked service";
  ExpectRefused("services:\n  one:\n    image: x\n  two:\n    image: x\n    network_mode: bridge\n    links: [one]\n",
                "give one network_mode: bridge");
  ExpectRefused("services:\n  one:\n    image: x\n  two:\n    image: x\n    network_mode: host\n    links: [one]\n",
                "links need a network: they cannot be used with network_mode host");
  (void)Load("services:\n  web:\n    image: x\n    network_mode: host\n    ports: [\"8080:80\"]\n");
  bool warned = false;
  for (const Diagnostic& d : diags_) warned = warned || d.message.find("`ports` are not published") != std::string::npos;
  EXPECT_TRUE(warned);
}

// compose-v2 fixtures network-test, TestNetworkModes, TestNoDepsNetworkMode; compose-v1
// networks/network-mode.yml: another container's network stack.
TEST_F(ComposeCompatTest, NetworkModeOfAnotherContainer) {
  auto b = Load(R"(
services:
  app:
    image: x
    network_mode: "service:db"
  side:
    image: x
    network_mode: "service:named"
  ext:
    image: x
    network_mode: "container:someone-elses"
  db:
    image: x
  named:
    image: x
    container_name: the-named
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ServiceDef& app = *b->FindService("app");
  EXPECT_EQ(app.network_mode, "service:db");
  EXPECT_EQ(app.engine_host.at("NetworkMode"), R"("container:cc-db-1")");
  EXPECT_EQ(app.depends_on, (std::vector<std::string>{"db"})) << "it starts after the container it shares";
  EXPECT_EQ(b->FindService("side")->engine_host.at("NetworkMode"), R"("container:the-named")");
  EXPECT_EQ(b->FindService("ext")->engine_host.at("NetworkMode"), R"("container:someone-elses")");
  EXPECT_TRUE(b->FindService("ext")->depends_on.empty());
  auto back = BlueprintFromJson(ToJson(*b));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->FindService("app")->engine_host.at("NetworkMode"), R"("container:cc-db-1")");

  // A change of db makes app again (a new db is a new network stack); app's own hash is
  // the same whatever db is, so only the deploy's hashes see it.
  auto hashes = ServiceConfigHashes(*b);
  auto db2 = Load("services:\n  app:\n    image: x\n    network_mode: \"service:db\"\n  db:\n    image: y\n");
  auto db1 = Load("services:\n  app:\n    image: x\n    network_mode: \"service:db\"\n  db:\n    image: x\n");
  ASSERT_TRUE(db1.ok() && db2.ok());
  EXPECT_NE(ServiceConfigHashes(*db1).at("app"), ServiceConfigHashes(*db2).at("app"));
  EXPECT_EQ(ServiceConfigHashes(*db1).at("db"), hashes.at("db"));

  EXPECT_EQ(b->FindService("app")->shares, (std::vector<std::string>{"db"}));

  // compose-v1 fixtures ipc-mode and pid-mode: the IPC and PID namespaces too.
  auto ns = Load("services:\n  shared:\n    image: x\n    ipc: shareable\n"
                 "  user:\n    image: x\n    ipc: \"service:shared\"\n    pid: \"service:shared\"\n"
                 "  ext:\n    image: x\n    ipc: \"container:someone\"\n    pid: \"container:someone\"\n");
  ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  const ServiceDef& user = *ns->FindService("user");
  EXPECT_EQ(user.engine_host.at("IpcMode"), R"("container:cc-shared-1")");
  EXPECT_EQ(user.engine_host.at("PidMode"), R"("container:cc-shared-1")");
  EXPECT_EQ(user.depends_on, (std::vector<std::string>{"shared"}));
  EXPECT_EQ(user.shares, (std::vector<std::string>{"shared"}));
  EXPECT_EQ(ns->FindService("ext")->engine_host.at("IpcMode"), R"("container:someone")");
  ExpectRefused("services:\n  a:\n    image: x\n    ipc: \"service:nope\"\n", "services.a.ipc: depends on unknown service 'nope'");
  ExpectRefused("services:\n  a:\n    image: x\n    ipc: \"container:${BERTH_CC_MODE}\"\n", "(an unset variable?)");
  ExpectRefused("services:\n  app:\n    image: x\n    network_mode: \"service:nope\"\n", "nope");
  ExpectRefused("services:\n  app:\n    image: x\n    network_mode: \"service:db\"\n    ports: [\"127.0.0.1:8080:80\"]\n"
                "  db:\n    image: x\n",
                "network_mode 'service:db' shares another container's network: `ports` belongs to that container");
  ExpectRefused("services:\n  app:\n    image: x\n    network_mode: \"container:\"\n", "'' is not a container name");
  ExpectRefused("services:\n  app:\n    image: x\n    network_mode: \"service:db\"\n    hostname: h\n  db:\n    image: x\n",
                "`hostname` belongs to that container");
}

}  // namespace
}  // namespace berth::workflows
