// One workflow's life on its strand: decide, append, run, repeat. See engine.h.
#include <cmath>

#include "engine/engine_impl.h"

namespace berth::engine {

namespace {

std::string Kind(const char* k, const std::string& name) { return std::string(k) + ":" + name; }

}  // namespace

Instance::Instance(Engine::Impl* engine, const Workflow* def, WorkflowState state)
    : engine_(engine),
      def_(def),
      state_(std::move(state)),
      strand_(asio::make_strand(engine->pool.get_executor())) {}

bool Instance::Known(const std::string& kind, const std::string& name) const {
  if (queued_.count(Kind(kind.c_str(), name))) return true;
  if (kind == "step") return state_.steps.count(name) > 0;
  if (kind == "timer") return state_.timers.count(name) > 0;
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
  if (ending_ || IsTerminal(state_.status)) return;
  Pending p;
  p.draft = std::move(draft);
  outbox_.push_back(std::move(p));
  Pump();
}

void Instance::EnqueueCommands(const std::vector<Command>& cmds) {
  for (const auto& c : cmds) {
    if (ending_) return;
    if (auto* a = std::get_if<ScheduleActivity>(&c)) {
      if (Known("step", a->step)) continue;
      queued_.insert(Kind("step", a->step));
      Enqueue(ev::kActivityStarted,
              EncodePayload(ActivityStartedP{a->step, a->activity, a->input, 1}),
              [this, step = a->step] {
                queued_.erase(Kind("step", step));
                RunActivity(step, false);
              },
              a->subjects);
    } else if (auto* t = std::get_if<StartTimer>(&c)) {
      if (Known("timer", t->name)) continue;
      queued_.insert(Kind("timer", t->name));
      int64_t at = engine_->NowUs() + t->delay_ms * 1000;
      Enqueue(ev::kTimerStarted, EncodePayload(TimerStartedP{t->name, at}),
              [this, name = t->name, at] {
                queued_.erase(Kind("timer", name));
                ArmAt(at, [this, name] {
                  Enqueue(ev::kTimerFired, EncodePayload(NameP{name}));
                  Pump();
                });
              });
    } else if (auto* ch = std::get_if<StartChild>(&c)) {
      std::string child = ChildId(state_.id, ch->name);
      if (Known("child", child)) continue;
      queued_.insert(Kind("child", child));
      StartChild sc = *ch;
      Enqueue(ev::kChildStarted, EncodePayload(ChildStartedP{child, ch->type, ch->input}),
              [this, child, sc] {
                queued_.erase(Kind("child", child));
                StartRequest r{sc.type, child, sc.input, eventlog::Actor::kSystem, true};
                auto started = engine_->Start(r, state_.id);
                if (!started.ok() && started.status().code() != Code::kConflict) {
                  WorkflowSummary fake;
                  fake.id = child;
                  fake.status = RunStatus::kFailed;
                  fake.error = started.status().ToString();
                  OnChildEnded(fake, "");
                }
              });
    } else if (auto* done = std::get_if<CompleteWorkflow>(&c)) {
      ending_ = true;
      Enqueue(ev::kWorkflowCompleted, EncodePayload(EndedP{done->result}), [this] { Finished(); });
    } else if (auto* f = std::get_if<FailWorkflow>(&c)) {
      ending_ = true;
      Enqueue(ev::kWorkflowFailed, EncodePayload(EndedP{f->error}), [this] { Finished(); });
    }
  }
}

void Instance::Pump() {
  if (appending_ || IsTerminal(state_.status) || engine_->stopping) return;
  if (outbox_.empty() && !ending_) {
    if (state_.cancel_requested) {
      if (def_->HandlesCancel()) EnqueueCommands(def_->Decide(state_));  // its undo steps
      if (outbox_.empty() && !ending_ && state_.Outstanding() == 0 && queued_.empty()) {
        ending_ = true;
        Enqueue(ev::kWorkflowCancelled, EncodePayload(EndedP{"cancelled on request"}),
                [this] { Finished(); });
      }
    } else {
      EnqueueCommands(def_->Decide(state_));
    }
  }
  if (!outbox_.empty()) SendFront();
}

namespace {
// Events that change a workflow's summary beyond its event count go alone in a request, so
// the summary of a batch is SummaryAfter(its last event).
bool Alone(const std::string& type) {
  return type == ev::kWorkflowStarted || type == ev::kWorkflowCompleted ||
         type == ev::kWorkflowFailed || type == ev::kWorkflowCancelled;
}
constexpr size_t kBatchMax = 64;
}  // namespace

void Instance::SendFront() {
  // Everything queued goes in one request (one durable write): parallel steps finishing
  // together do not wait for one another's fsync.
  size_t n = 0;
  eventlog::AppendRequest req;
  eventlog::Event last;
  for (Pending& p : outbox_) {
    if (n == kBatchMax || (n > 0 && Alone(p.draft.type))) break;
    p.draft.workflow_seq = state_.events + 1 + n;
    p.draft.time_us = engine_->NowUs();
    req.events.push_back(p.draft);
    ++n;
    if (Alone(p.draft.type)) break;
  }
  static_cast<eventlog::EventDraft&>(last) = req.events.back();
  WorkflowSummary next = SummaryAfter(state_, last);  // state_: every durable event
  req.projections.push_back({SummaryKey(state_.id), EncodeSummary(next), false});
  if (IsTerminal(next.status)) req.projections.push_back({OpenKey(state_.id), "", true});
  appending_ = n;
  engine_->appends_in_flight++;
  auto self = shared_from_this();
  engine_->log->AppendAsync(std::move(req), [self](const Status& s, eventlog::AppendResult r) {
    asio::post(self->strand_, [self, s, seq = r.first_seq] { self->OnDurable(s, seq); });
  });
}

void Instance::OnDurable(const Status& s, uint64_t seq) {
  engine_->appends_in_flight--;
  size_t n = appending_;
  if (!s.ok()) {
    appending_ = 0;
    // Nothing of the request is durable; keep it at the head of the outbox and retry.
    if (engine_->options.on_log_error) engine_->options.on_log_error(s);
    append_backoff_ms_ = std::min<int64_t>(std::max<int64_t>(append_backoff_ms_ * 2, 50),
                                           engine_->options.append_retry_ms_max);
    ArmAt(engine_->NowUs() + append_backoff_ms_ * 1000, [this] { Pump(); });
    return;
  }
  append_backoff_ms_ = 0;
  for (size_t i = 0; i < n; ++i) {
    Pending p = std::move(outbox_.front());
    outbox_.pop_front();
    eventlog::Event e;
    static_cast<eventlog::EventDraft&>(e) = std::move(p.draft);
    e.seq = seq + i;
    Status applied = Apply(e, &state_);
    assert(applied.ok());  // the engine produced this event from this state
    (void)applied;
    if (engine_->options.observer) engine_->options.observer(e);
    if (p.after) p.after();  // a Pump() in here waits: appending_ is still set
  }
  appending_ = 0;
  Pump();
}

void Instance::RunActivity(const std::string& step, bool reconcile_first) {
  const StepState& st = state_.steps.at(step);
  Activity* act = engine_->registry->FindActivity(st.activity);
  uint32_t attempt = st.attempt;
  awaiting_[step] = attempt;
  if (!act) {
    OnActivityDone(step, attempt,
                   {Status(Code::kInvalidArgument, "no activity named '" + st.activity + "'")});
    return;
  }
  ActivityContext ctx{state_.id, step, state_.id + "/" + step, st.input, attempt, 0};
  RetryPolicy policy = act->retry_policy();
  if (policy.attempt_timeout_ms > 0) {
    ctx.deadline_us = engine_->NowUs() + policy.attempt_timeout_ms * 1000;
    ArmAt(ctx.deadline_us, [this, step, attempt, ms = policy.attempt_timeout_ms] {
      OnActivityDone(step, attempt,
                     {Status(Code::kTimeout, "attempt timed out after " + std::to_string(ms) +
                                                 " ms")});
    });
  }
  auto self = shared_from_this();
  auto work = [self, act, ctx, reconcile_first] {
    Outcome out;
    bool run = true;
    if (reconcile_first) {
      auto found = act->Reconcile(ctx);
      if (!found.ok()) {
        out.result = found.status();  // cannot tell: fail this attempt, retry reconciles again
        run = false;
      } else if (found.value().has_value()) {
        out.result = *found.value();
        out.adopted = true;
        run = false;
      }
    }
    if (run) {
      out.result = act->Run(ctx);
      uint64_t n = ++self->engine_->effects;
      if (self->engine_->options.after_effect) self->engine_->options.after_effect(n);
    }
    asio::post(self->strand_, [self, step = ctx.step, attempt = ctx.attempt, out]() mutable {
      self->OnActivityDone(step, attempt, std::move(out));
    });
  };
  if (act->inline_ok(ctx.input))
    work();
  else
    asio::post(engine_->activity_pool, std::move(work));
}

void Instance::OnActivityDone(const std::string& step, uint32_t attempt, Outcome out) {
  auto it = awaiting_.find(step);
  if (it == awaiting_.end() || it->second != attempt) return;  // a timed-out attempt's late answer
  awaiting_.erase(it);
  if (out.result.ok()) {
    Enqueue(ev::kActivityCompleted,
            EncodePayload(ActivityCompletedP{step, out.result.value(), attempt, out.adopted}), {},
            state_.steps.at(step).subjects);
    Pump();
    return;
  }
  const Status& err = out.result.status();
  const StepState& st = state_.steps.at(step);
  Activity* act = engine_->registry->FindActivity(st.activity);
  RetryPolicy policy = act ? act->retry_policy() : RetryPolicy();
  bool retry = act && policy.Retryable(err.code()) && attempt < policy.attempts_max;
  ActivityFailedP f{step, err.message(), attempt, static_cast<int32_t>(err.code()), !retry, 0};
  if (retry) {
    double backoff = std::min<double>(
        policy.backoff_max_ms,
        policy.backoff_initial_ms * std::pow(policy.backoff_multiplier, attempt - 1));
    backoff *= 1.0 + policy.jitter * (2.0 * engine_->options.random->Uniform() - 1.0);
    f.retry_at_us = engine_->NowUs() + static_cast<int64_t>(backoff * 1000);
  }
  Enqueue(ev::kActivityFailed, EncodePayload(f), [this, step, retry, at = f.retry_at_us, code = err.code()] {
    if (!retry) return;
    bool reconcile = code == Code::kTimeout || code == Code::kUnknownOutcome;
    ArmAt(at, [this, step, reconcile] {
      StartAttempt(step, state_.steps.at(step).attempt + 1, reconcile);
    });
  }, st.subjects);
  Pump();
}

void Instance::StartAttempt(const std::string& step, uint32_t attempt, bool reconcile_first) {
  const StepState& st = state_.steps.at(step);
  Enqueue(ev::kActivityStarted, EncodePayload(ActivityStartedP{step, st.activity, st.input, attempt}),
          [this, step, reconcile_first] { RunActivity(step, reconcile_first); }, st.subjects);
  Pump();
}

void Instance::ArmAt(int64_t at_us, std::function<void()> fn) {
  int64_t delay_us = std::max<int64_t>(0, at_us - engine_->NowUs());
  auto timer = std::make_shared<asio::steady_timer>(strand_, std::chrono::microseconds(delay_us));
  auto self = shared_from_this();
  timer->async_wait([self, timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec && !self->engine_->stopping) fn();
  });
}

void Instance::Resume() {
  for (const auto& [name, st] : state_.steps) {
    if (st.phase == StepState::kRunning) {
      RunActivity(name, /*reconcile_first=*/true);  // in doubt: look before redoing
    } else if (st.phase == StepState::kRetryWait) {
      bool reconcile = st.error_code == int32_t(Code::kTimeout) ||
                       st.error_code == int32_t(Code::kUnknownOutcome);
      ArmAt(st.retry_at_us, [this, step = name, reconcile] {
        StartAttempt(step, state_.steps.at(step).attempt + 1, reconcile);
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
      if (IsTerminal(ws.status)) OnChildEnded(ws, "");
      // else: the child resumes on its own and reports its end.
    } else {
      StartRequest r{c.type, child, c.input, eventlog::Actor::kSystem, true};
      (void)engine_->Start(r, state_.id);
    }
  }
  Pump();
}

void Instance::OnChildEnded(const WorkflowSummary& child, const std::string& result) {
  auto it = state_.children.find(child.id);
  if (it != state_.children.end() && it->second.ended) return;
  Enqueue(ev::kChildEnded,
          EncodePayload(ChildEndedP{child.id, child.status == RunStatus::kCompleted ? result : child.error,
                                    RunStatusName(child.status)}));
  Pump();
}

void Instance::Finished() { engine_->OnFinished(state_); }

}  // namespace berth::engine
