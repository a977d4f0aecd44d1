// What sim_docker*.cc share; private to tools/berth-sim.
#pragma once

#include <string>

#include "adapters/docker/docker_client.h"

namespace berth::sim {

// An error answer of the daemon, classified by the real adapter's own function.
Status Http(long code, const std::string& message, const std::string& what);
// Docker's label filter: every key present, with the value when one is given.
bool Matches(const docker::Labels& have, const docker::Labels& filter);

}  // namespace berth::sim
