// The headroom policy's decision (headroom.h): Clocker's rule, the limits, and never a host
// with containers or one a user added.
#include "workflows/hosts/headroom.h"

#include <gtest/gtest.h>

namespace berth::workflows {
namespace {

HostLoad H(const std::string& name, int containers, int64_t empty_since = -1, bool cordoned = false) {
  HostLoad h;
  h.name = name;
  h.containers = containers;
  h.berth_made = BerthMadeHost(name);
  h.empty_since_ms = containers == 0 ? (empty_since < 0 ? 0 : empty_since) : -1;
  h.cordoned = cordoned;
  return h;
}

HeadroomOptions Opts(int headroom, int per_host = 2, int min_hosts = 0, int max_hosts = 3) {
  HeadroomOptions o;
  o.headroom = headroom;
  o.max_per_host = per_host;
  o.min_hosts = min_hosts;
  o.max_hosts = max_hosts;
  o.idle_ms = 1000;
  return o;
}

TEST(HeadroomTest, AnEmptyCloudGetsAHost) {
  auto d = DecideHeadroom(Opts(2), {}, 0);
  EXPECT_EQ(d.free, 0);
  EXPECT_EQ(d.needed, 2);
  EXPECT_EQ(d.add, 1);
  EXPECT_TRUE(d.remove.empty());
}

TEST(HeadroomTest, FreeIsCapacityLessContainersOverUncordonedHostsThatAnswer) {
  // pool-1 full, pool-2 one free, a cordoned host and one that does not answer give none.
  auto d = DecideHeadroom(Opts(1, 2, 0, 10), {H("pool-1", 2), H("pool-2", 1), H("pool-3", 0, 0, true), H("pool-4", -1)}, 0);
  EXPECT_EQ(d.free, 1);
  EXPECT_EQ(d.add, 0);
  EXPECT_TRUE(d.remove.empty());
  // A host over the per-host count gives no negative room.
  EXPECT_EQ(DecideHeadroom(Opts(1, 2, 0, 10), {H("pool-1", 5), H("pool-2", 0)}, 0).free, 2);
}

TEST(HeadroomTest, AtMaxHostsItStopsAskingAndSaysWhy) {
  auto d = DecideHeadroom(Opts(2, 2, 0, 2), {H("pool-1", 2), H("pool-2", 2)}, 0);
  EXPECT_EQ(d.add, 0);
  EXPECT_TRUE(d.at_limit);
  EXPECT_NE(d.why.find("at its limit of 2 hosts"), std::string::npos) << d.why;
}

TEST(HeadroomTest, MinHostsAreKeptAndMadeUp) {
  EXPECT_EQ(DecideHeadroom(Opts(0, 2, 2, 3), {H("pool-1", 0)}, 0).add, 1);
  auto d = DecideHeadroom(Opts(0, 2, 2, 3), {H("pool-1", 0, 0), H("pool-2", 0, 0)}, 10'000);
  EXPECT_TRUE(d.remove.empty());  // two empty, but two is the minimum
}

TEST(HeadroomTest, AnEmptyBerthMadeHostGoesAfterTheIdleTimeWhenItsRoomIsSpare) {
  std::vector<HostLoad> hosts = {H("pool-1", 1), H("auto-ab12cd-1", 0, 500), H("pool-2", 0, 0)};
  // headroom 2: free = 1 + 2 + 2 = 5; removing one leaves 3 >= 2. The latest added first.
  EXPECT_EQ(DecideHeadroom(Opts(2), hosts, 1200).remove, "pool-2");
  EXPECT_EQ(DecideHeadroom(Opts(2), hosts, 1600).remove, "pool-2");
  // Not idle long enough yet.
  EXPECT_EQ(DecideHeadroom(Opts(2), {H("pool-1", 1), H("pool-2", 0, 900)}, 1200).remove, "");
  // Its room is needed: headroom 3 with free 1 + 2 = 3.
  EXPECT_EQ(DecideHeadroom(Opts(3), {H("pool-1", 1), H("pool-2", 0, 0)}, 5000).remove, "");
}

TEST(HeadroomTest, NeverAHostWithContainersNorOneAUserAdded) {
  // h1 (a user's) is empty and idle: kept. pool-1 holds a container: kept.
  auto d = DecideHeadroom(Opts(0), {H("h1", 0, 0), H("pool-1", 1)}, 100'000);
  EXPECT_EQ(d.remove, "");
  EXPECT_EQ(DecideHeadroom(Opts(0), {H("h1", 0, 0), H("pool-1", -1)}, 100'000).remove, "");  // does not answer
}

TEST(HeadroomTest, OptionsAreChecked) {
  EXPECT_TRUE(Validate(Opts(2)).ok());
  EXPECT_FALSE(Validate(Opts(-1)).ok());
  EXPECT_FALSE(Validate(Opts(1, 0)).ok());
  EXPECT_FALSE(Validate(Opts(1, 2, 4, 3)).ok());
  HeadroomOptions o = Opts(1);
  o.driver = "ec2";
  EXPECT_FALSE(Validate(o).ok());
}

}  // namespace
}  // namespace berth::workflows
