// The restart policy: the restart workflow over the in-memory Docker, fed by the watcher's
// OnDeath (the server's event stream and listing call the same function).
#include "workflows/deploy/restart.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "tests/scratch_dir.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/deploy.h"
#include "workflows/deploy/fake_docker.h"
#include "workflows/deploy/restart_watcher.h"

namespace berth::workflows {
namespace {

using json = nlohmann::json;

TEST(RestartRuleTest, ComposeValuesAndTheirLimits) {
  EXPECT_EQ(ParseRestart("")->name, "no");
  EXPECT_EQ(ParseRestart("always")->limit, kRestartsInARowMax);
  EXPECT_EQ(ParseRestart("on-failure:3")->limit, 3);
  EXPECT_EQ(ParseRestart("on-failure")->name, "on-failure");
  EXPECT_EQ(ParseRestart("unless-stopped")->name, "unless-stopped");
  for (const char* bad : {"sometimes", "always:3", "on-failure:x", "on-failure:-1"})
    EXPECT_EQ(ParseRestart(bad).status().code(), Code::kInvalidArgument) << bad;
  EXPECT_EQ(RestartBackoffMs(1), 200);
  EXPECT_EQ(RestartBackoffMs(2), 400);
  EXPECT_EQ(RestartBackoffMs(30), 10'000);
  EXPECT_EQ(ParseDockerTimeNs("2026-12-01T21:20:00.5Z") - ParseDockerTimeNs("2026-12-01T21:20:00Z"), 500'000'000);
  EXPECT_EQ(ParseDockerTimeNs("0001-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseDockerTimeNs("garbage"), 0);
  EXPECT_EQ(RestartWorkflowId("a", 12), "restart-a-00000000000000000012");
  EXPECT_TRUE(IsRestartOf("restart-a-00000000000000000012", "a"));
  EXPECT_FALSE(IsRestartOf("restart-a-b-00000000000000000012", "a")) << "container a-b's";
  EXPECT_FALSE(IsRestartOf("restart-a-0000000000000000001x", "a"));
}

class RestartTest : public ::testing::Test {
 protected:
  RestartTest() : dir_("restart") {
    RegisterDeploy(&registry_, [this] { return Result<docker::DockerClient*>(&docker_); });
    auto log = eventlog::EventLog::Open(dir_.path().string(), eventlog::Options());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    engine_ = std::make_unique<engine::Engine>(log_.get(), &registry_, engine::EngineOptions());
    watcher_ = std::make_unique<RestartWatcher>(engine_.get(), log_.get(),
                                                [this] { return Result<docker::DockerClient*>(&docker_); },
                                                [](const std::string& m) { ADD_FAILURE() << m; });
  }
  ~RestartTest() override {
    watcher_.reset();
    engine_.reset();
  }

  void Up(const std::string& restart) {
    std::string text = "services:\n  web:\n    image: berth/busybox:test\n    restart: \"" + restart + "\"\n";
    std::vector<Diagnostic> diags;
    auto bp = ParseBlueprint(text, "app.yaml", "/tmp", "", &diags);
    ASSERT_TRUE(bp.ok()) << bp.status().ToString();
    engine::StartRequest req{"deploy", "", json{{"app", "app"}, {"blueprint", ToJson(*bp)}}.dump(),
                             eventlog::Actor::kUser, true};
    auto id = engine_->Start(req);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ASSERT_EQ(engine_->Wait(*id)->status, engine::RunStatus::kCompleted);
  }
  std::string Id() {
    std::lock_guard<std::mutex> g(docker_.mu);
    return docker_.containers.at("app-web-1").id;
  }
  bool Running() {
    std::lock_guard<std::mutex> g(docker_.mu);
    return docker_.containers.at("app-web-1").running;
  }
  // A death of app-web-1, seen by the watcher; returns the restart workflow's end.
  engine::WorkflowSummary DieAndHandle(int exit_code, int64_t ran_ms) {
    docker_.Die("app-web-1", exit_code, ran_ms);
    watcher_->OnDeath(docker_, Id());
    watcher_->OnDeath(docker_, Id());  // seen twice (stream and listing): one workflow
    engine_->WaitIdle();
    std::string last;
    (void)log_->ScanProjections("wf/restart-", [&](const std::string& k, const std::string&) {
      last = k.substr(3);
      return true;
    });
    auto st = engine::FoldWorkflow(*log_, last);
    EXPECT_TRUE(st.ok());
    engine::WorkflowSummary s;
    s.id = last;
    s.status = st.ok() ? st->status : engine::RunStatus::kRunning;
    s.error = st.ok() ? st->error : "";
    result_ = st.ok() ? json::parse(st->result, nullptr, false) : json();
    return s;
  }
  int RestartWorkflows() {
    int n = 0;
    (void)log_->ScanProjections("wf/restart-", [&](const std::string&, const std::string&) { return ++n, true; });
    return n;
  }

  testing::FakeDocker docker_;
  berth::testing::ScratchDir dir_;
  engine::Registry registry_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<RestartWatcher> watcher_;
  json result_;
};

TEST_F(RestartTest, ContainersAreMadeWithoutDockersPolicyAndTheirsInALabel) {
  Up("always");
  std::lock_guard<std::mutex> g(docker_.mu);
  const auto& c = docker_.containers.at("app-web-1");
  EXPECT_EQ(c.spec.restart.name, "no");
  EXPECT_EQ(c.spec.labels.at("berth.restart"), "always");
}

TEST_F(RestartTest, ACrashLoopBacksOffAndGivesUpAtTheLimit) {
  Up("on-failure:2");
  auto first = DieAndHandle(3, 100);
  EXPECT_EQ(first.status, engine::RunStatus::kCompleted) << first.error;
  EXPECT_EQ(result_["action"], "restarted");
  EXPECT_EQ(result_["attempt"], 1);
  EXPECT_EQ(result_["backoff_ms"], 200);
  EXPECT_TRUE(Running());
  EXPECT_EQ(RestartWorkflows(), 1) << "a death seen twice starts one workflow";
  auto second = DieAndHandle(3, 100);
  EXPECT_EQ(result_["attempt"], 2);
  EXPECT_EQ(result_["backoff_ms"], 400);
  auto third = DieAndHandle(3, 100);
  EXPECT_EQ(third.status, engine::RunStatus::kFailed);
  EXPECT_NE(third.error.find("gave up"), std::string::npos) << third.error;
  EXPECT_FALSE(Running()) << "given up: it stays stopped";
  // Every death and restart is on the container's audit trail, by the policy.
  int policy_starts = 0, subject_events = 0;
  (void)log_->ScanSubject("container:app-web-1", [&](const eventlog::Event& e) {
    subject_events += e.workflow_id.rfind("restart-", 0) == 0;
    return true;
  });
  (void)log_->ScanRange(1, UINT64_MAX, [&](const eventlog::Event& e) {
    policy_starts += e.type == "WorkflowStarted" && e.actor == eventlog::Actor::kPolicy;
    return true;
  });
  EXPECT_EQ(policy_starts, 3);
  EXPECT_GE(subject_events, 3 * 2);
}

TEST_F(RestartTest, AContainerThatRanLongEnoughStartsCountingAgain) {
  Up("on-failure:1");
  DieAndHandle(1, 100);
  EXPECT_EQ(result_["attempt"], 1);
  DieAndHandle(1, kRestartStableMs + 1);  // ran 10 s: not in a row
  EXPECT_EQ(result_["action"], "restarted");
  EXPECT_EQ(result_["attempt"], 1);
}

TEST_F(RestartTest, PolicyNoAndACleanExitUnderOnFailureAreRecordedNotRestarted) {
  Up("on-failure");
  DieAndHandle(0, 100);
  EXPECT_EQ(result_["action"], "none");
  EXPECT_FALSE(Running());
}

TEST_F(RestartTest, AlwaysRestartsACleanExit) {
  Up("always");
  DieAndHandle(0, 100);
  EXPECT_EQ(result_["action"], "restarted");
  EXPECT_TRUE(Running());
}

TEST_F(RestartTest, PolicyNoIsRecordedOnly) {
  Up("no");
  auto s = DieAndHandle(137, 100);
  EXPECT_EQ(s.status, engine::RunStatus::kCompleted);
  EXPECT_EQ(result_["action"], "none");
  EXPECT_FALSE(Running());
}

TEST_F(RestartTest, AContainerStoppedWithDockerStopIsNotRestarted) {
  Up("always");
  docker_.Die("app-web-1", 143, 100);
  std::string id = Id();
  watcher_->OnDeath(docker_, id);  // "die", then at once the "stop" of `docker stop`
  watcher_->OnStop(docker_, id);
  engine_->WaitIdle();
  std::string wf;
  (void)log_->ScanProjections("wf/restart-", [&](const std::string& k, const std::string&) {
    wf = k.substr(3);
    return true;
  });
  auto st = engine::FoldWorkflow(*log_, wf);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->status, engine::RunStatus::kCompleted);
  EXPECT_EQ(json::parse(st->result)["action"], "none");
  EXPECT_NE(st->result.find("docker stop"), std::string::npos) << st->result;
  EXPECT_FALSE(Running());
  EXPECT_EQ(st->steps.count("restart"), 0u) << "no start was tried";
  watcher_->OnStop(docker_, id);  // again, after it ended: nothing, no warning
  watcher_->OnStop(docker_, "no-such-id");
  engine_->WaitIdle();
}

TEST_F(RestartTest, AGoneOrRunningContainerIsLeftAlone) {
  Up("always");
  docker_.Die("app-web-1", 1, 100);
  std::string id = Id();
  ASSERT_TRUE(docker_.StartContainer(id).ok());  // back before the watcher looked
  watcher_->OnDeath(docker_, id);
  engine_->WaitIdle();
  EXPECT_EQ(RestartWorkflows(), 0);
  watcher_->OnDeath(docker_, "no-such-id");
  engine_->WaitIdle();
  EXPECT_EQ(RestartWorkflows(), 0);
}

}  // namespace
}  // namespace berth::workflows
