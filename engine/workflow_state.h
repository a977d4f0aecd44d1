// WorkflowState: a workflow's history folded into what its decision function reads.
// Apply() is pure and total over valid histories; the engine, recovery and replay all fold
// with it, so they cannot disagree about what a history means.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "eventlog/event.h"
#include "eventlog/event_log.h"
#include "eventlog/status.h"

namespace berth::engine {

enum class RunStatus { kRunning, kCompleted, kFailed, kCancelled };
const char* RunStatusName(RunStatus s);
bool IsTerminal(RunStatus s);

struct StepState {
  enum Phase { kRunning, kRetryWait, kCompleted, kFailed } phase = kRunning;
  std::string activity, input;
  std::string result;  // when completed
  std::string error;   // last error
  int32_t error_code = 0;
  uint32_t attempt = 1;
  int64_t retry_at_us = 0;  // when phase == kRetryWait
  bool adopted = false;
  std::vector<std::string> subjects;  // from the first ActivityStarted (see ScheduleActivity)
};

struct TimerState {
  int64_t fire_at_us = 0;
  bool fired = false;
};

struct ChildState {
  std::string type, input;
  bool ended = false;
  std::string status, result;  // once ended
};

struct Signal {
  std::string name, payload;
};

struct WorkflowState {
  std::string id, type, input, parent;
  RunStatus status = RunStatus::kRunning;
  std::string result, error;
  uint64_t events = 0;      // events applied (== last workflow_seq)
  uint64_t first_seq = 0;   // global seq of WorkflowStarted
  int64_t started_us = 0, ended_us = 0;
  bool cancel_requested = false;
  bool paused = false;  // WorkflowPaused seen, no WorkflowUnpaused since
  uint32_t retries = 0;  // WorkflowRetried seen
  std::map<std::string, StepState> steps;
  std::map<std::string, TimerState> timers;
  std::map<std::string, ChildState> children;
  std::vector<Signal> signals;
  // Kept by Apply so that a decision function (and the engine) can ask "is anything still
  // running?" in O(1) instead of walking every step and child after every event.
  size_t open_steps = 0;     // steps running or waiting to retry
  size_t open_timers = 0;    // timers not fired
  size_t open_children = 0;  // children started and not ended
  size_t children_completed = 0;
  std::vector<std::string> children_failed;  // ids of children that ended otherwise, in order
  std::vector<std::string> steps_failed;     // steps that failed for good, in order

  bool StepDone(const std::string& step) const;
  // Steps, timers and children still outstanding. O(1).
  size_t Outstanding() const { return open_steps + open_timers + open_children; }
};

// True when delivering an event of `type` to a workflow in this state would change nothing:
// a cancel once cancel is requested, a pause while paused, an unpause while not paused.
// The engine then records nothing (both for a loaded workflow and for one in the log).
bool AlreadySaid(const std::string& type, bool cancel_requested, bool paused);

// Folds one event into `s`. kCorruption (naming the seq) for an event that cannot follow the
// state: a wrong workflow_seq, an undecodable payload, an event after the end.
Status Apply(const eventlog::Event& e, WorkflowState* s);

// Folds the log from `from_seq` on into `states`: every workflow, or with `only_listed` only
// the ids already present as keys. Reads on one thread and folds on another
// (ScanPipelined); the fold used by recovery and by `berth bench engine`'s replay figure.
Status FoldLog(const eventlog::EventLog& log, bool only_listed,
               std::unordered_map<std::string, WorkflowState>* states, uint64_t from_seq = 1);
// Folds one workflow's history through the by-workflow index. kNotFound if it has none.
Result<WorkflowState> FoldWorkflow(const eventlog::EventLog& log, const std::string& id);

// The row kept in projections under "wf/<id>" (see ProjectionKey); replay checks it equals
// the fold of the history.
struct WorkflowSummary {
  std::string id, type, parent;
  RunStatus status = RunStatus::kRunning;
  uint64_t events = 0, first_seq = 0;
  int64_t started_us = 0, ended_us = 0;
  std::string error;
};
WorkflowSummary Summarize(const WorkflowState& s);
// The summary once `e` (the next event, not yet appended) is applied to `s`; written in the
// same batch as `e`. Folds with Apply, so it cannot disagree with replay.
WorkflowSummary SummaryAfter(const WorkflowState& s, const eventlog::Event& e);
std::string EncodeSummary(const WorkflowSummary& s);
Status DecodeSummary(const std::string& bytes, WorkflowSummary* out);
std::string SummaryKey(const std::string& workflow_id);  // "wf/<id>"
std::string OpenKey(const std::string& workflow_id);     // "open/<id>": present while running
inline constexpr const char* kSummaryPrefix = "wf/";
inline constexpr const char* kOpenPrefix = "open/";

}  // namespace berth::engine
