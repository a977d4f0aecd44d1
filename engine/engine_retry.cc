// An operator's retry of a failed workflow from one of its steps (Engine::Retry).
#include <map>

#include "engine/engine.h"
#include "engine/engine_impl.h"

namespace berth::engine {

Status Engine::Retry(const std::string& id, const std::string& from_step, std::vector<std::string>* reset) {
  return impl_->Retry(id, from_step, reset);
}

Status Engine::Impl::Retry(const std::string& id, const std::string& from_step, std::vector<std::string>* reset) {
  RetriedP p;
  {
    // Under admin_mu_, as Deliver: nothing loads or appends to the workflow meanwhile.
    std::lock_guard<std::mutex> admin(admin_mu_);
    if (Find(id)) return Status(Code::kConflict, "workflow '" + id + "' is running: only a failed one is retried");
    // One pass folds the history and notes where each step, timer and child first started.
    WorkflowState st;
    Status fold;
    std::map<uint64_t, std::pair<char, std::string>> first;  // seq -> kind, name
    std::map<std::string, uint64_t> step_at;
    Status s = log->ScanWorkflow(id, [&](const eventlog::Event& e) {
      fold = Apply(e, &st);
      if (!fold.ok()) return false;
      if (e.type == ev::kActivityStarted) {
        ActivityStartedP a;
        if (DecodePayload(e.payload, &a).ok() && step_at.emplace(a.step, e.seq).second) first[e.seq] = {'s', a.step};
      } else if (e.type == ev::kTimerStarted) {
        TimerStartedP t;
        if (DecodePayload(e.payload, &t).ok()) first[e.seq] = {'t', t.name};
      } else if (e.type == ev::kChildStarted) {
        ChildStartedP c;
        if (DecodePayload(e.payload, &c).ok()) first[e.seq] = {'c', c.child_id};
      } else if (e.type == ev::kRetried) {
        // What an earlier retry forgot starts afresh: its next start is a first one again.
        RetriedP r;
        if (DecodePayload(e.payload, &r).ok())
          for (const auto& step : r.steps)
            if (auto it = step_at.find(step); it != step_at.end()) {
              first.erase(it->second);
              step_at.erase(it);
            }
      }
      return true;
    });
    if (!s.ok()) return s;
    if (!fold.ok()) return fold;
    if (st.events == 0) return NotFound("no workflow '" + id + "'; list them with `berth workflows`");
    if (st.status != RunStatus::kFailed)
      return Status(Code::kConflict, "workflow '" + id + "' is " + RunStatusName(st.status) +
                                         ": only a failed workflow is retried");
    if (st.cancel_requested)
      return Status(Code::kConflict, "workflow '" + id + "' failed after a cancel was requested: it is not retried");
    if (!st.parent.empty())
      return Status(Code::kUnsupported, "workflow '" + id + "' is a child of " + st.parent +
                                            ": a child workflow is not retried on its own");
    auto from = step_at.find(from_step);
    if (from == step_at.end()) {
      std::string steps;
      for (const auto& [seq, what] : first)
        if (what.first == 's' && steps.size() < 1500) steps += (steps.empty() ? "" : ", ") + what.second;
      return NotFound("workflow '" + id + "' has no step '" + from_step + "'; its steps: " +
                      (steps.empty() ? "none" : steps) + " (see `berth history " + id + "`)");
    }
    for (auto it = first.find(from->second); it != first.end(); ++it) {
      auto& [kind, name] = it->second;
      if (kind == 'c')
        return Status(Code::kUnsupported, "child workflow " + name + " started after step '" + from_step +
                                              "' of " + id + ": a retry cannot run a child again");
      (kind == 's' ? p.steps : p.timers).push_back(name);
    }
    p.from = from_step;
    p.error = st.error;
    eventlog::EventDraft d;
    d.workflow_id = id;
    d.workflow_seq = st.events + 1;
    d.type = ev::kRetried;
    d.actor = eventlog::Actor::kUser;
    d.payload = EncodePayload(p);
    d.time_us = NowUs();
    eventlog::Event next;
    static_cast<eventlog::EventDraft&>(next) = d;
    eventlog::AppendRequest a;
    a.events.push_back(std::move(d));
    a.projections.push_back({SummaryKey(id), EncodeSummary(SummaryAfter(st, next)), false});
    a.projections.push_back({OpenKey(id), "", false, /*put_once=*/true});  // open again: Recover finds it
    if (Status w = log->Append(std::move(a)); !w.ok()) return w;
    std::lock_guard<std::mutex> l(mu_);
    finished_.erase(id);  // its earlier end: a Wait now waits for the new one
    halted_.erase(id);
  }
  if (reset) *reset = p.steps;
  size_t n = 0;
  return Recover(&n, id);
}

}  // namespace berth::engine
