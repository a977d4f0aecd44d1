// berth up / down / ps / images / audit / config: Compose apps on the Docker engine that
// DOCKER_HOST names. Exit codes as in commands.h: 0 done, 1 the deploy (or undeploy)
// failed, 2 bad input (a malformed blueprint, a bad argument), 3 no Docker engine answers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/berth/commands.h"
#include "workflows/blueprint/blueprint.h"

namespace berth::tool {

inline constexpr int kExitBadBlueprint = 2;
inline constexpr int kExitNoEngine = 3;
// Prints the error; kExitNoEngine for an engine that does not answer (kUnavailable), else as
// Fail().
int FailEngine(const Status& s);

// What `up` and `config` take to load a blueprint.
struct BlueprintArgs {
  std::string file, project;
  std::vector<std::string> env_files, profiles;
  workflows::LoadOptions Options() const;
};
// Loads a.file, printing warnings; on failure prints every problem and returns
// kExitBadBlueprint, else 0 with *out set.
int LoadOrExplain(const BlueprintArgs& a, workflows::Blueprint* out);

struct UpArgs : BlueprintArgs {
  bool detach = false, no_cache = false;
};

// berth config: the blueprint as a deploy would record it, or every problem (exit 2).
struct ConfigArgs : BlueprintArgs {
  bool quiet = false;
};
int Config(const Globals& g, const ConfigArgs& a);
int Up(const Globals& g, const UpArgs& a);
// Who runs this command ("user@host"), recorded as "by" in inputs.
std::string Caller();
// Runs a workflow of `type` (deploy, undeploy, host) with id "<type>-<what>-<hex>", through
// the server when one holds the data directory, printing progress and the outcome; a
// deploy's or undeploy's input gets the cloud's hosts (workflows/hosts/hosts.h AddCloud).
int RunApp(const Globals& g, const std::string& type, const std::string& what,
           const nlohmann::json& input, bool detach);
int Down(const Globals& g, const std::string& app, bool detach);
int Ps(const Globals& g, const std::string& app);
int Images(const Globals& g);

struct AuditArgs {
  std::string app, service, container, host;
};
int Audit(const Globals& g, const AuditArgs& a);

}  // namespace berth::tool
