// DeployTest: the deploy and undeploy workflows on the real engine and log with an
// in-memory Docker (FakeDocker). Shared by the deploy unit tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "replay/verify.h"
#include "tests/scratch_dir.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/deploy.h"
#include "workflows/deploy/fake_docker.h"

namespace berth::workflows {

using nlohmann::json;

inline constexpr const char* kApp = R"(
name: shop
services:
  db:
    image: berth/busybox:test
    command: ["sleep", "1000"]
  web:
    image: berth/busybox:test
    command: ["httpd", "-f"]
    depends_on: [db]
    deploy: {replicas: REPLICAS}
    x-berth:
      install: ["mkdir -p /srv", "echo hi > /srv/index.html"]
      customize: ["echo CUSTOM > /srv/id"]
)";

class DeployTest : public ::testing::Test {
 protected:
  DeployTest() : dir_("deploy") {
    // A short create fence (docker_activities.h); tests may act at each of its waits.
    DockerActivityOptions options;
    options.create_fence_ms = 300;
    options.fence_poll_ms = 20;
    options.sleep = [this](int64_t ms) {
      if (on_fence_wait_) on_fence_wait_();
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    };
    RegisterDeploy(&registry_, [this] { return Result<docker::DockerClient*>(&docker_); }, options);
    Open();
  }
  ~DeployTest() override { Close(); }

  void Open() {
    auto log = eventlog::EventLog::Open(dir_.path().string(), eventlog::Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    engine_ = std::make_unique<engine::Engine>(log_.get(), &registry_, engine::EngineOptions());
  }
  void Close() {
    engine_.reset();
    log_.reset();
  }

  static std::string App(int replicas, const std::string& customize = "echo CUSTOM > /srv/id") {
    std::string text = kApp;
    text.replace(text.find("REPLICAS"), 8, std::to_string(replicas));
    text.replace(text.find("echo CUSTOM > /srv/id"), 21, customize);
    return text;
  }

  // Runs `type` to its end; returns the summary.
  engine::WorkflowSummary Run(const std::string& type, const json& input, bool run = true) {
    engine::StartRequest req{type, "", input.dump(), eventlog::Actor::kUser, run};
    auto id = engine_->Start(req);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    last_id_ = id.ok() ? *id : "";
    if (!run) return {};
    auto r = engine_->Wait(*id);
    EXPECT_TRUE(r.ok());
    engine_->WaitIdle();
    return r.ok() ? *r : engine::WorkflowSummary{};
  }
  engine::WorkflowSummary Up(const std::string& text) {
    std::vector<Diagnostic> diags;
    auto bp = ParseBlueprint(text, "shop.yaml", "/tmp", "", &diags);
    EXPECT_TRUE(bp.ok()) << bp.status().ToString();
    return Run("deploy", {{"app", "shop"}, {"blueprint", ToJson(*bp)}, {"cache", true}});
  }
  std::vector<std::string> Names() {
    std::lock_guard<std::mutex> g(docker_.mu);
    std::vector<std::string> out;
    for (const auto& [name, c] : docker_.containers) out.push_back(name + (c.running ? "" : " (stopped)"));
    return out;
  }
  // Position of the first call equal to `call` (calls.size() when absent).
  size_t At(const std::string& call) {
    auto calls = docker_.Calls();
    return std::find(calls.begin(), calls.end(), call) - calls.begin();
  }

  testing::FakeDocker docker_;
  std::function<void()> on_fence_wait_;  // called at each wait of the create fence
  berth::testing::ScratchDir dir_;
  engine::Registry registry_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<engine::Engine> engine_;
  std::string last_id_;
};

}  // namespace berth::workflows
