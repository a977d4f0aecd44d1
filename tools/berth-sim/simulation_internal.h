// Internal to tools/berth-sim: the Simulation class (one seed's run) shared by
// simulation.cc (the scenario: operations, checks, the run) and simulation_process.cc (the
// simulated process: boot, crash and restart, waiting for workflows, starting and
// cancelling them as a user retrying would).
#pragma once

#include "tools/berth-sim/simulation.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "engine/engine.h"
#include "engine/events.h"
#include "replay/describe.h"
#include "tools/berth-sim/checker.h"
#include "tools/berth-sim/known_bugs.h"
#include "tools/berth-sim/scenario.h"
#include "tools/berth-sim/sim_cloud.h"
#include "tools/berth-sim/sim_docker.h"
#include "tools/berth-sim/sim_log.h"
#include "tools/berth-sim/sim_scheduler.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/deploy.h"
#include "workflows/hosts/host_gate.h"
#include "workflows/hosts/hosts.h"

namespace berth::sim::internal {

using json = nlohmann::json;
namespace wf = berth::workflows;

constexpr int64_t kMs = 1000, kS = 1000 * kMs;
// Bounds on one step of the scenario: simulated time, scheduler tasks, real time (threaded).
constexpr int64_t kStepSimUsMax = 6 * 3600 * kS;
constexpr uint64_t kStepTasksMax = 2'000'000;
constexpr auto kStepRealMax = std::chrono::seconds(120);
constexpr int kRetriesMax = 200;  // a user retrying `berth up` through crashes and a full disk

// The switch onto the simulated scheduler, made by the compiler: the day EngineOptions gets
// its `Scheduler* scheduler`, this sets it and the simulator drives the engine's every task.
template <class O>
concept TakesScheduler = requires(O o, engine::Scheduler* s) { o.scheduler = s; };
template <class O>
void SetScheduler(O& o, engine::Scheduler* s) {
  if constexpr (TakesScheduler<O>) o.scheduler = s;
}

inline bool IsTerminalType(const std::string& t) {
  return t == engine::ev::kWorkflowCompleted || t == engine::ev::kWorkflowFailed ||
         t == engine::ev::kWorkflowCancelled;
}

class Simulation {
 public:
  Simulation(uint64_t seed, const RunOptions& options);
  ~Simulation() { Teardown(); }
  RunResult Run();
  RunResult Finish(bool ok);  // the end-of-run checks, the digest, the counters

 private:
  struct Running {
    size_t app = 0;
    Op op;
    std::string type, id;
    workflows::Blueprint bp;
    int64_t started_us = 0;
    bool cancel_sent = false;
    bool superseded = false;  // a later workflow of the same app ran after it (kRacing)
    std::string host;         // type "host": the host it changes
  };

  // World lifecycle.
  bool Boot();
  bool Restart();
  void StopProcess();
  void Teardown();
  engine::EngineOptions Options();
  void OnEvent(const eventlog::Event& e);

  // Driving.
  bool RunStep(std::vector<std::pair<size_t, Op>> ops, bool calm, std::vector<HostOp> host_ops = {});
  bool StartOp(size_t app, const Op& op, Running* r);
  // Starts the host workflow of `op` (false: the run failed); r->id stays empty when the op
  // has nothing to act on (no host it may remove, say) or is not a workflow (a partition).
  bool StartHostOp(const HostOp& op, Running* r);
  bool StartHost(const std::string& op, const std::string& name, const std::string& why, Running* r,
                 nlohmann::json host = {});
  bool CheckHostOutcome(const Running& r, const engine::WorkflowSummary& sum, bool calm);
  // Cloud seeds: the hosts at boot (retried until each is in), and the calm phase's ends.
  bool AddInitialHosts(const std::vector<std::string>& names);
  bool CalmCloud();
  bool RemoveAllHosts();
  std::optional<workflows::Inventory> ReadInventory();
  // After every step of a cloud seed (docs in simulation.cc).
  bool CheckCloud();
  World MakeWorld() const;
  bool StartWorkflow(const std::string& type, const std::string& id, const std::string& input);
  bool CancelWorkflow(const std::string& id);
  bool WaitEnded(std::vector<Running>& running);
  void Idle(int64_t us);
  bool Ended(const std::string& id);
  void RefreshEnded(const std::vector<Running>& running);
  std::optional<engine::WorkflowSummary> Summary(const std::string& id);
  bool CheckOutcome(const Running& r, const engine::WorkflowSummary& sum, bool calm);

  // Results.
  bool Fail(const std::string& why);
  void Say(const std::string& line);
  std::string Clock() { return fmt::format("{:9.3f}s", double(clock_.NowUs() - SimClock::kEpochUs) / kS); }
  void PrintHistory();

  const uint64_t seed_;
  const RunOptions opt_;
  const bool simulated_;
  Rng rng_;
  SimClock clock_;
  DockerFaultRates docker_rates_;
  LogFaultRates log_rates_;
  SimDocker docker_;
  SimLog log_;
  EngineRandom engine_random_;
  Rng sched_rng_, scenario_rng_, id_rng_;
  // Declared after the streams above, so seeds drawn before the cloud existed keep theirs.
  Rng cloud_rng_;
  ProvisionFaultRates provision_rates_;
  SimCloud cloud_;
  bool cloud_on_ = false;
  engine::Registry registry_;
  std::unique_ptr<eventlog::EventLog> real_;
  std::unique_ptr<SimScheduler> sched_;
  std::shared_ptr<engine::Lane> log_lane_;
  std::unique_ptr<engine::Engine> engine_;

  std::mutex mu_;  // the observer runs on engine threads in the threaded mode
  std::set<std::string> ended_;
  std::map<std::string, int> events_of_;

  RunResult result_;
  uint64_t lives_ = 0;
};

}  // namespace berth::sim::internal
