// The `deploy` and `undeploy` workflows: a blueprint made real on a Docker engine, and
// taken away again.
//
// deploy, input {"app", "blueprint": ToJson(Blueprint), "cache": true}:
//   1. observe: record what the app has on the engine now (containers by berth.app label).
//   2. network/<name>: ensure each app network.
//   3. per service, once every service it depends_on is ready (independent services run in
//      parallel): image/<service> (build, plain image, or the install cache), then for each
//      replica n (container <app>-<service>-<n>): create, start, [install when the cache is
//      off], [customize], healthy. A recorded container of the same definition (same
//      berth.config hash and image id) that is running is kept: re-running an unchanged
//      blueprint does nothing; one that is stopped is started again. Replicas above the
//      declared count, containers of a changed definition and of services no longer in the
//      blueprint are removed (replaced, for a changed definition).
//   4. On a failed step: no new steps; every container this deploy created whose chain did
//      not finish is removed (undo/<name>), then the workflow fails with
//      "service S: step: error". A cancel request does the same and ends it cancelled.
//   Result: JSON {"app", "created", "removed", "kept", "started", "images": {service: how}}.
//
// undeploy, input {"app", "hosts"?: [names], "inventory"?: true}: with "inventory", first
// the cloud's hosts as they are now (hosts: host.inventory, since the undeploy may have
// waited for a deploy that provisioned one; none left: nothing to observe); observe
// (every host, or the input's hosts, or the local engine), then remove the containers in reverse depends_on order
// (deepest level first, each level in parallel) honouring each one's stop timeout, then the
// app's networks. An install scratch container a dead deploy left goes too. Images
// (including the cache) stay.
//
// Both decide only from their input and recorded step results (DESIGN rule 3), so
// `berth replay --verify` can re-derive every decision.
#pragma once

#include <memory>

#include "engine/registry.h"
#include "workflows/deploy/docker_activities.h"

namespace berth::workflows {

std::unique_ptr<engine::Workflow> MakeDeployWorkflow();
std::unique_ptr<engine::Workflow> MakeUndeployWorkflow();

// Registers deploy, undeploy and the docker.* activities.
// `hosts`: the clients of the cloud's other hosts (hosts.h HostClients); empty: only local.
void RegisterDeploy(engine::Registry* r, DockerProvider docker,
                    const DockerActivityOptions& options = {}, HostDockerProvider hosts = {});

}  // namespace berth::workflows
