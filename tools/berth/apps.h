// berth up / down / ps / images / audit: Compose apps on the Docker engine that DOCKER_HOST
// names. Exit codes as in commands.h: 0 done, 1 the deploy (or undeploy) failed, 2 bad
// input or environment (a malformed blueprint, no engine).
#pragma once

#include <string>

#include "tools/berth/commands.h"

namespace berth::tool {

struct UpArgs {
  std::string file, project;
  bool detach = false, no_cache = false;
};
int Up(const Globals& g, const UpArgs& a);
int Down(const Globals& g, const std::string& app, bool detach);
int Ps(const Globals& g, const std::string& app);
int Images(const Globals& g);

struct AuditArgs {
  std::string app, service, container;
};
int Audit(const Globals& g, const AuditArgs& a);

}  // namespace berth::tool
