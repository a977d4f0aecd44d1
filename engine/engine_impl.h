// Private to engine/: the engine's internals, shared by engine.cc and instance.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "engine/engine.h"
#include "engine/events.h"
#include "engine/scheduler.h"

namespace berth::engine {

// After a failure with this code the next attempt reconciles first (the effect may be done).
inline bool ReconcileAfter(int32_t code) { return LeavesInDoubt(Code(code)); }

// One running workflow. Everything below runs on `lane()` unless said otherwise.
class Instance : public std::enable_shared_from_this<Instance> {
 public:
  Instance(Engine::Impl* engine, const Workflow* def, WorkflowState state);

  // Resumes after recovery: reconciles in-doubt activities, re-arms timers and retries.
  void Resume();
  void Pump();
  void Decide();
  void Deliver(eventlog::EventDraft draft);  // enqueue an externally caused event
  void OnChildEnded(const std::string& child, RunStatus status, const std::string& text);
  // First run after Launch: Resume() (after recovery) or Pump() (a new start).
  void Begin(bool resume);
  // Launched while another workflow holds its exclusive key: records ExclusiveWait and runs
  // nothing until Unblock() (the key was handed to it).
  void Park(bool resume);
  void Unblock();
  void Post(std::function<void()> fn);
  Lane& lane() { return *lane_; }
  const WorkflowState& state() const { return state_; }
  const std::string& id() const { return state_.id; }
  const std::string& exclusive_key() const { return key_; }
  void set_blocked_by(std::string holder) { blocked_by_ = std::move(holder); }

 private:
  struct Pending {
    eventlog::EventDraft draft;
    std::function<void()> after;  // runs once the event is durable and applied
  };
  struct Outcome {
    Result<std::string> result = Status(Code::kFailed, "no outcome");
    bool adopted = false;
  };
  // An attempt whose side effect has been handed to the scheduler and has not returned yet
  // (also after the engine gave it up: a retry waits until it has returned).
  struct Inflight {
    uint32_t attempt = 0;
    std::shared_ptr<std::atomic<bool>> abandoned;
    bool retry_waiting = false;  // the next attempt starts when this one returns
  };

  void Enqueue(const char* type, std::string payload, std::function<void()> after = {},
               std::vector<std::string> subjects = {});
  void EnqueueCommands(std::vector<Command> cmds);
  void SendFront();
  void OnDurable(const Status& s, uint64_t seq);
  void OnRefused(const Status& s);
  // after_restart: the attempt was found unfinished by recovery (ActivityContext::in_doubt).
  void RunActivity(const std::string& step, bool reconcile_first, bool after_restart = false);
  void OnReturned(const std::string& step, uint32_t attempt, Outcome out);
  void OnActivityDone(const std::string& step, uint32_t attempt, Outcome out);
  void ArmAt(int64_t at_us, std::function<void()> fn);
  void StartAttempt(const std::string& step, bool reconcile_first);
  void AbandonAll();
  void CancelChildren();
  void CancelChild(const std::string& child);
  void StartChildWorkflow(const std::string& child, const std::string& type,
                          const std::string& input);
  void Finished();
  bool Known(char kind, const std::string& name) const;

  Engine::Impl* engine_;
  const Workflow* def_;
  WorkflowState state_;
  std::shared_ptr<Lane> lane_;
  std::string key_;         // exclusive key ("" none)
  std::string blocked_by_;  // holder of key_ while this one waits for it
  std::deque<Pending> outbox_;
  size_t appending_ = 0;  // events in the request in flight (0: none)
  bool ending_ = false;
  bool halted_ = false;  // the log cannot take this workflow's events; it stays unfinished
  bool resume_pending_ = false;  // parked before its Resume()
  // Decision pacing (see Pump): what the last Decide cost and when it ended (engine clock).
  int64_t decide_cost_us_ = 0, decided_at_us_ = 0;
  bool decide_armed_ = false;
  int64_t append_backoff_ms_ = 0;
  int64_t append_failing_since_us_ = 0;
  std::unordered_set<std::string> queued_;  // kind+name of commands enqueued, not yet durable
  std::map<std::string, uint32_t> awaiting_;  // step -> attempt whose outcome is awaited
  std::map<std::string, Inflight> inflight_;  // step -> attempt still running somewhere
  // Steps running or waiting to retry when the cancel request came (for a workflow that
  // does not handle its cancel): they are not tried again.
  std::unordered_set<std::string> cut_by_cancel_;
};

class Engine::Impl {
 public:
  Impl(eventlog::EventLog* log, const Registry* registry, EngineOptions options);
  ~Impl();

  eventlog::EventLog* log;
  const Registry* registry;
  EngineOptions options;
  SystemClock system_clock;
  std::unique_ptr<SeededRandom> default_random;
  std::unique_ptr<Scheduler> own_scheduler;
  Scheduler* sched = nullptr;
  std::atomic<uint64_t> effects{0};
  std::atomic<int64_t> appends_in_flight{0};
  std::atomic<bool> stopping{false};
  // The same, for activities (ActivityContext::stopping): set first thing in Shutdown.
  std::shared_ptr<std::atomic<bool>> stopping_flag = std::make_shared<std::atomic<bool>>(false);

  int64_t NowUs() { return options.clock->NowUs(); }

  // Starts a workflow. With `done` the start is asynchronous (the durable append does not
  // block the caller) and `done` runs once it is durable or failed; without, it blocks.
  using StartDone = std::function<void(Result<std::string>)>;
  Result<std::string> Start(StartRequest req, const std::string& parent, StartDone done = {});
  std::shared_ptr<Instance> Find(const std::string& id);
  void OnFinished(const WorkflowState& s);
  void OnHalted(const std::string& id, const Status& why);
  Status Recover(size_t* resumed, const std::string& only_id);
  Status LoadOpen(const std::string& only_id, std::vector<WorkflowState>* open);
  Status Deliver(const std::string& id, eventlog::EventDraft d);
  Status Retry(const std::string& id, const std::string& from_step, std::vector<std::string>* reset);
  Result<WorkflowSummary> Wait(const std::string& id);
  void WaitIdle();
  size_t Running() const;
  void Shutdown();

 private:
  // Registers a started (durable) workflow and schedules its first run, or parks it behind
  // the holder of its exclusive key. `resume`: Resume() rather than Pump().
  void Launch(const Workflow* def, WorkflowState state, bool resume);
  void ReleaseKey(const std::string& key, const std::string& holder);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Serialises what folds a workflow from the log and appends to it outside its instance
  // (Deliver to a workflow not loaded here) against Recover loading it.
  std::mutex admin_mu_;
  std::unordered_map<std::string, std::shared_ptr<Instance>> running_;
  std::unordered_set<std::string> reserved_;  // ids being started (append in flight)
  std::unordered_map<std::string, WorkflowSummary> finished_;
  std::unordered_map<std::string, Status> halted_;
  // Exclusive keys: holder id, and the instances waiting, oldest start first.
  std::unordered_map<std::string, std::string> key_holder_;
  std::unordered_map<std::string, std::map<uint64_t, std::shared_ptr<Instance>>> key_waiters_;
  bool shut_ = false;
};

}  // namespace berth::engine
