// Workflow definitions: deterministic decision functions over a workflow's own history.
//
// Decide() is called with the folded state of every durable event so far and returns what
// should happen next. It must be a pure function of its argument: no clock, no randomness,
// no I/O (anything like that is an activity whose result is recorded). The engine ignores a
// command whose step, timer or child already exists, so Decide may simply return "the next
// thing that is not done yet" every time. `berth replay --verify` re-runs Decide over
// recorded histories and reports the first event it would not have produced.
//
// Cost: the engine calls Decide after every durable batch of a workflow's events, so a
// Decide that walks every step or child makes a workflow quadratic in its size. Read the
// O(1) aggregates of WorkflowState (open_steps, open_children, children_failed, ...) and
// look steps up by name instead; the synthetic workflow is the example.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "engine/workflow_state.h"

namespace berth::engine {

struct ScheduleActivity {
  std::string step;      // unique within the workflow; idempotency key is "<workflow>/<step>"
  std::string activity;  // registered activity name
  std::string input;
  // What the step concerns, for audit ("container:shop-web-1", "app:shop"): indexed on its
  // ActivityStarted and on every later event of the step (kept in StepState).
  std::vector<std::string> subjects = {};
};
struct StartTimer {
  std::string name;
  int64_t delay_ms = 0;
};
struct StartChild {
  std::string name;  // child id becomes "<parent id>/<name>"
  std::string type, input;
};
struct CompleteWorkflow {
  std::string result;
};
struct FailWorkflow {
  std::string error;
};

using Command = std::variant<ScheduleActivity, StartTimer, StartChild, CompleteWorkflow,
                             FailWorkflow>;

class Workflow {
 public:
  virtual ~Workflow() = default;
  virtual std::string type() const = 0;
  // Checks a start input before anything is recorded; kInvalidArgument says what is wrong.
  virtual Status ValidateInput(const std::string& input) const { return Status::Ok(); }
  // Once state.cancel_requested is true, Decide is called only if HandlesCancel().
  virtual std::vector<Command> Decide(const WorkflowState& state) const = 0;
  // false (default): after a cancel request the engine schedules nothing more and records
  // WorkflowCancelled once nothing is outstanding. true: Decide keeps being called (it sees
  // cancel_requested) so it can undo what it started; the engine records WorkflowCancelled
  // once Decide returns no command and nothing is outstanding.
  virtual bool HandlesCancel() const { return false; }
  // Workflows with the same non-empty key never run side by side in one engine: a second one
  // waits (recording ExclusiveWait naming the holder) until the first ends, oldest first.
  // `berth up` keys deploys by app, so two deploys of one app never fight.
  virtual std::string ExclusiveKey(const std::string& input) const { return ""; }
};

std::string ChildId(const std::string& parent, const std::string& name);

}  // namespace berth::engine
