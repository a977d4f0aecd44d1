// The engine on the SimScheduler: reproductions of engine behaviour the simulator found,
// each named after what must hold. A DISABLED_ test reproduces an open engine bug (reported
// to the engine's owner): it is enabled when the fix lands.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/engine.h"
#include "engine/workflow.h"
#include "tools/berth-sim/sim_log.h"
#include "tools/berth-sim/sim_scheduler.h"

namespace berth::sim {
namespace {

constexpr int64_t kS = 1'000'000;

class Noop final : public engine::Activity {
 public:
  std::string name() const override { return "noop"; }
  bool inline_ok(const std::string&) const override { return true; }
  Result<std::string> Run(const engine::ActivityContext&) override { return std::string("ok"); }
  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext&) override {
    return std::optional<std::string>();
  }
};

// Two steps, then complete. While deciding after the first step, the wall clock steps
// forward by a minute (an NTP step, a VM resumed), as SimClock::AdvanceBy does here.
class Jumpy final : public engine::Workflow {
 public:
  explicit Jumpy(SimClock* clock) : clock_(clock) {}
  std::string type() const override { return "jumpy"; }
  std::vector<engine::Command> Decide(const engine::WorkflowState& s) const override {
    if (!s.steps.count("a")) return {engine::ScheduleActivity{"a", "noop", "", {}}};
    if (!s.StepDone("a")) return {};
    if (!jumped_) {
      jumped_ = true;
      clock_->AdvanceBy(60 * kS);
    }
    if (!s.steps.count("b")) return {engine::ScheduleActivity{"b", "noop", "", {}}};
    if (!s.StepDone("b")) return {};
    return {engine::CompleteWorkflow{"done"}};
  }

 private:
  SimClock* clock_;
  mutable bool jumped_ = false;
};

// engine/instance.cc (decision pacing, 2220b05) measures a Decide's cost as the difference
// of two Clock::NowUs readings, which is wall time: a step of the wall clock during a
// Decide counts as its cost, and the workflow then pauses four times that (here 4 minutes
// after a 1 minute step; in berth-sim's threaded mode, a concurrent slow Docker call
// moving the clock stalled deploys past 120 s). Expected: the workflow ends right after
// the step of the clock.
TEST(EngineOnSimSchedulerTest, DecisionPacingIgnoresAWallClockStep) {
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("berth-sim-clock-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }  // also when an assertion returns early
  } cleanup{dir};
  SimClock clock;
  SimScheduler sched(&clock, Rng(1));
  engine::Registry registry;
  registry.Add(std::make_unique<Jumpy>(&clock));
  registry.Add(std::make_unique<Noop>());
  eventlog::Options lo;
  lo.sync = false;
  auto real = eventlog::EventLog::Open(dir, lo);
  ASSERT_TRUE(real.ok()) << real.status().ToString();
  // Appends complete on the simulator's thread (the real log calls back on its own thread).
  SimLog log(&clock, Rng(2), LogFaultRates{});
  auto lane = sched.NewLane();
  log.Attach(real->get(), [&](std::function<void()> f) { sched.Post(*lane, std::move(f)); });
  engine::EngineOptions o;
  o.clock = &clock;
  o.scheduler = &sched;
  bool ended = false;
  int64_t ended_us = 0;
  o.observer = [&](const eventlog::Event& e) {
    if (e.type == "WorkflowCompleted") ended = true, ended_us = clock.NowUs();
  };
  {
    engine::Engine eng(&log, &registry, o);
    int64_t t0 = clock.NowUs();
    ASSERT_TRUE(eng.Start({"jumpy", "j", "", eventlog::Actor::kUser, true}).ok());
    sched.RunUntilIdle(10'000);
    ASSERT_TRUE(ended);
    EXPECT_LT(ended_us - t0, 61 * kS) << "paused " << (ended_us - t0) / kS - 60
                                       << " s after the clock stepped 60 s";
    sched.Stop();
    log.FlushCallbacks();
  }
  log.Detach();
  real->reset();
}

}  // namespace
}  // namespace berth::sim
