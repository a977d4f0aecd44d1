// SimScheduler: engine::Scheduler for the deterministic simulator (engine/scheduler.h has the
// contract). One thread runs everything; a seed decides every interleaving.
//
// - Ready work is a set of lanes with queued tasks plus Blocking tasks. RunOne picks one of
//   them with the seeded Rng and runs the head task of that lane (lanes stay FIFO; Blocking
//   tasks are independent of each other and of every lane).
// - RunAt timers wait in (at_us, posting order). When their time comes they join the back of
//   their lane. When nothing is ready, RunOne moves the clock to the earliest timer.
// - Blocking tasks run on the simulator thread like any other: the simulated Docker never
//   really blocks; a "slow" call advances the clock instead.
// - Stop drops every queued task and timer (destroyed without running; anything they own is
//   released after the scheduler's own state is consistent again) and refuses new ones.
//
// Thread safety: Post/RunAt/Blocking/Stop may be called from any thread (a lock guards the
// queues); RunOne and the Run* helpers only from the simulator thread. No task runs with the
// lock held, so tasks may post freely.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <queue>
#include <vector>

#include "engine/scheduler.h"
#include "tools/berth-sim/sim_clock.h"
#include "tools/berth-sim/sim_random.h"

namespace berth::sim {

class SimScheduler final : public engine::Scheduler {
 public:
  SimScheduler(SimClock* clock, Rng rng) : clock_(clock), rng_(rng) {}
  ~SimScheduler() override { Stop(); }

  std::shared_ptr<engine::Lane> NewLane() override;
  void Post(engine::Lane& lane, Task task) override;
  void RunAt(engine::Lane& lane, int64_t at_us, Task task) override;
  void Blocking(Task task) override;
  void Stop() override;

  // Runs one task: due timers join their lanes first; with nothing ready the clock jumps to
  // the earliest timer. false: nothing is ready and no timer waits (idle), or stopped.
  bool RunOne();
  // Runs until idle or `tasks_max` tasks ran; returns how many ran.
  uint64_t RunUntilIdle(uint64_t tasks_max);
  // Runs every task due until the clock reaches `t_us` (advancing it there even when idle).
  void RunUntil(int64_t t_us, uint64_t tasks_max);

  size_t ReadyCount() const;
  size_t TimerCount() const;
  uint64_t tasks_run() const { return tasks_run_; }
  bool stopped() const;

 private:
  struct SimLane;
  struct Timer {
    int64_t at_us;
    uint64_t order;
    std::shared_ptr<SimLane> lane;
    Task task;
  };
  struct Later {
    bool operator()(const Timer& a, const Timer& b) const {
      return a.at_us != b.at_us ? a.at_us > b.at_us : a.order > b.order;
    }
  };
  // One entry of the ready set: a lane with queued tasks, or one Blocking task.
  struct Ready {
    std::shared_ptr<SimLane> lane;  // null: `task` is a Blocking task
    Task task;
  };

  SimLane& Own(engine::Lane& lane);
  void PostLocked(const std::shared_ptr<SimLane>& lane, Task task);
  void ReleaseDueTimersLocked();
  void RemoveReadyLocked(size_t i);

  SimClock* clock_;
  Rng rng_;
  mutable std::mutex mu_;
  bool stopped_ = false;
  uint64_t next_order_ = 0;
  uint64_t tasks_run_ = 0;
  std::vector<Ready> ready_;
  std::priority_queue<Timer, std::vector<Timer>, Later> timers_;
};

}  // namespace berth::sim
