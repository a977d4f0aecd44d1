// Clock and randomness reach the engine only through this interface, so a test can run the
// real engine on simulated time from one seed.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace berth::engine {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUs() = 0;  // wall time, microseconds since the epoch
};

class SystemClock final : public Clock {
 public:
  int64_t NowUs() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class Random {
 public:
  virtual ~Random() = default;
  virtual double Uniform() = 0;  // [0, 1)
};

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : gen_(seed) {}
  double Uniform() override {
    std::lock_guard<std::mutex> l(mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 gen_;
};

}  // namespace berth::engine
