// One workflow's life on its lane: decide, append, recover, children, cancel. Its
// activities are in instance_activity.cc. See engine.h.
#include <chrono>

#include "engine/engine_impl.h"
#include "eventlog/check.h"

namespace berth::engine {

namespace {

// Events that change a workflow's summary beyond its event count go alone in a request, so
// the summary of a batch is SummaryAfter(its last event).
bool Alone(const std::string& type) {
  return type == ev::kWorkflowStarted || type == ev::kWorkflowCompleted ||
         type == ev::kWorkflowFailed || type == ev::kWorkflowCancelled;
}
constexpr size_t kBatchMax = 64;
constexpr size_t kEndTextMax = 4096;  // a failure message longer than this is cut

std::string Cut(std::string s) {
  if (s.size() > kEndTextMax) s = s.substr(0, kEndTextMax) + "...";
  return s;
}

}  // namespace

Instance::Instance(Engine::Impl* engine, const Workflow* def, WorkflowState state)
    : engine_(engine),
      def_(def),
      state_(std::move(state)),
      lane_(engine->sched->NewLane()),
      key_(def->ExclusiveKey(state_.input)) {}

void Instance::Post(std::function<void()> fn) {
  engine_->sched->Post(*lane_, [self = shared_from_this(), fn = std::move(fn)] { fn(); });
}

void Instance::ArmAt(int64_t at_us, std::function<void()> fn) {
  engine_->sched->RunAt(*lane_, at_us, [self = shared_from_this(), fn = std::move(fn)] {
    if (!self->engine_->stopping) fn();
  });
}

bool Instance::Known(char kind, const std::string& name) const {
  if (queued_.count(kind + name)) return true;
  if (kind == 's') return state_.steps.count(name) > 0;
  if (kind == 't') return state_.timers.count(name) > 0;
  return state_.children.count(name) > 0;
}

void Instance::Enqueue(const char* type, std::string payload, std::function<void()> after,
                       std::vector<std::string> subjects) {
  Pending p;
  p.draft.workflow_id = state_.id;
  p.draft.type = type;
  p.draft.payload = std::move(payload);
  p.draft.subjects = std::move(subjects);
  p.after = std::move(after);
  outbox_.push_back(std::move(p));
}

void Instance::Deliver(eventlog::EventDraft draft) {
  if (ending_ || halted_ || IsTerminal(state_.status)) return;
  bool paused = state_.paused;  // as it will be once what is queued is recorded
  for (const Pending& q : outbox_)
    if (q.draft.type == ev::kPaused || q.draft.type == ev::kUnpaused) paused = q.draft.type == ev::kPaused;
  if (AlreadySaid(draft.type, state_.cancel_requested, paused)) return;
  Pending p;
  p.draft = std::move(draft);
  outbox_.push_back(std::move(p));
  Pump();
}

void Instance::EnqueueCommands(std::vector<Command> cmds) {
  for (auto& c : cmds) {
    if (ending_) return;
    if (auto* a = std::get_if<ScheduleActivity>(&c)) {
      if (Known('s', a->step)) continue;
      queued_.insert('s' + a->step);
      std::string step = a->step;
      Enqueue(ev::kActivityStarted,
              EncodePayload(ActivityStartedP{a->step, a->activity, a->input, 1}),
              [this, step] {
                queued_.erase('s' + step);
                RunActivity(step, false);
              },
              std::move(a->subjects));
    } else if (auto* t = std::get_if<StartTimer>(&c)) {
      if (Known('t', t->name)) continue;
      queued_.insert('t' + t->name);
      int64_t at = engine_->NowUs() + t->delay_ms * 1000;
      Enqueue(ev::kTimerStarted, EncodePayload(TimerStartedP{t->name, at}),
              [this, name = t->name, at] {
                queued_.erase('t' + name);
                ArmAt(at, [this, name] {
                  Enqueue(ev::kTimerFired, EncodePayload(NameP{name}));
                  Pump();
                });
              });
    } else if (auto* ch = std::get_if<StartChild>(&c)) {
      std::string child = ChildId(state_.id, ch->name);
      if (Known('c', child)) continue;
      queued_.insert('c' + child);
      Enqueue(ev::kChildStarted, EncodePayload(ChildStartedP{child, ch->type, ch->input}),
              [this, child, type = ch->type, input = ch->input] {
                queued_.erase('c' + child);
                StartChildWorkflow(child, type, input);
              });
    } else if (auto* done = std::get_if<CompleteWorkflow>(&c)) {
      ending_ = true;
      Enqueue(ev::kWorkflowCompleted, EncodePayload(EndedP{done->result}), [this] { Finished(); });
    } else if (auto* f = std::get_if<FailWorkflow>(&c)) {
      ending_ = true;
      Enqueue(ev::kWorkflowFailed, EncodePayload(EndedP{Cut(f->error)}), [this] { Finished(); });
    }
  }
}

void Instance::StartChildWorkflow(const std::string& child, const std::string& type,
                                  const std::string& input) {
  // The child's WorkflowStarted goes through the asynchronous append: a slow fsync holds no
  // decision thread. A start that fails ends the child, for the parent, as failed.
  auto self = shared_from_this();
  auto failed = [self, child](const Status& s) {
    self->Post([self, child, s] { self->OnChildEnded(child, RunStatus::kFailed, s.ToString()); });
  };
  StartRequest r{type, child, input, eventlog::Actor::kSystem, true};
  auto started = engine_->Start(r, state_.id, [self, child, failed](Result<std::string> res) {
    if (res.ok()) {
      self->Post([self, child] {
        if (self->state_.cancel_requested) self->CancelChild(child);
      });
    } else if (res.status().code() != Code::kConflict) {
      failed(res.status());
    }
  });
  // kConflict: the child exists already (started before a crash); it reports its own end.
  if (!started.ok() && started.status().code() != Code::kConflict) failed(started.status());
}

void Instance::Pump() {
  if (appending_ || halted_ || IsTerminal(state_.status) || engine_->stopping) return;
  if (outbox_.empty() && !ending_) {
    if (!blocked_by_.empty()) {
      // Waiting for the exclusive key: decides nothing; a cancel ends it at once.
      if (state_.cancel_requested && state_.Outstanding() == 0) {
        ending_ = true;
        Enqueue(ev::kWorkflowCancelled, EncodePayload(EndedP{"cancelled on request"}),
                [this] { Finished(); });
      }
    } else if (state_.cancel_requested) {
      if (def_->HandlesCancel()) EnqueueCommands(def_->Decide(state_));  // its undo steps
      if (outbox_.empty() && !ending_ && state_.Outstanding() == 0 && queued_.empty()) {
        ending_ = true;
        Enqueue(ev::kWorkflowCancelled, EncodePayload(EndedP{"cancelled on request"}),
                [this] { Finished(); });
      }
    } else if (!state_.paused) {  // paused: nothing new starts; what runs finishes
      Decide();
    }
  }
  if (!outbox_.empty()) SendFront();
}

namespace {
// A decision that cost more than kDecidePaceMinUs is followed by a pause of kDecidePace times
// its cost before the next one; events arriving meanwhile are decided together. A decision
// function whose cost grows with the workflow (a deploy walks its containers) then takes at
// most 1/(1 + kDecidePace) of a thread, however many events there are, instead of one
// full walk per event.
constexpr int64_t kDecidePaceMinUs = 500;
constexpr int64_t kDecidePace = 4;
constexpr int64_t kDecidePaceMaxUs = 250'000;
}  // namespace

void Instance::Decide() {
  // Measured on the monotonic clock, not the engine's (a wall-clock step during a Decide
  // must not pause the workflow), and the pause is capped. The simulator turns pacing off:
  // its runs must not depend on how fast this machine decides.
  using Mono = std::chrono::steady_clock;
  auto mono_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(Mono::now().time_since_epoch()).count();
  };
  if (engine_->options.pace_decisions && decide_cost_us_ > kDecidePaceMinUs) {
    int64_t wait_us = std::min<int64_t>(decide_cost_us_ * kDecidePace, kDecidePaceMaxUs);
    int64_t left_us = decided_at_us_ + wait_us - mono_us();
    if (left_us > 0) {
      if (!decide_armed_) {
        decide_armed_ = true;
        ArmAt(engine_->NowUs() + left_us, [this] {
          decide_armed_ = false;
          Pump();
        });
      }
      return;
    }
  }
  int64_t t0 = mono_us();
  EnqueueCommands(def_->Decide(state_));
  decided_at_us_ = mono_us();
  decide_cost_us_ = decided_at_us_ - t0;
}

void Instance::SendFront() {
  // Everything queued goes in one request (one durable write): parallel steps finishing
  // together do not wait for one another's fsync.
  size_t n = 0;
  eventlog::AppendRequest req;
  for (Pending& p : outbox_) {
    if (n == kBatchMax || (n > 0 && Alone(p.draft.type))) break;
    p.draft.workflow_seq = state_.events + 1 + n;
    p.draft.time_us = engine_->NowUs();
    req.events.push_back(p.draft);
    ++n;
    if (Alone(p.draft.type)) break;
  }
  eventlog::Event last;
  static_cast<eventlog::EventDraft&>(last) = req.events.back();
  WorkflowSummary next = SummaryAfter(state_, last);  // state_: every durable event
  req.projections.push_back({SummaryKey(state_.id), EncodeSummary(next), false});
  // Put once by Start (the log refuses a second start of an id), erased once here.
  if (IsTerminal(next.status)) req.projections.push_back({OpenKey(state_.id), "", true, /*put_once=*/true});
  appending_ = n;
  engine_->appends_in_flight++;
  auto self = shared_from_this();
  engine_->log->AppendAsync(std::move(req), [self](const Status& s, eventlog::AppendResult r) {
    self->engine_->sched->Post(*self->lane_, [self, s, seq = r.first_seq] {
      self->OnDurable(s, seq);
    });
    self->engine_->appends_in_flight--;
  });
}

void Instance::OnDurable(const Status& s, uint64_t seq) {
  size_t n = appending_;
  appending_ = 0;
  if (!s.ok()) return OnRefused(s);
  append_backoff_ms_ = 0;
  append_failing_since_us_ = 0;
  appending_ = n;  // a Pump() from an `after` below waits until every event is applied
  for (size_t i = 0; i < n; ++i) {
    Pending p = std::move(outbox_.front());
    outbox_.pop_front();
    eventlog::Event e;
    static_cast<eventlog::EventDraft&>(e) = std::move(p.draft);
    e.seq = seq + i;
    Status applied = Apply(e, &state_);
    // The engine made this event from this very state: a refusal is a bug in the engine.
    BERTH_CHECK_MSG(applied.ok(), applied.ToString().c_str());
    if (engine_->options.observer) engine_->options.observer(e);
    if (e.type == ev::kCancelRequested) {
      // A workflow that handles its cancel (a deploy) may be undoing already: its steps keep
      // their retries, and an interrupted attempt ends by what it returns (kCancelled is
      // final). Any other workflow's open steps end here.
      if (!def_->HandlesCancel()) {
        for (const auto& [step, f] : inflight_) cut_by_cancel_.insert(step);
        if (state_.open_steps > inflight_.size())  // some wait to retry: once per cancel
          for (const auto& [step, st] : state_.steps)
            if (st.phase == StepState::kRetryWait) cut_by_cancel_.insert(step);
      }
      AbandonAll();
      CancelChildren();
    }
    if (p.after) p.after();
  }
  appending_ = 0;
  Pump();
}

void Instance::OnRefused(const Status& s) {
  // Nothing of the request is durable. An event the log calls malformed (an over-long
  // subject, say) will never be taken: the workflow fails at once instead of retrying
  // forever. Other errors (the log reopening, a full disk it is waiting out) are retried with
  // backoff, for at most append_give_up_ms; then the workflow halts here, unfinished in the
  // log, for the next Recover.
  if (engine_->options.on_log_error) engine_->options.on_log_error(s);
  int64_t now = engine_->NowUs();
  if (s.code() == Code::kInvalidArgument && !ending_) {
    AbandonAll();
    outbox_.clear();
    queued_.clear();
    ending_ = true;
    Enqueue(ev::kWorkflowFailed,
            EncodePayload(EndedP{Cut("the event log refused an event of this workflow: " +
                                     s.message())}),
            [this] { Finished(); });
    Pump();
    return;
  }
  if (append_failing_since_us_ == 0) append_failing_since_us_ = now;
  // kCorruption, kFailed (the log stopped taking appends after a write kept failing):
  // retrying in this process cannot help.
  if (s.code() == Code::kInvalidArgument || s.code() == Code::kCorruption ||
      s.code() == Code::kFailed ||
      now - append_failing_since_us_ > engine_->options.append_give_up_ms * 1000) {
    halted_ = true;
    AbandonAll();
    engine_->OnHalted(state_.id, s);
    return;
  }
  append_backoff_ms_ = std::min<int64_t>(std::max<int64_t>(append_backoff_ms_ * 2, 50),
                                         engine_->options.append_retry_ms_max);
  ArmAt(now + append_backoff_ms_ * 1000, [this] { Pump(); });
}

void Instance::CancelChildren() {
  for (const auto& [child, c] : state_.children)
    if (!c.ended) CancelChild(child);
}

void Instance::CancelChild(const std::string& child) {
  {
    eventlog::EventDraft d;
    d.type = ev::kCancelRequested;
    d.actor = eventlog::Actor::kSystem;
    d.payload = EncodePayload(NameP{"parent " + state_.id + " cancelled"});
    // Off the lane: for a child not loaded here, Deliver folds it from the log.
    Engine::Impl* engine = engine_;
    engine_->sched->Blocking([engine, child, d] { (void)engine->Deliver(child, d); });
  }
}

void Instance::Resume() {
  for (const auto& [name, st] : state_.steps) {
    if (st.phase == StepState::kRunning) {
      RunActivity(name, /*reconcile_first=*/true, /*after_restart=*/true);  // in doubt: look first
    } else if (st.phase == StepState::kRetryWait) {
      ArmAt(st.retry_at_us, [this, step = name, code = st.error_code] {
        StartAttempt(step, ReconcileAfter(code));
      });
    }
  }
  for (const auto& [name, t] : state_.timers)
    if (!t.fired)
      ArmAt(t.fire_at_us, [this, name = name] {
        Enqueue(ev::kTimerFired, EncodePayload(NameP{name}));
        Pump();
      });
  for (const auto& [child, c] : state_.children) {
    if (c.ended) continue;
    std::string summary;
    WorkflowSummary ws;
    if (engine_->log->GetProjection(SummaryKey(child), &summary).ok() &&
        DecodeSummary(summary, &ws).ok()) {
      if (IsTerminal(ws.status)) {
        // It ended before this workflow recorded it: its result is in its own history.
        auto folded = FoldWorkflow(*engine_->log, child);
        std::string text = !folded.ok() ? folded.status().ToString()
                           : ws.status == RunStatus::kCompleted ? folded->result
                                                                : folded->error;
        OnChildEnded(child, ws.status, text);
      }
      // else: the child is recovered with this workflow and reports its own end.
    } else {
      StartChildWorkflow(child, c.type, c.input);  // its start never became durable
    }
  }
  if (state_.cancel_requested) CancelChildren();
  Pump();
}

void Instance::Begin(bool resume) {
  if (resume)
    Resume();
  else
    Pump();
}

void Instance::Park(bool resume) {
  resume_pending_ = resume;
  Enqueue(ev::kExclusiveWait, EncodePayload(ExclusiveWaitP{key_, blocked_by_}));
  Pump();
}

void Instance::Unblock() {
  blocked_by_.clear();
  Begin(std::exchange(resume_pending_, false));
}

void Instance::OnChildEnded(const std::string& child, RunStatus status, const std::string& text) {
  auto it = state_.children.find(child);
  if (it == state_.children.end() || it->second.ended || queued_.count('e' + child)) return;
  queued_.insert('e' + child);
  Enqueue(ev::kChildEnded, EncodePayload(ChildEndedP{child, text, RunStatusName(status)}),
          [this, child] { queued_.erase('e' + child); });
  Pump();
}

void Instance::Finished() { engine_->OnFinished(state_); }

}  // namespace berth::engine
