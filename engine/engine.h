// Engine: runs workflows durably on an EventLog.
//
// Every transition is an event appended (durably) before it takes effect:
//   decide -> append ActivityStarted -> run the side effect -> append ActivityCompleted
// so a process killed at any instant resumes from the log (Recover) and finishes each step
// exactly once: an activity whose start is recorded but whose end is not is reconciled
// (looked up by its idempotency key) before it would be redone.
//
// Concurrency: each workflow runs on its own lane of a Scheduler (scheduler.h: strands of a
// small thread pool, or the simulator's single thread); a workflow that waits (for the log,
// an activity, a timer, a child's start) holds no thread. Blocking activities run off the
// lanes. Each workflow has at most one append in flight, so its events are in order. A full
// disk is absorbed by the log itself (appends wait until space returns); an append the log
// refuses for a while (kUnavailable while it reopens) stays at the head of the workflow's
// queue and is retried with backoff (the workflow pauses, nothing half-written) for at most
// append_give_up_ms; an event the log calls malformed fails its workflow at once.
// Workflow ids are reserved before their start is appended: two starts of one id cannot
// both succeed.
//
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/environment.h"
#include "engine/registry.h"
#include "engine/scheduler.h"
#include "engine/workflow_state.h"
#include "eventlog/event_log.h"

namespace berth::engine {

struct EngineOptions {
  unsigned threads = 2;            // decision threads (workflow strands)
  unsigned activity_threads = 16;  // threads for blocking activities
  Clock* clock = nullptr;          // default: SystemClock
  Random* random = nullptr;        // default: SeededRandom(from the clock)
  // Where the work runs; default: a thread scheduler of `threads` + `activity_threads`.
  // The simulator passes its own (deterministic, simulated time).
  Scheduler* scheduler = nullptr;
  int64_t append_retry_ms_max = 2000;  // backoff cap while the log refuses appends
  // A workflow whose appends keep failing this long halts (stays unfinished in the log).
  int64_t append_give_up_ms = 30 * 60 * 1000;
  // Every attempt has a time limit: an activity's own attempt_timeout_ms, at most this
  // (0: no cap). A given-up attempt is abandoned (ActivityContext::Abandoned) and its retry
  // starts only once it has returned, reconciling first.
  int64_t attempt_timeout_cap_ms = 60 * 60 * 1000;
  // After a Decide that cost over 0.5 ms (monotonic time) the next one of that workflow
  // waits 4x its cost (at most 250 ms), so a decision function that walks a big state takes
  // at most a fifth of a thread. Off in the simulator (its runs must be deterministic).
  bool pace_decisions = true;
  // Called right after each activity side effect returns, before its completion is
  // appended, with the count of side effects so far (1-based). The crash-test fault hook.
  std::function<void(uint64_t effects)> after_effect;
  // Called (on a workflow strand) for every event once it is durable. Must be quick.
  std::function<void(const eventlog::Event&)> observer;
  // Called when an append fails and will be retried (e.g. the log is reopening).
  std::function<void(const Status&)> on_log_error;
};

struct StartRequest {
  std::string type;
  std::string id;  // "" : "<type>-<16 hex>" chosen by the engine
  std::string input;
  eventlog::Actor actor = eventlog::Actor::kUser;
  bool run = true;  // false: only record the start durably (it runs at the next Recover)
};

class Engine {
 public:
  Engine(eventlog::EventLog* log, const Registry* registry, EngineOptions options);
  ~Engine();  // stops; anything unfinished stays in the log for the next Recover

  // Loads every unfinished workflow (or only `only_id` and its descendants) from the log and
  // resumes it. Reads only the open workflows' histories (the "open/" index), never the
  // finished ones. `resumed` = how many.
  Status Recover(size_t* resumed, const std::string& only_id = "");

  // Records WorkflowStarted durably and (if req.run) runs it. Errors: kInvalidArgument
  // (unknown type, bad input), kConflict (id already used), log errors.
  Result<std::string> Start(StartRequest req);

  // Delivers a signal / a cancel request to an unfinished workflow: to its instance if it
  // runs here, else recorded in the log for when it resumes (kNotFound: unknown id;
  // kConflict: it has ended). A cancel reaches every descendant and abandons the running
  // attempts (ActivityContext::Abandoned); nothing is retried after it.
  Status Signal(const std::string& id, const std::string& name, const std::string& payload);
  Status Cancel(const std::string& id, eventlog::Actor actor = eventlog::Actor::kUser);
  // An operator's pause (WorkflowPaused): no new step, timer or child starts; running
  // attempts finish and are recorded; a cancel still works. A paused workflow is not loaded
  // by Recover() of everything (it stays parked in the log); Unpause records
  // WorkflowUnpaused and loads it. Both are idempotent; kNotFound, kConflict (ended).
  Status Pause(const std::string& id, const std::string& why = "paused by the operator");
  Status Unpause(const std::string& id, const std::string& why = "unpaused by the operator");
  // An operator's retry of a failed workflow from step `from_step`: records WorkflowRetried
  // (actor user) naming that step and every step and timer started after it, which the
  // fold then forgets, and loads the workflow to run again; its decision function schedules
  // them anew (replay verifies them as decisions like any other). *reset (may be null) gets
  // the steps forgotten, in the order they first started. kNotFound: no such workflow, or
  // no such step (the message lists its steps); kConflict: it has not failed, or a cancel
  // was requested; kUnsupported: a child workflow, or a child started at or after the step.
  Status Retry(const std::string& id, const std::string& from_step, std::vector<std::string>* reset = nullptr);

  // Blocks until `id` ends (it must be running in this engine) and returns its summary; the
  // log's error if the workflow halted because its events could not be appended.
  Result<WorkflowSummary> Wait(const std::string& id);
  // Blocks until no workflow is running in this engine.
  void WaitIdle();
  size_t Running() const;

  // Stops taking new work and waits for in-flight appends; idempotent.
  void Shutdown();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::engine
