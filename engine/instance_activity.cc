// One workflow's activities on its lane: run an attempt (reconciling first when in doubt),
// its time limit, its outcome, retries, and giving attempts up. See engine.h and activity.h.
#include <cmath>

#include "engine/engine_impl.h"
#include "eventlog/check.h"

namespace berth::engine {

void Instance::RunActivity(const std::string& step, bool reconcile_first, bool after_restart) {
  const StepState& st = state_.steps.at(step);
  Activity* act = engine_->registry->FindActivity(st.activity);
  uint32_t attempt = st.attempt;
  awaiting_[step] = attempt;
  if (!act) {
    OnActivityDone(step, attempt,
                   {Status(Code::kInvalidArgument, "no activity named '" + st.activity + "'")});
    return;
  }
  BERTH_CHECK_MSG(!inflight_.count(step), step.c_str());  // StartAttempt waits for it
  // An attempt in doubt resumed after a cancel request (the cancel came while berth was
  // down) starts given up: it may reconcile, but a long command must not start over.
  auto abandoned = std::make_shared<std::atomic<bool>>(reconcile_first && state_.cancel_requested);
  inflight_[step] = Inflight{attempt, abandoned, false};
  ActivityContext ctx{state_.id, step,      state_.id + "/" + step, st.input, attempt, 0,
                      abandoned,  engine_->stopping_flag};
  if (reconcile_first && !after_restart) ctx.in_doubt = Code(st.error_code);
  RetryPolicy policy = act->retry_policy();
  int64_t timeout_ms = policy.attempt_timeout_ms;
  int64_t cap = engine_->options.attempt_timeout_cap_ms;
  if (cap > 0 && (timeout_ms <= 0 || timeout_ms > cap)) timeout_ms = cap;
  bool inline_run = act->inline_ok(ctx.input);
  if (timeout_ms > 0 && !inline_run) {
    ctx.deadline_us = engine_->NowUs() + timeout_ms * 1000;
    // Holds the instance weakly: a workflow that ended is not kept in memory until its last
    // attempt's deadline (an hour by default) passes.
    std::weak_ptr<Instance> weak = shared_from_this();
    engine_->sched->RunAt(*lane_, ctx.deadline_us, [weak, step, attempt, timeout_ms] {
      auto self = weak.lock();
      if (!self || self->engine_->stopping) return;
      auto it = self->awaiting_.find(step);
      if (it == self->awaiting_.end() || it->second != attempt) return;
      if (auto f = self->inflight_.find(step); f != self->inflight_.end())
        f->second.abandoned->store(true);
      self->OnActivityDone(step, attempt,
                           {Status(Code::kTimeout,
                                   "attempt timed out after " + std::to_string(timeout_ms) + " ms")});
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
    self->engine_->sched->Post(*self->lane_,
                               [self, step = ctx.step, attempt = ctx.attempt, out]() mutable {
                                 self->OnReturned(step, attempt, std::move(out));
                               });
  };
  if (inline_run)
    work();
  else
    engine_->sched->Blocking(std::move(work));
}

void Instance::OnReturned(const std::string& step, uint32_t attempt, Outcome out) {
  bool retry_now = false;
  if (auto it = inflight_.find(step); it != inflight_.end() && it->second.attempt == attempt) {
    retry_now = it->second.retry_waiting;
    inflight_.erase(it);
  }
  OnActivityDone(step, attempt, std::move(out));  // ignored for an attempt given up already
  // The retry of an attempt that was given up starts only now that the attempt is over, and
  // reconciles first: the abandoned attempt may have done the work after all.
  if (retry_now) StartAttempt(step, /*reconcile_first=*/true);
}

void Instance::OnActivityDone(const std::string& step, uint32_t attempt, Outcome out) {
  auto it = awaiting_.find(step);
  if (it == awaiting_.end() || it->second != attempt) return;  // a given-up attempt's answer
  awaiting_.erase(it);
  if (ending_) return;
  const StepState& st = state_.steps.at(step);
  if (out.result.ok()) {
    Enqueue(ev::kActivityCompleted,
            EncodePayload(ActivityCompletedP{step, out.result.value(), attempt, out.adopted}), {},
            st.subjects);
    Pump();
    return;
  }
  const Status& err = out.result.status();
  Activity* act = engine_->registry->FindActivity(st.activity);
  RetryPolicy policy = act ? act->retry_policy() : RetryPolicy();
  // A step the cancel interrupted is not tried again: it ends with this failure.
  bool retry = act && !cut_by_cancel_.count(step) && policy.Retryable(err.code()) &&
               attempt < policy.attempts_max;
  ActivityFailedP f{step, err.message(), attempt, static_cast<int32_t>(err.code()), !retry, 0};
  if (retry) {
    double backoff = std::min<double>(
        policy.backoff_max_ms,
        policy.backoff_initial_ms * std::pow(policy.backoff_multiplier, attempt - 1));
    backoff *= 1.0 + policy.jitter * (2.0 * engine_->options.random->Uniform() - 1.0);
    f.retry_at_us = engine_->NowUs() + static_cast<int64_t>(backoff * 1000);
  }
  Enqueue(ev::kActivityFailed, EncodePayload(f),
          [this, step, retry, at = f.retry_at_us, code = int32_t(err.code())] {
            if (!retry) return;
            ArmAt(at, [this, step, code] { StartAttempt(step, ReconcileAfter(code)); });
          },
          st.subjects);
  Pump();
}

void Instance::StartAttempt(const std::string& step, bool reconcile_first) {
  if (ending_ || halted_ || IsTerminal(state_.status)) return;
  const StepState& st = state_.steps.at(step);
  if (st.phase != StepState::kRetryWait) return;
  if (auto it = inflight_.find(step); it != inflight_.end()) {
    it->second.retry_waiting = true;  // the given-up attempt is still running: wait for it
    return;
  }
  if (cut_by_cancel_.count(step)) {
    // Cancelled while waiting to retry: the step ends failed instead of running again.
    Enqueue(ev::kActivityFailed,
            EncodePayload(ActivityFailedP{step, "not retried: the workflow was cancelled",
                                          st.attempt, int32_t(Code::kCancelled), true, 0}),
            {}, st.subjects);
    Pump();
    return;
  }
  Enqueue(ev::kActivityStarted,
          EncodePayload(ActivityStartedP{step, st.activity, st.input, st.attempt + 1}),
          [this, step, reconcile_first] { RunActivity(step, reconcile_first); }, st.subjects);
  Pump();
}

void Instance::AbandonAll() {
  for (auto& [step, f] : inflight_) f.abandoned->store(true);
}

}  // namespace berth::engine
