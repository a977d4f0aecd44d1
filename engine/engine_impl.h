// Private to engine/: the engine's internals, shared by engine.cc and instance.cc.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "engine/engine.h"
#include "engine/events.h"

namespace berth::engine {

namespace asio = boost::asio;
using Strand = asio::strand<asio::thread_pool::executor_type>;

// One running workflow. Everything below runs on `strand` unless said otherwise.
class Instance : public std::enable_shared_from_this<Instance> {
 public:
  Instance(Engine::Impl* engine, const Workflow* def, WorkflowState state);

  // Resumes after recovery: reconciles in-doubt activities, re-arms timers and retries.
  void Resume();
  void Pump();
  void Deliver(eventlog::EventDraft draft);  // enqueue an externally caused event
  void OnChildEnded(const WorkflowSummary& child, const std::string& result);
  Strand& strand() { return strand_; }
  const WorkflowState& state() const { return state_; }

 private:
  struct Pending {
    eventlog::EventDraft draft;
    std::function<void()> after;  // runs once the event is durable and applied
  };
  struct Outcome {
    Result<std::string> result = Status(Code::kFailed, "no outcome");
    bool adopted = false;
  };

  void Enqueue(const char* type, std::string payload, std::function<void()> after = {},
               std::vector<std::string> subjects = {});
  void EnqueueCommands(const std::vector<Command>& cmds);
  void SendFront();
  void OnDurable(const Status& s, uint64_t seq);
  void RunActivity(const std::string& step, bool reconcile_first);
  void OnActivityDone(const std::string& step, uint32_t attempt, Outcome out);
  void ArmAt(int64_t at_us, std::function<void()> fn);
  void StartAttempt(const std::string& step, uint32_t attempt, bool reconcile_first);
  void Finished();
  bool Known(const std::string& kind, const std::string& name) const;

  Engine::Impl* engine_;
  const Workflow* def_;
  WorkflowState state_;
  Strand strand_;
  std::deque<Pending> outbox_;
  size_t appending_ = 0;  // events in the request in flight (0: none)
  bool ending_ = false;
  int64_t append_backoff_ms_ = 0;
  std::set<std::string> queued_;  // "kind:name" of commands enqueued but not yet durable
  std::map<std::string, uint32_t> awaiting_;  // step -> attempt whose outcome is awaited
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
  asio::thread_pool pool;
  asio::thread_pool activity_pool;
  std::atomic<uint64_t> effects{0};
  std::atomic<int64_t> appends_in_flight{0};
  std::atomic<bool> stopping{false};

  int64_t NowUs() { return options.clock->NowUs(); }

  Result<std::string> Start(StartRequest req, const std::string& parent);
  std::shared_ptr<Instance> Launch(const Workflow* def, WorkflowState state);
  std::shared_ptr<Instance> Find(const std::string& id);
  void OnFinished(const WorkflowState& s);
  Status Recover(size_t* resumed, const std::string& only_id);
  Status LoadOpen(const std::string& only_id, std::vector<WorkflowState>* open);
  Result<WorkflowSummary> Wait(const std::string& id);
  void WaitIdle();
  size_t Running() const;
  void Shutdown();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::shared_ptr<Instance>> running_;
  std::unordered_map<std::string, WorkflowSummary> finished_;
  bool shut_ = false;
};

}  // namespace berth::engine
