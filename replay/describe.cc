#include "replay/describe.h"

#include "engine/events.h"

namespace berth::replay {

using namespace berth::engine;

namespace {
template <class T>
bool Load(const eventlog::Event& e, T* p) {
  return DecodePayload(e.payload, p).ok();
}
std::string Clip(const std::string& s, size_t n = 80) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}
}  // namespace

std::string Describe(const eventlog::Event& e) {
  const std::string& t = e.type;
  if (t == ev::kWorkflowStarted) {
    WorkflowStartedP p;
    if (!Load(e, &p)) return "(undecodable)";
    return p.type + " input=" + Clip(p.input) + (p.parent.empty() ? "" : " parent=" + p.parent);
  }
  if (t == ev::kActivityStarted) {
    ActivityStartedP p;
    if (!Load(e, &p)) return "(undecodable)";
    return p.step + " (" + p.activity + ") attempt " + std::to_string(p.attempt);
  }
  if (t == ev::kActivityCompleted) {
    ActivityCompletedP p;
    if (!Load(e, &p)) return "(undecodable)";
    return p.step + " -> " + Clip(p.result) + (p.adopted ? " (adopted by reconcile)" : "");
  }
  if (t == ev::kActivityFailed) {
    ActivityFailedP p;
    if (!Load(e, &p)) return "(undecodable)";
    return p.step + " attempt " + std::to_string(p.attempt) + ": " + Clip(p.error) +
           (p.final ? " (final)" : " (will retry)");
  }
  if (t == ev::kTimerStarted || t == ev::kTimerFired) {
    if (t == ev::kTimerStarted) {
      TimerStartedP p;
      return Load(e, &p) ? p.name : "(undecodable)";
    }
    NameP p;
    return Load(e, &p) ? p.name : "(undecodable)";
  }
  if (t == ev::kChildStarted) {
    ChildStartedP p;
    return Load(e, &p) ? p.child_id + " (" + p.type + ")" : "(undecodable)";
  }
  if (t == ev::kChildEnded) {
    ChildEndedP p;
    return Load(e, &p) ? p.child_id + " " + p.status : "(undecodable)";
  }
  if (t == ev::kSignalReceived) {
    SignalP p;
    return Load(e, &p) ? p.name + " " + Clip(p.payload) : "(undecodable)";
  }
  if (t == ev::kWorkflowCompleted || t == ev::kWorkflowFailed || t == ev::kWorkflowCancelled) {
    EndedP p;
    return Load(e, &p) ? Clip(p.text, 200) : "(undecodable)";
  }
  if (t == ev::kExclusiveWait) {
    ExclusiveWaitP p;
    return Load(e, &p) ? "waits for " + p.holder + " (" + p.key + ")" : "(undecodable)";
  }
  if (t == ev::kRetried) {
    RetriedP p;
    if (!Load(e, &p)) return "(undecodable)";
    std::string steps;
    for (const auto& s : p.steps) steps += (steps.empty() ? "" : " ") + s;
    return Clip("from " + p.from + ": runs again " + steps + (p.timers.empty() ? "" : " (and " + std::to_string(p.timers.size()) + " timers)"), 200);
  }
  if (t == ev::kCancelRequested || t == ev::kPaused || t == ev::kUnpaused) {
    NameP p;
    return Load(e, &p) ? p.name : "(undecodable)";
  }
  return "";
}

}  // namespace berth::replay
