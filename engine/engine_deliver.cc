// What reaches a workflow from outside while it runs: signals, cancel, pause and unpause.
// Delivered to its instance when it is loaded here, else recorded in the log for when it
// resumes; a cancel goes on to every descendant.
#include "engine/engine.h"
#include "engine/engine_impl.h"

namespace berth::engine {

namespace {
eventlog::EventDraft Draft(const char* type, eventlog::Actor actor, std::string payload) {
  eventlog::EventDraft d;
  d.type = type;
  d.actor = actor;
  d.payload = std::move(payload);
  return d;
}
}  // namespace

Status Engine::Impl::Deliver(const std::string& id, eventlog::EventDraft d) {
  d.workflow_id = id;
  if (auto inst = Find(id)) {
    inst->Post([inst, d] { inst->Deliver(d); });
    return Status::Ok();
  }
  std::vector<std::string> open_children;
  {
    // Not loaded here: record it in the log; it takes effect when the workflow resumes.
    // Under admin_mu_, so Recover cannot load the workflow between the fold and the append.
    std::lock_guard<std::mutex> admin(admin_mu_);
    if (auto inst = Find(id)) {
      inst->Post([inst, d] { inst->Deliver(d); });
      return Status::Ok();
    }
    auto st = FoldWorkflow(*log, id);
    if (!st.ok()) return st.status();
    if (IsTerminal(st->status))
      return Status(Code::kConflict, "workflow '" + id + "' already ended (" +
                                         RunStatusName(st->status) + ")");
    bool cancel = d.type == ev::kCancelRequested;
    if (!AlreadySaid(d.type, st->cancel_requested, st->paused)) {
      d.workflow_seq = st->events + 1;
      d.time_us = NowUs();
      eventlog::Event next;
      static_cast<eventlog::EventDraft&>(next) = d;
      WorkflowSummary sum = SummaryAfter(st.value(), next);
      eventlog::AppendRequest a;
      a.events.push_back(std::move(d));
      a.projections.push_back({SummaryKey(id), EncodeSummary(sum), false});
      if (Status s = log->Append(std::move(a)); !s.ok()) return s;
    }
    if (cancel)
      for (const auto& [child, c] : st->children)
        if (!c.ended) open_children.push_back(child);
  }
  // A cancel reaches the descendants too, also those not loaded here.
  for (const auto& child : open_children) {
    (void)Deliver(child, Draft(ev::kCancelRequested, eventlog::Actor::kSystem,
                               EncodePayload(NameP{"parent " + id + " cancelled"})));
  }
  return Status::Ok();
}

Status Engine::Signal(const std::string& id, const std::string& name, const std::string& payload) {
  return impl_->Deliver(id, Draft(ev::kSignalReceived, eventlog::Actor::kUser, EncodePayload(SignalP{name, payload})));
}

Status Engine::Cancel(const std::string& id, eventlog::Actor actor) {
  return impl_->Deliver(id, Draft(ev::kCancelRequested, actor, EncodePayload(NameP{"cancel requested"})));
}

Status Engine::Pause(const std::string& id, const std::string& why) {
  return impl_->Deliver(id, Draft(ev::kPaused, eventlog::Actor::kUser, EncodePayload(NameP{why})));
}

Status Engine::Unpause(const std::string& id, const std::string& why) {
  Status s = impl_->Deliver(id, Draft(ev::kUnpaused, eventlog::Actor::kUser, EncodePayload(NameP{why})));
  if (!s.ok()) return s;
  size_t n = 0;
  return impl_->Recover(&n, id);  // parked in the log (paused when it was resumed): load it
}

}  // namespace berth::engine
