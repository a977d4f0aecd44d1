// SimClock: the engine's clock in the simulator. Time moves only when the simulator moves it
// (the scheduler jumping to the next timer, a "slow" Docker call taking its time), so a run
// in simulated time takes hours of engine time in milliseconds, and the same seed stamps the
// same times on every event.
//
// Real-time mode exists only for running on an engine that does not yet take a Scheduler:
// its timers wait for real, so simulated time must also pass with the wall clock, plus every
// jump the simulator makes. Such runs are not deterministic.
//
// Thread safety: NowUs and Advance* may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "engine/environment.h"

namespace berth::sim {

class SimClock final : public engine::Clock {
 public:
  // 2024-01-01T00:00:00Z: a fixed start, so event times are the same in every run of a seed.
  static constexpr int64_t kEpochUs = 1'704'067'200'000'000;

  explicit SimClock(bool real_time = false)
      : real_time_(real_time), t0_(std::chrono::steady_clock::now()) {}

  int64_t NowUs() override {
    int64_t t = kEpochUs + offset_us_.load(std::memory_order_acquire);
    if (real_time_)
      t += std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now() - t0_)
               .count();
    return t;
  }
  // Moves time forward to `t_us` (never backwards).
  void AdvanceTo(int64_t t_us) {
    int64_t d = t_us - NowUs();
    if (d > 0) offset_us_.fetch_add(d, std::memory_order_acq_rel);
  }
  void AdvanceBy(int64_t d_us) {
    if (d_us > 0) offset_us_.fetch_add(d_us, std::memory_order_acq_rel);
  }
  bool real_time() const { return real_time_; }

 private:
  const bool real_time_;
  const std::chrono::steady_clock::time_point t0_;
  std::atomic<int64_t> offset_us_{0};
};

}  // namespace berth::sim
