#include "engine/workflow_state.h"

#include "engine/events.h"
#include "eventlog/pipelined_scan.h"

namespace berth::engine {
namespace {

Status Bad(const eventlog::Event& e, const std::string& what) {
  return Corruption("event seq " + std::to_string(e.seq) + " (" + e.type + " of workflow " +
                    e.workflow_id + "): " + what);
}

template <class T>
Status Load(const eventlog::Event& e, T* p) {
  Status s = DecodePayload(e.payload, p);
  return s.ok() ? s : Bad(e, s.message());
}

Status ApplyActivity(const eventlog::Event& e, WorkflowState* s) {
  if (e.type == ev::kActivityStarted) {
    ActivityStartedP p;
    if (auto st = Load(e, &p); !st.ok()) return st;
    auto [it, fresh] = s->steps.try_emplace(std::move(p.step));  // moved only if inserted
    StepState& step = it->second;
    if (step.phase == StepState::kCompleted || step.phase == StepState::kFailed)
      return Bad(e, "step '" + it->first + "' started again after it ended");
    if (fresh) ++s->open_steps;  // a retry's start (from kRetryWait) is already open
    step.phase = StepState::kRunning;
    step.activity = std::move(p.activity);
    step.input = std::move(p.input);
    step.attempt = p.attempt;
    if (p.attempt == 1) step.subjects = e.subjects;
    return Status::Ok();
  }
  if (e.type == ev::kActivityCompleted) {
    ActivityCompletedP p;
    if (auto st = Load(e, &p); !st.ok()) return st;
    auto it = s->steps.find(p.step);
    if (it == s->steps.end() || it->second.phase != StepState::kRunning)
      return Bad(e, "step '" + p.step + "' completed without running");
    it->second.phase = StepState::kCompleted;
    --s->open_steps;
    it->second.result = std::move(p.result);
    it->second.adopted = p.adopted;
    return Status::Ok();
  }
  ActivityFailedP p;  // kActivityFailed
  if (auto st = Load(e, &p); !st.ok()) return st;
  auto it = s->steps.find(p.step);
  // From kRetryWait only as final: the engine gave the retry up (the workflow was cancelled).
  if (it == s->steps.end() ||
      !(it->second.phase == StepState::kRunning ||
        (p.final && it->second.phase == StepState::kRetryWait)))
    return Bad(e, "step '" + p.step + "' failed without running");
  it->second.phase = p.final ? StepState::kFailed : StepState::kRetryWait;
  if (p.final) {
    --s->open_steps;
    s->steps_failed.push_back(p.step);
  }
  it->second.error = p.error;
  it->second.error_code = p.code;
  it->second.retry_at_us = p.retry_at_us;
  return Status::Ok();
}

// WorkflowRetried: a failed workflow runs again, without the steps and timers it names.
Status ApplyRetry(const eventlog::Event& e, WorkflowState* s) {
  RetriedP p;
  if (auto st = Load(e, &p); !st.ok()) return st;
  for (const auto& step : p.steps) {
    auto it = s->steps.find(step);
    if (it == s->steps.end()) return Bad(e, "retry forgets step '" + step + "', which never started");
    if (it->second.phase == StepState::kRunning || it->second.phase == StepState::kRetryWait) --s->open_steps;
    s->steps.erase(it);
    std::erase(s->steps_failed, step);
  }
  for (const auto& timer : p.timers) {
    auto it = s->timers.find(timer);
    if (it == s->timers.end()) return Bad(e, "retry forgets timer '" + timer + "', which never started");
    if (!it->second.fired) --s->open_timers;
    s->timers.erase(it);
  }
  s->status = RunStatus::kRunning;
  s->error.clear();
  s->ended_us = 0;
  ++s->retries;
  return Status::Ok();
}

Status ApplyEnd(const eventlog::Event& e, WorkflowState* s) {
  EndedP p;
  if (auto st = Load(e, &p); !st.ok()) return st;
  if (e.type == ev::kWorkflowCompleted) {
    s->status = RunStatus::kCompleted;
    s->result = p.text;
  } else if (e.type == ev::kWorkflowFailed) {
    s->status = RunStatus::kFailed;
    s->error = p.text;
  } else {
    s->status = RunStatus::kCancelled;
    s->error = p.text;
  }
  s->ended_us = e.time_us;
  return Status::Ok();
}

}  // namespace

const char* RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kRunning: return "running";
    case RunStatus::kCompleted: return "completed";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kCancelled: return "cancelled";
  }
  return "?";
}

bool IsTerminal(RunStatus s) { return s != RunStatus::kRunning; }

bool WorkflowState::StepDone(const std::string& step) const {
  auto it = steps.find(step);
  return it != steps.end() && it->second.phase == StepState::kCompleted;
}

bool AlreadySaid(const std::string& type, bool cancel_requested, bool paused) {
  return (type == ev::kCancelRequested && cancel_requested) || (type == ev::kPaused && paused) ||
         (type == ev::kUnpaused && !paused);
}

Status Apply(const eventlog::Event& e, WorkflowState* s) {
  if (e.workflow_seq != s->events + 1)
    return Bad(e, "workflow seq " + std::to_string(e.workflow_seq) + " where " +
                      std::to_string(s->events + 1) + " was expected");
  if (IsTerminal(s->status) && !(e.type == ev::kRetried && s->status == RunStatus::kFailed))
    return Bad(e, "event after the workflow ended");
  if (s->events == 0 && e.type != ev::kWorkflowStarted)
    return Bad(e, "history does not begin with WorkflowStarted");
  const std::string& t = e.type;
  Status st;
  if (t == ev::kWorkflowStarted) {
    if (s->events != 0) return Bad(e, "WorkflowStarted twice");
    WorkflowStartedP p;
    st = Load(e, &p);
    s->id = e.workflow_id;
    s->type = p.type;
    s->input = p.input;
    s->parent = p.parent;
    s->first_seq = e.seq;
    s->started_us = e.time_us;
  } else if (t == ev::kActivityStarted || t == ev::kActivityCompleted ||
             t == ev::kActivityFailed) {
    st = ApplyActivity(e, s);
  } else if (t == ev::kTimerStarted) {
    TimerStartedP p;
    st = Load(e, &p);
    if (st.ok()) {
      auto [it, fresh] = s->timers.try_emplace(p.name);
      if (fresh || it->second.fired) ++s->open_timers;  // new, or restarted after firing
      it->second = TimerState{p.fire_at_us, false};
    }
  } else if (t == ev::kTimerFired) {
    NameP p;
    st = Load(e, &p);
    auto it = s->timers.find(p.name);
    if (st.ok() && it == s->timers.end()) return Bad(e, "timer '" + p.name + "' was never started");
    if (st.ok() && !it->second.fired) {
      it->second.fired = true;
      --s->open_timers;
    }
  } else if (t == ev::kChildStarted) {
    ChildStartedP p;
    st = Load(e, &p);
    if (st.ok()) {
      auto [it, fresh] = s->children.try_emplace(p.child_id);
      if (!fresh) return Bad(e, "child '" + p.child_id + "' started twice");
      it->second = ChildState{p.type, p.input, false, "", ""};
      ++s->open_children;
    }
  } else if (t == ev::kChildEnded) {
    ChildEndedP p;
    st = Load(e, &p);
    auto it = s->children.find(p.child_id);
    if (st.ok() && it == s->children.end()) return Bad(e, "child '" + p.child_id + "' unknown");
    if (st.ok() && it->second.ended) return Bad(e, "child '" + p.child_id + "' ended twice");
    if (st.ok()) {
      it->second.ended = true;
      it->second.status = p.status;
      it->second.result = std::move(p.result);
      --s->open_children;
      if (p.status == "completed")
        ++s->children_completed;
      else
        s->children_failed.push_back(p.child_id);
    }
  } else if (t == ev::kSignalReceived) {
    SignalP p;
    st = Load(e, &p);
    s->signals.push_back({p.name, p.payload});
  } else if (t == ev::kCancelRequested) {
    s->cancel_requested = true;
  } else if (t == ev::kPaused) {
    s->paused = true;
  } else if (t == ev::kUnpaused) {
    s->paused = false;
  } else if (t == ev::kWorkflowCompleted || t == ev::kWorkflowFailed ||
             t == ev::kWorkflowCancelled) {
    st = ApplyEnd(e, s);
  } else if (t == ev::kRetried) {
    if (s->status != RunStatus::kFailed) return Bad(e, "retry of a workflow that has not failed");
    st = ApplyRetry(e, s);
  } else {
    // Event types of other modules (e.g. workflows/ recording a decision) are allowed; the
    // engine counts them but does not interpret them.
  }
  if (!st.ok()) return st;
  s->events = e.workflow_seq;
  return Status::Ok();
}

Result<WorkflowState> FoldWorkflow(const eventlog::EventLog& log, const std::string& id) {
  WorkflowState st;
  Status fold;
  Status s = log.ScanWorkflow(id, [&](const eventlog::Event& e) {
    fold = Apply(e, &st);
    return fold.ok();
  });
  if (!s.ok()) return s;
  if (!fold.ok()) return fold;
  if (st.events == 0) return NotFound("no workflow '" + id + "'; list them with `berth workflows`");
  return st;
}

Status FoldLog(const eventlog::EventLog& log, bool only_listed,
               std::unordered_map<std::string, WorkflowState>* states, uint64_t from_seq) {
  Status fold;
  Status s = eventlog::ScanPipelined(log, from_seq, UINT64_MAX, [&](const eventlog::Event& e) {
    WorkflowState* st;
    if (only_listed) {
      auto it = states->find(e.workflow_id);
      if (it == states->end()) return true;
      st = &it->second;
    } else {
      st = &(*states)[e.workflow_id];
    }
    fold = Apply(e, st);
    return fold.ok();
  });
  return s.ok() ? fold : s;
}

WorkflowSummary Summarize(const WorkflowState& s) {
  WorkflowSummary w;
  w.id = s.id;
  w.type = s.type;
  w.parent = s.parent;
  w.status = s.status;
  w.events = s.events;
  w.first_seq = s.first_seq;
  w.started_us = s.started_us;
  w.ended_us = s.ended_us;
  w.error = s.error;
  return w;
}

WorkflowSummary SummaryAfter(const WorkflowState& s, const eventlog::Event& e) {
  // Only the first and the last event (and a retry, which reopens it) change more than the
  // count; fold those for real on a copy rather than copying the state on every event.
  const std::string& t = e.type;
  if (t == ev::kWorkflowStarted || t == ev::kWorkflowCompleted || t == ev::kWorkflowFailed ||
      t == ev::kWorkflowCancelled || t == ev::kRetried) {
    WorkflowState next = s;
    (void)Apply(e, &next);
    return Summarize(next);
  }
  WorkflowSummary w = Summarize(s);
  w.events = e.workflow_seq;
  return w;
}

namespace {
struct SummaryWire {
  WorkflowSummary* w;
  template <class A> void serialize(A& a) {
    int32_t st = static_cast<int32_t>(w->status);
    a(w->id, w->type, w->parent, st, w->events, w->first_seq, w->started_us, w->ended_us,
      w->error);
    w->status = static_cast<RunStatus>(st);
  }
};
}  // namespace

std::string EncodeSummary(const WorkflowSummary& s) {
  WorkflowSummary copy = s;
  return EncodePayload(SummaryWire{&copy});
}

Status DecodeSummary(const std::string& bytes, WorkflowSummary* out) {
  SummaryWire w{out};
  return DecodePayload(bytes, &w);
}

std::string SummaryKey(const std::string& id) { return kSummaryPrefix + id; }
std::string OpenKey(const std::string& id) { return kOpenPrefix + id; }

}  // namespace berth::engine
