#include "tools/berth-sim/known_bugs.h"

#include <map>
#include <set>

#include "engine/events.h"

namespace berth::sim {

const std::vector<KnownBug>& KnownBugs() {
  static const std::vector<KnownBug> bugs = {
      {"engine-cancel-interrupts-undo",
       "engine/instance.cc (after f18b4f6): a cancel still ends the steps it interrupts (a "
       "running attempt or one waiting to retry is not retried: 'not retried: the workflow "
       "was cancelled'). For a HandlesCancel workflow that is already undoing (a deploy whose "
       "step failed has scheduled undo/<container>), a cancel that arrives while an undo step "
       "waits to retry ends that undo, and the half-made container is left"},
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

namespace {

// engine-cancel-interrupts-undo: a step that failed for good after its workflow's cancel request
// with attempts left and a code its policy retries (or "not retried: ... cancelled").
// Returns the workflows and containers (subjects) where that happened.
std::set<std::string> CancelStoppedRetries(const eventlog::EventLog& log,
                                           const engine::Registry& registry) {
  std::set<std::string> hit;
  std::set<std::string> cancelled;
  std::map<std::string, std::string> activity;  // "<wf>\0<step>" -> activity name
  (void)log.ScanRange(1, log.LastSeq(), [&](const eventlog::Event& e) {
    if (e.type == engine::ev::kCancelRequested) cancelled.insert(e.workflow_id);
    if (e.type == engine::ev::kActivityStarted) {
      engine::ActivityStartedP p;
      if (engine::DecodePayload(e.payload, &p).ok())
        activity[e.workflow_id + '\0' + p.step] = p.activity;
    }
    if (e.type != engine::ev::kActivityFailed || !cancelled.count(e.workflow_id)) return true;
    engine::ActivityFailedP p;
    if (!engine::DecodePayload(e.payload, &p).ok() || !p.final) return true;
    const engine::Activity* act = registry.FindActivity(activity[e.workflow_id + '\0' + p.step]);
    if (!act) return true;
    engine::RetryPolicy policy = act->retry_policy();
    bool stopped = p.code == int32_t(Code::kCancelled) ||
                   (policy.Retryable(Code(p.code)) && p.attempt < policy.attempts_max);
    if (!stopped) return true;
    hit.insert(e.workflow_id);
    for (const auto& s : e.subjects)
      if (s.rfind("container:", 0) == 0) hit.insert(s.substr(10));
    return true;
  });
  return hit;
}

}  // namespace

std::string ClassifyKnown(const std::string& failure, const eventlog::EventLog& log,
                          const engine::Registry& registry, const SimDocker& docker) {
  // deploy-create-lands-late: the container the checker names came from a late create.
  for (const auto& h : docker.EverHeld())
    if (h.late && (failure.find(": " + h.name + " (") != std::string::npos ||
                   failure.find("container " + h.name + " (") != std::string::npos))
      return "deploy-create-lands-late";
  for (const auto& name : CancelStoppedRetries(log, registry))
    if (failure.find(name + " ") != std::string::npos || failure.find(name + ":") != std::string::npos ||
        failure.find(name + "/") != std::string::npos)
      return "engine-cancel-interrupts-undo";
  return "";
}

}  // namespace berth::sim
