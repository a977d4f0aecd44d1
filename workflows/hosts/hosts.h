// The hosts of the cloud as durable objects: `berth host add|remove|cordon|uncordon` are
// runs of the `host` workflow, and the inventory is the fold of their results in log order.
//
// host, input {"op": "add", "host": HostSpec JSON} | {"op": "remove", "name", "force"?}
//             | {"op": "cordon"|"uncordon", "name"}  (+ "by": who asked):
//   1. inventory (host.inventory): the hosts as they stand, recorded, so every decision is
//      made from the log (an add of a name or endpoint that exists, a remove or cordon of
//      a name that does not, fail here naming what exists).
//   2. add: describe (host.describe): the host's engine answers, with its CPUs and memory
//      (unreachable: retried 3 times, then the add fails saying where it looked).
//      remove: census (host.census): how many of Berth's containers the host holds; more
//      than none refuses the remove with the count and the apps (`force` skips the census,
//      for a host whose engine is gone for good).
//   3. remove of a static host whose census counted Berth's networks: clean (host.clean)
//      removes them (every deploy makes its app's networks on every host of the cloud).
//      remove of a local host: deprovision (host.deprovision).
//   Result: {"op", "name", "host": spec, "facts": HostFacts} (add), {"op", "name"} (others).
// Host workflows run one at a time (ExclusiveKey "cloud:hosts"), so each sees the last
// one's result. Every step names subject "host:<name>" (`berth audit --host NAME`).
// Every step also names "cloud:hosts" (kCloudHostsSubject): the inventory reads that index.
#pragma once

#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/docker/docker_client.h"
#include "adapters/hosts/host_driver.h"
#include "engine/registry.h"
#include "engine/workflow.h"
#include "eventlog/event_log.h"

namespace berth::workflows {

struct HostRecord {
  hosts::HostSpec spec;
  hosts::HostFacts facts;
  bool cordoned = false;
  std::string added_by;  // the workflow that added it
  int64_t added_us = 0;
};

struct Inventory {
  std::vector<HostRecord> hosts;  // in the order they were added
  const HostRecord* Find(const std::string& name) const;
};

// Folds every completed host workflow, found through the cloud:hosts subject. Cost: the
// index entries of host workflows' steps, one summary row and one history read per change.
Result<Inventory> LoadInventory(const eventlog::EventLog& log);
nlohmann::json ToJson(const Inventory& inv);  // {"hosts": [{spec..., facts, cordoned}]}
Result<Inventory> InventoryFromJson(const nlohmann::json& j);

// Puts the cloud into the input of a `deploy` ("cloud": {"hosts": [...]}) or an `undeploy`
// ("hosts": [names]) when hosts are configured and the input has none yet, with
// "inventory": true. A deploy or undeploy waits for the one of its app under way, which
// may provision a host: "inventory" makes it read the hosts again when it runs (its
// `hosts` step, host.inventory, recorded) rather than trust the hosts of its submission
// (found by berth-sim --hosts: seed 344, an undeploy left a network on such a host; seeds
// 268 and 387, a deploy made a second replica 2 on another). Other types, and a cloud of
// no host: untouched.
Status AddCloud(const eventlog::EventLog& log, const std::string& type, nlohmann::json* input);

// The placement of `container`'s latest create, from its recorded ActivityStarted:
// {container, workflow, seq, time_us, host, placement}. kNotFound when none is recorded.
Result<nlohmann::json> Explain(const eventlog::EventLog& log, const std::string& container);

// The containers of `app` that may be on one of `hosts`, by the log: each whose latest
// recorded create (docker.create ActivityStarted) named one of them, unless a remove of it
// on that host (docker.remove, a deploy's remove or undo) completed after that create.
// {container: host}. Conservative: a create that never landed still counts. Cost: one
// subject scan of the app's history (a deploy runs it only when a host does not answer).
Result<std::map<std::string, std::string>> Holdings(const eventlog::EventLog& log, const std::string& app,
                                                    const std::set<std::string>& hosts);
using HoldingsSource = std::function<Result<std::map<std::string, std::string>>(
    const std::string& app, const std::set<std::string>& hosts)>;

inline std::string HostSubject(const std::string& name) { return "host:" + name; }
// Named by every step of every host workflow: the inventory's index.
inline constexpr const char* kCloudHostsSubject = "cloud:hosts";

using InventorySource = std::function<Result<Inventory>()>;
std::unique_ptr<engine::Workflow> MakeHostWorkflow();  // host_workflow.cc
// A client for a host's engine (the census asks it what the host holds).
using HostEngine = std::function<Result<std::shared_ptr<docker::DockerClient>>(const hosts::HostSpec&)>;
// `drivers` makes the driver a host names (default: static only); `engines` reaches a host's
// engine (default: hosts::ClientFor, the spec's endpoint; the simulator passes its own).
// `gate` (host_gate.h): the census holds the host exclusively while it counts.
class HostGate;
// `holdings` (Holdings over the log): registers host.holdings, which a deploy runs when a
// host does not answer ({app, hosts: [names]} -> {"containers": {name: host}}).
void RegisterHosts(engine::Registry* r, InventorySource inventory, hosts::DriverFactory drivers = {},
                   HostEngine engines = {}, std::shared_ptr<HostGate> gate = {},
                   HoldingsSource holdings = {});

// Docker clients by host name for the deploy's activities: "" and "local" are the engine
// DOCKER_HOST names (the cloud when no host is configured); any other name is looked up in
// the inventory (read again when a name is not known yet: a host added since). Thread-safe.
class HostClients {
 public:
  HostClients(std::function<Result<docker::DockerClient*>()> local, InventorySource inventory)
      : local_(std::move(local)), inventory_(std::move(inventory)) {}
  Result<docker::DockerClient*> Get(const std::string& host);

 private:
  std::function<Result<docker::DockerClient*>()> local_;
  InventorySource inventory_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<docker::EngineClient>> clients_;
};

}  // namespace berth::workflows
