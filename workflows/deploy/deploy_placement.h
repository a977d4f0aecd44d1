// Internal to workflows/deploy: where a deploy puts each new container when the cloud has
// hosts (docs/hosts.md, "Placement" and "Provisioning when no host fits"). Every decision is
// derived from recorded state only: the input's cloud, observe's census, the create steps
// already recorded and the provision children that ended.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "workflows/deploy/deploy_input.h"
#include "workflows/deploy/plan.h"

namespace berth::workflows::deployment {

// Placement's view of the cloud during one decision: the census observe recorded, less
// this app's containers that go for good, plus each container this deploy places.
struct View {
  std::vector<placement::Host> hosts;
  std::map<std::string, size_t> index;
  // Hosts of the cloud left out because they do not answer and hold nothing of the app
  // (AroundUnreachable): {host: error}. Every decision names them; they count toward
  // x-berth.cloud.max_hosts.
  std::map<std::string, std::string> skipped;
  void Put(const std::string& host, const placement::Request& r, int sign) {
    auto it = index.find(host);
    if (it == index.end()) return;
    placement::Host& h = hosts[it->second];
    h.containers += sign;
    h.apps[r.app] += sign;
    h.services[r.app + "/" + r.service] += sign;
    h.memory_reserved += sign * r.memory;
    h.cpus_reserved += sign * r.cpus;
    if (sign > 0) h.names.insert(r.container);
    else h.names.erase(r.container);
  }
};

// Hosts observe found not answering (Observed::unreachable). One that may hold this app's
// containers by the log (step `holdings`, host.holdings) is observed again alone with the
// usual retries (step `observe@HOST`, which fails the deploy naming the host if it stays
// down: its containers cannot be seen, so they are neither kept nor made again elsewhere).
// The others are skipped: no network, no container on them. False while those steps are
// outstanding or the plan failed; on true, *obs is the observation with the hosts observed
// again and *skipped the hosts left out (MakeView and the network steps leave them out).
bool AroundUnreachable(const DeployInput& in, std::shared_ptr<const Observed>* obs, Plan* plan,
                       std::map<std::string, std::string>* skipped);
// The hosts this deploy provisioned (its children provision-1, -2, ... that completed).
std::vector<placement::Host> Provisioned(const DeployInput& in, const Plan& plan);
// The view at the start of a decision: the cloud less `skipped`, then the hosts provisioned.
View MakeView(const DeployInput& in, const Observed& obs, const std::vector<placement::Host>& provisioned,
              const std::map<std::string, std::string>& skipped);
// Memory the service reserves (deploy.resources.reservations.memory), bytes.
int64_t ReservedMemory(const ServiceDef& svc);
// Where replica `i` (container `name`) of `svc` goes and the decision to record ("" host:
// the local engine, without hosts). nullopt: no host fits, and the plan is failed or a host
// is being provisioned for it.
std::optional<std::pair<std::string, json>> HostOf(const DeployInput& in, const ServiceDef& svc,
                                                   const Observed& obs, const std::string& name, int i,
                                                   Plan* plan, View* view);

}  // namespace berth::workflows::deployment
