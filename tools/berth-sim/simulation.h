// One simulated run: the real engine, the real deploy/undeploy workflows and the real RocksDB
// event log against SimDocker, driven by a scenario, with crashes, a full disk and Docker
// faults, all drawn from one seed; then the checkers (checker.h).
//
// A run has two phases, as TigerBeetle's VOPR: first the scenario's operations under faults
// (safety: after each operation the world must be consistent with how it ended), then a
// calm phase without faults (liveness: the last declared app must deploy exactly, then
// undeploy to nothing). At the end: no duplicate, the audit covers every container, replay
// --verify passes, no workflow is left open.
//
// Determinism: when the engine runs on the simulator's Scheduler (EngineOptions has a
// `scheduler`), one thread does everything in simulated time and a seed gives the same log
// byte for byte (RunResult::digest). Until then the engine runs on its own threads against
// a clock that also moves with real time: the same faults and checks, not reproducible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace berth::sim {

// Whether the engine takes a Scheduler (compile-time: EngineOptions has `scheduler`).
bool EngineTakesScheduler();

struct RunOptions {
  std::string work_dir;      // the run's log directory (emptied first; reused across seeds)
  bool narrate = false;      // collect a line per operation, crash and outcome
  bool history = false;      // also every event of the log at the end (-v)
  bool force_threaded = false;  // run on the engine's own threads even if it takes a Scheduler
  bool hosts = false;        // also draw cloud seeds (scenario.h, Scenario::DrawCloud)
};

struct RunResult {
  uint64_t seed = 0;
  bool ok = true;
  std::string failure;    // the first violation
  std::string known_bug;  // the id of the known bug behind it (known_bugs.h), or ""
  std::string output;     // narration and history, when asked for
  std::string digest;     // SHA-256 (hex) over every event (see EventDigest)
  bool simulated = false; // the engine ran on the SimScheduler (the run is reproducible)
  uint64_t faults = 0, crashes = 0, events = 0, ops = 0, workflows = 0;
  int64_t sim_us = 0;     // simulated time the run took
};

RunResult RunSeed(uint64_t seed, const RunOptions& options);

}  // namespace berth::sim
