#include "tools/berth-sim/known_bugs.h"

#include <map>
#include <set>

#include "engine/events.h"

namespace berth::sim {

const std::vector<KnownBug>& KnownBugs() {
  static const std::vector<KnownBug> bugs = {
      {"deploy-create-lands-late",
       "workflows/deploy (design): a create whose answer was lost (kUnknownOutcome) can still "
       "be carried out by the daemon after the step stopped looking: the retry's reconcile "
       "(list by berth.key) saw nothing and made its own container, or the undo found nothing. "
       "The stale request then lands, often once the name is free again (after a replace or "
       "an undeploy), as a container no deploy declares and only a later observe removes. "
       "Reconcile by label cannot see a request still inside the daemon; Docker's create has "
       "no deadline or fence"},
  };
  return bugs;
}

const KnownBug* FindKnownBug(const std::string& id) {
  for (const auto& b : KnownBugs())
    if (id == b.id) return &b;
  return nullptr;
}

std::string ClassifyKnown(const std::string& failure, const eventlog::EventLog& log,
                          const engine::Registry& registry, const SimDocker& docker) {
  // deploy-create-lands-late: the container the checker names came from a late create.
  for (const auto& h : docker.EverHeld())
    if (h.late && (failure.find(": " + h.name + " (") != std::string::npos ||
                   failure.find("container " + h.name + " (") != std::string::npos))
      return "deploy-create-lands-late";
  return "";
}

}  // namespace berth::sim
