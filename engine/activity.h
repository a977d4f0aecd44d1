// Activities: the only code that touches the outside world.
//
// Every activity attempt is preceded by a durable ActivityStarted event and followed by a
// durable ActivityCompleted or ActivityFailed. If Berth dies in between, recovery calls
// Reconcile() with the same idempotency key before anything is redone: an activity must be
// able to find what an earlier attempt did (a file named by the key, a container labelled
// with it) and return its result, so its side effect happens once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eventlog/status.h"

namespace berth::engine {

// True when a failure with this code leaves the step in doubt: the effect may have happened
// (kUnknownOutcome: sent, no answer; kTimeout: the attempt was given up while it ran). The
// next attempt reconciles first.
inline bool LeavesInDoubt(Code c) { return c == Code::kUnknownOutcome || c == Code::kTimeout; }

struct RetryPolicy {
  uint32_t attempts_max = 5;
  int64_t backoff_initial_ms = 100;
  int64_t backoff_max_ms = 10000;
  double backoff_multiplier = 2.0;
  double jitter = 0.2;  // +-20% of each backoff, decided once and recorded
  int64_t attempt_timeout_ms = 0;  // 0: none. On expiry the attempt fails with kTimeout and
                                   // the next attempt reconciles first.
  // Codes that end the step at once; any other failure is retried.
  std::vector<Code> non_retryable = {Code::kInvalidArgument, Code::kFailed, Code::kNotFound,
                                     Code::kUnsupported, Code::kCancelled};
  bool Retryable(Code c) const;
};

struct ActivityContext {
  std::string workflow_id;
  std::string step;
  std::string idempotency_key;  // "<workflow_id>/<step>"
  std::string input;
  uint32_t attempt = 1;
  int64_t deadline_us = 0;  // 0: none
  // Set by the engine when it gives this attempt up: its attempt timeout passed, the
  // workflow was cancelled, or the engine is shutting down. A Run that can take long (waits,
  // exec'd commands) checks Abandoned() between waits and returns soon after (kTimeout or
  // kCancelled; the result is discarded, and after a shutdown the step is reconciled at the
  // next recovery). The engine starts no retry of the step, and no undo, until Run returns.
  std::shared_ptr<const std::atomic<bool>> abandoned;
  std::shared_ptr<const std::atomic<bool>> stopping;
  // For Reconcile: why the step is in doubt. The code of the failure that ended the last
  // attempt (LeavesInDoubt), or kOk when a restart found the attempt unfinished (the
  // process died in it).
  Code in_doubt = Code::kOk;
  bool Abandoned() const {
    return (abandoned && abandoned->load(std::memory_order_relaxed)) ||
           (stopping && stopping->load(std::memory_order_relaxed));
  }
};

class Activity {
 public:
  virtual ~Activity() = default;
  virtual std::string name() const = 0;
  virtual RetryPolicy retry_policy() const { return RetryPolicy(); }
  // True for activities so cheap they may run on the workflow's own strand (no blocking I/O).
  virtual bool inline_ok(const std::string& input) const { return false; }
  // Performs the side effect; returns its result (recorded) or why it failed.
  virtual Result<std::string> Run(const ActivityContext& ctx) = 0;
  // Looks the outside world up by ctx.idempotency_key. A value: the effect happened and this
  // is its result (adopted, not redone). nullopt: it did not happen; the engine runs it.
  virtual Result<std::optional<std::string>> Reconcile(const ActivityContext& ctx) = 0;
};

}  // namespace berth::engine
