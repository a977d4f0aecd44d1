// Internal to workflows/deploy: the bookkeeping both Decide functions share. A Plan reads a
// workflow's folded steps and collects the commands for what is still missing; once any
// step has failed (or a cancel is requested) it schedules nothing new, only the undo of
// half-made containers, and fails the workflow (or lets the engine record it cancelled)
// when nothing is left running.
#pragma once

#include <functional>
#include <memory>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/workflow.h"
#include "eventlog/status.h"

namespace berth::workflows {

// The docker.observe result.
struct Observed {
  struct Container {
    std::string name, id, service, config, image_id;
    std::string host;  // "" : the local engine (a deploy without hosts)
    int index = 0, level = 0, stop_timeout = 10;
    bool running = false;
    // The engine is removing it (a removal that outlived its call) or failed to ("dead"):
    // it cannot be started again, only removed.
    bool removing = false;
    bool scratch = false;  // an install step's scratch container (left by a dead attempt)
  };
  std::vector<Container> containers;
  struct Network {
    std::string name, host;
  };
  std::vector<Network> networks;
  // Per host of the cloud (a deploy with hosts): every container of Berth's there.
  struct Census {
    int64_t containers = 0, memory_reserved = 0;
    double cpus_reserved = 0;
    std::map<std::string, int> apps, services;
  };
  std::map<std::string, Census> hosts;
  // Hosts whose engine did not answer ({host: error}; observe with "skip_unreachable").
  std::map<std::string, std::string> unreachable;
};
// kCorruption when the recorded result is not what docker.observe writes. Parsed once per
// thread and text (Decide reads the same recorded result on every decision).
Result<std::shared_ptr<const Observed>> ParseObserved(const std::string& result);

struct Tally {
  int created = 0, removed = 0, kept = 0, restarted = 0;
  nlohmann::json images = nlohmann::json::object();
};

class Plan {
 public:
  // `preset`: fail from the start with this error (a failure an earlier pass of the same
  // decision found part way: deploy.cc).
  explicit Plan(const engine::WorkflowState& s, const std::string& preset = "");

  // A step's input, built only when the step is scheduled: Decide runs after every append,
  // and nearly all the steps it walks already exist.
  using Input = std::function<nlohmann::json()>;

  // True when `step` has completed; schedules it when it was never started (and nothing
  // has failed).
  bool Need(const std::string& step, const std::string& activity, const Input& input,
            const std::vector<std::string>& subjects);
  const std::string& Result(const std::string& step) const;
  // The recorded input of `step`, "" when it was never started.
  const std::string& InputOf(const std::string& step) const;
  // Child workflow `name` (engine::ChildId of this workflow and name), nullptr when never
  // started; StartChild schedules it (unless the plan has failed).
  const engine::ChildState* Child(const std::string& name) const;
  void StartChild(const std::string& name, const std::string& type, const nlohmann::json& input);
  // Need() of "remove/<name>" for an observed container, honouring its stop timeout.
  bool Remove(const std::string& app, const Observed::Container& c, Tally* tally);

  bool failed() const { return failed_; }
  // Failed by Fail() during this pass, after chains walked earlier had been decided as if
  // it went well: the decision must be made again with the failure preset.
  bool failed_late() const { return failed_ && !failed_at_start_; }
  const std::string& failure() const { return failure_; }
  const std::string& id() const { return s_.id; }
  // Fails the plan as a failed step would (nothing new; half-made containers undone), with
  // `why` as the workflow's error. Decide calls it again each time: it must be derived from
  // recorded state (a placement that finds no host).
  void Fail(const std::string& why) {
    if (!failed_ || failure_.empty()) failure_ = why;
    failed_ = true;
  }
  // The commands to return from Decide (see the file comment).
  std::vector<engine::Command> Finish();

  // Steps for one container that run one after another. If the chain created the
  // container and a failure stops it before its last step, the container is undone.
  class Chain {
   public:
    Chain(Plan* plan, std::string container, std::string host = "")
        : plan_(plan), container_(std::move(container)), host_(std::move(host)) {}
    // Undo removes by the create step's berth.key, never by name: a container of the same
    // name that this deploy did not make (another app's) is not touched.
    ~Chain();
    void Step(const std::string& step, const std::string& activity, const Input& input,
              const std::vector<std::string>& subjects);
    bool done() const { return blocked_ == false; }

   private:
    Plan* plan_;
    std::string container_, host_, create_step_;
    std::vector<std::string> subjects_;
    bool blocked_ = false, created_ = false, running_ = false, in_doubt_ = false;
  };

 private:
  const engine::StepState* Find(const std::string& step) const;
  void Collect();  // the failed steps' errors

  const engine::WorkflowState& s_;
  std::vector<engine::Command> cmds_;
  bool failed_ = false, cancelled_ = false, failed_at_start_ = false;
  std::string failure_;
  struct Undo {
    std::string container, key, host;
    std::vector<std::string> subjects;
    bool settle = false;  // the create ended in doubt: its request may still land
  };
  std::vector<Undo> undo_;
};

}  // namespace berth::workflows
