// The deploy's networks on the in-memory Docker: removal order and a stale endpoint, a
// name two networks share (a lost create landed), driver options, another service's
// network stack, and external networks.
#include "workflows/deploy/deploy_test_fixture.h"

namespace berth::workflows {
namespace {

TEST_F(DeployTest, UndeployRemovesDependentsFirstThenNetworks) {
  ASSERT_EQ(Up(App(2)).status, engine::RunStatus::kCompleted);
  auto s = Run("undeploy", {{"app", "shop"}});
  ASSERT_EQ(s.status, engine::RunStatus::kCompleted) << s.error;
  EXPECT_TRUE(Names().empty());
  EXPECT_TRUE(docker_.networks.empty());
  EXPECT_LT(At("remove shop-web-2"), At("remove shop-db-1"));
  EXPECT_LT(At("remove shop-db-1"), At("network-remove shop_default"));
}

// bench-serve, 2026-12-01: after 20 containers were removed at once, dockerd 20.10 kept a
// stale endpoint in the app's network (it listed no container, yet refused the removal as
// "has active endpoints") until it restarted. The undeploy says so after a few attempts
// instead of retrying for 6 minutes.
TEST_F(DeployTest, ANetworkWithAStaleEndpointFailsTheUndeployWithTheCure) {
  ASSERT_EQ(Up(App(1)).status, engine::RunStatus::kCompleted);
  docker_.stale_networks.insert("shop_default");
  auto s = Run("undeploy", {{"app", "shop"}});
  ASSERT_EQ(s.status, engine::RunStatus::kFailed);
  EXPECT_NE(s.error.find("stale endpoint"), std::string::npos) << s.error;
  EXPECT_NE(s.error.find("restart of the Docker daemon"), std::string::npos) << s.error;
  EXPECT_TRUE(Names().empty()) << "the containers are removed all the same";
  std::lock_guard<std::mutex> g(docker_.mu);
  EXPECT_EQ(std::count(docker_.calls.begin(), docker_.calls.end(), "network-remove-try shop_default"), 4);
}

// CI, 2026-12-02: berth killed in the middle of `docker.network`; the resumed step found no
// network and made one, then the lost create landed too. Docker 20.10 keeps both under one
// name, and every start by that name then failed with "ambiguous". Containers join by id,
// the network step removes empty spares, and the undeploy removes every one of the name.
TEST_F(DeployTest, ANetworkCreateThatLandsLateBesideTheRetryBreaksNothing) {
  const docker::Labels mine = {{"berth.app", "shop"}};
  docker_.AddNetworkLikeALateCreate("shop_default", mine);
  docker_.AddNetworkLikeALateCreate("shop_default", mine);
  auto s = Up(App(2));
  ASSERT_EQ(s.status, engine::RunStatus::kCompleted) << s.error;
  std::string joined;
  {
    std::lock_guard<std::mutex> g(docker_.mu);
    auto named = docker_.FindNetworks("shop_default");
    ASSERT_EQ(named.size(), 1u) << "the empty spare is removed";
    joined = named[0]->id;
    for (const auto& [name, c] : docker_.containers) EXPECT_EQ(c.spec.network_id, joined) << name;
  }
  // One more lands after the deploy: a change (new containers) still joins the one in use.
  docker_.AddNetworkLikeALateCreate("shop_default", mine);
  s = Up(App(3));
  ASSERT_EQ(s.status, engine::RunStatus::kCompleted) << s.error;
  {
    std::lock_guard<std::mutex> g(docker_.mu);
    EXPECT_EQ(docker_.FindNetworks("shop_default").size(), 1u);
    EXPECT_EQ(docker_.containers.at("shop-web-3").spec.network_id, joined);
  }
  docker_.AddNetworkLikeALateCreate("shop_default", mine);
  ASSERT_EQ(Run("undeploy", {{"app", "shop"}}).status, engine::RunStatus::kCompleted);
  std::lock_guard<std::mutex> g(docker_.mu);
  EXPECT_TRUE(docker_.networks.empty()) << "down left a network of the app";
}

// A network's driver_opts and `internal` reach the engine; asked for other ones later, the
// deploy says the network must be made again (the engine cannot change them), as Compose does.
TEST_F(DeployTest, NetworkOptionsReachTheEngineAndAChangeSaysHowToApplyIt) {
  const std::string text = "name: shop\nservices:\n  web:\n    image: berth/busybox:test\n"
                           "networks:\n  default:\n    internal: true\n"
                           "    driver_opts: {com.docker.network.driver.mtu: \"1400\"}\n";
  auto s = Up(text);
  ASSERT_EQ(s.status, engine::RunStatus::kCompleted) << s.error;
  {
    std::lock_guard<std::mutex> g(docker_.mu);
    auto named = docker_.FindNetworks("shop_default");
    ASSERT_EQ(named.size(), 1u);
    EXPECT_TRUE(named[0]->internal);
    EXPECT_EQ(named[0]->options.at("com.docker.network.driver.mtu"), "1400");
  }
  ASSERT_EQ(Up(text).status, engine::RunStatus::kCompleted) << "the same options again: nothing to say";
  std::string changed = text;
  changed.replace(changed.find("1400"), 4, "1300");
  auto again = Up(changed);
  ASSERT_EQ(again.status, engine::RunStatus::kFailed);
  EXPECT_NE(again.error.find("network shop_default exists with other settings (option com.docker.network.driver.mtu is "
                             "'1400', the file says '1300')"),
            std::string::npos)
      << again.error;
  EXPECT_NE(again.error.find("`berth down` and then `berth up`"), std::string::npos) << again.error;
}

// network_mode service:X: the container shares the network stack of X's first container,
// starts after it, and is made again whenever X is (a new X is a new network stack).
TEST_F(DeployTest, AServiceOnAnothersNetworkIsMadeAgainWithIt) {
  auto text = [](const std::string& db_cmd) {
    return "name: shop\nservices:\n  db:\n    image: berth/busybox:test\n    command: [\"sleep\", \"" + db_cmd +
           "\"]\n  side:\n    image: berth/busybox:test\n    network_mode: \"service:db\"\n";
  };
  auto s = Up(text("100"));
  ASSERT_EQ(s.status, engine::RunStatus::kCompleted) << s.error;
  {
    std::lock_guard<std::mutex> g(docker_.mu);
    const auto& side = docker_.containers.at("shop-side-1");
    EXPECT_EQ(side.spec.extra_host_config.at("NetworkMode"), R"("container:shop-db-1")");
    EXPECT_TRUE(side.spec.network.empty()) << "it joins no app network";
  }
  EXPECT_LT(At("start shop-db-1"), At("create shop-side-1"));
  ASSERT_EQ(Up(text("100")).status, engine::RunStatus::kCompleted);
  EXPECT_EQ(docker_.Count("remove shop-side-1"), 0) << "unchanged: kept";
  ASSERT_EQ(Up(text("200")).status, engine::RunStatus::kCompleted);
  EXPECT_EQ(docker_.Count("remove shop-side-1"), 1) << "db was made again, so side is too";
  EXPECT_EQ(docker_.Count("create shop-side-1"), 2);
}


// An external network is joined as it is, never made, and stays after down; a missing one
// fails the deploy saying how to make it.
TEST_F(DeployTest, ExternalNetworkIsJoinedNeverMadeOrRemoved) {
  const std::string text = "services:\n  web:\n    image: berth/busybox:test\n    networks: [proxy]\n"
                           "networks:\n  proxy: {external: true}\n";
  auto missing = Up(text);
  ASSERT_EQ(missing.status, engine::RunStatus::kFailed);
  EXPECT_NE(missing.error.find("external network proxy does not exist: create it (docker network create proxy)"),
            std::string::npos)
      << missing.error;
  EXPECT_EQ(docker_.Count("network proxy"), 0) << "Berth made the external network";
  {
    std::lock_guard<std::mutex> g(docker_.mu);
    docker::NetworkInfo n;
    n.id = "ext1";
    n.name = "proxy";
    docker_.networks["ext1"] = n;  // someone else's: no berth.app label
  }
  auto s = Up(text);
  ASSERT_EQ(s.status, engine::RunStatus::kCompleted) << s.error;
  ASSERT_EQ(Run("undeploy", {{"app", "shop"}}).status, engine::RunStatus::kCompleted);
  std::lock_guard<std::mutex> g(docker_.mu);
  EXPECT_EQ(docker_.FindNetworks("proxy").size(), 1u) << "down removed someone else's network";
}

}  // namespace
}  // namespace berth::workflows
