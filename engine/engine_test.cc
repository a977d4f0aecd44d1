// Engine behaviour on a real event log: retries, reconcile, timers, children, signals, cancel.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

#include "tests/scratch_dir.h"
#include <thread>

#include "engine/events.h"

namespace berth::engine {
namespace {

namespace fs = std::filesystem;

// An activity whose behaviour each test scripts.
class ScriptedActivity final : public Activity {
 public:
  std::string name() const override { return "scripted"; }
  RetryPolicy retry_policy() const override {
    RetryPolicy p;
    p.backoff_initial_ms = 1;
    p.backoff_max_ms = 5;
    p.attempts_max = 4;
    return p;
  }
  Result<std::string> Run(const ActivityContext& ctx) override {
    int n = ++runs;
    if (n <= fail_first) return Status(fail_code, "scripted failure " + std::to_string(n));
    while (block.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return "ran:" + ctx.idempotency_key;
  }
  Result<std::optional<std::string>> Reconcile(const ActivityContext& ctx) override {
    ++reconciles;
    if (found) return std::optional<std::string>("found:" + ctx.idempotency_key);
    return std::optional<std::string>();
  }
  std::atomic<int> runs{0}, reconciles{0};
  int fail_first = 0;
  Code fail_code = Code::kUnavailable;
  bool found = false;
  std::atomic<bool> block{false};
};

// One step "s", then complete with its result.
class OneStep final : public Workflow {
 public:
  std::string type() const override { return "one-step"; }
  std::vector<Command> Decide(const WorkflowState& s) const override {
    auto it = s.steps.find("s");
    if (it == s.steps.end()) return {ScheduleActivity{"s", "scripted", ""}};
    if (it->second.phase == StepState::kFailed) return {FailWorkflow{it->second.error}};
    if (it->second.phase == StepState::kCompleted) return {CompleteWorkflow{it->second.result}};
    return {};
  }
};

// Timer, then a child, then waits for signal "go", then completes.
class Composite final : public Workflow {
 public:
  std::string type() const override { return "composite"; }
  std::vector<Command> Decide(const WorkflowState& s) const override {
    auto t = s.timers.find("wait");
    if (t == s.timers.end()) return {StartTimer{"wait", 5}};
    if (!t->second.fired) return {};
    auto c = s.children.find(ChildId(s.id, "kid"));
    if (c == s.children.end()) return {StartChild{"kid", "one-step", ""}};
    if (!c->second.ended) return {};
    for (const auto& sig : s.signals)
      if (sig.name == "go") return {CompleteWorkflow{"child " + c->second.status + " then " + sig.payload}};
    return {};
  }
};

// Fails for good on step `fail_step`; counts runs per step.
class PickyActivity final : public Activity {
 public:
  std::string name() const override { return "picky"; }
  Result<std::string> Run(const ActivityContext& ctx) override {
    std::lock_guard<std::mutex> g(mu);
    ++runs[ctx.step];
    if (ctx.step == fail_step) return Status(Code::kInvalidArgument, "step " + ctx.step + " refused");
    return "ran " + ctx.step;
  }
  Result<std::optional<std::string>> Reconcile(const ActivityContext&) override {
    return std::optional<std::string>();
  }
  std::mutex mu;
  std::map<std::string, int> runs;
  std::string fail_step;
};

// Steps a, b, c one after the other; fails with the first step that fails.
class Chain final : public Workflow {
 public:
  std::string type() const override { return "chain"; }
  std::vector<Command> Decide(const WorkflowState& s) const override {
    for (const char* step : {"a", "b", "c"}) {
      auto it = s.steps.find(step);
      if (it == s.steps.end()) return {ScheduleActivity{step, "picky", ""}};
      if (it->second.phase == StepState::kFailed) return {FailWorkflow{it->second.error}};
      if (it->second.phase != StepState::kCompleted) return {};
    }
    return {CompleteWorkflow{"a b c"}};
  }
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto act = std::make_unique<ScriptedActivity>();
    act_ = act.get();
    registry_.Add(std::move(act));
    registry_.Add(std::make_unique<OneStep>());
    registry_.Add(std::make_unique<Composite>());
    auto picky = std::make_unique<PickyActivity>();
    picky_ = picky.get();
    registry_.Add(std::move(picky));
    registry_.Add(std::make_unique<Chain>());
    OpenLog();
  }
  void TearDown() override {
    engine_.reset();
    log_.reset();
  }
  void OpenLog() {
    auto r = eventlog::EventLog::Open(dir_.string(), eventlog::Options());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    log_ = std::move(r).value();
  }
  Engine& engine() {
    if (!engine_) engine_ = std::make_unique<Engine>(log_.get(), &registry_, EngineOptions());
    return *engine_;
  }
  std::vector<std::string> Types(const std::string& id) {
    std::vector<std::string> t;
    EXPECT_TRUE(log_->ScanWorkflow(id, [&](const eventlog::Event& e) {
      t.push_back(e.type);
      return true;
    }).ok());
    return t;
  }
  // The log as a crash right after step "s" of one-step workflow `id` started leaves it:
  // WorkflowStarted and ActivityStarted durable, nothing after.
  void RecordInDoubtStep(const std::string& id) {
    ASSERT_TRUE(engine().Start({"one-step", id, "", eventlog::Actor::kUser, false}).ok());
    eventlog::AppendRequest r;
    eventlog::EventDraft d;
    d.workflow_id = id;
    d.workflow_seq = 2;
    d.type = ev::kActivityStarted;
    d.payload = EncodePayload(ActivityStartedP{"s", "scripted", "", 1});
    r.events.push_back(d);
    ASSERT_TRUE(log_->Append(std::move(r)).ok());
  }
  WorkflowSummary RunToEnd(const std::string& type, const std::string& id) {
    auto started = engine().Start({type, id, "", eventlog::Actor::kUser, true});
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    auto r = engine().Wait(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : WorkflowSummary();
  }

  berth::testing::ScratchDir scratch_{"engine"};
  const fs::path& dir_ = scratch_.path();
  Registry registry_;
  ScriptedActivity* act_ = nullptr;
  PickyActivity* picky_ = nullptr;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, RetryableFailuresAreRetriedUntilTheStepSucceeds) {
  act_->fail_first = 2;
  auto s = RunToEnd("one-step", "w");
  EXPECT_EQ(s.status, RunStatus::kCompleted);
  EXPECT_EQ(act_->runs, 3);
  auto t = Types("w");
  EXPECT_EQ(std::count(t.begin(), t.end(), "ActivityFailed"), 2);
  EXPECT_EQ(std::count(t.begin(), t.end(), "ActivityStarted"), 3);
}

TEST_F(EngineTest, NonRetryableFailureFailsTheWorkflowAtOnce) {
  act_->fail_first = 1;
  act_->fail_code = Code::kInvalidArgument;
  auto s = RunToEnd("one-step", "w");
  EXPECT_EQ(s.status, RunStatus::kFailed);
  EXPECT_EQ(act_->runs, 1);
  EXPECT_NE(s.error.find("scripted failure 1"), std::string::npos) << s.error;
}

TEST_F(EngineTest, AttemptsMaxBoundsRetries) {
  act_->fail_first = 100;
  auto s = RunToEnd("one-step", "w");
  EXPECT_EQ(s.status, RunStatus::kFailed);
  EXPECT_EQ(act_->runs, 4);
}

TEST_F(EngineTest, InDoubtActivityIsAdoptedByReconcileNotRedone) {
  RecordInDoubtStep("w");
  act_->found = true;
  size_t n = 0;
  ASSERT_TRUE(engine().Recover(&n).ok());
  EXPECT_EQ(n, 1u);
  auto s = engine().Wait("w");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->status, RunStatus::kCompleted);
  EXPECT_EQ(act_->runs, 0) << "the side effect must not run again";
  EXPECT_EQ(act_->reconciles, 1);
}

TEST_F(EngineTest, InDoubtActivityNotFoundByReconcileRunsOnce) {
  RecordInDoubtStep("w");
  size_t n = 0;
  ASSERT_TRUE(engine().Recover(&n).ok());
  ASSERT_TRUE(engine().Wait("w").ok());
  EXPECT_EQ(act_->reconciles, 1);
  EXPECT_EQ(act_->runs, 1);
}

TEST_F(EngineTest, TimerChildAndSignalDriveACompositeWorkflow) {
  ASSERT_TRUE(engine().Start({"composite", "p", "", eventlog::Actor::kUser, true}).ok());
  ASSERT_TRUE(engine().Signal("p", "go", "signalled").ok());
  auto s = engine().Wait("p");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->status, RunStatus::kCompleted);
  auto t = Types("p");
  EXPECT_NE(std::find(t.begin(), t.end(), "TimerFired"), t.end());
  EXPECT_NE(std::find(t.begin(), t.end(), "ChildEnded"), t.end());
  EXPECT_EQ(Types("p/kid").front(), "WorkflowStarted");
  EXPECT_EQ(Types("p/kid").back(), "WorkflowCompleted");
}

TEST_F(EngineTest, CancelWaitsForTheRunningStepThenEndsCancelled) {
  act_->block = true;
  ASSERT_TRUE(engine().Start({"one-step", "w", "", eventlog::Actor::kUser, true}).ok());
  while (act_->runs.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(engine().Cancel("w").ok());
  act_->block = false;
  auto s = engine().Wait("w");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->status, RunStatus::kCancelled);
  auto t = Types("w");
  EXPECT_EQ(t.back(), "WorkflowCancelled");
  EXPECT_NE(std::find(t.begin(), t.end(), "ActivityCompleted"), t.end())
      << "the running step's completion is recorded before the cancel ends it";
}

TEST_F(EngineTest, StartRejectsUnknownTypesAndReusedIds) {
  EXPECT_EQ(engine().Start({"nope", "x", "", eventlog::Actor::kUser, true}).status().code(),
            Code::kInvalidArgument);
  RunToEnd("one-step", "w");
  EXPECT_EQ(engine().Start({"one-step", "w", "", eventlog::Actor::kUser, true}).status().code(),
            Code::kConflict);
}

}  // namespace
}  // namespace berth::engine

namespace berth::engine {
namespace {

TEST_F(EngineTest, RetryReRunsAFailedWorkflowFromAStepOnceAndOnRecord) {
  picky_->fail_step = "b";
  EXPECT_EQ(RunToEnd("chain", "w").status, RunStatus::kFailed);
  Status none = engine().Retry("w", "c");
  EXPECT_EQ(none.code(), Code::kNotFound);
  EXPECT_NE(none.message().find("its steps: a, b"), std::string::npos) << none.message();
  EXPECT_EQ(engine().Retry("nope", "a").code(), Code::kNotFound);
  picky_->fail_step = "";
  std::vector<std::string> reset;
  ASSERT_TRUE(engine().Retry("w", "b", &reset).ok());
  EXPECT_EQ(reset, std::vector<std::string>{"b"});
  auto r = engine().Wait("w");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, RunStatus::kCompleted) << r->error;
  EXPECT_EQ(picky_->runs["a"], 1) << "a, before the step retried from, is kept";
  EXPECT_EQ(picky_->runs["b"], 2);
  EXPECT_EQ(picky_->runs["c"], 1);
  EXPECT_EQ(engine().Retry("w", "a").code(), Code::kConflict) << "it completed";
  auto t = Types("w");
  EXPECT_EQ(std::count(t.begin(), t.end(), "WorkflowRetried"), 1);
  EXPECT_EQ(std::count(t.begin(), t.end(), "WorkflowFailed"), 1);
  EXPECT_EQ(t.back(), "WorkflowCompleted");
  auto folded = FoldWorkflow(*log_, "w");
  ASSERT_TRUE(folded.ok()) << folded.status().ToString();
  EXPECT_EQ(folded->status, RunStatus::kCompleted);
  EXPECT_EQ(folded->retries, 1u);
}

// The summary row written with WorkflowRetried says running (a client following the
// workflow reads it before the next event): it once kept the failure until that event.
TEST_F(EngineTest, TheSummaryWrittenWithARetrySaysRunning) {
  picky_->fail_step = "a";
  EXPECT_EQ(RunToEnd("chain", "w").status, RunStatus::kFailed);
  auto st = FoldWorkflow(*log_, "w");
  ASSERT_TRUE(st.ok());
  eventlog::Event e;
  e.workflow_id = "w";
  e.workflow_seq = st->events + 1;
  e.type = ev::kRetried;
  e.payload = EncodePayload(RetriedP{"a", {"a"}, {}, st->error});
  WorkflowSummary sum = SummaryAfter(*st, e);
  EXPECT_EQ(sum.status, RunStatus::kRunning);
  EXPECT_EQ(sum.events, st->events + 1);
  EXPECT_TRUE(sum.error.empty()) << sum.error;
  EXPECT_EQ(sum.ended_us, 0);
}

TEST_F(EngineTest, AWorkflowFailingAgainIsRetriedAgainByANewEngine) {
  picky_->fail_step = "c";
  EXPECT_EQ(RunToEnd("chain", "w").status, RunStatus::kFailed);
  picky_->fail_step = "b";  // the first retry, from a, fails again at b
  std::vector<std::string> reset;
  ASSERT_TRUE(engine().Retry("w", "a", &reset).ok());
  EXPECT_EQ(reset, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(engine().Wait("w")->status, RunStatus::kFailed);
  engine_.reset();  // a new process: the retry reads everything from the log
  picky_->fail_step = "";
  ASSERT_TRUE(engine().Retry("w", "b", &reset).ok());
  EXPECT_EQ(reset, std::vector<std::string>{"b"}) << "c never ran in the first retry";
  auto r = engine().Wait("w");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, RunStatus::kCompleted) << r->error;
  EXPECT_EQ(picky_->runs["a"], 2);
  EXPECT_EQ(picky_->runs["b"], 3);
  EXPECT_EQ(picky_->runs["c"], 2);
  EXPECT_EQ(FoldWorkflow(*log_, "w")->retries, 2u);
}

}  // namespace
}  // namespace berth::engine
