// Network specs and answers in Engine API JSON.
#pragma once

#include "adapters/docker/docker_types.h"
#include "adapters/docker/json_fields.h"

namespace berth::docker {

// The body of POST /networks/create (asks the engine to refuse a duplicate name).
json NetworkCreateBody(const NetworkSpec& spec);

// GET /networks/{id} -> NetworkInfo (subnet and gateway of the first IPAM config).
NetworkInfo NetworkFromInspect(const json& j);

// The body of POST /networks/{id}/connect.
json NetworkConnectBody(const std::string& container, const EndpointSpec& endpoint);

}  // namespace berth::docker
