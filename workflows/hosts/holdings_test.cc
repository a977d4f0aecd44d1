// Holdings (hosts.h): which containers of an app the log says may be on a host, the scan a
// deploy runs when a host does not answer (AroundUnreachable, deploy_placement.h).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "engine/events.h"
#include "eventlog/event_log.h"
#include "tests/scratch_dir.h"
#include "workflows/deploy/names.h"
#include "workflows/hosts/hosts.h"

namespace berth::workflows {
namespace {

using nlohmann::json;

class HoldingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = eventlog::EventLog::Open(dir_.path().string(), eventlog::Options());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    log_ = std::move(*r);
  }

  // An activity of workflow `wf` at its step `step`: started with `input`, and completed
  // unless `complete` is false.
  void Step(const std::string& wf, const std::string& step, const std::string& activity, const json& input,
            bool complete = true, const std::string& app = "shop") {
    engine::ActivityStartedP started{step, activity, input.dump(), 1};
    Put(wf, engine::ev::kActivityStarted, engine::EncodePayload(started), app);
    if (!complete) return;
    engine::ActivityCompletedP done{step, "{}", 1, false};
    Put(wf, engine::ev::kActivityCompleted, engine::EncodePayload(done), app);
  }
  void Put(const std::string& wf, const char* type, std::string payload, const std::string& app) {
    eventlog::EventDraft d;
    d.workflow_id = wf;
    d.workflow_seq = ++seq_[wf];
    d.type = type;
    d.payload = std::move(payload);
    d.subjects = {AppSubject(app)};
    eventlog::AppendRequest req;
    req.events.push_back(std::move(d));
    ASSERT_TRUE(log_->Append(std::move(req)).ok());
  }
  std::map<std::string, std::string> Held(const std::set<std::string>& hosts, const std::string& app = "shop") {
    auto r = Holdings(*log_, app, hosts);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::map<std::string, std::string>();
  }

  testing::ScratchDir dir_{"holdings"};
  std::unique_ptr<eventlog::EventLog> log_;
  std::map<std::string, uint64_t> seq_;
};

TEST_F(HoldingsTest, ACreateOnAHostHoldsItUntilARemoveThereCompletes) {
  Step("deploy-1", "create:shop-web-1", "docker.create", {{"name", "shop-web-1"}, {"host", "h1"}});
  Step("deploy-1", "create:shop-web-2", "docker.create", {{"name", "shop-web-2"}, {"host", "h2"}});
  Step("deploy-1", "create:shop-db-1", "docker.create", {{"name", "shop-db-1"}, {"host", "h2"}}, false);
  using M = std::map<std::string, std::string>;
  // A create that never completed still counts (it may have landed).
  EXPECT_EQ(Held({"h1", "h2"}), (M{{"shop-web-1", "h1"}, {"shop-web-2", "h2"}, {"shop-db-1", "h2"}}));
  EXPECT_EQ(Held({"h2"}), (M{{"shop-web-2", "h2"}, {"shop-db-1", "h2"}}));
  EXPECT_TRUE(Held({"h3"}).empty());
  EXPECT_TRUE(Held({"h1"}, "other").empty());  // another app's history

  // A remove started but not completed: still held. Completed: gone.
  Step("deploy-2", "remove:shop-web-2", "docker.remove", {{"name", "shop-web-2"}, {"host", "h2"}}, false);
  EXPECT_EQ(Held({"h2"}).count("shop-web-2"), 1u);
  engine::ActivityCompletedP done{"remove:shop-web-2", "{}", 1, false};
  Put("deploy-2", engine::ev::kActivityCompleted, engine::EncodePayload(done), "shop");
  EXPECT_EQ(Held({"h2"}), (M{{"shop-db-1", "h2"}}));
}

TEST_F(HoldingsTest, ARemoveOnAnotherHostOrOfAnEarlierCreateDoesNotClearIt) {
  // Made on h1, then (a later deploy) made again on h2: the h1 remove of the old copy does
  // not clear the h2 one.
  Step("deploy-1", "create:shop-web-1", "docker.create", {{"name", "shop-web-1"}, {"host", "h1"}});
  Step("deploy-2", "remove:shop-web-1", "docker.remove", {{"name", "shop-web-1"}, {"host", "h2"}});
  EXPECT_EQ(Held({"h1"}).count("shop-web-1"), 1u);  // a remove elsewhere is no remove here

  // A remove started for the h1 copy, a new create on h1 while it runs: the remove's
  // completion is for the old create, so the new one still holds.
  Step("deploy-3", "remove:shop-web-1", "docker.remove", {{"name", "shop-web-1"}, {"host", "h1"}}, false);
  Step("deploy-4", "create:shop-web-1", "docker.create", {{"name", "shop-web-1"}, {"host", "h1"}});
  engine::ActivityCompletedP done{"remove:shop-web-1", "{}", 1, false};
  Put("deploy-3", engine::ev::kActivityCompleted, engine::EncodePayload(done), "shop");
  EXPECT_EQ(Held({"h1"}).count("shop-web-1"), 1u);

  // The latest create moved it to h2: h1 no longer holds it.
  Step("deploy-5", "create:shop-web-1", "docker.create", {{"name", "shop-web-1"}, {"host", "h2"}});
  EXPECT_TRUE(Held({"h1"}).empty());
  EXPECT_EQ(Held({"h2"}).count("shop-web-1"), 1u);
}

TEST_F(HoldingsTest, AnInstallsScratchContainerAndOtherActivitiesAreNotHoldings) {
  Step("deploy-1", "image:web", "docker.create", {{"host", "h1"}, {"image", "busybox"}});  // no name
  Step("deploy-1", "start:shop-web-1", "docker.start", {{"name", "shop-web-1"}, {"host", "h1"}});
  EXPECT_TRUE(Held({"h1"}).empty());
  // No host named: the local engine.
  Step("deploy-1", "create:shop-web-1", "docker.create", {{"name", "shop-web-1"}});
  EXPECT_EQ(Held({"local"}).count("shop-web-1"), 1u);
}

}  // namespace
}  // namespace berth::workflows
