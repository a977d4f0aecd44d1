// Verification of a log: everything `berth replay --verify` promises.
//   1. every record's CRC, the hash chain and the density of sequence numbers;
//   2. the workflow and subject indexes agree with the events;
//   3. every workflow's history folds (engine::Apply) without contradiction;
//   4. determinism: at every event a decision produced (ActivityStarted attempt 1,
//      TimerStarted, ChildStarted, WorkflowCompleted/Failed) the workflow's decision function,
//      re-run over the history before it, still produces that command;
//   5. projections equal the folded state (summary row, open marker).
// Stops at the first problem and names its sequence number, expected vs recorded.
#pragma once

#include <cstdint>
#include <string>

#include "engine/registry.h"
#include "eventlog/event_log.h"

namespace berth::replay {

struct VerifyReport {
  uint64_t events = 0;            // events checked
  uint64_t workflows = 0;         // workflows folded
  uint64_t decisions = 0;         // recorded decisions re-derived
  uint64_t decide_calls = 0;      // decision functions run to re-derive them
  uint64_t projections = 0;       // projection rows compared
  double seconds = 0;
};

// `workflow_id` empty: the whole log (all five checks). Otherwise checks 3-5 for that
// workflow (and 1 for its events' CRCs). kCorruption / kFailed describe the first problem.
Status Verify(const eventlog::EventLog& log, const engine::Registry& registry,
              const std::string& workflow_id, VerifyReport* report);

}  // namespace berth::replay
