// SimDocker's networks: create (a name taken is refused, as CheckDuplicate does when no
// create races it), inspect, list, remove, connect and disconnect, by id or by name.
#include "tools/berth-sim/sim_docker.h"
#include "tools/berth-sim/sim_docker_internal.h"

namespace berth::sim {

using docker::Labels;

// ---- networks --------------------------------------------------------------------------

Result<std::string> SimDocker::CreateNetwork(const docker::NetworkSpec& spec) {
  std::string what = "POST /networks/create";
  auto r = Run<std::string>(what, Effect::kWrite, [&]() -> Result<std::string> {
    if (nets_.count(spec.name))
      return Http(409, "network with name " + spec.name + " already exists", what);
    Net n;
    n.info.id = "net-" + NewId().substr(0, 24);
    n.info.name = spec.name;
    n.info.driver = spec.driver;
    n.info.subnet = spec.subnet;
    n.info.gateway = spec.gateway;
    n.info.labels = spec.labels;
    std::string id = n.info.id;
    nets_[spec.name] = std::move(n);
    return id;
  });
  if (!r.ok()) return r.status().WithContext("creating network " + spec.name);
  return r;
}

Result<docker::NetworkInfo> SimDocker::InspectNetwork(const std::string& id_or_name) {
  std::string what = "GET /networks/" + id_or_name;
  return Run<docker::NetworkInfo>(what, Effect::kRead, [&]() -> Result<docker::NetworkInfo> {
    for (const auto& [name, n] : nets_) {
      if (name != id_or_name && n.info.id != id_or_name) continue;
      docker::NetworkInfo info = n.info;
      for (const auto& [id, c] : ctrs_)
        if (c.state == State::kRunning && c.networks.count(name)) info.containers[id] = "";
      return info;
    }
    return Http(404, "network " + id_or_name + " not found", what);
  });
}

Result<std::vector<docker::NetworkInfo>> SimDocker::ListNetworks(const Labels& labels) {
  using V = std::vector<docker::NetworkInfo>;
  return Run<V>("GET /networks", Effect::kRead, [&]() -> Result<V> {
    V out;
    for (const auto& [name, n] : nets_)
      if (Matches(n.info.labels, labels)) out.push_back(n.info);
    return out;
  });
}

Status SimDocker::RemoveNetwork(const std::string& id_or_name) {
  std::string what = "DELETE /networks/" + id_or_name;
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    for (auto it = nets_.begin(); it != nets_.end(); ++it) {
      if (it->first != id_or_name && it->second.info.id != id_or_name) continue;
      for (const auto& [id, c] : ctrs_)
        if (c.state == State::kRunning && c.networks.count(it->first))
          return Http(403, "error while removing network: network " + it->first + " id " +
                               it->second.info.id + " has active endpoints", what);
      nets_.erase(it);
      return Status::Ok();
    }
    return Http(404, "network " + id_or_name + " not found", what);
  });
}

std::string SimDocker::NetName(const std::string& id_or_name) const {
  if (nets_.count(id_or_name)) return id_or_name;
  for (const auto& [name, n] : nets_)
    if (n.info.id == id_or_name) return name;
  return "";
}

Status SimDocker::ConnectNetwork(const std::string& id_or_name, const std::string& container,
                                 const docker::EndpointSpec& endpoint) {
  std::string what = "POST /networks/" + id_or_name + "/connect";
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    std::string network = NetName(id_or_name);
    if (network.empty()) return Http(404, "network " + id_or_name + " not found", what);
    Ctr* c = FindCtr(container);
    if (!c) return Http(404, "No such container: " + container, what);
    if (c->networks.count(network))
      return Http(403, "endpoint with name " + c->name + " already exists in network " + network, what);
    c->networks[network] = endpoint.aliases;
    return Status::Ok();
  });
}

Status SimDocker::DisconnectNetwork(const std::string& network, const std::string& container, bool) {
  std::string what = "POST /networks/" + network + "/disconnect";
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    Ctr* c = FindCtr(container);
    if (!c) return Http(404, "No such container: " + container, what);
    if (!c->networks.erase(network))
      return Http(403, "container " + c->id + " is not connected to network " + network, what);
    return Status::Ok();
  });
}

}  // namespace berth::sim
