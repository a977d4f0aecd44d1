// SimLog: the event log as the simulated process sees it. It forwards to the real RocksDB
// log (eventlog::EventLog) and adds what the simulator needs:
//
// - Deterministic completion: AppendAsync performs the append synchronously and queues the
//   callback; `post` (the simulator's scheduler, on a lane of its own) delivers the queued
//   callbacks one per task, in order, as the real log's notifier thread runs them in sequence
//   order. Without `post` the callback runs at once. When the process dies the simulator
//   stops its scheduler (dropping those tasks) and calls FlushCallbacks: the engine counts
//   appends until their callback has run, and its Shutdown waits for that count.
// - The crash: at an append boundary drawn from the seed the process "dies", either before
//   the append (nothing of it is durable) or right after it (it is durable, the caller never
//   hears). A crash can also be asked for from outside (CrashNow: e.g. right after an
//   activity's side effect). From then on every call fails with kIOError and nothing more is
//   written, until the simulator reopens the real log and Attach()es it for the next life.
// - A full disk: for a stretch of simulated time appends fail with kNoSpace (nothing
//   written); the engine must keep the request and retry.
//
// Thread safety: as eventlog::EventLog (any thread); the fault state is under a lock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "eventlog/event_log.h"
#include "tools/berth-sim/sim_clock.h"
#include "tools/berth-sim/sim_random.h"

namespace berth::sim {

struct LogFaultRates {
  double crash_per_append = 0;     // chance that an append boundary is a crash
  uint32_t crashes_max = 0;        // per run
  double crash_after_effect = 0;   // chance that an activity's side effect is a crash point
  double nospace_per_append = 0;   // chance that an append starts a full-disk stretch
  int64_t nospace_us_max = 0;      // how long a stretch lasts at most (simulated time)

  static LogFaultRates Draw(Rng& rng);
  std::string ToString() const;
};

class SimLog final : public eventlog::EventLog {
 public:
  using Post = std::function<void(std::function<void()>)>;
  enum class CrashKind { kNone, kBeforeAppend, kAfterAppend, kAfterEffect };

  SimLog(SimClock* clock, Rng rng, LogFaultRates rates);

  // A new process life on `real` (owned by the caller, open until Detach).
  void Attach(eventlog::EventLog* real, Post post);
  void Detach();
  // Called (under no lock of ours) the moment the process dies.
  void OnDeath(std::function<void(CrashKind)> f) { on_death_ = std::move(f); }
  // Called right after an activity's side effect (EngineOptions::after_effect): the process
  // may die there (drawn). true: it died.
  bool AfterEffect();
  bool dead() const;
  // Runs every queued callback now (after the scheduler that would have run them stopped).
  void FlushCallbacks();
  CrashKind last_crash() const;
  // No more faults from now on (the calm phase).
  void Calm();

  struct Counters {
    uint64_t appends = 0, crashes = 0, nospace_stretches = 0, nospace_refusals = 0;
  };
  Counters counters() const;

  // ---- eventlog::EventLog ----------------------------------------------------------------
  Status Append(eventlog::AppendRequest request, eventlog::AppendResult* result = nullptr) override;
  void AppendAsync(eventlog::AppendRequest request, eventlog::AppendCallback done) override;
  uint64_t LastSeq() const override;
  Status Get(uint64_t seq, eventlog::Event* out) const override;
  Status ScanRange(uint64_t from_seq, uint64_t to_seq, const Visitor& visit) const override;
  Status ScanWorkflow(const std::string& workflow_id, const Visitor& visit) const override;
  Status ScanWorkflowFrom(const std::string& workflow_id, uint64_t from_workflow_seq,
                          const Visitor& visit) const override;
  Status ScanSubject(const std::string& subject, const Visitor& visit) const override;
  Status VerifyChain(uint64_t* events_checked) const override;
  Status VerifyIndexes() const override;
  Status VerifyAll(uint64_t* events_checked, const Visitor& visit) const override;
  Status GetProjection(const std::string& key, std::string* value) const override;
  Status GetOnce(const std::string& key, std::string* value) const override;
  Status ScanOnce(const std::string& prefix,
                  const std::function<bool(const std::string& key, const std::string& value)>& visit)
      const override;
  Status ScanProjections(
      const std::string& prefix,
      const std::function<bool(const std::string& key, const std::string& value)>& visit)
      const override;
  Status ScanProjectionsAfter(
      const std::string& prefix, const std::string& after,
      const std::function<bool(const std::string& key, const std::string& value)>& visit)
      const override;
  eventlog::LogStats Stats() const override;

 private:
  Status Dead() const;
  // Decides what this append boundary is; performs the append if it is not refused.
  Status DoAppend(eventlog::AppendRequest request, eventlog::AppendResult* result);
  void Die(CrashKind kind);  // with mu_ held; on_death_ runs after the caller unlocks

  SimClock* clock_;
  mutable std::mutex mu_;
  Rng rng_;
  LogFaultRates rates_;
  eventlog::EventLog* real_ = nullptr;
  Post post_;
  std::deque<std::function<void()>> callbacks_;  // waiting for their task
  bool dead_ = true;  // until the first Attach
  bool calm_ = false;
  CrashKind last_crash_ = CrashKind::kNone;
  int64_t nospace_until_us_ = 0;
  Counters counters_;
  std::function<void(CrashKind)> on_death_;
};

const char* CrashKindName(SimLog::CrashKind k);

}  // namespace berth::sim
