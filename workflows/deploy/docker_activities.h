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
//   docker.inspect-state   {id} -> {state: running|exited|created|gone, exit_code} (restart.cc)
//
//   docker.remove          {name, timeout_s, key?, settle?} -> "removed" | "gone"
//                          key: only the container that create step made; settle: that
//                          create's answer never came, so "gone" is said only after the
//                          create fence (below)
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
// The client of host `host` of the cloud ("" or "local": the DOCKER_HOST engine). Every
// activity input names its host in "host" (absent: local, as every input recorded before
// there were hosts).
using HostDockerProvider = std::function<Result<docker::DockerClient*>(const std::string& host)>;
// `local` for "" and "local", `hosts` (when set) for any other name; kNotFound otherwise.
HostDockerProvider ByHost(DockerProvider local, HostDockerProvider hosts);

// The create fence. Docker's create has no deadline: a request whose caller gave up (its
// call timed out, or the process was killed) can still be carried out by the daemon
// afterwards. Reconcile by berth.key cannot see a request still inside the daemon, so
// "that create made nothing" is believed only after watching for `create_fence_ms`: the
// retry of a create in doubt, and the undo of one that ended in doubt, look again until
// then (and adopt or remove what lands). Past the fence, a late create is assumed never to
// land; if one does, the name it wants is normally held by the retry's container and the
// daemon refuses it. Paid only when a create is in doubt. docs/deploy.md, "The create fence".
struct DockerActivityOptions {
  int64_t create_fence_ms = 10'000;
  int64_t fence_poll_ms = 500;
  // How a waiting activity sleeps; empty: this thread sleeps. The simulator moves its clock.
  std::function<void(int64_t ms)> sleep;
  // Before an image is pushed to or pulled from a registry ("HOST:PORT"): makes sure it
  // answers (the local cloud's own is restarted when found dead). Empty: it is just used.
  std::function<Status(const std::string& registry)> registry_ready;
  // Before a step makes something on a host of the cloud (an image, a network, a
  // container): a hold that keeps the host from leaving until the step ends, or kConflict
  // when it is leaving or has left (workflows/hosts/host_gate.h). Empty: no check.
  std::function<Result<std::shared_ptr<void>>(const std::string& host)> host_guard;
};

void RegisterDockerActivities(engine::Registry* r, HostDockerProvider docker,
                              const DockerActivityOptions& options = {});

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);

}  // namespace berth::workflows
