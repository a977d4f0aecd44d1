// The simulator's checkers: what must hold of the Docker world and of the log, whatever the
// seed did. Each returns the first violation as a sentence naming the container, step or
// sequence number involved ("" when everything holds).
#pragma once

#include <string>
#include <vector>

#include "engine/registry.h"
#include "engine/workflow_state.h"
#include "eventlog/event_log.h"
#include "tools/berth-sim/sim_docker.h"
#include "workflows/blueprint/blueprint.h"

namespace berth::sim {

// The engines a check looks at: the default engine, and every host of the cloud (a host
// that was deprovisioned is left out of the checks of what runs, kept in the audit's).
struct World {
  std::vector<const SimDocker*> live, gone;
};

// No two containers with the same berth.key, nor two of one app with the same service and
// replica index.
std::string CheckNoDuplicates(const World& world);

// After a deploy of `bp` completed: the app's containers are exactly <app>-<service>-<n>
// for n in 1..replicas of every service, each with the service's config hash, each running;
// no install scratch container and nothing else labelled for the app; the app's networks
// exist on every engine that holds one of its containers. `strict` false excuses a container stopped by a daemon restart, or by an operator
// at or after `since_us` (the deploy's start): the design leaves those for the next deploy
// (docs/deploy.md, "When dockerd restarts mid-deploy").
std::string CheckDeployed(const World& world, const workflows::Blueprint& bp, int64_t since_us,
                          bool strict);

// After a deploy `wf` failed or was cancelled: every container it made either finished its
// chain (its healthy step completed) or is gone, and no install scratch container of it is
// left. `state` is the workflow's folded history.
std::string CheckUndone(const World& world, const engine::WorkflowState& state);

// After an undeploy of `app` completed: nothing labelled for the app is left.
std::string CheckUndeployed(const World& world, const std::string& app);

// Every container the engine ever held is in the log's audit: its container:NAME subject
// has events of the workflow that made it (for an install scratch container, which has no
// name of Berth's, its step is in that workflow's history).
std::string CheckAudit(const World& world, const eventlog::EventLog& log);

// replay::Verify over the whole log, and no workflow left open.
std::string CheckLog(const eventlog::EventLog& log, const engine::Registry& registry);

}  // namespace berth::sim
