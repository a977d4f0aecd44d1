#include "tools/berth-sim/sim_scheduler.h"

#include "eventlog/check.h"

namespace berth::sim {

struct SimScheduler::SimLane final : engine::Lane,
                                     std::enable_shared_from_this<SimScheduler::SimLane> {
  explicit SimLane(const SimScheduler* o) : owner(o) {}
  const SimScheduler* owner;
  std::deque<Task> queue;
  bool in_ready = false;  // has an entry in ready_
};

std::shared_ptr<engine::Lane> SimScheduler::NewLane() {
  return std::make_shared<SimLane>(this);
}

SimScheduler::SimLane& SimScheduler::Own(engine::Lane& lane) {
  auto* l = dynamic_cast<SimLane*>(&lane);
  BERTH_CHECK_MSG(l && l->owner == this, "a lane of another scheduler");
  return *l;
}

void SimScheduler::PostLocked(const std::shared_ptr<SimLane>& lane, Task task) {
  lane->queue.push_back(std::move(task));
  if (!lane->in_ready) {
    lane->in_ready = true;
    ready_.push_back(Ready{lane, nullptr});
  }
}

void SimScheduler::Post(engine::Lane& lane, Task task) {
  SimLane& l = Own(lane);
  std::lock_guard<std::mutex> g(mu_);
  if (stopped_) return;  // dropped: `task` is destroyed on return, outside nothing of ours
  PostLocked(l.shared_from_this(), std::move(task));
}

void SimScheduler::RunAt(engine::Lane& lane, int64_t at_us, Task task) {
  SimLane& l = Own(lane);
  std::lock_guard<std::mutex> g(mu_);
  if (stopped_) return;
  timers_.push(Timer{at_us, next_order_++, l.shared_from_this(), std::move(task)});
}

void SimScheduler::Blocking(Task task) {
  std::lock_guard<std::mutex> g(mu_);
  if (stopped_) return;
  ready_.push_back(Ready{nullptr, std::move(task)});
}

void SimScheduler::Stop() {
  // Queued work is moved out under the lock and destroyed after it: a destructor that posts
  // again finds the scheduler stopped instead of a half-cleared queue.
  std::vector<Ready> ready;
  std::priority_queue<Timer, std::vector<Timer>, Later> timers;
  std::vector<std::deque<Task>> lane_queues;
  {
    std::lock_guard<std::mutex> g(mu_);
    stopped_ = true;
    ready.swap(ready_);
    timers.swap(timers_);
    for (auto& r : ready)
      if (r.lane) {
        lane_queues.push_back(std::move(r.lane->queue));
        r.lane->queue.clear();
        r.lane->in_ready = false;
      }
  }
}

bool SimScheduler::stopped() const {
  std::lock_guard<std::mutex> g(mu_);
  return stopped_;
}

void SimScheduler::ReleaseDueTimersLocked() {
  int64_t now = clock_->NowUs();
  while (!timers_.empty() && timers_.top().at_us <= now) {
    // priority_queue::top is const; the task is moved out of a copy-free const_cast, which
    // is safe because the element is popped right after.
    Timer& t = const_cast<Timer&>(timers_.top());
    std::shared_ptr<SimLane> lane = std::move(t.lane);
    Task task = std::move(t.task);
    timers_.pop();
    PostLocked(lane, std::move(task));
  }
}

// Swap-remove: O(1), and still deterministic (the order of ready_ depends only on the run).
void SimScheduler::RemoveReadyLocked(size_t i) {
  if (i + 1 != ready_.size()) ready_[i] = std::move(ready_.back());
  ready_.pop_back();
}

bool SimScheduler::RunOne() {
  Task task;
  std::shared_ptr<SimLane> keep;  // the lane outlives its task
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopped_) return false;
    ReleaseDueTimersLocked();
    if (ready_.empty()) {
      if (timers_.empty()) return false;
      clock_->AdvanceTo(timers_.top().at_us);
      ReleaseDueTimersLocked();
    }
    BERTH_CHECK(!ready_.empty());
    size_t i = rng_.Below(ready_.size());
    Ready& r = ready_[i];
    if (r.lane) {
      keep = r.lane;
      task = std::move(keep->queue.front());
      keep->queue.pop_front();
      if (keep->queue.empty()) {
        keep->in_ready = false;
        RemoveReadyLocked(i);
      }
    } else {
      task = std::move(r.task);
      RemoveReadyLocked(i);
    }
    ++tasks_run_;
  }
  task();
  return true;
}

uint64_t SimScheduler::RunUntilIdle(uint64_t tasks_max) {
  uint64_t n = 0;
  while (n < tasks_max && RunOne()) ++n;
  return n;
}

void SimScheduler::RunUntil(int64_t t_us, uint64_t tasks_max) {
  for (uint64_t n = 0; n < tasks_max; ++n) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stopped_) break;
      ReleaseDueTimersLocked();
      // Nothing ready now and the next timer (if any) is later than t_us: stop here.
      if (ready_.empty() && (timers_.empty() || timers_.top().at_us > t_us)) break;
    }
    RunOne();
  }
  clock_->AdvanceTo(t_us);
}

size_t SimScheduler::ReadyCount() const {
  std::lock_guard<std::mutex> g(mu_);
  return ready_.size();
}

size_t SimScheduler::TimerCount() const {
  std::lock_guard<std::mutex> g(mu_);
  return timers_.size();
}

}  // namespace berth::sim
