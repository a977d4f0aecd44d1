// Bugs the simulator finds that are reported and not fixed yet. A failing seed whose log
// shows a known bug's signature, tied to what the checker named, is listed under
// "known_failures" with the bug's id: reported, never silently skipped (--strict counts
// them as failures). Each entry names its bug; remove it when the fix lands.
#pragma once

#include <string>
#include <vector>

#include "engine/registry.h"
#include "eventlog/event_log.h"
#include "tools/berth-sim/sim_docker.h"

namespace berth::sim {

struct KnownBug {
  const char* id;     // short name, used in the JSON
  const char* title;  // what is wrong and where
};

const std::vector<KnownBug>& KnownBugs();
const KnownBug* FindKnownBug(const std::string& id);

// The id of the known bug behind `failure` ("" when none): its signature is in `log` and
// concerns a workflow or container that `failure` names.
std::string ClassifyKnown(const std::string& failure, const eventlog::EventLog& log,
                          const engine::Registry& registry, const SimDocker& docker);

}  // namespace berth::sim
