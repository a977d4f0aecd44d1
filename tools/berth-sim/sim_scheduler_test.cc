// SimScheduler: the contract of engine/scheduler.h, on one thread in simulated time.
#include "tools/berth-sim/sim_scheduler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::sim {
namespace {

constexpr int64_t kS = 1'000'000;

// Runs a fixed mix of posts on three lanes plus Blocking tasks; returns the order they ran.
std::vector<std::string> Interleaving(uint64_t seed) {
  SimClock clock;
  SimScheduler s(&clock, Rng(seed));
  std::vector<std::string> order;
  auto a = s.NewLane(), b = s.NewLane(), c = s.NewLane();
  for (int i = 0; i < 5; ++i) {
    s.Post(*a, [&, i] { order.push_back("a" + std::to_string(i)); });
    s.Post(*b, [&, i] { order.push_back("b" + std::to_string(i)); });
    s.Post(*c, [&, i] { order.push_back("c" + std::to_string(i)); });
    s.Blocking([&, i] { order.push_back("x" + std::to_string(i)); });
  }
  s.RunUntilIdle(1000);
  return order;
}

TEST(SimSchedulerTest, EachLaneRunsItsTasksInPostingOrder) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    auto order = Interleaving(seed);
    ASSERT_EQ(order.size(), 20u);
    for (char lane : std::string("abc")) {
      int next = 0;
      for (const auto& t : order)
        if (t[0] == lane) EXPECT_EQ(t, lane + std::to_string(next++)) << "seed " << seed;
      EXPECT_EQ(next, 5);
    }
  }
}

TEST(SimSchedulerTest, SameSeedSameInterleavingOtherSeedsDiffer) {
  EXPECT_EQ(Interleaving(7), Interleaving(7));
  int different = 0;
  for (uint64_t seed = 8; seed < 18; ++seed) different += Interleaving(seed) != Interleaving(7);
  EXPECT_GE(different, 9);
}

TEST(SimSchedulerTest, TimersRunInTimeOrderAndTheClockJumpsToThem) {
  SimClock clock;
  SimScheduler s(&clock, Rng(1));
  auto lane = s.NewLane();
  int64_t t0 = clock.NowUs();
  std::vector<std::pair<std::string, int64_t>> ran;
  auto at = [&](const std::string& name, int64_t when) {
    s.RunAt(*lane, t0 + when, [&, name] { ran.emplace_back(name, clock.NowUs() - t0); });
  };
  at("late", 30 * kS);
  at("early", 5 * kS);
  at("tie-1", 10 * kS);
  at("tie-2", 10 * kS);
  s.RunUntilIdle(100);
  ASSERT_EQ(ran.size(), 4u);
  EXPECT_EQ(ran[0], std::make_pair(std::string("early"), 5 * kS));
  EXPECT_EQ(ran[1], std::make_pair(std::string("tie-1"), 10 * kS));
  EXPECT_EQ(ran[2], std::make_pair(std::string("tie-2"), 10 * kS));
  EXPECT_EQ(ran[3], std::make_pair(std::string("late"), 30 * kS));
}

TEST(SimSchedulerTest, TimersNeverRunBeforeTheirTimeEvenWithWorkReady) {
  SimClock clock;
  SimScheduler s(&clock, Rng(3));
  auto a = s.NewLane(), b = s.NewLane();
  int64_t fire = clock.NowUs() + 2 * kS;
  int64_t ran_at = 0;
  s.RunAt(*a, fire, [&] { ran_at = clock.NowUs(); });
  // Work that takes simulated time (as a slow Docker call does) on another lane.
  for (int i = 0; i < 10; ++i) s.Post(*b, [&] { clock.AdvanceBy(100'000); });
  s.RunUntilIdle(100);
  EXPECT_GE(ran_at, fire);
}

TEST(SimSchedulerTest, ATimerJoinsTheBackOfItsLane) {
  SimClock clock;
  SimScheduler s(&clock, Rng(5));
  auto lane = s.NewLane();
  std::vector<std::string> order;
  s.RunAt(*lane, clock.NowUs(), [&] { order.push_back("timer"); });
  s.Post(*lane, [&] { order.push_back("posted"); });
  s.RunUntilIdle(10);
  // A due timer is queued behind what its lane already holds.
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "posted");
}

TEST(SimSchedulerTest, TasksMayPostFromInsideATask) {
  SimClock clock;
  SimScheduler s(&clock, Rng(9));
  auto lane = s.NewLane();
  int depth = 0;
  std::function<void()> again = [&] {
    if (++depth < 100) s.Post(*lane, again);
  };
  s.Post(*lane, again);
  EXPECT_EQ(s.RunUntilIdle(1000), 100u);
}

TEST(SimSchedulerTest, StopDropsQueuedTasksAndTimersWithoutRunningThem) {
  SimClock clock;
  SimScheduler s(&clock, Rng(11));
  auto lane = s.NewLane();
  auto owned = std::make_shared<int>(0);
  bool ran = false;
  s.Post(*lane, [&, owned] { ran = true; });
  s.RunAt(*lane, clock.NowUs() + kS, [&, owned] { ran = true; });
  s.Blocking([&, owned] { ran = true; });
  EXPECT_EQ(owned.use_count(), 4);
  s.Stop();
  EXPECT_EQ(owned.use_count(), 1) << "queued tasks were not destroyed";
  s.Post(*lane, [&] { ran = true; });
  EXPECT_FALSE(s.RunOne());
  EXPECT_FALSE(ran);
  s.Stop();  // idempotent
}

TEST(SimSchedulerTest, ADestructorThatPostsDuringStopIsDropped) {
  SimClock clock;
  SimScheduler s(&clock, Rng(13));
  auto lane = s.NewLane();
  struct PostsOnDestroy {
    SimScheduler* s;
    engine::Lane* lane;
    ~PostsOnDestroy() { s->Post(*lane, [] { FAIL() << "ran after Stop"; }); }
  };
  auto guard = std::make_shared<PostsOnDestroy>(PostsOnDestroy{&s, lane.get()});
  s.Post(*lane, [guard] {});
  guard.reset();
  s.Stop();
  EXPECT_FALSE(s.RunOne());
}

TEST(SimSchedulerTest, IdleWithNothingQueuedAndRunUntilMovesTheClock) {
  SimClock clock;
  SimScheduler s(&clock, Rng(17));
  EXPECT_FALSE(s.RunOne());
  int64_t t = clock.NowUs();
  auto lane = s.NewLane();
  bool ran = false;
  s.RunAt(*lane, t + 10 * kS, [&] { ran = true; });
  s.RunUntil(t + 5 * kS, 100);
  EXPECT_FALSE(ran);
  EXPECT_EQ(clock.NowUs(), t + 5 * kS);
  s.RunUntil(t + 20 * kS, 100);
  EXPECT_TRUE(ran);
  EXPECT_EQ(clock.NowUs(), t + 20 * kS);
}

}  // namespace
}  // namespace berth::sim
