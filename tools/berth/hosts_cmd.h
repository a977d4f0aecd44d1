// berth host add|remove|cordon|uncordon, berth hosts, berth explain: the cloud's hosts
// (workflows/hosts/hosts.h) and where placement put each container.
#pragma once

#include <map>
#include <string>

#include "adapters/docker/engine_client.h"
#include "tools/berth/context.h"

namespace berth::tool {

struct HostAddArgs {
  std::string name, endpoint, driver = "static", tls_ca, tls_cert, tls_key, memory, registry;
  std::vector<std::string> labels;  // K=V
  int64_t cpus = 0;
  bool detach = false;
};
int HostAdd(const Globals& g, const HostAddArgs& a);
// op: remove, cordon, uncordon
int HostChange(const Globals& g, const std::string& op, const std::string& name, bool force, bool detach);
int Hosts(const Globals& g);
int Explain(const Globals& g, const std::string& container);

// The engines of the cloud: each host's, in the order they were added, or the engine
// DOCKER_HOST names (host "local", reachable) when no host is configured.
struct CloudEngine {
  std::string host;
  std::unique_ptr<docker::EngineClient> owned;
  docker::DockerClient* client = nullptr;
};
Result<std::vector<CloudEngine>> CloudEngines(const Globals& g);


}  // namespace berth::tool
