// replay::Verify finds what it promises to find: nondeterminism and stale projections.
#include "replay/verify.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/scratch_dir.h"

#include "engine/engine.h"
#include "engine/events.h"

namespace berth::replay {
namespace {

namespace fs = std::filesystem;
using namespace berth::engine;

class Noop final : public Activity {
 public:
  std::string name() const override { return "noop"; }
  Result<std::string> Run(const ActivityContext&) override { return std::string("ok"); }
  Result<std::optional<std::string>> Reconcile(const ActivityContext&) override {
    return std::optional<std::string>();
  }
};

// Runs steps `first` then `second`; two registries disagree on the order.
class TwoSteps final : public Workflow {
 public:
  TwoSteps(std::string first, std::string second) : first_(first), second_(second) {}
  std::string type() const override { return "two-steps"; }
  std::vector<Command> Decide(const WorkflowState& s) const override {
    for (const auto& step : {first_, second_}) {
      if (!s.steps.count(step)) return {ScheduleActivity{step, "noop", ""}};
      if (!s.StepDone(step)) return {};
    }
    return {CompleteWorkflow{"done"}};
  }

 private:
  std::string first_, second_;
};

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = eventlog::EventLog::Open(dir_.string(), eventlog::Options());
    ASSERT_TRUE(r.ok());
    log_ = std::move(r).value();
    recorded_.Add(std::make_unique<Noop>());
    recorded_.Add(std::make_unique<TwoSteps>("a", "b"));
    Engine engine(log_.get(), &recorded_, EngineOptions());
    ASSERT_TRUE(engine.Start({"two-steps", "w", "", eventlog::Actor::kUser, true}).ok());
    ASSERT_TRUE(engine.Wait("w").ok());
  }
  void TearDown() override {
    log_.reset();
  }

  berth::testing::ScratchDir scratch_{"verify"};
  const fs::path& dir_ = scratch_.path();
  std::unique_ptr<eventlog::EventLog> log_;
  Registry recorded_;
};

TEST_F(VerifyTest, AHistoryVerifiesAgainstTheCodeThatWroteIt) {
  VerifyReport r;
  Status s = Verify(*log_, recorded_, "", &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.workflows, 1u);
  EXPECT_EQ(r.decisions, 3u);  // schedule a, schedule b, complete
  EXPECT_EQ(r.events, log_->LastSeq());
}

TEST_F(VerifyTest, ChangedDecisionCodeIsReportedAtTheFirstDivergentSeq) {
  Registry changed;
  changed.Add(std::make_unique<Noop>());
  changed.Add(std::make_unique<TwoSteps>("b", "a"));
  VerifyReport r;
  Status s = Verify(*log_, changed, "w", &r);
  EXPECT_EQ(s.code(), Code::kFailed);
  EXPECT_NE(s.message().find("nondeterminism at event seq 2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("schedule b"), std::string::npos) << s.message();
}

TEST_F(VerifyTest, AHistoryWithoutItsProjectionIsCorruption) {
  eventlog::AppendRequest a;
  eventlog::EventDraft d;
  d.workflow_id = "ghost";
  d.workflow_seq = 1;
  d.type = ev::kWorkflowStarted;
  d.payload = EncodePayload(WorkflowStartedP{"two-steps", "", ""});
  a.events.push_back(d);
  ASSERT_TRUE(log_->Append(std::move(a)).ok());
  VerifyReport r;
  Status s = Verify(*log_, recorded_, "", &r);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("projection wf/ghost"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace berth::replay
