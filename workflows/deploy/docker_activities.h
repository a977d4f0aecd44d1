// The Docker activities of the deploy and undeploy workflows: the only code in workflows/
// that changes a Docker engine. Inputs and results are JSON text (recorded in the log).
//
//   docker.observe         {app} -> {containers: [...], networks: [...]}  what exists now
//   docker.network         {app, docker_name, subnet, gateway} -> network id
//   docker.network-remove  {docker_name} -> "removed" | "gone"
//   docker.image           {app, blueprint (one service), cache} -> {ref, id, how, key}
//                          how: "present" (plain image), "built" / "build-reused"
//                          (Dockerfile), "installed" / "cache-hit" (x-berth.install),
//                          "install-per-container" (install with the cache off)
//   docker.create          {app, blueprint (one service), index, name, image, image_id,
//                          image_ref, config, level} -> container id
//   docker.start           {name} -> "started"
//   docker.exec            {name, what, commands, marker} -> "ok"
//   docker.healthy         {name, timeout_ms} -> "running" | "healthy"
//   docker.remove          {name, timeout_s} -> "removed" | "gone"
//   docker.inspect-state   {id} -> {state: running|exited|created|gone, exit_code} (restart.cc)
//
// Each one's Reconcile finds what an earlier attempt did by the berth.key label (create,
// network, install containers), a marker file inside the container (exec), or the
// deterministic tag (images); the rest are idempotent and simply run again.
//
// Errors: a failure the user must fix (no such image, a port in use, an install command
// exiting non-zero, a name taken by a container Berth did not make) is kFailed/kNotFound/
// kConflict and ends the step; an unreachable engine (kUnavailable) or an answer that never
// came (kUnknownOutcome, reconciled first) is retried with backoff.
#pragma once

#include <functional>
#include <memory>

#include "adapters/docker/docker_client.h"
#include "engine/registry.h"

namespace berth::workflows {

// Gives the client to use, or why there is none (e.g. a malformed DOCKER_HOST).
using DockerProvider = std::function<Result<docker::DockerClient*>()>;

void RegisterDockerActivities(engine::Registry* r, DockerProvider docker);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);

}  // namespace berth::workflows
