// The create fence (docker_activities.h): a create whose answer never came may still be
// carried out by the daemon later. berth-sim found both cases below (its known bug
// "deploy-create-lands-late", seeds 94 and 1204 at 2524691).
#include "workflows/deploy/deploy_test_fixture.h"

namespace berth::workflows {
namespace {

constexpr const char* kOne = "services:\n  db:\n    image: berth/busybox:test\n";

TEST_F(DeployTest, ACreateThatLandsLateIsAdoptedByTheRetryNotLeftAnOrphan) {
  // The daemon takes the create in, the answer never comes, and it carries the create out
  // while the retry watches; had the retry believed its first look, the late create would
  // have landed once the undeploy freed the name, as a container nobody declares.
  docker_.hold_create = {"shop-db-1"};
  docker_.land_held_on_remove = true;
  int waits = 0;
  on_fence_wait_ = [&] {
    if (++waits == 3) docker_.LandHeldCreates();
  };
  auto s = Up(kOne);
  ASSERT_EQ(s.status, engine::RunStatus::kCompleted) << s.error;
  EXPECT_EQ(docker_.Count("create shop-db-1"), 1) << "the retry adopted the late create";
  EXPECT_EQ(docker_.Count("create shop-db-1 (late)"), 1);
  EXPECT_EQ(Names(), (std::vector<std::string>{"shop-db-1"}));
  ASSERT_EQ(Run("undeploy", {{"app", "shop"}}).status, engine::RunStatus::kCompleted);
  EXPECT_TRUE(Names().empty()) << "a late create landed after the undeploy";
  replay::VerifyReport report;
  EXPECT_TRUE(replay::Verify(*log_, registry_, "", &report).ok());
}

TEST_F(DeployTest, TheUndoOfACreateCancelledInDoubtWaitsForItToLand) {
  // Cancelled while the retry watches: the create step ends in doubt, and its undo watches
  // in turn, removing what lands. Had it believed its first look, the late create would have
  // landed after the deploy ended, beside nothing.
  docker_.hold_create = {"shop-db-1"};
  int waits = 0;
  on_fence_wait_ = [&] {
    ++waits;
    if (waits == 2) {
      ASSERT_TRUE(engine_->Cancel(last_id_).ok());
    }
    if (waits == 2 + 300 / 20 / 2) docker_.LandHeldCreates();  // during the undo's watch
  };
  auto s = Up(kOne);
  EXPECT_EQ(s.status, engine::RunStatus::kCancelled) << s.error;
  docker_.LandHeldCreates();  // the daemon gets to it in the end (nothing is held by now)
  EXPECT_EQ(docker_.Count("create shop-db-1 (late)"), 1);
  EXPECT_EQ(docker_.Count("remove shop-db-1"), 1);
  EXPECT_TRUE(Names().empty());
  replay::VerifyReport report;
  EXPECT_TRUE(replay::Verify(*log_, registry_, "", &report).ok());
}

}  // namespace
}  // namespace berth::workflows
