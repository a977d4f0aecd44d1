// Container specs and answers in Engine API JSON (v1.41..1.43 shapes).
#pragma once

#include "adapters/docker/docker_types.h"
#include "adapters/docker/json_fields.h"

namespace berth::docker {

// The body of POST /containers/create (the name goes in the query, not here).
json ContainerCreateBody(const ContainerSpec& spec);

// GET /containers/{id}/json -> ContainerInfo (every field).
ContainerInfo ContainerFromInspect(const json& j);

// One element of GET /containers/json -> ContainerInfo (no health, no timestamps).
ContainerInfo ContainerFromList(const json& j);

}  // namespace berth::docker
