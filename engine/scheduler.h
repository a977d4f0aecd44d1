// Scheduler: where and when the engine's work runs. The engine never creates a thread or a
// timer itself; everything goes through this interface, so the same engine runs on a real
// thread pool (MakeThreadScheduler) or, in the deterministic simulator (tools/berth-sim), on
// one thread in simulated time where a seed decides every interleaving.
//
// Contract:
// - A Lane is a serial queue (one per workflow): tasks posted to one lane run one at a time,
//   in the order posted. Tasks of different lanes may run concurrently (thread scheduler) or
//   interleaved in any order (simulator).
// - RunAt runs a task on a lane once the engine's clock reaches `at_us` (never earlier).
// - Blocking runs a task that may block (an activity's side effect) off every lane.
// - Post/RunAt/Blocking may be called from any thread, including from inside a task.
// - After Stop() returns, no task runs any more; tasks still queued are dropped (destroyed
//   without running). Stop is idempotent. Blocking tasks already running are waited for.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "engine/environment.h"

namespace berth::engine {

class Lane {
 public:
  virtual ~Lane() = default;
};

class Scheduler {
 public:
  using Task = std::function<void()>;
  virtual ~Scheduler() = default;

  virtual std::shared_ptr<Lane> NewLane() = 0;
  virtual void Post(Lane& lane, Task task) = 0;
  virtual void RunAt(Lane& lane, int64_t at_us, Task task) = 0;
  virtual void Blocking(Task task) = 0;
  virtual void Stop() = 0;
};

// Boost.Asio thread pools: `threads` decision threads (lanes are strands), `blocking_threads`
// for Blocking tasks; RunAt uses steady timers measured against `clock`.
std::unique_ptr<Scheduler> MakeThreadScheduler(unsigned threads, unsigned blocking_threads,
                                               Clock* clock);

}  // namespace berth::engine
