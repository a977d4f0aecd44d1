#include "tools/berth-sim/known_bugs.h"

namespace berth::sim {

// None open. Fixed (each now a regression test):
//   deploy-create-lands-late: a create whose answer was lost was carried out by the daemon
//   after the step stopped looking (the retry's reconcile saw nothing and made its own, or
//   the undo found nothing); the late request landed once the name was free again, as a
//   container nobody declared. Fixed by the create fence (workflows/deploy/
//   docker_activities.h); tests in workflows/deploy/deploy_fence_test.cc.
const std::vector<KnownBug>& KnownBugs() {
  static const std::vector<KnownBug> bugs;
  return bugs;
}

const KnownBug* FindKnownBug(const std::string& id) {
  for (const auto& b : KnownBugs())
    if (id == b.id) return &b;
  return nullptr;
}

std::string ClassifyKnown(const std::string& failure, const eventlog::EventLog& log,
                          const engine::Registry& registry, const SimDocker& docker) {
  return "";  // a signature per entry of KnownBugs(), when there is one
}

}  // namespace berth::sim
