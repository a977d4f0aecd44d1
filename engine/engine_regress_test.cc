// Regression tests for the races and hangs found in review (issue "the core at scale and
// under concurrency"), each named after the defect, on the real engine and event log.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "engine/engine.h"
#include "engine/events.h"
#include "tests/scratch_dir.h"

namespace berth::engine {
namespace {

using namespace std::chrono_literals;

// Blocks while `hold` is set (or until its attempt is abandoned when `until_abandoned`);
// counts runs and the most attempts running at once.
class HoldActivity final : public Activity {
 public:
  std::string name() const override { return "hold"; }
  RetryPolicy retry_policy() const override {
    RetryPolicy p;
    p.backoff_initial_ms = 1;
    p.backoff_max_ms = 2;
    p.attempts_max = 5;
    p.jitter = 0;
    p.attempt_timeout_ms = timeout_ms;
    return p;
  }
  Result<std::string> Run(const ActivityContext& ctx) override {
    ++runs;
    int now = ++running;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    auto t0 = std::chrono::steady_clock::now();
    while (hold.load() && !(until_abandoned && ctx.Abandoned()) &&
           std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(hold_max_ms))
      std::this_thread::sleep_for(1ms);
    --running;
    if (ctx.Abandoned()) {
      ++saw_abandoned;
      return Status(Code::kCancelled, "abandoned");
    }
    return "ran:" + ctx.step;
  }
  Result<std::optional<std::string>> Reconcile(const ActivityContext& ctx) override {
    ++reconciles;
    return std::optional<std::string>();
  }
  std::atomic<int> runs{0}, running{0}, max_running{0}, reconciles{0}, saw_abandoned{0};
  std::atomic<bool> hold{false};
  bool until_abandoned = true;
  int hold_max_ms = 10000;
  int64_t timeout_ms = 0;
};

// One "hold" step with the given subjects, then completes with its result.
class HoldStep final : public Workflow {
 public:
  explicit HoldStep(std::string type = "hold-step", std::string key = "", std::string subject = "")
      : type_(std::move(type)), key_(std::move(key)), subject_(std::move(subject)) {}
  std::string type() const override { return type_; }
  std::string ExclusiveKey(const std::string& input) const override { return key_; }
  std::vector<Command> Decide(const WorkflowState& s) const override {
    auto it = s.steps.find("s");
    if (it == s.steps.end()) {
      ScheduleActivity a{"s", "hold", ""};
      if (!subject_.empty()) a.subjects = {subject_};
      return {a};
    }
    if (it->second.phase == StepState::kFailed) return {FailWorkflow{it->second.error}};
    if (it->second.phase == StepState::kCompleted) return {CompleteWorkflow{it->second.result}};
    return {};
  }

 private:
  std::string type_, key_, subject_;
};

// Starts child "kid" of type `child_type`, then completes with "kid: <status> <result>".
class Parent final : public Workflow {
 public:
  explicit Parent(std::string child_type) : child_type_(std::move(child_type)) {}
  std::string type() const override { return "parent-of-" + child_type_; }
  std::vector<Command> Decide(const WorkflowState& s) const override {
    auto c = s.children.find(ChildId(s.id, "kid"));
    if (c == s.children.end()) return {StartChild{"kid", child_type_, ""}};
    if (!c->second.ended) return {};
    return {CompleteWorkflow{"kid: " + c->second.status + " " + c->second.result}};
  }

 private:
  std::string child_type_;
};

// Fails its first attempt (retryably), then succeeds.
class FlakyActivity final : public Activity {
 public:
  std::string name() const override { return "flaky"; }
  RetryPolicy retry_policy() const override {
    RetryPolicy p;
    p.backoff_initial_ms = 1;
    p.backoff_max_ms = 2;
    return p;
  }
  Result<std::string> Run(const ActivityContext&) override {
    if (++runs == 1) return Status(Code::kUnavailable, "first attempt fails");
    return std::string("undone");
  }
  Result<std::optional<std::string>> Reconcile(const ActivityContext&) override {
    return std::optional<std::string>();
  }
  std::atomic<int> runs{0};
};

// Runs "s"; on a cancel request, undoes with step "undo" (like a deploy's undo).
class UndoOnCancel final : public Workflow {
 public:
  std::string type() const override { return "undo-on-cancel"; }
  bool HandlesCancel() const override { return true; }
  std::vector<Command> Decide(const WorkflowState& s) const override {
    if (s.cancel_requested) {
      if (!s.steps.count("undo")) return {ScheduleActivity{"undo", "flaky", ""}};
      return {};
    }
    if (!s.steps.count("s")) return {ScheduleActivity{"s", "hold", ""}};
    if (s.StepDone("s")) return {CompleteWorkflow{"done"}};
    return {};
  }
};

class EngineRegressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto act = std::make_unique<HoldActivity>();
    act_ = act.get();
    registry_.Add(std::move(act));
    auto flaky = std::make_unique<FlakyActivity>();
    flaky_ = flaky.get();
    registry_.Add(std::move(flaky));
    registry_.Add(std::make_unique<UndoOnCancel>());
    registry_.Add(std::make_unique<HoldStep>());
    registry_.Add(std::make_unique<HoldStep>("keyed", "app:shop"));
    registry_.Add(std::make_unique<HoldStep>("long-subject", "", "container:" + std::string(300, 'x')));
    registry_.Add(std::make_unique<Parent>("hold-step"));
    registry_.Add(std::make_unique<Parent>("parent-of-hold-step"));
    registry_.Add(std::make_unique<Parent>("no-such-type"));
    OpenLog();
  }
  void TearDown() override {
    act_->hold = false;
    engine_.reset();
    log_.reset();
  }
  void OpenLog() {
    auto r = eventlog::EventLog::Open(scratch_.path().string(), eventlog::Options());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    log_ = std::move(r).value();
  }
  Engine& engine() {
    if (!engine_) engine_ = std::make_unique<Engine>(log_.get(), &registry_, EngineOptions());
    return *engine_;
  }
  void Restart() {
    engine_.reset();
    log_.reset();
    OpenLog();
  }
  std::vector<std::string> Types(const std::string& id) {
    std::vector<std::string> t;
    EXPECT_TRUE(log_->ScanWorkflow(id, [&](const eventlog::Event& e) {
      t.push_back(e.type);
      return true;
    }).ok());
    return t;
  }
  // Events of `id` found by a full scan (the index would hide a duplicate workflow_seq).
  uint64_t EventsInLog(const std::string& id) {
    uint64_t n = 0;
    EXPECT_TRUE(log_->ScanRange(1, UINT64_MAX, [&](const eventlog::Event& e) {
      n += e.workflow_id == id;
      return true;
    }).ok());
    return n;
  }
  WorkflowSummary WaitFor(const std::string& id) {
    auto r = engine().Wait(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : WorkflowSummary();
  }
  void WaitRuns(int n) {
    for (int i = 0; i < 10000 && act_->runs.load() < n; ++i) std::this_thread::sleep_for(1ms);
    ASSERT_GE(act_->runs.load(), n);
  }

  berth::testing::ScratchDir scratch_{"engine-regress"};
  Registry registry_;
  HoldActivity* act_ = nullptr;
  FlakyActivity* flaky_ = nullptr;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineRegressTest, ConcurrentStartsOfOneIdOnlyOneSucceeds) {
  Engine& eng = engine();
  for (int round = 0; round < 100; ++round) {
    std::string id = "w" + std::to_string(round);
    std::atomic<int> ok{0}, conflict{0};
    auto start = [&] {
      auto r = eng.Start({"hold-step", id, "", eventlog::Actor::kUser, false});
      if (r.ok()) ++ok;
      else if (r.status().code() == Code::kConflict) ++conflict;
    };
    std::thread a(start), b(start);
    a.join();
    b.join();
    ASSERT_EQ(ok.load(), 1) << "round " << round;
    ASSERT_EQ(conflict.load(), 1) << "round " << round;
    ASSERT_EQ(EventsInLog(id), 1u) << "one WorkflowStarted only";
  }
}

TEST_F(EngineRegressTest, DeliverRacingRecoverAppendsInOrder) {
  (void)engine();
  for (int round = 0; round < 30; ++round) {
    std::string id = "w" + std::to_string(round);
    ASSERT_TRUE(engine().Start({"hold-step", id, "", eventlog::Actor::kUser, false}).ok());
    std::thread a([&] { ASSERT_TRUE(engine().Recover(nullptr, id).ok()); });
    std::thread b([&] { (void)engine().Signal(id, "poke", "x"); });
    a.join();
    b.join();
    ASSERT_EQ(WaitFor(id).status, RunStatus::kCompleted);
    auto folded = FoldWorkflow(*log_, id);
    ASSERT_TRUE(folded.ok()) << folded.status().ToString();
    ASSERT_EQ(EventsInLog(id), folded->events) << "no two events share a workflow seq";
  }
}

TEST_F(EngineRegressTest, ChildResultIsCarriedThroughRecovery) {
  // The child ends while its parent is not loaded (as after a crash between the child's end
  // and the parent's ChildEnded); the parent's recovery must still see the child's result.
  act_->hold = true;
  ASSERT_TRUE(engine().Start({"parent-of-hold-step", "p", "", eventlog::Actor::kUser, true}).ok());
  WaitRuns(1);
  Restart();  // kills both mid-step
  act_->hold = false;
  ASSERT_TRUE(engine().Recover(nullptr, "p/kid").ok());  // only the child
  ASSERT_EQ(WaitFor("p/kid").status, RunStatus::kCompleted);
  Restart();
  size_t n = 0;
  ASSERT_TRUE(engine().Recover(&n).ok());
  EXPECT_EQ(n, 1u);
  auto s = WaitFor("p");
  ASSERT_EQ(s.status, RunStatus::kCompleted);
  auto folded = FoldWorkflow(*log_, "p");
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(folded->result, "kid: completed ran:s");
}

TEST_F(EngineRegressTest, CancelReachesEveryDescendantAndInterruptsItsStep) {
  act_->hold = true;  // the grandchild's step runs until it is abandoned
  ASSERT_TRUE(engine().Start({"parent-of-parent-of-hold-step", "g", "", eventlog::Actor::kUser, true}).ok());
  WaitRuns(1);
  ASSERT_TRUE(engine().Cancel("g").ok());
  auto s = WaitFor("g");
  EXPECT_EQ(s.status, RunStatus::kCancelled);
  EXPECT_EQ(WaitFor("g/kid").status, RunStatus::kCancelled);
  EXPECT_EQ(WaitFor("g/kid/kid").status, RunStatus::kCancelled);
  EXPECT_EQ(act_->saw_abandoned.load(), 1) << "the running step was interrupted, not waited for";
  EXPECT_EQ(act_->runs.load(), 1) << "nothing ran again after the cancel";
}

TEST_F(EngineRegressTest, StepsScheduledAfterACancelAreStillRetried) {
  // Found by berth-sim: a deploy's undo that failed once was not retried after a cancel.
  act_->hold = true;
  ASSERT_TRUE(engine().Start({"undo-on-cancel", "w", "", eventlog::Actor::kUser, true}).ok());
  WaitRuns(1);
  ASSERT_TRUE(engine().Cancel("w").ok());
  EXPECT_EQ(WaitFor("w").status, RunStatus::kCancelled);
  EXPECT_EQ(flaky_->runs.load(), 2) << "the undo's failed first attempt was retried";
  auto folded = FoldWorkflow(*log_, "w");
  ASSERT_TRUE(folded.ok());
  EXPECT_TRUE(folded->StepDone("undo"));
  EXPECT_EQ(act_->runs.load(), 1) << "the interrupted step did not run again";
}

TEST_F(EngineRegressTest, CancelOfAParentNotLoadedReachesItsChildren) {
  act_->hold = true;
  ASSERT_TRUE(engine().Start({"parent-of-hold-step", "p", "", eventlog::Actor::kUser, true}).ok());
  WaitRuns(1);
  Restart();
  act_->hold = false;
  ASSERT_TRUE(engine().Cancel("p").ok());  // recorded in the log for p and for p/kid
  size_t n = 0;
  ASSERT_TRUE(engine().Recover(&n, "p").ok());
  EXPECT_EQ(n, 2u) << "Recover(id) covers the descendants";
  EXPECT_EQ(WaitFor("p").status, RunStatus::kCancelled);
  EXPECT_EQ(WaitFor("p/kid").status, RunStatus::kCancelled);
}

TEST_F(EngineRegressTest, TimedOutAttemptIsAbandonedBeforeItsRetryRuns) {
  act_->timeout_ms = 20;
  act_->hold = true;
  act_->until_abandoned = false;  // ignores the abandonment: runs 300 ms whatever happens
  act_->hold_max_ms = 300;
  ASSERT_TRUE(engine().Start({"hold-step", "w", "", eventlog::Actor::kUser, true}).ok());
  WaitRuns(1);
  std::this_thread::sleep_for(100ms);  // the first attempt timed out long ago
  act_->hold = false;                   // later attempts return at once
  auto s = WaitFor("w");
  EXPECT_EQ(s.status, RunStatus::kCompleted);
  EXPECT_EQ(act_->max_running.load(), 1) << "a retry ran beside the timed-out attempt";
  EXPECT_GE(act_->reconciles.load(), 1) << "the retry reconciles first";
  auto t = Types("w");
  EXPECT_NE(std::find(t.begin(), t.end(), "ActivityFailed"), t.end());
}

TEST_F(EngineRegressTest, ChildThatCannotStartFailsForItsParent) {
  ASSERT_TRUE(engine().Start({"parent-of-no-such-type", "p", "", eventlog::Actor::kUser, true}).ok());
  auto s = WaitFor("p");
  ASSERT_EQ(s.status, RunStatus::kCompleted);
  auto folded = FoldWorkflow(*log_, "p");
  ASSERT_TRUE(folded.ok());
  EXPECT_NE(folded->result.find("kid: failed"), std::string::npos) << folded->result;
  EXPECT_NE(folded->result.find("unknown workflow type"), std::string::npos) << folded->result;
}

TEST_F(EngineRegressTest, EventTheLogRefusesFailsTheWorkflowAtOnce) {
  // A subject over 255 bytes: the log calls the draft malformed; retrying cannot help.
  ASSERT_TRUE(engine().Start({"long-subject", "w", "", eventlog::Actor::kUser, true}).ok());
  auto s = WaitFor("w");
  EXPECT_EQ(s.status, RunStatus::kFailed);
  EXPECT_NE(s.error.find("refused"), std::string::npos) << s.error;
  EXPECT_EQ(act_->runs.load(), 0);
}

TEST_F(EngineRegressTest, SameExclusiveKeyRunsOneAtATimeOldestFirst) {
  act_->hold = true;
  ASSERT_TRUE(engine().Start({"keyed", "first", "", eventlog::Actor::kUser, true}).ok());
  WaitRuns(1);
  ASSERT_TRUE(engine().Start({"keyed", "second", "", eventlog::Actor::kUser, true}).ok());
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(act_->runs.load(), 1) << "the second ran beside the first";
  act_->hold = false;
  EXPECT_EQ(WaitFor("first").status, RunStatus::kCompleted);
  EXPECT_EQ(WaitFor("second").status, RunStatus::kCompleted);
  EXPECT_EQ(act_->max_running.load(), 1);
  auto t = Types("second");
  EXPECT_NE(std::find(t.begin(), t.end(), std::string(ev::kExclusiveWait)), t.end());
}

TEST_F(EngineRegressTest, ExclusiveKeyGoesToTheOldestAfterRecovery) {
  ASSERT_TRUE(engine().Start({"keyed", "a", "", eventlog::Actor::kUser, false}).ok());
  ASSERT_TRUE(engine().Start({"keyed", "b", "", eventlog::Actor::kUser, false}).ok());
  act_->hold = true;
  size_t n = 0;
  ASSERT_TRUE(engine().Recover(&n).ok());
  EXPECT_EQ(n, 2u);
  WaitRuns(1);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(act_->runs.load(), 1);
  act_->hold = false;
  EXPECT_EQ(WaitFor("a").status, RunStatus::kCompleted);
  EXPECT_EQ(WaitFor("b").status, RunStatus::kCompleted);
  auto ta = Types("a"), tb = Types("b");
  EXPECT_EQ(std::count(ta.begin(), ta.end(), std::string(ev::kExclusiveWait)), 0);
  EXPECT_EQ(std::count(tb.begin(), tb.end(), std::string(ev::kExclusiveWait)), 1);
}

// Pause: the running attempt finishes and is recorded, nothing new is decided (not even the
// end) until Unpause; a paused workflow stays parked across a restart.
TEST_F(EngineRegressTest, APausedWorkflowFinishesWhatRunsAndDecidesNothingUntilUnpaused) {
  act_->hold = true;
  ASSERT_TRUE(engine().Start({"hold-step", "p", "", eventlog::Actor::kUser, true}).ok());
  WaitRuns(1);
  ASSERT_TRUE(engine().Pause("p").ok());
  ASSERT_TRUE(engine().Pause("p").ok()) << "idempotent";
  act_->hold = false;
  for (int i = 0; i < 200; ++i) {
    auto t = Types("p");
    if (std::count(t.begin(), t.end(), std::string(ev::kActivityCompleted))) break;
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(50ms);
  auto t = Types("p");
  EXPECT_EQ(std::count(t.begin(), t.end(), std::string(ev::kActivityCompleted)), 1) << "the running step finished";
  EXPECT_EQ(std::count(t.begin(), t.end(), std::string(ev::kWorkflowCompleted)), 0) << "nothing decided while paused";
  EXPECT_EQ(std::count(t.begin(), t.end(), std::string(ev::kPaused)), 1);
  ASSERT_TRUE(engine().Unpause("p").ok());
  EXPECT_EQ(WaitFor("p").status, RunStatus::kCompleted);
  EXPECT_EQ(engine().Pause("p").code(), Code::kConflict) << "it ended";
  EXPECT_EQ(engine().Pause("nope").code(), Code::kNotFound);
}

TEST_F(EngineRegressTest, APausedWorkflowStaysParkedAcrossARestartUntilUnpaused) {
  ASSERT_TRUE(engine().Start({"hold-step", "q", "", eventlog::Actor::kUser, false}).ok());
  ASSERT_TRUE(engine().Pause("q").ok());
  Restart();
  size_t n = 9;
  ASSERT_TRUE(engine().Recover(&n).ok());
  EXPECT_EQ(n, 0u) << "paused: not loaded";
  EXPECT_EQ(act_->runs.load(), 0);
  ASSERT_TRUE(engine().Unpause("q").ok());
  EXPECT_EQ(WaitFor("q").status, RunStatus::kCompleted);
  EXPECT_EQ(act_->runs.load(), 1);
}

TEST_F(EngineRegressTest, CancelOfAWorkflowWaitingForItsKeyEndsItAtOnce) {
  act_->hold = true;
  ASSERT_TRUE(engine().Start({"keyed", "first", "", eventlog::Actor::kUser, true}).ok());
  WaitRuns(1);
  ASSERT_TRUE(engine().Start({"keyed", "second", "", eventlog::Actor::kUser, true}).ok());
  ASSERT_TRUE(engine().Cancel("second").ok());
  EXPECT_EQ(WaitFor("second").status, RunStatus::kCancelled);
  act_->hold = false;
  EXPECT_EQ(WaitFor("first").status, RunStatus::kCompleted);
  EXPECT_EQ(act_->runs.load(), 1);
}

}  // namespace
}  // namespace berth::engine
