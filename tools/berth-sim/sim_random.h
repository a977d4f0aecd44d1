// SimRandom: the simulator's one source of randomness. Every choice of a run (the scenario,
// each fault, the scheduler's interleaving, the engine's jitter) comes from streams split off
// one seed, so a seed replays the same run. Each component gets its own stream (Split), so a
// component that draws one number more does not shift every other component's choices.
//
// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and its output is fixed by the algorithm,
// not by a standard library's distribution code, so a seed means the same on every machine.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/environment.h"
#include "eventlog/check.h"

namespace berth::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // [0, n); n > 0. Multiply-shift (Lemire): no modulo bias worth caring about here.
  uint64_t Below(uint64_t n) {
    BERTH_CHECK(n > 0);
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // [lo, hi], lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) { return lo + int64_t(Below(uint64_t(hi - lo) + 1)); }
  double Uniform() { return double(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  bool Chance(double p) { return p > 0 && Uniform() < p; }
  template <class T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }
  // An independent stream; `salt` names the component so streams never coincide.
  Rng Split(uint64_t salt) { return Rng(Next() ^ (salt * 0xd1342543de82ef95ULL)); }

 private:
  uint64_t state_;
};

// The engine's Random (retry jitter, generated ids) on a stream of the seed. Locked: the
// threaded engine calls it from several strands.
class EngineRandom final : public engine::Random {
 public:
  explicit EngineRandom(Rng rng) : rng_(rng) {}
  double Uniform() override {
    std::lock_guard<std::mutex> l(mu_);
    return rng_.Uniform();
  }

 private:
  std::mutex mu_;
  Rng rng_;
};

}  // namespace berth::sim
