// SimDocker: its answers carry the codes the real adapter gives for the same failures.
#include "tools/berth-sim/sim_docker.h"

#include <gtest/gtest.h>

namespace berth::sim {
namespace {

constexpr int64_t kS = 1'000'000;

docker::ContainerSpec Spec(const std::string& name, const std::string& restart = "no") {
  docker::ContainerSpec c;
  c.name = name;
  c.image = SimDocker::kBaseImage;
  c.labels = {{"berth.app", "shop"}, {"berth.key", "wf/create/web/1"}};
  c.restart.name = restart;
  return c;
}

TEST(SimDockerTest, ContainerLifecycleAnswersAsTheEngineDoes) {
  SimClock clock;
  SimDocker d(&clock, Rng(1), DockerFaultRates{});
  auto id = d.CreateContainer(Spec("shop-web-1"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(d.CreateContainer(Spec("shop-web-1")).status().code(), Code::kConflict);
  ASSERT_TRUE(d.StartContainer("shop-web-1").ok());
  EXPECT_TRUE(d.StartContainer(*id).ok()) << "starting a running container is a 304";
  EXPECT_EQ(d.RemoveContainer(*id, false).code(), Code::kConflict) << "running, no force";
  auto list = d.ListContainers({{"berth.key", "wf/create/web/1"}});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE(list->front().state.running);
  EXPECT_EQ(d.Exec("nope", {}).status().code(), Code::kNotFound);
  ASSERT_TRUE(d.StopContainer(*id, 2).ok());
  EXPECT_EQ(d.Exec(*id, {}).status().code(), Code::kConflict) << "exec in a stopped container";
  ASSERT_TRUE(d.RemoveContainer(*id, true).ok());
  EXPECT_EQ(d.InspectContainer(*id).status().code(), Code::kNotFound);
  EXPECT_EQ(d.EverHeld().size(), 1u);
}

TEST(SimDockerTest, ExecLeavesMarkerFilesThatTestFinds) {
  SimClock clock;
  SimDocker d(&clock, Rng(2), DockerFaultRates{});
  ASSERT_TRUE(d.CreateContainer(Spec("c")).ok());
  ASSERT_TRUE(d.StartContainer("c").ok());
  docker::ExecSpec probe;
  probe.cmd = {"test", "-f", "/.berth/customize"};
  EXPECT_EQ(d.Exec("c", probe)->exit_code, 1);
  docker::ExecSpec mark;
  mark.cmd = {"sh", "-c", "mkdir -p /.berth && touch /.berth/customize"};
  ASSERT_TRUE(d.Exec("c", mark).ok());
  EXPECT_EQ(d.Exec("c", probe)->exit_code, 0);
  docker::ExecSpec bad;
  bad.cmd = {"sh", "-c", "exit 3"};
  EXPECT_EQ(d.Exec("c", bad)->exit_code, 3);
}

TEST(SimDockerTest, ASlowRemovalAnswersInProgressWhichTheAdapterRetries) {
  SimClock clock;
  DockerFaultRates r;
  r.slow_remove = 1.0;
  SimDocker d(&clock, Rng(3), r);
  ASSERT_TRUE(d.CreateContainer(Spec("c")).ok());
  EXPECT_EQ(d.RemoveContainer("c", true).code(), Code::kUnknownOutcome);
  Status again = d.RemoveContainer("c", true);
  EXPECT_EQ(again.code(), Code::kUnavailable) << again.ToString();
  EXPECT_NE(again.message().find("already in progress"), std::string::npos);
  clock.AdvanceBy(60 * kS);
  EXPECT_EQ(d.InspectContainer("c").status().code(), Code::kNotFound) << "the removal finished";
}

TEST(SimDockerTest, ALostAnswerHadItsEffect) {
  SimClock clock;
  DockerFaultRates r;
  r.lost_answer = 1.0;
  SimDocker d(&clock, Rng(4), r);
  EXPECT_EQ(d.CreateContainer(Spec("c")).status().code(), Code::kUnknownOutcome);
  d.Calm();
  EXPECT_TRUE(d.InspectContainer("c").ok()) << "the create happened";
}

TEST(SimDockerTest, A500IsFailedAsTheAdapterMapsIt) {
  SimClock clock;
  DockerFaultRates r;
  r.http500 = 1.0;
  SimDocker d(&clock, Rng(5), r);
  Result<std::string> id = d.CreateContainer(Spec("c"));
  EXPECT_EQ(id.status().code(), Code::kFailed) << id.status().ToString();
  d.Calm();
  EXPECT_EQ(d.InspectContainer("c").status().code(), Code::kNotFound) << "a 500 before the effect";
}

TEST(SimDockerTest, ADaemonRestartStopsContainersRefusesCallsThenRestartsAlwaysOnes) {
  SimClock clock;
  DockerFaultRates r;
  r.restart_mean_us = 100 * kS;
  r.restart_down_us_max = 2 * kS;
  SimDocker d(&clock, Rng(6), r);
  ASSERT_TRUE(d.CreateContainer(Spec("plain")).ok());
  ASSERT_TRUE(d.CreateContainer(Spec("always", "always")).ok());
  ASSERT_TRUE(d.StartContainer("plain").ok());
  ASSERT_TRUE(d.StartContainer("always").ok());
  clock.AdvanceBy(101 * kS);
  Result<docker::ContainerInfo> caught = d.InspectContainer("plain");
  EXPECT_EQ(caught.status().code(), Code::kUnknownOutcome) << "the call the restart caught";
  EXPECT_EQ(d.InspectContainer("plain").status().code(), Code::kUnavailable) << "down";
  clock.AdvanceBy(3 * kS);
  auto plain = d.InspectContainer("plain");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain->state.running);
  EXPECT_EQ(plain->state.exit_code, 137);
  EXPECT_TRUE(d.InspectContainer("always")->state.running) << "restart: always";
}

TEST(SimDockerTest, ALateCreateLandsAfterTheTimeoutAndMeetsTheRetryWithA409) {
  SimClock clock;
  DockerFaultRates r;
  r.late_create = 1.0;
  SimDocker d(&clock, Rng(8), r);
  EXPECT_EQ(d.CreateContainer(Spec("c")).status().code(), Code::kUnknownOutcome);
  d.Calm();
  clock.AdvanceBy(4 * kS);
  ASSERT_TRUE(d.InspectContainer("c").ok()) << "the daemon acted on it after all";
  EXPECT_EQ(d.CreateContainer(Spec("c")).status().code(), Code::kConflict);
}

TEST(SimDockerTest, ADeadCallerHasNoEffect) {
  SimClock clock;
  SimDocker d(&clock, Rng(7), DockerFaultRates{});
  d.SetCallerAlive(false);
  EXPECT_EQ(d.CreateContainer(Spec("c")).status().code(), Code::kUnavailable);
  d.SetCallerAlive(true);
  EXPECT_EQ(d.InspectContainer("c").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace berth::sim
