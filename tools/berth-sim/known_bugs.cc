#include "tools/berth-sim/known_bugs.h"

#include <map>
#include <set>

#include "engine/events.h"

namespace berth::sim {

const std::vector<KnownBug>& KnownBugs() {
  static const std::vector<KnownBug> bugs = {
      {"engine-cancel-stops-undo",
       "engine/instance.cc: after a cancel request no step is retried (OnActivityDone requires "
       "!cancel_requested to retry; StartAttempt fails a step waiting to retry), and every "
       "attempt started after it begins abandoned. That includes the undo steps a HandlesCancel "
       "workflow (deploy) schedules after the cancel, so one transient Docker error in an undo "
       "after `berth cancel` (unreachable engine, lost answer, a removal in progress) leaves the "
       "half-made container, or a container mid-removal that the next deploy cannot start"},
  };
  return bugs;
}

const KnownBug* FindKnownBug(const std::string& id) {
  for (const auto& b : KnownBugs())
    if (id == b.id) return &b;
  return nullptr;
}

namespace {

// engine-cancel-stops-undo: a step that failed for good after its workflow's cancel request
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
                          const engine::Registry& registry) {
  for (const auto& name : CancelStoppedRetries(log, registry))
    if (failure.find(name + " ") != std::string::npos || failure.find(name + ":") != std::string::npos ||
        failure.find(name + "/") != std::string::npos)
      return "engine-cancel-stops-undo";
  return "";
}

}  // namespace berth::sim
