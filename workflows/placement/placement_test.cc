#include "workflows/placement/placement.h"

#include <gtest/gtest.h>

namespace berth::placement {
namespace {

using json = nlohmann::json;

std::vector<Host> Hosts(int n) {
  std::vector<Host> v(n);
  for (int i = 0; i < n; ++i) {
    v[i].name = "h" + std::to_string(i + 1);
    v[i].cpus = 4;
    v[i].memory = int64_t(8) << 30;
  }
  return v;
}

void Put(Host* h, const Request& r) {
  h->containers++;
  h->apps[r.app]++;
  h->services[r.app + "/" + r.service]++;
  h->names.insert(r.container);
  h->cpus_reserved += r.cpus;
  h->memory_reserved += r.memory;
}

// Places `count` containers of app/web one after another, as a deploy does.
std::vector<std::string> PlaceAll(const json& spec, std::vector<Host>& hosts, int count, Request base = {"shop", "web", ""}) {
  auto chain = Chain::Parse(spec);
  EXPECT_TRUE(chain.ok()) << chain.status().ToString();
  std::vector<std::string> out;
  for (int i = 1; i <= count; ++i) {
    Request r = base;
    r.container = base.app + "-" + base.service + "-" + std::to_string(i);
    auto d = chain->Place(hosts, r);
    if (!d.ok()) {
      out.push_back("!" + d.status().message());
      break;
    }
    out.push_back(d->host);
    for (auto& h : hosts)
      if (h.name == d->host) Put(&h, r);
  }
  return out;
}

TEST(Placement, DepthFirstFillsOneHostUpToItsLimitBeforeTheNext) {
  auto hosts = Hosts(3);
  auto got = PlaceAll(json::array({"depth-first", {{"max-containers", 2}}}), hosts, 5);
  EXPECT_EQ(got, (std::vector<std::string>{"h1", "h1", "h2", "h2", "h3"}));
}

TEST(Placement, BreadthFirstSpreadsAService) {
  auto hosts = Hosts(3);
  auto got = PlaceAll(json::array({"breadth-first"}), hosts, 6);
  EXPECT_EQ(got, (std::vector<std::string>{"h1", "h2", "h3", "h1", "h2", "h3"}));
}

TEST(Placement, LeastContainersCountsOtherAppsToo) {
  auto hosts = Hosts(2);
  Put(&hosts[0], {"other", "db", "other-db-1"});
  auto got = PlaceAll(json::array({"least-containers"}), hosts, 3);
  EXPECT_EQ(got, (std::vector<std::string>{"h2", "h1", "h2"}));
}

TEST(Placement, AThreeStrategyChainIsHonoured) {
  auto hosts = Hosts(4);
  hosts[0].labels["zone"] = "a";
  hosts[1].labels["zone"] = "b";
  hosts[2].labels["zone"] = "a";
  hosts[3].labels["zone"] = "a";
  auto got = PlaceAll(json::array({{{"labels", {{"zone", "a"}}}}, {{"max-containers", 1}}, "spread"}), hosts, 4);
  ASSERT_EQ(got.size(), 4u);
  std::set<std::string> used(got.begin(), got.begin() + 3);
  EXPECT_EQ(used, (std::set<std::string>{"h1", "h3", "h4"}));
  ASSERT_EQ(got[3][0], '!');
  // Every host is named with the strategy that rejected it.
  EXPECT_NE(got[3].find("labels rejected h2 (label zone=b, not a)"), std::string::npos) << got[3];
  EXPECT_NE(got[3].find("max-containers rejected h1 (holds 1 containers, at most 1)"), std::string::npos) << got[3];
}

TEST(Placement, AntiAffinityKeepsReplicasApartAndSaysWhyWhenItCannot) {
  auto hosts = Hosts(2);
  auto got = PlaceAll(json::array({{{"affinity", "NOT TYPE"}}}), hosts, 3);
  EXPECT_EQ(got[0], "h1");
  EXPECT_EQ(got[1], "h2");
  ASSERT_EQ(got[2][0], '!');
  EXPECT_NE(got[2].find("affinity rejected h1 (fails affinity NOT TYPE)"), std::string::npos) << got[2];
}

TEST(Placement, CordonedHostsAndMissingCapacityAreRejected) {
  auto hosts = Hosts(3);
  hosts[0].cordoned = true;
  hosts[1].cpus = 1;
  Request r{"shop", "web", "shop-web-1", 2, 0};
  auto chain = Chain::Parse(json::array());
  auto d = chain->Place(hosts, r);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "h3");
  ASSERT_EQ(d->rejected.size(), 2u);
  EXPECT_EQ(d->rejected[0].strategy, "cordon");
  EXPECT_EQ(d->rejected[1].strategy, "capacity");
}

TEST(Placement, BinpackFillsTheFullestHostAndSpreadTheEmptiest) {
  auto hosts = Hosts(2);
  Put(&hosts[1], {"other", "db", "other-db-1", 2, 0});
  Request r{"shop", "web", "shop-web-1", 1, 0};
  EXPECT_EQ(Chain::Parse(json::array({"binpack"}))->Place(hosts, r)->host, "h2");
  EXPECT_EQ(Chain::Parse(json::array({"spread"}))->Place(hosts, r)->host, "h1");
}

TEST(Placement, ConstraintsHostnameAndDistinctHosts) {
  auto hosts = Hosts(3);
  hosts[2].labels["disk"] = "ssd";
  EXPECT_EQ(PlaceAll(json::array({{{"constraint", "label.disk == ssd"}}}), hosts, 1)[0], "h3");
  hosts = Hosts(3);
  EXPECT_EQ(PlaceAll(json::array({{{"hostname", "^h[23]$"}}}), hosts, 1)[0], "h2");
  hosts = Hosts(2);
  auto got = PlaceAll(json::array({"distinct-hosts"}), hosts, 3);
  EXPECT_EQ(got[0], "h1");
  EXPECT_EQ(got[1], "h2");
  EXPECT_EQ(got[2][0], '!');
}

TEST(Placement, AGroupSharesOneHostAndKeepsTheAppsOtherServicesOff) {
  auto hosts = Hosts(3);
  // web's replicas all go where the first went, however the order ranks the hosts.
  auto web = PlaceAll(json::array({"group", "breadth-first"}), hosts, 3);
  EXPECT_EQ(web, (std::vector<std::string>{"h1", "h1", "h1"}));
  // db, another service of the app, gets a host of its own; h1 is rejected with the reason.
  auto chain = Chain::Parse(json::array({"group"}));
  auto d = chain->Place(hosts, {"shop", "db", "shop-db-1"});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->host, "h2");
  ASSERT_FALSE(d->rejected.empty());
  EXPECT_EQ(d->rejected[0].strategy, "group");
  EXPECT_NE(d->rejected[0].reason.find("3 containers of shop's other services"), std::string::npos) << d->rejected[0].reason;
  // Another app may share h1 unless its group is exclusive: then only an empty host.
  hosts[1].containers = 1;
  hosts[1].apps["other"] = 1;
  EXPECT_EQ(PlaceAll(json::array({"group"}), hosts, 1, {"blog", "web", ""})[0], "h1");
  EXPECT_EQ(PlaceAll(json::array({{{"group", {{"exclusive", true}}}}}), hosts, 2, {"wiki", "web", ""}),
            (std::vector<std::string>{"h3", "h3"}));
  // The group's host full: the group fails naming it rather than splitting.
  auto small = Hosts(2);
  auto got = PlaceAll(json::array({"group", {{"max-containers", 1}}}), small, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "h1");
  EXPECT_NE(got[1].find("group rejected h2 (the group shop/web is on h1)"), std::string::npos) << got[1];
  EXPECT_NE(got[1].find("max-containers rejected h1"), std::string::npos) << got[1];
  EXPECT_NE(Chain::Parse(json::array({{{"group", "yes"}}})).status().message().find("group takes no argument, or {exclusive: true}"),
            std::string::npos);
}

TEST(Placement, RandomIsStableForAContainer) {
  auto hosts = Hosts(5);
  Request r{"shop", "web", "shop-web-7"};
  auto chain = Chain::Parse(json::array({"random"}));
  EXPECT_EQ(chain->Place(hosts, r)->host, chain->Place(hosts, r)->host);
}

TEST(Placement, BadSpecsSayWhatIsWrong) {
  auto bad = [](const json& spec) { return Chain::Parse(spec).status().message(); };
  EXPECT_NE(bad(json::array({"depthfirst"})).find("unknown placement strategy 'depthfirst' (known: depth-first"), std::string::npos);
  EXPECT_NE(bad(json::array({{{"hostname", "(["}}})).find("bad regular expression"), std::string::npos);
  EXPECT_NE(bad(json::array({{{"max-containers", "x"}}})).find("max-containers takes a count"), std::string::npos);
  EXPECT_NE(bad(json::array({{{"affinity", "NEAR TYPE"}}})).find("affinity rule"), std::string::npos);
  EXPECT_NE(bad(json::array({{{"constraint", "label.zone ~ a"}}})).find("OP one of"), std::string::npos);
  EXPECT_NE(bad(json::array({"ok", "depth-first"})).find("placement entry 1"), std::string::npos);
}

TEST(Placement, ANoHostCloudSaysSo) {
  auto d = Chain().Place({}, {"a", "b", "a-b-1"});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("the cloud has none"), std::string::npos);
}

TEST(Placement, LargeCloudsExamineAFewCandidatesNotEveryHost) {
  auto hosts = Hosts(10'000);
  auto chain = Chain::Parse(json::array({{{"max-containers", 20}}, "least-containers"}));
  auto d = chain->Place(hosts, {"shop", "web", "shop-web-1"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->candidates, 16u);  // ceil(log2 10000) + 2
  EXPECT_EQ(d->examined, 16u);
}

}  // namespace
}  // namespace berth::placement
